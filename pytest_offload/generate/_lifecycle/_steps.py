"""The steps of a lifecycle case: frozen, picklable, replayable.

The state machine draws steps; a :class:`~pytest_offload.generate.LifecycleSession` runs
them. Objects are named by *serial* (the order the session learnt them in), resolved
against the model when the step runs, so a recorded program replays on a fresh target
exactly as it ran, and a step that no longer fits the model (a nondeterministic target)
is skipped rather than sent against the host guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_offload.generate._spec import BlockSpec, TreeSpec
from pytest_offload.model import (
    NeighborOffloadState,
    OffloadStateType,
    PathOffloadState,
    Role,
    TcpOffloadState,
    state_type_of,
)

__all__ = [
    "Answer",
    "Invalidate",
    "Offload",
    "PathPlan",
    "Query",
    "Relink",
    "Step",
    "Terminate",
    "Together",
    "Update",
    "describe",
]


@dataclass(frozen=True, slots=True)
class TcpPlan:
    """A new TCP connection: its state and send data (byte length of each NBL)."""

    state: TcpOffloadState
    send_data: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PathPlan:
    """A path: linked to a live one (``link``: an index) or new with ``state``."""

    state: PathOffloadState
    link: int | None = None
    connections: tuple[TcpPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class Offload:
    """An initiate: under a live neighbor (``link``) or a new one, paths, connections."""

    neighbor: NeighborOffloadState
    link: int | None = None
    paths: tuple[PathPlan, ...] = ()

    def spec(self, neighbors: int, paths: int) -> TreeSpec:
        """The tree, given how many live neighbors and paths a linker may name: a link
        with nothing to name becomes a new offload."""
        return TreeSpec((self._neighbor(neighbors, paths),))

    def _neighbor(self, neighbors: int, paths: int) -> BlockSpec:
        deps = tuple(self._path(p, paths) for p in self.paths)
        if self.link is not None and neighbors:
            return BlockSpec(
                Role.LINKER, OffloadStateType.NEIGHBOR, ref=self.link, dependents=deps
            )
        return BlockSpec(
            Role.NEW_OFFLOAD, state_type_of(self.neighbor), self.neighbor, dependents=deps
        )

    @staticmethod
    def _path(plan: PathPlan, paths: int) -> BlockSpec:
        deps = tuple(
            BlockSpec(
                Role.NEW_OFFLOAD,
                OffloadStateType.TCP,
                c.state,
                send_data=c.send_data,
            )
            for c in plan.connections
        )
        kind = state_type_of(plan.state)
        if plan.link is not None and paths:
            return BlockSpec(Role.LINKER, kind, ref=plan.link, dependents=deps)
        return BlockSpec(Role.NEW_OFFLOAD, kind, plan.state, dependents=deps)


@dataclass(frozen=True, slots=True)
class Terminate:
    """Terminate objects by serial (a neighbor or path with every held dependent).

    ``robust``: ``""``, or a robustness case: ``"omit"`` (leave the live dependents of
    the first object out), ``"gone"``, ``"unknown"`` or ``"null"`` (a block naming an
    object terminated with SUCCESS, a context never issued, a NULL context).
    """

    serials: tuple[int, ...]
    robust: str = ""


@dataclass(frozen=True, slots=True)
class Update:
    """New cached values for one object."""

    serial: int
    cached: Any


@dataclass(frozen=True, slots=True)
class Relink:
    """Link every path of neighbor ``old`` to neighbor ``new`` (their cached values as
    they are)."""

    old: int
    new: int


@dataclass(frozen=True, slots=True)
class Invalidate:
    """Invalidate objects by serial (``robust`` as for :class:`Terminate`, but ``omit``)."""

    serials: tuple[int, ...]
    robust: str = ""


@dataclass(frozen=True, slots=True)
class Query:
    """Query one object's state, of ``state_type`` (combined or one class)."""

    serial: int
    state_type: int
    robust: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer the events that came in: terminate each connection the target asked to
    upload for a mandatory reason or aborted (and for optional reasons, when
    ``optional``)."""

    optional: bool = False


@dataclass(frozen=True, slots=True)
class Together:
    """Requests on distinct objects handed over before any completion is awaited."""

    steps: tuple[Step, ...]


Step = Offload | Terminate | Update | Relink | Invalidate | Query | Answer | Together


def describe(step: Step) -> str:
    """One line for a failure message: the request and the serials it names."""
    if isinstance(step, Offload):
        tcps = sum(len(p.connections) for p in step.paths)
        neighbor = "a new neighbor" if step.link is None else f"live neighbor #{step.link}"
        return f"initiate under {neighbor}: {len(step.paths)} path(s), {tcps} connection(s)"
    if isinstance(step, Together):
        return "together: " + "; ".join(describe(s) for s in step.steps)
    if isinstance(step, Answer):
        return "answer the events (terminate what asked to upload)" + (
            ", optional reasons too" if step.optional else ""
        )
    if isinstance(step, Update):
        return f"update object #{step.serial}: {step.cached!r}"
    if isinstance(step, Relink):
        return f"relink every path of neighbor #{step.old} to neighbor #{step.new}"
    if isinstance(step, Query):
        kind = OffloadStateType(step.state_type).name
        return f"query {_named(step.serial, step.robust)} as {kind}"
    name = type(step).__name__.lower()
    if step.robust:
        return f"{name} {_named(step.serials[0], step.robust)}"
    return f"{name} " + ", ".join(f"#{s}" for s in step.serials)


#: How a robustness case's block reads, by its word.
_ROBUST_WORDS = {
    "unknown": "a context never handed out (at the layer of #{})",
    "null": "a NULL context (at the layer of #{})",
    "gone": "#{}, already terminated with SUCCESS",
    "omit": "#{} without its live dependents",
}


def _named(serial: int, robust: str) -> str:
    if not robust:
        return f"#{serial}"
    return "robustness case: " + _ROBUST_WORDS.get(robust, robust + " #{}").format(serial)
