"""Judges the lifecycle requests and the events of one case, and moves the model on.

A request is judged when it completes (what the state machine decides its next steps
by), and again at the end of the case with everything seen by then (a second completion,
a late write, events and send completions after it): that last judgement is the verdict.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from pytest_offload.catalogue._checker import CheckReport
from pytest_offload.catalogue._lifecycle._facts import FAILURE, SUCCESS, RequestFacts, StepFacts
from pytest_offload.catalogue._lifecycle._model import LifecycleModel
from pytest_offload.catalogue._registry import RuleOutcome
from pytest_offload.model import Role

if TYPE_CHECKING:
    from pytest_offload.catalogue._checker import TargetChecker
    from pytest_offload.catalogue._lifecycle._facts import Request
    from pytest_offload.catalogue._registry import Rule
    from pytest_offload.harness import Event, Observation, SendCompletion

__all__ = ["LifecycleChecker"]

#: The TCP flag bits whose update ends a connection's quiet (keepalive; 0x04 a command
#: that restarts the timers).
_WAKING = 0x01 | 0x04


class LifecycleChecker:
    """Follows one target through the lifecycle requests of a case.

    Args:
        checker: The case's initiate checker; its ledger is the model's.
    """

    def __init__(self, checker: TargetChecker) -> None:
        self.checker = checker
        self.model = LifecycleModel(checker.ledger)
        self.request_rules = [r for r in checker.rules if "request" in r.judges]
        self.step_rules = [r for r in checker.rules if "step" in r.judges]
        self._lock = threading.Lock()

    # -- hand-over ----------------------------------------------------------------------

    def handed_over(self, request: Request) -> None:
        """Record what a request starts: a terminate makes its objects TERMINATING."""
        ledger = self.model.ledger
        if request.operation in ("terminate", "invalidate"):
            ledger.lifecycle_requests += 1
        if request.operation == "terminate":
            for named in request.named:
                if named.record is not None and self.model.state_of(named.record) != "gone":
                    ledger.start_terminate(named.record.key)

    # -- judging ------------------------------------------------------------------------

    def judge_request(
        self, observation: Observation, request: Request, events: list[Event]
    ) -> CheckReport:
        """Judge one request by the request rules (the model as it was before it)."""
        with self._lock:
            facts = RequestFacts(observation, request, self.model, events)
            outcomes: dict[str, RuleOutcome] = {}
            for r in self.request_rules:
                outcome = RuleOutcome(r, facts)
                _judge(r, facts, outcome)
                outcomes[r.id] = outcome
            report = CheckReport(observation, outcomes)
            if report.violations:
                report.expected = expected_statuses(facts)
            return report

    def rejudge(
        self,
        report: CheckReport,
        observation: Observation,
        request: Request,
        events: list[Event],
    ) -> None:
        """Judge a request again at the end of its case; the request rules' outcomes of
        ``report`` are replaced (the step rules' stay)."""
        fresh = self.judge_request(observation, request, events)
        report.outcomes.update(fresh.outcomes)
        report.observation = observation
        report.expected = fresh.expected or report.expected

    def judge_step(
        self, report: CheckReport, events: list[Event], sends: list[SendCompletion]
    ) -> None:
        """Take in the events and send completions that arrived since the last step, and
        judge the events by the step rules, into ``report`` (the step's report)."""
        with self._lock:
            model = self.model
            model.learn_sends(sends)
            new = events[model.events_seen :]
            model.events_seen = len(events)
            records = [model.learn_event(e) for e in new]
            facts = StepFacts(report.observation, model, new, records)
            for r in self.step_rules:
                outcome = report.outcomes.get(r.id)
                if outcome is None:
                    outcome = report.outcomes[r.id] = RuleOutcome(r, facts)
                _judge(r, facts, outcome)

    # -- what a completed request changes ---------------------------------------------

    def apply(self, observation: Observation, request: Request) -> None:
        """Move the model on by what the target answered (lifecycle.md H0, section 2)."""
        with self._lock:
            self._apply(observation, request)

    def _apply(self, observation: Observation, request: Request) -> None:
        model, ledger = self.model, self.model.ledger
        image = observation.completion_image
        if request.operation == "invalidate" and (image is None or observation.wire_errors):
            # The answer never came, or was lost on the wire: the target may have
            # invalidated what was named (one defect, one finding: WIRE-PROTOCOL's).
            for named in request.named:
                if named.record is not None and not named.offending:
                    named.record.invalidated_ever = True
        if image is None:
            return  # never completed: a terminate's objects stay TERMINATING
        done = next((c.at for c in observation.completions if c.via == request.operation), 0.0)
        operation = request.operation
        for named in request.named:
            record = named.record
            if record is None or named.position < 0:
                continue
            status = image.statuses[named.position]
            if operation == "terminate":
                if status == FAILURE and named.offending:
                    ledger.cancel_terminate(record.key)  # as the robustness case expects
                    continue
                ledger.finish_terminate(record.key, success=status == SUCCESS)
                if status == SUCCESS:
                    model.retire(record)
                else:
                    model.healthy = False
                    record.failed_at = record.failed_at or done
                    record.must_terminate = True
                continue
            relink = request.anchor is not None and record.layer == "path"
            if status != SUCCESS:
                if named.offending:
                    continue
                if operation != "update":
                    model.healthy = False
                    record.failed_at = record.failed_at or done
                else:
                    model.refused.update(("update", "relink") if relink else ("update",))
                record.must_terminate = True  # H7: the host terminates what failed
                continue
            if operation == "update":
                model.accepted.update(("update", "relink") if relink else ("update",))
                handed = named.handed
                if handed is not None:
                    record.cached = handed
                    record.updated = True
                    flags = getattr(handed, "flags", 0)
                    if record.layer == "tcp" and isinstance(flags, int) and flags & _WAKING:
                        record.quiet = False
                if request.anchor is not None and record.layer == "path":
                    model.relink(record, request.anchor)
                    record.relinked = True
            elif operation == "invalidate":
                ledger.invalidate(record.key)
                record.invalidated_ever = True


def _judge(rule: Rule, facts: object, outcome: RuleOutcome) -> None:
    """Run one rule; a value the target wrote that the rule cannot even read (a status
    whose comparison raises, a chain that is not a sequence) is that rule's finding, not
    a crash of the suite."""
    try:
        rule.check(facts, outcome)
    except Exception as exc:  # hostile values written by the target
        outcome.hit()
        outcome.violate(
            None,
            f"a value the rule cannot read ({type(exc).__name__}: {_short(exc)})",
            "statuses, structures, chains and event arguments of the types the contract names",
        )


def _short(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # even its message raises
        text = "?"
    return text[:120]


def expected_statuses(facts: RequestFacts) -> list[str]:
    """What each block of a request should carry: placeholders SUCCESS, the offending
    block of a robustness case FAILURE, every other named block SUCCESS while healthy."""
    out: list[str] = []
    offending = {n.position for n in facts.named if n.offending}
    for i, role in enumerate(facts.snapshot.roles):
        if role is Role.PLACEHOLDER:
            out.append("SUCCESS")
        elif i in offending:
            out.append("FAILURE")
        elif facts.request.healthy:
            out.append("SUCCESS")
        else:
            out.append("SUCCESS or FAILURE")
    return out
