"""Trees to wire messages and images back onto trees, on either side of the protocol.

The suite side encodes the blocks it handed over (:func:`encode_tree`) and applies what
the target sends back onto the same Python objects (:func:`apply_image`), so the
recording host, the snapshots and every rule judge a process target exactly as they judge
an in-process one. The serving side (``pytest-offload serve``) does the reverse
(:func:`decode_tree`, :func:`image_of`).

Trees and images are columns (one list per field), so both directions are a handful of
``map`` calls per field at C speed; Python loops run only over the blocks that carry
something unusual (a pointer to make up, send data, a changed host field).
"""

from __future__ import annotations

import operator
import re
from collections import deque
from dataclasses import replace
from itertools import compress, repeat
from operator import attrgetter, is_not
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness._observation import MemoryWrite
from pytest_offload.harness._snapshot import HOST_FIELD_NAMES, TARGET_FIELD_NAMES
from pytest_offload.harness.transports import _handover as handover
from pytest_offload.harness.transports._messages import (
    POINTER_PATTERN,
    Image,
    NblStatus,
    NeighborCached,
    NeighborConst,
    NeighborDelegated,
    NeighborState,
    PathCached,
    PathConst,
    PathDelegated,
    PathState,
    State,
    TcpCached,
    TcpConst,
    TcpDelegated,
    TcpState,
    Tree,
)
from pytest_offload.harness.transports._messages import Nbl as WireNbl
from pytest_offload.model import (
    TYPE_CLASSES,
    ContextSlot,
    NdisStatus,
    NeighborOffloadState,
    NeighborOffloadStateCached,
    NeighborOffloadStateConst,
    NeighborOffloadStateDelegated,
    NetBufferList,
    OffloadBlockList,
    PathOffloadState,
    PathOffloadStateCached,
    PathOffloadStateConst,
    PathOffloadStateDelegated,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
    context_key,
    is_poisoned,
    poisoned,
    with_poison,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from pytest_offload.harness._snapshot import TreeSnapshot

__all__ = [
    "PointerTable",
    "WireError",
    "apply_image",
    "decode_tree",
    "encode_tree",
    "image_of",
    "status_from_wire",
]

_WORD = 2**64
_MEMBERS: dict[int, NdisStatus] = {int(m): m for m in NdisStatus}
#: Where the pointers the suite makes up for Python objects (handles, unknown linkers) live:
#: far from user-mode addresses and from small integers a simulator may use as contexts.
FAKE_BASE = 0xFEED_0000_0000_0000
#: The same, for the contexts a served Python target makes (``pytest-offload serve``):
#: another range, so that the two sides' made-up pointers never meet.
SERVE_BASE = 0xC0DE_0000_0000_0000


class WireError(Exception):
    """Something a target sent breaks the protocol; the message quotes what and where."""


def status_from_wire(value: int) -> object:
    """A 32-bit status (a negative C ``int`` masked to its unsigned value), as the enum
    member when NDIS defines it."""
    value &= 0xFFFFFFFF
    return _MEMBERS.get(value, value)


def pointer_from_wire(text: str) -> int:
    """The value of a pointer string (``0x`` and 1 to 16 hex digits, the schema's form).

    Raises:
        WireError: any other string.
    """
    return pointers_from_wire([text])[0]


_POINTERS = re.compile(r"(?:0[xX][0-9a-fA-F]{1,16}\n)*")


def pointers_from_wire(texts: list[str]) -> list[int]:
    """The values of pointer strings, checked against the schema's form in one regular
    expression pass over the whole column.

    Raises:
        WireError: naming the first string that is not a pointer.
    """
    if not texts:
        return []
    fast = handover.fixed_width_pointers(texts)
    if fast is not None:
        return fast
    try:
        if _POINTERS.fullmatch("\n".join(texts) + "\n") is not None:
            return list(map(int, texts, repeat(16)))
    except (TypeError, ValueError):
        pass
    for text in texts:
        if not isinstance(text, str) or not re.fullmatch(POINTER_PATTERN, text):
            raise WireError(
                f"{text!r} is not a pointer: 0x and 1 to 16 hex digits (docs/protocol.md)"
            )
    raise WireError(f"malformed pointers: {texts[:3]!r}")


class PointerTable:
    """The pointer each Python value stands for on the wire, and back.

    An int-like value is its own pointer (rules.md section 3); any other object (an
    ``object()`` handle, a context a Python target made) gets a made-up pointer, stable for
    as long as the table lives, and comes back as the very same object, so a field a target
    echoes unchanged is unchanged.
    """

    def __init__(self, base: int = FAKE_BASE) -> None:
        self._fake: dict[Any, str] = {}
        self._objects: dict[int, object] = {}
        self._next = base
        #: Pointers the other side handed out (so that a made-up one never equals them).
        self.seen: set[int] = set()
        self._seen_lists: list[list[int]] = []

    def to_wire(self, value: object) -> str | None:
        if value is None:
            return None
        if type(value) is object:  # a bare handle object: named by its address
            self._objects[id(value)] = value
            return _HEX(id(value))
        key = context_key(value)
        if key is None:
            return "0x0"
        if type(key) is int and key >= _WORD:
            return f"0x{key - _WORD:x}"
        text = self._fake.get(key)
        if text is None:
            fake = self.fresh()
            text = self._fake[key] = f"0x{fake:x}"
            self._objects[fake] = value
        return text

    def saw(self, values: list[int]) -> None:
        """Pointers the other side handed out (kept as the lists they came in: looked at
        only when a pointer must be made up)."""
        self._seen_lists.append(values)

    def fresh(self) -> int:
        """A pointer value nobody has handed out."""
        if self._seen_lists:
            for values in self._seen_lists:
                self.seen.update(values)
            self._seen_lists.clear()
        while True:
            self._next += 0x10
            if self._next not in self.seen and self._next not in self._objects:
                return self._next

    def from_wire(self, text: str | None) -> object:
        if text is None:
            return None
        value = pointer_from_wire(text)
        found = self._objects.get(value, _MISSING)
        return value if found is _MISSING else found

    def words_to_wire(self, words: object) -> list[str | None]:
        if words == _PAIR:  # the common case: two NULL words
            return [None, None]
        try:
            return [self.to_wire(w) for w in words]  # type: ignore[attr-defined]
        except TypeError:  # not a sequence: a host that never sets such a field
            return [None, None]

    def words_from_wire(self, words: Sequence[str | None]) -> list[object]:
        return [self.from_wire(w) for w in words]


_MISSING = object()
#: Two NULL words, as a reserved array holds them unused (and a snapshot's frozen copy).
_PAIR: list[None] = [None, None]
_PAIR_T = (None, None)
#: Encoded states by identity (states are frozen; trees built from one spec share them):
#: a state without NBLs is encoded once. Entries keep their state alive, so an id is never
#: reused while cached; the cache is emptied when full.
_STATE_RAW: dict[int, msgspec.Raw] = {}
_STATE_KEEP: dict[int, object] = {}
_STATE_CACHE_SIZE = 1 << 16


# -- the suite side ----------------------------------------------------------------------


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


def _wire_state(state: object) -> State | None:
    """The wire form of a state structure: ``None`` for no structure, or one still
    holding the poison (a terminate's or query's structure the target did not fill)."""
    if isinstance(state, TcpOffloadState):
        wire: Any = TcpState(state.const, state.cached, state.delegated)
    elif isinstance(state, PathOffloadState):
        wire = PathState(state.const, state.cached, state.delegated)
    elif isinstance(state, NeighborOffloadState):
        wire = NeighborState(state.const, state.cached, state.delegated)
    else:
        part = _PARTS.get(type(state))
        if part is None:
            return None
        wire = part(state)
    if is_poisoned(state):
        return None
    return wire  # type: ignore[no-any-return]


#: The wire structure of each single part, by the model's class.
_PARTS: dict[type, type] = {
    NeighborOffloadStateConst: NeighborConst,
    NeighborOffloadStateCached: NeighborCached,
    NeighborOffloadStateDelegated: NeighborDelegated,
    PathOffloadStateConst: PathConst,
    PathOffloadStateCached: PathCached,
    PathOffloadStateDelegated: PathDelegated,
    TcpOffloadStateConst: TcpConst,
    TcpOffloadStateCached: TcpCached,
    TcpOffloadStateDelegated: TcpDelegated,
}


def _u32(value: object, default: int = 0) -> int:
    try:
        return operator.index(value) & 0xFFFFFFFF  # type: ignore[arg-type]
    except TypeError:
        return default


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
_STATE_TYPES = frozenset({NeighborOffloadState, PathOffloadState, TcpOffloadState})
_ANY_STATE = _STATE_TYPES | frozenset(
    {
        NeighborOffloadStateConst,
        NeighborOffloadStateCached,
        NeighborOffloadStateDelegated,
        PathOffloadStateConst,
        PathOffloadStateCached,
        PathOffloadStateDelegated,
        TcpOffloadStateConst,
        TcpOffloadStateCached,
        TcpOffloadStateDelegated,
    }
)
_HEX = hex  # "0x..." in lower case, at C speed
#: Runs an iterator of calls to the end at C speed, keeping none of their results.
_drain: Callable[[Iterable[Any]], None] = deque[Any](maxlen=0).extend


def _ints(values: list[object], default: int) -> list[int]:
    """32-bit ints of a column of int-likes (enum members become plain ints at C speed)."""
    try:
        ints = list(map(int, values))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return [_u32(v, default) for v in values]
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
            wire_chain.append(WireNbl(nid, nbl.data, _u32(nbl.status)))
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


def nbl_hook(
    nbl_ids: dict[int, int], next_nbl: Any = None, nbls: dict[int, NetBufferList] | None = None
) -> Any:
    """The msgspec ``enc_hook`` writing an NBL inside a state (send_data_head, _tail,
    buffered_data) as a whole wire NBL, with the same id as in the block's chain."""

    def hook(value: object) -> object:
        if isinstance(value, NetBufferList):
            nid = nbl_ids.get(id(value))
            if nid is None:
                nid = nbl_ids[id(value)] = next_nbl() if next_nbl is not None else 0
            if nbls is not None:
                nbls[nid] = value
            return WireNbl(nid, value.data, _u32(value.status))
        raise NotImplementedError(f"cannot send {type(value).__name__} over the wire")

    return hook


class _NblRef(NetBufferList):
    """An NBL decoded inside a state, replaced by the chain's NBL of the same id if any."""

    __slots__ = ("wire_id",)

    def __init__(self, wire_id: int, data: bytes, status: object) -> None:
        super().__init__(data, status)  # type: ignore[arg-type]
        self.wire_id = wire_id


def nbl_ref_hook(kind: type, value: Any) -> Any:
    """The msgspec ``dec_hook`` reading an NBL inside a state."""
    if kind is NetBufferList:
        wire = msgspec.convert(value, WireNbl)
        return _NblRef(wire.id, wire.data, status_from_wire(wire.status))
    raise NotImplementedError(kind)


def _tcp_delegated(
    delegated: TcpOffloadStateDelegated, nbls: dict[int, NetBufferList]
) -> TcpOffloadStateDelegated:
    """``delegated`` with its NBLs replaced by the NBLs of the same ids in ``nbls``."""

    def nbl(ref: object) -> object:
        if isinstance(ref, _NblRef):
            return nbls.setdefault(ref.wire_id, ref)
        return ref

    if (
        delegated.send_data_head is None
        and delegated.send_data_tail is None
        and not delegated.buffered_data
    ):
        return delegated
    return replace(
        delegated,
        send_data_head=nbl(delegated.send_data_head),  # type: ignore[arg-type]
        send_data_tail=nbl(delegated.send_data_tail),  # type: ignore[arg-type]
        buffered_data=tuple(nbl(b) for b in delegated.buffered_data),  # type: ignore[misc]
    )


def _model_state(state: State, nbls: dict[int, NetBufferList]) -> object:
    if isinstance(state, TcpState):
        delegated = _tcp_delegated(state.delegated, nbls)
        return TcpOffloadState(const=state.const, cached=state.cached, delegated=delegated)
    if isinstance(state, PathState):
        return PathOffloadState(const=state.const, cached=state.cached, delegated=state.delegated)
    if isinstance(state, NeighborState):
        return NeighborOffloadState(
            const=state.const, cached=state.cached, delegated=state.delegated
        )
    if isinstance(state, TcpDelegated):
        return _tcp_delegated(state.delegated, nbls)
    # A single part: the structure it carries.
    return getattr(state, state.__struct_fields__[0])


def _same(old: object, new: object) -> bool:
    try:
        return old is new or bool(old == new)
    except Exception:  # a hostile __eq__ of a value already in the tree
        return False


def _check_lengths(image: Image, n: int) -> None:
    for name in Image.__struct_fields__:
        column = getattr(image, name)
        if (
            name not in ("nbl_statuses", "memory_writes")
            and column is not msgspec.UNSET
            and len(column) != n
        ):
            raise WireError(
                f"the image's {name} has {len(column)} entries; the tree handed over has "
                f"{n} blocks (one entry per block, in hand-over order)"
            )


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


def memory_writes(image: Image, n: int, *, late: bool) -> list[MemoryWrite]:
    """The image's writes to the tree's memory, for the host (``late``: after the
    completion).

    Raises:
        WireError: a write naming a block out of range.
    """
    found = [] if image.memory_writes is msgspec.UNSET else image.memory_writes
    for write in found:
        if write.block >= n:
            raise WireError(f"a memory write names block {write.block}; the tree has {n}")
    return [MemoryWrite(w.block, w.offset, w.length, w.field, late) for w in found]


def apply_image(
    image: Image,
    blocks: Sequence[OffloadBlockList],
    nbls: dict[int, NetBufferList],
    table: PointerTable,
    slots: list[object] | None = None,
) -> None:
    """Write what a target sent onto the blocks it handed over (``slots``: their context
    slots as handed over, the hand-over snapshot's column, when every block still has
    the same; read from the blocks otherwise).

    Raises:
        WireError: a column of the wrong length, a link out of range, an NBL that is not
            the block's (nothing is written then).
    """
    n = len(blocks)
    _check_lengths(image, n)
    unset = msgspec.UNSET
    updates: dict[str, list[object]] = {}
    for name in ("next_block", "dependent_block_list"):
        column = getattr(image, name)
        if column is not unset:
            updates[name] = _positions(column, blocks)
    if image.nbl_statuses is not unset:
        for entry in image.nbl_statuses:
            if entry.id not in nbls:
                raise WireError(f"the image writes the status of NBL {entry.id}, not in the tree")
    contexts = None if image.context is unset else _contexts(image.context, table)
    _apply_statuses(image.status, blocks)
    if contexts is not None:
        _apply_contexts(contexts, blocks, slots)
    for name in ("miniport_reserved", "scratch", "protocol_reserved", "im_reserved"):
        column = getattr(image, name)
        if column is not unset:
            updates[name] = [
                _PAIR if words == _PAIR else table.words_from_wire(words) for words in column
            ]
    if image.state_type is not unset:
        updates["state_type"] = list(image.state_type)
    for name in ("ndis_offload_handle", "source_handle"):
        column = getattr(image, name)
        if column is not unset:
            # The host's own objects, by the address they were sent under.
            own = {id(v): v for v in map(_GET[name], blocks) if type(v) is object}
            values = [table.from_wire(p) for p in column]
            updates[name] = [own.get(v, v) if type(v) is int else v for v in values]
    if image.port_number is not unset:
        updates["port_number"] = list(image.port_number)
    if image.state is not unset:
        updates["state"] = _states_from_wire(
            image.state, blocks, nbls, None if image.unfilled is unset else image.unfilled
        )
    if image.net_buffer_list_chain is not unset:
        # The host's own NBLs by id; an id the suite never sent stands for an NBL that is
        # not the host's (INI-HOST-FIELDS-INTACT judges the changed chain).
        updates["net_buffer_list_chain"] = [
            None if ids is None else tuple(nbls.get(k) or NetBufferList() for k in ids)
            for ids in image.net_buffer_list_chain
        ]
    for name, column in updates.items():
        getter = _GET[name]
        for block, value in zip(blocks, column, strict=True):
            old = getter(block)
            if name == "net_buffer_list_chain":
                if old is None and value is None:
                    continue
                if (
                    old is not None
                    and value is not None
                    and len(old) == len(value)  # type: ignore[arg-type]
                    and all(map(operator.is_, old, value))  # type: ignore[call-overload]
                ):
                    continue  # the same NBLs: no change
                setattr(block, name, value)
            elif not _same(old, value):
                setattr(block, name, value)
    if image.nbl_statuses is not unset:
        for entry in image.nbl_statuses:
            nbl = nbls[entry.id]
            status = status_from_wire(entry.status)
            if not _same(nbl.status, status):
                nbl.status = status


def _apply_statuses(statuses: list[int], blocks: Sequence[OffloadBlockList]) -> None:
    if min(statuses, default=0) < 0:
        statuses = [v & 0xFFFFFFFF for v in statuses]
    n = len(statuses)
    if statuses and statuses.count(statuses[0]) == n:  # one status for all, as is common
        members: Any = repeat(_MEMBERS.get(statuses[0], statuses[0]), n)
    else:
        members = map(_MEMBERS.get, statuses, statuses)
    _drain(map(setattr, blocks, repeat("status"), members))


def _states_from_wire(
    column: list[State | None],
    blocks: Sequence[OffloadBlockList],
    nbls: dict[int, NetBufferList],
    unfilled: list[list[str] | None] | None = None,
) -> list[object]:
    """The image's state column as model structures; null where the structure handed over
    is poisoned means the target did not fill it (a terminate's or query's structure stays
    as handed over, poison and all); the fields ``unfilled`` names hold the poison again."""
    states = list(map(_GET["state"], blocks))
    if unfilled is not None:
        made = _states_from_wire(column, blocks, nbls)
        return [
            state if not names or state is None else with_poison(state, names)
            for state, names in zip(made, unfilled, strict=True)
        ]
    return [
        (old if old is not None and is_poisoned(old) else None)
        if wire is None
        else _model_state(wire, nbls)
        for wire, old in zip(column, states, strict=True)
    ]


def _contexts(column: list[str | None], table: PointerTable) -> tuple[Sequence[int], list[object]]:
    """The positions given a context and the context values (checked; none written)."""
    mask = list(map(is_not, column, repeat(None)))
    present: Sequence[int]
    if all(mask):  # the common case: a context for every block that has a slot
        present = range(len(column))
        values = pointers_from_wire(column)  # type: ignore[arg-type]
    else:
        present = list(compress(range(len(column)), mask))
        values = pointers_from_wire(list(compress(column, mask)))  # type: ignore[arg-type]
    table.saw(values)
    objects = table._objects
    if not objects:
        return present, values  # type: ignore[return-value]
    return present, list(map(objects.get, values, values))  # a pointer of ours: the object


def _apply_contexts(
    found: tuple[Sequence[int], list[object]],
    blocks: Sequence[OffloadBlockList],
    handed_slots: list[object] | None = None,
) -> None:
    present, contexts = found
    if not present:
        return
    getter = _GET["miniport_offload_context"]
    slots: list[Any]
    if len(present) == len(blocks):
        if handed_slots is not None and None not in handed_slots:
            # No placeholder, so apply_image never gave a block a slot: the same objects.
            _drain(map(setattr, handed_slots, repeat("value"), contexts))
            return
        slots = list(map(getter, blocks))
    else:
        slots = list(map(getter, map(blocks.__getitem__, present)))
    if None not in slots:  # the common case: new offloads and linkers
        _drain(map(setattr, slots, repeat("value"), contexts))
        return
    for i, slot, value in zip(present, slots, contexts, strict=True):
        if slot is None:
            if value == 0:
                continue  # NULL for a placeholder: nothing written
            # A placeholder has no slot: a context for it changes a host-owned field.
            blocks[i].miniport_offload_context = ContextSlot(value)
        else:
            slot.value = value


# -- the serving side --------------------------------------------------------------------


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
    image = Image([_u32(_safe(b, "status", 0)) for b in blocks])
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
            wire = [_u32(v, 0xFFFFFFFF) for v in values]
        setattr(image, name, wire)
    if any(now[i][-1] != handed[i][-1] for i in changed):
        image.nbl_statuses = [
            NblStatus(nbl_ids[id(nbl)], _u32(nbl.status))
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
