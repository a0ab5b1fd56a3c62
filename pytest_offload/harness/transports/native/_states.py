"""The state structures after a block, as bytes at the Windows x64 layout.

Fields are packed with :mod:`struct` at the offsets of :data:`LAYOUT`, bitfields by hand
with MS rules, so no FFI has to guess a bitfield layout (native.md: ctypes and cffi's ABI
mode disagree with Windows on ``TCP_OFFLOAD_STATE_CACHED``). Each structure sits at an
8-byte stride whose ``Header.Length`` says so (native.md, the stride of combined state).
The functions read a state's ``const``/``cached``/``delegated`` members by name, so they
take the protocol's states as they are decoded (``_columns.py`` packs a tree with them).
"""

from __future__ import annotations

import struct
from array import array
from itertools import chain, repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from pytest_offload.harness.transports.native._layout import COMBINED_STATES, LAYOUT, state_stride

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ENDPOINTS",
    "neighbor_cached",
    "neighbor_const",
    "path_blob",
    "path_endpoints",
    "structures",
    "tcp_cached",
    "tcp_const",
    "tcp_delegated",
]


#: Each structure's OFFLOAD_STATE_HEADER (Length: its stride) and the bytes after it.
_HEADER = {name: struct.pack("<II", state_stride(name), 0) for name in LAYOUT}
_BODY = {name: state_stride(name) - 8 for name in LAYOUT}


def structures(names: tuple[str, ...], bodies: tuple[bytes, ...]) -> bytes:
    """Structures back to back, each at its 8-byte stride, its header's Length the
    stride (native.md, the stride of combined state)."""
    out = []
    for name, body in zip(names, bodies, strict=True):
        assert 8 + len(body) <= LAYOUT[name][0], name
        out.append(_HEADER[name])
        out.append(body.ljust(_BODY[name], b"\0"))
    return b"".join(out)


_PATH = COMBINED_STATES["path"]
#: A path's combined structures with every field zero, and where its fields lie.
_PATH_TEMPLATE = structures(_PATH, (bytes(16), bytes(4), b""))
_PATH_SOURCE = LAYOUT[_PATH[0]][1]["SourceAddress"]
_PATH_MTU = state_stride(_PATH[0]) + LAYOUT[_PATH[1]][1]["PathMtu"]
_MTU = attrgetter("cached.path_mtu")
_SOURCE = attrgetter("const.source_address")
_DESTINATION = attrgetter("const.destination_address")
#: What each path's SourceAddress and DestinationAddress point at: 16 bytes each.
ENDPOINTS = 32


def path_blob(states: list[Any], endpoints: int) -> bytes:
    """The combined structures of ``states`` (paths) back to back, the k-th pointing at
    its addresses at ``endpoints + 32 * k`` (:func:`path_endpoints`), in whole-column
    passes: a template repeated, the pointers and PathMtu written by strided views."""
    count = len(states)
    out = bytearray(_PATH_TEMPLATE * count)
    per = len(_PATH_TEMPLATE)
    words = memoryview(out).cast("Q")
    end = endpoints + ENDPOINTS * count
    words[_PATH_SOURCE // 8 :: per // 8] = array("Q", range(endpoints, end, ENDPOINTS))
    words[_PATH_SOURCE // 8 + 1 :: per // 8] = array("Q", range(endpoints + 16, end, ENDPOINTS))
    words.release()
    ulongs = memoryview(out).cast("I")
    ulongs[_PATH_MTU // 4 :: per // 4] = array("I", map(_MTU, states))
    ulongs.release()
    return bytes(out)


def path_endpoints(states: list[Any]) -> bytes:
    """The source and destination address of each path, each padded to 16 bytes (an
    IPv4 address is 4), one path after the other."""
    sources = list(map(_SOURCE, states))
    destinations = list(map(_DESTINATION, states))
    if max(map(len, sources), default=0) > 16 or max(map(len, destinations), default=0) > 16:
        sources = [a[:16] for a in sources]
        destinations = [a[:16] for a in destinations]
    pad = repeat(b"\0")
    return b"".join(
        chain.from_iterable(
            zip(
                map(bytes.ljust, sources, repeat(16), pad),
                map(bytes.ljust, destinations, repeat(16), pad),
                strict=True,
            )
        )
    )


def neighbor_const(state: Any) -> bytes:
    mac: bytes = state.const.dl_source_address.ljust(32, b"\0")
    return mac + struct.pack("<I", state.const.vlan_id & 0xFFF)  # ULONG VlanId:12


def neighbor_cached(state: Any) -> bytes:
    mac: bytes = state.cached.dl_destination_address.ljust(32, b"\0")
    return mac + struct.pack("<I", state.cached.host_reachability_delta)


def tcp_const(state: Any) -> bytes:
    c = state.const
    scales = (c.snd_wind_scale & 0xF) | (c.rcv_wind_scale & 0xF) << 4  # UCHAR :4, UCHAR :4
    return struct.pack(
        "<HHHBxHxxI", c.flags, c.remote_port, c.local_port, scales, c.remote_mss, c.hash_value
    )


def tcp_cached(state: Any) -> bytes:
    c = state.cached
    # MS layout: FlowLabel:20 fills its own ULONG; the UCHARs after it start a new unit.
    return struct.pack(
        "<HxxIIBxxxIIIIBBB",
        c.flags,
        c.initial_rcv_wnd,
        c.rcv_indication_size,
        c.ka_probe_count,
        c.ka_timeout,
        c.ka_interval,
        c.max_rt,
        c.flow_label & 0xFFFFF,
        c.ttl_or_hop_limit,
        c.tos_or_traffic_class,
        c.user_priority & 0x7,
    )


def tcp_delegated(state: Any, lookup: Callable[[object], int]) -> bytes:
    """TCP_OFFLOAD_STATE_DELEGATED; ``lookup`` gives the address of each of its NBLs."""
    d = state.delegated

    def nbl(value: object) -> int:
        return 0 if value is None else lookup(value)

    buffered = d.buffered_data[0] if d.buffered_data else None
    return struct.pack(
        "<IHxx10IHH4IBBxxBxxxIBxxxIQQQI",
        int(d.state),
        d.flags,
        d.rcv_nxt, d.rcv_wnd, d.snd_una, d.snd_nxt, d.snd_max, d.snd_wnd, d.max_snd_wnd,
        d.send_wl1, d.cwnd, d.ss_thresh,
        d.s_rtt & 0xFFFF, d.rtt_var & 0xFFFF,
        d.ts_recent, d.ts_recent_age, d.ts_time, d.total_rt,
        d.dup_ack_count & 0xFF, d.snd_wnd_probe_count & 0xFF,
        d.keep_alive.probe_count & 0xFF, d.keep_alive.timeout_delta,
        d.retransmit.count & 0xFF, d.retransmit.timeout_delta,
        nbl(d.send_data_head), nbl(d.send_data_tail), nbl(buffered),
        d.dwnd,
    )  # fmt: skip
