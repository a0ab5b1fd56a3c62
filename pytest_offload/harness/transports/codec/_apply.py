"""The suite side, back: what a target sends (an image of every block) written onto the
very blocks it was handed (:func:`apply_image`), so the recording host and every rule judge
a process target as they judge an in-process one."""

from __future__ import annotations

import operator
from itertools import compress, repeat
from operator import is_not
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness._observation import MemoryWrite
from pytest_offload.harness.transports._messages import Image, State
from pytest_offload.harness.transports.codec._columns import _GET, _drain, _positions, _same
from pytest_offload.harness.transports.codec._states import _model_state
from pytest_offload.harness.transports.codec._values import (
    _MEMBERS,
    _PAIR,
    PointerTable,
    WireError,
    pointers_from_wire,
    status_from_wire,
)
from pytest_offload.model import ContextSlot, NetBufferList, is_poisoned, with_poison

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.model import OffloadBlockList

__all__ = ["apply_image", "memory_writes"]


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
