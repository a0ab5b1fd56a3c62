"""A tree from the wire's columns into C memory, and its image back into columns.

The child of a native target never builds Python blocks: the tree arrives as the
protocol's columns (docs/protocol.md) and the harness library packs it (``pyo_layout``,
``pyo_pack``: every block, its state structures copied from a blob holding each distinct
state once, guards, context cells, the mask of bytes the target may write); at the
completion it reads statuses and context cells out (``pyo_read``) and writes them as the
image's JSON columns (``pyo_json_u32``, ``pyo_json_contexts``), which go on the wire as
they are. Python touches each block only through C-level conversions of whole columns;
its loops run over distinct states, send data and what a target wrote where it should
not.
"""

from __future__ import annotations

import bisect
import ctypes
import operator
import struct
from array import array
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import is_not
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness.transports._messages import (
    Image,
    NblStatus,
    NeighborState,
    PathState,
    TcpState,
)
from pytest_offload.harness.transports.codec import WireError
from pytest_offload.harness.transports.native import _arena as arena
from pytest_offload.harness.transports.native._layout import (
    COMBINED_STATES,
    NBL_DATA,
    NBL_FORMAT,
    NBL_SIZE,
    NBL_STATUS,
    state_stride,
)
from pytest_offload.harness.transports.native._states import (
    ENDPOINTS,
    neighbor_cached,
    neighbor_const,
    path_blob,
    path_endpoints,
    structures,
    tcp_cached,
    tcp_const,
    tcp_delegated,
)

if TYPE_CHECKING:
    from pytest_offload.harness.transports._messages import Tree
    from pytest_offload.harness.transports.native._library import Library

__all__ = ["PackedTree", "Prebuilt", "pack", "read_image"]

_KIND = {NeighborState: "neighbor", PathState: "path", TcpState: "tcp"}
_STATE_BYTES = {kind: sum(map(state_stride, names)) for kind, names in COMBINED_STATES.items()}
_NONE_M1: dict[object, int] = {None: -1}
_NULL_HEX: dict[object, str] = {None: "0x0"}
_PENDING = 0x103
_RECEIVED = "a NET_BUFFER_LIST of its buffered receive data"


def _align(n: int) -> int:
    return (n + 7) & ~7


def _address(values: array[Any] | bytes | ctypes.Array[Any]) -> int:
    if isinstance(values, array):
        return values.buffer_info()[0]
    if isinstance(values, bytes):
        return ctypes.cast(ctypes.c_char_p(values), ctypes.c_void_p).value or 0
    return ctypes.addressof(values)


@dataclass(frozen=True, slots=True)
class Prebuilt:
    """Structures after a block already as bytes (a lifecycle request's: an update's
    cached structure, a terminate's or query's poisoned one), named for naming writes."""

    data: bytes
    names: tuple[str, ...]


def _length(state: object) -> int:
    if isinstance(state, Prebuilt):
        return len(state.data)
    return _STATE_BYTES[_KIND[type(state)]]  # type: ignore[index]


@dataclass(eq=False, slots=True)
class PackedTree:
    """One tree in C memory, with what is needed to read it back and name writes."""

    memory: ctypes.Array[ctypes.c_char]
    base: int
    size: int
    count: int
    offsets: array[int]
    guards: array[int]
    slots: array[int]
    slot: bytes
    #: 1 where the block is a new offload (its context cell is the target's to write).
    new: bytes
    handed: ctypes.Array[ctypes.c_char]
    mask: ctypes.Array[ctypes.c_char]
    #: The tree as it came (to name what lies where, when a target wrote there).
    wire: Tree
    #: Where the endpoint addresses of each path state (by index in ``states``) lie.
    endpoints: dict[int, int]
    #: Each NBL: (offset, wire id, position of the block whose chain holds it).
    nbls: list[tuple[int, int, int]]
    #: Other bytes of the tree: (start, end, block position, what), for naming writes.
    extras: list[tuple[int, int, int, str]]
    keep: list[object] = field(default_factory=list)
    #: Each buffered-data NBL a TCP state names: (offset, wire id).
    received: list[tuple[int, int]] = field(default_factory=list)
    #: A terminate's or query's blocks followed by a structure for the target to fill,
    #: with the names of its structures (lifecycle requests only; see ._requests).
    structures: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: Each block's index into the tree's states (-1: none follows it).
    state_index: array[int] = field(default_factory=lambda: array("i"))

    def names_after(self, position: int) -> tuple[str, ...]:
        """The structures after block ``position`` (none: no state follows it)."""
        k = self.state_index[position]
        if k < 0:
            return ()
        state = self.wire.states[k]
        if isinstance(state, Prebuilt):
            return state.names
        return COMBINED_STATES[_KIND[type(state)]]

    def regions(self) -> list[tuple[int, int, int, str]]:
        """Path addresses and send data, as (start, end, block position, what)."""
        owner = {k: i for i, k in enumerate(self.state_index) if k in self.endpoints}
        found = list(self.extras)
        text = "the path's SourceAddress/DestinationAddress bytes"
        for k, at in self.endpoints.items():
            found.append((at, at + ENDPOINTS, owner.get(k, 0), text))
        return found

    @property
    def root(self) -> int:
        return self.base + self.offsets[0]

    def block_of(self, address: int) -> int | None:
        """The position of the block at ``address``, if one starts there."""
        offset = address - self.base
        if not 0 <= offset < self.size:
            return None
        found = bisect.bisect_right(self.offsets, offset) - 1
        return found if found >= 0 and self.offsets[found] == offset else None


def _column(tree: Tree, name: str) -> Any:
    value = getattr(tree, name)
    return None if value is msgspec.UNSET else value


def _check(tree: Tree) -> None:
    n = tree.count
    for name in tree.__struct_fields__:
        column = _column(tree, name)
        if isinstance(column, msgspec.Raw):
            continue  # counted as it is parsed (_positions, _pointers)
        if name not in ("count", "states") and column is not None and len(column) != n:
            raise WireError(f"the tree's {name} has {len(column)} entries, count is {n}")


def _positions(
    library: Library, column: list[int | None] | msgspec.Raw, n: int, limit: int, what: str
) -> array[int]:
    """A column of positions (or null: -1) below ``limit``, as C ints."""
    if isinstance(column, msgspec.Raw):
        out = array("i", bytes(4 * n))
        text = bytes(column)
        bad = library.harness.pyo_json_positions(text, len(text), n, limit, _address(out))
        if bad >= 0:
            raise WireError(_bad_entry(text, bad, n, f"a {what} below {limit} or null"))
        return out
    values: array[int] = array("i", list(map(_NONE_M1.get, column, column)))  # type: ignore[arg-type]
    if values and (max(values) >= limit or min(values) < -1):
        raise WireError(f"a {what} is out of range: the tree has {limit} entries")
    return values


def _pointers(
    library: Library, column: list[str | None] | msgspec.Raw | None, n: int
) -> tuple[array[int], bytes] | None:
    """A column of pointers as C words (null: 0), and which entries were not null."""
    if column is None:
        return None
    out = array("Q", bytes(8 * n))
    present = array("B", bytes(n))
    if isinstance(column, msgspec.Raw):
        text = bytes(column)
        bad = library.harness.pyo_json_pointers(
            text, len(text), n, _address(out), _address(present)
        )
        if bad >= 0:
            raise WireError(_bad_entry(text, bad, n, 'a pointer ("0x" and 1 to 16 hex digits)'))
        return out, bytes(present)
    joined = "\n".join(map(_NULL_HEX.get, column, column)).encode("ascii") + b"\0"  # type: ignore[arg-type]
    library.harness.pyo_parse_hex(joined, n, _address(out))
    return out, bytes(map(is_not, column, repeat(None)))


def _bad_entry(text: bytes, index: int, n: int, wanted: str) -> str:
    if index >= n:
        return f"not a JSON array of {n} entries (one per block): {text[:60]!r}"
    try:
        entry = msgspec.json.decode(text)[index]
    except (msgspec.DecodeError, IndexError, TypeError):
        entry = "?"
    return f"entry {index} is {entry!r}, not {wanted}"


def _nbl_id(value: object) -> int:
    """The wire id of an NBL a state names (decoded as a reference) or a chain holds."""
    return int(getattr(value, "wire_id", getattr(value, "id", 0)))


def _u32(value: object) -> int:
    try:
        return int(value) & 0xFFFFFFFF  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return 0


def _state_bytes(state: object, nbl_at: dict[int, int]) -> bytes:
    """A neighbor's or TCP state's combined structures (paths: ``_states.path_blob``)."""

    def lookup(value: object) -> int:
        return nbl_at.get(_nbl_id(value), 0)

    s: Any = state
    if isinstance(state, Prebuilt):
        return state.data
    if isinstance(state, NeighborState):
        bodies = (
            neighbor_const(s),
            neighbor_cached(s),
            struct.pack("<I", s.delegated.nic_reachability_delta),
        )
    else:
        bodies = (tcp_const(s), tcp_cached(s), tcp_delegated(s, lookup))
    return structures(COMBINED_STATES[_KIND[type(state)]], bodies)  # type: ignore[index]


def pack(tree: Tree, library: Library) -> PackedTree:  # noqa: PLR0915 (one layout, in order)
    """Pack the wire's ``tree`` into C memory.

    Raises:
        WireError: columns of another length than ``count``, links or state indices out
            of range (nothing is handed to the target then).
    """
    _check(tree)
    h = library.harness
    n = tree.count
    states = tree.states
    state_index = _positions(library, tree.state, n, len(states), "state index")
    next_block = _positions(library, tree.next_block, n, n, "next_block position")
    dependent = _positions(
        library, tree.dependent_block_list, n, n, "dependent_block_list position"
    )
    state_len = array("I", map(_length, states))
    slot = bytes(tree.context_slot)
    offsets, guards, slots = (array("Q", bytes(8 * n)) for _ in range(3))
    end = int(
        h.pyo_layout(
            n, _address(state_index), _address(state_len), slot,
            _address(offsets), _address(guards), _address(slots),
        )
    )  # fmt: skip
    # Send data, its bytes, then the endpoint addresses of each distinct path state.
    chains = _column(tree, "net_buffer_list_chain")
    nbls: list[tuple[int, int, int]] = []
    extras: list[tuple[int, int, int, str]] = []
    nbl_at: dict[int, int] = {}
    data_at: list[tuple[int, bytes]] = []
    at = end
    holders: list[tuple[int, list[Any]]] = []
    if chains is not None:
        for i, chain in enumerate(chains):
            if chain:
                holders.append((i, chain))
                for nbl in chain:
                    nbl_at[nbl.id] = at
                    nbls.append((at, nbl.id, i))
                    at += NBL_SIZE
        for i, chain in holders:
            for nbl in chain:
                data_at.append((at, nbl.data))
                extras.append((at, at + len(nbl.data), i, "the data of an NBL of its send data"))
                at = _align(at + len(nbl.data))
    # NBLs a TCP state names that are not send data of a chain: its buffered receive
    # data (BufferedData, chained by Next) and any send_data_head/tail of its own.
    received: list[tuple[int, Any, Any]] = []  # (owner position, NBL, the one after it)
    wanted = [
        (k, state.delegated)
        for k, state in enumerate(states)
        if isinstance(state, TcpState)
        and (
            state.delegated.buffered_data
            or any(
                _nbl_id(r) not in nbl_at
                for r in (state.delegated.send_data_head, state.delegated.send_data_tail)
                if r is not None
            )
        )
    ]
    if wanted:
        first_block: dict[int, int] = {}
        for i, k in enumerate(state_index):
            if k >= 0 and k not in first_block:
                first_block[k] = i
        for k, delegated in wanted:
            owner = first_block.get(k, 0)
            refs = list(delegated.buffered_data)
            for r in (delegated.send_data_head, delegated.send_data_tail):
                if r is not None and _nbl_id(r) not in nbl_at and r not in refs:
                    refs.append(r)
            for j, ref in enumerate(refs):
                if _nbl_id(ref) in nbl_at:
                    continue
                nbl_at[_nbl_id(ref)] = at
                following = refs[j + 1] if j + 1 < len(delegated.buffered_data) else None
                received.append((owner, ref, following))
                extras.append(
                    (at, at + NBL_SIZE, owner, "a NET_BUFFER_LIST of its buffered receive data")
                )
                at += NBL_SIZE
        for owner, ref, _ in list(received):
            data_at.append((at, ref.data))
            extras.append((at, at + len(ref.data), owner, f"the data of {_RECEIVED[2:]}"))
            at = _align(at + len(ref.data))
    # Path states: their addresses after everything else, their structures first in the
    # blob, both in whole-column passes (a tree of many paths has as many path states).
    kinds = list(map(type, states))
    paths = list(compress(range(len(states)), map(operator.is_, kinds, repeat(PathState))))
    path_states = list(map(states.__getitem__, paths))
    endpoints = dict(zip(paths, range(at, at + ENDPOINTS * len(paths), ENDPOINTS), strict=True))
    at += ENDPOINTS * len(paths)
    size = max(at, 8)
    memory = arena.zeroed(size)
    base = ctypes.addressof(memory)
    absolute = {wire: base + offset for wire, offset in nbl_at.items()}
    first = endpoints[paths[0]] if paths else 0
    parts = [path_blob(path_states, base + first)]
    state_at = array("Q", bytes(8 * len(states)))
    path_size = len(parts[0]) // len(paths) if paths else 0
    for k, offset in zip(paths, range(0, len(parts[0]), path_size or 1), strict=True):
        state_at[k] = offset
    blob_at = len(parts[0])
    for k in compress(range(len(states)), map(operator.is_not, kinds, repeat(PathState))):
        body = _state_bytes(states[k], absolute)
        state_at[k] = blob_at
        blob_at += len(body)
        parts.append(body)
    blob = b"".join(parts) or b"\0"
    try:
        types = bytes(tree.state_type)
    except ValueError:  # a robustness case's unknown type: the UCHAR it would be
        types = bytes(v & 0xFF for v in tree.state_type)
    status_column = _column(tree, "status")
    status = (
        array("I", [_PENDING]) * n
        if status_column is None
        else array("I", (v & 0xFFFFFFFF for v in status_column))
    )
    slot_value, given = _pointers(library, tree.context, n) or (array("Q"), b"")
    if given.count(0) == n:
        new = slot
    else:
        new = bytes(s and v == 0 for s, v in zip(slot, slot_value, strict=True))
    handles, _ = _pointers(library, tree.ndis_offload_handle, n) or (None, b"")
    source, _ = _pointers(library, _column(tree, "source_handle"), n) or (None, b"")
    ports = _column(tree, "port_number")
    port = array("I", bytes(4 * n)) if ports is None else array("I", ports)
    reserved = _reserved(tree, n)
    chain_head = array("Q", bytes(8 * n))
    for i, chain in holders:
        chain_head[i] = base + nbl_at[chain[0].id]
    mask = arena.zeroed(size)
    ctypes.memset(mask, 1, size)
    h.pyo_pack(
        base, _address(mask), n, _address(offsets), _address(guards), _address(slots),
        types, _address(next_block), _address(dependent), _address(status), slot,
        _address(slot_value), _address(handles) if handles is not None else None,
        _address(port), _address(source) if source is not None else None,
        _address(reserved) if reserved is not None else None, _address(chain_head),
        _address(state_index), blob, _address(state_at), _address(state_len),
    )  # fmt: skip
    for _, chain in holders:
        for k, nbl in enumerate(chain):
            after = base + nbl_at[chain[k + 1].id] if k + 1 < len(chain) else 0
            offset = nbl_at[nbl.id]
            status_bits = nbl.status & 0xFFFFFFFF
            struct.pack_into(NBL_FORMAT, memory, offset, after, 0, status_bits, len(nbl.data), 0)
            ctypes.memset(ctypes.addressof(mask) + offset + NBL_STATUS, 0, 4)
    for _, ref, following in received:
        after = base + nbl_at[_nbl_id(following)] if following is not None else 0
        status_bits = _u32(getattr(ref, "status", 0))
        struct.pack_into(
            NBL_FORMAT, memory, nbl_at[_nbl_id(ref)], after, 0, status_bits, len(ref.data), 0
        )
    # the data pointers, in the order the data was laid out
    data_iter = iter(data_at)
    for _, chain in holders:
        for nbl in chain:
            where, payload = next(data_iter)
            struct.pack_into("<Q", memory, nbl_at[nbl.id] + NBL_DATA, base + where)
            ctypes.memmove(base + where, payload, len(payload))
    for _, ref, _ in received:
        where, payload = next(data_iter)
        struct.pack_into("<Q", memory, nbl_at[_nbl_id(ref)] + NBL_DATA, base + where)
        ctypes.memmove(base + where, payload, len(payload))
    if paths:
        addresses = path_endpoints(path_states)
        ctypes.memmove(base + first, addresses, len(addresses))
    handed = arena.copy_of(memory, size)
    return PackedTree(
        memory, base, size, n, offsets, guards, slots, slot, new, handed, mask, tree,
        endpoints, nbls, extras, [blob, handles, source],
        [(nbl_at[_nbl_id(ref)], _nbl_id(ref)) for _, ref, _ in received],
        state_index=state_index,
    )  # fmt: skip


def _reserved(tree: Tree, n: int) -> array[int] | None:
    names = ("protocol_reserved", "miniport_reserved", "im_reserved", "scratch")
    columns = [_column(tree, name) for name in names]
    if all(c is None for c in columns):
        return None
    out = array("Q", bytes(64 * n))
    for k, column in enumerate(columns):
        if column is None:
            continue
        for i, words in enumerate(column):
            for w, word in enumerate(words):
                if word is not None:
                    out[8 * i + 2 * k + w] = int(word, 16) % 2**64
    return out


def read_image(
    packed: PackedTree,
    image: ctypes.Array[ctypes.c_char],
    library: Library,
    mask: ctypes.Array[ctypes.c_char] | None = None,
) -> tuple[Image, list[tuple[int, int]], int]:
    """The protocol image of ``image`` (a copy of the tree's memory), and the runs of
    bytes written outside what is the target's (with how many there are in all; ``mask``:
    the bytes that are, when not the tree's own mask)."""
    h = library.harness
    n = packed.count
    status = array("I", bytes(4 * n))
    values = array("Q", bytes(8 * n))
    words = h.pyo_read(
        _address(image), _address(packed.handed), n, _address(packed.offsets),
        _address(packed.slots), packed.slot, _address(status), _address(values),
    )  # fmt: skip
    text = arena.zeroed(12 * n + 3)
    length = h.pyo_json_u32(_address(status), n, _address(text))
    result = Image(msgspec.Raw(text.raw[:length]))  # type: ignore[arg-type]
    text = arena.zeroed(22 * n + 3)
    found = ctypes.c_size_t(0)
    length = h.pyo_json_contexts(
        _address(values), packed.new, n, _address(text), ctypes.byref(found)
    )
    if found.value:
        result.context = msgspec.Raw(text.raw[:length])  # type: ignore[assignment]
    if words:
        memory = image.raw
        for name, offset in (("miniport_reserved", 0x50), ("scratch", 0x70)):
            column = []
            for start in packed.offsets:
                first, second = struct.unpack_from("<QQ", memory, start + offset)
                column.append(
                    [f"0x{first:x}" if first else None, f"0x{second:x}" if second else None]
                )
            setattr(result, name, column)
    if packed.nbls:
        memory = image.raw
        handed = packed.handed.raw
        changed = []
        for offset, wire, _ in packed.nbls:
            where = slice(offset + NBL_STATUS, offset + NBL_STATUS + 4)
            if memory[where] != handed[where]:
                changed.append(NblStatus(wire, struct.unpack("<I", memory[where])[0]))
        if changed:
            result.nbl_statuses = changed
    runs, total = library.diff(
        _address(packed.handed),
        _address(image),
        _address(packed.mask if mask is None else mask),
        packed.size,
    )
    return result, runs, total
