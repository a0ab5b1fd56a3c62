"""A state tree in real C memory: packed at the Windows x64 layout, read back after.

The native transport (issue 12) hands a vendor's C code a tree that is NDIS's memory
image: each ``NDIS_MINIPORT_OFFLOAD_BLOCK_LIST`` followed by its state structures (CONST,
CACHED, DELEGATED, each at an 8-byte stride whose ``Header.Length`` says so), context
slots as real ``PVOID`` cells, send data as ``NET_BUFFER_LIST`` structures. Fields are
packed with :mod:`struct` at the offsets of :data:`LAYOUT`, bitfields by hand with MS
rules, so no FFI has to guess a bitfield layout (native.md: ctypes and cffi's ABI mode
disagree with Windows on ``TCP_OFFLOAD_STATE_CACHED``). Guard bytes follow every block, so
a write past its end is seen.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from pytest_offload.harness.transports.native._layout import (
    COMBINED_STATES,
    LAYOUT,
    state_stride,
)
from pytest_offload.model import (
    NeighborOffloadState,
    NetBufferList,
    PathOffloadState,
    TcpOffloadState,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.model import OffloadBlockList

__all__ = ["GUARD", "STATE_BYTES", "CTree", "marshal"]

BLOCK = LAYOUT["NDIS_MINIPORT_OFFLOAD_BLOCK_LIST"]
_B = BLOCK[1]
#: Bytes after each block (and its states) that no one may write.
GUARD = b"\xa5" * 16
_NBL_SIZE = 32  # Next, FirstNetBuffer, Status, DataLength, Data (ndis.h's minimal NBL)


def _align(n: int) -> int:
    return (n + 7) & ~7


@dataclass(slots=True)
class CTree:
    """One tree in C memory: where every block, slot and NBL is."""

    memory: ctypes.Array[ctypes.c_char]
    base: int
    blocks: list[int]
    slots: list[int | None]
    guards: list[int]
    nbls: dict[int, int]
    #: Other bytes of the tree: (start, end, block position, what), for naming writes.
    extras: list[tuple[int, int, int, str]]

    def address(self, offset: int) -> int:
        return self.base + offset

    @property
    def root(self) -> int:
        """The address of the root block (what the handler receives)."""
        return self.base + self.blocks[0]

    def status(self, position: int) -> int:
        """The ``Status`` of block ``position``, as a 32-bit unsigned value."""
        (value,) = struct.unpack_from("<I", self.memory, self.blocks[position] + _B["Status"])
        return int(value)

    def context(self, position: int) -> int | None:
        """The value in block ``position``'s context slot (``None``: a placeholder)."""
        slot = self.slots[position]
        if slot is None:
            return None
        (value,) = struct.unpack_from("<Q", self.memory, slot)
        return int(value)

    def guard_intact(self, position: int) -> bool:
        start = self.guards[position]
        return ctypes.string_at(self.base + start, len(GUARD)) == GUARD


#: The structures after a block of each state class, in order (CONST, CACHED, DELEGATED).
_PARTS = {
    NeighborOffloadState: COMBINED_STATES["neighbor"],
    PathOffloadState: COMBINED_STATES["path"],
    TcpOffloadState: COMBINED_STATES["tcp"],
}
#: Bytes the state structures of each class take after a block (8-byte strides).
STATE_BYTES = {kind: sum(map(state_stride, names)) for kind, names in _PARTS.items()}
#: Bytes kept for a path's two endpoint addresses (up to 16 bytes each).
_ENDPOINTS = 32


def _structures(names: tuple[str, str, str], bodies: tuple[bytes, bytes, bytes]) -> bytes:
    """Structures back to back, each at its 8-byte stride, its header's Length the
    stride (native.md, the stride of combined state)."""
    out = bytearray()
    for name, body in zip(names, bodies, strict=True):
        stride = state_stride(name)
        assert 8 + len(body) <= LAYOUT[name][0], name
        structure = bytearray(stride)
        struct.pack_into("<II", structure, 0, stride, 0)  # OFFLOAD_STATE_HEADER
        structure[8 : 8 + len(body)] = body
        out += structure
    return bytes(out)


def _state_bytes(state: object, endpoints: int, nbl_address: dict[int, int]) -> bytes:
    """The CONST, CACHED and DELEGATED structures of ``state`` (a path's addresses point
    at ``endpoints``, NBLs at ``nbl_address``)."""
    if isinstance(state, NeighborOffloadState):
        bodies = (
            _neighbor_const(state),
            _neighbor_cached(state),
            struct.pack("<I", state.delegated.nic_reachability_delta),
        )
    elif isinstance(state, PathOffloadState):
        bodies = (
            struct.pack("<QQ", endpoints, endpoints + 16),
            struct.pack("<I", state.cached.path_mtu),
            b"",
        )
    elif isinstance(state, TcpOffloadState):
        bodies = (_tcp_const(state), _tcp_cached(state), _tcp_delegated(state, nbl_address))
    else:
        return b""
    return _structures(_PARTS[type(state)], bodies)


def _neighbor_const(state: NeighborOffloadState) -> bytes:
    mac = state.const.dl_source_address.ljust(32, b"\0")
    return mac + struct.pack("<I", state.const.vlan_id & 0xFFF)  # ULONG VlanId:12


def _neighbor_cached(state: NeighborOffloadState) -> bytes:
    mac = state.cached.dl_destination_address.ljust(32, b"\0")
    return mac + struct.pack("<I", state.cached.host_reachability_delta)


def _tcp_const(state: TcpOffloadState) -> bytes:
    c = state.const
    scales = (c.snd_wind_scale & 0xF) | (c.rcv_wind_scale & 0xF) << 4  # UCHAR :4, UCHAR :4
    return struct.pack(
        "<HHHBxHxxI", c.flags, c.remote_port, c.local_port, scales, c.remote_mss, c.hash_value
    )


def _tcp_cached(state: TcpOffloadState) -> bytes:
    c = state.cached
    # MS layout: FlowLabel:20 fills its own ULONG; the UCHARs after it start a new unit.
    return struct.pack(
        "<HxxIIBxxxIIIIBBB",
        c.flags,
        c.initial_rcv_wnd,
        c.rcv_indication_size,
        c.ka_probe_count,
        c.ka_timeout,
        c.ka_interval,
        c.max_rt,
        c.flow_label & 0xFFFFF,
        c.ttl_or_hop_limit,
        c.tos_or_traffic_class,
        c.user_priority & 0x7,
    )


def _tcp_delegated(state: TcpOffloadState, nbl_address: dict[int, int] | None = None) -> bytes:
    d = state.delegated
    where = nbl_address or {}

    def nbl(value: NetBufferList | None) -> int:
        return 0 if value is None else where.get(id(value), 0)

    buffered = d.buffered_data[0] if d.buffered_data else None
    return struct.pack(
        "<IHxx10IHH4IBBxxBxxxIBxxxIQQQI",
        int(d.state),
        d.flags,
        d.rcv_nxt, d.rcv_wnd, d.snd_una, d.snd_nxt, d.snd_max, d.snd_wnd, d.max_snd_wnd,
        d.send_wl1, d.cwnd, d.ss_thresh,
        d.s_rtt & 0xFFFF, d.rtt_var & 0xFFFF,
        d.ts_recent, d.ts_recent_age, d.ts_time, d.total_rt,
        d.dup_ack_count & 0xFF, d.snd_wnd_probe_count & 0xFF,
        d.keep_alive.probe_count & 0xFF, d.keep_alive.timeout_delta,
        d.retransmit.count & 0xFF, d.retransmit.timeout_delta,
        nbl(d.send_data_head), nbl(d.send_data_tail), nbl(buffered),
        d.dwnd,
    )  # fmt: skip


def _word(value: object) -> int:
    """A pointer-sized host value as C sees it: an int is its own pointer, ``None`` NULL,
    any other object (a host's handle) its address."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value % 2**64
    return id(value)


def _status(value: object) -> int:
    try:
        return int(value) & 0xFFFFFFFF  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return 0x103


def _words(values: object) -> bytes:
    try:
        first, second = cast("tuple[object, object]", values)
    except (TypeError, ValueError):
        return bytes(16)
    return struct.pack("<QQ", _word(first), _word(second))


def _put(base: int, offset: int, data: bytes) -> None:
    ctypes.memmove(base + offset, data, len(data))


_HEADER = struct.Struct("<BBHxxxxQQIxxxx16sQQ16s16s16s16sQIxxxxQ")
_NBL = struct.Struct("<QQIIQ")
_SLOT = struct.Struct("<Q")
_NULLS: list[None] = [None, None]
_ZERO16 = bytes(16)
_TAIL = GUARD + bytes(_align(len(GUARD)) - len(GUARD))


def _reserved(values: object) -> bytes:
    if values == _NULLS:  # the common case: two NULL words, as the host hands them over
        return _ZERO16
    return _words(values)


def marshal(blocks: Sequence[OffloadBlockList]) -> CTree:  # noqa: PLR0915 (one layout, in order)
    """Pack ``blocks`` (in hand-over order) into one C buffer, links as real pointers.

    Layout: every block followed by its state structures and a guard; then one PVOID
    cell per context slot; then the NBLs; then their data; then the endpoint addresses
    of each distinct path state. The bytes are built in Python (a state object's
    structures once, however many blocks share it) and copied into the buffer at once.
    """
    position = {id(b): i for i, b in enumerate(blocks)}
    offsets: list[int] = []
    guards: list[int] = []
    endpoint_of: dict[int, int] = {}
    extras: list[tuple[int, int, int, str]] = []
    at = 0
    block_size = BLOCK[0]
    sizes = STATE_BYTES
    for i, block in enumerate(blocks):
        offsets.append(at)
        state = block.state
        at += block_size + sizes.get(type(state), 0)
        guards.append(at)
        at += len(_TAIL)
        if type(state) is PathOffloadState and id(state) not in endpoint_of:
            endpoint_of[id(state)] = i
    slots: list[int | None] = []
    for block in blocks:
        if block.miniport_offload_context is None:
            slots.append(None)
        else:
            slots.append(at)
            at += 8
    nbl_offsets: dict[int, int] = {}
    chains = [block.net_buffer_list_chain or () for block in blocks]
    for chain in chains:
        for nbl in chain:
            nbl_offsets[id(nbl)] = at
            at += _NBL_SIZE
    data_offsets: dict[int, int] = {}
    for i, chain in enumerate(chains):
        for nbl in chain:
            data_offsets[id(nbl)] = at
            extras.append((at, at + len(nbl.data), i, "the data of an NBL of its send data"))
            at = _align(at + len(nbl.data))
    endpoints_at = at
    endpoint_at: dict[int, int] = {}
    for k, (key, i) in enumerate(endpoint_of.items()):
        where = endpoints_at + _ENDPOINTS * k
        endpoint_at[key] = where
        extras.append(
            (where, where + _ENDPOINTS, i, "the path's SourceAddress/DestinationAddress bytes")
        )
    at += _ENDPOINTS * len(endpoint_of)
    memory = ctypes.create_string_buffer(max(at, 8))
    base = ctypes.addressof(memory)
    nbl_address = {k: base + v for k, v in nbl_offsets.items()}
    bodies: dict[int, bytes] = {}
    parts: list[bytes] = []
    append = parts.append
    pack = _HEADER.pack
    for i, block in enumerate(blocks):
        nxt = block.next_block
        dep = block.dependent_block_list
        slot = slots[i]
        chain = chains[i]
        append(
            pack(
                int(block.state_type) & 0xFF,  # Header.Type
                1,
                block_size,
                0 if nxt is None else base + offsets[position[id(nxt)]],
                0 if dep is None else base + offsets[position[id(dep)]],
                _status(block.status),  # PENDING as the host hands a tree over
                _ZERO16,
                0 if slot is None else base + slot,
                _word(block.ndis_offload_handle),
                _reserved(block.protocol_reserved),
                _reserved(block.miniport_reserved),
                _reserved(block.im_reserved),
                _reserved(block.scratch),
                _word(block.source_handle),
                int(block.port_number) & 0xFFFFFFFF,
                nbl_address[id(chain[0])] if chain else 0,
            )
        )
        state = block.state
        if state is not None:
            body = bodies.get(id(state))
            if body is None:
                endpoints = base + endpoint_at.get(id(state), 0)
                body = bodies[id(state)] = _state_bytes(state, endpoints, nbl_address)
            append(body)
        append(_TAIL)
    for block, slot in zip(blocks, slots, strict=True):
        if slot is not None:
            value = block.miniport_offload_context.value  # type: ignore[union-attr]
            append(_SLOT.pack(value % 2**64 if isinstance(value, int) else 0))
    for chain in chains:
        for k, nbl in enumerate(chain):
            after = nbl_address[id(chain[k + 1])] if k + 1 < len(chain) else 0
            append(
                _NBL.pack(
                    after, 0, _status(nbl.status), len(nbl.data), base + data_offsets[id(nbl)]
                )
            )
    for chain in chains:
        for nbl in chain:
            append(nbl.data + bytes(_align(len(nbl.data)) - len(nbl.data)))
    states = {id(b.state): b.state for b in blocks if type(b.state) is PathOffloadState}
    for key in endpoint_of:
        const = states[key].const
        append(const.source_address.ljust(16, b"\0")[:16])
        append(const.destination_address.ljust(16, b"\0")[:16])
    data = b"".join(parts)
    assert len(data) == at, (len(data), at)
    ctypes.memmove(base, data, len(data))
    return CTree(memory, base, offsets, slots, guards, nbl_offsets, extras)
