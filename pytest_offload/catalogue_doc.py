"""Render the rule catalogue as Markdown: ``python -m pytest_offload.catalogue_doc``.

``docs/rules.md`` is this output; a test fails when the two drift apart.
"""

from __future__ import annotations

from pytest_offload.aims import AIMS
from pytest_offload.rules import CATALOGUE, CATALOGUE_VERSION, GROUPS

__all__ = ["render"]


def render() -> str:
    """The catalogue as a Markdown page, grouped like the suite's modules."""
    lines = [
        "# Rule catalogue",
        "",
        f"Catalogue version {CATALOGUE_VERSION}: {len(CATALOGUE)} rules. Generated from the code",
        "by `python -m pytest_offload.catalogue_doc`; do not edit by hand.",
        "",
        "MUST failures fail the run; SHOULD failures are reported as non-strict and fail the",
        "run only with `--offload-strict`. A rule marked *reading* implements one of the",
        "readings of ambiguous NDIS text (see `readings.md`). Each suite test is named",
        "`test_rule[RULE-ID]`; the aim says which generated scenarios it runs.",
        "",
    ]
    for group in GROUPS:
        lines += [
            f"## {group}",
            "",
            "| ID | grade | rule | source | aim |",
            "| --- | --- | --- | --- | --- |",
        ]
        for rule in CATALOGUE:
            if rule.group != group:
                continue
            aim = AIMS.get(rule.id)
            aim_name = aim.build.__name__.lstrip("_") if aim else "general"
            text = rule.text + (" *(reading)*" if rule.reading else "")
            lines.append(
                f"| `{rule.id}` | {rule.grade.value} | {text} | {rule.source} | {aim_name} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
