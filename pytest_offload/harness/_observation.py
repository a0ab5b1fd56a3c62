"""What the host saw of one initiate: the hand-over snapshot, completions, images, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_offload.harness._snapshot import TreeImage, TreeSnapshot
    from pytest_offload.model import NetBufferList, OffloadCapabilities

__all__ = [
    "Completion",
    "Event",
    "MemoryWrite",
    "Observation",
    "RaisedError",
    "SendCompletion",
    "TargetCrashed",
]


class TargetCrashed(Exception):
    """Raised by a transport for an initiate in flight when the target's process ended."""


@dataclass(frozen=True, slots=True)
class Completion:
    """One call of a completion (``initiate_offload_complete`` or a lifecycle one)
    attributed to a request."""

    root: object
    matches_root: bool
    thread_name: str
    seconds: float
    inside_call: bool
    #: The operation whose completion function was called (``"terminate"`` for
    #: ``terminate_offload_complete``); a request completed through another operation's
    #: function is not completed.
    via: str = "initiate"
    #: ``time.monotonic()`` when the completion was entered.
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Event:
    """One ``tcp_offload_event`` call (``NdisTcpOffloadEventHandler``), with when it was
    entered and returned (lifecycle.md H10)."""

    handle: object
    event_type: object
    information: object
    entered: float
    returned: float
    thread_name: str


@dataclass(frozen=True, slots=True)
class SendCompletion:
    """One NBL passed to ``tcp_offload_send_complete``: its status then, and when."""

    nbl: object
    status: object
    at: float


@dataclass(frozen=True, slots=True)
class MemoryWrite:
    """Bytes of a tree in C memory that a native target wrote outside what is its to
    write (a host-owned field, a state structure, the guard after a block)."""

    position: int
    offset: int
    length: int
    field: str
    #: Written after the first completion (INI-NO-TOUCH-AFTER-COMPLETE's, not
    #: INI-HOST-FIELDS-INTACT's).
    late: bool = False

    def __str__(self) -> str:
        noun = "byte" if self.length == 1 else "bytes"
        return f"wrote {self.length} {noun} at +{self.offset:#x}: {self.field}"


@dataclass(frozen=True, slots=True)
class RaisedError:
    """An exception that escaped ``initiate_offload``, kept as text for reports."""

    type_name: str
    message: str
    #: The target's process ended (a crash), rather than an exception escaping a call.
    crash: bool = False

    @classmethod
    def from_exception(cls, exc: BaseException) -> RaisedError:
        """Describe ``exc`` without keeping it (and its frames) alive."""
        return cls(type(exc).__qualname__, str(exc), crash=isinstance(exc, TargetCrashed))

    def __str__(self) -> str:
        if self.crash:
            return self.message
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


@dataclass(frozen=True, slots=True)
class Observation:
    """One initiate as the host recorded it, ready to be judged.

    Attributes:
        snapshot: The tree as handed over (every status ``PENDING``).
        capabilities: What the target declared.
        completions: Every completion attributed to this initiate, in order.
        completion_image: The tree's fields at the first completion (``None`` if none).
        final_image: The tree's fields once the target was given time to finish writing
            (``None`` if it never completed).
        raised: What escaped ``initiate_offload``, if anything.
        send_completed: Every NBL the target passed to ``tcp_offload_send_complete``.
        timeout: Seconds the host waited for the completion.
        label: Names the initiate in reports, e.g. ``initiate 2 of 3``.
    """

    snapshot: TreeSnapshot
    capabilities: OffloadCapabilities
    completions: tuple[Completion, ...]
    completion_image: TreeImage | None
    final_image: TreeImage | None
    raised: RaisedError | None = None
    send_completed: tuple[NetBufferList, ...] = ()
    timeout: float = 2.0
    label: str = "initiate"
    notes: tuple[str, ...] = field(default=())
    #: Whether ``initiate_offload`` returned within the timeout.
    returned: bool = True
    #: Protocol errors of a process target while this initiate was in flight (quoted).
    wire_errors: tuple[str, ...] = ()
    #: The transport that carried the initiate; ``None`` for a target in the suite's process.
    transport: str | None = None
    #: Writes to the tree's memory outside the target's fields (native targets).
    memory_writes: tuple[MemoryWrite, ...] = ()
    #: The request: ``"initiate"`` or a lifecycle operation (``"terminate"``, ...).
    operation: str = "initiate"
    #: ``time.monotonic()`` when the request was handed over.
    started: float = 0.0

    @property
    def completed(self) -> bool:
        """True when at least one completion arrived in time."""
        return bool(self.completions) and self.completion_image is not None
