"""reference_target: the bundled, configurable reference offload target.

``pytest --offload-target=reference_target`` runs the conformance suite against it; vendors
read it to see the rules implemented; every rule of the catalogue is proven against it.
It depends on the pytest_offload model only, never on pytest or the plugin.
"""

from __future__ import annotations

from pytest_offload.model import Host, OffloadCapabilities, OffloadOperation, TcpConnectionState
from reference_target._target import CompletionMode, ReferenceTarget

__all__ = ["CompletionMode", "ReferenceTarget", "create_target"]

#: Connections in these states are judged poor offload candidates (CONNECTION_REJECTED).
DEFAULT_REJECT_STATES = frozenset({TcpConnectionState.CLOSING, TcpConnectionState.LAST_ACK})


def create_target(
    host: Host,
    *,
    tcp_capacity: int = 4,
    path_capacity: int | None = 6,
    neighbor_capacity: int | None = 3,
    max_initial_rcv_wnd: int = 262_144,
    max_path_mtu: int = 9000,
    interface_vlan_ids: frozenset[int] = frozenset({1, 100}),
    vlan_capacity: int = 1,
    configurable_source_mac: bool = True,
    source_mac_capacity: int = 1,
    ip_address_capacity: int = 3,
    xmit_buffers: int = 8,
    rcv_buffers: int = 6,
    memory_budget: int | None = 1 << 20,
    reject_states: frozenset[TcpConnectionState] = DEFAULT_REJECT_STATES,
    support_ipv4: bool = True,
    support_ipv6: bool = True,
    ndis_version: tuple[int, int] = (6, 20),
    completion: CompletionMode = "inline",
    delay: float = 0.005,
    operations: frozenset[OffloadOperation] = frozenset(OffloadOperation),
    upload_invalidated: bool = True,
) -> ReferenceTarget:
    """Create a fresh reference target with nothing offloaded.

    The defaults are small enough that generated trees regularly exhaust TCP capacity and
    provoke every cause code, and large enough that one neighbor, one path and one
    connection always offload in full.

    Args:
        host: The host to complete to (the suite passes its recording host).
        tcp_capacity: Most TCP connections offloaded at once (``OFFLOAD_TCP_ENTRIES``).
        path_capacity: Most paths (``OFFLOAD_PATH_ENTRIES``); ``None`` for no limit.
        neighbor_capacity: Most neighbors (``OFFLOAD_NEIGHBOR_ENTRIES``); ``None`` for none.
        max_initial_rcv_wnd: Largest initial receive window (``OFFLOAD_TCP_RCV_WINDOW``).
        max_path_mtu: Largest path MTU (``OFFLOAD_PATH_MTU``).
        interface_vlan_ids: VLAN IDs configured on the interface (``OFFLOAD_VLAN_MISMATCH``).
        vlan_capacity: Distinct non-zero VLAN IDs it can track (``OFFLOAD_VLAN_ENTRIES``).
        configurable_source_mac: Whether neighbors may carry their own source MAC.
        source_mac_capacity: Distinct source MACs it can hold (``OFFLOAD_HW_ADDRESS_ENTRIES``).
        ip_address_capacity: Distinct source IP addresses (``OFFLOAD_IP_ADDRESS_ENTRIES``).
        xmit_buffers: Transmit buffers; a connection takes one plus one per send NBL
            (``OFFLOAD_TCP_XMIT_BUFFER``).
        rcv_buffers: Receive buffers; a connection takes one plus one per buffered NBL
            (``OFFLOAD_TCP_RCV_BUFFER``).
        memory_budget: Host memory in bytes for objects and copied receive data
            (``RESOURCES``; ``FAILURE`` when buffered data cannot be copied); ``None``: no limit.
        reject_states: Connection states rejected as poor candidates
            (``OFFLOAD_CONNECTION_REJECTED`` from NDIS 6.20, ``FAILURE`` before).
        support_ipv4: Whether IPv4 paths are offloaded (else ``FAILURE``).
        support_ipv6: Whether IPv6 paths are offloaded (else ``FAILURE``).
        ndis_version: The NDIS version it implements.
        completion: ``"inline"`` (inside ``initiate_offload``), ``"thread"`` (a worker
            thread) or ``"delayed"`` (a worker thread after ``delay`` seconds).
        delay: Seconds before completing in ``"delayed"`` mode.
        operations: The operations it declares (default all five); ``{INITIATE}`` makes
            an initiate-only (v1) target, which hands send data back after the initiate.
        upload_invalidated: Whether it asks (``RETRIEVE`` with ``INVALID_STATE``) for the
            upload of connections depending on invalidated state (domain.md 5.4).

    Raises:
        CapabilityError: when a limit is out of range.
        ValueError: for an unknown completion mode or a negative limit.
    """
    if completion not in ("inline", "thread", "delayed"):
        raise ValueError(f"completion={completion!r}: expected 'inline', 'thread' or 'delayed'")
    for name, value in (
        ("ip_address_capacity", ip_address_capacity),
        ("xmit_buffers", xmit_buffers),
        ("rcv_buffers", rcv_buffers),
        ("delay", delay),
    ):
        if value < 0:
            raise ValueError(f"{name}={value!r}: must not be negative")
    if memory_budget is not None and memory_budget < 0:
        raise ValueError(f"memory_budget={memory_budget!r}: must not be negative")
    capabilities = OffloadCapabilities(
        tcp_connection_offload_capacity=tcp_capacity,
        support_ipv4=support_ipv4,
        support_ipv6=support_ipv6,
        ndis_version=ndis_version,
        max_initial_rcv_wnd=max_initial_rcv_wnd,
        max_path_mtu=max_path_mtu,
        interface_vlan_ids=frozenset(interface_vlan_ids),
        vlan_capacity=vlan_capacity,
        configurable_source_mac=configurable_source_mac,
        source_mac_capacity=source_mac_capacity,
        neighbor_capacity=neighbor_capacity,
        path_capacity=path_capacity,
        operations=frozenset(operations),
    )
    return ReferenceTarget(
        host,
        capabilities=capabilities,
        ip_address_capacity=ip_address_capacity,
        xmit_buffers=xmit_buffers,
        rcv_buffers=rcv_buffers,
        memory_budget=memory_budget,
        reject_states=frozenset(reject_states),
        completion=completion,
        delay=delay,
        upload_invalidated=upload_invalidated,
    )
