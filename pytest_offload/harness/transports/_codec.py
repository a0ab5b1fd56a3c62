"""Trees to wire messages and images back onto trees, on either side of the protocol.

The suite side encodes the blocks it handed over (:func:`encode_blocks`) and applies what
the target sends back onto the same Python objects (:func:`apply_image`), so the
recording host, the snapshots and every rule judge a process target exactly as they judge
an in-process one. The serving side (``pytest-offload serve``) does the reverse
(:func:`decode_blocks`, :func:`image_of`).
"""

from __future__ import annotations

import operator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness.transports._messages import (
    Block,
    BlockImage,
    NblStatus,
    NeighborState,
    PathState,
    State,
    TcpState,
)
from pytest_offload.harness.transports._messages import Nbl as WireNbl
from pytest_offload.model import (
    ContextSlot,
    NdisStatus,
    NeighborOffloadState,
    NetBufferList,
    OffloadBlockList,
    PathOffloadState,
    TcpOffloadState,
    context_key,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "PointerTable",
    "WireError",
    "apply_image",
    "decode_blocks",
    "encode_blocks",
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
    """The value of a pointer string (already matched by the schema's pattern)."""
    value = int(text, 16) if text[:2] in ("0x", "0X") else int(text)
    if value >= _WORD:
        raise WireError(f"pointer {text!r} does not fit in 64 bits")
    return value


class PointerTable:
    """The pointer each Python value stands for on the wire, and back.

    An int-like value is its own pointer (rules.md section 3); any other object (an
    ``object()`` handle, a context a Python target made) gets a made-up pointer, stable for
    as long as the table lives, and comes back as the very same object, so a field a target
    echoes unchanged is unchanged.
    """

    def __init__(self, base: int = FAKE_BASE) -> None:
        self._fake: dict[Any, int] = {}
        self._objects: dict[int, object] = {}
        self._next = base
        #: Pointers the other side handed out (so that a made-up one never equals them).
        self.seen: set[int] = set()

    def to_wire(self, value: object) -> str | None:
        if value is None:
            return None
        key = context_key(value)
        if key is None:
            return "0x0"
        if type(key) is int and key >= _WORD:
            return f"0x{key - _WORD:x}"
        fake = self._fake.get(key)
        if fake is None:
            fake = self.fresh()
            self._fake[key] = fake
            self._objects[fake] = value
        return f"0x{fake:x}"

    def fresh(self) -> int:
        """A pointer value nobody has handed out."""
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
        try:
            return [self.to_wire(w) for w in words]  # type: ignore[attr-defined]
        except TypeError:  # not a sequence: a host that never sets such a field
            return [None, None]

    def words_from_wire(self, words: Sequence[str | None]) -> list[object]:
        return [self.from_wire(w) for w in words]


_MISSING = object()


# -- the suite side ----------------------------------------------------------------------


def _wire_state(state: object) -> State | None:
    if isinstance(state, TcpOffloadState):
        return TcpState(state.const, state.cached, state.delegated)
    if isinstance(state, PathOffloadState):
        return PathState(state.const, state.cached, state.delegated)
    if isinstance(state, NeighborOffloadState):
        return NeighborState(state.const, state.cached, state.delegated)
    return None


def _u32(value: object, default: int = 0) -> int:
    try:
        return operator.index(value) & 0xFFFFFFFF  # type: ignore[arg-type]
    except TypeError:
        return default


def encode_blocks(
    blocks: Sequence[OffloadBlockList],
    table: PointerTable,
    nbl_ids: dict[int, int],
    next_nbl: Any,
) -> tuple[list[Block], dict[int, NetBufferList]]:
    """The wire blocks of a tree in hand-over order, and its NBLs by wire id.

    ``nbl_ids`` maps ``id(nbl)`` to its wire id (filled here, from ``next_nbl()``), so that
    the state's send_data_head/tail name the same NBLs as the block's chain.
    """
    position = {id(b): i for i, b in enumerate(blocks)}
    nbls: dict[int, NetBufferList] = {}
    out: list[Block] = []
    to_wire = table.to_wire
    words = table.words_to_wire
    for i, block in enumerate(blocks):
        slot = block.miniport_offload_context
        chain = block.net_buffer_list_chain
        wire_chain: list[WireNbl] | None = None
        if chain is not None:
            wire_chain = []
            for nbl in chain:
                nid = nbl_ids.get(id(nbl))
                if nid is None:
                    nid = nbl_ids[id(nbl)] = next_nbl()
                nbls[nid] = nbl
                wire_chain.append(WireNbl(nid, nbl.data, _u32(nbl.status)))
        nxt = block.next_block
        dep = block.dependent_block_list
        out.append(
            Block(
                i,
                _u32(block.state_type, 0xFFFFFFFF),
                None if nxt is None else position.get(id(nxt)),
                None if dep is None else position.get(id(dep)),
                _u32(block.status),
                slot is not None,
                None if slot is None else to_wire(slot.value),
                to_wire(block.ndis_offload_handle),
                to_wire(block.source_handle),
                _u32(block.port_number),
                words(block.protocol_reserved),
                words(block.miniport_reserved),
                words(block.im_reserved),
                words(block.scratch),
                _wire_state(block.state),
                wire_chain,
            )
        )
    return out, nbls


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


def _model_state(state: State, nbls: dict[int, NetBufferList]) -> object:
    if isinstance(state, TcpState):
        delegated = state.delegated

        def nbl(ref: object) -> object:
            if isinstance(ref, _NblRef):
                return nbls.setdefault(ref.wire_id, ref)
            return ref

        delegated = replace(
            delegated,
            send_data_head=nbl(delegated.send_data_head),  # type: ignore[arg-type]
            send_data_tail=nbl(delegated.send_data_tail),  # type: ignore[arg-type]
            buffered_data=tuple(nbl(b) for b in delegated.buffered_data),  # type: ignore[misc]
        )
        return TcpOffloadState(const=state.const, cached=state.cached, delegated=delegated)
    if isinstance(state, PathState):
        return PathOffloadState(const=state.const, cached=state.cached, delegated=state.delegated)
    return NeighborOffloadState(const=state.const, cached=state.cached, delegated=state.delegated)


def _same(old: object, new: object) -> bool:
    try:
        return old is new or bool(old == new)
    except Exception:  # a hostile __eq__ of a value already in the tree
        return False


def apply_image(
    images: Sequence[BlockImage],
    blocks: Sequence[OffloadBlockList],
    nbls: dict[int, NetBufferList],
    table: PointerTable,
) -> None:
    """Write what a target sent for each block onto the block it names.

    Raises:
        WireError: a position out of range or given twice, an NBL that is not the block's.
    """
    n = len(blocks)
    seen: set[int] = set()
    for image in images:
        i = image.position
        if i >= n:
            raise WireError(
                f"block position {i} is out of range: the tree handed over has {n} blocks "
                f"(positions 0..{n - 1})"
            )
        if i in seen:
            raise WireError(f"block position {i} appears twice in one completion")
        seen.add(i)
    for image in images:
        _apply_one(image, blocks, nbls, table)


def _position(value: int | None, blocks: Sequence[OffloadBlockList], name: str) -> object:
    if value is None:
        return None
    if value >= len(blocks):
        raise WireError(f"{name} names block position {value}, out of range")
    return blocks[value]


def _apply_one(
    image: BlockImage,
    blocks: Sequence[OffloadBlockList],
    nbls: dict[int, NetBufferList],
    table: PointerTable,
) -> None:
    block = blocks[image.position]
    unset = msgspec.UNSET
    if image.status is not unset:
        block.status = status_from_wire(image.status)
    if image.context is not unset:
        value = table.from_wire(image.context)
        if type(value) is int:
            table.seen.add(value)
        slot = block.miniport_offload_context
        if slot is None:
            # A placeholder has no slot: a context for it changes a host-owned field.
            block.miniport_offload_context = ContextSlot(value)
        elif not _same(slot.value, value):
            slot.value = value
    updates: dict[str, object] = {}
    for name in ("miniport_reserved", "scratch", "protocol_reserved", "im_reserved"):
        words = getattr(image, name)
        if words is not unset:
            updates[name] = table.words_from_wire(words)
    if image.state_type is not unset:
        updates["state_type"] = image.state_type
    if image.next_block is not unset:
        updates["next_block"] = _position(image.next_block, blocks, "next_block")
    if image.dependent_block_list is not unset:
        updates["dependent_block_list"] = _position(
            image.dependent_block_list, blocks, "dependent_block_list"
        )
    for name in ("ndis_offload_handle", "source_handle"):
        pointer = getattr(image, name)
        if pointer is not unset:
            updates[name] = table.from_wire(pointer)
    if image.port_number is not unset:
        updates["port_number"] = image.port_number
    if image.state is not unset:
        updates["state"] = None if image.state is None else _model_state(image.state, nbls)
    for name, value in updates.items():
        old = getattr(block, name)
        if isinstance(old, list) and isinstance(value, list) and old == value:
            continue
        if not _same(old, value):
            setattr(block, name, value)
    if image.nbl_statuses is not unset:
        own = {id(nbl) for nbl in block.net_buffer_list_chain or ()}
        for entry in image.nbl_statuses:
            nbl = nbls.get(entry.id)
            if nbl is None or id(nbl) not in own:
                raise WireError(
                    f"block {image.position} writes the status of NBL {entry.id}, which is "
                    "not in its net_buffer_list_chain"
                )
            status = status_from_wire(entry.status)
            if not _same(nbl.status, status):
                nbl.status = status


# -- the serving side --------------------------------------------------------------------


def decode_blocks(
    wire: Sequence[Block], table: PointerTable
) -> tuple[list[OffloadBlockList], dict[int, NetBufferList]]:
    """Python blocks built from the wire blocks of one initiate, and its NBLs by id.

    Raises:
        WireError: positions out of order, or links to positions out of range.
    """
    nbls: dict[int, NetBufferList] = {}
    blocks: list[OffloadBlockList] = []
    for i, item in enumerate(wire):
        if item.position != i:
            raise WireError(f"block {i} carries position {item.position}")
        chain: tuple[NetBufferList, ...] | None = None
        if item.net_buffer_list_chain is not None:
            made = []
            for w in item.net_buffer_list_chain:
                nbl = NetBufferList(w.data, status_from_wire(w.status))  # type: ignore[arg-type]
                nbls[w.id] = nbl
                made.append(nbl)
            chain = tuple(made)
        block = OffloadBlockList(
            item.state_type,
            state=None,
            miniport_offload_context=(
                ContextSlot(table.from_wire(item.context)) if item.context_slot else None
            ),
            ndis_offload_handle=table.from_wire(item.ndis_offload_handle),
            net_buffer_list_chain=chain,
            port_number=item.port_number,
        )
        block.status = status_from_wire(item.status)
        block.source_handle = table.from_wire(item.source_handle)
        block.protocol_reserved = table.words_from_wire(item.protocol_reserved)
        block.miniport_reserved = table.words_from_wire(item.miniport_reserved)
        block.im_reserved = table.words_from_wire(item.im_reserved)
        block.scratch = table.words_from_wire(item.scratch)
        blocks.append(block)
    for item, block in zip(wire, blocks, strict=True):
        block.next_block = _position(item.next_block, blocks, "next_block")  # type: ignore[assignment]
        block.dependent_block_list = _position(  # type: ignore[assignment]
            item.dependent_block_list, blocks, "dependent_block_list"
        )
        if item.state is not None:
            block.state = _model_state(item.state, nbls)  # type: ignore[assignment]
    return blocks, nbls


_HOST_FIELDS = (
    "next_block",
    "dependent_block_list",
    "state_type",
    "ndis_offload_handle",
    "source_handle",
    "port_number",
    "protocol_reserved",
    "im_reserved",
    "state",
)


def host_fields(block: OffloadBlockList) -> tuple[object, ...]:
    """The host-owned fields of a block as handed over (copies of its arrays), to compare
    with later by :func:`image_of`."""
    values = [getattr(block, name, None) for name in _HOST_FIELDS]
    values[6] = tuple(values[6] or ())
    values[7] = tuple(values[7] or ())
    nbls = block.net_buffer_list_chain or ()
    return (*values, tuple(nbl.status for nbl in nbls))


def image_of(
    blocks: Sequence[OffloadBlockList],
    handed: Sequence[tuple[object, ...]],
    nbl_ids: dict[int, int],
    table: PointerTable,
) -> list[BlockImage]:
    """What a Python target wrote into each block: the status, context and target-owned
    words always, host-owned fields only where they differ from ``handed``
    (:func:`host_fields` of each block at hand-over)."""
    position = {id(b): i for i, b in enumerate(blocks)}
    out: list[BlockImage] = []
    for i, block in enumerate(blocks):
        image = BlockImage(i, status=_u32(getattr(block, "status", 0)))
        slot = getattr(block, "miniport_offload_context", None)
        if slot is not None:
            image.context = table.to_wire(getattr(slot, "value", None))
        image.miniport_reserved = table.words_to_wire(getattr(block, "miniport_reserved", ()))
        image.scratch = table.words_to_wire(getattr(block, "scratch", ()))
        now = host_fields(block)
        if now != handed[i]:
            _changed(
                image,
                now=now,
                before=handed[i],
                position=position,
                nbl_ids=nbl_ids,
                block=block,
                table=table,
            )
        out.append(image)
    return out


def _changed(
    image: BlockImage,
    *,
    now: tuple[object, ...],
    before: tuple[object, ...],
    position: dict[int, int],
    nbl_ids: dict[int, int],
    block: OffloadBlockList,
    table: PointerTable,
) -> None:
    for k, name in enumerate(_HOST_FIELDS):
        if _same(now[k], before[k]):
            continue
        value = now[k]
        if name in ("next_block", "dependent_block_list"):
            wire: object = None if value is None else position.get(id(value), len(position))
        elif name in ("ndis_offload_handle", "source_handle"):
            wire = table.to_wire(value)
        elif name in ("protocol_reserved", "im_reserved"):
            wire = table.words_to_wire(value)
        elif name == "state":
            wire = _wire_state(value)
        else:
            wire = _u32(value, 0xFFFFFFFF)
        setattr(image, name, wire)
    if now[-1] != before[-1]:
        image.nbl_statuses = [
            NblStatus(nbl_ids.get(id(nbl), 0), _u32(nbl.status))
            for nbl in block.net_buffer_list_chain or ()
        ]
