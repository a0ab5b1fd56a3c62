"""Naming the bytes a native target wrote where it should not: which block, which field.

A write the harness finds outside what is the target's (``pyo_diff`` under the tree's
mask) is told to the suite as a :class:`MemoryWrite`: the block it lies in, the offset,
and the field, e.g. ``NDIS_MINIPORT_OFFLOAD_BLOCK_LIST.PortNumber``, a state structure's
field (bitfields by the storage unit they lie in), the guard after a block, a context
cell, an NBL of its send data.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

from pytest_offload.harness.transports._messages import MemoryWrite
from pytest_offload.harness.transports.native._layout import LAYOUT, state_stride

if TYPE_CHECKING:
    from pytest_offload.harness.transports.native._columns import PackedTree

__all__ = ["GUARD", "describe"]

_BLOCK = LAYOUT["NDIS_MINIPORT_OFFLOAD_BLOCK_LIST"]
_NBL_SIZE = 32
GUARD = 16
_GUARD = GUARD
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


def describe(flight: Any, start: int, end: int) -> MemoryWrite:
    """What lies at bytes ``start:end`` of a flight's tree (its ``tree``; its ``regions``
    and ``starts`` cache the layout), as the protocol's MemoryWrite."""
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
    rest = offset - size
    for name in tree.names_after(position):
        stride = state_stride(name)
        if rest < stride:
            fields = _fields_of(name)
            k = bisect.bisect_right([o for o, _ in fields], rest) - 1
            at, field = fields[max(k, 0)]
            suffix = f"+{rest - at:#x}" if rest > at else ""
            if position in tree.structures:
                return f"{name}.{field}{suffix} (the structure it was to fill)"
            return f"{name}.{field}{suffix} (host-owned state)"
        rest -= stride
    return "the state after the block"
