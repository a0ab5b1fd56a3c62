"""The rule registry: each rule a small named function registered with its ID and grade."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_offload.catalogue._facts import InitiateFacts

__all__ = ["CATALOGUE", "Grade", "Rule", "RuleOutcome", "Violation", "rule"]


class Grade(Enum):
    """MUST failures fail the run; SHOULD failures only under ``--offload-strict``."""

    MUST = "MUST"
    SHOULD = "SHOULD"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule at one place, with what was seen and what the rule wants."""

    rule_id: str
    grade: Grade
    path: str | None
    observed: str
    expected: str
    detail: str = ""
    position: int | None = None
    initiate: str = "initiate"

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        detail = f" [{self.detail}]" if self.detail else ""
        return (
            f"{self.rule_id} ({self.grade.value}){where} in {self.initiate}: "
            f"observed {self.observed}, but should be {self.expected}{detail}"
        )


CheckFunction = Callable[[Any, "RuleOutcome"], None]


@dataclass(frozen=True, slots=True)
class Rule:
    """A catalogue entry: stable ID, grade, group, text, source and its check."""

    id: str
    grade: Grade
    group: str
    text: str
    source: str
    reading: bool
    check: CheckFunction = field(repr=False, compare=False)
    #: When a case gives the target an opportunity to break the rule (rules.md 4.1).
    exercised: str = ""
    #: What the check judges: ``"initiate"`` (an initiate's facts), ``"request"`` (a
    #: terminate, update, invalidate or query, with the events around it), ``"step"``; a
    #: rule of both initiates and requests (WIRE-PROTOCOL) names both.
    judges: tuple[str, ...] = ("initiate",)
    #: Only the target's own choice opens an opportunity (lifecycle.md section 3): with
    #: none, the rule is "not triggered" rather than "not exercised".
    target_triggered: bool = False


class RuleOutcome:
    """Collects, for one rule and one initiate, how often its precondition held and what broke.

    It keeps the initiate's snapshot and label (to name where a violation stands), not the
    facts: a report outlives the facts, which are large and freed once judged.
    """

    __slots__ = ("hits", "label", "rule", "snapshot", "violations")

    def __init__(self, rule: Rule, facts: InitiateFacts | Any) -> None:
        self.rule = rule
        self.snapshot = facts.snapshot
        self.label = facts.observation.label
        self.hits = 0
        self.violations: list[Violation] = []

    def __repr__(self) -> str:
        return f"RuleOutcome({self.rule.id}, hits={self.hits}, violations={len(self.violations)})"

    def hit(self, count: int = 1) -> None:
        """Record that the rule's precondition held ``count`` more times."""
        self.hits += count

    def violate(
        self, position: int | None, observed: str, expected: str, detail: str = ""
    ) -> None:
        """Record a violation at block ``position`` (``None`` for the whole initiate)."""
        self.violations.append(
            Violation(
                self.rule.id,
                self.rule.grade,
                None if position is None else self.snapshot.path(position),
                observed,
                expected,
                detail,
                position,
                self.label,
            )
        )

    @property
    def exercised(self) -> bool:
        """True when the precondition held at least once."""
        return self.hits > 0


class _Catalogue:
    """Rules in registration order, looked up by ID; introspected by reports and docs."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}

    def add(self, new: Rule) -> None:
        if new.id in self._rules:
            raise ValueError(f"rule {new.id} is registered twice")
        self._rules[new.id] = new

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def order(self, ids: tuple[str, ...]) -> None:
        """Put the rules in the order of ``ids``, which must name each rule exactly once."""
        if sorted(ids) != sorted(self._rules):
            missing = sorted(set(self._rules) - set(ids))
            extra = sorted(set(ids) - set(self._rules))
            raise ValueError(f"catalogue order: missing {missing}, unknown {extra}")
        self._rules = {rule_id: self._rules[rule_id] for rule_id in ids}

    def annotate(self, exercised: dict[str, str]) -> None:
        """Record when each rule is exercised; ``exercised`` must name every rule."""
        if sorted(exercised) != sorted(self._rules):
            raise ValueError(
                f"exercised-when: missing {sorted(set(self._rules) - set(exercised))}"
            )
        self._rules = {k: replace(r, exercised=exercised[k]) for k, r in self._rules.items()}

    def ids(self) -> list[str]:
        """Every rule ID in catalogue order."""
        return list(self._rules)

    def select(self, patterns: list[str] | tuple[str, ...]) -> list[Rule]:
        """Rules matched by any pattern: an exact ID (that rule only), an ID prefix ending
        at a dash (``INI-CONTEXT`` selects ``INI-CONTEXT-ON-SUCCESS`` and
        ``INI-CONTEXT-UNIQUE``), or a glob (``INI-*-CAUSE``). Case does not matter.

        Raises:
            KeyError: naming the first pattern that matches no rule.
        """
        chosen: set[str] = set()
        for raw in patterns:
            pattern = raw.strip().upper()
            stem = pattern.rstrip("-") + "-"
            if pattern in self._rules:
                matched = {pattern}  # an exact ID is never also read as a prefix
            else:
                matched = {
                    r.id for r in self if r.id.startswith(stem) or fnmatchcase(r.id, pattern)
                }
            if not matched:
                raise KeyError(raw)
            chosen |= matched
        return [r for r in self if r.id in chosen]


CATALOGUE = _Catalogue()


def rule(
    rule_id: str,
    grade: Grade,
    *,
    group: str,
    text: str,
    source: str,
    reading: bool = False,
    judges: str | tuple[str, ...] = "initiate",
    target_triggered: bool = False,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as the check of ``rule_id`` (``judges``: what its
    facts are, ``"initiate"``, ``"request"``, ``"step"`` or a tuple of them)."""

    def register(check: CheckFunction) -> CheckFunction:
        CATALOGUE.add(
            Rule(
                rule_id,
                grade,
                group,
                text,
                source,
                reading,
                check,
                judges=(judges,) if isinstance(judges, str) else tuple(judges),
                target_triggered=target_triggered,
            )
        )
        return check

    return register
