"""Snapshots of a tree: its shape at hand-over and images of its fields at later moments.

The checker never walks the tree the target handed back (a broken target may have relinked
it); it judges the blocks it recorded at hand-over, in depth-first breadth-next order.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from pytest_offload.model import OffloadBlockList, Role, iter_depth_first, layer_name

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "HOST_FIELD_NAMES",
    "NO_SLOT",
    "NULL_PAIR",
    "TARGET_FIELD_NAMES",
    "TreeImage",
    "TreeSnapshot",
    "capture",
    "take_snapshot",
]


class _NoSlot:
    """Marks a block that has no context slot (a placeholder), distinct from ``None``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_SLOT"


NO_SLOT = _NoSlot()


def _frozen(value: object) -> object:
    # Reserved arrays are lists the target may write into; compare copies, not the lists.
    return tuple(value) if type(value) is list else value


#: Names of the host-owned fields, in the order of ``TreeImage.host_columns``.
HOST_FIELD_NAMES = (
    "state_type",
    "next_block",
    "dependent_block_list",
    "state",
    "miniport_offload_context",
    "ndis_offload_handle",
    "protocol_reserved",
    "im_reserved",
    "source_handle",
    "port_number",
    "net_buffer_list_chain",
)
#: Names of the fields the target may use as scratch space, in ``target_columns`` order.
TARGET_FIELD_NAMES = ("miniport_reserved", "scratch")
_ARRAYS = frozenset({"protocol_reserved", "im_reserved", "miniport_reserved", "scratch"})
_GETTERS = {name: attrgetter(name) for name in (*HOST_FIELD_NAMES, *TARGET_FIELD_NAMES)}
_get_status = attrgetter("status")
#: Copies of reserved arrays that hold common contents are shared, so that comparing two
#: images finds an untouched array by identity instead of element by element.
#: Two NULL words: what an untouched reserved array reads as in every image.
NULL_PAIR: tuple[None, None] = (None, None)
_INTERNED: dict[object, object] = {NULL_PAIR: NULL_PAIR, (None,): (None,), (): ()}


class _Deleted:
    """What a field reads as when the target deleted it (``del block.status``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<deleted field>"


#: The value of a field the target deleted or made unreadable.
DELETED = _Deleted()


def _read(blocks: Sequence[OffloadBlockList], getter: Any) -> list[object]:
    """One field of every block; a field a target deleted (or broke) reads as DELETED."""
    try:
        return list(map(getter, blocks))
    except Exception:  # slow path, only for a tree a target damaged
        out: list[object] = []
        for block in blocks:
            try:
                out.append(getter(block))
            except Exception:  # a deleted or hostile field
                out.append(DELETED)
        return out


def _column(blocks: Sequence[OffloadBlockList], name: str) -> list[object]:
    values = _read(blocks, _GETTERS[name])
    if name not in _ARRAYS:
        return values
    if set(map(type, values)) == {list}:
        frozen: list[object] = list(map(tuple, values))  # type: ignore[arg-type]
    else:
        frozen = list(map(_frozen, values))
    try:
        return list(map(_INTERNED.get, frozen, frozen))
    except Exception:  # an unhashable (or hostile) value in an array: keep the copies
        return frozen


def _nbl_statuses(chain: object) -> tuple[object, ...]:
    try:
        return tuple(getattr(nbl, "status", None) for nbl in chain)  # type: ignore[attr-defined]
    except Exception:  # a chain replaced by something that is not a sequence
        return ()


@dataclass(frozen=True, slots=True)
class TreeImage:
    """Every field of every recorded block at one moment, one column per field.

    ``host_columns`` holds what the target may never change (in ``HOST_FIELD_NAMES``
    order); ``statuses``, ``slot_values`` and ``target_columns`` what it may write before
    completing; ``nbl_statuses`` the statuses of each block's send-data NBLs (only blocks
    that have a chain). Columns keep a field of all blocks side by side, so two images
    compare with one C-level list comparison per field.
    """

    statuses: list[object]
    slot_values: list[object]
    target_columns: tuple[list[object], ...]
    host_columns: tuple[list[object], ...]
    nbl_statuses: dict[int, tuple[object, ...]]

    @property
    def state_types(self) -> list[object]:
        """The ``state_type`` of every block."""
        return self.host_columns[0]

    @property
    def states(self) -> list[object]:
        """The state object of every block (``None`` for placeholders and linkers)."""
        return self.host_columns[3]

    @property
    def slots(self) -> list[object]:
        """The ``miniport_offload_context`` slot object of every block (``None`` for a
        placeholder)."""
        return self.host_columns[4]

    @property
    def handles(self) -> list[object]:
        """The ``ndis_offload_handle`` of every block."""
        return self.host_columns[5]

    @property
    def chains(self) -> list[object]:
        """The ``net_buffer_list_chain`` of every block."""
        return self.host_columns[10]

    def host_fields(self, position: int) -> tuple[object, ...]:
        """The host-owned fields of one block, in ``HOST_FIELD_NAMES`` order."""
        return tuple(column[position] for column in self.host_columns)

    def target_fields(self, position: int) -> tuple[object, ...]:
        """``miniport_reserved`` and ``scratch`` of one block."""
        return tuple(column[position] for column in self.target_columns)


def capture(blocks: Sequence[OffloadBlockList]) -> TreeImage:
    """Copy the fields of ``blocks`` as they are now. Never raises on odd field values."""
    statuses = _read(blocks, _get_status)
    slots = _read(blocks, _GETTERS["miniport_offload_context"])
    # A placeholder's slot (None), or anything else without a value, reads as NO_SLOT.
    slot_values = list(map(getattr, slots, repeat("value"), repeat(NO_SLOT)))
    host_columns = tuple(
        slots if name == "miniport_offload_context" else _column(blocks, name)
        for name in HOST_FIELD_NAMES
    )
    target_columns = tuple(_column(blocks, name) for name in TARGET_FIELD_NAMES)
    chains = host_columns[10]
    nbl_statuses = {
        position: _nbl_statuses(chains[position])
        for position in compress(range(len(chains)), chains)
    }
    return TreeImage(statuses, slot_values, target_columns, host_columns, nbl_statuses)


@dataclass(frozen=True, slots=True)
class TreeSnapshot:
    """The tree as the host handed it over: order, shape, roles and a full image.

    Positions follow the depth-first breadth-next order; ``parents[i]`` is -1 for blocks of
    the root chain; ``dependents[i]`` lists the immediate dependents of block ``i``;
    ``internal`` lists, in order, the blocks that have dependents; ``by_depth[d]`` the
    blocks at depth ``d``.
    """

    root: OffloadBlockList
    blocks: list[OffloadBlockList]
    parents: list[int]
    siblings: list[int]
    depths: list[int]
    roles: list[Role]
    dependents: list[list[int]]
    image: TreeImage
    subtree_end: list[int]
    by_role: dict[Role, list[int]]
    roots: list[int]
    internal: list[int]
    by_depth: list[list[int]]

    def __len__(self) -> int:
        return len(self.blocks)

    def path(self, position: int) -> str:
        """The readable path of a block, e.g. ``neighbor[0].path[1].tcp[0]``."""
        parts: list[str] = []
        while position >= 0:
            parts.append(f"{layer_name(self.depths[position])}[{self.siblings[position]}]")
            position = self.parents[position]
        return ".".join(reversed(parts))

    def position_of(self, path: str) -> int:
        """The position of the block at ``path`` (the inverse of :meth:`path`)."""
        for position in range(len(self.blocks)):
            if self.path(position) == path:
                return position
        raise KeyError(f"no block at {path!r}")


def take_snapshot(root: OffloadBlockList) -> TreeSnapshot:
    """Record the tree under ``root`` as handed over (call after setting statuses).

    Raises:
        TreeError: when the tree has a cycle or a shared block.
    """
    blocks: list[OffloadBlockList] = []
    parents: list[int] = []
    siblings: list[int] = []
    depths: list[int] = []
    roles: list[Role] = []
    dependents: list[list[int]] = []
    internal: list[int] = []
    by_depth: list[list[int]] = []
    for block, position, parent, index in iter_depth_first(root):
        blocks.append(block)
        parents.append(parent)
        siblings.append(index)
        depth = depths[parent] + 1 if parent >= 0 else 0
        depths.append(depth)
        if depth == len(by_depth):
            by_depth.append([])
        by_depth[depth].append(position)
        roles.append(block.role)
        dependents.append([])
        if parent >= 0:
            if not dependents[parent]:
                internal.append(parent)  # a first dependent comes right after its parent
            dependents[parent].append(position)
    # A block's dependent subtree is contiguous in depth-first order: [i + 1, end[i]).
    end = list(range(1, len(blocks) + 1))
    for position in range(len(blocks) - 1, 0, -1):
        parent = parents[position]
        if parent >= 0 and end[position] > end[parent]:
            end[parent] = end[position]
    by_role: dict[Role, list[int]] = {role: [] for role in Role}
    for position, role in enumerate(roles):
        by_role[role].append(position)
    roots = [i for i, parent in enumerate(parents) if parent < 0]
    return TreeSnapshot(
        root,
        blocks,
        parents,
        siblings,
        depths,
        roles,
        dependents,
        capture(blocks),
        end,
        by_role,
        roots,
        internal,
        by_depth,
    )
