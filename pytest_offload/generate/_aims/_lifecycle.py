"""The lifecycle rules' aims: one shared state-machine generation (lifecycle.md 5).

Every lifecycle rule is judged on the same runs of the state machine: each run does a
bit of everything the host may do, so generating them once serves all 22 rules (and the
INI rules judge its initiates too). A rule is not applicable when the target does not
declare the operations it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_offload.catalogue import LIFECYCLE_ORDER, NEEDS
from pytest_offload.generate._aims._base import Aim
from pytest_offload.model import OffloadOperation

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload.generate._aims._base import ScenarioStrategy
    from pytest_offload.model import OffloadCapabilities

__all__ = ["LIFECYCLE_AIMS", "SHARED"]

#: The rule whose aim name the shared generation goes by.
SHARED = LIFECYCLE_ORDER[0]


def _machine_only(caps: OffloadCapabilities) -> ScenarioStrategy:
    raise TypeError("a lifecycle aim runs the state machine, not scenarios")


def _needs(rule_id: str) -> Callable[[OffloadCapabilities], str | None]:
    needed = NEEDS[rule_id]

    def unreachable(caps: OffloadCapabilities) -> str | None:
        missing = [
            op for op in OffloadOperation if op.value in needed and op not in caps.operations
        ]
        if missing:
            declared = ", ".join(op.name for op in OffloadOperation if op in caps.operations)
            names = " and ".join(op.name for op in missing)
            return f"the target does not declare {names} (operations: {declared})"
        few = caps.neighbor_capacity
        if rule_id == "UPD-RELINK" and few is not None and few < 2:
            return f"neighbor_capacity={few}: a relink needs two neighbors"
        return None

    return unreachable


LIFECYCLE_AIMS: dict[str, Aim] = {
    rule_id: Aim(
        _machine_only,
        _needs(rule_id),
        robustness=rule_id == "LIFE-ROBUST-FAILURE",
        lifecycle=True,
        shared=SHARED,
    )
    for rule_id in LIFECYCLE_ORDER
}
