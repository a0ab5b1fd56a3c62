"""NDIS status codes of initiate offload and their classes (offloaded, failed, allowed)."""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = [
    "CAUSE_CODE_LAYERS",
    "FAILURE_CODES",
    "INITIATE_CODES",
    "OFFLOADED_CODES",
    "NdisStatus",
    "format_status",
    "initiate_codes",
    "is_failed",
    "is_offloaded",
]


class NdisStatus(IntEnum):
    """NDIS_STATUS values of TCP chimney offload (32-bit, unsigned here).

    Values come from the public headers (domain.md section 3). ``OFFLOAD_PATH_MTU`` has no
    value in any public header: the suite assigns 0xE0231014 (error severity, facility NDIS,
    code 0x1014, customer bit set so that it can never collide with a Microsoft code).
    """

    SUCCESS = 0x00000000
    PENDING = 0x00000103
    OFFLOAD_PARTIAL_SUCCESS = 0x40020004
    FAILURE = 0xC0000001
    RESOURCES = 0xC000009A
    OFFLOAD_TCP_ENTRIES = 0xC0231004
    OFFLOAD_PATH_ENTRIES = 0xC0231005
    OFFLOAD_NEIGHBOR_ENTRIES = 0xC0231006
    OFFLOAD_IP_ADDRESS_ENTRIES = 0xC0231007
    OFFLOAD_HW_ADDRESS_ENTRIES = 0xC0231008
    OFFLOAD_VLAN_ENTRIES = 0xC0231009
    OFFLOAD_TCP_XMIT_BUFFER = 0xC023100A
    OFFLOAD_TCP_RCV_BUFFER = 0xC023100B
    OFFLOAD_TCP_RCV_WINDOW = 0xC023100C
    OFFLOAD_VLAN_MISMATCH = 0xC023100D
    OFFLOAD_CONNECTION_REJECTED = 0xC0231012
    OFFLOAD_PATH_MTU = 0xE0231014  # [reading]: no public header defines it
    # Related codes in the same ranges: never allowed as initiate results.
    OFFLOAD_PAUSE = 0x40020001
    UPLOAD_ALL = 0x40020002
    OFFLOAD_RESUME = 0x40020003
    OFFLOAD_STATE_INVALID = 0x40020005
    TCP_CONNECTION_OFFLOAD_HARDWARE_CAPABILITIES = 0x4002000B
    UPLOAD_IN_PROGRESS = 0xC0231001
    REQUEST_UPLOAD = 0xC0231002
    UPLOAD_REQUESTED = 0xC0231003
    OFFLOAD_DATA_NOT_ACCEPTED = 0xC023100E
    OFFLOAD_POLICY = 0xC023100F
    OFFLOAD_DATA_PARTIALLY_ACCEPTED = 0xC0231010
    OFFLOAD_REQUEST_RESET = 0xC0231011
    OFFLOAD_PATH_REJECTED = 0xC0231013
    REQUEST_ABORTED = 0xC001000C


S = NdisStatus

#: A block whose status is one of these had its own state offloaded.
OFFLOADED_CODES: Final = frozenset({S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS})

#: Error-severity codes a target may write into a block it did not offload.
FAILURE_CODES: Final = frozenset(
    {
        S.FAILURE,
        S.RESOURCES,
        S.OFFLOAD_TCP_ENTRIES,
        S.OFFLOAD_PATH_ENTRIES,
        S.OFFLOAD_NEIGHBOR_ENTRIES,
        S.OFFLOAD_IP_ADDRESS_ENTRIES,
        S.OFFLOAD_HW_ADDRESS_ENTRIES,
        S.OFFLOAD_VLAN_ENTRIES,
        S.OFFLOAD_TCP_XMIT_BUFFER,
        S.OFFLOAD_TCP_RCV_BUFFER,
        S.OFFLOAD_TCP_RCV_WINDOW,
        S.OFFLOAD_VLAN_MISMATCH,
        S.OFFLOAD_PATH_MTU,
        S.OFFLOAD_CONNECTION_REJECTED,
    }
)

#: The 16 initiate completion codes of domain.md section 3 (CONNECTION_REJECTED needs 6.20).
INITIATE_CODES: Final = OFFLOADED_CODES | FAILURE_CODES

_CODES_BEFORE_620: Final = INITIATE_CODES - {S.OFFLOAD_CONNECTION_REJECTED}

#: Which layer a cause code belongs to [reading] (rules.md INI-CODE-LAYER).
CAUSE_CODE_LAYERS: Final[dict[NdisStatus, str]] = {
    S.OFFLOAD_TCP_ENTRIES: "tcp",
    S.OFFLOAD_TCP_XMIT_BUFFER: "tcp",
    S.OFFLOAD_TCP_RCV_BUFFER: "tcp",
    S.OFFLOAD_TCP_RCV_WINDOW: "tcp",
    S.OFFLOAD_CONNECTION_REJECTED: "tcp",
    S.OFFLOAD_PATH_ENTRIES: "path",
    S.OFFLOAD_IP_ADDRESS_ENTRIES: "path",
    S.OFFLOAD_PATH_MTU: "path",
    S.OFFLOAD_NEIGHBOR_ENTRIES: "neighbor",
    S.OFFLOAD_HW_ADDRESS_ENTRIES: "neighbor",
    S.OFFLOAD_VLAN_ENTRIES: "neighbor",
    S.OFFLOAD_VLAN_MISMATCH: "neighbor",
}

_VALUES: Final = {int(member): member for member in NdisStatus}


def initiate_codes(ndis_version: tuple[int, int]) -> frozenset[NdisStatus]:
    """Return the statuses a target of ``ndis_version`` may write on initiate."""
    return INITIATE_CODES if tuple(ndis_version) >= (6, 20) else _CODES_BEFORE_620


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is no NDIS status a driver could write.
    return isinstance(value, int) and not isinstance(value, bool)


def is_offloaded(value: object) -> bool:
    """True when ``value`` says the block's own state was offloaded."""
    return _is_int(value) and value in OFFLOADED_CODES


def is_failed(value: object) -> bool:
    """True when ``value`` is an allowed failure code (the block was not offloaded)."""
    return _is_int(value) and value in FAILURE_CODES


def format_status(value: object) -> str:
    """Render any value a target may have written, known or not, for a report.

    >>> format_status(0xC0231004)
    'OFFLOAD_TCP_ENTRIES (0xC0231004)'
    >>> format_status(7)
    'unknown status 0x00000007'
    """
    if _is_int(value):
        assert isinstance(value, int)
        member = _VALUES.get(value)
        if member is not None:
            return f"{member.name} (0x{int(member):08X})"
        if 0 <= value <= 0xFFFFFFFF:
            return f"unknown status 0x{value:08X}"
        return f"out-of-range status {value!r} (not a 32-bit NDIS_STATUS)"
    return f"non-integer status {value!r} ({type(value).__name__})"
