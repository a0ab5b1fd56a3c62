"""Scenarios aimed at each rule's precondition, from the target's declaration.

The bundled suite runs one property per rule; each draws scenarios from the aim below so
that the rule has something to judge in nearly every case. An aim may find the
declaration leaves nothing to provoke (a target without interface VLANs can never owe a
VLAN mismatch): it then says why, and the rule is reported not exercised for that cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from pytest_offload.generate._runner import UNKNOWN
from pytest_offload.generate._spec import BlockSpec, InFlight, TreeSpec
from pytest_offload.generate._strategies import (
    CLOSING_STATES,
    malformed_tree_specs,
    path_states,
    scenarios,
    tcp_states,
    tree_specs,
)
from pytest_offload.model import (
    NeighborOffloadState,
    NeighborOffloadStateConst,
    OffloadStateType,
    PathOffloadState,
    PathOffloadStateCached,
    Role,
    TcpConnectionState,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
    state_type_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload.model import OffloadCapabilities

__all__ = ["AIMS", "Aim", "aim_for"]

Scenario = tuple[TreeSpec | InFlight, ...]
ScenarioStrategy = st.SearchStrategy[Scenario]


@dataclass(frozen=True, slots=True)
class Aim:
    """How to provoke one rule: a scenario strategy, or why the declaration rules it out."""

    build: Callable[[OffloadCapabilities], ScenarioStrategy]
    unreachable: Callable[[OffloadCapabilities], str | None] = lambda caps: None
    #: Blocks one case builds, when that grows with the declaration (capacity aims).
    cost: Callable[[OffloadCapabilities], int] | None = None
    #: Whether its cases are robustness cases (not applicable when those are turned off).
    robustness: bool = False
    #: Whether it judges a wire (not applicable to a target in the suite's process).
    wire: bool = False

    def examples(self, caps: OffloadCapabilities, budget: int) -> int:
        """Cases to generate: the budget, or fewer when each case fills a capacity above
        4,096 (at least 3), so that any declared capacity can be exercised."""
        if self.cost is None:
            return budget
        size = self.cost(caps)
        return budget if size <= 4096 else max(3, budget * 4096 // size)

    def not_applicable(
        self, caps: OffloadCapabilities, *, robustness: bool, transport: str | None = None
    ) -> str | None:
        """Why the declaration, the settings or the transport rule out every opportunity,
        if they do (``transport`` ``None``: the target runs in the suite's process)."""
        if self.robustness and not robustness:
            return "robustness cases are turned off (--offload-robustness=off)"
        if self.wire and transport is None:
            return "the target runs in the suite's process: nothing crosses a wire"
        return self.unreachable(caps)


def _single(strategy: st.SearchStrategy[TreeSpec]) -> ScenarioStrategy:
    return strategy.map(lambda spec: (spec,))


def _general(caps: OffloadCapabilities) -> ScenarioStrategy:
    return scenarios(capabilities=caps, min_initiates=1, max_initiates=3, in_flight=True)


def _linking(caps: OffloadCapabilities) -> ScenarioStrategy:
    return scenarios(capabilities=caps, min_initiates=2, max_initiates=3)


def _new(state: object, *deps: BlockSpec, send: tuple[int, ...] = ()) -> BlockSpec:
    assert isinstance(state, NeighborOffloadState | PathOffloadState | TcpOffloadState)
    return BlockSpec(
        Role.NEW_OFFLOAD, state_type_of(state), state, send_data=send, dependents=deps
    )


def _benign_path(caps: OffloadCapabilities) -> st.SearchStrategy[PathOffloadState]:
    version = 4 if caps.support_ipv4 else 6
    mtu = min(1500, caps.max_path_mtu)
    return path_states(ip_version=version).map(
        lambda p: PathOffloadState(const=p.const, cached=PathOffloadStateCached(path_mtu=mtu))
    )


def _benign_tcp(caps: OffloadCapabilities) -> st.SearchStrategy[TcpOffloadState]:
    wnd = min(65535, caps.max_initial_rcv_wnd)
    return tcp_states(established=True).map(
        lambda t: TcpOffloadState(const=t.const, cached=TcpOffloadStateCached(initial_rcv_wnd=wnd))
    )


# -- aims for single rules -------------------------------------------------------------


def _advertised(caps: OffloadCapabilities) -> ScenarioStrategy:
    return st.builds(
        lambda p, t: (TreeSpec((_new(NeighborOffloadState(), _new(p, _new(t))),)),),
        _benign_path(caps),
        _benign_tcp(caps),
    )


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


def _predicted_root_failure(caps: OffloadCapabilities) -> st.SearchStrategy[NeighborOffloadState]:
    options: list[st.SearchStrategy[NeighborOffloadState]] = []
    interface = caps.nonzero_interface_vlans
    if interface:
        outside = st.sampled_from([v for v in (1, 2, 4093, 4094, 4095) if v not in interface])
        options.append(
            outside.map(lambda v: NeighborOffloadState(const=NeighborOffloadStateConst(vlan_id=v)))
        )
    if not caps.configurable_source_mac:
        mac = st.integers(1, (1 << 40) - 1).map(lambda v: b"\x02" + v.to_bytes(5, "big"))
        options.append(
            mac.map(
                lambda m: NeighborOffloadState(
                    const=NeighborOffloadStateConst(dl_source_address=m)
                )
            )
        )
    return st.one_of(options)


def _root_siblings(caps: OffloadCapabilities) -> ScenarioStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        bad = draw(_predicted_root_failure(caps))
        siblings = draw(st.integers(1, 2))
        roots = [_new(bad, _new(draw(_benign_path(caps)), _new(draw(_benign_tcp(caps)))))]
        roots += [
            _new(NeighborOffloadState(), _new(draw(_benign_path(caps)))) for _ in range(siblings)
        ]
        return (TreeSpec(tuple(roots)),)

    return build()


def _no_predicted_failure(caps: OffloadCapabilities) -> str | None:
    if not caps.nonzero_interface_vlans and caps.configurable_source_mac:
        return (
            "target declares no non-zero interface_vlan_ids and configurable_source_mac=True: "
            "no root neighbor failure is predicted by the declaration"
        )
    return None


def _vlan_mismatch(caps: OffloadCapabilities) -> ScenarioStrategy:
    """Neighbors with VLAN 0, interface VLANs and others; half the cases offer more distinct
    interface VLANs than ``vlan_capacity``, so the VLAN table fills (VLAN_ENTRIES is due
    there, never VLAN_MISMATCH)."""
    interface = sorted(caps.nonzero_interface_vlans)
    vlans = st.one_of(st.sampled_from([0, *interface]), st.integers(1, 4095))
    mixed = st.lists(vlans, min_size=1, max_size=3)
    lists = mixed
    if len(interface) > caps.vlan_capacity and caps.vlan_capacity < 8:
        over = st.permutations(interface).map(lambda vs: vs[: caps.vlan_capacity + 1])
        lists = st.one_of(mixed, over)
    return lists.flatmap(
        lambda vs: st.tuples(*(_benign_path(caps) for _ in vs)).map(
            lambda paths: (
                TreeSpec(
                    tuple(
                        _new(
                            NeighborOffloadState(const=NeighborOffloadStateConst(vlan_id=v)),
                            _new(p),
                        )
                        for v, p in zip(vs, paths, strict=True)
                    )
                ),
            )
        )
    )


def _rejection_exists(caps: OffloadCapabilities) -> str | None:
    if caps.ndis_version >= (6, 20):
        return (
            f"target declares ndis_version={caps.ndis_version}: OFFLOAD_CONNECTION_REJECTED "
            "exists from 6.20"
        )
    return None


def _source_macs(caps: OffloadCapabilities) -> ScenarioStrategy:
    """Neighbors with and without their own source MAC, from a pool a little larger than
    the declared source-MAC capacity, so that capacity runs out."""
    room = caps.source_mac_capacity if caps.configurable_source_mac else 0
    pool = [bytes([2, 0, 0, 0, k >> 8 & 0xFF, k & 0xFF]) for k in range(1, min(room, 6) + 3)]
    state = st.sampled_from([*pool, bytes(6)]).map(
        lambda m: NeighborOffloadState(const=NeighborOffloadStateConst(dl_source_address=m))
    )
    return st.lists(state, min_size=2, max_size=len(pool) + 1).map(
        lambda ns: (TreeSpec(tuple(_new(n) for n in ns)),)
    )


def _rcv_window(caps: OffloadCapabilities) -> ScenarioStrategy:
    limit = caps.max_initial_rcv_wnd
    wnds = st.sampled_from(
        sorted({limit, max(limit - 1, 0), min(limit + 1, 0xFFFFFFFF), 0xFFFFFFFF})
    )
    return st.lists(wnds, min_size=1, max_size=3).flatmap(
        lambda ws: _benign_path(caps).map(
            lambda p: (
                TreeSpec(
                    (
                        _new(
                            NeighborOffloadState(),
                            _new(
                                p,
                                *(
                                    _new(
                                        TcpOffloadState(
                                            cached=TcpOffloadStateCached(initial_rcv_wnd=w)
                                        )
                                    )
                                    for w in ws
                                ),
                            ),
                        ),
                    )
                ),
            )
        )
    )


def _path_mtu(caps: OffloadCapabilities) -> ScenarioStrategy:
    limit = caps.max_path_mtu
    mtus = st.sampled_from(
        sorted({limit, max(limit - 1, 0), min(limit + 1, 0xFFFFFFFF), 0xFFFFFFFF})
    )
    return st.lists(
        st.tuples(mtus, _benign_path(caps), _benign_tcp(caps)), min_size=1, max_size=3
    ).map(
        lambda items: (
            TreeSpec(
                (
                    _new(
                        NeighborOffloadState(),
                        *(
                            _new(
                                PathOffloadState(
                                    const=p.const, cached=PathOffloadStateCached(path_mtu=m)
                                ),
                                _new(t),
                            )
                            for m, p, t in items
                        ),
                    ),
                )
            ),
        )
    )


def _closing(caps: OffloadCapabilities) -> ScenarioStrategy:
    states = st.sampled_from([TcpConnectionState.ESTABLISHED, *CLOSING_STATES])
    return st.tuples(_benign_path(caps), st.lists(states, min_size=1, max_size=4)).map(
        lambda pair: (
            TreeSpec(
                (
                    _new(
                        NeighborOffloadState(),
                        _new(
                            pair[0],
                            *(
                                _new(TcpOffloadState(delegated=TcpOffloadStateDelegated(state=s)))
                                for s in pair[1]
                            ),
                        ),
                    ),
                )
            ),
        )
    )


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


AIMS: dict[str, Aim] = {
    "INI-LINKER-STATUS": Aim(_linkers),
    "INI-PLACEHOLDER-SUCCESS": Aim(_linkers),
    "INI-CONTEXT-UNIQUE": Aim(_linking_or_in_flight),
    "INI-FAILED-SUBTREE": Aim(_failures),
    "INI-FAILED-SUBTREE-FAILURE": Aim(_failures),
    "INI-ROOT-SIBLINGS": Aim(_root_siblings, _no_predicted_failure),
    "INI-SEND-DATA-KEPT-ON-FAILURE": Aim(_send_data),
    "INI-HW-ADDRESS-CAUSE": Aim(_source_macs),
    "INI-VLAN-MISMATCH-CAUSE": Aim(_vlan_mismatch),
    "INI-RCV-WINDOW-CAUSE": Aim(_rcv_window),
    "INI-PATH-MTU-CAUSE": Aim(_path_mtu),
    "INI-CONNECTION-REJECTED-VERSION": Aim(_closing, _rejection_exists),
    "INI-CAPACITY": Aim(_capacity_edge_or_in_flight, _too_big_capacity, _capacity_cost),
    "INI-ENTRIES-CAUSE": Aim(_entries_cause, cost=_capacity_cost),
    "INI-DEPTH-FIRST": Aim(_depth_first, _too_big_capacity, _capacity_cost),
    "INI-ADVERTISED-WORKS": Aim(_advertised),
    "INI-MALFORMED-TREE": Aim(_malformed, robustness=True),
    "INI-UNKNOWN-LINKER": Aim(_unknown_linkers, robustness=True),
    "WIRE-PROTOCOL": Aim(_general, wire=True),
}

_GENERAL = Aim(_general)


def aim_for(rule_id: str) -> Aim:
    """The aim of ``rule_id`` (general scenarios for rules every case exercises)."""
    return AIMS.get(rule_id, _GENERAL)
