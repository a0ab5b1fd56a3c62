"""The lifecycle requests of a native target: a request's tree into C memory (protocol
1.3, lifecycle.md section 1); ``_readback.py`` reads what the target filled.

A terminate's or a query's named block is followed, as in NDIS, by the structure its
``Header.Type`` names (one part, or the three parts of a combined type at the stride of
native.md), for the target to fill. The harness hands it over *poisoned*: every byte
:data:`POISON_BYTE`, but for the few fields where that pattern is a value the generator
offloads (the ports and the TTL: zero, which it never offloads there; the window scales:
15, past the largest) and for ``VlanId``, whose 12 bits of poison (``0xEDE``) the generator
never offloads (:data:`~pytest_offload.model.NATIVE_VLAN_POISON`). At the completion each
field still holding its poison bits is *unfilled* (readings.md, reading 20): the image
names those fields (``Image.unfilled``) and the suite puts its poison back in them, so
LIFE-STATE-WRITTEN judges a C target as it judges a Python one. An update's new cached
structure is packed as it came; an invalidate's blocks carry none.

The tables here (the structures after each state type, the fields of each structure
with their offsets, the arms of the delegated unions) are what both sides read.
"""

from __future__ import annotations

import ctypes
import struct
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness.transports._messages import NeighborCached, PathCached, TcpCached
from pytest_offload.harness.transports.native._columns import PackedTree, Prebuilt, pack
from pytest_offload.harness.transports.native._layout import state_stride
from pytest_offload.harness.transports.native._states import neighbor_cached, tcp_cached
from pytest_offload.model import OffloadOperation

if TYPE_CHECKING:
    from pytest_offload.harness.transports._messages import Tree
    from pytest_offload.harness.transports.native._library import Library

__all__ = [
    "BLOCK_SIZE",
    "CHAIN_FIELD",
    "COMBINED_TAG",
    "FIELDS",
    "PARTS",
    "POISON_BYTE",
    "STRUCTURES",
    "TCP",
    "UNIONS",
    "pack_request",
    "poisoned_structures",
]

POISON_BYTE = 0xDE
BLOCK_SIZE = 0x98
CHAIN_FIELD = 0x90

_NEIGHBOR = ("NEIGHBOR_OFFLOAD_STATE_CONST", "NEIGHBOR_OFFLOAD_STATE_CACHED",
             "NEIGHBOR_OFFLOAD_STATE_DELEGATED")  # fmt: skip
_PATH = ("PATH_OFFLOAD_STATE_CONST", "PATH_OFFLOAD_STATE_CACHED", "PATH_OFFLOAD_STATE_DELEGATED")
TCP = ("TCP_OFFLOAD_STATE_CONST", "TCP_OFFLOAD_STATE_CACHED", "TCP_OFFLOAD_STATE_DELEGATED")
#: The structures after a block of each OFFLOAD_STATE_TYPE (1-17; 16, TCP_RESOURCE, none).
STRUCTURES: dict[int, tuple[str, ...]] = {
    1: _NEIGHBOR[:1], 2: _NEIGHBOR[1:2], 3: _NEIGHBOR[2:], 4: _NEIGHBOR,
    5: _PATH[:1], 6: _PATH[1:2], 7: _PATH[2:], 8: _PATH,
    9: _PATH[:1], 10: _PATH[1:2], 11: _PATH[2:], 12: _PATH,
    13: TCP[:1], 14: TCP[1:2], 15: TCP[2:], 17: TCP,
}  # fmt: skip
#: The wire tag of each single part, and of each combined state, with its member name.
PARTS = {
    name: (f"{layer}_{part}", part)
    for layer, names in (("neighbor", _NEIGHBOR), ("path", _PATH), ("tcp", TCP))
    for part, name in zip(("const", "cached", "delegated"), names, strict=True)
}
COMBINED_TAG = {_NEIGHBOR: "neighbor", _PATH: "path", TCP: "tcp"}
#: Bytes of a poisoned structure that are not POISON_BYTE: (offset, bytes).
_NOT_POISON_BYTE = {
    "TCP_OFFLOAD_STATE_CONST": ((0x0A, b"\0\0"), (0x0C, b"\0\0"), (0x0E, b"\xff")),
    "TCP_OFFLOAD_STATE_CACHED": ((0x28, b"\0"),),
}

# The fields of each structure: (model name, offset, how it is read). How: a struct
# format ("B", "H", "I"); ("bits", format, shift, width); "mac" (32 bytes); "address"
# (a pointer to an IP address); "nbl" (a pointer to an NBL); "chain" (NBLs by Next).
_Field = tuple[str, int, Any]
_U32 = "I"
FIELDS: dict[str, tuple[_Field, ...]] = {
    "NEIGHBOR_OFFLOAD_STATE_CONST": (
        ("dl_source_address", 0x08, "mac"),
        ("vlan_id", 0x28, ("bits", "I", 0, 12)),
    ),
    "NEIGHBOR_OFFLOAD_STATE_CACHED": (
        ("dl_destination_address", 0x08, "mac"),
        ("host_reachability_delta", 0x28, _U32),
    ),
    "NEIGHBOR_OFFLOAD_STATE_DELEGATED": (("nic_reachability_delta", 0x08, _U32),),
    "PATH_OFFLOAD_STATE_CONST": (
        ("source_address", 0x08, "address"),
        ("destination_address", 0x10, "address"),
    ),
    "PATH_OFFLOAD_STATE_CACHED": (("path_mtu", 0x08, _U32),),
    "PATH_OFFLOAD_STATE_DELEGATED": (),
    "TCP_OFFLOAD_STATE_CONST": (
        ("flags", 0x08, "H"),
        ("remote_port", 0x0A, "H"),
        ("local_port", 0x0C, "H"),
        ("snd_wind_scale", 0x0E, ("bits", "B", 0, 4)),
        ("rcv_wind_scale", 0x0E, ("bits", "B", 4, 4)),
        ("remote_mss", 0x10, "H"),
        ("hash_value", 0x14, _U32),
    ),
    "TCP_OFFLOAD_STATE_CACHED": (
        ("flags", 0x08, "H"),
        ("initial_rcv_wnd", 0x0C, _U32),
        ("rcv_indication_size", 0x10, _U32),
        ("ka_probe_count", 0x14, "B"),
        ("ka_timeout", 0x18, _U32),
        ("ka_interval", 0x1C, _U32),
        ("max_rt", 0x20, _U32),
        ("flow_label", 0x24, ("bits", "I", 0, 20)),
        ("ttl_or_hop_limit", 0x28, "B"),
        ("tos_or_traffic_class", 0x29, "B"),
        ("user_priority", 0x2A, ("bits", "B", 0, 3)),
    ),
    "TCP_OFFLOAD_STATE_DELEGATED": (
        ("state", 0x08, _U32),
        ("flags", 0x0C, "H"),
        *(
            (name, 0x10 + 4 * k, _U32)
            for k, name in enumerate(
                (
                    "rcv_nxt",
                    "rcv_wnd",
                    "snd_una",
                    "snd_nxt",
                    "snd_max",
                    "snd_wnd",
                    "max_snd_wnd",
                    "send_wl1",
                    "cwnd",
                    "ss_thresh",
                )
            )
        ),
        ("s_rtt", 0x38, "H"),
        ("rtt_var", 0x3A, "H"),
        ("ts_recent", 0x3C, _U32),
        ("ts_recent_age", 0x40, _U32),
        ("ts_time", 0x44, _U32),
        ("total_rt", 0x48, _U32),
        ("dup_ack_count", 0x4C, "B"),
        ("snd_wnd_probe_count", 0x4D, "B"),
        ("keep_alive.probe_count", 0x50, "B"),
        ("keep_alive.timeout_delta", 0x54, _U32),
        ("retransmit.count", 0x58, "B"),
        ("retransmit.timeout_delta", 0x5C, _U32),
        ("dwnd", 0x78, _U32),
    ),
}
#: The arms of TCP_OFFLOAD_STATE_DELEGATED's two unions: a terminate's, a query's.
UNIONS = {
    OffloadOperation.TERMINATE: (
        ("send_data_head", 0x60, "nbl"),
        ("send_data_tail", 0x68, "nbl"),
        ("buffered_data", 0x70, "chain"),
    ),
    OffloadOperation.QUERY: (
        ("send_backlog_size", 0x60, _U32),
        ("receive_backlog_size", 0x70, _U32),
    ),
}


def poisoned_structures(names: tuple[str, ...]) -> bytes:
    """The structures ``names`` as handed over poisoned: each at its stride, its
    header's Length that stride, every other byte poison."""
    bodies = []
    for name in names:
        body = bytearray([POISON_BYTE]) * (state_stride(name) - 8)
        for offset, value in _NOT_POISON_BYTE.get(name, ()):
            body[offset - 8 : offset - 8 + len(value)] = value
        bodies.append(bytes(body))
    return _structures(names, bodies)


def _structures(names: tuple[str, ...], bodies: list[bytes]) -> bytes:
    out = b""
    for name, body in zip(names, bodies, strict=True):
        stride = state_stride(name)
        out += struct.pack("<II", stride, 0) + body[: stride - 8].ljust(stride - 8, b"\0")
    return out


def _update_bytes(state: object) -> bytes | None:
    """The structure an update hands over (its new cached values), as bytes."""
    s: Any = state
    if isinstance(state, NeighborCached):
        return _structures(_NEIGHBOR[1:2], [neighbor_cached(s)])
    if isinstance(state, PathCached):
        return _structures(_PATH[1:2], [struct.pack("<I", s.cached.path_mtu)])
    if isinstance(state, TcpCached):
        return _structures(TCP[1:2], [tcp_cached(s)])
    return None


def pack_request(tree: Tree, library: Library, operation: OffloadOperation) -> PackedTree:
    """Pack a lifecycle request's tree: an update's cached structures as they came, a
    terminate's or a query's poisoned structures after each named block.

    Raises:
        WireError: as :func:`~._columns.pack`.
    """
    fills = operation in (OffloadOperation.TERMINATE, OffloadOperation.QUERY)
    states: list[Any] = []
    index: dict[int, int] = {}
    for k, state in enumerate(tree.states):
        data = _update_bytes(state)
        if data is not None:
            index[k] = len(states)
            states.append(Prebuilt(data, ()))
    column: list[int | None] = []
    after: dict[int, tuple[str, ...]] = {}
    n = tree.count
    for i in range(n):
        given = tree.state[i] if i < len(tree.state) else None
        names = STRUCTURES.get(tree.state_type[i] if i < len(tree.state_type) else 0, ())
        if fills and names and i < len(tree.context_slot) and tree.context_slot[i]:
            # The structure to fill (one without fields, as PATH_OFFLOAD_STATE_DELEGATED,
            # is no poison and comes as a state: it is handed over the same way).
            after[i] = names
            column.append(len(states))
            states.append(Prebuilt(poisoned_structures(names), names))
        elif given is not None:
            column.append(index.get(given))  # a state of no kind an update sends: none
        else:
            column.append(None)
    packed = pack(msgspec.structs.replace(tree, states=states, state=column), library)
    packed.structures = after
    mask = ctypes.addressof(packed.mask)
    for i, names in after.items():
        start = packed.offsets[i] + BLOCK_SIZE
        ctypes.memset(mask + start, 0, sum(map(state_stride, names)))
        if operation is OffloadOperation.TERMINATE and names == TCP[2:]:
            ctypes.memset(mask + packed.offsets[i] + CHAIN_FIELD, 0, 8)
    return packed
