"""The model of the target's objects (lifecycle.md H0): what the suite knows of each one.

The ledger holds the states the INI rules count (live, terminating, in doubt, gone,
invalidated); the model adds, per object, what the lifecycle rules and the state machine
need: its handle, the state it was offloaded with, the cached values in force, its parent
(which an update may change), the send and buffered data it took over, and what the target
said of it since (an ``ABORT``, a hardware failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_offload.harness import NO_SLOT
from pytest_offload.model import (
    HALF_CLOSED,
    LAYERS,
    NdisStatus,
    Role,
    TcpConnectionState,
    TcpOffloadEventType,
    TcpUploadReason,
    context_key,
)

if TYPE_CHECKING:
    from pytest_offload.catalogue._ledger import TargetLedger
    from pytest_offload.harness import Event, Observation, SendCompletion

__all__ = ["HALF_CLOSED", "LifecycleModel", "ObjectRecord", "handle_key", "is_quiet"]

_OFFLOADED = frozenset({int(NdisStatus.SUCCESS), int(NdisStatus.OFFLOAD_PARTIAL_SUCCESS)})
_TIMER_OFF = 0xFFFFFFFF
#: TCP cached flag bits whose update ends a connection's quiet (keepalive, 0x04 command).
_WAKING_FLAGS = 0x01 | 0x04


def handle_key(handle: object) -> Any:
    """How handles are compared: as pointer values, like contexts (``None`` for NULL)."""
    return context_key(handle)


def is_quiet(state: Any, chain: object) -> bool:
    """lifecycle.md H9: no timer running, nothing unacknowledged, no send data, no
    keepalive; then ``state``, ``snd_nxt`` and ``snd_max`` are settled too."""
    try:
        d, c = state.delegated, state.cached
        return bool(
            d.state in (TcpConnectionState.ESTABLISHED, TcpConnectionState.CLOSE_WAIT)
            and d.snd_una == d.snd_nxt == d.snd_max
            and not chain
            and d.keep_alive.timeout_delta == _TIMER_OFF
            and d.retransmit.timeout_delta == _TIMER_OFF
            and not c.flags & 0x01
        )
    except AttributeError:
        return False


@dataclass(slots=True, eq=False)
class ObjectRecord:
    """One object the target offloaded in this case, as the suite knows it."""

    serial: int
    key: Any
    context: object
    layer: str
    handle: object
    state_type: int
    #: The combined state it was offloaded with.
    offloaded: Any
    #: The outstanding send data handed over with it (TCP).
    sends: tuple[Any, ...] = ()
    #: The buffered receive data handed over with it, concatenated (TCP).
    buffered: bytes = b""
    has_buffered: bool = False
    parent: ObjectRecord | None = None
    #: The cached structure in force: the offloaded one until an update succeeded.
    cached: Any = None
    updated: bool = False
    quiet: bool = False
    #: The target indicated ``ABORT`` for it (TCP).
    aborted: bool = False
    #: When (monotonic) the target signalled a hardware failure of it, if it did.
    failed_at: float | None = None
    #: Upload reasons the target asked for and the host has not answered.
    asked: list[int] = field(default_factory=list)
    where: str = ""
    #: The host owes it a terminate (a request on it failed: lifecycle.md H7).
    must_terminate: bool = False
    #: A path an update relinked to another neighbor (UPD-RELINK judges what follows).
    relinked: bool = False
    #: An invalidate named it, and the target may have honoured it (it answered SUCCESS,
    #: or the answer was lost on the wire): it stays so, terminated or not (reading 19).
    invalidated_ever: bool = False
    #: The neighbors a path was under before updates relinked it (reading 19).
    former_parents: list[ObjectRecord] = field(default_factory=list)

    @property
    def handle_key(self) -> Any:
        """The handle as a pointer value."""
        return handle_key(self.handle)

    @property
    def half_closed(self) -> bool:
        """Offloaded in FIN_WAIT1, FIN_WAIT2 or CLOSE_WAIT (TCP)."""
        return self.layer == "tcp" and self.offloaded.delegated.state in HALF_CLOSED

    def chain_up(self) -> list[ObjectRecord]:
        """This object and the objects it depends on, nearest first."""
        out: list[ObjectRecord] = []
        walk: ObjectRecord | None = self
        while walk is not None and len(out) < len(LAYERS):
            out.append(walk)
            walk = walk.parent
        return out


class LifecycleModel:
    """Every object of one case, the handles handed out, and the target's health.

    Args:
        ledger: The checker's ledger (the states the INI rules count).
    """

    def __init__(self, ledger: TargetLedger) -> None:
        self.ledger = ledger
        self.records: list[ObjectRecord] = []
        self.by_key: dict[Any, ObjectRecord] = {}
        #: Handle key -> the record of the object it names, or ``None`` for the handle of
        #: a TCP block whose initiate failed.
        self.handles: dict[Any, ObjectRecord | None] = {}
        #: Healthy until the target signals a hardware failure (lifecycle.md 3).
        self.healthy = True
        #: What the target answered to the updates (``"update"``) and the relinks of paths
        #: (``"relink"``) handed over, robustness cases aside: the kinds it answered SUCCESS
        #: to at least once, and those it refused at least once. UPD-QUERY-SHOWS and
        #: UPD-RELINK are blocked when a kind was only ever refused (docs/readings.md 21).
        self.accepted: set[str] = set()
        self.refused: set[str] = set()
        #: Terminates or invalidates handed over in this case.
        self.lifecycle_requests = 0
        #: Every NBL send-completed, by id, with each completion (processed in order).
        self.send_completions: dict[int, list[SendCompletion]] = {}
        self._sends_seen = 0
        self.events_seen = 0

    # -- what the model learns --------------------------------------------------------

    def state_of(self, record: ObjectRecord) -> str:
        """``live``, ``terminating``, ``in doubt`` or ``gone``."""
        return (
            self.ledger.state_of(record.key) if self.by_key.get(record.key) is record else "gone"
        )

    def invalidated(self, record: ObjectRecord) -> bool:
        """Whether the object (itself, not what it depends on) was invalidated."""
        return record.key in self.ledger.invalidated and self.by_key.get(record.key) is record

    def on_invalid_state(self, record: ObjectRecord) -> bool:
        """Whether the object or one it depends on is invalidated."""
        return any(self.invalidated(r) for r in record.chain_up())

    def held(self, layer: str | None = None) -> list[ObjectRecord]:
        """Objects held (live, terminating or in doubt), in the order offloaded."""
        return [
            r
            for r in self.by_key.values()
            if (layer is None or r.layer == layer) and self.ledger.state_of(r.key) != "gone"
        ]

    def live(self, layer: str | None = None) -> list[ObjectRecord]:
        """Objects LIVE (valid or invalidated), in the order offloaded."""
        return [r for r in self.held(layer) if self.ledger.state_of(r.key) == "live"]

    def dependents(self, record: ObjectRecord) -> list[ObjectRecord]:
        """Held objects whose parent is ``record`` now."""
        return [r for r in self.held() if r.parent is record]

    def register_initiate(self, observation: Observation) -> list[ObjectRecord]:
        """Add the objects a completed initiate offloaded (the ledger has recorded them);
        remember the handles of TCP blocks it failed. Returns the new records."""
        image = observation.completion_image
        if image is None:
            return []
        snapshot = observation.snapshot
        statuses, slots = image.statuses, image.slot_values
        handles = snapshot.image.host_columns[5]
        made: dict[int, ObjectRecord] = {}
        new: list[ObjectRecord] = []
        for i in range(len(snapshot)):
            role, depth = snapshot.roles[i], snapshot.depths[i]
            if depth >= len(LAYERS):
                continue
            parent_position = snapshot.parents[i]
            if role is Role.LINKER:
                known = self.by_key.get(context_key(snapshot.image.slot_values[i]))
                if known is not None:
                    made[i] = known
                continue
            if role is not Role.NEW_OFFLOAD:
                continue
            key = context_key(slots[i]) if slots[i] is not NO_SLOT else None
            offloaded = statuses[i] in _OFFLOADED
            if not offloaded or key is None or self.ledger.layer_of(key) != LAYERS[depth]:
                if LAYERS[depth] == "tcp" and handle_key(handles[i]) is not None:
                    self.handles.setdefault(handle_key(handles[i]), None)
                continue
            if key in self.by_key:
                continue  # a context of a held object repeated: the first object keeps it
            state = snapshot.image.states[i]
            chain = snapshot.image.chains[i]
            record = ObjectRecord(
                serial=len(self.records),
                key=key,
                context=slots[i],
                layer=LAYERS[depth],
                handle=handles[i],
                state_type=int(snapshot.image.state_types[i]),  # type: ignore[call-overload]
                offloaded=state,
                parent=made.get(parent_position),
                cached=getattr(state, "cached", None),
                where=f"{snapshot.path(i)} of {observation.label}",
            )
            if record.layer == "tcp":
                record.sends = tuple(chain) if isinstance(chain, tuple | list) else ()
                buffered = getattr(getattr(state, "delegated", None), "buffered_data", ())
                record.has_buffered = bool(buffered)
                record.buffered = b"".join(getattr(n, "data", b"") for n in buffered)
                record.quiet = is_quiet(state, chain)
            made[i] = record
            self.records.append(record)
            self.by_key[key] = record
            if record.handle_key is not None:
                self.handles[record.handle_key] = record
            new.append(record)
        return new

    def learn_sends(self, log: list[SendCompletion]) -> None:
        """Take in the send completions logged since the last call."""
        for entry in log[self._sends_seen :]:
            self.send_completions.setdefault(id(entry.nbl), []).append(entry)
        self._sends_seen = len(log)

    def completions_of(self, nbl: object) -> list[SendCompletion]:
        """Every send completion of ``nbl`` so far."""
        return self.send_completions.get(id(nbl), [])

    def learn_event(self, event: Event) -> ObjectRecord | None:
        """Take in one event: an ``ABORT`` marks its connection aborted, a ``RETRIEVE``
        asks for an upload, ``HARDWARE_FAILURE`` ends the target's health. Returns the
        connection it names, if the handle names one."""
        record = self.handles.get(handle_key(event.handle))
        if record is None or record.layer != "tcp":
            return record
        kind, info = event.event_type, event.information
        if kind == TcpOffloadEventType.ABORT:
            record.aborted = True
        elif kind == TcpOffloadEventType.RETRIEVE and isinstance(info, int):
            record.asked.append(info)
            if info == TcpUploadReason.HARDWARE_FAILURE:
                self.healthy = False
                if record.failed_at is None:
                    record.failed_at = event.entered
        return record

    def retire(self, record: ObjectRecord) -> None:
        """The object was terminated with SUCCESS: GONE. Its context may be handed out
        again, to a new object (a C driver reallocating the freed structure)."""
        if self.by_key.get(record.key) is record:
            del self.by_key[record.key]

    def relink(self, path: ObjectRecord, neighbor: ObjectRecord) -> None:
        """An update linked ``path`` to ``neighbor`` (the neighbor it leaves is kept:
        events are asynchronous, readings.md 19)."""
        if path.parent is not None and path.parent is not neighbor:
            path.former_parents.append(path.parent)
        path.parent = neighbor

    def may_be_on_invalid_state(self, record: ObjectRecord) -> bool:
        """Whether the target may have seen ``record`` on invalidated state: it, or an
        object it depends on or depended on before a relink, was invalidated (in any
        order of the requests in flight together; readings.md 19)."""
        seen: set[int] = set()
        todo = [record]
        while todo:
            walk = todo.pop()
            if id(walk) in seen:
                continue
            seen.add(id(walk))
            if walk.invalidated_ever or self.invalidated(walk):
                return True
            todo.extend(walk.former_parents)
            if walk.parent is not None:
                todo.append(walk.parent)
        return False
