"""Whole columns to the wire and back at C speed: reading a field of every block, 32-bit
ints, pointer columns, reserved-word pairs, block positions."""

from __future__ import annotations

import operator
from collections import deque
from itertools import compress, repeat
from operator import attrgetter, is_not
from typing import TYPE_CHECKING, Any

from pytest_offload.harness.transports.codec._values import (
    _HEX,
    _PAIR,
    _PAIR_T,
    _WORD,
    PointerTable,
    WireError,
    u32,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from pytest_offload.model import OffloadBlockList

_GET = {
    name: attrgetter(name)
    for name in (
        "state_type",
        "next_block",
        "dependent_block_list",
        "status",
        "miniport_offload_context",
        "ndis_offload_handle",
        "source_handle",
        "port_number",
        "protocol_reserved",
        "miniport_reserved",
        "im_reserved",
        "scratch",
        "state",
        "net_buffer_list_chain",
    )
}
#: Runs an iterator of calls to the end at C speed, keeping none of their results.
_drain: Callable[[Iterable[Any]], None] = deque[Any](maxlen=0).extend


def _ints(values: list[object], default: int) -> list[int]:
    """32-bit ints of a column of int-likes (enum members become plain ints at C speed)."""
    try:
        ints = list(map(int, values))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return [u32(v, default) for v in values]
    if ints and (min(ints) < 0 or max(ints) > 0xFFFFFFFF):
        return [v & 0xFFFFFFFF for v in ints]
    return ints


def _pointers(values: list[object], table: PointerTable) -> list[str | None]:
    """The wire pointers of a column of values; NULL stays null."""
    kinds = set(map(type, values))
    if kinds == {object}:  # the host's handles, every block one: named by their address
        return list(map(_HEX, map(id, values)))
    mask = list(map(is_not, values, repeat(None)))
    chosen = list(compress(values, mask))
    if not chosen:
        return [None] * len(values)
    if kinds == {object, type(None)}:
        # The host's handles: bare objects, named by their address (unique while the tree
        # holds them); an image that echoes one is mapped back through the blocks
        # (apply_image), so it comes back as the same object.
        texts = list(map(_HEX, map(id, values)))
        return list(map({_HEX(id(None)): None}.get, texts, texts))  # NULL stays null
    out: list[str | None] = [None] * len(values)
    present = compress(range(len(values)), mask)
    if set(map(type, chosen)) == {int} and min(chosen) > 0 and max(chosen) < _WORD:  # type: ignore[type-var, operator]
        # Pointers the target handed out (linkers' contexts): their own values.
        for i, text in zip(present, map(_HEX, chosen), strict=True):  # type: ignore[arg-type]
            out[i] = text
        return out
    for i in present:
        out[i] = table.to_wire(values[i])
    return out


def _unused(values: list[object]) -> bool:
    """Whether a column holds two NULL words for every block (lists, or the snapshot's
    tuples), in C-level passes."""
    return all(map(operator.eq, values, repeat(_PAIR))) or all(
        map(operator.eq, values, repeat(_PAIR_T))
    )


def _words(values: list[object], table: PointerTable) -> list[Any]:
    """A column of reserved-word pairs; the common all-NULL column costs one comparison
    per block, in C."""
    if _unused(values):
        return [_PAIR] * len(values)
    return [_PAIR if v in (_PAIR, _PAIR_T) else table.words_to_wire(v) for v in values]


def _same(old: object, new: object) -> bool:
    try:
        return old is new or bool(old == new)
    except Exception:  # a hostile __eq__ of a value already in the tree
        return False


def _positions(column: list[int | None], blocks: Sequence[OffloadBlockList]) -> list[object]:
    n = len(blocks)
    out: list[object] = []
    for value in column:
        if value is None:
            out.append(None)
        elif value >= n:
            raise WireError(f"block position {value} is out of range: the tree has {n} blocks")
        else:
            out.append(blocks[value])
    return out
