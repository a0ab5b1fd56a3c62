"""Runs one rule's property against the target and records its verdict for the summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis.errors import Flaky

from pytest_offload.catalogue import CATALOGUE, LATE_RULES
from pytest_offload.generate import ScenarioOutcome, aim_for, run_scenario
from pytest_offload.report import ConformanceError, counterexample_data, describe_failure
from pytest_offload.run import OffloadRun, RuleVerdict, Verdict

if TYPE_CHECKING:
    from collections.abc import Callable

    from hypothesis.strategies import SearchStrategy

    from pytest_offload.catalogue import Rule
    from pytest_offload.generate import TreeSpec

__all__ = ["PROPERTY_KEY", "RUN_KEY", "rule_params", "run_rule"]

#: ``user_properties`` key under which a rule test leaves its verdict (crosses xdist).
PROPERTY_KEY = "offload_rule_verdict"


#: Seconds INI-COMPLETE-ONCE and INI-NO-TOUCH-AFTER-COMPLETE watch a case after its last
#: completion, before the target is released.
LATE_SETTLE = 0.15

#: Where the plugin stashes the run on the config.
RUN_KEY = pytest.StashKey[OffloadRun]()


class _RuleBroken(Exception):
    """Raised inside the property so that Hypothesis shrinks to a minimal case."""

    def __init__(self, outcome: ScenarioOutcome) -> None:
        super().__init__("rule broken")
        self.outcome = outcome


def rule_params(metafunc: pytest.Metafunc, group: str) -> None:
    """Parametrize ``rule_id`` with the selected rules of ``group`` (IDs as test IDs)."""
    run = metafunc.config.stash.get(RUN_KEY, None)
    rules = [r.id for r in (run.rules if run else []) if r.group == group]
    metafunc.parametrize("rule_id", rules, ids=rules)


def run_rule(request: pytest.FixtureRequest, rule_id: str) -> None:
    """Judge ``rule_id``: generate aimed scenarios, shrink any failure, record the verdict."""
    __tracebackhide__ = True
    run = request.config.stash[RUN_KEY]
    rule = CATALOGUE[rule_id]
    node = request.node
    hits: dict[str, int] = {}
    cases = 0

    def record(verdict: Verdict, **extra: Any) -> None:
        found = RuleVerdict(rule_id, verdict, cases=cases, hits=dict(hits), **extra)
        node.user_properties.append((PROPERTY_KEY, found.to_json()))

    aim = aim_for(rule_id)
    reason = aim.not_applicable(run.capabilities, robustness=run.settings.robustness)
    if reason is not None:
        record(Verdict.NOT_APPLICABLE, reason=reason)
        pytest.skip(f"{rule_id} not applicable: {reason}")
    # The rules that look past the completion watch each case for a while after its last
    # completion (a second completion, a timer's late write); the others need not wait.
    settle = LATE_SETTLE if rule_id in LATE_RULES else 0.0

    def prop(scenario: tuple[TreeSpec, ...]) -> None:
        nonlocal cases
        outcome = run_scenario(
            run.factory,
            scenario,
            timeout=run.settings.timeout,
            settle=settle,
            robustness=run.settings.robustness,
        )
        cases += 1
        for exercised in outcome.exercised():
            hits[exercised] = hits.get(exercised, 0) + 1
        if any(v.rule_id == rule_id for r in outcome.reports for v in r.violations):
            raise _RuleBroken(outcome)

    test = _seeded_property(run, rule_id, aim.build(run.capabilities), prop)
    replay = run.replay_command(rule_id)
    try:
        try:
            test()
        except BaseExceptionGroup as group:
            # Hypothesis reports several distinct failures as a group; the rule's own
            # finding decides the verdict, anything else is re-raised with it.
            found = _first_broken(group)
            if found is None:
                raise
            raise found from None
    except _RuleBroken as broken:
        _judge_broken(run, rule, broken.outcome, replay, record)
        return
    except Flaky as exc:
        message = (
            f"{rule_id} ({rule.grade.value}): the target broke this rule, but not again when "
            f"the same case was replayed; its verdicts are not reproducible.\n{exc}\n"
            f"Replay: {replay}"
        )
        record(Verdict.FAILED, message=message)
        raise ConformanceError(rule_id, rule.grade, [], message, replay) from None
    except Exception as exc:
        # Not a verdict on the target: the suite itself could not judge this rule.
        record(Verdict.ERROR, message=f"{type(exc).__name__}: {exc}")
        raise
    if hits.get(rule_id, 0) == 0:
        reason = f"its precondition was never reached in {cases} generated cases"
        record(Verdict.NOT_EXERCISED, reason=reason)
        pytest.skip(f"{rule_id} not exercised: {reason}")
    record(Verdict.PASSED)


def _judge_broken(
    run: OffloadRun,
    rule: Rule,
    outcome: ScenarioOutcome,
    replay: str,
    record: Callable[..., None],
) -> None:
    """Record a broken rule's verdict: waived (xfail), failed (raise) or non-strict."""
    __tracebackhide__ = True
    message = describe_failure(rule.id, rule.grade, outcome, replay=replay)
    fails = run.fails(rule)
    waiver = run.active_waiver(rule.id)
    record(
        Verdict.WAIVED if waiver else Verdict.FAILED if fails else Verdict.NON_STRICT,
        message=message,
        replay=replay,
        counterexample=counterexample_data(outcome, rule.id),
        waiver=waiver.as_dict() if waiver else None,
    )
    if waiver is not None:
        pytest.xfail(f"{rule.id} waived until {waiver.expires}: {waiver.reason} ({waiver.issue})")
    if fails:
        raise ConformanceError(
            rule.id, rule.grade, _violations(outcome, rule.id), message, replay
        ) from None


def _seeded_property(
    run: OffloadRun,
    rule_id: str,
    strategy: SearchStrategy[tuple[Any, ...]],
    prop: Callable[[tuple[Any, ...]], None],
) -> Callable[[], None]:
    """``prop`` as a Hypothesis test: the run's budget, the rule's seed, no explain phase."""
    settings = hypothesis.settings(
        max_examples=run.settings.max_examples,
        deadline=None,
        derandomize=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    test: Callable[[], None] = hypothesis.seed(run.rule_seed(rule_id))(
        settings(given(strategy)(prop))
    )
    return test


def _first_broken(group: BaseExceptionGroup[BaseException]) -> _RuleBroken | None:
    for exc in group.exceptions:
        if isinstance(exc, _RuleBroken):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            inner = _first_broken(exc)
            if inner is not None:
                return inner
    return None


def _violations(outcome: ScenarioOutcome, rule_id: str) -> list[Any]:
    return [v for r in outcome.reports for v in r.violations if v.rule_id == rule_id]
