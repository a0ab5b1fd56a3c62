"""The process protocol's messages: one msgspec definition each, typed, strict, schema'd.

Newline-delimited JSON-RPC 2.0 over the child's stdin and stdout (docs/protocol.md). Each
message below is the whole JSON-RPC object, so that :func:`protocol_schema` gives a JSON
Schema for every message from the very definitions the suite encodes and decodes with:
the documented schema cannot drift from the code.

Pointer values (contexts, handles, reserved words) travel as strings, never as JSON
numbers: a parser that keeps numbers as doubles (cJSON) loses the bits above 2**53.
Statuses are 32-bit ``NDIS_STATUS`` values; a negative number is the value of a signed C
``int`` and is masked to 32 bits. Byte strings (MAC and IP addresses, send data) are
base64. Blocks are named by their position in the depth-first, breadth-next order of the
tree as handed over.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from pytest_offload.model import (
    NeighborOffloadStateCached,
    NeighborOffloadStateConst,
    NeighborOffloadStateDelegated,
    NetBufferList,
    PathOffloadStateCached,
    PathOffloadStateConst,
    PathOffloadStateDelegated,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
)

__all__ = [
    "MAJOR",
    "PROTOCOL_VERSION",
    "Block",
    "BlockImage",
    "Capabilities",
    "Incoming",
    "protocol_schema",
]

#: The protocol version this suite speaks. A target answers the handshake with the version
#: it implements; any ``1.x`` is accepted (minor versions only add optional members and
#: methods, e.g. the lifecycle operations), another major is a usage error.
PROTOCOL_VERSION = "1.0"
MAJOR = 1

Pointer = Annotated[
    str,
    Meta(
        pattern=r"^(0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20})$",
        description="A pointer value as a string: 0x-prefixed hex (what the suite sends) "
        'or decimal, at most 2**64-1. "0x0" is NULL.',
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
Words = list[Pointer | None]


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


State = NeighborState | PathState | TcpState


class Nbl(_Message):
    """One NET_BUFFER_LIST of a block's net_buffer_list_chain."""

    id: NblId
    data: bytes
    status: Status


class Block(_Message):
    """One NDIS_MINIPORT_OFFLOAD_BLOCK_LIST as handed over.

    ``context_slot`` is false for a placeholder (MiniportOffloadContext is NULL); otherwise
    ``context`` is the slot's value: null for a new offload, the context the target gave an
    earlier object for a linker.
    """

    position: Position
    state_type: int
    next_block: Position | None
    dependent_block_list: Position | None
    status: Status
    context_slot: bool
    context: Pointer | None
    ndis_offload_handle: Pointer | None
    source_handle: Pointer | None
    port_number: U32
    protocol_reserved: Words
    miniport_reserved: Words
    im_reserved: Words
    scratch: Words
    state: State | None
    net_buffer_list_chain: list[Nbl] | None


class NblStatus(_Message):
    """The status a target wrote into one NBL."""

    id: NblId
    status: Status


class BlockImage(_Message, omit_defaults=True):
    """What a target wrote into one block: its status, its context (a new offload), the
    target-owned words, and any host-owned field it changed (INI-HOST-FIELDS-INTACT judges
    those). A member left out is unchanged."""

    position: Position
    status: Status | UnsetType = UNSET
    context: Pointer | UnsetType | None = UNSET
    miniport_reserved: Words | UnsetType = UNSET
    scratch: Words | UnsetType = UNSET
    state_type: int | UnsetType = UNSET
    next_block: Position | UnsetType | None = UNSET
    dependent_block_list: Position | UnsetType | None = UNSET
    ndis_offload_handle: Pointer | UnsetType | None = UNSET
    source_handle: Pointer | UnsetType | None = UNSET
    port_number: U32 | UnsetType = UNSET
    protocol_reserved: Words | UnsetType = UNSET
    im_reserved: Words | UnsetType = UNSET
    state: State | UnsetType | None = UNSET
    nbl_statuses: list[NblStatus] | UnsetType = UNSET


class Capabilities(_Message, omit_defaults=True):
    """OffloadCapabilities (rules.md section 2), as the target declares them."""

    tcp_connection_offload_capacity: U32
    support_ipv4: bool = True
    support_ipv6: bool = True
    ndis_version: tuple[int, int] = (6, 20)
    max_initial_rcv_wnd: U32 = 0xFFFFFFFF
    max_path_mtu: U32 = 0xFFFFFFFF
    interface_vlan_ids: list[Annotated[int, Meta(ge=0, le=4095)]] = []
    vlan_capacity: U32 = 4094
    configurable_source_mac: bool = False
    source_mac_capacity: U32 = 0
    neighbor_capacity: U32 | None = None
    path_capacity: U32 | None = None


# -- params and results ------------------------------------------------------------------


class HandshakeParams(_Message):
    protocol: str
    suite: str


class HandshakeResult(_Message):
    """The target's answer to the handshake: its protocol version, name and declaration."""

    protocol: str
    name: str
    version: str
    capabilities: Capabilities
    #: Operations it implements (room for the lifecycle; ``initiate_offload`` is required).
    operations: list[str] = msgspec.field(default_factory=lambda: ["initiate_offload"])


class InitiateParams(_Message):
    """MiniportInitiateOffload: the whole tree, every block in hand-over order."""

    initiate: InitiateId
    blocks: list[Block]


class InitiateCompleteParams(_Message):
    """NdisMInitiateOffloadComplete: the image of the blocks the target wrote."""

    initiate: InitiateId
    blocks: list[BlockImage]


class SendCompleteParams(_Message):
    """NdisTcpOffloadSendComplete: NBLs returned to the host, with their statuses."""

    nbls: list[NblStatus]


class Empty(_Message):
    pass


class RpcError(_Message):
    """A JSON-RPC error object."""

    code: int
    message: str
    data: Any = None


# -- whole messages ----------------------------------------------------------------------


class HandshakeRequest(_Message):
    """suite -> target, first message: who speaks which protocol."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: Literal["handshake"]
    params: HandshakeParams


class HandshakeResponse(_Message):
    """target -> suite: the answer to the handshake."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    result: HandshakeResult


class ResetRequest(_Message):
    """suite -> target: become a fresh target with nothing offloaded (a new test case)."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: Literal["reset"]
    params: Empty


class InitiateRequest(_Message):
    """suite -> target: MiniportInitiateOffload. The response means the call returned; the
    completion is a separate notification, before or after it."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: Literal["initiate_offload"]
    params: InitiateParams


class ShutdownRequest(_Message):
    """suite -> target: answer, then exit with status 0."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: Literal["shutdown"]
    params: Empty


class NullResponse(_Message):
    """target -> suite: the answer to reset, initiate_offload or shutdown."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    result: None


class ErrorResponse(_Message):
    """Either side: a request failed (for initiate_offload: the call raised)."""

    jsonrpc: Literal["2.0"]
    id: RequestId | None
    error: RpcError


class InitiateCompleteNotification(_Message):
    """target -> suite: NdisMInitiateOffloadComplete."""

    jsonrpc: Literal["2.0"]
    method: Literal["initiate_offload_complete"]
    params: InitiateCompleteParams


class SendCompleteNotification(_Message):
    """target -> suite: NdisTcpOffloadSendComplete."""

    jsonrpc: Literal["2.0"]
    method: Literal["tcp_offload_send_complete"]
    params: SendCompleteParams


class Incoming(Struct, forbid_unknown_fields=True):
    """Any message a target sends, before its method or id says what it is."""

    jsonrpc: Literal["2.0"]
    id: int | str | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    params: Raw | UnsetType = UNSET
    result: Raw | UnsetType = UNSET
    error: RpcError | UnsetType = UNSET


#: Every message of the protocol, in the order docs/protocol.md lists them.
MESSAGES: tuple[type[Struct], ...] = (
    HandshakeRequest,
    HandshakeResponse,
    ResetRequest,
    InitiateRequest,
    InitiateCompleteNotification,
    SendCompleteNotification,
    ShutdownRequest,
    NullResponse,
    ErrorResponse,
)


def _schema_hook(kind: type) -> dict[str, Any]:
    if kind is NetBufferList:
        return {
            "type": "object",
            "description": "A NET_BUFFER_LIST (as in net_buffer_list_chain, same id).",
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "data": {"type": "string", "contentEncoding": "base64"},
                "status": {"type": "integer", "minimum": -(2**31), "maximum": 0xFFFFFFFF},
            },
            "required": ["id", "data", "status"],
            "additionalProperties": False,
        }
    raise NotImplementedError(kind)


def protocol_schema() -> dict[str, Any]:
    """A JSON Schema (2020-12) with one definition per message of the protocol."""
    refs, components = msgspec.json.schema_components(
        MESSAGES, schema_hook=_schema_hook, ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://pytest-offload.example/protocol-1.schema.json",
        "title": f"pytest-offload process protocol {PROTOCOL_VERSION}",
        "description": "Newline-delimited JSON-RPC 2.0 between the suite and a target process.",
        "oneOf": list(refs),
        "$defs": components,
    }
