"""Public Hypothesis strategies for state objects, state trees and multi-initiate scenarios.

Every strategy takes the target's :class:`OffloadCapabilities` (optional) so that values
land at, under and past the declared limits and each cause code can be provoked on
purpose. Simple values come first, so shrinking leads to small, benign trees.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from pytest_offload.generate._spec import BlockSpec, InFlight, TreeSpec
from pytest_offload.model import (
    NATIVE_VLAN_POISON,
    NeighborOffloadState,
    NeighborOffloadStateConst,
    NetBufferList,
    OffloadStateType,
    PathOffloadState,
    PathOffloadStateCached,
    PathOffloadStateConst,
    Role,
    TcpConnectionState,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
    state_type_of,
)

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn, SearchStrategy

    from pytest_offload.model import OffloadBlockList, OffloadCapabilities

__all__ = [
    "malformed_tree_specs",
    "neighbor_states",
    "path_states",
    "scenarios",
    "state_trees",
    "tcp_states",
    "tree_specs",
]

ULONG_MAX = 0xFFFFFFFF
CLOSING_STATES = (
    TcpConnectionState.FIN_WAIT1,
    TcpConnectionState.FIN_WAIT2,
    TcpConnectionState.CLOSE_WAIT,
    TcpConnectionState.CLOSING,
    TcpConnectionState.LAST_ACK,
)


def _around(limit: int | None, benign: int, extras: tuple[int, ...]) -> SearchStrategy[int]:
    """``benign`` first, then boundary values at, under and past ``limit``."""
    values = [benign, *extras]
    if limit is not None:
        values += [limit - 1, limit, limit + 1]
    values = sorted({v for v in values if 0 <= v <= ULONG_MAX}, key=lambda v: v != benign)
    return st.sampled_from(values)


def _addresses(size: int) -> SearchStrategy[bytes]:
    """Non-zero addresses of ``size`` bytes that shrink towards ...0001."""
    return st.integers(1, (1 << (8 * size)) - 1).map(lambda v: v.to_bytes(size, "big"))


@lru_cache(maxsize=2)
def _addresses_cached(size: int) -> SearchStrategy[bytes]:
    return _addresses(size)


def _own_macs() -> SearchStrategy[bytes]:
    """Locally administered unicast MACs (never all zero)."""
    return st.integers(1, (1 << 40) - 1).map(lambda v: b"\x02" + v.to_bytes(5, "big"))


# Strategies are built once and cached: building them inside every draw made each drawn
# tree cost tens of milliseconds, which made shrinking slow.


@lru_cache(maxsize=64)
def _vlan_choices(interface: frozenset[int]) -> SearchStrategy[int]:
    vlans = sorted({0, 1, 4094, 4095} | interface)
    # Never the native harness's poison: a query must tell written from unwritten.
    others = st.integers(0, 4095).filter(lambda v: v != NATIVE_VLAN_POISON)
    return st.one_of(st.just(0), st.sampled_from(vlans), others)


@lru_cache(maxsize=1)
def _mac_choices() -> SearchStrategy[bytes]:
    return st.one_of(st.just(bytes(6)), _own_macs())


@lru_cache(maxsize=64)
def _around_cached(limit: int | None, benign: int, extras: tuple[int, ...]) -> SearchStrategy[int]:
    return _around(limit, benign, extras)


@lru_cache(maxsize=1)
def _connection_states() -> SearchStrategy[TcpConnectionState]:
    return st.one_of(st.just(TcpConnectionState.ESTABLISHED), st.sampled_from(CLOSING_STATES))


@lru_cache(maxsize=1)
def _buffered_sizes() -> SearchStrategy[list[int]]:
    return st.lists(st.integers(1, 4096), max_size=1)


def _check_sizes(**bounds: tuple[int, int]) -> None:
    for name, (low, high) in bounds.items():
        if low < 0:
            raise InvalidArgument(f"min_{name}={low} must be at least 0")
        if high < low:
            raise InvalidArgument(f"max_{name}={high} < min_{name}={low}")


@st.composite
def neighbor_states(
    draw: DrawFn, *, capabilities: OffloadCapabilities | None = None
) -> NeighborOffloadState:
    """Neighbor states: VLAN 0, 1, 4094, 4095 and the interface's IDs; zero or own MACs."""
    interface = capabilities.interface_vlan_ids if capabilities is not None else frozenset()
    vlan = draw(_vlan_choices(interface))
    mac = draw(_mac_choices())
    return NeighborOffloadState(
        const=NeighborOffloadStateConst(dl_source_address=mac, vlan_id=vlan)
    )


@st.composite
def path_states(
    draw: DrawFn,
    *,
    ip_version: int | None = None,
    capabilities: OffloadCapabilities | None = None,
) -> PathOffloadState:
    """Path states, IPv4 or IPv6, with path MTUs at, under and past ``max_path_mtu``."""
    if ip_version not in (None, 4, 6):
        raise InvalidArgument(f"ip_version={ip_version!r} must be 4, 6 or None")
    version = ip_version or draw(st.sampled_from([4, 6]))
    size = 4 if version == 4 else 16
    # Addresses from integers, not filtered bytes: filters make shrinking slow.
    source = draw(_addresses_cached(size))
    destination = draw(_addresses_cached(size))
    limit = capabilities.max_path_mtu if capabilities is not None else None
    mtu = draw(_around_cached(limit, 1500, (576, 1280, 9000)))
    return PathOffloadState(
        const=PathOffloadStateConst(source_address=source, destination_address=destination),
        cached=PathOffloadStateCached(path_mtu=mtu),
    )


@st.composite
def tcp_states(
    draw: DrawFn,
    *,
    capabilities: OffloadCapabilities | None = None,
    established: bool = False,
) -> TcpOffloadState:
    """TCP states with receive windows around ``max_initial_rcv_wnd``, closing states and
    buffered receive data; ``established=True`` keeps to ESTABLISHED without buffered data.
    """
    limit = capabilities.max_initial_rcv_wnd if capabilities is not None else None
    wnd = draw(_around_cached(limit, 65535, (0, 1 << 20)))
    buffered: tuple[NetBufferList, ...] = ()
    if established:
        state = TcpConnectionState.ESTABLISHED
    else:
        state = draw(_connection_states())
        sizes = draw(_buffered_sizes())
        buffered = tuple(NetBufferList(bytes(n)) for n in sizes)
    const = TcpOffloadStateConst(
        flags=draw(st.sampled_from([0, 0x01, 0x02, 0x03])),  # timestamps, SACK
        remote_port=draw(st.integers(1, 0xFFFF)),
        local_port=draw(st.integers(1024, 0xFFFF)),
        snd_wind_scale=draw(st.integers(0, 14)),
        rcv_wind_scale=draw(st.integers(0, 14)),
        remote_mss=draw(st.sampled_from([536, 1220, 1380, 1460, 8960])),
    )
    return TcpOffloadState(
        const=const,
        cached=TcpOffloadStateCached(initial_rcv_wnd=wnd),
        delegated=TcpOffloadStateDelegated(state=state, buffered_data=buffered),
    )


def _as_tuple(values: list[int]) -> tuple[int, ...]:
    return tuple(values)


def _new(
    state: NeighborOffloadState | PathOffloadState | TcpOffloadState, **kw: object
) -> BlockSpec:
    return BlockSpec(Role.NEW_OFFLOAD, state_type_of(state), state, **kw)  # type: ignore[arg-type]


@lru_cache(maxsize=64)
def _roots(  # noqa: PLR0917 (a private, cached constructor keyed by every argument)
    capabilities: OffloadCapabilities | None,
    min_neighbors: int,
    max_neighbors: int,
    max_paths: int,
    max_connections: int,
    benign: bool,
) -> SearchStrategy[list[BlockSpec]]:
    neighbors = (
        st.builds(NeighborOffloadState) if benign else neighbor_states(capabilities=capabilities)
    )
    if benign:
        version = 4 if capabilities is None or capabilities.support_ipv4 else 6
        paths = path_states(ip_version=version).map(
            lambda p: (
                p
                if capabilities is None or p.cached.path_mtu <= capabilities.max_path_mtu
                else PathOffloadState(const=p.const)
            )
        )
        tcps = tcp_states(established=True).map(
            lambda t: (
                t
                if capabilities is None
                or t.cached.initial_rcv_wnd <= capabilities.max_initial_rcv_wnd
                else TcpOffloadState(const=t.const)
            )
        )
        send: SearchStrategy[tuple[int, ...]] = st.just(())
    else:
        paths = path_states(capabilities=capabilities)
        tcps = tcp_states(capabilities=capabilities)
        send = st.lists(st.integers(1, 1460), max_size=2).map(_as_tuple)
    tcp_blocks = st.builds(lambda s, d: _new(s, send_data=d), tcps, send)
    path_blocks = st.builds(
        lambda s, deps: _new(s, dependents=tuple(deps)),
        paths,
        st.lists(tcp_blocks, max_size=max_connections),
    )
    neighbor_blocks = st.builds(
        lambda s, deps: _new(s, dependents=tuple(deps)),
        neighbors,
        st.lists(path_blocks, max_size=max_paths),
    )
    return st.lists(neighbor_blocks, min_size=min_neighbors, max_size=max_neighbors)


@st.composite
def tree_specs(
    draw: DrawFn,
    *,
    capabilities: OffloadCapabilities | None = None,
    min_neighbors: int = 1,
    max_neighbors: int = 2,
    max_paths: int = 2,
    max_connections: int = 3,
    benign: bool = False,
) -> TreeSpec:
    """Well-formed trees of new offloads: neighbors, their paths, their TCP connections.

    Args:
        capabilities: Aim values at the declared limits (and past them).
        min_neighbors: Fewest root neighbors.
        max_neighbors: Most root neighbors.
        max_paths: Most paths per neighbor.
        max_connections: Most TCP connections per path.
        benign: Only values no declared limit refuses (VLAN 0, no own MAC, supported IP
            version, MTU and window within limits, ESTABLISHED, no buffered or send data).
    """
    _check_sizes(
        neighbors=(min_neighbors, max_neighbors),
        paths=(0, max_paths),
        connections=(0, max_connections),
    )
    if min_neighbors < 1:
        raise InvalidArgument(
            f"min_neighbors={min_neighbors} must be at least 1: a tree has a root"
        )
    roots = draw(
        _roots(capabilities, min_neighbors, max_neighbors, max_paths, max_connections, benign)
    )
    return TreeSpec(tuple(roots))


def state_trees(**kwargs: object) -> SearchStrategy[OffloadBlockList]:
    """Built trees (fresh blocks) of :func:`tree_specs`; takes the same keyword arguments."""
    return tree_specs(**kwargs).map(lambda spec: spec.build())  # type: ignore[arg-type]


_DEFECTS = (
    "tcp-with-dependents",
    "next-block-into-other-layer",
    "unknown-type",
    "new-offload-without-state",
    "new-under-placeholder",
)


@st.composite
def malformed_tree_specs(
    draw: DrawFn, *, capabilities: OffloadCapabilities | None = None
) -> TreeSpec:
    """A well-formed tree with one structural defect injected (INI-MALFORMED-TREE)."""
    spec = draw(tree_specs(capabilities=capabilities, benign=True, max_neighbors=2))
    defect = draw(st.sampled_from(_DEFECTS))
    roots = list(spec.roots)
    k = draw(st.integers(0, len(roots) - 1))
    neighbor = roots[k]
    tcp = _new(draw(tcp_states(established=True)))
    path = _new(draw(path_states(ip_version=4)))
    if defect == "tcp-with-dependents":
        bad_tcp = BlockSpec(Role.NEW_OFFLOAD, OffloadStateType.TCP, tcp.state, dependents=(tcp,))
        new_path = BlockSpec(path.role, path.state_type, path.state, dependents=(bad_tcp,))
        roots[k] = _with_dependents(neighbor, (*neighbor.dependents, new_path))
    elif defect == "next-block-into-other-layer":
        # A TCP block chained among the neighbor's paths.
        roots[k] = _with_dependents(neighbor, (*neighbor.dependents, tcp))
    elif defect == "unknown-type":
        weird = draw(st.sampled_from([0, 1, 5, 16, 0xFE, 0xFF, 200]))
        odd = BlockSpec(Role.NEW_OFFLOAD, weird, path.state)
        roots[k] = _with_dependents(neighbor, (*neighbor.dependents, odd))
    elif defect == "new-offload-without-state":
        bare = BlockSpec(Role.NEW_OFFLOAD, OffloadStateType.IP4, None, dependents=(tcp,))
        roots[k] = _with_dependents(neighbor, (*neighbor.dependents, bare))
    else:
        holder = BlockSpec(Role.PLACEHOLDER, OffloadStateType.NEIGHBOR, dependents=(path,))
        roots.append(holder)
    return TreeSpec(tuple(roots), notes=(defect,))


def _with_dependents(spec: BlockSpec, dependents: tuple[BlockSpec, ...]) -> BlockSpec:
    return BlockSpec(spec.role, spec.state_type, spec.state, spec.ref, spec.send_data, dependents)


@st.composite
def scenarios(
    draw: DrawFn,
    *,
    capabilities: OffloadCapabilities | None = None,
    min_initiates: int = 2,
    max_initiates: int = 3,
    in_flight: bool = False,
) -> tuple[TreeSpec | InFlight, ...]:
    """Several initiates to one target: the first offloads new objects, later ones hang new
    state under earlier objects through placeholders and linkers (and sometimes name an
    object the target never offloaded, which it must fail cleanly). With
    ``in_flight=True`` a later step may be two fresh trees handed over together, both in
    flight before either completes (an :class:`InFlight` step, domain.md 5.6).
    """
    _check_sizes(initiates=(min_initiates, max_initiates))
    if min_initiates < 1:
        raise InvalidArgument(f"min_initiates={min_initiates} must be at least 1")
    count = draw(st.integers(min_initiates, max_initiates))
    trees: list[TreeSpec | InFlight] = [
        draw(tree_specs(capabilities=capabilities, max_neighbors=2))
    ]
    shapes = ["tcp-on-existing-path", "path-on-existing-neighbor", "fresh"]
    for _ in range(count - 1):
        shape = draw(st.sampled_from([*shapes, "in-flight"] if in_flight else shapes))
        if shape == "in-flight":
            together = st.lists(
                tree_specs(capabilities=capabilities, max_neighbors=1), min_size=2, max_size=2
            )
            trees.append(InFlight(tuple(draw(together))))
            continue
        if shape == "fresh":
            trees.append(draw(tree_specs(capabilities=capabilities, max_neighbors=1)))
            continue
        ref = draw(st.integers(0, 3))
        if shape == "tcp-on-existing-path":
            tcps = draw(
                st.lists(tcp_states(capabilities=capabilities).map(_new), min_size=1, max_size=3)
            )
            path_type = draw(st.sampled_from([OffloadStateType.IP4, OffloadStateType.IP6]))
            link = BlockSpec(Role.LINKER, path_type, ref=ref, dependents=tuple(tcps))
            trees.append(
                TreeSpec(
                    (BlockSpec(Role.PLACEHOLDER, OffloadStateType.NEIGHBOR, dependents=(link,)),)
                )
            )
        else:
            paths = draw(
                st.lists(
                    st.builds(
                        lambda s, deps: _new(s, dependents=tuple(deps)),
                        path_states(capabilities=capabilities),
                        st.lists(tcp_states(capabilities=capabilities).map(_new), max_size=2),
                    ),
                    min_size=1,
                    max_size=2,
                )
            )
            trees.append(
                TreeSpec(
                    (
                        BlockSpec(
                            Role.LINKER,
                            OffloadStateType.NEIGHBOR,
                            ref=ref,
                            dependents=tuple(paths),
                        ),
                    )
                )
            )
    return tuple(trees)
