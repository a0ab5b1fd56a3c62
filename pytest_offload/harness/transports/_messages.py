"""The process protocol's messages: one msgspec definition each, typed, strict, schema'd.

Newline-delimited JSON-RPC 2.0 over the child's stdin and stdout (docs/protocol.md). Each
message below is the whole JSON-RPC object, so that :func:`protocol_schema` gives a JSON
Schema for every message from the very definitions the suite encodes and decodes with:
the documented schema cannot drift from the code.

Pointer values (contexts, handles, reserved words) travel as strings, never as JSON
numbers: a parser that keeps numbers as doubles (cJSON) loses the bits above 2**53.
Statuses are 32-bit ``NDIS_STATUS`` values; a negative number is the value of a signed C
``int`` and is masked to 32 bits. Byte strings (MAC and IP addresses, send data) are
base64. A tree and its image travel as columns, entry ``i`` of each being block ``i`` in
the depth-first, breadth-next order of the tree as handed over (the in-process snapshot
keeps columns for the same reason: a 100,000-block tree is a few list operations, not
100,000 objects); links name blocks by that position.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from pytest_offload.harness.transports._structures import (
    POINTER_PATTERN,
    U32,
    InitiateId,
    NblId,
    NeighborCached,
    NeighborConst,
    NeighborDelegated,
    NeighborState,
    PathCached,
    PathConst,
    PathDelegated,
    PathState,
    Pointer,
    Position,
    RequestId,
    State,
    Status,
    TcpCached,
    TcpConst,
    TcpDelegated,
    TcpState,
    Words,
    _Message,
)
from pytest_offload.model import NetBufferList

__all__ = [
    "MAJOR",
    "POINTER_PATTERN",
    "PROTOCOL_VERSION",
    "Capabilities",
    "Image",
    "Incoming",
    "NeighborCached",
    "NeighborConst",
    "NeighborDelegated",
    "NeighborState",
    "PathCached",
    "PathConst",
    "PathDelegated",
    "PathState",
    "State",
    "TcpCached",
    "TcpConst",
    "TcpDelegated",
    "TcpState",
    "Tree",
    "encode_error",
    "encode_result",
    "protocol_schema",
]

#: The protocol version this suite speaks. A target answers the handshake with the version
#: it implements; any ``1.x`` is accepted (minor versions only add optional members and
#: methods: 1.3 the lifecycle operations), another major is a usage error.
PROTOCOL_VERSION = "1.3"
MAJOR = 1


class Nbl(_Message):
    """One NET_BUFFER_LIST of a block's net_buffer_list_chain."""

    id: NblId
    data: bytes
    status: Status


class Tree(_Message, omit_defaults=True):
    """The tree of one initiate as columns: entry ``i`` of every list is block ``i`` in
    hand-over order (depth-first, breadth-next), so every list has ``count`` entries.

    ``context_slot[i]`` is false for a placeholder (MiniportOffloadContext is NULL);
    otherwise ``context[i]`` is the slot's value: null for a new offload, the context the
    target gave an earlier object for a linker. ``state[i]`` indexes ``states`` (each state
    structure sent once, however many blocks carry it) and is null on placeholders and
    linkers. A column left out holds its default for every block: ``status`` PENDING
    (259, as the host always hands a tree over), the pointers and reserved words NULL,
    ``port_number`` 0, no ``net_buffer_list_chain``.
    """

    count: Annotated[int, Meta(ge=1)]
    state_type: list[int]
    next_block: list[Position | None]
    dependent_block_list: list[Position | None]
    context_slot: list[bool]
    context: list[Pointer | None]
    ndis_offload_handle: list[Pointer | None]
    state: list[Annotated[int, Meta(ge=0)] | None]
    states: list[State]
    status: list[Status] | UnsetType = UNSET
    source_handle: list[Pointer | None] | UnsetType = UNSET
    port_number: list[U32] | UnsetType = UNSET
    protocol_reserved: list[Words] | UnsetType = UNSET
    miniport_reserved: list[Words] | UnsetType = UNSET
    im_reserved: list[Words] | UnsetType = UNSET
    scratch: list[Words] | UnsetType = UNSET
    net_buffer_list_chain: list[list[Nbl] | None] | UnsetType = UNSET


class NblStatus(_Message):
    """The status a target wrote into one NBL."""

    id: NblId
    status: Status


class MemoryWrite(_Message):
    """Bytes of the tree's memory a target wrote outside what is its to write (a native
    target's read-back: a host-owned field, a state structure, the guard after a block),
    judged by INI-HOST-FIELDS-INTACT, or INI-NO-TOUCH-AFTER-COMPLETE when written after
    the completion. Added in protocol 1.1."""

    #: The block the bytes belong to (position in hand-over order).
    block: Position
    #: Bytes from the start of that block (or of the structure ``field`` names).
    offset: U32
    length: Annotated[int, Meta(ge=1, le=0xFFFFFFFF)]
    #: What lies there, e.g. ``NDIS_MINIPORT_OFFLOAD_BLOCK_LIST.NextBlock``.
    field: Annotated[str, Meta(max_length=400)]


class Image(_Message, omit_defaults=True):
    """What a target wrote into the tree, as columns of one entry per block (the tree's
    ``count``): ``status`` always; ``context`` (null where it wrote none), and the
    target-owned ``miniport_reserved``/``scratch`` when it uses them; a host-owned column
    only when it changed a field of it (INI-HOST-FIELDS-INTACT judges those); the
    statuses it wrote into NBLs in ``nbl_statuses``."""

    status: list[Status]
    context: list[Pointer | None] | UnsetType = UNSET
    miniport_reserved: list[Words] | UnsetType = UNSET
    scratch: list[Words] | UnsetType = UNSET
    state_type: list[int] | UnsetType = UNSET
    next_block: list[Position | None] | UnsetType = UNSET
    dependent_block_list: list[Position | None] | UnsetType = UNSET
    ndis_offload_handle: list[Pointer | None] | UnsetType = UNSET
    source_handle: list[Pointer | None] | UnsetType = UNSET
    port_number: list[U32] | UnsetType = UNSET
    protocol_reserved: list[Words] | UnsetType = UNSET
    im_reserved: list[Words] | UnsetType = UNSET
    state: list[State | None] | UnsetType = UNSET
    net_buffer_list_chain: list[list[NblId] | None] | UnsetType = UNSET
    nbl_statuses: list[NblStatus] | UnsetType = UNSET
    memory_writes: list[MemoryWrite] | UnsetType = UNSET
    #: (1.3) Per block, the fields of the structure in ``state`` the target left as
    #: handed over (named as the suite's poison check names them, e.g. ``rcv_nxt``,
    #: ``delegated.cwnd``): a native target's harness sees the poison bytes still there.
    #: The suite puts its poison back in them (LIFE-STATE-WRITTEN judges it).
    unfilled: list[list[Annotated[str, Meta(max_length=100)]] | None] | UnsetType = UNSET


class Capabilities(_Message, omit_defaults=True):
    """OffloadCapabilities (rules.md section 2), as the target declares them."""

    tcp_connection_offload_capacity: U32
    support_ipv4: bool = True
    support_ipv6: bool = True
    ndis_version: tuple[int, int] = (6, 20)
    max_initial_rcv_wnd: U32 = 0xFFFFFFFF
    max_path_mtu: U32 = 0xFFFFFFFF
    interface_vlan_ids: list[Annotated[int, Meta(ge=0, le=4095)]] = msgspec.field(
        default_factory=list
    )
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
    #: Operations it implements: ``initiate_offload`` (required) and, from 1.3, any of
    #: ``terminate_offload``, ``update_offload``, ``invalidate_offload``, ``query_offload``
    #: (more than initiate must include ``terminate_offload``; lifecycle.md section 1).
    operations: list[Annotated[str, Meta(max_length=100)]] = msgspec.field(
        default_factory=lambda: ["initiate_offload"]
    )


class InitiateParams(_Message):
    """MiniportInitiateOffload: the whole tree, as columns in hand-over order."""

    initiate: InitiateId
    tree: Tree


class InitiateCompleteParams(_Message):
    """NdisMInitiateOffloadComplete: what the target wrote into the tree."""

    initiate: InitiateId
    image: Image
    #: (1.1) What NdisMInitiateOffloadComplete was called with when it was not the root of
    #: the initiate's tree (a native target's harness sees the pointer), e.g. ``"0x7f10
    #: (block 2 of the tree, not its root)"``: INI-COMPLETE-ROOT judges it.
    completed_with: Annotated[str, Meta(max_length=400)] | UnsetType = UNSET


class SendCompleteParams(_Message):
    """NdisTcpOffloadSendComplete: NBLs returned to the host, with their statuses."""

    nbls: list[NblStatus]


class RequestParams(_Message):
    """(1.3) MiniportTerminateOffload, MiniportUpdateOffload, MiniportInvalidateOffload,
    MiniportQueryOffload: the request's tree, in the layered shape of an initiate
    (lifecycle.md section 1). The blocks of a terminate or a query carry no state: the
    structure their ``state_type`` names is the target's to fill (``image.state``)."""

    request: InitiateId
    tree: Tree


class RequestCompleteParams(_Message):
    """(1.3) NdisMTerminateOffloadComplete, NdisMUpdateOffloadComplete,
    NdisMInvalidateOffloadComplete, NdisMQueryOffloadStateComplete: what the target wrote
    into the request's tree: the statuses, and for a terminate or a query the structures
    it filled (``state``), a terminate's send data in ``net_buffer_list_chain``."""

    request: InitiateId
    image: Image
    completed_with: Annotated[str, Meta(max_length=400)] | UnsetType = UNSET


class EventParams(_Message):
    """(1.3) NdisTcpOffloadEventHandler: an event for one offloaded TCP connection, named
    by the NdisOffloadHandle of its block."""

    ndis_offload_handle: Pointer | None
    event_type: U32
    event_specific_information: U32


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


class TerminateRequest(_Message):
    """suite -> target (1.3): MiniportTerminateOffload."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: Literal["terminate_offload"]
    params: RequestParams


class UpdateRequest(_Message):
    """suite -> target (1.3): MiniportUpdateOffload."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: Literal["update_offload"]
    params: RequestParams


class InvalidateRequest(_Message):
    """suite -> target (1.3): MiniportInvalidateOffload."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: Literal["invalidate_offload"]
    params: RequestParams


class QueryRequest(_Message):
    """suite -> target (1.3): MiniportQueryOffload."""

    jsonrpc: Literal["2.0"]
    id: RequestId
    method: Literal["query_offload"]
    params: RequestParams


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


class InitiateWrittenNotification(_Message):
    """target -> suite (protocol 1.1): what the target wrote into a completed initiate's
    tree after completing it (not a completion; INI-NO-TOUCH-AFTER-COMPLETE judges it).
    A target that can watch its memory, as the native harness does, sends it."""

    jsonrpc: Literal["2.0"]
    method: Literal["initiate_offload_written"]
    params: InitiateCompleteParams


class SendCompleteNotification(_Message):
    """target -> suite: NdisTcpOffloadSendComplete."""

    jsonrpc: Literal["2.0"]
    method: Literal["tcp_offload_send_complete"]
    params: SendCompleteParams


class TerminateCompleteNotification(_Message):
    """target -> suite (1.3): NdisMTerminateOffloadComplete."""

    jsonrpc: Literal["2.0"]
    method: Literal["terminate_offload_complete"]
    params: RequestCompleteParams


class UpdateCompleteNotification(_Message):
    """target -> suite (1.3): NdisMUpdateOffloadComplete."""

    jsonrpc: Literal["2.0"]
    method: Literal["update_offload_complete"]
    params: RequestCompleteParams


class InvalidateCompleteNotification(_Message):
    """target -> suite (1.3): NdisMInvalidateOffloadComplete."""

    jsonrpc: Literal["2.0"]
    method: Literal["invalidate_offload_complete"]
    params: RequestCompleteParams


class QueryCompleteNotification(_Message):
    """target -> suite (1.3): NdisMQueryOffloadStateComplete."""

    jsonrpc: Literal["2.0"]
    method: Literal["query_offload_state_complete"]
    params: RequestCompleteParams


class EventNotification(_Message):
    """target -> suite (1.3): NdisTcpOffloadEventHandler."""

    jsonrpc: Literal["2.0"]
    method: Literal["tcp_offload_event"]
    params: EventParams


#: The request each lifecycle operation is sent as, and the completion it expects.
REQUESTS: dict[str, type[Struct]] = {
    "terminate": TerminateRequest,
    "update": UpdateRequest,
    "invalidate": InvalidateRequest,
    "query": QueryRequest,
}
COMPLETIONS: dict[str, str] = {
    "initiate_offload_complete": "initiate",
    "terminate_offload_complete": "terminate",
    "update_offload_complete": "update",
    "invalidate_offload_complete": "invalidate",
    "query_offload_state_complete": "query",
}


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
    InitiateWrittenNotification,
    SendCompleteNotification,
    TerminateRequest,
    UpdateRequest,
    InvalidateRequest,
    QueryRequest,
    TerminateCompleteNotification,
    UpdateCompleteNotification,
    InvalidateCompleteNotification,
    QueryCompleteNotification,
    EventNotification,
    ShutdownRequest,
    NullResponse,
    ErrorResponse,
)


def encode_result(request_id: object, result: object) -> bytes:
    """A JSON-RPC response carrying ``result``."""
    return msgspec.json.encode({"jsonrpc": "2.0", "id": request_id, "result": result})


def encode_error(request_id: object, code: int, message: str) -> bytes:
    """A JSON-RPC error response."""
    return msgspec.json.encode(
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
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
