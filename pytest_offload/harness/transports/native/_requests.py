"""The lifecycle requests of a native target: a request's tree into C memory, and the
structures the target filled back out of it (protocol 1.3, lifecycle.md section 1).

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

Pointers a target writes into a structure (a query's path addresses, a terminate's send
data and buffered data) are read through ``/proc/self/mem``: a pointer into nothing is a
value the rules judge, never a crash of the child.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness.transports._codec import FOREIGN_NBL_BASE
from pytest_offload.harness.transports._messages import NeighborCached, PathCached, TcpCached
from pytest_offload.harness.transports.native._columns import PackedTree, Prebuilt, pack
from pytest_offload.harness.transports.native._layout import state_stride
from pytest_offload.harness.transports.native._states import neighbor_cached, tcp_cached
from pytest_offload.model import OffloadOperation

if TYPE_CHECKING:
    from pytest_offload.harness.transports._messages import Image, Tree
    from pytest_offload.harness.transports.native._library import Library

__all__ = [
    "MEMORY",
    "POISON_BYTE",
    "STRUCTURES",
    "NblNames",
    "fill_image",
    "pack_request",
    "poisoned_structures",
    "read_structures",
    "terminate_chains",
]

POISON_BYTE = 0xDE
_BLOCK_SIZE = 0x98
_CHAIN_FIELD = 0x90
_NBL_SIZE = 32
_MAX_CHAIN = 4096
_MAX_DATA = 1 << 20

_NEIGHBOR = ("NEIGHBOR_OFFLOAD_STATE_CONST", "NEIGHBOR_OFFLOAD_STATE_CACHED",
             "NEIGHBOR_OFFLOAD_STATE_DELEGATED")  # fmt: skip
_PATH = ("PATH_OFFLOAD_STATE_CONST", "PATH_OFFLOAD_STATE_CACHED", "PATH_OFFLOAD_STATE_DELEGATED")
_TCP = ("TCP_OFFLOAD_STATE_CONST", "TCP_OFFLOAD_STATE_CACHED", "TCP_OFFLOAD_STATE_DELEGATED")
#: The structures after a block of each OFFLOAD_STATE_TYPE (1-17; 16, TCP_RESOURCE, none).
STRUCTURES: dict[int, tuple[str, ...]] = {
    1: _NEIGHBOR[:1], 2: _NEIGHBOR[1:2], 3: _NEIGHBOR[2:], 4: _NEIGHBOR,
    5: _PATH[:1], 6: _PATH[1:2], 7: _PATH[2:], 8: _PATH,
    9: _PATH[:1], 10: _PATH[1:2], 11: _PATH[2:], 12: _PATH,
    13: _TCP[:1], 14: _TCP[1:2], 15: _TCP[2:], 17: _TCP,
}  # fmt: skip
#: The wire tag of each single part, and of each combined state, with its member name.
_PART = {
    name: (f"{layer}_{part}", part)
    for layer, names in (("neighbor", _NEIGHBOR), ("path", _PATH), ("tcp", _TCP))
    for part, name in zip(("const", "cached", "delegated"), names, strict=True)
}
_COMBINED_TAG = {_NEIGHBOR: "neighbor", _PATH: "path", _TCP: "tcp"}
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
_FIELDS: dict[str, tuple[_Field, ...]] = {
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
_UNIONS = {
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
        return _structures(_TCP[1:2], [tcp_cached(s)])
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
        start = packed.offsets[i] + _BLOCK_SIZE
        ctypes.memset(mask + start, 0, sum(map(state_stride, names)))
        if operation is OffloadOperation.TERMINATE and names == _TCP[2:]:
            ctypes.memset(mask + packed.offsets[i] + _CHAIN_FIELD, 0, 8)
    return packed


# -- reading back -------------------------------------------------------------------------


class _Memory:
    """Reads of the child's own memory that fail instead of faulting."""

    def __init__(self) -> None:
        self._fd: int | None = None

    def read(self, address: int, size: int) -> bytes | None:
        if address <= 0 or size < 0 or address + size > 1 << 64:
            return None
        if size == 0:
            return b""
        if self._fd is None:
            self._fd = os.open("/proc/self/mem", os.O_RDONLY)
        try:
            data = os.pread(self._fd, size, address)
        except (OSError, OverflowError):
            return None
        return data if len(data) == size else None


MEMORY = _Memory()


@dataclass(eq=False, slots=True)
class NblNames:
    """The wire ids of NBLs a case knows by address (its send data, its buffered data),
    and fresh ids for NBLs a target names that are not the host's."""

    known: dict[int, int]
    foreign: dict[int, int]

    def ref(self, address: int) -> dict[str, Any] | None:
        """An NBL of a structure as the wire carries it: id, bytes, status."""
        raw = MEMORY.read(address, _NBL_SIZE)
        wire = self.wire_id(address)
        if raw is None:
            _log(f"an NBL pointer {address:#x} the target wrote points at nothing readable")
            return {"id": wire, "data": b"", "status": 0}
        _, _, status, length, data_at = struct.unpack("<QQIIQ", raw)
        data = MEMORY.read(data_at, min(length, _MAX_DATA)) if length else b""
        return {"id": wire, "data": data or b"", "status": status}

    def chain(self, address: int) -> list[int]:
        """The addresses of a chain of NBLs by their Next links (a loop ends it)."""
        out: list[int] = []
        seen: set[int] = set()
        while address and address not in seen and len(out) < _MAX_CHAIN:
            seen.add(address)
            out.append(address)
            raw = MEMORY.read(address, 8)
            if raw is None:
                break
            (address,) = struct.unpack("<Q", raw)
        return out

    def wire_id(self, address: int) -> int:
        """The NBL's wire id: the host's own, or one for an NBL of the target's."""
        known = self.known.get(address)
        if known is not None:
            return known
        return self.foreign.setdefault(address, FOREIGN_NBL_BASE + (1 << 20) + len(self.foreign))


def _log(text: str) -> None:
    print(f"offload native harness: {text}", file=sys.stderr, flush=True)


def _value(
    how: Any, raw: bytes, handed: bytes, offset: int, *, ip_size: int, nbls: NblNames
) -> tuple[Any, bool]:
    """A field's value and whether it still holds its poison."""
    if isinstance(how, tuple):
        _, fmt, shift, width = how
        size = struct.calcsize(fmt)
        (unit,) = struct.unpack_from("<" + fmt, raw, offset)
        (poison,) = struct.unpack_from("<" + fmt, handed, offset)
        bits = (1 << width) - 1
        return unit >> shift & bits, (unit ^ poison) >> shift & bits == 0
    if how == "mac":
        value, before = raw[offset : offset + 32], handed[offset : offset + 32]
        rest, rest_before = value[6:], before[6:]
        short = rest == bytes(len(rest)) or rest == rest_before
        return (value[:6] if short else value), value == before
    size = 8 if how in ("address", "nbl", "chain") else struct.calcsize(how)
    untouched = raw[offset : offset + size] == handed[offset : offset + size]
    if how == "address":
        (pointer,) = struct.unpack_from("<Q", raw, offset)
        data = MEMORY.read(pointer, ip_size) if pointer else None
        if data is None and not untouched:
            _log(f"a path address pointer {pointer:#x} the target wrote points at nothing")
        return data or bytes(ip_size), untouched
    if how == "nbl":
        (pointer,) = struct.unpack_from("<Q", raw, offset)
        return (None if untouched or not pointer else nbls.ref(pointer)), untouched
    if how == "chain":
        (pointer,) = struct.unpack_from("<Q", raw, offset)
        if untouched or not pointer:
            return [], untouched
        return [r for r in map(nbls.ref, nbls.chain(pointer)) if r is not None], False
    (value,) = struct.unpack_from("<" + how, raw, offset)
    return value, untouched


def _part(
    name: str,
    raw: bytes,
    handed: bytes,
    *,
    operation: OffloadOperation,
    ip_size: int,
    nbls: NblNames,
) -> tuple[dict[str, Any], list[str]]:
    """One structure's fields as the wire's part, and the fields left unfilled."""
    fields = _FIELDS[name]
    if name == _TCP[2]:
        fields = (*fields, *_UNIONS.get(operation, ()))
    out: dict[str, Any] = {}
    unfilled: list[str] = []
    for field_name, offset, how in fields:
        value, untouched = _value(how, raw, handed, offset, ip_size=ip_size, nbls=nbls)
        if untouched:
            top = field_name.split(".", 1)[0]
            if top not in unfilled:
                unfilled.append(top)
            continue
        if "." in field_name:
            outer, inner = field_name.split(".", 1)
            out.setdefault(outer, {})[inner] = value
        else:
            out[field_name] = value
    for name_ in unfilled:
        out.pop(name_, None)  # a nested structure partly filled: unfilled as a whole
    return out, unfilled


def read_structures(
    packed: PackedTree,
    memory: bytes,
    operation: OffloadOperation,
    nbls: NblNames,
) -> tuple[list[msgspec.Raw | None], list[list[str] | None]]:
    """The ``state`` and ``unfilled`` columns of a request's image: the structures the
    target filled (null where it wrote none of it, or for a block without one)."""
    n = packed.count
    states: list[msgspec.Raw | None] = [None] * n
    unfilled: list[list[str] | None] = [None] * n
    handed = packed.handed.raw
    for i, names in packed.structures.items():
        at = packed.offsets[i] + _BLOCK_SIZE
        ip_size = 16 if 9 <= packed.wire.state_type[i] <= 12 else 4
        parts: list[tuple[dict[str, Any], list[str]]] = []
        for name in names:
            stride = state_stride(name)
            parts.append(
                _part(
                    name,
                    memory[at : at + stride],
                    handed[at : at + stride],
                    operation=operation,
                    ip_size=ip_size,
                    nbls=nbls,
                )
            )
            at += stride
        if not any(values for values, _ in parts) and any(left for _, left in parts):
            continue  # nothing of it written: the suite keeps its poisoned structure
        if len(names) == 1:
            tag, member = _PART[names[0]]
            values, left = parts[0]
            wire: dict[str, Any] = {"kind": tag, member: values}
            missing = left
        else:
            wire = {"kind": _COMBINED_TAG[names]}  # type: ignore[index]
            missing = []
            for name, (values, left) in zip(names, parts, strict=True):
                member = _PART[name][1]
                wire[member] = values
                missing.extend(f"{member}.{f}" for f in left)
        states[i] = msgspec.Raw(msgspec.json.encode(wire))
        unfilled[i] = missing or None
    return states, unfilled


def terminate_chains(
    packed: PackedTree, memory: bytes, nbls: NblNames
) -> list[list[int] | None] | None:
    """The ``net_buffer_list_chain`` column of a terminate's image: the send data the
    target chained to each TCP block (``None``: none chained anywhere)."""
    out: list[list[int] | None] = [None] * packed.count
    found = False
    for i, names in packed.structures.items():
        if names != _TCP[2:]:
            continue
        at = packed.offsets[i] + _CHAIN_FIELD
        (head,) = struct.unpack_from("<Q", memory, at)
        if head:
            out[i] = [nbls.wire_id(a) for a in nbls.chain(head)]
            found = True
    return out if found else None


def fill_image(
    image: Image,
    packed: PackedTree,
    memory: bytes,
    operation: OffloadOperation,
    nbls: NblNames,
) -> None:
    """Add to a request's image what a terminate or a query wrote besides statuses."""
    if not packed.structures:
        return
    states, unfilled = read_structures(packed, memory, operation, nbls)
    if any(s is not None for s in states):
        image.state = states  # type: ignore[assignment]
        if any(u is not None for u in unfilled):
            image.unfilled = unfilled
    if operation is OffloadOperation.TERMINATE:
        chains = terminate_chains(packed, memory, nbls)
        if chains is not None:
            image.net_buffer_list_chain = chains
