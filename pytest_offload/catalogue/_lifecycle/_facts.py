"""What one lifecycle request asked, and the facts the rules judge it by.

A :class:`Request` is the host's side of a terminate, update, invalidate or query: which
block names which object, what the suite knew of each object when it was handed over (a
copy: the model moves on), and whether it is a robustness case. :class:`RequestFacts`
joins it with the observation; :class:`StepFacts` holds the events a step brought.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_offload.harness import NO_SLOT
from pytest_offload.model import NdisStatus, Role

if TYPE_CHECKING:
    from pytest_offload.catalogue._lifecycle._model import LifecycleModel, ObjectRecord
    from pytest_offload.harness import Event, Observation, TreeImage, TreeSnapshot

__all__ = ["Named", "Request", "RequestFacts", "StepFacts"]

SUCCESS = int(NdisStatus.SUCCESS)
FAILURE = int(NdisStatus.FAILURE)


@dataclass(slots=True)
class Named:
    """A block of a request naming an object, with what the suite knew of it then."""

    block: object
    record: ObjectRecord | None
    layer: str
    #: Why this block must fail (a robustness case), or ``""``.
    offending: str = ""
    #: The structure handed with it (update: the new cached values; terminate, query:
    #: the poisoned structure the target fills).
    handed: Any = None
    #: Set once handed over: the block's position in the snapshot.
    position: int = -1
    # A copy of the record's facts at hand-over.
    cached: Any = None
    updated: bool = False
    quiet: bool = False
    aborted: bool = False
    #: Send data not yet completed when the request was handed over (terminate, TCP).
    outstanding: tuple[Any, ...] = ()
    #: Paths relinked to this neighbor earlier, all of the old neighbor's (UPD-RELINK).
    relinked: bool = False


@dataclass(slots=True)
class Request:
    """One terminate, update, invalidate or query as the host built it."""

    operation: str
    named: list[Named]
    #: Why this is a robustness case, or ``""``.
    robustness: str = ""
    #: The target was healthy when it was handed over.
    healthy: bool = True
    #: Update: the neighbor the named paths are relinked to.
    anchor: ObjectRecord | None = None
    #: Terminate of a neighbor whose paths were all relinked away (UPD-RELINK).
    relinked_away: bool = False
    notes: list[str] = field(default_factory=list)

    def locate(self, snapshot: TreeSnapshot) -> None:
        """Give each named block its position in the hand-over snapshot."""
        positions = {id(block): i for i, block in enumerate(snapshot.blocks)}
        for named in self.named:
            named.position = positions.get(id(named.block), -1)


class RequestFacts:
    """A lifecycle request judged: the observation, the request, the model before it."""

    def __init__(
        self,
        observation: Observation,
        request: Request,
        model: LifecycleModel,
        events: list[Event],
    ) -> None:
        self.observation = observation
        self.snapshot = observation.snapshot
        self.request = request
        self.model = model
        #: Every event of the case so far (the rules pick the ones that concern them).
        self.events = events
        self.operation = request.operation
        self.image: TreeImage | None = observation.completion_image
        self.completed = observation.completed
        self.named = [n for n in request.named if n.position >= 0]
        self.named_positions = {n.position for n in self.named}
        self.placeholders = [
            i for i, role in enumerate(self.snapshot.roles) if role is Role.PLACEHOLDER
        ]

    def status(self, position: int) -> object:
        """The status of a block at the completion (``None`` when not completed)."""
        return None if self.image is None else self.image.statuses[position]

    def succeeded(self, named: Named) -> bool:
        """Whether the named block ended SUCCESS."""
        return self.status(named.position) == SUCCESS

    def failed(self, named: Named) -> bool:
        """Whether the named block ended FAILURE."""
        return self.status(named.position) == FAILURE

    def state_after(self, named: Named) -> Any:
        """The structure following the block at the completion."""
        return None if self.image is None else self.image.states[named.position]

    def slot_after(self, position: int) -> object:
        """The context slot's value at the completion."""
        if self.image is None:
            return NO_SLOT
        return self.image.slot_values[position]

    def completed_at(self) -> float | None:
        """``time.monotonic()`` of the first matching completion."""
        for completion in self.observation.completions:
            if completion.via == self.operation:
                return completion.at
        return None


class StepFacts:
    """The events that arrived during one step of a case, and the model as it stood."""

    def __init__(
        self,
        observation: Observation,
        model: LifecycleModel,
        events: list[Event],
        records: list[ObjectRecord | None],
    ) -> None:
        self.observation = observation
        self.snapshot = observation.snapshot
        self.model = model
        self.events = events
        #: The object each event's handle names (``None``: no known TCP connection).
        self.records = records
