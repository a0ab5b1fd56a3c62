"""Aims at the tree-shaped rules: send data, linkers, trees in flight, malformed trees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import strategies as st

from pytest_offload.generate._aims._base import (
    Scenario,
    ScenarioStrategy,
    _benign_path,
    _benign_tcp,
    _linking,
    _new,
    _single,
)
from pytest_offload.generate._aims._capacity import (
    _capacity_edge,
)
from pytest_offload.generate._runner import UNKNOWN
from pytest_offload.generate._spec import BlockSpec, InFlight, TreeSpec
from pytest_offload.generate._strategies import (
    CLOSING_STATES,
    malformed_tree_specs,
    tree_specs,
)
from pytest_offload.model import (
    NeighborOffloadState,
    OffloadStateType,
    PathOffloadState,
    PathOffloadStateCached,
    Role,
    TcpConnectionState,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateDelegated,
    state_type_of,
)

if TYPE_CHECKING:
    from pytest_offload.model import OffloadCapabilities


def _send_data(caps: OffloadCapabilities) -> ScenarioStrategy:
    """TCP blocks with outstanding send data, half of them provoked to fail."""
    over = min(caps.max_initial_rcv_wnd + 1, 0xFFFFFFFF)
    provoke = caps.max_initial_rcv_wnd < 0xFFFFFFFF
    wnd = st.sampled_from(
        [65535 if caps.max_initial_rcv_wnd >= 65535 else 0, over] if provoke else [0]
    )
    state = st.one_of(
        wnd.map(lambda w: TcpOffloadState(cached=TcpOffloadStateCached(initial_rcv_wnd=w))),
        st.sampled_from(CLOSING_STATES).map(
            lambda s: TcpOffloadState(delegated=TcpOffloadStateDelegated(state=s))
        ),
        st.just(
            TcpOffloadState(delegated=TcpOffloadStateDelegated(state=TcpConnectionState.TIME_WAIT))
        ),
    )
    sends = st.lists(st.integers(1, 1460), min_size=1, max_size=3).map(tuple)
    conns = st.lists(
        st.tuples(state, sends), min_size=1, max_size=caps.tcp_connection_offload_capacity + 2
    )
    return st.tuples(_benign_path(caps), conns).map(
        lambda pair: (
            TreeSpec(
                (
                    _new(
                        NeighborOffloadState(),
                        _new(pair[0], *(_new(s, send=d) for s, d in pair[1])),
                    ),
                )
            ),
        )
    )


def _provoked_tcp(caps: OffloadCapabilities) -> st.SearchStrategy[TcpOffloadState]:
    """Connections that offload, or fail for a cause the declaration predicts."""
    options = [_benign_tcp(caps)]
    if caps.max_initial_rcv_wnd < 0xFFFFFFFF:
        over = TcpOffloadStateCached(initial_rcv_wnd=caps.max_initial_rcv_wnd + 1)
        options.append(st.just(TcpOffloadState(cached=over)))
    waiting = TcpOffloadStateDelegated(state=TcpConnectionState.TIME_WAIT)
    options.append(st.just(TcpOffloadState(delegated=waiting)))
    return st.one_of(options)


def _provoked_path(caps: OffloadCapabilities) -> st.SearchStrategy[PathOffloadState]:
    options = [_benign_path(caps)]
    if caps.max_path_mtu < 0xFFFFFFFF:
        over = PathOffloadStateCached(path_mtu=caps.max_path_mtu + 1)
        options.append(
            _benign_path(caps).map(lambda p: PathOffloadState(const=p.const, cached=over))
        )
    return st.one_of(options)


def _linkers(caps: OffloadCapabilities) -> ScenarioStrategy:
    """A benign first tree, so that objects surely exist; then trees that hang new
    connections (or paths) under them through placeholders and linkers, some of which
    are provoked to fail, and now and then a linker naming an object never offloaded."""

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        paths = draw(st.lists(_benign_path(caps), min_size=1, max_size=2))
        first = TreeSpec((_new(NeighborOffloadState(), *(_new(p) for p in paths)),))
        trees = [first]
        for _ in range(draw(st.integers(1, 2))):
            ref = draw(st.sampled_from([0, 1, 0, 1, 7]))  # 7: beyond what exists, wraps
            if draw(st.booleans()):
                tcps = draw(st.lists(_provoked_tcp(caps), min_size=1, max_size=3))
                path_type = _new(paths[ref % len(paths)]).state_type
                link = BlockSpec(
                    Role.LINKER, path_type, ref=ref, dependents=tuple(map(_new, tcps))
                )
                holder = BlockSpec(Role.PLACEHOLDER, OffloadStateType.NEIGHBOR, dependents=(link,))
                trees.append(TreeSpec((holder,)))
            else:
                new_paths = draw(st.lists(_provoked_path(caps), min_size=1, max_size=2))
                link = BlockSpec(
                    Role.LINKER,
                    OffloadStateType.NEIGHBOR,
                    ref=0,
                    dependents=tuple(map(_new, new_paths)),
                )
                trees.append(TreeSpec((link,)))
        return tuple(trees)

    return build()


def _unknown_linkers(caps: OffloadCapabilities) -> ScenarioStrategy:
    """A benign first tree, so that the target holds objects; then a tree whose linker (a
    path, or a neighbor) names a context the target never handed out, with new dependents
    under it (rules.md section 3: a robustness case)."""

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        path = draw(_benign_path(caps))
        first = TreeSpec((_new(NeighborOffloadState(), _new(path)),))
        if draw(st.booleans()):
            tcps = draw(st.lists(_benign_tcp(caps), min_size=1, max_size=3))
            link = BlockSpec(
                Role.LINKER, state_type_of(path), ref=UNKNOWN, dependents=tuple(map(_new, tcps))
            )
            root = BlockSpec(Role.PLACEHOLDER, OffloadStateType.NEIGHBOR, dependents=(link,))
        else:
            paths = draw(st.lists(_benign_path(caps), min_size=1, max_size=2))
            root = BlockSpec(
                Role.LINKER,
                OffloadStateType.NEIGHBOR,
                ref=UNKNOWN,
                dependents=tuple(map(_new, paths)),
            )
        second = TreeSpec((root,))
        if draw(st.booleans()):  # a sibling root within the declaration, after it
            return (first, TreeSpec((root, _new(NeighborOffloadState(), _new(path)))))
        return (first, second)

    return build()


def _in_flight(caps: OffloadCapabilities) -> ScenarioStrategy:
    """Two or three benign trees handed over together (domain.md 5.6), together offering
    more connections than fit: tables and capacity must hold across initiates in flight."""
    tree = st.tuples(_benign_path(caps), st.lists(_benign_tcp(caps), min_size=1, max_size=3)).map(
        lambda pair: TreeSpec((_new(NeighborOffloadState(), _new(pair[0], *map(_new, pair[1]))),))
    )
    return st.lists(tree, min_size=2, max_size=3).map(lambda trees: (InFlight(tuple(trees)),))


def _linking_or_in_flight(caps: OffloadCapabilities) -> ScenarioStrategy:
    return st.one_of(_linking(caps), _in_flight(caps))


def _capacity_edge_or_in_flight(caps: OffloadCapabilities) -> ScenarioStrategy:
    return st.one_of(_capacity_edge(caps), _in_flight(caps))


def _malformed(caps: OffloadCapabilities) -> ScenarioStrategy:
    return _single(malformed_tree_specs(capabilities=caps))


def _failures(caps: OffloadCapabilities) -> ScenarioStrategy:
    """Trees in which parents fail with dependents under them (not-attempted subtrees)."""
    return _single(tree_specs(capabilities=caps, max_neighbors=2, max_paths=3, max_connections=3))
