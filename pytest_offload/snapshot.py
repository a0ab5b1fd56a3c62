"""Snapshots of a tree: its shape at hand-over and images of its fields at later moments.

The checker never walks the tree the target handed back (a broken target may have relinked
it); it judges the blocks it recorded at hand-over, in depth-first breadth-next order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_offload.tree import OffloadBlockList, Role, iter_depth_first, layer_name

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["NO_SLOT", "TreeImage", "TreeSnapshot", "capture", "take_snapshot"]


class _NoSlot:
    """Marks a block that has no context slot (a placeholder), distinct from ``None``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_SLOT"


NO_SLOT = _NoSlot()


def _frozen(value: object) -> object:
    # Reserved arrays are lists the target may write into; compare copies, not the lists.
    return tuple(value) if type(value) is list else value


@dataclass(frozen=True, slots=True)
class TreeImage:
    """Every field of every recorded block at one moment, by position.

    ``host_fields`` holds what the target may never change; ``statuses``, ``slot_values``
    and ``target_fields`` what it may write before completing; ``nbl_statuses`` the
    statuses of each block's send-data NBLs (only blocks that have a chain).
    """

    statuses: list[object]
    slot_values: list[object]
    target_fields: list[tuple[object, object]]
    host_fields: list[tuple[object, ...]]
    nbl_statuses: dict[int, tuple[object, ...]]


def capture(blocks: Sequence[OffloadBlockList]) -> TreeImage:
    """Copy the fields of ``blocks`` as they are now. Never raises on odd field values."""
    statuses: list[object] = []
    slot_values: list[object] = []
    target_fields: list[tuple[object, object]] = []
    host_fields: list[tuple[object, ...]] = []
    nbl_statuses: dict[int, tuple[object, ...]] = {}
    for position, block in enumerate(blocks):
        slot = block.miniport_offload_context
        statuses.append(block.status)
        slot_values.append(getattr(slot, "value", NO_SLOT) if slot is not None else NO_SLOT)
        target_fields.append((_frozen(block.miniport_reserved), _frozen(block.scratch)))
        chain = block.net_buffer_list_chain
        host_fields.append(
            (
                block.state_type,
                block.next_block,
                block.dependent_block_list,
                block.state,
                slot,
                block.ndis_offload_handle,
                _frozen(block.protocol_reserved),
                _frozen(block.im_reserved),
                block.source_handle,
                block.port_number,
                chain,
            )
        )
        if chain:
            nbl_statuses[position] = tuple(getattr(nbl, "status", None) for nbl in chain)
    return TreeImage(statuses, slot_values, target_fields, host_fields, nbl_statuses)


#: Names of the entries of ``TreeImage.host_fields``, for reports.
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


@dataclass(frozen=True, slots=True)
class TreeSnapshot:
    """The tree as the host handed it over: order, shape, roles and a full image.

    Positions follow the depth-first breadth-next order; ``parents[i]`` is -1 for blocks of
    the root chain; ``dependents[i]`` lists the immediate dependents of block ``i``.
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
    for block, position, parent, index in iter_depth_first(root):
        blocks.append(block)
        parents.append(parent)
        siblings.append(index)
        depths.append(depths[parent] + 1 if parent >= 0 else 0)
        roles.append(block.role)
        dependents.append([])
        if parent >= 0:
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
    )
