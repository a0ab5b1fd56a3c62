"""Failure messages name the rule, the block, what was observed and what was expected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_offload import NdisStatus, OffloadBlockList, check, take_snapshot
from pytest_offload.report import draw_report
from tests.support import chain3, observe

if TYPE_CHECKING:
    from pytest_offload.harness import RecordingHost

S = NdisStatus


def _succeed(root: OffloadBlockList) -> list[OffloadBlockList]:
    blocks = take_snapshot(root).blocks
    for block in blocks:
        block.status = S.SUCCESS
        assert block.miniport_offload_context is not None
        block.miniport_offload_context.value = object()
    return blocks


def test_a_write_after_completion_names_the_field_and_both_values() -> None:
    def late(host: RecordingHost, root: OffloadBlockList) -> None:
        blocks = _succeed(root)
        host.initiate_offload_complete(root)
        blocks[-1].status = S.FAILURE
        blocks[-1].scratch[0] = "requeued"

    found = [
        v
        for v in check(observe(chain3(), late)).violations
        if v.rule_id == "INI-NO-TOUCH-AFTER-COMPLETE"
    ]
    assert len(found) == 1
    text = str(found[0])
    assert "neighbor[0].path[0].tcp[0]" in text
    assert "status from SUCCESS (0x00000000) to FAILURE (0xC0000001)" in text
    assert "scratch from" in text
    assert "'requeued'" in text


def test_completion_rules_name_the_root_block() -> None:
    def twice(host: RecordingHost, root: OffloadBlockList) -> None:
        _succeed(root)
        host.initiate_offload_complete(root)
        host.initiate_offload_complete(root)

    found = [v for v in check(observe(chain3(), twice)).violations]
    assert [v.rule_id for v in found] == ["INI-COMPLETE-ONCE"]
    assert found[0].path == "neighbor[0]"
    assert "the root block (new offload NEIGHBOR)" in str(found[0])


def test_statuses_print_as_name_and_hex_never_as_an_enum_repr() -> None:
    def late(host: RecordingHost, root: OffloadBlockList) -> None:
        blocks = _succeed(root)
        host.initiate_offload_complete(root)
        blocks[0].status = S.OFFLOAD_PARTIAL_SUCCESS

    report = check(observe(chain3(), late))
    text = "\n".join(map(str, report.violations)) + draw_report(report)
    assert "<NdisStatus" not in text
    assert "OFFLOAD_PARTIAL_SUCCESS (0x40020004)" in text


def test_a_flagged_block_shows_what_was_expected_beside_what_was_observed() -> None:
    def scribble(host: RecordingHost, root: OffloadBlockList) -> None:
        blocks = _succeed(root)
        blocks[1].protocol_reserved[0] = "mine"
        host.initiate_offload_complete(root)

    drawing = draw_report(check(observe(chain3(), scribble)))
    flagged = [line for line in drawing.splitlines() if "<-" in line]
    assert flagged
    assert all("expected" in line for line in flagged), drawing
