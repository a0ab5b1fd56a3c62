"""What a C target wrote into a lifecycle request's tree, read back as the protocol's image
columns (protocol 1.3): the structures it filled, field by field against their poison
(``state`` and ``unfilled``), and a terminate's send data (``net_buffer_list_chain``).

Pointers a target writes into a structure (a query's path addresses, a terminate's send
data and buffered data) are read through ``/proc/self/mem``: a pointer into nothing is a
value the rules judge, never a crash of the child. NBLs are named by the wire ids of the
case's own (its send data and buffered data, by address) or by fresh ids above
``FOREIGN_NBL_BASE`` for the target's own.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness.transports.codec import FOREIGN_NBL_BASE
from pytest_offload.harness.transports.native._layout import (
    NBL_FORMAT,
    NBL_SIZE,
    log,
    state_stride,
)
from pytest_offload.harness.transports.native._requests import (
    BLOCK_SIZE,
    CHAIN_FIELD,
    COMBINED_TAG,
    FIELDS,
    PARTS,
    TCP,
    UNIONS,
)
from pytest_offload.model import OffloadOperation

if TYPE_CHECKING:
    from pytest_offload.harness.transports._messages import Image
    from pytest_offload.harness.transports.native._columns import PackedTree

__all__ = ["MEMORY", "NblNames", "fill_image", "read_structures", "terminate_chains"]

_MAX_CHAIN = 4096
_MAX_DATA = 1 << 20


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
        raw = MEMORY.read(address, NBL_SIZE)
        wire = self.wire_id(address)
        if raw is None:
            log(f"an NBL pointer {address:#x} the target wrote points at nothing readable")
            return {"id": wire, "data": b"", "status": 0}
        _, _, status, length, data_at = struct.unpack(NBL_FORMAT, raw)
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
            log(f"a path address pointer {pointer:#x} the target wrote points at nothing")
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
    fields = FIELDS[name]
    if name == TCP[2]:
        fields = (*fields, *UNIONS.get(operation, ()))
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
        at = packed.offsets[i] + BLOCK_SIZE
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
            tag, member = PARTS[names[0]]
            values, left = parts[0]
            wire: dict[str, Any] = {"kind": tag, member: values}
            missing = left
        else:
            wire = {"kind": COMBINED_TAG[names]}  # type: ignore[index]
            missing = []
            for name, (values, left) in zip(names, parts, strict=True):
                member = PARTS[name][1]
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
        if names != TCP[2:]:
            continue
        at = packed.offsets[i] + CHAIN_FIELD
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
