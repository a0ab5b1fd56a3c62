"""The state of one run of the suite: what it judges, with what, and the verdicts so far.

Plain data, no pytest: the plugin stashes it on the config, the summary, the certificate
and the report read it.
"""

from __future__ import annotations

import datetime as dt
import shlex
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue import Grade
from pytest_offload.generate import aim_for
from pytest_offload.run._verdicts import RuleVerdict, Verdict

if TYPE_CHECKING:
    from pytest_offload.catalogue import Rule
    from pytest_offload.model import OffloadCapabilities, TargetFactory
    from pytest_offload.run._settings import OffloadSettings
    from pytest_offload.run._waivers import Waiver

__all__ = ["OffloadRun"]


@dataclass(slots=True)
class OffloadRun:
    """Everything the suite needs for this run, and each rule's verdict once known."""

    settings: OffloadSettings
    factory: TargetFactory
    capabilities: OffloadCapabilities
    rules: list[Rule]
    seed: int
    target_name: str
    verdicts: dict[str, RuleVerdict] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    today: dt.date = field(default_factory=dt.date.today)
    report_written: str | None = None

    @property
    def transport(self) -> str | None:
        """The transport to the target (``"process"``), ``None`` in the suite's process."""
        found = getattr(self.factory, "offload_transport", None)
        return found if isinstance(found, str) else None

    def not_applicable(self, rule_id: str) -> str | None:
        """Why the declaration, the settings or the transport rule out every opportunity
        to break ``rule_id``, if they do."""
        return aim_for(rule_id).not_applicable(
            self.capabilities, robustness=self.settings.robustness, transport=self.transport
        )

    def verdict_of(self, rule_id: str) -> Verdict | None:
        """The verdict of ``rule_id``, or ``None`` while it has none (not run)."""
        found = self.verdicts.get(rule_id)
        return found.verdict if found else None

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
            elif self.verdict_of(waiver.rule) is Verdict.WAIVED:
                status = "applied"
            else:
                status = "unmatched"
            out.append({"waiver": waiver.as_dict(), "status": status})
        return out

    def hit_counts(self) -> dict[str, int]:
        """For each rule, the generated cases (over every rule's test) hitting its precondition."""
        hits: dict[str, int] = {}
        for verdict in self.verdicts.values():
            for rule_id, count in verdict.hits.items():
                hits[rule_id] = hits.get(rule_id, 0) + count
        return hits

    def overall_verdict(self) -> str:
        """CONFORMANT, CONFORMANT WITH WARNINGS, NOT CONFORMANT or INCOMPLETE."""
        verdicts = [self.verdict_of(r.id) for r in self.rules]
        if not any(v is not None and v.judged for v in verdicts):
            return "INCOMPLETE"  # nothing judged: no claim of conformance can be made
        if Verdict.FAILED in verdicts:
            return "NOT CONFORMANT"
        if Verdict.ERROR in verdicts:
            return "INCOMPLETE"
        if None in verdicts or Verdict.NOT_EXERCISED in verdicts or not verdicts:
            return "INCOMPLETE"
        if Verdict.BLOCKED in verdicts and self.settings.strict:
            return "INCOMPLETE"  # rules.md 4.1: blocked counts as missing only when strict
        if Verdict.NON_STRICT in verdicts or Verdict.WAIVED in verdicts:
            return "CONFORMANT WITH WARNINGS"
        return "CONFORMANT"

    def fails(self, rule: Rule) -> bool:
        """Whether a finding of ``rule`` fails the run (MUST, or any grade when strict)."""
        return rule.grade is Grade.MUST or self.settings.strict

    def rule_seed(self, rule_id: str) -> int:
        """A per-rule seed derived from the run's seed, stable across processes."""
        return (self.seed ^ zlib.crc32(rule_id.encode())) & 0xFFFFFFFF

    def replay_command(self, rule_id: str, *, also: tuple[str, ...] = ()) -> str:
        """The command that runs this rule again with the same generated cases (``also``:
        the rules whose aims generated the case, when not the rule's own)."""
        parts = [
            "pytest",
            f"--offload-target={self.target_name}",
            f"--offload-rules={','.join((rule_id, *also))}",
            f"--offload-seed={self.seed}",
            f"--offload-budget={self.settings.budget_name}",
            f"--offload-timeout={self.settings.timeout:g}",
        ]
        if self.settings.strict:
            parts.append("--offload-strict")
        if not self.settings.robustness:
            parts.append("--offload-robustness=off")
        return shlex.join(parts)
