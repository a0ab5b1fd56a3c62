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
from typing import TYPE_CHECKING, Any

from pytest_offload.harness.transports.native._layout import LAYOUT, state_stride

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "neighbor_cached",
    "neighbor_const",
    "structures",
    "tcp_cached",
    "tcp_const",
    "tcp_delegated",
]


def structures(names: tuple[str, str, str], bodies: tuple[bytes, bytes, bytes]) -> bytes:
    """Structures back to back, each at its 8-byte stride, its header's Length the
    stride (native.md, the stride of combined state)."""
    out = bytearray()
    for name, body in zip(names, bodies, strict=True):
        stride = state_stride(name)
        assert 8 + len(body) <= LAYOUT[name][0], name
        structure = bytearray(stride)
        struct.pack_into("<II", structure, 0, stride, 0)  # OFFLOAD_STATE_HEADER
        structure[8 : 8 + len(body)] = body
        out += structure
    return bytes(out)


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
