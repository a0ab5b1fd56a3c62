"""A native library as a target, inside its child process, served over the protocol.

The child is ``pytest-offload serve`` with this target: each ``reset`` halts the adapter
and initializes a fresh one (the library stays loaded); each initiate packs the tree
into C memory (:func:`marshal`), calls the vendor's ``InitiateOffloadHandler`` on the
serving thread, and the harness library queues what the target calls back. One
dispatcher thread reads that queue: at a completion it reads the copy of the tree taken
inside ``NdisMInitiateOffloadComplete`` back onto the blocks (statuses, contexts,
MiniportReserved, Scratch, NBL statuses) and names every other byte the target wrote
(host-owned fields, state structures, the guard after each block) as a memory write; the
serving side sends it all as the completion's image. Afterwards it keeps comparing the
tree with what was completed and reports later writes (``initiate_offload_written``).
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import struct
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_offload.harness.transports._codec import status_from_wire
from pytest_offload.harness.transports._messages import MemoryWrite
from pytest_offload.harness.transports.native._layout import LAYOUT, state_stride
from pytest_offload.harness.transports.native._library import (
    INITIATE_COMPLETE,
    OVERFLOW,
    SECOND_REGISTRATION,
    SEND_COMPLETE,
    Adapter,
    Event,
    Library,
)
from pytest_offload.harness.transports.native._marshal import _PARTS, BLOCK, GUARD, marshal
from pytest_offload.model import NetBufferList, iter_depth_first

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.harness.transports.native._marshal import CTree
    from pytest_offload.model import Host, OffloadBlockList, OffloadCapabilities

__all__ = ["NativeTarget", "start"]

_B = BLOCK[1]
_STATUS, _MINIPORT_RESERVED, _SCRATCH = _B["Status"], _B["MiniportReserved"], _B["Scratch"]
_NBL_STATUS = 16
_NBL_SIZE = 32
#: Memory of released trees kept alive, so a target writing late writes into memory of
#: the harness's, never into freed heap.
_KEEP_RELEASED = 64
_WATCH_MS = 10
_MAX_WRITES = 32
_NULL = bytes(8)
_ZERO8, _ONES8 = bytes(8), b"\x01" * 8


def _mask_of(size: int, zeros: list[tuple[int, int]]) -> bytes:
    out = bytearray(b"\x01") * size
    for start, length in zeros:
        out[start : start + length] = bytes(length)
    return bytes(out)


_BLOCK_MASK = _mask_of(BLOCK[0], [(_STATUS, 4), (_MINIPORT_RESERVED, 16), (_SCRATCH, 16)])
_NBL_MASK = _mask_of(_NBL_SIZE, [(_NBL_STATUS, 4)])
_ONES: dict[int, bytes] = {}


def _ones(n: int) -> bytes:
    found = _ONES.get(n)
    if found is None:
        found = _ONES[n] = b"\x01" * n
    return found


_SLOT_TEXT = "its context slot (the PVOID MiniportOffloadContext points at)"
_NBL_TEXT = "a NET_BUFFER_LIST of its send data"
_BLOCK_FIELDS = sorted((offset, name) for name, offset in _B.items())


def _log(text: str) -> None:
    print(f"offload native harness: {text}", file=sys.stderr, flush=True)


@dataclass(eq=False, slots=True)
class _Flight:
    """One tree handed to the library."""

    target: NativeTarget
    blocks: list[OffloadBlockList]
    tree: CTree
    size: int
    handed: ctypes.Array[ctypes.c_char]
    copy: ctypes.Array[ctypes.c_char]
    last: ctypes.Array[ctypes.c_char]
    mask: ctypes.Array[ctypes.c_char]
    late_mask: ctypes.Array[ctypes.c_char] | None
    index: int
    nbls: list[tuple[int, NetBufferList]]
    completions: int = 0
    regions: list[tuple[int, int, int, str]] | None = None
    starts: list[int] | None = None


class _Runtime:
    """The loaded library and its dispatcher: one per child process."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.lock = threading.Lock()
        self.flights: dict[int, _Flight] = {}
        self.nbl_at: dict[int, tuple[_Flight, int, NetBufferList]] = {}
        self.released: list[_Flight] = []
        self.capabilities: OffloadCapabilities | None = None
        self.dispatcher = threading.Thread(
            target=self._dispatch, name="offload-native-dispatcher", daemon=True
        )
        self.dispatcher.start()

    # -- hand-over and release ----------------------------------------------------------

    def hand_over(self, target: NativeTarget, blocks: list[OffloadBlockList]) -> _Flight:
        tree = marshal(blocks)
        size = len(tree.memory)
        handed = ctypes.create_string_buffer(ctypes.string_at(tree.base, size), size)
        copy = ctypes.create_string_buffer(size)
        # 1 where the target may not write: everything but each block's Status,
        # MiniportReserved and Scratch, the cells of new offloads and the NBL statuses.
        parts: list[bytes] = []
        for k, (start, guard) in enumerate(zip(tree.blocks, tree.guards, strict=True)):
            parts.append(_BLOCK_MASK)
            end = tree.blocks[k + 1] if k + 1 < len(tree.blocks) else guard + len(GUARD)
            parts.append(_ones(end - start - len(_BLOCK_MASK)))
        for block, slot in zip(blocks, tree.slots, strict=True):
            if slot is not None:
                context = block.miniport_offload_context
                new = context is not None and context.value is None
                parts.append(_ZERO8 if new else _ONES8)  # a new offload's cell is the target's
        nbls: list[tuple[int, NetBufferList]] = []
        for block in blocks:
            for nbl in block.net_buffer_list_chain or ():
                at = tree.nbls.get(id(nbl))
                if at is not None:
                    nbls.append((at, nbl))
        parts.extend(_NBL_MASK for _ in nbls)
        allowed = bytearray(b"".join(parts))
        allowed += _ones(size - len(allowed))  # data and path addresses: the host's
        zero4 = bytes(4)
        mask = ctypes.create_string_buffer(bytes(allowed), size)
        # After the completion, the target still writes the status of send data it
        # completes (tcp_offload_send_complete reports those): not a write to the tree.
        late_mask = None
        if nbls:
            watched = bytearray(b"\x01") * size
            for at, _nbl in nbls:
                watched[at + _NBL_STATUS : at + _NBL_STATUS + 4] = zero4
            late_mask = ctypes.create_string_buffer(bytes(watched), size)
        index = self.library.register(tree.root, tree.base, size, ctypes.addressof(copy))
        if index < 0:
            raise RuntimeError("too many trees in flight at once for the native harness")
        flight = _Flight(
            target, blocks, tree, size, handed, copy, handed, mask, late_mask, index, nbls
        )
        with self.lock:
            self.flights[index] = flight
            for at, nbl in nbls:
                self.nbl_at[tree.base + at] = (flight, at, nbl)
        return flight

    def release(self, target: NativeTarget) -> None:
        with self.lock:
            mine = [f for f in self.flights.values() if f.target is target]
            for flight in mine:
                del self.flights[flight.index]
                self.library.unregister(flight.index)
                self.released.append(flight)
            while len(self.released) > _KEEP_RELEASED:
                old = self.released.pop(0)
                for at, _nbl in old.nbls:
                    self.nbl_at.pop(old.tree.base + at, None)

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
            if flight is None:
                _log(f"NdisMInitiateOffloadComplete with {event.pointer:#x}, no tree in flight")
                return
            self._completed(flight)
        elif kind == SEND_COMPLETE:
            self._send_completed(event.pointer)
        elif kind == OVERFLOW:
            _log(f"{event.info} calls into the harness were dropped (its queue was full)")
        elif kind == SECOND_REGISTRATION:
            _log("NdisSetOptionalHandlers was called again: the new handlers are used")

    def _completed(self, flight: _Flight) -> None:
        flight.completions += 1
        if flight.completions == 1:
            # The copy the harness took inside NdisMInitiateOffloadComplete.
            image = flight.copy
        else:
            image = ctypes.create_string_buffer(flight.size)
            self.library.copy_now(flight.index, ctypes.addressof(image))
        self._read_back(flight, image, late=flight.completions > 1)
        flight.last = image
        flight.target.host.initiate_offload_complete(flight.blocks[0])

    def _watch(self) -> None:
        """Compare each completed tree with what was last reported; report changes."""
        with self.lock:
            completed = [f for f in self.flights.values() if f.completions]
        for flight in completed:
            watched = None if flight.late_mask is None else ctypes.addressof(flight.late_mask)
            _, total = self.library.diff(
                flight.tree.base, ctypes.addressof(flight.last), watched, flight.size, 1
            )
            if not total:
                continue
            now = ctypes.create_string_buffer(flight.size)
            self.library.copy_now(flight.index, ctypes.addressof(now))
            self._read_back(flight, now, late=True)
            flight.last = now
            written = getattr(flight.target.host, "initiate_offload_written", None)
            if written is not None:
                written(flight.blocks[0])

    def _send_completed(self, address: int) -> None:
        chain: list[NetBufferList] = []
        owner: _Flight | None = None
        seen: set[int] = set()
        while address and address not in seen:
            seen.add(address)
            with self.lock:
                found = self.nbl_at.get(address)
            if found is None:
                _log(f"NdisTcpOffloadSendComplete with NBL {address:#x}, not one handed over")
                chain.append(NetBufferList())  # not the host's: judged as such
                break
            flight, at, nbl = found
            owner = owner or flight
            raw = _view(flight.tree.base + at, _NBL_SIZE)
            (after,) = struct.unpack_from("<Q", raw, 0)
            (status,) = struct.unpack_from("<I", raw, _NBL_STATUS)
            nbl.status = status_from_wire(status)
            chain.append(nbl)
            address = after
        target = owner.target if owner is not None else None
        if target is not None and chain:
            target.host.tcp_offload_send_complete(chain)

    # -- reading back -------------------------------------------------------------------

    def _read_back(
        self, flight: _Flight, image: ctypes.Array[ctypes.c_char], *, late: bool
    ) -> None:
        memory = image.raw
        tree = flight.tree
        handed = flight.handed.raw
        for block, start in zip(flight.blocks, tree.blocks, strict=True):
            (status,) = struct.unpack_from("<I", memory, start + _STATUS)
            block.status = status_from_wire(status)
            for name, offset in (("miniport_reserved", _MINIPORT_RESERVED), ("scratch", _SCRATCH)):
                words = memory[start + offset : start + offset + 16]
                if words != handed[start + offset : start + offset + 16]:
                    first, second = struct.unpack("<QQ", words)
                    setattr(block, name, [first or None, second or None])
        for block, slot in zip(flight.blocks, tree.slots, strict=True):
            context = block.miniport_offload_context
            if slot is None or context is None:
                continue
            if handed[slot : slot + 8] == _NULL:  # a new offload's slot (a linker's: a write)
                (value,) = struct.unpack_from("<Q", memory, slot)
                context.value = value or None
        for at, nbl in flight.nbls:
            where = slice(at + _NBL_STATUS, at + _NBL_STATUS + 4)
            if memory[where] != handed[where]:
                nbl.status = status_from_wire(struct.unpack("<I", memory[where])[0])
        runs, total = self.library.diff(
            ctypes.addressof(flight.handed),
            ctypes.addressof(image),
            ctypes.addressof(flight.mask),
            flight.size,
            _MAX_WRITES,
        )
        if not runs:
            return
        writes = [self._describe(flight, start, end) for start, end in runs]
        if total > len(runs):
            last = writes[-1]
            writes[-1] = MemoryWrite(
                last.block,
                last.offset,
                last.length,
                f"{last.field} (and {total - len(runs)} more)",
            )
        report = getattr(flight.target.host, "report_memory_writes", None)
        if report is not None:
            report(flight.blocks[0], writes, late)

    def _describe(self, flight: _Flight, start: int, end: int) -> MemoryWrite:
        regions = flight.regions
        if regions is None:
            regions = flight.regions = _regions(flight)
            flight.starts = [r[0] for r in regions]
        starts = flight.starts or [r[0] for r in regions]
        k = bisect.bisect_right(starts, start) - 1
        begin, _, position, what = regions[max(k, 0)]
        length = end - start
        if what == "block":
            offset = start - begin
            return MemoryWrite(position, offset, length, _field(flight.blocks[position], offset))
        if what == "guard":
            offset = start - flight.tree.blocks[position]
            return MemoryWrite(
                position,
                offset,
                length,
                f"the {len(GUARD)} guard bytes after the block and its state (a write past "
                "its end)",
            )
        return MemoryWrite(position, start - begin, length, what)


def _view(address: int, size: int) -> bytes:
    return ctypes.string_at(address, size)


def _regions(flight: _Flight) -> list[tuple[int, int, int, str]]:
    tree = flight.tree
    regions: list[tuple[int, int, int, str]] = []
    for i, (start, guard) in enumerate(zip(tree.blocks, tree.guards, strict=True)):
        regions.append((start, guard, i, "block"))
        regions.append((guard, guard + len(GUARD), i, "guard"))
        regions.append((guard + len(GUARD), guard + len(GUARD) + 8, i, "padding after its guard"))
    for i, slot in enumerate(tree.slots):
        if slot is not None:
            regions.append(
                (
                    slot,
                    slot + 8,
                    i,
                    "its context slot (the PVOID MiniportOffloadContext points at)",
                )
            )
    owner = {}
    for i, block in enumerate(flight.blocks):
        for nbl in block.net_buffer_list_chain or ():
            owner[id(nbl)] = i
    for at, nbl in flight.nbls:
        regions.append(
            (at, at + _NBL_SIZE, owner.get(id(nbl), 0), "a NET_BUFFER_LIST of its send data")
        )
    regions.extend(tree.extras)
    regions.sort()
    return regions


def _field(block: OffloadBlockList, offset: int) -> str:
    """The field of a block (or of the state structures after it) at ``offset``."""
    size = BLOCK[0]
    if offset < size:
        k = bisect.bisect_right([o for o, _ in _BLOCK_FIELDS], offset) - 1
        at, name = _BLOCK_FIELDS[k]
        return f"NDIS_MINIPORT_OFFLOAD_BLOCK_LIST.{name}" + (
            f"+{offset - at:#x}" if offset > at else ""
        )
    parts = _PARTS.get(type(block.state))
    rest = offset - size
    for name in parts or ():
        stride = state_stride(name)
        if rest < stride:
            fields = sorted((o, f) for f, o in LAYOUT[name][1].items())
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
        self.adapter: Adapter
        self.adapter, capabilities = runtime.library.initialize()
        if runtime.capabilities is None:
            runtime.capabilities = capabilities
        elif capabilities != runtime.capabilities:
            _log("OffloadHarnessInitialize declared other capabilities than the first adapter did")
        self.capabilities = runtime.capabilities
        self._closed = False

    def initiate_offload(self, root: OffloadBlockList) -> None:
        blocks_of = getattr(self.host, "blocks_of", None)
        found: Sequence[OffloadBlockList] | None = blocks_of(root) if blocks_of else None
        if found is not None:
            blocks = list(found)
        else:
            blocks = [block for block, *_ in iter_depth_first(root)]
        flight = self.runtime.hand_over(self, blocks)
        self.runtime.library.initiate(self.adapter, flight.tree.root)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.runtime.release(self)
        with contextlib.suppress(Exception):
            self.runtime.library.halt(self.adapter)


_RUNTIME: list[_Runtime] = []


def start(library: Library) -> Any:
    """The target factory of this child: adapters of ``library``."""
    runtime = _Runtime(library)
    _RUNTIME.append(runtime)

    def factory(host: Host) -> NativeTarget:
        return NativeTarget(runtime, host)

    return factory
