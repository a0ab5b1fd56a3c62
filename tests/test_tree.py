"""The tree model: roles, depth-first breadth-next traversal, paths and snapshots."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_offload import (
    NeighborOffloadState,
    OffloadBlockList,
    OffloadStateType,
    PathOffloadState,
    Role,
    TcpOffloadState,
    TreeError,
    capture,
    chain,
    iter_depth_first,
    linker,
    new_offload,
    placeholder,
    take_snapshot,
)
from pytest_offload.strategies import malformed_tree_specs, tree_specs

if TYPE_CHECKING:
    from pytest_offload.generate import TreeSpec


def named(name: str, state: object, *deps: OffloadBlockList) -> OffloadBlockList:
    block = new_offload(state, *deps)  # type: ignore[arg-type]
    block.source_handle = name
    return block


def figure_tree() -> OffloadBlockList:
    """The traversal figure of [C:traversing-a-state-tree]."""
    tcp = TcpOffloadState()
    n1 = named(
        "Neighbor1",
        NeighborOffloadState(),
        named("Path1", PathOffloadState(), named("TCP1", tcp), named("TCP2", tcp)),
        named("Path2", PathOffloadState(), named("TCP3", tcp)),
    )
    n2 = named(
        "Neighbor2",
        NeighborOffloadState(),
        named("Path3", PathOffloadState(), named("TCP4", tcp), named("TCP5", tcp)),
    )
    head = chain([n1, n2])
    assert head is not None
    return head


def test_depth_first_breadth_next_order_matches_the_documented_figure() -> None:
    order = [block.source_handle for block, *_ in iter_depth_first(figure_tree())]
    assert order == [
        "Neighbor1", "Path1", "TCP1", "TCP2", "Path2", "TCP3",
        "Neighbor2", "Path3", "TCP4", "TCP5",
    ]  # fmt: skip


def test_paths_name_layers_and_sibling_indexes() -> None:
    snap = take_snapshot(figure_tree())
    paths = [snap.path(i) for i in range(len(snap))]
    assert paths[:3] == ["neighbor[0]", "neighbor[0].path[0]", "neighbor[0].path[0].tcp[0]"]
    assert paths[5] == "neighbor[0].path[1].tcp[0]"
    assert paths[9] == "neighbor[1].path[0].tcp[1]"
    assert snap.position_of("neighbor[1].path[0]") == 7
    with pytest.raises(KeyError, match="neighbor\\[7\\]"):
        snap.position_of("neighbor[7]")


def test_roles_follow_the_context_slot() -> None:
    ctx = object()
    tree = placeholder(linker(ctx, OffloadStateType.IP4, new_offload(TcpOffloadState())))
    snap = take_snapshot(tree)
    assert snap.roles == [Role.PLACEHOLDER, Role.LINKER, Role.NEW_OFFLOAD]
    with pytest.raises(ValueError, match="must not be None"):
        linker(None, OffloadStateType.IP4)


def test_a_cycle_is_reported_not_followed_forever() -> None:
    a = new_offload(NeighborOffloadState())
    b = new_offload(NeighborOffloadState())
    a.next_block, b.next_block = b, a
    with pytest.raises(TreeError, match="reached twice"):
        take_snapshot(a)


def test_a_block_shared_by_two_parents_is_reported() -> None:
    shared = new_offload(TcpOffloadState())
    first, second = (
        new_offload(PathOffloadState(), shared),
        new_offload(PathOffloadState(), shared),
    )
    tree = new_offload(NeighborOffloadState(), first, second)
    with pytest.raises(TreeError):
        take_snapshot(tree)


def test_new_offload_type_follows_the_state() -> None:
    v6 = PathOffloadState(
        const=PathOffloadState().const.__class__(
            source_address=bytes(16), destination_address=bytes(16)
        )
    )
    assert new_offload(v6).state_type == OffloadStateType.IP6
    assert new_offload(PathOffloadState()).state_type == OffloadStateType.IP4
    assert new_offload(TcpOffloadState()).state_type == OffloadStateType.TCP


def _recursive_order(root: OffloadBlockList | None) -> list[OffloadBlockList]:
    out: list[OffloadBlockList] = []
    block = root
    while block is not None:
        out.append(block)
        out += _recursive_order(block.dependent_block_list)
        block = block.next_block
    return out


@given(
    st.one_of(tree_specs(max_neighbors=3, max_paths=3, max_connections=4), malformed_tree_specs())
)
def test_traversal_visits_each_block_once_in_the_recursive_order(spec: TreeSpec) -> None:
    root = spec.build()
    walked = [block for block, *_ in iter_depth_first(root)]
    assert walked == _recursive_order(root)
    assert len(walked) == len(spec)


@given(tree_specs(max_neighbors=3, max_paths=3, max_connections=4))
def test_snapshot_shape_is_consistent(spec: TreeSpec) -> None:
    snap = take_snapshot(spec.build())
    for i in range(len(snap)):
        parent = snap.parents[i]
        assert parent < i
        assert snap.depths[i] == (0 if parent < 0 else snap.depths[parent] + 1)
        if parent >= 0:
            assert i in snap.dependents[parent]
        assert snap.position_of(snap.path(i)) == i
        children = [snap.blocks.index(c) for c in snap.blocks[i].dependents()]
        assert children == snap.dependents[i]


@given(tree_specs())
def test_an_untouched_tree_captures_the_same_image(spec: TreeSpec) -> None:
    snap = take_snapshot(spec.build())
    again = capture(snap.blocks)
    assert again.host_columns == snap.image.host_columns
    assert again.target_columns == snap.image.target_columns
    assert again.statuses == snap.image.statuses
    assert again.nbl_statuses == snap.image.nbl_statuses


@given(tree_specs(), st.data())
def test_any_host_field_change_shows_in_the_image(spec: TreeSpec, data: st.DataObject) -> None:
    snap = take_snapshot(spec.build())
    i = data.draw(st.integers(0, len(snap) - 1))
    field = data.draw(
        st.sampled_from(["protocol_reserved", "im_reserved", "port_number", "state", "next_block"])
    )
    block = snap.blocks[i]
    if field in ("protocol_reserved", "im_reserved"):
        getattr(block, field)[1] = "scribble"
    elif field == "port_number":
        block.port_number += 1
    elif field == "state":
        block.state = None if block.state is not None else TcpOffloadState()
    else:
        block.next_block = None if block.next_block is not None else block
    assert capture(snap.blocks).host_fields(i) != snap.image.host_fields(i)
