"""The suite side, out: the blocks handed over as a wire tree of columns
(:func:`encode_tree`), from the host's hand-over snapshot when there is one
(:mod:`._handover`), from the blocks otherwise."""

from __future__ import annotations

import operator
from itertools import compress, repeat
from operator import is_not
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness._snapshot import HOST_FIELD_NAMES, TARGET_FIELD_NAMES
from pytest_offload.harness.transports._messages import Nbl as WireNbl
from pytest_offload.harness.transports._messages import State, Tree
from pytest_offload.harness.transports.codec import _handover as handover
from pytest_offload.harness.transports.codec._columns import (
    _GET,
    _ints,
    _pointers,
    _unused,
    _words,
)
from pytest_offload.harness.transports.codec._states import _PARTS, _wire_state
from pytest_offload.harness.transports.codec._values import PointerTable, u32
from pytest_offload.model import (
    NeighborOffloadState,
    NetBufferList,
    PathOffloadState,
    TcpOffloadState,
    TcpOffloadStateDelegated,
    is_poisoned,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.harness._snapshot import TreeSnapshot
    from pytest_offload.model import OffloadBlockList

__all__ = ["encode_tree"]

#: Encoded states by identity (states are frozen; trees built from one spec share them):
#: a state without NBLs is encoded once. Entries keep their state alive, so an id is never
#: reused while cached; the cache is emptied when full.
_STATE_RAW: dict[int, msgspec.Raw] = {}
_STATE_KEEP: dict[int, object] = {}
_STATE_CACHE_SIZE = 1 << 16


_STATE_TYPES = frozenset({NeighborOffloadState, PathOffloadState, TcpOffloadState})
#: Every structure a block may carry: a combined state, or one of its parts.
_ANY_STATE = _STATE_TYPES | frozenset(_PARTS)


def _state_table(
    column: list[object], *, structures: bool = False
) -> tuple[list[int | None], list[Any]]:
    """The state column as indexes into a table of distinct states (by identity), and the
    table: a state shared by many blocks (as a spec's are) is encoded and sent once.

    ``structures``: the tree of a terminate or a query, whose poisoned structures are the
    target's to fill: they travel as no state (protocol 1.3)."""
    ids = list(map(id, column))
    distinct = dict(zip(ids, column, strict=True))  # first-seen order, one per identity
    distinct.pop(id(None), None)
    if not set(map(type, distinct.values())) <= _STATE_TYPES:
        # Something that is no state structure (a hand-built tree): sent as no state; a
        # single part (a lifecycle request's structure) as its part.
        distinct = {k: v for k, v in distinct.items() if type(v) in _ANY_STATE}
    if structures:
        distinct = {k: v for k, v in distinct.items() if not is_poisoned(v)}
    index = dict(zip(distinct, range(len(distinct)), strict=True))
    return list(map(index.get, ids)), _states(list(distinct.values()))


def _states(states: list[object]) -> list[State | msgspec.Raw | None]:
    """The wire form of a column of states: each state without NBLs encoded once, ever
    (looked up by identity at C speed; the cache keeps the state alive, so its id is not
    reused while cached)."""
    out: list[Any] = list(map(_STATE_RAW.get, map(id, states)))
    for i in compress(range(len(states)), map(operator.is_, out, repeat(None))):
        state = states[i]
        if state is None:
            continue
        wire = _wire_state(state)
        delegated = getattr(state, "delegated", state)
        if wire is None or (
            isinstance(delegated, TcpOffloadStateDelegated)
            and (delegated.send_data_head is not None or delegated.buffered_data)
        ):
            out[i] = wire  # NBL ids differ per initiate: encoded with the message
            continue
        if len(_STATE_RAW) >= _STATE_CACHE_SIZE:
            _STATE_RAW.clear()
            _STATE_KEEP.clear()
        raw = out[i] = msgspec.Raw(msgspec.json.encode(wire))
        _STATE_RAW[id(state)] = raw
        _STATE_KEEP[id(state)] = state
    return out


def _links(values: list[object], position: dict[int, int]) -> list[int | None]:
    return list(map(position.get, map(id, values)))  # None (id(None)) is never a block


def _wire_chains(
    chains: list[object], nbl_ids: dict[int, int], next_nbl: Any
) -> tuple[list[list[WireNbl] | None], dict[int, NetBufferList]]:
    """Each block's send data as wire NBLs, and the NBLs by wire id."""
    nbls: dict[int, NetBufferList] = {}
    wire_chains: list[list[WireNbl] | None] = [None] * len(chains)
    for i in compress(range(len(chains)), map(is_not, chains, repeat(None))):
        wire_chain = []
        for nbl in chains[i]:  # type: ignore[attr-defined]
            nid = nbl_ids.get(id(nbl))
            if nid is None:
                nid = nbl_ids[id(nbl)] = next_nbl()
            nbls[nid] = nbl
            wire_chain.append(WireNbl(nid, nbl.data, u32(nbl.status)))
        wire_chains[i] = wire_chain
    return wire_chains, nbls


def encode_tree(
    blocks: Sequence[OffloadBlockList],
    table: PointerTable,
    nbl_ids: dict[int, int],
    next_nbl: Any,
    *,
    snapshot: TreeSnapshot | None = None,
    structures: bool = False,
) -> tuple[Tree, dict[int, NetBufferList]]:
    """The tree as columns in hand-over order, and its NBLs by wire id (``structures``:
    a terminate's or query's, see :func:`_state_table`).

    ``nbl_ids`` maps ``id(nbl)`` to its wire id (filled here, from ``next_nbl()``), so that
    the state's send_data_head/tail name the same NBLs as the block's chain.
    """
    blocks = list(blocks)
    n = len(blocks)
    # The host's hand-over snapshot already holds every field as a column, and the links
    # as positions: reuse them (._handover), else read the blocks.
    image = snapshot.image if snapshot is not None else None
    recorded: dict[str, list[object]] = {}
    if image is not None:
        recorded = dict(zip(HOST_FIELD_NAMES, image.host_columns, strict=True))
        recorded.update(zip(TARGET_FIELD_NAMES, image.target_columns, strict=True))
        recorded["status"] = image.statuses

    def column(name: str) -> list[object]:
        found = recorded.get(name)
        return found if found is not None else list(map(_GET[name], blocks))

    if snapshot is not None:
        next_block, dependent = handover.links(snapshot)
        has_slot, values = handover.slot_values(snapshot)
    else:
        position = dict(zip(map(id, blocks), range(n), strict=True))
        next_block = _links(column("next_block"), position)
        dependent = _links(column("dependent_block_list"), position)
        slots = column("miniport_offload_context")
        values = [None] * n
        has_slot = list(map(is_not, slots, repeat(None)))
        for i in compress(range(n), has_slot):
            values[i] = slots[i].value  # type: ignore[attr-defined]
    chains = column("net_buffer_list_chain")
    no_chains = handover.all_none(chains)
    wire_chains, nbls = ([], {}) if no_chains else _wire_chains(chains, nbl_ids, next_nbl)
    types = column("state_type")
    state_type = handover.state_types(types) or _ints(types, 0xFFFFFFFF)
    contexts: list[str | None] = (
        [None] * n if handover.all_none(values) else _pointers(values, table)
    )
    handles = _pointers(column("ndis_offload_handle"), table)
    state, states = _state_table(column("state"), structures=structures)
    tree = Tree(n, state_type, next_block, dependent, has_slot, contexts, handles, state, states)
    # The columns that hold their default for every block stay off the wire.
    statuses = column("status")
    if not handover.all_pending(statuses):
        tree.status = _ints(statuses, 0)
    sources = column("source_handle")
    if not handover.all_none(sources):
        tree.source_handle = _pointers(sources, table)
    ports = column("port_number")
    if any(ports):
        tree.port_number = _ints(ports, 0)
    for name in ("protocol_reserved", "miniport_reserved", "im_reserved", "scratch"):
        words = column(name)
        if not handover.all_null_pairs(words) and not _unused(words):
            setattr(tree, name, _words(words, table))
    if not no_chains:
        tree.net_buffer_list_chain = wire_chains
    return tree, nbls
