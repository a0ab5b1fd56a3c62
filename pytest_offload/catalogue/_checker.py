"""Runs the rule catalogue over observed initiates and returns what was broken.

One :class:`TargetChecker` follows one target through a test case: rules that span
initiates (unique contexts, capacity) read the ledger of what the target still holds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_offload.catalogue._facts import BatchFacts, InitiateFacts, TargetLedger
from pytest_offload.catalogue._initiate.status import linker_expected
from pytest_offload.catalogue._registry import CATALOGUE, Grade, Rule, RuleOutcome, Violation
from pytest_offload.model import FAILURE_CODES, NdisStatus, Role, format_status

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pytest_offload.harness import Observation
    from pytest_offload.model import OffloadCapabilities

__all__ = [
    "LATE_RULES",
    "REJUDGED_RULES",
    "CheckReport",
    "TargetChecker",
    "check",
    "expected_statuses",
]

#: The rules that judge an initiate that never completed (a hang, a raise; on a
#: robustness case, that case's own rule).
INCOMPLETE_RULES = frozenset(
    {
        "INI-COMPLETE-ONCE",
        "INI-NO-RAISE",
        "INI-MALFORMED-TREE",
        "INI-UNKNOWN-LINKER",
        "WIRE-PROTOCOL",
    }
)

#: The rules judged again at the end of a case, on what happened after the completion.
LATE_RULES = frozenset(
    {"INI-COMPLETE-ONCE", "INI-NO-TOUCH-AFTER-COMPLETE", "INI-SEND-DATA-KEPT-ON-FAILURE"}
)
#: The rules judged again on a late observation: those above, and the wire (a process
#: target's garbage after its completion).
REJUDGED_RULES = LATE_RULES | {"WIRE-PROTOCOL"}


@dataclass(slots=True)
class CheckReport:
    """The verdict on one initiate: per rule, how often its precondition held and what broke."""

    observation: Observation
    outcomes: dict[str, RuleOutcome]
    expected: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[Violation]:
        """Every violation, in catalogue order."""
        return [v for outcome in self.outcomes.values() for v in outcome.violations]

    def failures(self, *, strict: bool = False) -> list[Violation]:
        """Violations that fail a run: MUST ones, and SHOULD ones too when ``strict``."""
        return [v for v in self.violations if strict or v.grade is Grade.MUST]

    def exercised(self) -> set[str]:
        """IDs of the rules whose precondition held in this initiate."""
        return {rule_id for rule_id, o in self.outcomes.items() if o.exercised}


class TargetChecker:
    """Judges every initiate of one target against the catalogue, in order.

    Args:
        capabilities: What the target declared.
        rules: The rules to run (default: the whole catalogue).
    """

    def __init__(
        self, capabilities: OffloadCapabilities, *, rules: Iterable[Rule] | None = None
    ) -> None:
        self.capabilities = capabilities
        self.rules: list[Rule] = list(CATALOGUE if rules is None else rules)
        #: The rules judging initiates (the others judge lifecycle requests).
        self.initiate_rules = [r for r in self.rules if "initiate" in r.judges]
        self.ledger = TargetLedger()
        self._lock = threading.Lock()

    def check(self, observation: Observation) -> CheckReport:
        """Judge one initiate that was alone in flight."""
        return self.check_batch([observation])[0]

    def check_batch(self, observations: Sequence[Observation]) -> list[CheckReport]:
        """Judge initiates that were in flight together, then record them in the ledger."""
        with self._lock:
            batch = BatchFacts(list(observations), self.ledger)
            try:
                reports = [self._run(facts) for facts in batch.initiates]
                for facts in batch.initiates:
                    if facts.completed:
                        self.ledger.record(facts)
            finally:
                # Facts and their batch refer to each other: part them, so that reference
                # counting frees the facts now instead of leaving a cycle to the collector.
                batch.initiates = []
            return reports

    def rejudge_late(self, report: CheckReport, late: Observation) -> None:
        """Judge again, on ``late`` (the same initiate observed at the end of its case), the
        rules that look past the completion: a second completion, a write after it."""
        batch = BatchFacts([], TargetLedger())
        facts = InitiateFacts(late, batch)
        for r in self.initiate_rules:
            if r.id in REJUDGED_RULES:
                outcome = RuleOutcome(r, facts)
                r.check(facts, outcome)
                report.outcomes[r.id] = outcome
        report.observation = late
        if report.violations and not report.expected:
            report.expected = expected_statuses(facts)

    def _run(self, facts: InitiateFacts) -> CheckReport:
        outcomes: dict[str, RuleOutcome] = {}
        broken = False
        completed = facts.completed
        for r in self.initiate_rules:
            outcome = RuleOutcome(r, facts)
            # One defect, one finding (rules.md 3): an initiate that never completed gives
            # no other rule an opportunity, and is judged by the completion rules alone.
            if completed or r.id in INCOMPLETE_RULES:
                r.check(facts, outcome)
            outcomes[r.id] = outcome
            broken = broken or bool(outcome.violations)
        report = CheckReport(facts.observation, outcomes)
        if broken:
            report.expected = expected_statuses(facts)
        return report


def check(observation: Observation, *, rules: Iterable[Rule] | None = None) -> CheckReport:
    """Judge one initiate on a fresh target (no earlier initiates)."""
    return TargetChecker(observation.capabilities, rules=rules).check(observation)


_SUCCESS = int(NdisStatus.SUCCESS)
_PARTIAL = int(NdisStatus.OFFLOAD_PARTIAL_SUCCESS)
_FAILURE = int(NdisStatus.FAILURE)


def expected_statuses(facts: InitiateFacts) -> list[str]:
    """What each block should carry under the reference semantics, given the target's choices.

    Whether a new offload's own state was offloaded is the target's call; everything else
    follows from the rules: placeholders SUCCESS, malformed and abandoned blocks FAILURE,
    linkers and offloaded blocks from their immediate dependents.
    """
    snapshot = facts.snapshot
    out: list[str] = []
    malformed = facts.malformed_ancestor
    failed_ancestor = facts.failed_ancestor
    for i in range(facts.n):
        role = snapshot.roles[i]
        code = facts.codes[i]
        if role is Role.PLACEHOLDER:
            out.append("SUCCESS")
        elif malformed[i] >= 0 or failed_ancestor[i] >= 0:
            out.append("FAILURE")
        elif role is Role.LINKER:
            out.append(NdisStatus(linker_expected(facts, i)).name)
        elif facts.offloaded[i]:
            children = snapshot.dependents[i]
            all_done = all(facts.offloaded[c] for c in children)
            out.append("SUCCESS" if all_done else "OFFLOAD_PARTIAL_SUCCESS")
        elif code in FAILURE_CODES:
            out.append(format_status(code).split(" ")[0])
        else:
            out.append("a completion code")
    return out
