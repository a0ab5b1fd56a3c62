"""Large trees for the benchmarks, and the bare traversal they are measured against."""

from __future__ import annotations

from typing import TYPE_CHECKING

import reference_target
from pytest_offload import (
    NeighborOffloadState,
    OffloadBlockList,
    PathOffloadState,
    PathOffloadStateConst,
    TcpOffloadState,
    chain,
    new_offload,
)

if TYPE_CHECKING:
    from pytest_offload import Host
    from reference_target import ReferenceTarget


def big_tree(blocks: int) -> OffloadBlockList:
    """About ``blocks`` blocks: neighbors of 10 paths of 9 connections (100 blocks each)."""
    neighbors = []
    tcp = TcpOffloadState()
    for n in range(max(1, blocks // 100)):
        paths = []
        for p in range(10):
            source = bytes([10, n >> 8 & 0xFF, n & 0xFF, p])
            state = PathOffloadState(const=PathOffloadStateConst(source_address=source))
            paths.append(new_offload(state, *(new_offload(tcp) for _ in range(9))))
        neighbors.append(new_offload(NeighborOffloadState(), *paths))
    head = chain(neighbors)
    assert head is not None
    return head


def capacity_bound_target(host: Host, blocks: int) -> ReferenceTarget:
    """A fresh reference target with TCP capacity for a tenth of ``big_tree(blocks)``'s
    connections and no other limit in reach: the tree exhausts it, so failures are judged
    (entries, partial success, depth-first order) and not only successes."""
    return reference_target.create_target(
        host, tcp_capacity=blocks // 10, neighbor_capacity=None, path_capacity=None,
        ip_address_capacity=blocks, memory_budget=None, xmit_buffers=blocks,
        rcv_buffers=blocks,
    )  # fmt: skip


def bare_traversal(root: OffloadBlockList) -> int:
    """The baseline: visit every block depth-first, breadth-next, touching its status."""
    count = 0
    stack = [root]
    while stack:
        block = stack.pop()
        count += block.status is not None
        if block.next_block is not None:
            stack.append(block.next_block)
        if block.dependent_block_list is not None:
            stack.append(block.dependent_block_list)
    return count
