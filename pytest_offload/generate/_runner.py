"""Runs a scenario (one or more trees) against a fresh target and judges every initiate."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue import CheckReport, TargetChecker
from pytest_offload.generate._spec import InFlight, TreeSpec
from pytest_offload.harness import DEFAULT_TIMEOUT, RecordingHost
from pytest_offload.model import OffloadBlockList

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pytest_offload.catalogue import Rule
    from pytest_offload.model import OffloadTarget, TargetFactory

__all__ = ["UNKNOWN", "ScenarioOutcome", "UnknownContext", "run_scenario"]

#: A linker ``ref`` naming no object the target offloaded: an unknown linker.
UNKNOWN = -1


class UnknownContext:
    """The context a linker gets when the target offloaded nothing it could name.

    The target never handed this object out, so it must fail such a linker cleanly.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<context the target never handed out>"


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """Every initiate of one scenario, judged in order on one fresh target."""

    #: The scenario's steps (tree specs, trees, in-flight groups), or a lifecycle
    #: program's steps: what replays the case.
    specs: tuple[Any, ...]
    reports: tuple[CheckReport, ...]
    target: OffloadTarget
    #: Objects the target held (offloaded, per the checker's ledger) when the case ended.
    held: int = 0
    #: The host the case ran on (it keeps recording what the target does later).
    host: RecordingHost | None = None
    #: Lifecycle: connections that failed and never indicated RETRIEVE and ABORT within
    #: the time they were given (the campaign then gives later cases less).
    silent_failures: int = 0
    #: Lifecycle: the kinds of request (``"update"``, ``"relink"``) the target answered
    #: SUCCESS to at least once, and those it refused at least once (robustness aside).
    accepted: frozenset[str] = frozenset()
    refused: frozenset[str] = frozenset()

    def exercised(self) -> set[str]:
        """IDs of the rules whose precondition held in at least one initiate."""
        out: set[str] = set()
        for report in self.reports:
            out |= report.exercised()
        return out


Step = TreeSpec | OffloadBlockList | InFlight


def run_scenario(
    factory: TargetFactory,
    specs: Sequence[Step],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    rules: Iterable[Rule] | None = None,
    settle: float = 0.0,
    robustness: bool = True,
) -> ScenarioOutcome:
    """Create a fresh target and hand it each step of ``specs`` in turn.

    A step is a :class:`TreeSpec` (built fresh, linkers resolved), a tree already built
    by the caller (handed over as it is), or an :class:`InFlight` group whose trees are
    all handed over before any completion is awaited, and judged together. Linkers name
    objects the target offloaded in earlier steps, by layer and index (modulo how many
    there are); a negative index (:data:`UNKNOWN`), or none to name, gives an
    :class:`UnknownContext`: an unknown linker, a robustness case. With ``robustness``
    off, a step that would hold one is skipped instead. A target that never completes
    stops the scenario there.

    When the steps are done, the host waits until ``settle`` seconds have passed since the
    last completion, then looks at every initiate once more: a second completion or a
    write after the completion, until then, is judged (INI-COMPLETE-ONCE,
    INI-NO-TOUCH-AFTER-COMPLETE) before the target is released: its ``close()``, if it
    has one, is called then (a process target's child goes back to its pool). The host
    keeps recording what the target does later, for a caller that looks again.
    """
    host = RecordingHost(timeout=timeout)
    target = factory(host)
    checker = TargetChecker(target.capabilities, rules=rules)

    def resolve(layer: str, index: int) -> object:
        known = checker.ledger.contexts(layer) if index >= 0 else []
        if known:
            return known[index % len(known)]
        if not robustness:
            raise _Unresolvable
        return UnknownContext()

    def build(step: TreeSpec | OffloadBlockList) -> OffloadBlockList:
        return step.build(resolve) if isinstance(step, TreeSpec) else step

    reports: list[CheckReport] = []
    for number, step in enumerate(specs, start=1):
        label = f"initiate {number} of {len(specs)}"
        try:
            roots = [build(tree) for tree in step.trees] if isinstance(step, InFlight) else []
            single = None if isinstance(step, InFlight) else build(step)
        except _Unresolvable:
            continue  # robustness cases are off: never hand over an unknown linker
        if isinstance(step, InFlight):
            pending = [
                host.start_initiate(
                    target,
                    root,
                    capabilities=target.capabilities,
                    label=f"{label}, tree {k} of {len(roots)} in flight together",
                )
                for k, root in enumerate(roots, start=1)
            ]
            observations = [p.finish() for p in pending]
            reports.extend(checker.check_batch(observations))
        else:
            assert single is not None
            observation = host.run_initiate(
                target, single, capabilities=target.capabilities, label=label
            )
            reports.append(checker.check(observation))
            observations = [observation]
        if not all(o.completed for o in observations):
            break  # the tree still belongs to the target: nothing after it is meaningful
    host.settle(settle)
    for handed, report in zip(host.initiates(), reports, strict=True):
        late = handed.late()
        if late is not None:
            checker.rejudge_late(report, late)
    release(target)
    return ScenarioOutcome(
        tuple(specs), tuple(reports), target, held=len(checker.ledger), host=host
    )


def release(target: object) -> None:
    """Call the target's ``close()`` if it has one; what it raises is not a verdict (the
    contract leaves ``close`` optional and says nothing of its failures)."""
    close = getattr(target, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


class _Unresolvable(Exception):
    """A linker would name no object, and robustness cases are off."""
