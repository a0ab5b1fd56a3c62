"""``pytest-offload serve``: any Python target behind the process protocol, on stdio.

The target side of docs/protocol.md, for a target written in Python: a vendor can watch
the protocol a target speaks (and test a host-side implementation of it), and the suite
tests its own process transport by serving the reference target and comparing verdicts.

stdout carries the protocol only: while serving, anything the target prints goes to
stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec

from pytest_offload._version import __version__
from pytest_offload.harness.transports._messages import (
    MAJOR,
    PROTOCOL_VERSION,
    REQUESTS,
    Capabilities,
    EventNotification,
    EventParams,
    HandshakeResult,
    InitiateCompleteNotification,
    InitiateCompleteParams,
    InitiateParams,
    InvalidateCompleteNotification,
    NblStatus,
    QueryCompleteNotification,
    RequestCompleteParams,
    RequestParams,
    SendCompleteNotification,
    SendCompleteParams,
    TerminateCompleteNotification,
    UpdateCompleteNotification,
    encode_error,
    encode_result,
)
from pytest_offload.harness.transports.codec import (
    FOREIGN_NBL_BASE,
    SERVE_BASE,
    PointerTable,
    WireError,
    decode_tree,
    host_fields,
    image_of,
    nbl_hook,
    nbl_ref_hook,
    u32,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.model import NetBufferList, OffloadBlockList, TargetFactory

__all__ = ["serve"]

#: How long the server waits for a call to return before reading the next message.
CALL_ORDER_WAIT = 0.05
_REQUEST = msgspec.json.Decoder(dict[str, Any])
_INITIATE = msgspec.json.Decoder(InitiateParams, dec_hook=nbl_ref_hook)
_LIFECYCLE = msgspec.json.Decoder(RequestParams, dec_hook=nbl_ref_hook)
#: The lifecycle requests (protocol 1.3): the request, and the notification completing it.
_REQUESTS: dict[str, str] = {f"{operation}_offload": operation for operation in REQUESTS}
_NOTIFY: dict[str, type] = {
    "initiate_offload_complete": InitiateCompleteNotification,
    "terminate_offload_complete": TerminateCompleteNotification,
    "update_offload_complete": UpdateCompleteNotification,
    "invalidate_offload_complete": InvalidateCompleteNotification,
    "query_offload_state_complete": QueryCompleteNotification,
}


class _Served:
    """One initiate handed to the served target."""

    __slots__ = ("blocks", "contexts", "handed", "initiate", "operation", "request_id", "root")

    def __init__(
        self,
        initiate: int,
        request_id: object,
        blocks: list[OffloadBlockList],
        handed: list[tuple[object, ...]],
        operation: str = "initiate",
    ) -> None:
        self.initiate = initiate
        self.operation = operation
        self.request_id = request_id
        self.blocks = blocks
        self.handed = handed
        #: The context slots' values as handed over (a linker's, a request's named blocks).
        self.contexts = [
            None if b.miniport_offload_context is None else b.miniport_offload_context.value
            for b in blocks
        ]
        self.root = blocks[0]


class _ServeHost:
    """The Host the served target completes to: completions become notifications."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.table = PointerTable(SERVE_BASE)
        self.nbl_ids: dict[int, int] = {}
        self.initiates: list[_Served] = []
        self.lock = threading.Lock()

    def initiate_offload_complete(self, root: OffloadBlockList) -> None:
        self._complete(root, "initiate_offload_complete")

    def terminate_offload_complete(self, root: OffloadBlockList) -> None:
        self._complete(root, "terminate_offload_complete")

    def update_offload_complete(self, root: OffloadBlockList) -> None:
        self._complete(root, "update_offload_complete")

    def invalidate_offload_complete(self, root: OffloadBlockList) -> None:
        self._complete(root, "invalidate_offload_complete")

    def query_offload_state_complete(self, root: OffloadBlockList) -> None:
        self._complete(root, "query_offload_state_complete")

    def _complete(self, root: OffloadBlockList, method: str) -> None:
        """A completion as the notification of its name, naming the initiate or request
        whose root it was called with (the oldest one handed over for a root that is none:
        the suite judges that as a completion of the wrong tree)."""
        with self.lock:
            found = [s for s in self.initiates if s.root is root]
            served = found[0] if found else (self.initiates[0] if self.initiates else None)
        if served is None:
            return
        image = image_of(served.blocks, served.handed, self.nbl_ids, self.table, served.contexts)
        params: Any
        if method == "initiate_offload_complete":
            params = InitiateCompleteParams(served.initiate, image)
        else:
            params = RequestCompleteParams(served.initiate, image)
        self.server.send(_NOTIFY[method]("2.0", method, params), self.nbl_ids)

    def tcp_offload_event(
        self, ndis_offload_handle: object, event_type: object, event_specific_information: object
    ) -> None:
        """NdisTcpOffloadEventHandler: the event as a notification (returns at once)."""
        params = EventParams(
            self.table.to_wire(ndis_offload_handle),
            u32(event_type, 0xFFFFFFFF),
            u32(event_specific_information, 0xFFFFFFFF),
        )
        self.server.send(EventNotification("2.0", "tcp_offload_event", params))

    def tcp_offload_send_complete(self, chain: Sequence[NetBufferList]) -> None:
        nbls = [NblStatus(self.nbl_ids.get(id(n), 0), u32(n.status, 0xFFFFFFFF)) for n in chain]
        self.server.send(
            SendCompleteNotification("2.0", "tcp_offload_send_complete", SendCompleteParams(nbls))
        )


class _Server:
    def __init__(self, factory: TargetFactory, out: BinaryIO, name: str) -> None:
        self.factory = factory
        self.out = out
        self.name = name
        self.write_lock = threading.Lock()
        self.host: _ServeHost | None = None
        self.target: Any = None

    def send(self, message: object, nbl_ids: dict[int, int] | None = None) -> None:
        ids = nbl_ids if nbl_ids is not None else {}
        self.write(
            msgspec.json.encode(
                message, enc_hook=nbl_hook(ids, lambda: FOREIGN_NBL_BASE + len(ids))
            )
        )

    def write(self, payload: bytes) -> None:
        with self.write_lock:
            self.out.write(payload + b"\n")
            self.out.flush()

    def reply(self, request_id: object, result: object) -> None:
        self.write(encode_result(request_id, result))

    def error(self, request_id: object, code: int, message: str) -> None:
        self.write(encode_error(request_id, code, message))

    def fresh(self) -> None:
        old = self.target
        if old is not None:
            close = getattr(old, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        self.host = _ServeHost(self)
        self.target = self.factory(self.host)

    def handle(self, line: bytes) -> bool:
        """Answer one request; ``False`` once asked to shut down."""
        try:
            request = _REQUEST.decode(line)
        except msgspec.MsgspecError as exc:
            self.error(None, -32700, f"parse error: {exc}")
            return True
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params") or {}
        if method == "handshake":
            self.handshake(request_id, params)
        elif method == "reset":
            self.fresh()
            self.reply(request_id, None)
        elif method == "initiate_offload":
            self.initiate(request_id, line)
        elif method in _REQUESTS:
            self.initiate(request_id, line, _REQUESTS[method])
        elif method == "shutdown":
            self.reply(request_id, None)
            return False
        elif request_id is not None:
            self.error(request_id, -32601, f"unknown method {method!r}")
        return True

    def handshake(self, request_id: object, params: dict[str, Any]) -> None:
        version = str(params.get("protocol", ""))
        if version.split(".", 1)[0] != str(MAJOR):
            self.error(request_id, -32000, f"protocol {version!r} is not {MAJOR}.x")
            return
        self.fresh()
        caps = self.target.capabilities.as_dict()
        operations = [f"{name}_offload" for name in caps.pop("operations", ["initiate"])]
        self.reply(
            request_id,
            msgspec.to_builtins(
                HandshakeResult(
                    PROTOCOL_VERSION,
                    self.name,
                    __version__,
                    msgspec.convert(caps, Capabilities),
                    operations,
                )
            ),
        )

    def initiate(self, request_id: object, line: bytes, operation: str = "initiate") -> None:
        """An initiate, or (1.3) a lifecycle request: the call made on a thread of its own."""
        host, target = self.host, self.target
        method = f"{operation}_offload"
        if host is None:
            self.error(request_id, -32002, f"{method} before the handshake")
            return
        if operation != "initiate" and not callable(getattr(target, method, None)):
            self.error(request_id, -32601, f"the served target has no {method}")
            return
        try:
            raw = msgspec.json.decode(line, type=dict[str, msgspec.Raw])["params"]
            params: Any = (_INITIATE if operation == "initiate" else _LIFECYCLE).decode(raw)
            blocks, nbls = decode_tree(
                params.tree, host.table, structures=operation in ("terminate", "query")
            )
        except (msgspec.MsgspecError, KeyError, WireError) as exc:
            self.error(request_id, -32602, f"invalid {method}: {exc}")
            return
        for wire_id, nbl in nbls.items():
            host.nbl_ids.setdefault(id(nbl), wire_id)
        number = params.initiate if operation == "initiate" else params.request
        served = _Served(number, request_id, blocks, [host_fields(b) for b in blocks], operation)
        with host.lock:
            host.initiates.append(served)
        caller = threading.Thread(
            target=self.call, args=(target, served), name="offload-serve-call", daemon=True
        )
        caller.start()
        # Calls are made in the order received; a call that returns at once has returned
        # before the next message is read, as an in-process host's first call would have.
        caller.join(CALL_ORDER_WAIT)

    def call(self, target: Any, served: _Served) -> None:
        try:
            getattr(target, f"{served.operation}_offload")(served.root)
        except BaseException as exc:  # the target raised: the suite judges it (INI-NO-RAISE)
            self.error(served.request_id, -32000, f"{type(exc).__qualname__}: {exc}")
        else:
            self.reply(served.request_id, None)


def serve(
    factory: TargetFactory,
    *,
    name: str = "python target",
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    server_class: type[_Server] | None = None,
) -> int:
    """Serve targets from ``factory`` on stdin/stdout until shutdown or end of input.

    Returns the exit status (0).
    """
    out: BinaryIO
    if stdout is None:
        # The protocol keeps the real stdout; print() of the target goes to stderr.
        out = os.fdopen(os.dup(1), "wb", buffering=0)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
    else:
        out = stdout
    source = stdin if stdin is not None else sys.stdin.buffer
    server = (server_class or _Server)(factory, out, name)
    for line in iter(source.readline, b""):
        if line.strip() and not server.handle(line.rstrip(b"\r\n")):
            break
    with contextlib.suppress(Exception):
        out.flush()
    return 0
