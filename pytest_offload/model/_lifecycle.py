"""The lifecycle contract (lifecycle.md section 1): operations, events, poisoned structures.

What a target declares it implements besides initiate, the events it may indicate to the
host (``NdisTcpOffloadEventHandler``), and the poison a terminate or query structure is
handed over with, so that "the target filled it" is observable in Python as in C.
"""

from __future__ import annotations

import dataclasses
from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from pytest_offload.model._state import (
    NeighborOffloadState,
    NeighborOffloadStateCached,
    NeighborOffloadStateConst,
    NeighborOffloadStateDelegated,
    PathOffloadState,
    PathOffloadStateCached,
    PathOffloadStateConst,
    PathOffloadStateDelegated,
    TcpConnectionState,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
)
from pytest_offload.model._tree import OffloadStateType

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pytest_offload.model._tree import OffloadBlockList

__all__ = [
    "HALF_CLOSED",
    "LIFECYCLE_OPERATIONS",
    "MANDATORY_REASONS",
    "NATIVE_VLAN_POISON",
    "NATIVE_WORD_POISON",
    "POISON",
    "REQUEST_TYPES",
    "TYPE_CLASSES",
    "LifecycleHost",
    "LifecycleTarget",
    "OffloadOperation",
    "TcpOffloadEventType",
    "TcpUploadReason",
    "is_poisoned",
    "poisoned",
    "with_poison",
]


class OffloadOperation(Enum):
    """A handler of ``NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS`` a target
    implements (lifecycle.md section 1)."""

    INITIATE = "initiate"
    TERMINATE = "terminate"
    UPDATE = "update"
    INVALIDATE = "invalidate"
    QUERY = "query"

    @property
    def method(self) -> str:
        """The target's method for it, e.g. ``terminate_offload``."""
        return f"{self.value}_offload"

    @property
    def completion(self) -> str:
        """The host's completion for it, e.g. ``terminate_offload_complete``."""
        if self is OffloadOperation.QUERY:
            return "query_offload_state_complete"
        return f"{self.value}_offload_complete"


#: The operations past initiate, in the order the docs list them.
LIFECYCLE_OPERATIONS: Final = (
    OffloadOperation.TERMINATE,
    OffloadOperation.UPDATE,
    OffloadOperation.INVALIDATE,
    OffloadOperation.QUERY,
)


class TcpOffloadEventType(IntEnum):
    """TCP_OFFLOAD_EVENT_TYPE (domain.md 5.2)."""

    SEND_BACKLOG_CHANGE = 1
    DISCONNECT = 2
    RETRIEVE = 3
    ABORT = 4


class TcpUploadReason(IntEnum):
    """TCP_UPLOAD_REASON, the information of a ``RETRIEVE`` event (domain.md 5.2)."""

    LOW_ACTIVITY = 1
    HIGH_DROP_RATE = 2
    SMALL_IO = 3
    NO_BUFFER_PREPOSTING = 4
    RECEIVED_URGENT_DATA = 5
    HIGH_FRAGMENTATION = 6
    HIGH_OUT_OF_ORDER_PACKETS = 7
    TIMEOUT_EXPIRATION = 8
    INVALID_STATE = 9
    UPLOAD_REQUESTED = 10
    HARDWARE_FAILURE = 11


#: Half-closed connection states: a target may not ask to upload these but for a hardware
#: failure (domain.md 5.2; TRM-UPLOAD-NOT-HALF-CLOSED).
HALF_CLOSED: Final = frozenset(
    {TcpConnectionState.FIN_WAIT1, TcpConnectionState.FIN_WAIT2, TcpConnectionState.CLOSE_WAIT}
)

#: Reasons after which the host must upload (the others it may decline).
MANDATORY_REASONS: Final = frozenset(
    {
        TcpUploadReason.RECEIVED_URGENT_DATA,
        TcpUploadReason.TIMEOUT_EXPIRATION,
        TcpUploadReason.INVALID_STATE,
        TcpUploadReason.UPLOAD_REQUESTED,
        TcpUploadReason.HARDWARE_FAILURE,
    }
)

T = OffloadStateType
#: The state type a request's named block carries, per request and layer
#: (lifecycle.md section 1; paths by IP version: (IPv4, IPv6)).
REQUEST_TYPES: Final[dict[str, dict[str, tuple[int, ...]]]] = {
    "terminate": {
        "neighbor": (T.NEIGHBOR_DELEGATED,),
        "path": (T.IP4_DELEGATED, T.IP6_DELEGATED),
        "tcp": (T.TCP_DELEGATED,),
    },
    "update": {
        "neighbor": (T.NEIGHBOR_CACHED,),
        "path": (T.IP4_CACHED, T.IP6_CACHED),
        "tcp": (T.TCP_CACHED,),
    },
    "invalidate": {"neighbor": (T.NEIGHBOR,), "path": (T.IP4, T.IP6), "tcp": (T.TCP,)},
    "query": {"neighbor": (T.NEIGHBOR,), "path": (T.IP4, T.IP6), "tcp": (T.TCP,)},
}

#: The state class each state type names (a structure that follows its block).
TYPE_CLASSES: Final[dict[int, type]] = {
    T.NEIGHBOR_CONST: NeighborOffloadStateConst,
    T.NEIGHBOR_CACHED: NeighborOffloadStateCached,
    T.NEIGHBOR_DELEGATED: NeighborOffloadStateDelegated,
    T.NEIGHBOR: NeighborOffloadState,
    T.IP4_CONST: PathOffloadStateConst,
    T.IP4_CACHED: PathOffloadStateCached,
    T.IP4_DELEGATED: PathOffloadStateDelegated,
    T.IP4: PathOffloadState,
    T.IP6_CONST: PathOffloadStateConst,
    T.IP6_CACHED: PathOffloadStateCached,
    T.IP6_DELEGATED: PathOffloadStateDelegated,
    T.IP6: PathOffloadState,
    T.TCP_CONST: TcpOffloadStateConst,
    T.TCP_CACHED: TcpOffloadStateCached,
    T.TCP_DELEGATED: TcpOffloadStateDelegated,
    T.TCP: TcpOffloadState,
}


class _Poison:
    """The value every field of a handed-over terminate or query structure holds until
    the target writes it: a value the generator never offloads."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "POISON"

    def __reduce__(self) -> str:
        return "POISON"


POISON: Final = _Poison()

#: The VLAN ID a native harness's poisoned ``VlanId:12`` holds (its poison byte 0xDE in
#: 12 bits): the generator never offloads it, so a C target's query that leaves the
#: field unwritten is told from one that writes it (readings.md, reading 20).
NATIVE_VLAN_POISON: Final = 0xEDE
#: The 32-bit value a native harness's poisoned ULONG holds: the generator never offloads
#: it as a sequence number (a query or terminate echoes those).
NATIVE_WORD_POISON: Final = 0xDEDEDEDE

_COMBINED = (NeighborOffloadState, PathOffloadState, TcpOffloadState)


def poisoned(cls: type) -> Any:
    """An instance of the state class ``cls`` with every field set to :data:`POISON` (a
    combined state: each of its three parts poisoned), built without validation."""
    obj: Any = object.__new__(cls)
    for f in dataclasses.fields(cls):
        value: Any = POISON
        if cls in _COMBINED:
            value = poisoned(f.type if isinstance(f.type, type) else _PART[cls][f.name])
        object.__setattr__(obj, f.name, value)
    return obj


_PART: dict[type, dict[str, type]] = {
    NeighborOffloadState: {
        "const": NeighborOffloadStateConst,
        "cached": NeighborOffloadStateCached,
        "delegated": NeighborOffloadStateDelegated,
    },
    PathOffloadState: {
        "const": PathOffloadStateConst,
        "cached": PathOffloadStateCached,
        "delegated": PathOffloadStateDelegated,
    },
    TcpOffloadState: {
        "const": TcpOffloadStateConst,
        "cached": TcpOffloadStateCached,
        "delegated": TcpOffloadStateDelegated,
    },
}


def is_poisoned(state: object) -> list[str]:
    """The fields of ``state`` (dotted for a combined state) that still hold the poison."""
    if not dataclasses.is_dataclass(state) or isinstance(state, type):
        return []
    out: list[str] = []
    for f in dataclasses.fields(state):
        value = getattr(state, f.name, POISON)
        if value is POISON:
            out.append(f.name)
        elif type(state) in _COMBINED:
            out.extend(f"{f.name}.{name}" for name in is_poisoned(value))
    return out


def with_poison(state: object, names: Iterable[str]) -> Any:
    """A copy of ``state`` with the fields ``names`` (dotted for a combined state, as
    :func:`is_poisoned` gives them) set to :data:`POISON` again, built without
    validation: a structure a transport saw partly filled (a native target's, in C
    memory, where only the bytes can tell what was written)."""
    wanted = list(names)
    if not wanted or not dataclasses.is_dataclass(state) or isinstance(state, type):
        return state
    obj: Any = object.__new__(type(state))
    for f in dataclasses.fields(state):
        value = getattr(state, f.name, POISON)
        if f.name in wanted:
            value = POISON
        elif type(state) in _COMBINED:
            prefix = f"{f.name}."
            value = with_poison(value, [n[len(prefix) :] for n in wanted if n.startswith(prefix)])
        object.__setattr__(obj, f.name, value)
    return obj


@runtime_checkable
class LifecycleHost(Protocol):
    """The completions and the event handler a host gives a lifecycle target."""

    def terminate_offload_complete(self, root: OffloadBlockList) -> None:
        """NdisMTerminateOffloadComplete."""

    def update_offload_complete(self, root: OffloadBlockList) -> None:
        """NdisMUpdateOffloadComplete."""

    def invalidate_offload_complete(self, root: OffloadBlockList) -> None:
        """NdisMInvalidateOffloadComplete."""

    def query_offload_state_complete(self, root: OffloadBlockList) -> None:
        """NdisMQueryOffloadStateComplete."""

    def tcp_offload_event(
        self, ndis_offload_handle: object, event_type: int, event_specific_information: int
    ) -> None:
        """NdisTcpOffloadEventHandler: an event for one offloaded TCP connection."""


class LifecycleTarget(Protocol):
    """The methods a target declaring the matching operations provides; each takes the
    request's tree and completes it once, like ``initiate_offload``."""

    def terminate_offload(self, root: OffloadBlockList) -> None: ...

    def update_offload(self, root: OffloadBlockList) -> None: ...

    def invalidate_offload(self, root: OffloadBlockList) -> None: ...

    def query_offload(self, root: OffloadBlockList) -> None: ...
