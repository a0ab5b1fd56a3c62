"""The initiate-offload state tree: blocks, context slots, roles, traversal and paths."""

from __future__ import annotations

from enum import Enum, IntEnum
from itertools import pairwise
from typing import TYPE_CHECKING, Final

from pytest_offload.model._pointer import context_key
from pytest_offload.model._state import (
    NeighborOffloadState,
    NetBufferList,
    PathOffloadState,
    TcpOffloadState,
)
from pytest_offload.model._status import NdisStatus

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "LAYERS",
    "ContextSlot",
    "OffloadBlockList",
    "OffloadStateType",
    "Role",
    "TreeError",
    "chain",
    "iter_depth_first",
    "layer_of_type",
    "linker",
    "new_offload",
    "placeholder",
    "state_type_of",
]


class OffloadStateType(IntEnum):
    """OFFLOAD_STATE_TYPE: the value of a block's ``Header.Type``."""

    NEIGHBOR_CONST = 1
    NEIGHBOR_CACHED = 2
    NEIGHBOR_DELEGATED = 3
    NEIGHBOR = 4
    IP4_CONST = 5
    IP4_CACHED = 6
    IP4_DELEGATED = 7
    IP4 = 8
    IP6_CONST = 9
    IP6_CACHED = 10
    IP6_DELEGATED = 11
    IP6 = 12
    TCP_CONST = 13
    TCP_CACHED = 14
    TCP_DELEGATED = 15
    TCP_RESOURCE = 16
    TCP = 17
    FILTER_RESERVED = 0xFE
    MAXIMUM = 0xFF


#: Layer names by depth: neighbor blocks at the root, paths depend on them, TCP on paths.
LAYERS: Final = ("neighbor", "path", "tcp")

#: The combined types a new offload or linker of each layer carries [reading] (domain.md 7.13).
LAYER_TYPES: Final[dict[str, frozenset[int]]] = {
    "neighbor": frozenset({OffloadStateType.NEIGHBOR}),
    "path": frozenset({OffloadStateType.IP4, OffloadStateType.IP6}),
    "tcp": frozenset({OffloadStateType.TCP}),
}

STATE_CLASSES: Final[dict[int, type]] = {
    OffloadStateType.NEIGHBOR: NeighborOffloadState,
    OffloadStateType.IP4: PathOffloadState,
    OffloadStateType.IP6: PathOffloadState,
    OffloadStateType.TCP: TcpOffloadState,
}


def layer_of_type(state_type: object) -> str | None:
    """The layer a combined state type belongs to, or ``None`` for any other value."""
    for layer, types in LAYER_TYPES.items():
        if isinstance(state_type, int) and state_type in types:
            return layer
    return None


def layer_name(depth: int) -> str:
    """The layer a block at ``depth`` stands in (``dependent`` past the TCP layer)."""
    return LAYERS[depth] if depth < len(LAYERS) else "dependent"


class Role(Enum):
    """What a block is, fixed when the tree is handed over (rules.md section 3)."""

    PLACEHOLDER = "placeholder"
    LINKER = "linker"
    NEW_OFFLOAD = "new offload"


class ContextSlot:
    """The ``PVOID *MiniportOffloadContext`` of a block: host memory holding one pointer.

    ``value is None`` marks a new offload (the target writes its context here after
    offloading); any other value names an object this target offloaded earlier (a linker).
    """

    __slots__ = ("value",)

    def __init__(self, value: object = None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"ContextSlot({self.value!r})"


class OffloadBlockList:
    """One NDIS_MINIPORT_OFFLOAD_BLOCK_LIST with the state that follows it.

    The target writes ``status`` into every block, the context slot's value of new
    offloads, and may use ``miniport_reserved`` and ``scratch``; everything else belongs
    to the host (INI-HOST-FIELDS-INTACT).
    """

    __slots__ = (
        "dependent_block_list",
        "im_reserved",
        "miniport_offload_context",
        "miniport_reserved",
        "ndis_offload_handle",
        "net_buffer_list_chain",
        "next_block",
        "port_number",
        "protocol_reserved",
        "scratch",
        "source_handle",
        "state",
        "state_type",
        "status",
    )

    def __init__(
        self,
        state_type: int,
        *,
        state: NeighborOffloadState | PathOffloadState | TcpOffloadState | None = None,
        miniport_offload_context: ContextSlot | None = None,
        next_block: OffloadBlockList | None = None,
        dependent_block_list: OffloadBlockList | None = None,
        ndis_offload_handle: object = None,
        net_buffer_list_chain: tuple[NetBufferList, ...] | None = None,
        port_number: int = 0,
    ) -> None:
        self.state_type = state_type
        self.next_block = next_block
        self.dependent_block_list = dependent_block_list
        self.status: object = NdisStatus.PENDING
        self.miniport_offload_context = miniport_offload_context
        self.ndis_offload_handle = ndis_offload_handle
        self.state = state
        self.net_buffer_list_chain = net_buffer_list_chain
        self.protocol_reserved: list[object] = [None, None]
        self.miniport_reserved: list[object] = [None, None]
        self.im_reserved: list[object] = [None, None]
        self.scratch: list[object] = [None, None]
        self.source_handle: object = None
        self.port_number = port_number

    @property
    def role(self) -> Role:
        """The block's role as its context slot says now (fixed by the host at hand-over)."""
        slot = self.miniport_offload_context
        if slot is None:
            return Role.PLACEHOLDER
        # NULL or an invalid context is no context (rules.md section 3).
        return Role.NEW_OFFLOAD if context_key(slot.value) is None else Role.LINKER

    def dependents(self) -> Iterator[OffloadBlockList]:
        """The immediate dependents: the dependent block and its ``next_block`` chain."""
        block = self.dependent_block_list
        while block is not None:
            yield block
            block = block.next_block

    def __repr__(self) -> str:
        try:
            type_name = OffloadStateType(self.state_type).name
        except ValueError:
            type_name = repr(self.state_type)
        return f"<OffloadBlockList {type_name} {self.role.value} status={self.status!r}>"


class TreeError(ValueError):
    """The tree cannot be walked: a block is reached twice (a cycle or a shared block)."""


def iter_depth_first(
    root: OffloadBlockList | None,
) -> Iterator[tuple[OffloadBlockList, int, int, int]]:
    """Walk the tree depth-first, breadth-next (domain.md 1.5).

    Yields ``(block, position, parent_position, sibling_index)`` where positions count
    blocks in this order and ``parent_position`` is -1 for the root chain.

    Raises:
        TreeError: when a block is reached twice, so that a malformed host tree can never
            make the walk loop forever.
    """
    seen: set[int] = set()
    # Stack entries: (block, parent_position, sibling_index).
    stack: list[tuple[OffloadBlockList, int, int]] = []
    if root is not None:
        stack.append((root, -1, 0))
    position = 0
    while stack:
        block, parent, index = stack.pop()
        key = id(block)
        if key in seen:
            raise TreeError(
                f"block {block!r} is reached twice: the tree has a cycle or shares a block "
                "between two parents; every block must be reached exactly once"
            )
        seen.add(key)
        yield block, position, parent, index
        nxt = block.next_block
        if nxt is not None:
            stack.append((nxt, parent, index + 1))
        dep = block.dependent_block_list
        if dep is not None:
            stack.append((dep, position, 0))
        position += 1


def chain(blocks: Sequence[OffloadBlockList]) -> OffloadBlockList | None:
    """Link ``blocks`` through ``next_block`` in order and return the first (or ``None``)."""
    for first, second in pairwise(blocks):
        first.next_block = second
    return blocks[0] if blocks else None


def state_type_of(state: NeighborOffloadState | PathOffloadState | TcpOffloadState) -> int:
    """The combined ``OffloadStateType`` a new offload of ``state`` carries (IPv6 paths by
    their 16-byte source address); the one place the state classes map to types."""
    if isinstance(state, NeighborOffloadState):
        return OffloadStateType.NEIGHBOR
    if isinstance(state, TcpOffloadState):
        return OffloadStateType.TCP
    return OffloadStateType.IP6 if len(state.const.source_address) == 16 else OffloadStateType.IP4


def new_offload(
    state: NeighborOffloadState | PathOffloadState | TcpOffloadState,
    *dependents: OffloadBlockList,
    state_type: int | None = None,
    send_data: tuple[NetBufferList, ...] | None = None,
    handle: object = None,
) -> OffloadBlockList:
    """Build a new-offload block carrying ``state``, with ``dependents`` chained under it.

    The type follows from the state (IPv6 when the path's addresses are 16 bytes) unless
    ``state_type`` is given.
    """
    return OffloadBlockList(
        state_type_of(state) if state_type is None else state_type,
        state=state,
        miniport_offload_context=ContextSlot(),
        dependent_block_list=chain(dependents),
        net_buffer_list_chain=send_data,
        ndis_offload_handle=handle if handle is not None else object(),
    )


def linker(context: object, state_type: int, *dependents: OffloadBlockList) -> OffloadBlockList:
    """Build a linker naming ``context``, an object the target offloaded earlier."""
    if context is None:
        raise ValueError("a linker's context must not be None (None marks a new offload)")
    return OffloadBlockList(
        state_type,
        miniport_offload_context=ContextSlot(context),
        dependent_block_list=chain(dependents),
    )


def placeholder(*dependents: OffloadBlockList) -> OffloadBlockList:
    """Build a placeholder: no state, no context, only a node to hang ``dependents`` on."""
    return OffloadBlockList(OffloadStateType.NEIGHBOR, dependent_block_list=chain(dependents))
