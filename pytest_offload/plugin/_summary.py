"""The terminal summary: one line per rule, totals and the overall verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue import CATALOGUE, Grade
from pytest_offload.run import Verdict

if TYPE_CHECKING:
    from pytest_offload.run import OffloadRun

__all__ = ["write_summary"]


def write_summary(terminal: Any, run: OffloadRun) -> None:
    """Write the per-rule verdict table and the overall verdict."""
    terminal.section("offload conformance", sep="=")
    caps = run.capabilities
    terminal.line(
        f"target {run.target_name}: NDIS {caps.ndis_version[0]}.{caps.ndis_version[1]}, "
        f"TCP capacity {caps.tcp_connection_offload_capacity}; budget "
        f"{run.settings.budget_name} ({run.settings.max_examples} cases per rule), "
        f"seed {run.seed}{', strict' if run.settings.strict else ''}"
    )
    hits = run.hit_counts()
    counts: dict[str, int] = {}
    for rule in run.rules:
        found = run.verdicts.get(rule.id)
        verdict = found.verdict.value if found else "not run"
        counts[verdict] = counts.get(verdict, 0) + 1
        detail = found.reason if found else ""
        line = (
            f"{rule.id:<36} {rule.grade.value:<6} {verdict.upper():<14} "
            f"{hits.get(rule.id, 0):>6} cases gave an opportunity"
        )
        if detail:
            line += f" ({detail})"
        waiver = found.waiver if found else None
        if waiver:
            line += f" (waived: {waiver['reason']}, {waiver['issue']}, until {waiver['expires']})"
        markup = {
            "failed": {"red": True},
            "error": {"red": True},
            "non-strict": {"yellow": True},
            "waived": {"yellow": True},
        }.get(verdict, {})
        terminal.line(line, **markup)
    findings = [
        run.verdicts[r.id] for r in run.rules if run.verdict_of(r.id) is Verdict.NON_STRICT
    ]
    if findings:
        terminal.section("offload non-strict findings (SHOULD rules)", sep="-")
        for finding in findings:
            terminal.line(finding.message)
            terminal.line("")
    for entry in run.waiver_report():
        if entry["status"] != "applied":
            w = entry["waiver"]
            why = "has expired" if entry["status"] == "expired" else "matched no failure"
            terminal.line(
                f"warning: the waiver of {w['rule']} ({w['issue']}, until {w['expires']}) {why}",
                yellow=True,
            )
    must = sum(1 for r in run.rules if r.grade is Grade.MUST)
    totals = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    terminal.line(f"{len(run.rules)} rules ({must} MUST) of {len(CATALOGUE)}: {totals}")
    if run.report_written:
        terminal.line(f"certificate.json and report.html written to {run.report_written}")
    verdict = run.overall_verdict()
    terminal.line(
        f"offload verdict: {verdict}",
        bold=True,
        red=verdict in {"NOT CONFORMANT", "INCOMPLETE"},
        green=verdict == "CONFORMANT",
        yellow=verdict == "CONFORMANT WITH WARNINGS",
    )
