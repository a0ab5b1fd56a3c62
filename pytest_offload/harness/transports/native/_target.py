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
"""

from __future__ import annotations

import bisect
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
    InitiateCompleteNotification,
    InitiateCompleteParams,
    InitiateParams,
    InitiateWrittenNotification,
    MemoryWrite,
    NblStatus,
    SendCompleteNotification,
    SendCompleteParams,
)
from pytest_offload.harness.transports._serve import CALL_ORDER_WAIT, _Server
from pytest_offload.harness.transports.native._columns import PackedTree, pack, read_image
from pytest_offload.harness.transports.native._layout import COMBINED_STATES, LAYOUT, state_stride
from pytest_offload.harness.transports.native._library import (
    INITIATE_COMPLETE,
    OVERFLOW,
    SECOND_REGISTRATION,
    SEND_COMPLETE,
    Adapter,
    Event,
    Library,
)

if TYPE_CHECKING:
    from pytest_offload.model import Host, OffloadCapabilities

__all__ = ["NativeServer", "NativeTarget", "start"]

_BLOCK = LAYOUT["NDIS_MINIPORT_OFFLOAD_BLOCK_LIST"]
_NBL_STATUS = 16
_NBL_SIZE = 32
_GUARD = 16
#: Memory of released trees is kept alive this long (and up to this many bytes), so that
#: a target writing late writes into memory of the harness's, not into freed heap.
_KEEP_SECONDS = 120.0
_KEEP_BYTES = 1 << 30
_WATCH_MS = 10
_MAX_WRITES = 32
_BLOCK_FIELDS = sorted((offset, name) for name, offset in _BLOCK[1].items())
#: Bitfields have no offsetof: the storage unit each lies in (MS layout, domain.md 2).
_BITFIELDS = {
    "NEIGHBOR_OFFLOAD_STATE_CONST": {"VlanId": 0x28},
    "TCP_OFFLOAD_STATE_CONST": {"SndWindScale/RcvWindScale": 0x0E},
    "TCP_OFFLOAD_STATE_CACHED": {"FlowLabel": 0x24, "UserPriority": 0x2A},
}


def _fields_of(structure: str) -> list[tuple[int, str]]:
    """(offset, name) of a structure's fields, bitfields included, union members that
    share an offset named together (``BufferedData/ReceiveBacklogSize``)."""
    named: dict[int, str] = {}
    for name, offset in (*LAYOUT[structure][1].items(), *_BITFIELDS.get(structure, {}).items()):
        named[offset] = f"{named[offset]}/{name}" if offset in named else name
    return sorted(named.items())


_SLOT_TEXT = "its context slot (the PVOID MiniportOffloadContext points at)"
_NBL_TEXT = "a NET_BUFFER_LIST of its send data"
_INITIATE = msgspec.json.Decoder(InitiateParams, dec_hook=nbl_ref_hook)


def _log(text: str) -> None:
    print(f"offload native harness: {text}", file=sys.stderr, flush=True)


@dataclass(eq=False, slots=True)
class _Flight:
    """One tree handed to the library."""

    target: NativeTarget
    initiate: int
    tree: PackedTree
    copy: ctypes.Array[ctypes.c_char]
    last: ctypes.Array[ctypes.c_char]
    late_mask: ctypes.Array[ctypes.c_char] | None
    index: int
    serial: int
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

    def hand_over(self, target: NativeTarget, initiate: int, tree: PackedTree) -> _Flight:
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
        flight = _Flight(target, initiate, tree, copy, tree.handed, late_mask, index, serial)
        with self.lock:
            self.flights[index] = flight
            for offset, wire, _ in tree.nbls:
                self.nbl_at[tree.base + offset] = (flight, offset, wire)
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
        if kind == INITIATE_COMPLETE:
            with self.lock:
                flight = self.flights.get(event.tree) if event.tree >= 0 else None
                if flight is not None and flight.serial != event.info:
                    flight = None  # a tree released since: its index names another now
                waiting = [f for f in self.flights.values() if not f.completions]
            pointer = event.pointer
            if flight is None and self._released_at(pointer):
                # A tree whose case is over (a completion long after its time): nobody
                # judges it any more, as the suite ignores messages of released cases.
                _log(f"NdisMInitiateOffloadComplete with {pointer:#x}, a tree released")
                return
            if flight is None:
                # A pointer into no tree handed over: charged, as by the in-process host,
                # to the oldest initiate still waiting (INI-COMPLETE-ROOT then says so).
                if not waiting:
                    _log(f"NdisMInitiateOffloadComplete with {pointer:#x}, no tree in flight")
                    return
                flight = waiting[0]
                image = ctypes.create_string_buffer(flight.tree.size)
                self.library.copy_now(flight.index, ctypes.addressof(image))
                ctypes.memmove(flight.copy, image, flight.tree.size)
                self._completed(flight, f"{pointer:#x} (no tree handed over lies there)")
                return
            if pointer == flight.tree.root:
                self._completed(flight)
                return
            position = flight.tree.block_of(pointer)
            where = (
                f"block {position} of the tree in hand-over order"
                if position is not None
                else "inside the tree's memory, not a block"
            )
            self._completed(flight, f"{pointer:#x} ({where}, not its root)")
        elif kind == SEND_COMPLETE:
            self._send_completed(event.pointer)
        elif kind == OVERFLOW:
            _log(f"{event.info} calls into the harness were dropped (its queue was full)")
        elif kind == SECOND_REGISTRATION:
            _log("NdisSetOptionalHandlers was called again: the new handlers are used")

    def _released_at(self, pointer: int) -> bool:
        with self.lock:
            return any(
                f.tree.base <= pointer < f.tree.base + f.tree.size for _, f in self.released
            )

    def _completed(self, flight: _Flight, completed_with: str | None = None) -> None:
        flight.completions += 1
        if flight.completions == 1:
            image = flight.copy  # taken inside NdisMInitiateOffloadComplete
        else:
            image = ctypes.create_string_buffer(flight.tree.size)
            self.library.copy_now(flight.index, ctypes.addressof(image))
        flight.last = image
        flight.target.send_image(flight, image, written=False, completed_with=completed_with)

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

    # -- naming writes ------------------------------------------------------------------

    def describe(self, flight: _Flight, start: int, end: int) -> MemoryWrite:
        if flight.regions is None:
            flight.regions = _regions(flight.tree)
            flight.starts = [r[0] for r in flight.regions]
        regions, starts = flight.regions, flight.starts or []
        k = bisect.bisect_right(starts, start) - 1
        begin, _, position, what = regions[max(k, 0)]
        length = end - start
        if what == "block":
            offset = start - begin
            return MemoryWrite(position, offset, length, _field(flight.tree, position, offset))
        if what == "guard":
            offset = start - flight.tree.offsets[position]
            text = f"the {_GUARD} guard bytes after the block and its state (a write past its end)"
            return MemoryWrite(position, offset, length, text)
        return MemoryWrite(position, start - begin, length, what)


def _regions(tree: PackedTree) -> list[tuple[int, int, int, str]]:
    regions: list[tuple[int, int, int, str]] = []
    for i, (start, guard) in enumerate(zip(tree.offsets, tree.guards, strict=True)):
        regions.append((start, guard, i, "block"))
        regions.append((guard, guard + _GUARD, i, "guard"))
    for i, (slot, has) in enumerate(zip(tree.slots, tree.slot, strict=True)):
        if has:
            regions.append((slot, slot + 8, i, _SLOT_TEXT))
    for offset, _, i in tree.nbls:
        regions.append((offset, offset + _NBL_SIZE, i, _NBL_TEXT))
    regions.extend(tree.regions())
    regions.sort()
    return regions


def _field(tree: PackedTree, position: int, offset: int) -> str:
    """The field of a block (or of the state structures after it) at ``offset``."""
    size = _BLOCK[0]
    if offset < size:
        k = bisect.bisect_right([o for o, _ in _BLOCK_FIELDS], offset) - 1
        at, name = _BLOCK_FIELDS[k]
        suffix = f"+{offset - at:#x}" if offset > at else ""
        return f"NDIS_MINIPORT_OFFLOAD_BLOCK_LIST.{name}{suffix}"
    kind = tree.kind(position)
    rest = offset - size
    for name in COMBINED_STATES.get(kind or "", ()):
        stride = state_stride(name)
        if rest < stride:
            fields = _fields_of(name)
            k = bisect.bisect_right([o for o, _ in fields], rest) - 1
            at, field = fields[max(k, 0)]
            suffix = f"+{rest - at:#x}" if rest > at else ""
            return f"{name}.{field}{suffix} (host-owned state)"
        rest -= stride
    return "the state after the block"


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

    def initiate_offload(self, root: object) -> None:  # the Python-target entry point
        raise TypeError("a native target takes trees as the protocol's columns")

    def initiate_columns(self, flight: _Flight) -> None:
        """Call the library's handler with the packed tree (on the caller's thread)."""
        self.runtime.library.initiate(self.adapter, flight.tree.root)

    def send_image(
        self,
        flight: _Flight,
        memory: ctypes.Array[ctypes.c_char],
        *,
        written: bool,
        completed_with: str | None = None,
    ) -> None:
        image, runs, total = read_image(flight.tree, memory, self.runtime.library)
        if runs:
            writes = [self.runtime.describe(flight, start, end) for start, end in runs]
            if total > len(runs):
                last = writes[-1]
                more = f"{last.field} (and {total - len(runs)} more)"
                writes[-1] = MemoryWrite(last.block, last.offset, last.length, more)
            image.memory_writes = writes
        params = InitiateCompleteParams(flight.initiate, image)
        if completed_with is not None:
            params.completed_with = completed_with
        if written:
            self.server.send(
                InitiateWrittenNotification("2.0", "initiate_offload_written", params)
            )
        else:
            self.server.send(
                InitiateCompleteNotification("2.0", "initiate_offload_complete", params)
            )

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
        if operation != "initiate":
            # The native harness declares initiate alone (readings.md, reading 18).
            self.error(request_id, -32601, f"the native harness has no {operation}_offload")
            return
        if not isinstance(target, NativeTarget):
            self.error(request_id, -32002, "initiate_offload before the handshake")
            return
        runtime = target.runtime
        try:
            raw = msgspec.json.decode(line, type=dict[str, msgspec.Raw])["params"]
            params = _INITIATE.decode(raw)
            tree = pack(params.tree, runtime.library)
        except (msgspec.MsgspecError, KeyError, WireError) as exc:
            self.error(request_id, -32602, f"invalid initiate_offload: {exc}")
            return
        flight = runtime.hand_over(target, params.initiate, tree)
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


def start(library: Library) -> Any:
    """The target factory of this child: adapters of ``library``."""
    runtime = _Runtime(library)
    _RUNTIME.append(runtime)

    def factory(host: Host) -> NativeTarget:
        return NativeTarget(runtime, host)

    return factory
