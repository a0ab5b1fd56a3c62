"""Runs one rule's property against the target and records its verdict for the summary."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis.errors import Flaky

from pytest_offload.aims import aim_for
from pytest_offload.drawing import state_type_name
from pytest_offload.rules import CATALOGUE, Grade
from pytest_offload.runner import ScenarioOutcome, run_scenario
from pytest_offload.status import format_status
from pytest_offload.verdict import ConformanceError, describe_failure

if TYPE_CHECKING:
    from collections.abc import Callable

    from hypothesis.strategies import SearchStrategy

    from pytest_offload.adapter import TargetFactory
    from pytest_offload.capabilities import OffloadCapabilities
    from pytest_offload.rules import Rule
    from pytest_offload.settings import OffloadSettings
    from pytest_offload.spec import TreeSpec
    from pytest_offload.waivers import Waiver

__all__ = ["PROPERTY_KEY", "RUN_KEY", "OffloadRun", "rule_params", "run_rule"]

#: ``user_properties`` key under which a rule test leaves its verdict (crosses xdist).
PROPERTY_KEY = "offload_rule_verdict"


@dataclass(slots=True)
class OffloadRun:
    """Everything the suite needs for this run, stashed on the config."""

    settings: OffloadSettings
    factory: TargetFactory
    capabilities: OffloadCapabilities
    rules: list[Rule]
    seed: int
    target_name: str
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    today: dt.date = field(default_factory=dt.date.today)
    report_written: str | None = None

    def active_waiver(self, rule_id: str) -> Waiver | None:
        """The unexpired waiver of ``rule_id``, if any."""
        for waiver in self.waivers:
            if waiver.rule == rule_id and not waiver.expired(self.today):
                return waiver
        return None

    def waiver_report(self) -> list[dict[str, Any]]:
        """Each waiver with its status: applied, expired or unmatched (nothing to waive)."""
        out = []
        for waiver in self.waivers:
            if waiver.expired(self.today):
                status = "expired"
            elif self.verdicts.get(waiver.rule, {}).get("verdict") == "waived":
                status = "applied"
            else:
                status = "unmatched"
            out.append({"waiver": waiver.as_dict(), "status": status})
        return out

    def hit_counts(self) -> dict[str, int]:
        """For each rule, the generated cases (over every rule's test) hitting its precondition."""
        hits: dict[str, int] = {}
        for payload in self.verdicts.values():
            for rule_id, count in payload.get("hits", {}).items():
                hits[rule_id] = hits.get(rule_id, 0) + count
        return hits

    def rule_seed(self, rule_id: str) -> int:
        """A per-rule seed derived from the run's seed, stable across processes."""
        return (self.seed ^ zlib.crc32(rule_id.encode())) & 0xFFFFFFFF

    def replay_command(self, rule_id: str) -> str:
        """The command that runs exactly this rule again with the same generated cases."""
        parts = [
            "pytest",
            f"--offload-target={self.target_name}",
            f"--offload-rules={rule_id}",
            f"--offload-seed={self.seed}",
            f"--offload-budget={self.settings.budget_name}",
            f"--offload-timeout={self.settings.timeout:g}",
        ]
        if self.settings.strict:
            parts.append("--offload-strict")
        return shlex.join(parts)


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

    def record(verdict: str, **extra: object) -> None:
        payload = {"rule": rule_id, "verdict": verdict, "cases": cases, "hits": hits, **extra}
        node.user_properties.append((PROPERTY_KEY, json.dumps(payload)))

    aim = aim_for(rule_id)
    reason = aim.unreachable(run.capabilities)
    if reason is not None:
        record("not exercised", reason=reason)
        pytest.skip(f"{rule_id} not exercised: {reason}")

    def prop(scenario: tuple[TreeSpec, ...]) -> None:
        nonlocal cases
        outcome = run_scenario(run.factory, scenario, timeout=run.settings.timeout)
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
        record("failed", message=message)
        raise ConformanceError(rule_id, rule.grade, [], message, replay) from None
    except Exception as exc:
        # Not a verdict on the target: the suite itself could not judge this rule.
        record("error", message=f"{type(exc).__name__}: {exc}")
        raise
    if hits.get(rule_id, 0) == 0:
        reason = f"its precondition was never reached in {cases} generated cases"
        record("not exercised", reason=reason)
        pytest.skip(f"{rule_id} not exercised: {reason}")
    record("passed")


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
    fails = rule.grade is Grade.MUST or run.settings.strict
    waiver = run.active_waiver(rule.id)
    record(
        "waived" if waiver else "failed" if fails else "non-strict",
        message=message,
        replay=replay,
        counterexample=_as_data(outcome, rule.id),
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


def _as_data(outcome: ScenarioOutcome, rule_id: str) -> dict[str, Any]:
    """The minimal counterexample as data: each initiate's blocks and the violations."""
    initiates = []
    for report in outcome.reports:
        obs = report.observation
        snapshot, image = obs.snapshot, obs.completion_image
        expected = report.expected or [""] * len(snapshot)
        initiates.append(
            {
                "label": obs.label,
                "completed": obs.completed,
                "blocks": [
                    {
                        "path": snapshot.path(i),
                        "role": snapshot.roles[i].value,
                        "state_type": state_type_name(snapshot.image.state_types[i]),
                        "observed": format_status(image.statuses[i]) if image else None,
                        "expected": expected[i] or None,
                    }
                    for i in range(len(snapshot))
                ],
                "violations": [
                    {
                        "rule": v.rule_id,
                        "grade": v.grade.value,
                        "path": v.path,
                        "observed": v.observed,
                        "expected": v.expected,
                        "detail": v.detail,
                    }
                    for v in report.violations
                ],
            }
        )
    return {"rule": rule_id, "initiates": initiates}


def _violations(outcome: ScenarioOutcome, rule_id: str) -> list[Any]:
    return [v for r in outcome.reports for v in r.violations if v.rule_id == rule_id]
