"""A native library as a target, inside its child process, served over the protocol.

The child is ``pytest-offload serve``'s server (:class:`NativeServer`) with one adapter
of the library per case: each ``reset`` halts the adapter and initializes a fresh one
(the library stays loaded); each initiate packs the tree's columns into C memory
(:mod:`._columns`), calls the vendor's ``InitiateOffloadHandler`` on a serving thread,
and the harness library queues what the target calls back. One dispatcher thread reads
that queue: at a completion it turns the copy of the tree taken inside
``NdisMInitiateOffloadComplete`` into the image (statuses, contexts, MiniportReserved,
Scratch, NBL statuses as columns) and names every other byte the target wrote
(host-owned fields, state structures, the guard after each block) as a memory write.
Afterwards it keeps comparing the tree with what was completed and reports later writes
(``initiate_offload_written``).

A lifecycle request (protocol 1.3) travels the same way with the handler its operation
names: its tree packed by :mod:`._requests` (an update's cached structures, a
terminate's or query's poisoned ones), its completion of any of the four kinds read back
with the structures the target filled and a terminate's send data; calls of
``NdisTcpOffloadEventHandler`` go to the suite as ``tcp_offload_event``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness.transports._messages import (
    InitiateCompleteParams,
    InitiateWrittenNotification,
    MemoryWrite,
    RequestCompleteParams,
    RequestParams,
)
from pytest_offload.harness.transports._serve import _NOTIFY, CALL_ORDER_WAIT, _Server
from pytest_offload.harness.transports.codec import WireError, nbl_ref_hook
from pytest_offload.harness.transports.native._columns import pack, read_image
from pytest_offload.harness.transports.native._layout import log
from pytest_offload.harness.transports.native._readback import NblNames, fill_image
from pytest_offload.harness.transports.native._requests import pack_request
from pytest_offload.harness.transports.native._runtime import SERVER, Flight, Runtime
from pytest_offload.harness.transports.native._wire import decode_initiate
from pytest_offload.harness.transports.native._writes import describe
from pytest_offload.model import OffloadOperation

if TYPE_CHECKING:
    import ctypes

    from pytest_offload.harness.transports.native._library import (
        Adapter,
        Library,
    )
    from pytest_offload.model import Host

__all__ = ["NativeServer", "NativeTarget", "start"]

_REQUEST = msgspec.json.Decoder(RequestParams, dec_hook=nbl_ref_hook)


class NativeTarget:
    """One adapter of the library: a fresh one per case (see the module docs)."""

    def __init__(self, runtime: Runtime, host: Host) -> None:
        self.runtime = runtime
        self.host = host
        self.server: _Server = host.server  # type: ignore[attr-defined]
        self.adapter: Adapter
        self.adapter, capabilities = runtime.library.initialize()
        if runtime.capabilities is None:
            runtime.capabilities = capabilities
        elif capabilities != runtime.capabilities:
            log("OffloadHarnessInitialize declared other capabilities than the first adapter did")
        self.capabilities = runtime.capabilities
        self._closed = False
        #: NBLs of the case by address: its send data and buffered data, and the
        #: target's own that it named in a structure or a chain.
        self.nbl_names = NblNames({}, {})

    def initiate_offload(self, root: object) -> None:  # the Python-target entry point
        raise TypeError("a native target takes trees as the protocol's columns")

    def initiate_columns(self, flight: Flight) -> None:
        """Call the library's handler for the flight's operation with its packed tree
        (on the caller's thread)."""
        self.runtime.library.request(flight.operation, self.adapter, flight.tree.root)

    def send_image(
        self,
        flight: Flight,
        memory: ctypes.Array[ctypes.c_char],
        *,
        written: bool,
        completed_with: str | None = None,
        method: str = "initiate_offload_complete",
    ) -> None:
        mask = flight.late_read if written else None
        image, runs, total = read_image(flight.tree, memory, self.runtime.library, mask)
        if flight.operation is not OffloadOperation.INITIATE:
            fill_image(image, flight.tree, memory.raw, flight.operation, self.nbl_names)
        if runs:
            writes = [describe(flight, start, end) for start, end in runs]
            if total > len(runs):
                last = writes[-1]
                more = f"{last.field} (and {total - len(runs)} more)"
                writes[-1] = MemoryWrite(last.block, last.offset, last.length, more)
            image.memory_writes = writes
        params: Any
        if written or method == "initiate_offload_complete":
            # A request's later writes too (its id names it: one numbering).
            params = InitiateCompleteParams(flight.initiate, image)
        else:
            params = RequestCompleteParams(flight.initiate, image)
        if completed_with is not None:
            params.completed_with = completed_with
        if written:
            self.server.send(
                InitiateWrittenNotification("2.0", "initiate_offload_written", params)
            )
        else:
            self.server.send(_NOTIFY[method]("2.0", method, params))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.runtime.release(self)
        with contextlib.suppress(Exception):
            self.runtime.library.halt(self.adapter)


class NativeServer(_Server):
    """The serving side for a native library: trees stay columns (no Python blocks)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        SERVER[:] = [self]  # the library's events go to the case this server serves

    def initiate(self, request_id: object, line: bytes, operation: str = "initiate") -> None:
        target = self.target
        method = f"{operation}_offload"
        if not isinstance(target, NativeTarget):
            self.error(request_id, -32002, f"{method} before the handshake")
            return
        runtime = target.runtime
        op = OffloadOperation(operation)
        if op not in runtime.library.operations:
            self.error(request_id, -32601, f"the library registered no handler for {method}")
            return
        try:
            raw = msgspec.json.decode(line, type=dict[str, msgspec.Raw])["params"]
            if op is OffloadOperation.INITIATE:
                params: Any = decode_initiate(raw)
                number = params.initiate
                tree = pack(params.tree, runtime.library)
            else:
                params = _REQUEST.decode(raw)
                number = params.request
                tree = pack_request(params.tree, runtime.library, op)
        except (msgspec.MsgspecError, KeyError, WireError) as exc:
            self.error(request_id, -32602, f"invalid {method}: {exc}")
            return
        flight = runtime.hand_over(target, number, tree, op)
        caller = threading.Thread(
            target=self._call, args=(target, flight, request_id), name="offload-native-call",
            daemon=True,
        )  # fmt: skip
        caller.start()
        caller.join(CALL_ORDER_WAIT)

    def _call(self, target: NativeTarget, flight: Flight, request_id: object) -> None:
        target.initiate_columns(flight)
        self.reply(request_id, None)


_RUNTIME: list[Runtime] = []


def start(library: Library) -> Any:
    """The target factory of this child: adapters of ``library``."""
    runtime = Runtime(library)
    _RUNTIME.append(runtime)

    def factory(host: Host) -> NativeTarget:
        return NativeTarget(runtime, host)

    return factory
