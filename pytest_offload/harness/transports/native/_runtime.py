"""The loaded library's side of a native child: the trees handed over, and the one
dispatcher thread that reads what the library called back (harness.c's queue).

At a completion of any of the five kinds the dispatcher finds the tree the pointer lies
in (its copy taken inside the completing call), and the target of that tree's case
turns it into the image; between events it compares every completed tree with what was
last reported and reports later writes. Send completions become
``tcp_offload_send_complete``, NdisTcpOffloadEventHandler calls ``tcp_offload_event``.
"""

from __future__ import annotations

import ctypes
import struct
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pytest_offload.harness.transports._messages import (
    EventNotification,
    EventParams,
    NblStatus,
    SendCompleteNotification,
    SendCompleteParams,
)
from pytest_offload.harness.transports.native import _arena as arena
from pytest_offload.harness.transports.native._layout import NBL_SIZE, NBL_STATUS, log
from pytest_offload.harness.transports.native._library import (
    COMPLETION_METHODS,
    EVENT_INDICATE,
    SECOND_REGISTRATION,
    SEND_COMPLETE,
    TCP_EVENT,
    Event,
    Library,
)
from pytest_offload.model import OffloadOperation

if TYPE_CHECKING:
    from pytest_offload.harness.transports._serve import _Server
    from pytest_offload.harness.transports.native._columns import PackedTree
    from pytest_offload.harness.transports.native._readback import NblNames
    from pytest_offload.model import OffloadCapabilities

__all__ = ["SERVER", "CaseTarget", "Flight", "Runtime"]

#: Memory of released trees is kept alive this long (and up to this many bytes), so that
#: a target writing late writes into memory of the harness's, not into freed heap.
_KEEP_SECONDS = 120.0
_KEEP_BYTES = 1 << 30
_WATCH_MS = 10


class CaseTarget(Protocol):
    """What the dispatcher needs of the target of a case (``_target.CaseTarget``)."""

    server: _Server
    nbl_names: NblNames

    def send_image(
        self,
        flight: Flight,
        memory: ctypes.Array[ctypes.c_char],
        *,
        written: bool,
        completed_with: str | None = ...,
        method: str = ...,
    ) -> None: ...


@dataclass(eq=False, slots=True)
class Flight:
    """One tree handed to the library."""

    target: CaseTarget
    #: The id of the initiate or request (one numbering, protocol 1.3).
    initiate: int
    tree: PackedTree
    copy: ctypes.Array[ctypes.c_char]
    last: ctypes.Array[ctypes.c_char]
    late_mask: ctypes.Array[ctypes.c_char] | None
    index: int
    serial: int
    operation: OffloadOperation = OffloadOperation.INITIATE
    #: The mask a later image is read with (``None``: the tree's own).
    late_read: ctypes.Array[ctypes.c_char] | None = None
    completions: int = 0
    regions: list[tuple[int, int, int, str]] | None = None
    starts: list[int] | None = None


class Runtime:
    """The loaded library and its dispatcher: one per child process."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.lock = threading.Lock()
        self.flights: dict[int, Flight] = {}
        self.nbl_at: dict[int, tuple[Flight, int, int]] = {}
        self.released: list[tuple[float, Flight]] = []
        self.kept = 0
        self.capabilities: OffloadCapabilities | None = None
        self.dispatcher = threading.Thread(
            target=self._dispatch, name="offload-native-dispatcher", daemon=True
        )
        self.dispatcher.start()

    # -- hand-over and release ----------------------------------------------------------

    def hand_over(
        self,
        target: CaseTarget,
        initiate: int,
        tree: PackedTree,
        operation: OffloadOperation = OffloadOperation.INITIATE,
    ) -> Flight:
        copy = arena.zeroed(tree.size)
        # After the completion every byte is watched, NBL statuses included (the suite
        # judges those: INI-SEND-DATA-KEPT-ON-FAILURE), except the Next links of send
        # data: a miniport relinks NBLs it completes (a part of a chain, another order).
        late_mask = late_read = None
        if tree.nbls:
            late_mask = arena.zeroed(tree.size)
            ctypes.memset(late_mask, 1, tree.size)
            # What a later image names as written outside the target's fields: the
            # tree's mask, the Next links of send data exempt as well.
            late_read = arena.copy_of(tree.mask, tree.size)
            for offset, _, _ in tree.nbls:
                ctypes.memset(ctypes.addressof(late_mask) + offset, 0, 8)
                ctypes.memset(ctypes.addressof(late_read) + offset, 0, 8)
        index, serial = self.library.register(
            tree.root, tree.base, tree.size, ctypes.addressof(copy)
        )
        if index < 0:
            raise RuntimeError("too many trees in flight at once for the native harness")
        flight = Flight(
            target, initiate, tree, copy, tree.handed, late_mask, index, serial, operation
        )
        flight.late_read = late_read
        with self.lock:
            self.flights[index] = flight
            for offset, wire, _ in tree.nbls:
                self.nbl_at[tree.base + offset] = (flight, offset, wire)
                target.nbl_names.known[tree.base + offset] = wire
            for offset, wire in tree.received:
                target.nbl_names.known[tree.base + offset] = wire
        return flight

    def release(self, target: CaseTarget) -> None:
        with self.lock:
            mine = [f for f in self.flights.values() if f.target is target]
            now = time.monotonic()
            for flight in mine:
                del self.flights[flight.index]
                self.library.unregister(flight.index)
                self.released.append((now, flight))
                self.kept += flight.tree.size
            while self.released and (
                self.released[0][0] < now - _KEEP_SECONDS or self.kept > _KEEP_BYTES
            ):
                _, old = self.released.pop(0)
                self.kept -= old.tree.size
                for offset, _, _ in old.tree.nbls:
                    self.nbl_at.pop(old.tree.base + offset, None)

    # -- the dispatcher -----------------------------------------------------------------

    def _dispatch(self) -> None:
        event = Event()
        while True:
            try:
                if self.library.wait(_WATCH_MS, event):
                    self._event(event)
                else:
                    self._watch()
            except Exception as exc:  # never let the dispatcher die: say why, go on
                log(f"dispatcher: {type(exc).__name__}: {exc}")

    def _event(self, event: Event) -> None:
        kind = event.kind
        method = COMPLETION_METHODS.get(kind)
        if method is not None:
            self._completion(event, method)
        elif kind == SEND_COMPLETE:
            self._send_completed(event.pointer)
        elif kind == TCP_EVENT:
            self._tcp_event(event)
        elif kind == EVENT_INDICATE:
            log(
                f"NdisMOffloadEventIndicate with {event.pointer:#x}, code {event.info:#x}: "
                "no rule judges neighbor and path indications"
            )
        elif kind == SECOND_REGISTRATION:
            log("NdisSetOptionalHandlers was called again: the new handlers are used")

    def _tcp_event(self, event: Event) -> None:
        """NdisTcpOffloadEventHandler: to the suite, for the case being served."""
        server = SERVER[-1] if SERVER else None
        if server is None:
            return
        handle = f"0x{event.handle:x}" if event.handle else None
        params = EventParams(handle, event.info & 0xFFFFFFFF, event.info2 & 0xFFFFFFFF)
        server.send(EventNotification("2.0", "tcp_offload_event", params))

    def _completion(self, event: Event, method: str) -> None:
        call = _CALLS[method]
        with self.lock:
            flight = self.flights.get(event.tree) if event.tree >= 0 else None
            if flight is not None and flight.serial != event.info:
                flight = None  # a tree released since: its index names another now
            waiting = [f for f in self.flights.values() if not f.completions]
        pointer = event.pointer
        if flight is None and self._released_at(pointer):
            # A tree whose case is over (a completion long after its time): nobody
            # judges it any more, as the suite ignores messages of released cases.
            log(f"{call} with {pointer:#x}, a tree released")
            return
        if flight is None:
            # A pointer into no tree handed over: charged, as by the in-process host,
            # to the oldest initiate still waiting (INI-COMPLETE-ROOT then says so).
            if not waiting:
                log(f"{call} with {pointer:#x}, no tree in flight")
                return
            flight = waiting[0]
            image = arena.zeroed(flight.tree.size)
            self.library.copy_now(flight.index, ctypes.addressof(image))
            ctypes.memmove(flight.copy, image, flight.tree.size)
            self._completed(flight, method, f"{pointer:#x} (no tree handed over lies there)")
            return
        if pointer == flight.tree.root:
            self._completed(flight, method)
            return
        position = flight.tree.block_of(pointer)
        where = (
            f"block {position} of the tree in hand-over order"
            if position is not None
            else "inside the tree's memory, not a block"
        )
        self._completed(flight, method, f"{pointer:#x} ({where}, not its root)")

    def _released_at(self, pointer: int) -> bool:
        with self.lock:
            return any(
                f.tree.base <= pointer < f.tree.base + f.tree.size for _, f in self.released
            )

    def _completed(self, flight: Flight, method: str, completed_with: str | None = None) -> None:
        flight.completions += 1
        if flight.completions == 1:
            image = flight.copy  # taken inside NdisMInitiateOffloadComplete
        else:
            image = arena.zeroed(flight.tree.size)
            self.library.copy_now(flight.index, ctypes.addressof(image))
        flight.last = image
        if flight.operation is not OffloadOperation.INITIATE:
            # What the target wrote into its case's initiate trees before this completion
            # (a terminate's NBL statuses, their Next links) reaches the suite first: the
            # watch would see it only after the completion, as a write after it.
            with self.lock:
                initiates = [
                    f
                    for f in self.flights.values()
                    if f.target is flight.target and f.operation is OffloadOperation.INITIATE
                ]
            self._watch(initiates)
        flight.target.send_image(
            flight, image, written=False, completed_with=completed_with, method=method
        )

    def _watch(self, flights: list[Flight] | None = None) -> None:
        """Compare each completed tree (of ``flights``: every one) with what was last
        reported; report changes."""
        if flights is None:
            with self.lock:
                flights = list(self.flights.values())
        for flight in flights:
            if not flight.completions:
                continue
            watched = None if flight.late_mask is None else ctypes.addressof(flight.late_mask)
            _, total = self.library.diff(
                flight.tree.base, ctypes.addressof(flight.last), watched, flight.tree.size, 1
            )
            if not total:
                continue
            now = arena.zeroed(flight.tree.size)
            self.library.copy_now(flight.index, ctypes.addressof(now))
            flight.last = now
            flight.target.send_image(flight, now, written=True)

    def _send_completed(self, address: int) -> None:
        nbls: list[NblStatus] = []
        owner: Flight | None = None
        seen: set[int] = set()
        while address and address not in seen:
            seen.add(address)
            with self.lock:
                found = self.nbl_at.get(address)
            if found is None:
                # Not an NBL of the host's: no rule judges it (as with an in-process
                # target); the chain is not followed further.
                log(f"NdisTcpOffloadSendComplete with NBL {address:#x}, not one handed over")
                break
            flight, offset, wire = found
            owner = owner or flight
            raw = ctypes.string_at(flight.tree.base + offset, NBL_SIZE)
            (after,) = struct.unpack_from("<Q", raw, 0)
            (status,) = struct.unpack_from("<I", raw, NBL_STATUS)
            nbls.append(NblStatus(wire, status))
            address = after
        if owner is not None and nbls:
            owner.target.server.send(
                SendCompleteNotification(
                    "2.0", "tcp_offload_send_complete", SendCompleteParams(nbls)
                )
            )


#: The server of this child (events go to it, for the case it serves).
SERVER: list[_Server] = []
#: The NDIS call of each completion method, for the harness's log.
_CALLS = {
    "initiate_offload_complete": "NdisMInitiateOffloadComplete",
    "terminate_offload_complete": "NdisMTerminateOffloadComplete",
    "update_offload_complete": "NdisMUpdateOffloadComplete",
    "invalidate_offload_complete": "NdisMInvalidateOffloadComplete",
    "query_offload_state_complete": "NdisMQueryOffloadStateComplete",
}
