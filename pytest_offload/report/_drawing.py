"""Text drawings of a judged tree: role, type, observed and expected status per block."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_offload.model import OffloadStateType, Role, format_status

if TYPE_CHECKING:
    from pytest_offload.catalogue import CheckReport

__all__ = ["draw_report", "state_type_name"]


def state_type_name(state_type: object) -> str:
    """``NEIGHBOR``, ``IP4``, ... for known types; ``type 200`` for anything else."""
    return _type_name(state_type)


def _type_name(state_type: object) -> str:
    try:
        return OffloadStateType(state_type).name  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return f"type {state_type!r}"


def _short(status: object) -> str:
    return format_status(status).split(" (")[0]


def draw_report(report: CheckReport, *, limit: int = 60) -> str:
    """Draw the tree of ``report`` with observed vs expected status per block.

    Blocks where a rule was broken are marked ``<-`` with the rule IDs. Trees larger
    than ``limit`` blocks show only the marked blocks and their ancestors.
    """
    obs = report.observation
    snapshot = obs.snapshot
    image = obs.completion_image
    flagged: dict[int, list[str]] = {}
    wanted: dict[int, str] = {}  # what the first rule broken at a block asks there
    for violation in report.violations:
        if violation.position is not None:
            flagged.setdefault(violation.position, []).append(violation.rule_id)
            wanted.setdefault(violation.position, violation.expected)
    shown = set(range(len(snapshot)))
    if len(snapshot) > limit:
        shown = set()
        for marked in flagged:
            position = marked
            while position >= 0:
                shown.add(position)
                position = snapshot.parents[position]
    expected = report.expected or [""] * len(snapshot)
    lines = []
    for i in sorted(shown):
        depth = snapshot.depths[i]
        role = snapshot.roles[i]
        indent = "    " * depth
        name = snapshot.path(i).rsplit(".", 1)[-1]
        noun = role.value
        if obs.operation != "initiate":
            noun = "naming an object"  # a lifecycle request's block names what it asks about
        kind = (
            "placeholder"
            if role is Role.PLACEHOLDER
            else (f"{_type_name(snapshot.image.state_types[i])} {noun}")
        )
        observed = _short(image.statuses[i]) if image is not None else "(not completed)"
        want = expected[i]
        if i in flagged and (not want or want == observed):
            want = wanted[i]  # e.g. INI-ROOT-SIBLINGS: the status alone is not the defect
        verdict = f"observed {observed}"
        if want and want != observed:
            verdict += f", expected {want}"
        mark = f"   <- {', '.join(sorted(set(flagged[i])))}" if i in flagged else ""
        lines.append(f"{indent}{name} [{kind}] {verdict}{mark}")
    if len(shown) < len(snapshot):
        lines.append(f"({len(snapshot) - len(shown)} unmarked blocks not shown)")
    return "\n".join(lines)
