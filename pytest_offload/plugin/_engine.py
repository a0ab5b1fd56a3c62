"""Judges one rule against the run's campaign and records its verdict for the summary.

The cases come from the campaign (``run.Campaign``): every aim generated once and judged
by every selected rule, so a rule's test fails on a violation found in any aim's cases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_offload.catalogue import CATALOGUE
from pytest_offload.generate import aim_key
from pytest_offload.report import ConformanceError, counterexample_data, describe_failure
from pytest_offload.run import REPLAYS, Campaign, Finding, OffloadRun, RuleVerdict, Verdict

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload.catalogue import Rule

__all__ = ["CAMPAIGN_KEY", "PROPERTY_KEY", "RUN_KEY", "rule_params", "run_rule"]

#: ``user_properties`` key under which a rule test leaves its verdict (crosses xdist).
PROPERTY_KEY = "offload_rule_verdict"

#: Rules whose opportunity needs an object the target offloaded earlier (rules.md 4.1).
NEEDS_HELD_OBJECT = frozenset({"INI-LINKER-STATUS"})
#: Rules whose opportunity needs a request the target accepted: blocked, like
#: INI-LINKER-STATUS, when it refused every one (docs/readings.md 21).
NEEDS_ACCEPTED = {"UPD-QUERY-SHOWS": ("update", "an update"), "UPD-RELINK": ("relink", "a relink")}

#: Where the plugin stashes the run on the config.
RUN_KEY = pytest.StashKey[OffloadRun]()
#: Where the plugin stashes this process's campaign (created by the plugin).
CAMPAIGN_KEY = pytest.StashKey[Campaign]()


def rule_params(metafunc: pytest.Metafunc, group: str) -> None:
    """Parametrize ``rule_id`` with the selected rules of ``group`` (IDs as test IDs)."""
    run = metafunc.config.stash.get(RUN_KEY, None)
    rules = [r.id for r in (run.rules if run else []) if r.group == group]
    metafunc.parametrize("rule_id", rules, ids=rules)


def run_rule(request: pytest.FixtureRequest, rule_id: str) -> None:
    """Judge ``rule_id`` on every aim's cases: shrink a finding, record the verdict."""
    __tracebackhide__ = True
    run = request.config.stash[RUN_KEY]
    campaign = request.config.stash[CAMPAIGN_KEY]
    rule = CATALOGUE[rule_id]
    node = request.node
    hits = cases = 0

    def record(verdict: Verdict, **extra: Any) -> None:
        found = RuleVerdict(rule_id, verdict, cases=cases, hits={rule_id: hits}, **extra)
        node.user_properties.append((PROPERTY_KEY, found.to_json()))

    reason = run.not_applicable(rule_id)
    if reason is not None:
        record(Verdict.NOT_APPLICABLE, reason=reason)
        pytest.skip(f"{rule_id} not applicable: {reason}")
    try:
        hits, cases = campaign.opportunities(rule_id)
        finding = campaign.finding(rule_id)
        errors = campaign.errors()
    except Exception as exc:
        # Not a verdict on the target: the suite itself could not judge this rule.
        record(Verdict.ERROR, message=f"{type(exc).__name__}: {exc}")
        raise
    if finding is not None:
        _judge_broken(run, rule, finding, record)
        return
    if errors:
        message = "the suite could not generate every aim's cases: " + "; ".join(errors)
        record(Verdict.ERROR, message=message)
        pytest.fail(f"{rule_id}: {message}", pytrace=False)
    if hits == 0 and rule_id in NEEDS_HELD_OBJECT and not campaign.ever_held():
        reason = (
            "blocked by INI-ADVERTISED-WORKS: the target never offloaded an object a "
            f"linker could name, in {cases} generated cases"
        )
        record(Verdict.BLOCKED, reason=reason)
        pytest.skip(f"{rule_id} not exercised ({reason})")
    needed = NEEDS_ACCEPTED.get(rule_id)
    if hits == 0 and needed is not None and campaign.only_refused(needed[0]):
        reason = (
            f"blocked by LIFE-HEALTHY-SUCCESS: the target refused every {needed[0]} it was "
            f"handed, in {cases} generated cases; the rule needs {needed[1]} answered SUCCESS"
        )
        record(Verdict.BLOCKED, reason=reason)
        pytest.skip(f"{rule_id} not exercised ({reason})")
    if hits == 0 and rule.target_triggered:
        reason = (
            f"the target never made the choice that opens it ({rule.exercised}), in {cases} "
            "generated cases"
        )
        record(Verdict.NOT_TRIGGERED, reason=reason)
        pytest.skip(f"{rule_id} not triggered: {reason}")
    if hits == 0:
        reason = f"no opportunity to break it in {cases} generated cases"
        record(Verdict.NOT_EXERCISED, reason=reason)
        pytest.skip(f"{rule_id} not exercised: {reason}")
    record(Verdict.PASSED)


def _judge_broken(
    run: OffloadRun, rule: Rule, finding: Finding, record: Callable[..., None]
) -> None:
    """Record a broken rule's verdict: waived (xfail), failed (raise) or non-strict."""
    __tracebackhide__ = True
    also = () if finding.aim == aim_key(rule.id) else (finding.aim,)
    replay = run.replay_command(rule.id, also=also)
    outcome = finding.outcome
    if finding.deterministic:
        message = describe_failure(rule.id, rule.grade, outcome, replay=replay)
        if also:
            message += f"\n(found in a case generated for {finding.aim})"
    else:
        header = (
            f"{rule.id} ({rule.grade.value}): nondeterministic target. A generated case broke "
            f"this rule, but replaying it broke the rule again only {finding.reproduced} of "
            f"{REPLAYS} times, so it cannot be shrunk to a minimal case. The case as "
            f"generated (for {finding.aim}), from its last replay:"
        )
        body = describe_failure(rule.id, rule.grade, outcome, minimal=False)
        message = (
            f"{header}\n{body}\n\nReplay (reproduces {finding.reproduced} of {REPLAYS} times): "
            f"{replay}"
        )
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
        violations = [v for r in outcome.reports for v in r.violations if v.rule_id == rule.id]
        raise ConformanceError(rule.id, rule.grade, violations, message, replay) from None
