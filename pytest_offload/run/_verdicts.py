"""Per-rule verdicts as typed records; they cross xdist as JSON in ``user_properties``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

__all__ = ["RuleVerdict", "Verdict"]


class Verdict(Enum):
    """What one rule's test concluded (rules.md section 5)."""

    PASSED = "passed"
    FAILED = "failed"
    NON_STRICT = "non-strict"
    NOT_EXERCISED = "not exercised"
    #: A target-triggered rule (lifecycle.md 3) whose trigger, the target's own choice,
    #: never came: neither passed nor missing.
    NOT_TRIGGERED = "not triggered"
    NOT_APPLICABLE = "not applicable"
    BLOCKED = "blocked"
    WAIVED = "waived"
    ERROR = "error"

    @property
    def judged(self) -> bool:
        """Whether the rule was actually judged (passed, found broken, waived or an error)."""
        return self not in (
            Verdict.NOT_EXERCISED,
            Verdict.NOT_APPLICABLE,
            Verdict.BLOCKED,
            Verdict.NOT_TRIGGERED,
        )


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One rule's verdict with what the summary, the certificate and the report show.

    ``hits`` counts, for every rule, the generated cases of this rule's test that gave the
    target an opportunity to break it.
    """

    rule: str
    verdict: Verdict
    cases: int = 0
    hits: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    message: str = ""
    replay: str = ""
    counterexample: dict[str, Any] | None = None
    waiver: dict[str, Any] | None = None

    def to_json(self) -> str:
        """The record as JSON (what a worker sends to the xdist controller)."""
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RuleVerdict:
        """Read a record written by :meth:`to_json`.

        Raises:
            ValueError: when ``text`` is not such a record.
        """
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("rule"), str):
            raise ValueError(f"not a rule verdict: {text[:200]!r}")
        data["verdict"] = Verdict(data["verdict"])
        return cls(**data)
