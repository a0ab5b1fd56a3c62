"""The serving side (``pytest-offload serve``): a wire tree as Python blocks for a served
target (:func:`decode_tree`), and what that target wrote as an image (:func:`image_of`)."""

from __future__ import annotations

from itertools import repeat
from operator import is_not
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness._snapshot import HOST_FIELD_NAMES
from pytest_offload.harness.transports._messages import Image, NblStatus, Tree
from pytest_offload.harness.transports.codec._columns import _positions, _same, _unused, _words
from pytest_offload.harness.transports.codec._states import _model_state, _wire_state
from pytest_offload.harness.transports.codec._values import (
    _PAIR,
    PointerTable,
    WireError,
    status_from_wire,
    u32,
)
from pytest_offload.model import (
    TYPE_CLASSES,
    ContextSlot,
    NdisStatus,
    NetBufferList,
    OffloadBlockList,
    poisoned,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["FOREIGN_NBL_BASE", "decode_tree", "host_fields", "image_of"]


def decode_tree(
    tree: Tree, table: PointerTable, *, structures: bool = False
) -> tuple[list[OffloadBlockList], dict[int, NetBufferList]]:
    """Python blocks built from a tree's columns, and its NBLs by wire id (``structures``:
    a terminate's or a query's tree, whose named blocks without a state are followed by a
    poisoned structure of the type their ``state_type`` names, for the target to fill).

    Raises:
        WireError: columns of different lengths, links to positions out of range.
    """
    n = tree.count
    unset = msgspec.UNSET
    for name in Tree.__struct_fields__:
        column = getattr(tree, name)
        if name not in ("count", "states") and column is not unset and len(column) != n:
            raise WireError(f"the tree's {name} has {len(column)} entries, count is {n}")
    if any(k is not None and k >= len(tree.states) for k in tree.state):
        raise WireError(f"a state index is out of range: the tree has {len(tree.states)} states")
    nulls: list[Any] = [None] * n
    pairs: list[Any] = [_PAIR] * n

    def given(name: str, default: list[Any]) -> list[Any]:
        column = getattr(tree, name)
        return default if column is unset else column

    status = given("status", [int(NdisStatus.PENDING)] * n)
    source_handle = given("source_handle", nulls)
    port_number = given("port_number", [0] * n)
    protocol_reserved = given("protocol_reserved", pairs)
    miniport_reserved = given("miniport_reserved", pairs)
    im_reserved = given("im_reserved", pairs)
    scratch = given("scratch", pairs)
    chains = given("net_buffer_list_chain", nulls)
    nbls: dict[int, NetBufferList] = {}
    blocks: list[OffloadBlockList] = []
    for i in range(n):
        chain: tuple[NetBufferList, ...] | None = None
        wire_chain = chains[i]
        if wire_chain is not None:
            made = []
            for w in wire_chain:
                nbl = NetBufferList(w.data, status_from_wire(w.status))  # type: ignore[arg-type]
                nbls[w.id] = nbl
                made.append(nbl)
            chain = tuple(made)
        block = OffloadBlockList(
            tree.state_type[i],
            miniport_offload_context=(
                ContextSlot(table.from_wire(tree.context[i])) if tree.context_slot[i] else None
            ),
            ndis_offload_handle=table.from_wire(tree.ndis_offload_handle[i]),
            net_buffer_list_chain=chain,
            port_number=port_number[i],
        )
        block.status = status_from_wire(status[i])
        block.source_handle = table.from_wire(source_handle[i])
        block.protocol_reserved = table.words_from_wire(protocol_reserved[i])
        block.miniport_reserved = table.words_from_wire(miniport_reserved[i])
        block.im_reserved = table.words_from_wire(im_reserved[i])
        block.scratch = table.words_from_wire(scratch[i])
        blocks.append(block)
    nexts = _positions(tree.next_block, blocks)
    deps = _positions(tree.dependent_block_list, blocks)
    for i, block in enumerate(blocks):
        block.next_block = nexts[i]  # type: ignore[assignment]
        block.dependent_block_list = deps[i]  # type: ignore[assignment]
        k = tree.state[i]
        state = None if k is None else tree.states[k]
        if state is not None:
            block.state = _model_state(state, nbls)  # type: ignore[assignment]
        elif structures and block.miniport_offload_context is not None:
            cls = TYPE_CLASSES.get(block.state_type)
            if cls is not None:
                block.state = poisoned(cls)
    return blocks, nbls


#: The host-owned fields a served target may change, as the snapshot names them (its
#: context slot is the ``context`` column of the image, not one of these).
_HOST_FIELDS = tuple(name for name in HOST_FIELD_NAMES if name != "miniport_offload_context")
#: Fields copied at hand-over, so that a target writing into the array or chain shows.
_COPIED = tuple(
    _HOST_FIELDS.index(name)
    for name in ("protocol_reserved", "im_reserved", "net_buffer_list_chain")
)


def host_fields(block: OffloadBlockList) -> tuple[object, ...]:
    """The host-owned fields of a block as handed over (copies of its arrays and chain),
    to compare with later by :func:`image_of`."""
    values = [getattr(block, name, None) for name in _HOST_FIELDS]
    for k in _COPIED:
        if values[k] is not None:
            values[k] = tuple(values[k])  # type: ignore[arg-type]
    nbls = block.net_buffer_list_chain or ()
    return (*values, tuple(nbl.status for nbl in nbls))


def _safe(block: OffloadBlockList, name: str, default: object = None) -> object:
    try:
        return getattr(block, name)
    except Exception:  # a field the served target deleted or broke
        return default


def image_of(
    blocks: Sequence[OffloadBlockList],
    handed: Sequence[tuple[object, ...]],
    nbl_ids: dict[int, int],
    table: PointerTable,
    handed_contexts: Sequence[object] | None = None,
) -> Image:
    """What a Python target wrote into the blocks: statuses, contexts and target-owned
    words always, a host-owned column only where some block differs from ``handed``
    (:func:`host_fields` of each block at hand-over); a context slot whose value in
    ``handed_contexts`` (at hand-over) the target cleared as ``"0x0"``."""
    position = {id(b): i for i, b in enumerate(blocks)}
    image = Image([u32(_safe(b, "status", 0)) for b in blocks])
    contexts: list[str | None] = []
    for block, then in zip(blocks, handed_contexts or repeat(None), strict=False):
        slot = _safe(block, "miniport_offload_context")
        value = None if slot is None else getattr(slot, "value", None)
        if value is None and then is not None:
            contexts.append("0x0")  # a context handed over (a linker's, a request's), cleared
        else:
            contexts.append(None if slot is None else table.to_wire(value))
    if any(map(is_not, contexts, repeat(None))):
        image.context = contexts
    for name in ("miniport_reserved", "scratch"):
        words = [_safe(b, name) for b in blocks]
        if not _unused(words):
            setattr(image, name, _words(words, table))
    now = [host_fields(b) for b in blocks]
    changed = [i for i in range(len(blocks)) if not _same(now[i], handed[i])]
    if not changed:
        return image
    for k, name in enumerate(_HOST_FIELDS):
        if all(_same(now[i][k], handed[i][k]) for i in changed):
            continue
        values = [row[k] for row in now]
        wire: list[Any]
        if name in ("next_block", "dependent_block_list"):
            wire = [None if v is None else position.get(id(v), len(blocks)) for v in values]
        elif name in ("ndis_offload_handle", "source_handle"):
            wire = [table.to_wire(v) for v in values]
        elif name in ("protocol_reserved", "im_reserved"):
            wire = [table.words_to_wire(v) for v in values]
        elif name == "state":
            wire = [_wire_state(v) for v in values]
        elif name == "net_buffer_list_chain":
            wire = [
                None if v is None else [_nbl_id(nbl_ids, nbl) for nbl in v]  # type: ignore[attr-defined]
                for v in values
            ]
        else:
            wire = [u32(v, 0xFFFFFFFF) for v in values]
        setattr(image, name, wire)
    if any(now[i][-1] != handed[i][-1] for i in changed):
        image.nbl_statuses = [
            NblStatus(nbl_ids[id(nbl)], u32(nbl.status))
            for i in changed
            for nbl in blocks[i].net_buffer_list_chain or ()
            if id(nbl) in nbl_ids  # an NBL of the tree handed over (a new one: the chain)
        ]
    return image


#: Where a serving side numbers NBLs the suite never sent (a served target's own copies):
#: far above the suite's ids, so the suite sees them as NBLs that are not the host's.
FOREIGN_NBL_BASE = 1 << 40


def _nbl_id(nbl_ids: dict[int, int], nbl: object) -> int:
    found = nbl_ids.get(id(nbl))
    if found is None:
        found = nbl_ids[id(nbl)] = FOREIGN_NBL_BASE + len(nbl_ids)
    return found
