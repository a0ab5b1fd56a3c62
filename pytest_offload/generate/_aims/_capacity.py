"""Aims at the capacity rules: filling a declared capacity, and the depth-first order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import strategies as st

from pytest_offload.generate._aims._base import (
    Scenario,
    ScenarioStrategy,
    _benign_path,
    _benign_tcp,
    _general,
    _new,
)
from pytest_offload.generate._spec import BlockSpec, TreeSpec
from pytest_offload.model import (
    NeighborOffloadState,
    OffloadStateType,
    Role,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    state_type_of,
)

if TYPE_CHECKING:
    from pytest_offload.model import OffloadCapabilities


def _filler(caps: OffloadCapabilities, count: int, first: int = 0) -> list[TcpOffloadState]:
    """``count`` benign connections with distinct 4-tuples: fixed, not drawn, since only
    the few connections at the edge of capacity decide anything."""
    wnd = min(65535, caps.max_initial_rcv_wnd)
    cached = TcpOffloadStateCached(initial_rcv_wnd=wnd)
    return [
        TcpOffloadState(
            const=TcpOffloadStateConst(local_port=1024 + k % 60000, remote_port=1 + k // 60000),
            cached=cached,
        )
        for k in range(first, first + count)
    ]


def _capacity_edge(caps: OffloadCapabilities) -> ScenarioStrategy:
    """Fill TCP capacity but for a few slots, then offer a few more connections than fit
    on the same path (through a placeholder and a linker); now and then some of them are
    provoked to fail for a declared cause first, so a target that counts failed attempts
    against its capacity answers TCP_ENTRIES too early (INI-ENTRIES-CAUSE)."""
    cap = caps.tcp_connection_offload_capacity

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        room = draw(st.integers(0, min(cap, 3)))
        extra = draw(st.integers(1, 3))
        path = draw(_benign_path(caps))
        filler = TreeSpec(
            (_new(NeighborOffloadState(), _new(path, *map(_new, _filler(caps, cap - room)))),)
        )
        fails = _failing_tcp(caps)
        # No receive-window limit declared: no connection is predicted to fail (a list of
        # nothing() is an error in Hypothesis, not an empty list).
        failing = draw(st.lists(fails, max_size=3)) if room and not fails.is_empty else []
        offered = tuple(
            _new(t)
            for t in failing
            + draw(st.lists(_benign_tcp(caps), min_size=room + extra, max_size=room + extra))
        )
        path_type = state_type_of(path)
        link = BlockSpec(Role.LINKER, path_type, ref=0, dependents=offered)
        second = TreeSpec(
            (BlockSpec(Role.PLACEHOLDER, OffloadStateType.NEIGHBOR, dependents=(link,)),)
        )
        return (filler, second)

    return build()


def _failing_tcp(caps: OffloadCapabilities) -> st.SearchStrategy[TcpOffloadState]:
    """Connections the declaration predicts to fail (a receive window over the limit)."""
    if caps.max_initial_rcv_wnd >= 0xFFFFFFFF:
        return st.nothing()
    over = TcpOffloadStateCached(initial_rcv_wnd=caps.max_initial_rcv_wnd + 1)
    return st.just(TcpOffloadState(cached=over))


def _depth_first(caps: OffloadCapabilities) -> ScenarioStrategy:
    """One initiate on a fresh target offering more connections than fit, spread over
    several paths and neighbors, where TCP capacity is the only limit: the connections
    offloaded must be the first in depth-first, breadth-next order (a target walking
    ``next_block`` before dependents offloads later subtrees first)."""
    cap = caps.tcp_connection_offload_capacity
    most_neighbors = 2 if caps.neighbor_capacity is None or caps.neighbor_capacity >= 2 else 1
    most_paths = 4 if caps.path_capacity is None else max(1, min(4, caps.path_capacity))

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        extra = draw(st.integers(1, 3))
        neighbors = draw(st.integers(1, most_neighbors))
        paths_each = [
            draw(st.integers(1, max(1, most_paths // neighbors))) for _ in range(neighbors)
        ]
        paths = sum(paths_each)
        total = cap + extra
        cuts = sorted(
            draw(st.lists(st.integers(0, total), min_size=paths - 1, max_size=paths - 1))
        )
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        states = iter(_filler(caps, total))
        path_specs = [
            _new(draw(_benign_path(caps)), *(_new(next(states)) for _ in range(size)))
            for size in sizes
        ]
        roots, at = [], 0
        for count in paths_each:
            roots.append(_new(NeighborOffloadState(), *path_specs[at : at + count]))
            at += count
        return (TreeSpec(tuple(roots)),)

    return build()


def _capacity_cost(caps: OffloadCapabilities) -> int:
    """Blocks a capacity case builds: about the declared TCP capacity."""
    return caps.tcp_connection_offload_capacity


def _too_big_capacity(caps: OffloadCapabilities) -> str | None:
    if caps.tcp_connection_offload_capacity > 1_000_000:
        return (
            f"target declares tcp_connection_offload_capacity="
            f"{caps.tcp_connection_offload_capacity}: above 1,000,000 no case can fill it "
            "(rules.md 4.1)"
        )
    return None


def _entries_cause(caps: OffloadCapabilities) -> ScenarioStrategy:
    if _too_big_capacity(caps) is not None:
        return _general(caps)  # its opportunities need no filling: blocks within capacity
    return _capacity_edge(caps)
