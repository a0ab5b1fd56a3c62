"""Offload state objects of the three layers (domain.md 2.4-2.6) and send-data buffers.

Field names are the snake_case of the NDIS names. State objects are frozen: a target may
read them but never change them (INI-HOST-FIELDS-INTACT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from pytest_offload.model._status import NdisStatus

__all__ = [
    "NeighborOffloadState",
    "NeighborOffloadStateCached",
    "NeighborOffloadStateConst",
    "NeighborOffloadStateDelegated",
    "NetBufferList",
    "PathOffloadState",
    "PathOffloadStateCached",
    "PathOffloadStateConst",
    "PathOffloadStateDelegated",
    "TcpConnectionState",
    "TcpKeepAlive",
    "TcpOffloadState",
    "TcpOffloadStateCached",
    "TcpOffloadStateConst",
    "TcpOffloadStateDelegated",
    "TcpRetransmit",
]

TIMER_NOT_RUNNING = 0xFFFFFFFF


class NetBufferList:
    """One NET_BUFFER_LIST of outstanding send data or buffered receive data.

    ``status`` is the NBL's own status; on a failed TCP block the target must leave it as
    the host set it (INI-SEND-DATA-KEPT-ON-FAILURE). Compared by identity, like a pointer.
    """

    __slots__ = ("data", "status")

    def __init__(self, data: bytes = b"", status: int = NdisStatus.SUCCESS) -> None:
        self.data = data
        self.status: object = status

    def __repr__(self) -> str:
        return f"NetBufferList(data=<{len(self.data)} bytes>, status=0x{_as_int(self.status):08X})"


def _as_int(value: object) -> int:
    return value if isinstance(value, int) else -1


# --- neighbor -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborOffloadStateConst:
    """NEIGHBOR_OFFLOAD_STATE_CONST: source MAC (all zero = interface MAC) and VLAN ID."""

    dl_source_address: bytes = bytes(6)
    vlan_id: int = 0

    def __post_init__(self) -> None:
        _check_bytes("dl_source_address", self.dl_source_address, max_len=32)
        _check_range("vlan_id", self.vlan_id, 0, 4095)

    @property
    def has_source_mac(self) -> bool:
        """True when the neighbor asks for its own source MAC ("non-NULL" read as non-zero)."""
        return any(self.dl_source_address)


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborOffloadStateCached:
    """NEIGHBOR_OFFLOAD_STATE_CACHED: next-hop MAC and host reachability delta."""

    dl_destination_address: bytes = b"\x02\x00\x00\x00\x00\x01"
    host_reachability_delta: int = 0

    def __post_init__(self) -> None:
        _check_bytes("dl_destination_address", self.dl_destination_address, max_len=32)
        _check_range("host_reachability_delta", self.host_reachability_delta, 0, 0xFFFFFFFF)


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborOffloadStateDelegated:
    """NEIGHBOR_OFFLOAD_STATE_DELEGATED."""

    nic_reachability_delta: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborOffloadState:
    """The combined neighbor state following a ``NEIGHBOR`` block."""

    const: NeighborOffloadStateConst = field(default_factory=NeighborOffloadStateConst)
    cached: NeighborOffloadStateCached = field(default_factory=NeighborOffloadStateCached)
    delegated: NeighborOffloadStateDelegated = field(default_factory=NeighborOffloadStateDelegated)


# --- path -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PathOffloadStateConst:
    """PATH_OFFLOAD_STATE_CONST: 4-byte (IPv4) or 16-byte (IPv6) addresses, network order."""

    source_address: bytes = b"\xc0\x00\x02\x01"
    destination_address: bytes = b"\xc6\x33\x64\x01"

    def __post_init__(self) -> None:
        for name in ("source_address", "destination_address"):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) not in (4, 16):
                raise ValueError(f"{name}={value!r}: expected 4 (IPv4) or 16 (IPv6) bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class PathOffloadStateCached:
    """PATH_OFFLOAD_STATE_CACHED: the path MTU."""

    path_mtu: int = 1500

    def __post_init__(self) -> None:
        _check_range("path_mtu", self.path_mtu, 0, 0xFFFFFFFF)


@dataclass(frozen=True, slots=True, kw_only=True)
class PathOffloadStateDelegated:
    """PATH_OFFLOAD_STATE_DELEGATED: a header only; no delegated path variables exist."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PathOffloadState:
    """The combined path state following an ``IP4`` or ``IP6`` block."""

    const: PathOffloadStateConst = field(default_factory=PathOffloadStateConst)
    cached: PathOffloadStateCached = field(default_factory=PathOffloadStateCached)
    delegated: PathOffloadStateDelegated = field(default_factory=PathOffloadStateDelegated)


# --- TCP ------------------------------------------------------------------------------


class TcpConnectionState(IntEnum):
    """TCP_OFFLOAD_CONNECTION_STATE."""

    CLOSED = 0
    LISTEN = 1
    SYN_SENT = 2
    SYN_RCVD = 3
    ESTABLISHED = 4
    FIN_WAIT1 = 5
    FIN_WAIT2 = 6
    CLOSE_WAIT = 7
    CLOSING = 8
    LAST_ACK = 9
    TIME_WAIT = 10


#: States in which the host never initiates an offload (domain.md 2.6).
NOT_OFFLOADABLE_STATES = frozenset(
    {
        TcpConnectionState.CLOSED,
        TcpConnectionState.LISTEN,
        TcpConnectionState.SYN_SENT,
        TcpConnectionState.SYN_RCVD,
        TcpConnectionState.TIME_WAIT,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpOffloadStateConst:
    """TCP_OFFLOAD_STATE_CONST."""

    flags: int = 0
    remote_port: int = 443
    local_port: int = 49152
    snd_wind_scale: int = 0
    rcv_wind_scale: int = 0
    remote_mss: int = 1460
    hash_value: int = 0

    def __post_init__(self) -> None:
        _check_range("remote_port", self.remote_port, 0, 0xFFFF)
        _check_range("local_port", self.local_port, 0, 0xFFFF)
        _check_range("snd_wind_scale", self.snd_wind_scale, 0, 15)
        _check_range("rcv_wind_scale", self.rcv_wind_scale, 0, 15)


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpOffloadStateCached:
    """TCP_OFFLOAD_STATE_CACHED."""

    flags: int = 0
    initial_rcv_wnd: int = 65535
    rcv_indication_size: int = 0
    ka_probe_count: int = 0
    ka_timeout: int = 0
    ka_interval: int = 0
    max_rt: int = 0
    flow_label: int = 0
    ttl_or_hop_limit: int = 128
    tos_or_traffic_class: int = 0
    user_priority: int = 0

    def __post_init__(self) -> None:
        _check_range("initial_rcv_wnd", self.initial_rcv_wnd, 0, 0xFFFFFFFF)
        _check_range("flow_label", self.flow_label, 0, 0xFFFFF)
        _check_range("user_priority", self.user_priority, 0, 7)


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpKeepAlive:
    """The delegated keepalive timer; ``timeout_delta`` 0xFFFFFFFF = not running."""

    probe_count: int = 0
    timeout_delta: int = TIMER_NOT_RUNNING


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpRetransmit:
    """The delegated retransmit timer; ``timeout_delta`` 0xFFFFFFFF = not running."""

    count: int = 0
    timeout_delta: int = TIMER_NOT_RUNNING


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpOffloadStateDelegated:
    """TCP_OFFLOAD_STATE_DELEGATED.

    ``send_data_head``/``send_data_tail`` name NBLs of the block's ``net_buffer_list_chain``;
    ``buffered_data`` is received data the target must copy before completing.
    """

    state: TcpConnectionState = TcpConnectionState.ESTABLISHED
    flags: int = 0
    rcv_nxt: int = 0
    rcv_wnd: int = 65535
    snd_una: int = 0
    snd_nxt: int = 0
    snd_max: int = 0
    snd_wnd: int = 65535
    max_snd_wnd: int = 65535
    send_wl1: int = 0
    cwnd: int = 14600
    ss_thresh: int = 0xFFFFFFFF
    s_rtt: int = 0
    rtt_var: int = 0
    ts_recent: int = 0
    ts_recent_age: int = 0
    ts_time: int = 0
    total_rt: int = 0
    dup_ack_count: int = 0
    snd_wnd_probe_count: int = 0
    keep_alive: TcpKeepAlive = field(default_factory=TcpKeepAlive)
    retransmit: TcpRetransmit = field(default_factory=TcpRetransmit)
    send_data_head: NetBufferList | None = None
    send_data_tail: NetBufferList | None = None
    buffered_data: tuple[NetBufferList, ...] = ()
    dwnd: int = 0
    #: The query arms of the two unions (domain.md 2.6): set on query, 0xFFFFFFFF when
    #: the target does not track them; never on initiate or terminate.
    send_backlog_size: int = 0
    receive_backlog_size: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpOffloadState:
    """The combined TCP state following a ``TCP`` block."""

    const: TcpOffloadStateConst = field(default_factory=TcpOffloadStateConst)
    cached: TcpOffloadStateCached = field(default_factory=TcpOffloadStateCached)
    delegated: TcpOffloadStateDelegated = field(default_factory=TcpOffloadStateDelegated)


def _check_range(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name}={value!r}: expected an int in {low}..{high}")


def _check_bytes(name: str, value: object, *, max_len: int) -> None:
    if not isinstance(value, bytes) or len(value) > max_len:
        raise ValueError(f"{name}={value!r}: expected at most {max_len} bytes")
