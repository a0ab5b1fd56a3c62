"""The process transport: a target program behind the JSON-RPC protocol, one case at a time.

:class:`ProcessTargetFactory` is a :class:`~pytest_offload.model.TargetFactory` like any
Python module's ``create_target``: each call gives a fresh target (a ``reset`` child from
its pool, or a new child after the handshake), and the target it returns hands trees over
as data and writes the target's answers back onto the very blocks the host recorded, so
that the recording host, the snapshots and every rule judge it unchanged.

What a child does wrong becomes a verdict on the case it happened in: a crash is the
initiate's INI-NO-RAISE (with the exit status or signal and its stderr), a hang is
INI-COMPLETE-ONCE after the host's timeout, garbage on the wire is WIRE-PROTOCOL. A child
that did any of these is ended when its case is released; the next case gets a new one.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import os
import shlex
import shutil
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from pytest_offload.harness._errors import TargetLoadError
from pytest_offload.harness._observation import RaisedError, TargetCrashed
from pytest_offload.harness.transports._child import (
    BASE_LIMIT,
    PER_BLOCK_LIMIT,
    ChildDied,
    ChildProcess,
    RpcFailure,
    initiate_named,
    quote,
)
from pytest_offload.harness.transports._handshake import handshake, reset
from pytest_offload.harness.transports._messages import (
    COMPLETIONS,
    PROTOCOL_VERSION,
    REQUESTS,
    EventParams,
    InitiateCompleteParams,
    InitiateParams,
    InitiateRequest,
    RequestCompleteParams,
    RequestParams,
    SendCompleteParams,
    Tree,
    encode_error,
    encode_result,
)
from pytest_offload.harness.transports.codec import (
    PointerTable,
    WireError,
    apply_image,
    encode_tree,
    memory_writes,
    nbl_hook,
    nbl_ref_hook,
    pointer_from_wire,
    status_from_wire,
)
from pytest_offload.model import (
    LIFECYCLE_OPERATIONS,
    OffloadCapabilities,
    iter_depth_first,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.harness._host import PendingInitiate, RecordingHost
    from pytest_offload.harness.transports._messages import Incoming
    from pytest_offload.model import Host, NetBufferList, OffloadBlockList

__all__ = ["PREFIX", "ProcessTarget", "ProcessTargetFactory", "TargetRaised", "parse_exec"]

#: ``--offload-target=exec:PROGRAM ARGS...`` selects a process target.
PREFIX = "exec:"
#: What a completion may arrive after a protocol error and still count.
_KNOWN_METHODS = (
    *COMPLETIONS,
    "initiate_offload_written",
    "tcp_offload_send_complete",
    "tcp_offload_event",
)


#: Time the transport adds to the operation timeout per block handed over: encoding and
#: decoding both ways and a native child's packing take about 5 us a block; a
#: 100,000-block tree gets 3 s more, a 100-block one 3 ms.
WIRE_SECONDS_PER_BLOCK = 30e-6


class PVOID:
    """What a native target completed an initiate with, when not the tree's root (as the
    harness described the pointer): INI-COMPLETE-ROOT shows it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class TargetRaised(Exception):
    """The target answered ``initiate_offload`` with a JSON-RPC error: the call raised."""


def parse_exec(spec: str, *, source: str) -> list[str]:
    """The argument vector of ``exec:PROGRAM ARGS...`` (shell quoting rules, no shell).

    Raises:
        TargetLoadError: an empty command or unbalanced quotes.
    """
    command = spec[len(PREFIX) :].strip()
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise TargetLoadError(
            f"offload: cannot parse the command {command!r} given by {source}: {exc} "
            '(it is split with shell quoting rules, e.g. exec:"./my sim" --port 0)'
        ) from None
    if not argv:
        raise TargetLoadError(
            f"offload: {spec!r} given by {source} names no program; use "
            "exec:PROGRAM [ARGS...], e.g. exec:./my_sim"
        )
    return argv


@dataclass(eq=False, slots=True, weakref_slot=True)
class _Record:
    """One initiate handed to a child: what its messages are applied to."""

    initiate: int
    case: ProcessTarget
    root: OffloadBlockList
    blocks: list[OffloadBlockList]
    nbls: dict[int, NetBufferList]
    #: ``"initiate"`` or the lifecycle request (protocol 1.3) the tree was handed with.
    operation: str = "initiate"
    returned: bool = False
    completed: bool = False
    call: Any = None
    #: The blocks' context slots as handed over (the snapshot's column), if known.
    slots: list[object] | None = None

    def pending(self) -> PendingInitiate | None:
        return self.case.host.pending_for(self.root)


class ProcessTarget:
    """The target of one case, living in a child process.

    Attributes:
        capabilities: What the program declared in its handshake.
    """

    offload_transport = "process"

    def __init__(
        self,
        factory: ProcessTargetFactory,
        child: ChildProcess,
        host: RecordingHost,
        capabilities: OffloadCapabilities,
    ) -> None:
        self.factory = factory
        self.child = child
        self.host = host
        self.capabilities = capabilities
        self.table = PointerTable()
        self.nbl_ids: dict[int, int] = {}
        self.records: list[_Record] = []
        #: Protocol errors seen before this case's first initiate (shown on it).
        self.queued: list[str] = []
        self.dirty = False
        self.closed = False
        #: Initiates go on the wire in the order the host handed them over, whichever
        #: caller thread encodes first.
        self.sent = 0
        self.turn = threading.Condition()
        #: The host's handles of the blocks handed over, by the pointer they were sent
        #: as: an event names its connection by one (protocol 1.3). Built when the first
        #: event needs it, from the handle columns of the initiates handed over since.
        self.handles: dict[int, object] = {}
        self.handle_columns: list[Sequence[object]] = []
        #: NBLs a terminate handed back that the suite never sent (buffered data), by id.
        self.foreign_nbls: dict[int, NetBufferList] = {}

    def handle_named(self, pointer: int) -> object:
        """The host's handle sent as ``pointer`` (the pointer itself when none was)."""
        while self.handle_columns:  # the initiates handed over since the last event
            column = self.handle_columns.pop(0)
            self.handles.update((id(h), h) for h in column if type(h) is object)
        return self.handles.get(pointer, pointer)

    def initiate_offload(self, root: OffloadBlockList) -> None:
        """Hand the tree to the child and wait until its call returns (or the child dies)."""
        self.factory._initiate(self, root)

    # The lifecycle requests (protocol 1.3): offered only when the program declares them.

    def terminate_offload(self, root: OffloadBlockList) -> None:
        """MiniportTerminateOffload, over the wire."""
        self.factory._initiate(self, root, "terminate")

    def update_offload(self, root: OffloadBlockList) -> None:
        """MiniportUpdateOffload, over the wire."""
        self.factory._initiate(self, root, "update")

    def invalidate_offload(self, root: OffloadBlockList) -> None:
        """MiniportInvalidateOffload, over the wire."""
        self.factory._initiate(self, root, "invalidate")

    def query_offload(self, root: OffloadBlockList) -> None:
        """MiniportQueryOffload, over the wire."""
        self.factory._initiate(self, root, "query")

    def close(self) -> None:
        """Release the child: back to the pool when it behaved, ended otherwise."""
        self.factory._release(self)

    def __repr__(self) -> str:
        return f"<process target pid {self.child.pid}: {shlex.join(self.child.argv)}>"


class ProcessTargetFactory:
    """Creates process targets from one program; see the module docs.

    Args:
        argv: The program and its arguments.
        cwd: Its working directory (the directory pytest was started in).
        source: Where the setting came from, for error messages.
    """

    offload_transport = "process"
    #: The class of the targets it creates (their ``offload_transport`` names the transport).
    target_class: type[ProcessTarget] = ProcessTarget

    def __init__(self, argv: Sequence[str], *, cwd: str | None = None, source: str = "") -> None:
        self.argv = list(argv)
        self.cwd = cwd or os.getcwd()
        self.source = source or "--offload-target"
        self.name = shlex.join(self.argv)
        self.capabilities: OffloadCapabilities | None = None
        #: Name and version the program gave in its first handshake.
        self.identity: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._idle: list[ChildProcess] = []
        self._children: set[ChildProcess] = set()
        self._current: dict[ChildProcess, ProcessTarget] = {}
        self._records: weakref.WeakValueDictionary[int, _Record] = weakref.WeakValueDictionary()
        self._nbls: dict[int, weakref.ReferenceType[_Record]] = {}
        self._initiates = itertools.count(1)
        self._nbl_ids = itertools.count(1)
        self._issued = 0
        self._early: dict[ChildProcess, list[str]] = {}

    # -- the TargetFactory protocol ------------------------------------------------------

    def __call__(self, host: Host, /) -> ProcessTarget:
        """A fresh target for one case (the host must be the suite's RecordingHost)."""
        recording: RecordingHost = host  # type: ignore[assignment]
        timeout = float(getattr(host, "timeout", 2.0))
        # Every case starts with a reset, on a reused child and on a new one alike, so
        # that what a target does after a reset happens in every case (and replays).
        late: str | None = None
        while True:
            with self._lock:
                child = self._idle.pop() if self._idle else None
            fresh = child is None
            if child is None:
                child = self._spawn()
            problem = reset(child, timeout)
            if problem is None:
                break
            if fresh:
                # A new child that fails its first reset: judged, not retried forever.
                with self._lock:
                    self._early.setdefault(child, []).append(problem)
                break
            late = problem
            self._end(child)
        if late is not None:
            with self._lock:
                self._early.setdefault(child, []).insert(
                    0, f"{late}; the process was ended and a new one started"
                )
        assert self.capabilities is not None
        case = self.target_class(self, child, recording, self.capabilities)
        with self._lock:
            case.queued = self._early.pop(child, [])
            self._current[child] = case
        return case

    def close(self) -> None:
        """End every child of this factory (asking each to shut down first)."""
        with self._lock:
            children = list(self._children)
            self._idle.clear()
        for child in children:
            child.shutdown()
            self._forget(child)

    # -- children ------------------------------------------------------------------------

    def _spawn(self) -> ChildProcess:
        program = self.argv[0]
        if os.sep not in program and not os.path.isabs(program):
            found = shutil.which(program)
            if found is None:
                raise TargetLoadError(
                    f"offload: the target program {program!r} given by {self.source} is "
                    "not on PATH (give a path such as ./my_sim; it runs in the directory "
                    f"pytest was started in, {self.cwd})"
                )
        env = dict(os.environ, PYTEST_OFFLOAD_PROTOCOL=PROTOCOL_VERSION)
        try:
            child = ChildProcess(self.argv, cwd=self.cwd, env=env, listener=self)
        except OSError as exc:
            raise TargetLoadError(
                f"offload: cannot start the target program {self.name!r} given by "
                f"{self.source}: {exc.strerror or exc} (working directory {self.cwd})"
            ) from None
        with self._lock:
            self._children.add(child)
            self._early.setdefault(child, [])
        try:
            self._handshake(child)
        except BaseException:
            self._end(child)
            raise
        return child

    def _handshake(self, child: ChildProcess) -> None:
        what = f"the target program {self.name!r} given by {self.source}"
        capabilities, identity = handshake(child, what)
        with self._lock:
            if self.capabilities is None:
                self.capabilities = capabilities
                self.identity = identity

    def _end(self, child: ChildProcess) -> None:
        child.kill()
        self._forget(child)

    def _forget(self, child: ChildProcess) -> None:
        with self._lock:
            self._children.discard(child)
            self._early.pop(child, None)
            self._current.pop(child, None)
            with contextlib.suppress(ValueError):
                self._idle.remove(child)

    # -- one case ------------------------------------------------------------------------

    def _initiate(
        self, case: ProcessTarget, root: OffloadBlockList, operation: str = "initiate"
    ) -> None:
        if case.closed:
            raise RuntimeError("this target was released: create a fresh one for a new case")
        pending = case.host.pending_for(root)
        handed = case.host.initiates()
        order = next((k for k, p in enumerate(handed) if p is pending), len(handed))
        with case.turn:
            case.turn.wait_for(lambda: case.sent >= order, timeout=5.0)
            try:
                record = self._hand_over(case, root, pending, operation)
            finally:
                case.sent += 1
                case.turn.notify_all()
        self._wait_return(case, record)

    def _hand_over(
        self,
        case: ProcessTarget,
        root: OffloadBlockList,
        pending: PendingInitiate | None,
        operation: str = "initiate",
    ) -> _Record:
        child = case.child
        snapshot = pending.snapshot if pending is not None else None
        if snapshot is not None:
            blocks = snapshot.blocks  # the host's hand-over walk: its order, its columns
        else:
            blocks = [block for block, *_ in iter_depth_first(root)]
        wire, nbls = encode_tree(
            blocks,
            case.table,
            case.nbl_ids,
            self._next_nbl,
            snapshot=snapshot,
            structures=operation in ("terminate", "query"),
        )
        if operation == "initiate" and any(
            op in case.capabilities.operations for op in LIFECYCLE_OPERATIONS
        ):
            # Events name connections by these (sent as the addresses of the host's objects);
            # the map is made when an event first needs it (ProcessTarget.handle_named).
            case.handle_columns.append(
                snapshot.image.handles if snapshot is not None else list(map(_HANDLE, blocks))
            )
        with self._lock:
            initiate = next(self._initiates)
            self._issued = initiate
            record = _Record(initiate, case, root, blocks, nbls, operation)
            if snapshot is not None:
                record.slots = snapshot.image.slots
            case.records.append(record)
            self._records[initiate] = record
            queued, case.queued = case.queued, []
            child.limit = BASE_LIMIT + PER_BLOCK_LIMIT * sum(len(r.blocks) for r in case.records)
        if pending is not None:
            pending.allow(WIRE_SECONDS_PER_BLOCK * len(blocks))
        if pending is not None and queued:
            # Shown on this case, which then ends its child: every case on a child that
            # writes garbage between cases (a banner) sees it, so findings replay.
            case.dirty = True
            for text in queued:
                pending.wire_error(text, answered=False)
        self._send_initiate(case, record, wire, nbls)
        return record

    def _send_initiate(self, case: ProcessTarget, record: _Record, wire: Tree, nbls: Any) -> None:
        child = case.child
        initiate = record.initiate
        request_id = child.next_id()
        message: Any
        if record.operation == "initiate":
            message = InitiateRequest(
                "2.0", request_id, "initiate_offload", InitiateParams(initiate, wire)
            )
        else:
            method = f"{record.operation}_offload"
            message = REQUESTS[record.operation](
                "2.0", request_id, method, RequestParams(initiate, wire)
            )
        payload = msgspec.json.encode(
            message, enc_hook=nbl_hook(case.nbl_ids, self._next_nbl, nbls)
        )
        with self._lock:
            reference = weakref.ref(record)
            if len(self._nbls) > 4096:  # forget the NBLs of cases nobody holds any more
                self._nbls = {k: r for k, r in self._nbls.items() if r() is not None}
            for nbl_id in nbls:
                self._nbls[nbl_id] = reference
        record.call = child.call(request_id, f"{record.operation}_offload", payload)

    def _wait_return(self, case: ProcessTarget, record: _Record) -> None:
        child = case.child
        assert record.call is not None
        try:
            child.wait(record.call, None)
        except ChildDied:
            raise TargetCrashed(f"the target process {child.describe_exit()}") from None
        except RpcFailure as exc:
            raise TargetRaised(exc.error.message) from None
        finally:
            record.returned = True

    def _next_nbl(self) -> int:
        return next(self._nbl_ids)

    def _release(self, case: ProcessTarget) -> None:
        with self._lock:
            if case.closed:
                return
            case.closed = True
            child = case.child
            if self._current.get(child) is case:
                del self._current[child]
            if case.queued:  # never shown (no initiate): the next case on this child shows it
                self._early.setdefault(child, [])[:0] = case.queued
            healthy = (
                child.alive
                and not case.dirty
                and child in self._children
                and all(r.returned and r.completed for r in case.records)
            )
            if healthy:
                self._idle.append(child)
        if not healthy:
            self._end(child)

    # -- what children send (their reader threads: the Listener of _child) --------------

    def _case_of(self, child: ChildProcess) -> ProcessTarget | None:
        with self._lock:
            return self._current.get(child)

    def on_wire_error(self, child: ChildProcess, text: str, initiate: int | None) -> None:
        """Record a protocol error on the initiate it concerns, or on what is in flight."""
        with self._lock:
            record = self._records.get(initiate) if initiate is not None else None
            case = record.case if record is not None else self._current.get(child)
            if case is None:
                # Before the handshake, or between cases: shown on the child's next initiate.
                self._early.setdefault(child, []).append(
                    f"before the handshake or between cases: {text}"
                )
                return
            case.dirty = True
            if record is not None:
                targets = [record]
            else:
                targets = [r for r in case.records if not r.completed] or case.records[-1:]
            if not targets:
                case.queued.append(text)
                return
        for target in targets:
            pending = target.pending()
            if pending is not None:
                pending.wire_error(text, answered=not target.completed)

    def on_exit(self, child: ChildProcess, description: str) -> None:
        case = self._case_of(child)
        if case is None:
            return
        case.dirty = True
        waiting = [r for r in case.records if not r.completed]
        if not waiting and case.records:
            self.on_wire_error(
                child, f"the target process {description} with no initiate in flight", None
            )
            return
        error = RaisedError(
            "TargetCrashed", f"the target process {child.describe_exit()}", crash=True
        )
        for record in waiting:
            pending = record.pending()
            if pending is not None:
                pending.fail(error)

    def on_message(self, child: ChildProcess, message: Incoming, line: bytes) -> None:
        method = message.method
        request_id = message.id
        if method not in _KNOWN_METHODS:
            self.on_wire_error(child, f"unknown method {method!r}: {quote(line)}", None)
            if request_id is not msgspec.UNSET and request_id is not None:
                child.write(encode_error(request_id, -32601, f"unknown method {method}"))
            return
        raw = message.params if message.params is not msgspec.UNSET else b"null"
        try:
            if method == "initiate_offload_complete":
                self._complete(child, raw, line)
            elif method == "initiate_offload_written":
                self._complete(child, raw, line, written=True)
            elif method in COMPLETIONS:
                self._complete(child, raw, line, completion=method)
            elif method == "tcp_offload_event":
                self._event(child, raw)
            else:
                self._send_complete(child, raw, line)
        except (msgspec.ValidationError, WireError) as exc:
            self.on_wire_error(child, f"{method}: {exc}: {quote(line)}", initiate_named(raw))
        if request_id is not msgspec.UNSET and request_id is not None:
            child.write(encode_result(request_id, None))

    def _complete(
        self,
        child: ChildProcess,
        raw: Any,
        line: bytes,
        *,
        written: bool = False,
        completion: str = "initiate_offload_complete",
    ) -> None:
        """A completion (or, ``written``, what the target wrote after completing); a
        lifecycle ``completion`` (1.3) names its request as ``request``. An id names an
        initiate or a request alike (one numbering per process), so a completion of the
        wrong kind reaches the host as the call a driver would have made, and is judged."""
        params: Any
        if completion == "initiate_offload_complete":
            params = _COMPLETE.decode(raw)
            number = params.initiate
        else:
            params = _REQUEST_COMPLETE.decode(raw)
            number = params.request
        what = "initiate" if completion == "initiate_offload_complete" else "request"
        with self._lock:
            record = self._records.get(number)
            issued = self._issued
        if record is None:
            if number > issued:
                raise WireError(
                    f"a completion for {what} {number}, which was never handed over (not in "
                    "flight)"
                )
            return  # an initiate of a case already released: nobody judges it any more
        if record.case.child is not child:
            raise WireError(f"a completion for {what} {number} of another process")
        if written and not record.completed:
            raise WireError(
                f"initiate_offload_written for initiate {number} before its completion"
            )
        nbls = record.nbls
        if record.operation != "initiate":
            # A terminate hands back the send data of the connection's initiate; NBLs of
            # the target's own (buffered data) stay the same objects when sent again.
            nbls = {k: v for r in record.case.records for k, v in r.nbls.items()}
            nbls.update(record.case.foreign_nbls)
        writes = memory_writes(params.image, len(record.blocks), late=written or record.completed)
        apply_image(params.image, record.blocks, nbls, record.case.table, record.slots)
        if record.operation != "initiate":
            record.case.foreign_nbls.update(nbls)
        pending = record.pending()
        if writes and pending is not None:
            pending.memory_written(writes)
        if written:
            return  # not a completion: the host sees the writes in the case's last image
        record.completed = True
        if params.completed_with is not msgspec.UNSET and pending is not None:
            pending.complete_with(PVOID(params.completed_with), COMPLETIONS[completion])
        else:
            getattr(record.case.host, completion)(record.root)

    def _event(self, child: ChildProcess, raw: Any) -> None:
        """NdisTcpOffloadEventHandler (1.3): the handle named by the pointer it was sent
        as (an unknown pointer stays a number: the rules find it names nothing)."""
        params = _EVENT.decode(raw)
        case = self._case_of(child)
        if case is None:
            # Sent before its case was released and read after: nobody watches that case
            # any more (a Python target's late call to a released host is not judged).
            return
        handle: object = None
        if params.ndis_offload_handle is not None:
            value = pointer_from_wire(params.ndis_offload_handle)
            handle = case.handle_named(value)
        case.host.tcp_offload_event(handle, params.event_type, params.event_specific_information)

    def _send_complete(self, child: ChildProcess, raw: Any, line: bytes) -> None:
        params = _SEND.decode(raw)
        chains: dict[int, tuple[ProcessTarget, list[NetBufferList]]] = {}
        with self._lock:
            found = []
            for entry in params.nbls:
                reference = self._nbls.get(entry.id)
                record = reference() if reference is not None else None
                if record is None:
                    if reference is not None:
                        continue  # an NBL of a case already released: nobody judges it
                    raise WireError(f"NBL {entry.id} was never handed to this target")
                if record.case.child is not child:
                    raise WireError(f"NBL {entry.id} was handed to another process")
                found.append((record, record.nbls[entry.id], entry.status))
        for record, nbl, status in found:
            nbl.status = status_from_wire(status)
            chains.setdefault(id(record.case), (record.case, []))[1].append(nbl)
        for case, chain in chains.values():
            case.host.tcp_offload_send_complete(chain)


_HANDLE = operator.attrgetter("ndis_offload_handle")
_COMPLETE = msgspec.json.Decoder(InitiateCompleteParams, dec_hook=nbl_ref_hook)
_REQUEST_COMPLETE = msgspec.json.Decoder(RequestCompleteParams, dec_hook=nbl_ref_hook)
_EVENT = msgspec.json.Decoder(EventParams)
_SEND = msgspec.json.Decoder(SendCompleteParams)
