"""A native library as a target, inside its child process, served over the protocol.

The child is ``pytest-offload serve``'s server (:class:`NativeServer`) with one adapter
of the library per case: each ``reset`` halts the adapter and initializes a fresh one
(the library stays loaded); each initiate packs the tree's columns into C memory
(:mod:`._columns`), calls the vendor's ``InitiateOffloadHandler`` on a serving thread,
and the harness library queues what the target calls back. One dispatcher thread reads
that queue: at a completion it turns the copy of the tree taken inside
``NdisMInitiateOffloadComplete`` into the image (statuses, contexts, MiniportReserved,
Scratch, NBL statuses as columns) and names every other byte the target wrote
(host-owned fields, state structures, the guard after each block) as a memory write.
Afterwards it keeps comparing the tree with what was completed and reports later writes
(``initiate_offload_written``).

A lifecycle request (protocol 1.3) travels the same way with the handler its operation
names: its tree packed by :mod:`._requests` (an update's cached structures, a
terminate's or query's poisoned ones), its completion of any of the four kinds read back
with the structures the target filled and a terminate's send data; calls of
``NdisTcpOffloadEventHandler`` go to the suite as ``tcp_offload_event``.
"""

from __future__ import annotations

import contextlib
import ctypes
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness.transports._codec import WireError, nbl_ref_hook
from pytest_offload.harness.transports._messages import (
    EventNotification,
    EventParams,
    InitiateCompleteParams,
    InitiateParams,
    InitiateWrittenNotification,
    MemoryWrite,
    NblStatus,
    RequestCompleteParams,
    RequestParams,
    SendCompleteNotification,
    SendCompleteParams,
)
from pytest_offload.harness.transports._serve import _NOTIFY, CALL_ORDER_WAIT, _Server
from pytest_offload.harness.transports.native._columns import PackedTree, pack, read_image
from pytest_offload.harness.transports.native._library import (
    COMPLETION_METHODS,
    EVENT_INDICATE,
    OVERFLOW,
    SECOND_REGISTRATION,
    SEND_COMPLETE,
    TCP_EVENT,
    Adapter,
    Event,
    Library,
)
from pytest_offload.harness.transports.native._requests import NblNames, fill_image, pack_request
from pytest_offload.harness.transports.native._writes import describe
from pytest_offload.model import OffloadOperation

if TYPE_CHECKING:
    from pytest_offload.model import Host, OffloadCapabilities

__all__ = ["NativeServer", "NativeTarget", "start"]

_NBL_STATUS = 16
_NBL_SIZE = 32
#: Memory of released trees is kept alive this long (and up to this many bytes), so that
#: a target writing late writes into memory of the harness's, not into freed heap.
_KEEP_SECONDS = 120.0
_KEEP_BYTES = 1 << 30
_WATCH_MS = 10
_MAX_WRITES = 32
_INITIATE = msgspec.json.Decoder(InitiateParams, dec_hook=nbl_ref_hook)
_REQUEST = msgspec.json.Decoder(RequestParams, dec_hook=nbl_ref_hook)


def _log(text: str) -> None:
    print(f"offload native harness: {text}", file=sys.stderr, flush=True)


@dataclass(eq=False, slots=True)
class _Flight:
    """One tree handed to the library."""

    target: NativeTarget
    #: The id of the initiate or request (one numbering, protocol 1.3).
    initiate: int
    tree: PackedTree
    copy: ctypes.Array[ctypes.c_char]
    last: ctypes.Array[ctypes.c_char]
    late_mask: ctypes.Array[ctypes.c_char] | None
    index: int
    serial: int
    operation: OffloadOperation = OffloadOperation.INITIATE
    completions: int = 0
    regions: list[tuple[int, int, int, str]] | None = None
    starts: list[int] | None = None


class _Runtime:
    """The loaded library and its dispatcher: one per child process."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.lock = threading.Lock()
        self.flights: dict[int, _Flight] = {}
        self.nbl_at: dict[int, tuple[_Flight, int, int]] = {}
        self.released: list[tuple[float, _Flight]] = []
        self.kept = 0
        self.capabilities: OffloadCapabilities | None = None
        self.dispatcher = threading.Thread(
            target=self._dispatch, name="offload-native-dispatcher", daemon=True
        )
        self.dispatcher.start()

    # -- hand-over and release ----------------------------------------------------------

    def hand_over(
        self,
        target: NativeTarget,
        initiate: int,
        tree: PackedTree,
        operation: OffloadOperation = OffloadOperation.INITIATE,
    ) -> _Flight:
        copy = ctypes.create_string_buffer(tree.size)
        # After the completion every byte is watched, NBL statuses included (the suite
        # judges those: INI-SEND-DATA-KEPT-ON-FAILURE), except the Next links of send
        # data: a miniport relinks NBLs it completes (a part of a chain, another order).
        late_mask = None
        if tree.nbls:
            late_mask = ctypes.create_string_buffer(tree.size)
            ctypes.memset(late_mask, 1, tree.size)
            for offset, _, _ in tree.nbls:
                ctypes.memset(ctypes.addressof(late_mask) + offset, 0, 8)
        index, serial = self.library.register(
            tree.root, tree.base, tree.size, ctypes.addressof(copy)
        )
        if index < 0:
            raise RuntimeError("too many trees in flight at once for the native harness")
        flight = _Flight(
            target, initiate, tree, copy, tree.handed, late_mask, index, serial, operation
        )
        with self.lock:
            self.flights[index] = flight
            for offset, wire, _ in tree.nbls:
                self.nbl_at[tree.base + offset] = (flight, offset, wire)
                target.nbl_names.known[tree.base + offset] = wire
            for offset, wire in tree.received:
                target.nbl_names.known[tree.base + offset] = wire
        return flight

    def release(self, target: NativeTarget) -> None:
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
                _log(f"dispatcher: {type(exc).__name__}: {exc}")

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
            _log(
                f"NdisMOffloadEventIndicate with {event.pointer:#x}, code {event.info:#x}: "
                "no rule judges neighbor and path indications"
            )
        elif kind == OVERFLOW:
            _log(f"{event.info} calls into the harness were dropped (its queue was full)")
        elif kind == SECOND_REGISTRATION:
            _log("NdisSetOptionalHandlers was called again: the new handlers are used")

    def _tcp_event(self, event: Event) -> None:
        """NdisTcpOffloadEventHandler: to the suite, for the case being served."""
        server = _SERVER[-1] if _SERVER else None
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
            _log(f"{call} with {pointer:#x}, a tree released")
            return
        if flight is None:
            # A pointer into no tree handed over: charged, as by the in-process host,
            # to the oldest initiate still waiting (INI-COMPLETE-ROOT then says so).
            if not waiting:
                _log(f"{call} with {pointer:#x}, no tree in flight")
                return
            flight = waiting[0]
            image = ctypes.create_string_buffer(flight.tree.size)
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

    def _completed(self, flight: _Flight, method: str, completed_with: str | None = None) -> None:
        flight.completions += 1
        if flight.completions == 1:
            image = flight.copy  # taken inside NdisMInitiateOffloadComplete
        else:
            image = ctypes.create_string_buffer(flight.tree.size)
            self.library.copy_now(flight.index, ctypes.addressof(image))
        flight.last = image
        flight.target.send_image(
            flight, image, written=False, completed_with=completed_with, method=method
        )

    def _watch(self) -> None:
        """Compare each completed tree with what was last reported; report changes."""
        with self.lock:
            completed = [f for f in self.flights.values() if f.completions]
        for flight in completed:
            watched = None if flight.late_mask is None else ctypes.addressof(flight.late_mask)
            _, total = self.library.diff(
                flight.tree.base, ctypes.addressof(flight.last), watched, flight.tree.size, 1
            )
            if not total:
                continue
            now = ctypes.create_string_buffer(flight.tree.size)
            self.library.copy_now(flight.index, ctypes.addressof(now))
            flight.last = now
            flight.target.send_image(flight, now, written=True)

    def _send_completed(self, address: int) -> None:
        nbls: list[NblStatus] = []
        owner: _Flight | None = None
        seen: set[int] = set()
        while address and address not in seen:
            seen.add(address)
            with self.lock:
                found = self.nbl_at.get(address)
            if found is None:
                # Not an NBL of the host's: no rule judges it (as with an in-process
                # target); the chain is not followed further.
                _log(f"NdisTcpOffloadSendComplete with NBL {address:#x}, not one handed over")
                break
            flight, offset, wire = found
            owner = owner or flight
            raw = ctypes.string_at(flight.tree.base + offset, _NBL_SIZE)
            (after,) = struct.unpack_from("<Q", raw, 0)
            (status,) = struct.unpack_from("<I", raw, _NBL_STATUS)
            nbls.append(NblStatus(wire, status))
            address = after
        if owner is not None and nbls:
            owner.target.server.send(
                SendCompleteNotification(
                    "2.0", "tcp_offload_send_complete", SendCompleteParams(nbls)
                )
            )


class NativeTarget:
    """One adapter of the library: a fresh one per case (see the module docs)."""

    def __init__(self, runtime: _Runtime, host: Host) -> None:
        self.runtime = runtime
        self.host = host
        self.server: _Server = host.server  # type: ignore[attr-defined]
        self.adapter: Adapter
        self.adapter, capabilities = runtime.library.initialize()
        if runtime.capabilities is None:
            runtime.capabilities = capabilities
        elif capabilities != runtime.capabilities:
            _log("OffloadHarnessInitialize declared other capabilities than the first adapter did")
        self.capabilities = runtime.capabilities
        self._closed = False
        #: NBLs of the case by address: its send data and buffered data, and the
        #: target's own that it named in a structure or a chain.
        self.nbl_names = NblNames({}, {})

    def initiate_offload(self, root: object) -> None:  # the Python-target entry point
        raise TypeError("a native target takes trees as the protocol's columns")

    def initiate_columns(self, flight: _Flight) -> None:
        """Call the library's handler for the flight's operation with its packed tree
        (on the caller's thread)."""
        self.runtime.library.request(flight.operation, self.adapter, flight.tree.root)

    def send_image(
        self,
        flight: _Flight,
        memory: ctypes.Array[ctypes.c_char],
        *,
        written: bool,
        completed_with: str | None = None,
        method: str = "initiate_offload_complete",
    ) -> None:
        image, runs, total = read_image(flight.tree, memory, self.runtime.library)
        if flight.operation is not OffloadOperation.INITIATE:
            fill_image(image, flight.tree, memory.raw, flight.operation, self.nbl_names)
        if runs:
            writes = [describe(flight, start, end) for start, end in runs]
            if total > len(runs):
                last = writes[-1]
                more = f"{last.field} (and {total - len(runs)} more)"
                writes[-1] = MemoryWrite(last.block, last.offset, last.length, more)
            image.memory_writes = writes
        params: Any
        if written or method == "initiate_offload_complete":
            # A request's later writes too (its id names it: one numbering).
            params = InitiateCompleteParams(flight.initiate, image)
        else:
            params = RequestCompleteParams(flight.initiate, image)
        if completed_with is not None:
            params.completed_with = completed_with
        if written:
            self.server.send(
                InitiateWrittenNotification("2.0", "initiate_offload_written", params)
            )
        else:
            self.server.send(_NOTIFY[method]("2.0", method, params))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.runtime.release(self)
        with contextlib.suppress(Exception):
            self.runtime.library.halt(self.adapter)


class NativeServer(_Server):
    """The serving side for a native library: trees stay columns (no Python blocks)."""

    def initiate(self, request_id: object, line: bytes, operation: str = "initiate") -> None:
        target = self.target
        method = f"{operation}_offload"
        if not isinstance(target, NativeTarget):
            self.error(request_id, -32002, f"{method} before the handshake")
            return
        runtime = target.runtime
        op = OffloadOperation(operation)
        if op not in runtime.library.operations:
            self.error(request_id, -32601, f"the library registered no handler for {method}")
            return
        _SERVER[:] = [self]
        try:
            raw = msgspec.json.decode(line, type=dict[str, msgspec.Raw])["params"]
            if op is OffloadOperation.INITIATE:
                params: Any = _INITIATE.decode(raw)
                number = params.initiate
                tree = pack(params.tree, runtime.library)
            else:
                params = _REQUEST.decode(raw)
                number = params.request
                tree = pack_request(params.tree, runtime.library, op)
        except (msgspec.MsgspecError, KeyError, WireError) as exc:
            self.error(request_id, -32602, f"invalid {method}: {exc}")
            return
        flight = runtime.hand_over(target, number, tree, op)
        caller = threading.Thread(
            target=self._call, args=(target, flight, request_id), name="offload-native-call",
            daemon=True,
        )  # fmt: skip
        caller.start()
        caller.join(CALL_ORDER_WAIT)

    def _call(self, target: NativeTarget, flight: _Flight, request_id: object) -> None:
        target.initiate_columns(flight)
        self.reply(request_id, None)


_RUNTIME: list[_Runtime] = []
#: The server of this child (events go to it, for the case it serves).
_SERVER: list[_Server] = []
#: The NDIS call of each completion method, for the harness's log.
_CALLS = {
    "initiate_offload_complete": "NdisMInitiateOffloadComplete",
    "terminate_offload_complete": "NdisMTerminateOffloadComplete",
    "update_offload_complete": "NdisMUpdateOffloadComplete",
    "invalidate_offload_complete": "NdisMInvalidateOffloadComplete",
    "query_offload_state_complete": "NdisMQueryOffloadStateComplete",
}


def start(library: Library) -> Any:
    """The target factory of this child: adapters of ``library``."""
    runtime = _Runtime(library)
    _RUNTIME.append(runtime)

    def factory(host: Host) -> NativeTarget:
        return NativeTarget(runtime, host)

    return factory
