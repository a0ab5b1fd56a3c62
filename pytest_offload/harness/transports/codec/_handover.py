"""The wire columns an initiate needs, taken from the host's hand-over snapshot.

The host records every block at hand-over (``harness._snapshot``): its order, its parent
and sibling links as positions, and every field as a column. The process transport
encodes an initiate from that record, so the suite side pays a few C-level passes per
column and never a second walk of the blocks (benchmarks/bench_process.py). Each
function here has a general twin in ``_encode`` or ``_columns`` that works from the blocks
alone; the twins give the same wire tree (tests/test_wire.py compares them on generated
trees).
"""

from __future__ import annotations

from itertools import repeat
from operator import is_not
from typing import TYPE_CHECKING

from pytest_offload.harness._snapshot import NO_SLOT, NULL_PAIR
from pytest_offload.model import NdisStatus, OffloadStateType

if TYPE_CHECKING:
    from pytest_offload.harness._snapshot import TreeSnapshot

__all__ = [
    "all_none",
    "all_null_pairs",
    "all_pending",
    "links",
    "slot_values",
    "state_types",
]

_TYPE_INT: dict[object, int] = {member: int(member) for member in OffloadStateType}


def links(snapshot: TreeSnapshot) -> tuple[list[int | None], list[int | None]]:
    """The ``next_block`` and ``dependent_block_list`` positions of every block.

    In depth-first breadth-next order a block's first dependent follows it, and its next
    sibling follows its dependents' subtree (``subtree_end``); only the last block of
    each sibling chain has no next block, and only blocks with dependents a first one.
    """
    n = len(snapshot.blocks)
    next_block: list[int | None] = list(snapshot.subtree_end)
    dependent: list[int | None] = [None] * n
    dependents = snapshot.dependents
    for parent in snapshot.internal:
        dependent[parent] = parent + 1
        next_block[dependents[parent][-1]] = None
    if snapshot.roots:
        next_block[snapshot.roots[-1]] = None
    return next_block, dependent


def slot_values(snapshot: TreeSnapshot) -> tuple[list[bool], list[object]]:
    """Whether each block has a context slot, and what the slot held at hand-over
    (``None`` for a block without one)."""
    values = snapshot.image.slot_values
    n = len(values)
    try:
        empty = values.count(None)  # slots of new offloads
    except Exception:  # a linker's context (the target's object) with a hostile __eq__
        empty = -1
    if empty == n:  # new offloads only
        return [True] * n, [None] * n
    has_slot = list(map(is_not, values, repeat(NO_SLOT)))
    if empty == sum(has_slot):  # new offloads and placeholders
        return has_slot, [None] * n
    return has_slot, [None if v is NO_SLOT else v for v in values]


def state_types(values: list[object]) -> list[int] | None:
    """The ``state_type`` column as ints, when every value is one NDIS defines
    (``None`` otherwise: the general conversion handles a robustness case's type)."""
    try:
        return list(map(_TYPE_INT.__getitem__, values))
    except (KeyError, TypeError):
        return None


def all_pending(statuses: list[object]) -> bool:
    """Whether every block was handed over with ``NDIS_STATUS_PENDING``."""
    try:
        return statuses.count(NdisStatus.PENDING) == len(statuses)
    except Exception:  # a hostile value: let the general conversion look at each
        return False


def all_null_pairs(words: list[object]) -> bool:
    """Whether a reserved column holds two NULL words for every block (the snapshot
    interns that pair, so the count is an identity test per block)."""
    try:
        return words.count(NULL_PAIR) == len(words)
    except Exception:
        return False


def all_none(values: list[object]) -> bool:
    """Whether every entry of a column is ``None`` (one identity test per entry)."""
    try:
        return values.count(None) == len(values)
    except Exception:  # a hostile __eq__ of a value in the column
        return False
