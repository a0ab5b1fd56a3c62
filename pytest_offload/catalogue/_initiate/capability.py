"""Capability rules: declared capacities, entries codes, the advertised minimum, order."""

from __future__ import annotations

from bisect import bisect_right
from itertools import compress, repeat
from operator import eq
from typing import TYPE_CHECKING

from pytest_offload.catalogue._registry import Grade, RuleOutcome, rule
from pytest_offload.model import (
    FAILURE_CODES,
    LAYERS,
    NdisStatus,
    NeighborOffloadState,
    OffloadStateType,
    PathOffloadState,
    Role,
    TcpConnectionState,
    TcpOffloadState,
    format_status,
)

if TYPE_CHECKING:
    from pytest_offload.catalogue._facts import InitiateFacts
    from pytest_offload.model import OffloadCapabilities

MUST, SHOULD = Grade.MUST, Grade.SHOULD
GROUP = "capability"
S = NdisStatus
FAILED_CODES = frozenset(int(c) for c in FAILURE_CODES)
TCP_DEPTH = LAYERS.index("tcp")


def _capacities(caps: OffloadCapabilities) -> list[tuple[str, str, int]]:
    out = [("tcp", "tcp_connection_offload_capacity", caps.tcp_connection_offload_capacity)]
    if caps.neighbor_capacity is not None:
        out.append(("neighbor", "neighbor_capacity", caps.neighbor_capacity))
    if caps.path_capacity is not None:
        out.append(("path", "path_capacity", caps.path_capacity))
    return out


@rule(
    "INI-CAPACITY",
    MUST,
    group=GROUP,
    text="Offloaded TCP connections of one target never exceed tcp_connection_offload_capacity "
    "(likewise declared neighbor/path capacities).",
    source="domain.md 6 (NDIS_TCP_CONNECTION_OFFLOAD.TcpConnectionOffloadCapacity)",
)
def capacity(facts: InitiateFacts, out: RuleOutcome) -> None:
    batch = facts.batch
    for layer, name, cap in _capacities(facts.capabilities):
        depth = LAYERS.index(layer)
        # Held objects that count (lifecycle.md section 2): LIVE and valid, or TERMINATING;
        # an excess only invalidated objects make is INV-STILL-OFFLOADED's.
        base = batch.ledger.capacity_count(layer)
        for other in batch.initiates:
            if other is facts:
                break
            base += other.offloaded_depths.count(depth)
        if base + len(facts.new_positions) <= cap:
            continue  # not even every new offload of the tree could go over
        offered = facts.new_of_layer(depth)
        if base + offered <= cap:
            continue
        out.hit()
        mine = list(compress(facts.new_offloaded, map(eq, facts.offloaded_depths, repeat(depth))))
        # Charge the excess to the initiate that added to it; one that offloaded nothing
        # after an earlier initiate went over is not at fault (that one was reported).
        if mine and base + len(mine) > cap:
            first_over = mine[max(cap - base, 0)]
            out.violate(
                first_over,
                f"{base + len(mine)} {layer} objects offloaded ({base} before this initiate)",
                f"at most {name}={cap}",
            )


_ENTRIES = {
    S.OFFLOAD_TCP_ENTRIES: "tcp",
    S.OFFLOAD_PATH_ENTRIES: "path",
    S.OFFLOAD_NEIGHBOR_ENTRIES: "neighbor",
}
_ENTRIES_OF = {layer: code for code, layer in _ENTRIES.items()}


@rule(
    "INI-ENTRIES-CAUSE",
    SHOULD,
    group=GROUP,
    text="TCP_ENTRIES (PATH_ENTRIES, NEIGHBOR_ENTRIES) only when the declared capacity is "
    "reached.",
    source="domain.md 3",
)
def entries_cause(facts: InitiateFacts, out: RuleOutcome) -> None:
    batch = facts.batch
    # Opportunity (rules.md 4.1): a new block of a layer whose objects held before plus
    # those offered now stay within the declared capacity: no ENTRIES code is due there.
    # Objects terminated in this case count as held here: a target that never frees them
    # is LIFE-CAPACITY-FREED's finding, not this rule's.
    ledger = batch.ledger
    for layer, _, cap in _capacities(facts.capabilities):
        offered = facts.new_of_layer(LAYERS.index(layer))
        if offered and ledger.counts[layer] + ledger.gone[layer] + offered <= cap:
            out.hit()
            break
    if facts.present.isdisjoint(_ENTRIES):
        return
    for layer, name, cap in _capacities(facts.capabilities):
        code = _ENTRIES_OF[layer]
        if code not in facts.present:
            continue
        depth = LAYERS.index(layer)
        claimed = facts.typed_count(int(code), depth)
        if not claimed:
            continue
        total = ledger.counts[layer] + ledger.gone[layer] + batch.offloaded_in_batch(layer)
        if total >= cap:
            continue
        for i in facts.typed_positions(int(code), depth):
            out.violate(
                i,
                f"{format_status(code)} with {total} {layer} objects offloaded",
                f"no {S(code).name} before {name}={cap} is reached",
            )


def _first_new_at_depth(facts: InitiateFacts, code: int, depth: int) -> int:
    """The first new offload at ``depth`` whose status is ``code`` (one is known to exist)."""
    codes, depths, roles = facts.codes, facts.snapshot.depths, facts.snapshot.roles
    at = codes.index(code)
    while depths[at] != depth or roles[at] is not Role.NEW_OFFLOAD:
        at = codes.index(code, at + 1)
    return at


def _benign_chain(facts: InitiateFacts) -> bool:
    """One new neighbor, path and TCP connection that no declared limit can refuse."""
    snapshot = facts.snapshot
    if facts.n != 3 or snapshot.depths != [0, 1, 2] or facts.malformed:
        return False
    if any(role is not Role.NEW_OFFLOAD for role in snapshot.roles):
        return False
    caps = facts.capabilities
    image = snapshot.image
    neighbor, path, tcp = image.states
    path_type = image.state_types[1]
    if not (
        isinstance(neighbor, NeighborOffloadState)
        and isinstance(path, PathOffloadState)
        and isinstance(tcp, TcpOffloadState)
    ):
        return False
    ip_ok = caps.support_ipv4 if path_type == OffloadStateType.IP4 else caps.support_ipv6
    return (
        neighbor.const.vlan_id == 0
        and not neighbor.const.has_source_mac
        and ip_ok
        and path.cached.path_mtu <= caps.max_path_mtu
        and tcp.cached.initial_rcv_wnd <= caps.max_initial_rcv_wnd
        and tcp.delegated.state == TcpConnectionState.ESTABLISHED
        and not tcp.delegated.buffered_data
        and not image.chains[2]
        and caps.tcp_connection_offload_capacity >= 1
        and (caps.neighbor_capacity is None or caps.neighbor_capacity >= 1)
        and (caps.path_capacity is None or caps.path_capacity >= 1)
    )


@rule(
    "INI-ADVERTISED-WORKS",
    SHOULD,
    group=GROUP,
    text="A fresh target offloads in full a small tree (one neighbor, one path, one TCP "
    "connection) that lies within its declaration. Catches a target that fails everything.",
    source="domain.md 6",
)
def advertised_works(facts: InitiateFacts, out: RuleOutcome) -> None:
    if not (facts.batch.fresh and facts.completed and _benign_chain(facts)):
        return
    out.hit()
    for i in range(3):
        if facts.codes[i] != S.SUCCESS:
            out.violate(
                i,
                format_status(facts.raw_statuses[i]),
                "SUCCESS",
                "a fresh target declared room for this neighbor, path and connection",
            )


def _offers_past_tcp_capacity(facts: InitiateFacts) -> bool:
    """An opportunity (rules.md 4.1): a single initiate offering more new TCP blocks than
    the room left, under several paths, where the declaration predicts no other limit."""
    if len(facts.batch.initiates) != 1 or facts.malformed:
        return False
    caps = facts.capabilities
    room = caps.tcp_connection_offload_capacity - facts.batch.ledger.counts["tcp"]
    if facts.new_of_layer(TCP_DEPTH) <= room:
        return False
    states, depths = facts.snapshot.image.states, facts.snapshot.depths
    paths = 0
    for i in facts.new_positions:
        state = states[i]
        if depths[i] == TCP_DEPTH:
            if not isinstance(state, TcpOffloadState):
                return False
            if state.cached.initial_rcv_wnd > caps.max_initial_rcv_wnd:
                return False
        elif depths[i] == TCP_DEPTH - 1:
            paths += 1
            if not isinstance(state, PathOffloadState):
                return False
            if state.cached.path_mtu > caps.max_path_mtu:
                return False
    return paths >= 2


@rule(
    "INI-DEPTH-FIRST",
    SHOULD,
    group=GROUP,
    text="When TCP capacity is the only limit a tree hits, the TCP blocks offloaded are the "
    "first ones in depth-first, breadth-next order.",
    source="domain.md 1.5, 7.16 [C:traversing-a-state-tree]",
)
def depth_first(facts: InitiateFacts, out: RuleOutcome) -> None:
    if _offers_past_tcp_capacity(facts):
        out.hit()
    if S.OFFLOAD_TCP_ENTRIES not in facts.present or len(facts.batch.initiates) != 1:
        return
    if not facts.completed or facts.malformed:
        return
    new_depth = facts.new_depth
    refused = facts.new_at_depth_with(int(S.OFFLOAD_TCP_ENTRIES), TCP_DEPTH)
    if not refused:
        return
    # Any other failure means another limit was hit too: the rule does not apply.
    failures = sum(facts.count_of(code) for code in facts.present if code in FAILED_CODES)
    if failures != refused:
        return
    first_refused = _first_new_at_depth(facts, int(S.OFFLOAD_TCP_ENTRIES), TCP_DEPTH)
    later = facts.new_offloaded[bisect_right(facts.new_offloaded, first_refused) :]
    later_depths = list(map(new_depth.__getitem__, later))
    if TCP_DEPTH in later_depths:  # every block of new_offloaded is offloaded
        i = later[later_depths.index(TCP_DEPTH)]
        out.violate(
            i,
            f"{format_status(facts.raw_statuses[i])} after "
            f"{facts.snapshot.path(first_refused)} got OFFLOAD_TCP_ENTRIES",
            "OFFLOAD_TCP_ENTRIES: capacity goes to the first TCP blocks in depth-first, "
            "breadth-next order",
        )
