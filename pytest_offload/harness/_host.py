"""The suite's recording Host: hands trees over, records completions, never hangs.

A target completes an initiate by calling :meth:`RecordingHost.initiate_offload_complete`,
inside ``initiate_offload`` or later from any thread. The host calls the target on a caller
thread of its own, so that a target that blocks or never completes yields a verdict
(INI-COMPLETE-ONCE) within the timeout instead of a hung run.
"""

from __future__ import annotations

import operator
import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol

from pytest_offload.harness._observation import (
    Completion,
    Event,
    MemoryWrite,
    Observation,
    RaisedError,
    SendCompletion,
)
from pytest_offload.harness._snapshot import TreeImage, capture, take_snapshot
from pytest_offload.model import NdisStatus, iter_depth_first

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.model import NetBufferList, OffloadBlockList, OffloadCapabilities

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_TIMEOUT",
    "InitiateTarget",
    "PendingInitiate",
    "RecordingHost",
    "never_join",
]

DEFAULT_TIMEOUT = 2.0
#: How long the host watches a completing thread for writes after the completion.
DEFAULT_GRACE = 0.02
#: How long the host still waits for a completion once ``initiate_offload`` has raised.
RAISE_GRACE = 0.05


_NEVER_JOIN: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def never_join(thread: threading.Thread) -> None:
    """Mark a thread that completes initiates but never ends (a transport's reader): the
    host does not wait for it after a completion; later writes are caught by :meth:`late`."""
    _NEVER_JOIN.add(thread)


class InitiateTarget(Protocol):
    """The part of an offload target the host drives."""

    def initiate_offload(self, root: OffloadBlockList) -> None: ...


class PendingInitiate:
    """One initiate handed to a target; :meth:`finish` waits and returns the observation."""

    def __init__(
        self,
        host: RecordingHost,
        target: InitiateTarget,
        root: OffloadBlockList,
        capabilities: OffloadCapabilities,
        label: str,
        *,
        operation: str = "initiate",
    ) -> None:
        self.host = host
        self.root = root
        #: ``"initiate"`` or the lifecycle operation requested (its method is called).
        self.operation = operation
        self.capabilities = capabilities
        self.label = label
        for block, *_ in iter_depth_first(root):
            block.status = NdisStatus.PENDING
        self.snapshot = take_snapshot(root)
        self.completions: list[Completion] = []
        self.completion_image: TreeImage | None = None
        self.raised: RaisedError | None = None
        #: What broke the protocol while this initiate was in flight (process targets).
        self.wire_errors: list[str] = []
        #: Writes to the tree's C memory outside the target's fields (native targets).
        self.memory_writes: list[MemoryWrite] = []
        #: Seconds a transport adds to the timeout for moving this tree (see :meth:`allow`).
        self.allowance = 0.0
        #: The transport that carried the initiate (``None``: in the suite's process).
        self.transport: str | None = getattr(type(target), "offload_transport", None)
        self._completing_thread: threading.Thread | None = None
        self.observation: Observation | None = None
        self._completed = threading.Event()
        #: Set by the first completion or by a raise: the target has answered.
        self._answered = threading.Event()
        self._returned = threading.Event()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._caller = threading.Thread(
            target=self._call, args=(target,), name=f"offload-caller[{label}]", daemon=True
        )

    def _start(self) -> None:
        self._started = time.monotonic()
        self._caller.start()

    def _call(self, target: InitiateTarget) -> None:
        try:
            if self.operation == "initiate":
                target.initiate_offload(self.root)
            else:
                getattr(target, f"{self.operation}_offload")(self.root)
        except BaseException as exc:  # any escape is a verdict (INI-NO-RAISE), not a crash
            with self._lock:
                if self.raised is None:
                    self.raised = RaisedError.from_exception(exc)
            self._answered.set()
        finally:
            self._returned.set()

    def fail(self, error: RaisedError) -> None:
        """The target died with this initiate in flight (a transport saw its process end):
        recorded as what escaped the call, unless it had completed or raised already."""
        with self._lock:
            if self.raised is None and self.completion_image is None:
                self.raised = error
        self._answered.set()

    def wire_error(self, text: str, *, answered: bool) -> None:
        """Record a protocol error of a process target; ``answered``: the error stands for
        the target's answer to this initiate (the host stops waiting for a completion)."""
        with self._lock:
            self.wire_errors.append(text)
        if answered:
            self._answered.set()

    def allow(self, seconds: float) -> None:
        """A transport's time for carrying this tree to and from the target (encoding,
        the pipe, a child packing it into C memory), added to the operation timeout: the
        timeout is the target's, not the wire's."""
        with self._lock:
            self.allowance += max(0.0, seconds)

    def memory_written(self, writes: Sequence[MemoryWrite]) -> None:
        """Record writes a transport saw in the tree's memory outside the target's fields
        (before a completion it then reports, or later)."""
        with self._lock:
            self.memory_writes.extend(writes)

    def complete_with(self, stand_in: object, via: str = "initiate") -> None:
        """A transport saw this initiate (or request) completed, through the completion
        of ``via``, with something other than its root (a native target's pointer to
        another block): ``stand_in`` names what."""
        self._on_complete(stand_in, via)

    def _on_complete(self, root: object, via: str = "initiate") -> None:
        thread = threading.current_thread()
        now = time.monotonic()
        with self._lock:
            self.completions.append(
                Completion(
                    root=root,
                    matches_root=root is self.root,
                    thread_name=thread.name,
                    seconds=now - self._started,
                    inside_call=not self._returned.is_set() and thread is self._caller,
                    via=via,
                    at=now,
                )
            )
            if self.completion_image is None and via == self.operation:
                self.completion_image = capture(self.snapshot.blocks)
                self._completing_thread = thread
                self._completed.set()
                self._answered.set()

    def finish(self) -> Observation:
        """Wait for the completion (up to the host's timeout) and build the observation."""
        host = self.host
        # A raise is an answer too: after it, wait only a moment for a completion that a
        # thread of the target's might still make, not the whole timeout. The deadline is
        # read again while waiting: a transport handing the tree over may extend it.
        while not self._answered.is_set():
            left = self._started + host.timeout + self.allowance - time.monotonic()
            if left <= 0 or self._answered.wait(min(left, 0.25)):
                break
        deadline = self._started + host.timeout + self.allowance
        if not self._completed.is_set() and (self.raised is not None or self.wire_errors):
            self._completed.wait(min(max(0.0, deadline - time.monotonic()), RAISE_GRACE))
        if self.raised is None and (self._completed.is_set() or not self.wire_errors):
            # Completed (or still to answer): the call has the rest of the timeout to return.
            self._returned.wait(max(0.0, deadline - time.monotonic()))
        notes: list[str] = []
        if not self._returned.is_set():
            waited = host.timeout + self.allowance
            notes.append(f"initiate_offload had not returned after {waited:g} s")
        final: TreeImage | None = None
        with self._lock:
            completing = self._completing_thread
        if self._completed.is_set():
            # Give the completing thread a moment to show writes it makes after completing;
            # a per-initiate worker that exits right away costs nothing here. A thread the
            # host did not create (the target's own, a native one) cannot be joined: writes
            # from it are caught by the last image of the case (see :meth:`late`).
            if (
                completing is not None
                and completing is not self._caller
                and completing is not threading.current_thread()
                and not isinstance(completing, threading._DummyThread)
                and completing not in _NEVER_JOIN
            ):
                completing.join(host.grace)
            final = capture(self.snapshot.blocks)
        self.observation = self._observe(final, notes)
        return self.observation

    def _observe(self, final: TreeImage | None, notes: list[str]) -> Observation:
        with self._lock:
            completions = tuple(self.completions)
            completion_image = self.completion_image
            raised = self.raised
            wire_errors = tuple(self.wire_errors)
            memory_writes = tuple(self.memory_writes)
        return Observation(
            snapshot=self.snapshot,
            capabilities=self.capabilities,
            completions=completions,
            completion_image=completion_image,
            final_image=final,
            raised=raised,
            send_completed=self.host.send_completed(),
            timeout=self.host.timeout + self.allowance,
            label=self.label,
            notes=tuple(notes),
            returned=self._returned.is_set(),
            wire_errors=wire_errors,
            transport=self.transport,
            memory_writes=memory_writes,
            operation=self.operation,
            started=self._started,
        )

    @property
    def last_completion(self) -> float | None:
        """Seconds since the start at which the latest completion arrived, if any."""
        with self._lock:
            return self.completions[-1].seconds if self.completions else None

    def late(self) -> Observation | None:
        """The observation again, as of now, if anything happened since :meth:`finish`:
        another completion, or a write to the tree after the first completion."""
        first = self.observation
        if first is None or first.completion_image is None:
            return None
        with self._lock:
            more = len(self.completions) > len(first.completions)
            more = more or len(self.wire_errors) > len(first.wire_errors)
            more = more or len(self.memory_writes) > len(first.memory_writes)
        sent = len(self.host.send_completed()) > len(first.send_completed)
        now = capture(self.snapshot.blocks)
        if (
            not more
            and not sent
            and first.final_image is not None
            and _same_image(first.final_image, now)
        ):
            return None
        return self._observe(now, list(first.notes))


def _same_image(first: TreeImage, later: TreeImage) -> bool:
    try:
        return bool(
            first.statuses == later.statuses
            and all(map(operator.is_, first.slot_values, later.slot_values))
            and first.target_columns == later.target_columns
            and first.host_columns == later.host_columns
            and first.nbl_statuses == later.nbl_statuses
        )
    except Exception:  # a hostile __eq__ written by the target: let the rules look
        return False


class RecordingHost:
    """The Host a target is created with: one per target instance.

    Args:
        timeout: Seconds to wait for each completion (the operation timeout).
        grace: Seconds to watch a completing worker thread for late writes.
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, grace: float = DEFAULT_GRACE) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout={timeout!r}: must be a positive number of seconds")
        self.timeout = timeout
        self.grace = grace
        self._lock = threading.Lock()
        self._pending: dict[int, PendingInitiate] = {}
        self._order: list[PendingInitiate] = []
        self._send_completed: list[NetBufferList] = []
        self._send_log: list[SendCompletion] = []
        self._events: list[Event] = []
        self.stray_completions = 0
        self._count = 0

    # -- the Host protocol (called by the target) --------------------------------------

    def initiate_offload_complete(self, root: OffloadBlockList) -> None:
        """NdisMInitiateOffloadComplete: the target hands the tree back."""
        self._complete(root, "initiate")

    def terminate_offload_complete(self, root: OffloadBlockList) -> None:
        """NdisMTerminateOffloadComplete."""
        self._complete(root, "terminate")

    def update_offload_complete(self, root: OffloadBlockList) -> None:
        """NdisMUpdateOffloadComplete."""
        self._complete(root, "update")

    def invalidate_offload_complete(self, root: OffloadBlockList) -> None:
        """NdisMInvalidateOffloadComplete."""
        self._complete(root, "invalidate")

    def query_offload_state_complete(self, root: OffloadBlockList) -> None:
        """NdisMQueryOffloadStateComplete."""
        self._complete(root, "query")

    def tcp_offload_event(
        self, ndis_offload_handle: object, event_type: object, event_specific_information: object
    ) -> None:
        """NdisTcpOffloadEventHandler: recorded with when it was entered and returned; the
        host answers it later, never from inside the call (lifecycle.md H10)."""
        entered = time.monotonic()
        name = threading.current_thread().name
        returned = time.monotonic()
        with self._lock:
            self._events.append(
                Event(
                    ndis_offload_handle,
                    event_type,
                    event_specific_information,
                    entered,
                    returned,
                    name,
                )
            )

    def events(self) -> list[Event]:
        """Every event the target indicated so far, in order."""
        with self._lock:
            return list(self._events)

    def send_log(self) -> list[SendCompletion]:
        """Every NBL send-completed so far, with its status at the call and when."""
        with self._lock:
            return list(self._send_log)

    def _complete(self, root: OffloadBlockList, via: str) -> None:
        with self._lock:
            pending = self._pending.get(id(root))
            if pending is None or pending.root is not root:
                # Not a root we handed over: charge it to the oldest initiate still waiting.
                self.stray_completions += 1
                waiting = [p for p in self._order if not p._completed.is_set()]
                pending = waiting[0] if waiting else (self._order[-1] if self._order else None)
        if pending is not None:
            pending._on_complete(root, via)

    def tcp_offload_send_complete(self, chain: Sequence[NetBufferList]) -> None:
        """NdisTcpOffloadSendComplete: the target returns send data to the host."""
        now = time.monotonic()
        try:
            nbls = list(chain)
        except Exception:  # not a sequence: nothing the host can take back
            nbls = []
        with self._lock:
            self._send_completed.extend(nbls)
            self._send_log.extend(
                SendCompletion(nbl, getattr(nbl, "status", None), now) for nbl in nbls
            )

    # -- what a transport reports (called by the suite's transports) -------------------

    def pending_for(self, root: OffloadBlockList) -> PendingInitiate | None:
        """The initiate that handed ``root`` over, if this host did."""
        with self._lock:
            found = self._pending.get(id(root))
        return found if found is not None and found.root is root else None

    # -- driving a target (called by the suite) ----------------------------------------

    def send_completed(self) -> tuple[NetBufferList, ...]:
        """Every NBL the target has completed so far."""
        with self._lock:
            return tuple(self._send_completed)

    def start_initiate(
        self,
        target: InitiateTarget,
        root: OffloadBlockList,
        *,
        capabilities: OffloadCapabilities,
        label: str | None = None,
        operation: str = "initiate",
    ) -> PendingInitiate:
        """Set every status to PENDING, snapshot the tree and hand it to ``target``
        (``operation``: the request, ``"initiate"`` or a lifecycle one)."""
        with self._lock:
            self._count += 1
            name = label or f"{operation} {self._count}"
        pending = PendingInitiate(self, target, root, capabilities, name, operation=operation)
        with self._lock:
            self._pending[id(root)] = pending
            self._order.append(pending)
        pending._start()
        return pending

    def settle(self, seconds: float) -> None:
        """Wait until ``seconds`` have passed since the latest completion of any initiate,
        so that a second completion or a late write within that time is seen."""
        if seconds <= 0:
            return
        with self._lock:
            pending = list(self._order)
        ends = [p._started + s for p in pending if (s := p.last_completion) is not None]
        if ends:
            remaining = max(ends) + seconds - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)

    def initiates(self) -> list[PendingInitiate]:
        """Every initiate handed over so far, in order."""
        with self._lock:
            return list(self._order)

    def run_initiate(
        self,
        target: InitiateTarget,
        root: OffloadBlockList,
        *,
        capabilities: OffloadCapabilities,
        label: str | None = None,
    ) -> Observation:
        """Hand ``root`` to ``target`` and wait for the outcome."""
        return self.start_initiate(target, root, capabilities=capabilities, label=label).finish()
