"""Conformance failures as structured assertion errors, with the minimal case drawn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_offload.generate import LIFECYCLE_STEPS, describe
from pytest_offload.model import format_status
from pytest_offload.report._drawing import draw_report, state_type_name

if TYPE_CHECKING:
    from pytest_offload.catalogue import Grade, Violation
    from pytest_offload.generate import ScenarioOutcome

__all__ = ["ConformanceError", "counterexample_data", "describe_failure"]


class ConformanceError(AssertionError):
    """A rule was broken; carries the rule, grade, violations and the replay command."""

    def __init__(
        self,
        rule_id: str,
        grade: Grade,
        violations: list[Violation],
        message: str,
        replay: str = "",
    ) -> None:
        super().__init__(message)
        self.rule_id = rule_id
        self.grade = grade
        self.violations = violations
        self.replay = replay


def describe_failure(
    rule_id: str,
    grade: Grade,
    outcome: ScenarioOutcome,
    *,
    replay: str = "",
    minimal: bool = True,
) -> str:
    """The 2 a.m. message: what broke where, the minimal tree drawn, how to replay it
    (``minimal=False``: the case is shown as generated, not shrunk)."""
    lines: list[str] = []
    mine = [v for r in outcome.reports for v in r.violations if v.rule_id == rule_id]
    which = "this minimal case" if minimal else "this replay of the case"
    lines.append(f"{rule_id} ({grade.value}) broken {len(mine)} time(s) in {which}:")
    lines.extend(f"  - {v}" for v in mine[:10])
    if len(mine) > 10:
        lines.append(f"  ... and {len(mine) - 10} more")
    steps = [s for s in outcome.specs if isinstance(s, LIFECYCLE_STEPS)]
    if steps:
        lines.append("")
        lines.append(
            f"The case, {len(steps)} step(s) on a fresh target, then a teardown terminating "
            "what it still held (objects #N in the order offloaded):"
        )
        lines.extend(f"  {n}. {describe(step)}" for n, step in enumerate(steps, start=1))
    for report in outcome.reports:
        obs = report.observation
        marker = "  <- here" if any(v.rule_id == rule_id for v in report.violations) else ""
        lines.append("")
        lines.append(f"{obs.label}: {len(obs.snapshot)} blocks{marker}")
        lines.extend("  " + line for line in draw_report(report).splitlines())
        for note in obs.notes:
            lines.append(f"  note: {note}")
    others = sorted({v.rule_id for r in outcome.reports for v in r.violations} - {rule_id})
    if others:
        lines.append("")
        lines.append(f"The same case also breaks: {', '.join(others)}")
    if replay:
        lines.append("")
        lines.append(f"Replay: {replay}")
    return "\n".join(lines)


def counterexample_data(outcome: ScenarioOutcome, rule_id: str) -> dict[str, Any]:
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
