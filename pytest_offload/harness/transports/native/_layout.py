"""The Windows x64 layout of the chimney structures, as the native transport uses it.

One table, written from the layout facts (domain.md section 2, native.md): each
structure's size and the offset of every field the suite reads or writes. The shipped
header asserts the same numbers at compile time; a test compiles a C file with gcc that
prints ``offsetof``/``sizeof`` of every entry here and compares, so the header, the
compiler and the Python side cannot disagree. Bitfields have no offset of their own
(``offsetof`` cannot name them): the fields after them pin them down.
"""

from __future__ import annotations

import sys
from typing import Final

__all__ = [
    "COMBINED_STATES",
    "LAYOUT",
    "NBL_DATA",
    "NBL_FORMAT",
    "NBL_SIZE",
    "NBL_STATUS",
    "log",
    "state_stride",
]

#: structure -> (sizeof, {field: offsetof}) on x64 with MS bitfield layout.
LAYOUT: Final[dict[str, tuple[int, dict[str, int]]]] = {
    "NDIS_OBJECT_HEADER": (0x4, {"Type": 0x0, "Revision": 0x1, "Size": 0x2}),
    "OFFLOAD_STATE_HEADER": (0x8, {"Length": 0x0, "RecognizedOptions": 0x4}),
    "NDIS_MINIPORT_OFFLOAD_BLOCK_LIST": (
        0x98,
        {
            "Header": 0x00,
            "NextBlock": 0x08,
            "DependentBlockList": 0x10,
            "Status": 0x18,
            "NdisReserved": 0x20,
            "MiniportOffloadContext": 0x30,
            "NdisOffloadHandle": 0x38,
            "ProtocolReserved": 0x40,
            "MiniportReserved": 0x50,
            "ImReserved": 0x60,
            "Scratch": 0x70,
            "SourceHandle": 0x80,
            "PortNumber": 0x88,
            "NetBufferListChain": 0x90,
        },
    ),
    "NEIGHBOR_OFFLOAD_STATE_CONST": (0x2C, {"Header": 0x0, "DlSourceAddress": 0x08}),
    "NEIGHBOR_OFFLOAD_STATE_CACHED": (
        0x2C,
        {"Header": 0x0, "DlDestinationAddress": 0x08, "HostReachabilityDelta": 0x28},
    ),
    "NEIGHBOR_OFFLOAD_STATE_DELEGATED": (0x0C, {"Header": 0x0, "NicReachabilityDelta": 0x08}),
    "PATH_OFFLOAD_STATE_CONST": (
        0x18,
        {"Header": 0x0, "SourceAddress": 0x08, "DestinationAddress": 0x10},
    ),
    "PATH_OFFLOAD_STATE_CACHED": (0x0C, {"Header": 0x0, "PathMtu": 0x08}),
    "PATH_OFFLOAD_STATE_DELEGATED": (0x08, {"Header": 0x0}),
    "TCP_OFFLOAD_STATE_CONST": (
        0x18,
        {
            "Header": 0x0,
            "Flags": 0x08,
            "RemotePort": 0x0A,
            "LocalPort": 0x0C,
            "RemoteMss": 0x10,
            "HashValue": 0x14,
        },
    ),
    "TCP_OFFLOAD_STATE_CACHED": (
        0x2C,
        {
            "Header": 0x0,
            "Flags": 0x08,
            "InitialRcvWnd": 0x0C,
            "RcvIndicationSize": 0x10,
            "KaProbeCount": 0x14,
            "KaTimeout": 0x18,
            "KaInterval": 0x1C,
            "MaxRT": 0x20,
            "TtlOrHopLimit": 0x28,
            "TosOrTrafficClass": 0x29,
        },
    ),
    "TCP_OFFLOAD_STATE_DELEGATED": (
        0x80,
        {
            "Header": 0x0,
            "State": 0x08,
            "Flags": 0x0C,
            "RcvNxt": 0x10,
            "RcvWnd": 0x14,
            "SndUna": 0x18,
            "SndNxt": 0x1C,
            "SndMax": 0x20,
            "SndWnd": 0x24,
            "MaxSndWnd": 0x28,
            "SendWL1": 0x2C,
            "CWnd": 0x30,
            "SsThresh": 0x34,
            "SRtt": 0x38,
            "RttVar": 0x3A,
            "TsRecent": 0x3C,
            "TsRecentAge": 0x40,
            "TsTime": 0x44,
            "TotalRT": 0x48,
            "DupAckCount": 0x4C,
            "SndWndProbeCount": 0x4D,
            "KeepAlive.ProbeCount": 0x50,
            "KeepAlive.TimeoutDelta": 0x54,
            "Retransmit.Count": 0x58,
            "Retransmit.TimeoutDelta": 0x5C,
            "SendDataHead": 0x60,
            "SendDataTail": 0x68,
            "SendBacklogSize": 0x60,
            "BufferedData": 0x70,
            "ReceiveBacklogSize": 0x70,
            "DWnd": 0x78,
        },
    ),
    "NDIS_TCP_CONNECTION_OFFLOAD": (
        0x14,
        {
            "Header": 0x0,
            "Encapsulation": 0x04,
            "TcpConnectionOffloadCapacity": 0x0C,
            "Flags": 0x10,
        },
    ),
    # The suite's minimal NET_BUFFER_LIST (ndis.h): NDIS's Next and Status, and the send
    # data an NBL stands for (an opaque FirstNetBuffer, never followed).
    "NET_BUFFER_LIST": (
        0x20,
        {"Next": 0x00, "FirstNetBuffer": 0x08, "Status": 0x10, "DataLength": 0x14, "Data": 0x18},
    ),
}

#: sizeof(NET_BUFFER_LIST), the offset of its Status and of its Data pointer, and its
#: fields (Next, FirstNetBuffer, Status, DataLength, Data) as a ``struct`` format.
NBL_SIZE: Final = LAYOUT["NET_BUFFER_LIST"][0]
NBL_STATUS: Final = LAYOUT["NET_BUFFER_LIST"][1]["Status"]
NBL_DATA: Final = LAYOUT["NET_BUFFER_LIST"][1]["Data"]
NBL_FORMAT: Final = "<QQIIQ"

#: The structures that follow a block of each combined state type, in order (domain.md
#: 1.1: CONST, CACHED and DELEGATED back to back).
COMBINED_STATES: Final[dict[str, tuple[str, str, str]]] = {
    "neighbor": (
        "NEIGHBOR_OFFLOAD_STATE_CONST",
        "NEIGHBOR_OFFLOAD_STATE_CACHED",
        "NEIGHBOR_OFFLOAD_STATE_DELEGATED",
    ),
    "path": (
        "PATH_OFFLOAD_STATE_CONST",
        "PATH_OFFLOAD_STATE_CACHED",
        "PATH_OFFLOAD_STATE_DELEGATED",
    ),
    "tcp": ("TCP_OFFLOAD_STATE_CONST", "TCP_OFFLOAD_STATE_CACHED", "TCP_OFFLOAD_STATE_DELEGATED"),
}


def state_stride(structure: str) -> int:
    """Bytes from the start of a state structure to the next one after it [reading]
    (native.md, "The stride of combined state"): its size rounded up to 8, which is also
    the value of its ``OFFLOAD_STATE_HEADER.Length``."""
    size = LAYOUT[structure][0]
    return (size + 7) & ~7


def log(text: str) -> None:
    """A line of the child's log (its stderr, whose tail the suite shows in a finding)."""
    print(f"offload native harness: {text}", file=sys.stderr, flush=True)
