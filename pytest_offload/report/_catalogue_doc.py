"""Render the rule catalogue as Markdown: ``pytest-offload catalogue [rules|status]``.

``docs/rules.md`` is this output; a test fails when the two drift apart.
"""

from __future__ import annotations

from pytest_offload.catalogue import CATALOGUE, CATALOGUE_VERSION, GROUPS, NEEDS
from pytest_offload.generate import AIMS
from pytest_offload.model import CAUSE_CODE_LAYERS, INITIATE_CODES, NdisStatus

__all__ = ["render", "render_status_codes"]


def render() -> str:
    """The catalogue as a Markdown page, grouped like the suite's modules."""
    lines = [
        "# Rule catalogue",
        "",
        f"Catalogue version {CATALOGUE_VERSION}: {len(CATALOGUE)} rules. Generated from the code",
        "by `pytest-offload catalogue rules`; do not edit by hand.",
        "",
        "MUST failures fail the run; SHOULD failures are reported as non-strict and fail the",
        "run only with `--offload-strict`. A rule marked *reading* implements one of the",
        "readings of ambiguous NDIS text (see `readings.md`). Each suite test is named",
        "`test_rule[RULE-ID]`; the aim says which generated scenarios it runs. The lifecycle",
        "rules (issue 13, lifecycle.md) share one aim, `lifecycle state machine`, and are not",
        "applicable to a target that does not declare the operations they need; a rule",
        "marked *target-triggered* is opened only by the target's own choice, and is reported",
        "*not triggered* (never INCOMPLETE) when the target never makes it.",
        "",
    ]
    for group in GROUPS:
        lines += [
            f"## {group}",
            "",
            "| ID | grade | rule | exercised when the case has | source | aim |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for rule in CATALOGUE:
            if rule.group != group:
                continue
            aim = AIMS.get(rule.id)
            aim_name = aim.build.__name__.lstrip("_") if aim else "general"
            if aim is not None and aim.lifecycle:
                needs = ", ".join(sorted(op.upper() for op in NEEDS.get(rule.id, ())))
                aim_name = f"lifecycle state machine (needs {needs})"
            text = rule.text + (" *(reading)*" if rule.reading else "")
            if rule.target_triggered:
                text += " *(target-triggered)*"
            lines.append(
                f"| `{rule.id}` | {rule.grade.value} | {text} | {rule.exercised} | "
                f"{rule.source} | {aim_name} |"
            )
        lines.append("")
    return "\n".join(lines)


def render_status_codes() -> str:
    """The NDIS status table as a Markdown page (``docs/status-codes.md``)."""
    lines = [
        "# Status codes",
        "",
        "Generated from `pytest_offload.NdisStatus` by `pytest-offload catalogue status`.",
        "`OFFLOAD_PATH_MTU` has no value in any public header: 0xE0231014 is this suite's",
        "reading (error severity, facility NDIS, code 0x1014, customer bit set).",
        "",
        "| name | value | initiate code | layer of the cause |",
        "| --- | --- | --- | --- |",
    ]
    for member in NdisStatus:
        allowed = "yes" if member in INITIATE_CODES else "no"
        if member is NdisStatus.OFFLOAD_CONNECTION_REJECTED:
            allowed = "NDIS 6.20+"
        layer = CAUSE_CODE_LAYERS.get(member, "")
        lines.append(f"| `{member.name}` | `0x{int(member):08X}` | {allowed} | {layer} |")
    return "\n".join(lines) + "\n"
