"""The documented example (rules.md section 4) and every single-block corruption of it."""

from __future__ import annotations

import pytest

from pytest_offload import NdisStatus
from pytest_offload.model import CAUSE_CODE_LAYERS, INITIATE_CODES
from tests.support import (
    DOCUMENTED,
    N1,
    P1,
    P2,
    T1,
    T2,
    T3,
    documented_example,
    judge,
    rule_ids,
    write,
)

S = NdisStatus
OFFLOADED = {S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS}


def test_documented_example_passes_every_rule() -> None:
    report = judge(documented_example(), write(DOCUMENTED))
    assert report.violations == []
    assert report.expected == []  # only computed when something is wrong


def _leaf_failure(code: int) -> str | None:
    """What a TCP leaf failing with ``code`` breaks, on CAPS (capacity 4, no limits)."""
    if code == S.OFFLOAD_TCP_ENTRIES:
        return "INI-ENTRIES-CAUSE"  # capacity 4 is far from reached
    if code == S.OFFLOAD_TCP_RCV_WINDOW:
        return "INI-RCV-WINDOW-CAUSE"  # 65535 is within the undeclared (maximum) limit
    if CAUSE_CODE_LAYERS.get(S(code), "tcp") != "tcp":
        return "INI-CODE-LAYER"
    return None  # FAILURE, RESOURCES, buffers, CONNECTION_REJECTED (6.20): all conformant


def intended_rule(block: str, status: object) -> str | None:
    """The oracle: which rule a corruption of ``block`` to ``status`` must break, if any."""
    if status == DOCUMENTED[block]:
        return None
    if status == S.PENDING:
        return "INI-STATUS-WRITTEN"
    if not isinstance(status, int) or status not in INITIATE_CODES:
        return "INI-STATUS-ALLOWED"
    offloaded = status in OFFLOADED
    if block in (N1, P1):
        return "INI-SUCCESS-ALL-DEPENDENTS" if status == S.SUCCESS else "INI-FAILED-SUBTREE"
    if block in (T1, T2):
        if status == S.OFFLOAD_PARTIAL_SUCCESS:
            return "INI-PARTIAL-NEEDS-FAILED-DEPENDENT"
        if status == S.SUCCESS:  # T2 offloaded: Path1 keeps PARTIAL without a failed dependent
            return "INI-PARTIAL-NEEDS-FAILED-DEPENDENT"
        return _leaf_failure(status)
    if block == P2:
        if status == S.SUCCESS:
            return "INI-SUCCESS-ALL-DEPENDENTS"
        if status == S.OFFLOAD_PARTIAL_SUCCESS:
            return "INI-PARTIAL-IS-OFFLOADED"  # Neighbor1 stays PARTIAL with both paths offloaded
        if status == S.OFFLOAD_PATH_MTU:
            return "INI-PATH-MTU-CAUSE"
        if CAUSE_CODE_LAYERS.get(S(status), "path") != "path":
            return "INI-CODE-LAYER"
        return None
    assert block == T3
    return "INI-FAILED-SUBTREE" if offloaded else "INI-FAILED-SUBTREE-FAILURE"


CORRUPTIONS: list[object] = [*NdisStatus, 0x12345678, -1, "FAILURE", None]


@pytest.mark.parametrize("block", [N1, P1, T1, T2, P2, T3])
@pytest.mark.parametrize("status", CORRUPTIONS, ids=repr)
def test_single_block_corruption_is_caught_by_the_intended_rule(
    block: str, status: object
) -> None:
    report = judge(documented_example(), write({**DOCUMENTED, block: status}))
    intended = intended_rule(block, status)
    if intended is None:
        assert report.violations == [], "\n".join(map(str, report.violations))
    else:
        assert intended in rule_ids(report), (
            f"corrupting {block} to {status!r} should break {intended}; found "
            f"{sorted(rule_ids(report))}"
        )
