"""Runs a scenario (one or more trees) against a fresh target and judges every initiate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_offload.catalogue import CheckReport, TargetChecker
from pytest_offload.generate._spec import InFlight, TreeSpec
from pytest_offload.harness import DEFAULT_TIMEOUT, RecordingHost
from pytest_offload.model import OffloadBlockList

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pytest_offload.catalogue import Rule
    from pytest_offload.model import OffloadTarget, TargetFactory

__all__ = ["ScenarioOutcome", "UnknownContext", "run_scenario"]


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

    specs: tuple[TreeSpec | OffloadBlockList | InFlight, ...]
    reports: tuple[CheckReport, ...]
    target: OffloadTarget

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
) -> ScenarioOutcome:
    """Create a fresh target and hand it each step of ``specs`` in turn.

    A step is a :class:`TreeSpec` (built fresh, linkers resolved), a tree already built
    by the caller (handed over as it is), or an :class:`InFlight` group whose trees are
    all handed over before any completion is awaited, and judged together. Linkers name
    objects the target offloaded in earlier steps, by layer and index (modulo how many
    there are); with none to name, they get an :class:`UnknownContext`. A target that
    never completes stops the scenario there.
    """
    host = RecordingHost(timeout=timeout)
    target = factory(host)
    checker = TargetChecker(target.capabilities, rules=rules)
    unknown = UnknownContext()

    def resolve(layer: str, index: int) -> object:
        known = checker.ledger.contexts(layer)
        return known[index % len(known)] if known else unknown

    def build(step: TreeSpec | OffloadBlockList) -> OffloadBlockList:
        return step.build(resolve) if isinstance(step, TreeSpec) else step

    reports: list[CheckReport] = []
    for number, step in enumerate(specs, start=1):
        label = f"initiate {number} of {len(specs)}"
        if isinstance(step, InFlight):
            roots = [build(tree) for tree in step.trees]
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
            observation = host.run_initiate(
                target, build(step), capabilities=target.capabilities, label=label
            )
            reports.append(checker.check(observation))
            observations = [observation]
        if not all(o.completed for o in observations):
            break  # the tree still belongs to the target: nothing after it is meaningful
    return ScenarioOutcome(tuple(specs), tuple(reports), target)
