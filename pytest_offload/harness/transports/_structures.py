"""The values and state structures of the process protocol's messages (docs/protocol.md).

What every message is made of: pointers as strings, 32-bit statuses, block positions,
and the state structures that follow a block, combined (an initiate's) or a single part
(the structures of the lifecycle requests, protocol 1.3), each a tagged msgspec
structure so that one ``kind`` member says which it is. :mod:`._messages` builds the
messages from these.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from pytest_offload.model import (
    NeighborOffloadStateCached,
    NeighborOffloadStateConst,
    NeighborOffloadStateDelegated,
    PathOffloadStateCached,
    PathOffloadStateConst,
    PathOffloadStateDelegated,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
)

__all__ = [
    "POINTER_PATTERN",
    "U32",
    "InitiateId",
    "NblId",
    "NeighborCached",
    "NeighborConst",
    "NeighborDelegated",
    "NeighborState",
    "PathCached",
    "PathConst",
    "PathDelegated",
    "PathState",
    "Pointer",
    "Position",
    "RequestId",
    "State",
    "Status",
    "TcpCached",
    "TcpConst",
    "TcpDelegated",
    "TcpState",
    "Words",
]

#: The form of a pointer string. It is in the schema; the codec checks it with one
#: vectorised conversion per column (a pattern match per string in the decoder cost as
#: much as the rest of decoding a completion).
POINTER_PATTERN = r"^0[xX][0-9a-fA-F]{1,16}$"
Pointer = Annotated[
    str,
    Meta(
        extra_json_schema={"pattern": POINTER_PATTERN},
        description='A pointer value as a string: 0x and 1 to 16 hex digits. "0x0" is NULL.',
    ),
]
U32 = Annotated[int, Meta(ge=0, le=0xFFFFFFFF)]
Status = Annotated[
    int,
    Meta(
        ge=-(2**31),
        le=0xFFFFFFFF,
        description="An NDIS_STATUS: 32 bits, unsigned, or the signed C int of the same bits.",
    ),
]
Position = Annotated[int, Meta(ge=0, description="A block's position in hand-over order.")]
RequestId = Annotated[int, Meta(ge=1)]
InitiateId = Annotated[int, Meta(ge=1, description="Names one initiate, unique per process.")]
NblId = Annotated[int, Meta(ge=1, description="Names one NET_BUFFER_LIST, unique per process.")]
Words = Annotated[
    list[Pointer | None],
    Meta(min_length=2, max_length=2, description="Two pointer-sized words (PVOID[2])."),
]


class _Message(Struct, forbid_unknown_fields=True, omit_defaults=False):
    """Every message rejects members it does not define."""


# -- the state following a block ---------------------------------------------------------


class NeighborState(_Message, tag="neighbor", tag_field="kind"):
    """NEIGHBOR_OFFLOAD_STATE_CONST, _CACHED and _DELEGATED."""

    const: NeighborOffloadStateConst
    cached: NeighborOffloadStateCached
    delegated: NeighborOffloadStateDelegated


class PathState(_Message, tag="path", tag_field="kind"):
    """PATH_OFFLOAD_STATE_CONST, _CACHED and _DELEGATED."""

    const: PathOffloadStateConst
    cached: PathOffloadStateCached
    delegated: PathOffloadStateDelegated


class TcpState(_Message, tag="tcp", tag_field="kind"):
    """TCP_OFFLOAD_STATE_CONST, _CACHED and _DELEGATED (send_data_head, send_data_tail and
    buffered_data hold whole NBLs; those of the chain carry the chain's ids)."""

    const: TcpOffloadStateConst
    cached: TcpOffloadStateCached
    delegated: TcpOffloadStateDelegated


class NeighborConst(_Message, tag="neighbor_const", tag_field="kind"):
    """NEIGHBOR_OFFLOAD_STATE_CONST alone (1.3: a query of NeighborOffloadConstState)."""

    const: NeighborOffloadStateConst


class NeighborCached(_Message, tag="neighbor_cached", tag_field="kind"):
    """NEIGHBOR_OFFLOAD_STATE_CACHED alone (1.3: an update's new values, a query's)."""

    cached: NeighborOffloadStateCached


class NeighborDelegated(_Message, tag="neighbor_delegated", tag_field="kind"):
    """NEIGHBOR_OFFLOAD_STATE_DELEGATED alone (1.3: a terminate's handed-back state)."""

    delegated: NeighborOffloadStateDelegated


class PathConst(_Message, tag="path_const", tag_field="kind"):
    """PATH_OFFLOAD_STATE_CONST alone (1.3)."""

    const: PathOffloadStateConst


class PathCached(_Message, tag="path_cached", tag_field="kind"):
    """PATH_OFFLOAD_STATE_CACHED alone (1.3)."""

    cached: PathOffloadStateCached


class PathDelegated(_Message, tag="path_delegated", tag_field="kind"):
    """PATH_OFFLOAD_STATE_DELEGATED alone (1.3)."""

    delegated: PathOffloadStateDelegated


class TcpConst(_Message, tag="tcp_const", tag_field="kind"):
    """TCP_OFFLOAD_STATE_CONST alone (1.3)."""

    const: TcpOffloadStateConst


class TcpCached(_Message, tag="tcp_cached", tag_field="kind"):
    """TCP_OFFLOAD_STATE_CACHED alone (1.3)."""

    cached: TcpOffloadStateCached


class TcpDelegated(_Message, tag="tcp_delegated", tag_field="kind"):
    """TCP_OFFLOAD_STATE_DELEGATED alone (1.3: what a terminate hands back, its send data
    and buffered data as whole NBLs; NBLs the suite handed over carry their ids)."""

    delegated: TcpOffloadStateDelegated


#: The structure following a block: the three parts of a layer together (an initiate's
#: and a combined query's), or one part alone (1.3: the structures of the lifecycle
#: requests, lifecycle.md section 1).
State = (
    NeighborState
    | PathState
    | TcpState
    | NeighborConst
    | NeighborCached
    | NeighborDelegated
    | PathConst
    | PathCached
    | PathDelegated
    | TcpConst
    | TcpCached
    | TcpDelegated
)
