"""Aims at the cause-code rules: each limit the declaration names, provoked and respected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import strategies as st

from pytest_offload.generate._aims._base import (
    Scenario,
    ScenarioStrategy,
    _benign_path,
    _benign_tcp,
    _new,
)
from pytest_offload.generate._spec import TreeSpec
from pytest_offload.generate._strategies import (
    CLOSING_STATES,
)
from pytest_offload.model import (
    NeighborOffloadState,
    NeighborOffloadStateConst,
    PathOffloadState,
    PathOffloadStateCached,
    TcpConnectionState,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateDelegated,
)

if TYPE_CHECKING:
    from pytest_offload.model import OffloadCapabilities


def _advertised(caps: OffloadCapabilities) -> ScenarioStrategy:
    return st.builds(
        lambda p, t: (TreeSpec((_new(NeighborOffloadState(), _new(p, _new(t))),)),),
        _benign_path(caps),
        _benign_tcp(caps),
    )


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
