"""Deliberately broken lifecycle targets: the reference target with one realistic defect in
terminate, update, invalidate or query each (lifecycle.md section 3).

``tests/broken_targets.py`` merges :data:`BROKEN_LIFECYCLE` into its ``BROKEN`` table, so
that ``tests/test_plugin.py`` proves each is caught with its rule's ID and grade.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import reference_target
from pytest_offload import (
    NdisStatus,
    OffloadBlockList,
    OffloadOperation,
    TcpOffloadEventType,
    TcpUploadReason,
    iter_depth_first,
)
from pytest_offload.model import HALF_CLOSED
from reference_target import ReferenceTarget
from reference_target._lifecycle import (
    _depends_on_invalid,
    _named,
    _placeholders,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload import Host
    from reference_target._resources import OffloadedObject

S = NdisStatus


def _subclass(cls: type[ReferenceTarget], **limits: Any) -> Callable[[Host], ReferenceTarget]:
    def create_target(host: Host) -> ReferenceTarget:
        target = reference_target.create_target(host, **limits)
        target.__class__ = cls
        return target

    create_target.__name__ = f"create_{cls.__name__}"
    return create_target


def _event(target: ReferenceTarget, handle: object, kind: int, info: int = 0) -> None:
    target.host.tcp_offload_event(handle, kind, info)  # type: ignore[attr-defined]


# -- completion, statuses, host fields --------------------------------------------------


class CompletesTerminateTwice(ReferenceTarget):
    """A retry path that completes a terminate a second time."""

    def terminate_offload(self, root: OffloadBlockList) -> None:
        super().terminate_offload(root)
        self.host.terminate_offload_complete(root)  # type: ignore[attr-defined]


class QueryRaises(ReferenceTarget):
    """Completes a query, then trips over an assertion of its own."""

    def query_offload(self, root: OffloadBlockList) -> None:
        super().query_offload(root)
        raise RuntimeError("query bookkeeping out of sync")


class NamedStatusesOnly(ReferenceTarget):
    """Writes a status into the blocks that name objects, never into placeholders."""

    def _invalidate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        after = super()._invalidate(root)
        for block in _placeholders(root):
            block.status = S.PENDING  # as handed over: never written
        return after


class ClearsContextOnInvalidate(ReferenceTarget):
    """Clears the host's context slot of what it invalidates, as if it owned the slot."""

    def _invalidate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        after = super()._invalidate(root)
        for block, _ in _named(root):
            if block.status == S.SUCCESS and block.miniport_offload_context is not None:
                block.miniport_offload_context.value = None
        return after


class FailsUpdates(ReferenceTarget):
    """Cannot update anything: every update ends FAILURE."""

    def _update(self, root: OffloadBlockList) -> Callable[[], None] | None:
        for block, *_ in iter_depth_first(root):
            block.status = S.FAILURE if block.miniport_offload_context is not None else S.SUCCESS
        return None


#: For the plugin test of the rules an update SUCCESS opens (blocked when none is).
fails_updates = _subclass(FailsUpdates)


# -- contexts and capacity ------------------------------------------------------------


class RecyclesInvalidated(ReferenceTarget):
    """Puts invalidated connections back on its free list and hands them out again."""

    free: list[OffloadedObject]

    def _invalidate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        after = super()._invalidate(root)
        self.free = getattr(self, "free", [])
        for block, _ in _named(root):
            slot = block.miniport_offload_context
            obj = self.pools.lookup(slot.value, "tcp") if slot is not None else None
            if obj is not None and block.status == S.SUCCESS:
                self.free.append(obj)
        return after

    def _admit_tcp(self, block: OffloadBlockList, state: Any, parent: Any) -> Any:
        obj, status = super()._admit_tcp(block, state, parent)
        free = getattr(self, "free", [])
        if obj is not None and free:
            old = free.pop()
            self.pools.objects.pop(id(obj))
            for name in type(obj).__slots__:
                setattr(old, name, getattr(obj, name))
            obj = old
        return obj, status


class LeaksTcpEntries(ReferenceTarget):
    """Frees everything of a terminated connection but its TCP entry."""

    def _terminate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        before = self.pools.counts["tcp"]
        gone = sum(
            1
            for block, depth in _named(root)
            if depth == 2
            and block.miniport_offload_context is not None
            and self.pools.lookup(block.miniport_offload_context.value, "tcp") is not None
        )
        after = super()._terminate(root)
        self.pools.counts["tcp"] = min(before, self.pools.counts["tcp"] + gone)
        return after


class InvalidateFreesCapacity(ReferenceTarget):
    """Gives an invalidated connection's TCP entry back at once (it should hold it until
    the terminate)."""

    def _invalidate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        after = super()._invalidate(root)
        for block, depth in _named(root):
            slot = block.miniport_offload_context
            found = self.pools.lookup(slot.value, "tcp") if slot is not None else None
            if depth == 2 and found is not None and block.status == S.SUCCESS:
                self.pools.counts["tcp"] -= 1
        return after

    def _terminate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        invalid = sum(
            1
            for block, depth in _named(root)
            if depth == 2
            and block.miniport_offload_context is not None
            and (o := self.pools.lookup(block.miniport_offload_context.value, "tcp")) is not None
            and o.invalid
        )
        after = super()._terminate(root)
        self.pools.counts["tcp"] += invalid  # already given back at the invalidate
        return after


# -- the state handed back -------------------------------------------------------------


class LeavesNeighborStateUnwritten(ReferenceTarget):
    """Hands back no delegated structure for neighbors and paths (nothing to say, it
    thinks), leaving what the host handed over as it was."""

    def _delegated(self, obj: OffloadedObject, block: OffloadBlockList) -> Any:
        if obj.layer != "tcp":
            return block.state
        return super()._delegated(obj, block)


class RcvNxtPastFin(ReferenceTarget):
    """Hands back rcv_nxt one past what it was given, counting a FIN it never saw."""

    def _delegated(self, obj: OffloadedObject, block: OffloadBlockList) -> Any:
        state = super()._delegated(obj, block)
        if obj.layer == "tcp":
            return dataclasses.replace(state, rcv_nxt=(state.rcv_nxt + 1) & 0xFFFFFFFF)
        return state


class SwapsPortsOnQuery(ReferenceTarget):
    """Reports const ports in the wrong order (a byte-order helper used twice)."""

    def _current(self, obj: OffloadedObject, part: str) -> object:
        found: Any = super()._current(obj, part)
        if obj.layer != "tcp" or part not in ("const", "all"):
            return found
        const = found if part == "const" else found.const
        swapped = dataclasses.replace(
            const, local_port=const.remote_port, remote_port=const.local_port
        )
        if const.local_port == const.remote_port:
            swapped = dataclasses.replace(const, local_port=(const.local_port + 1) % 65536)
        return swapped if part == "const" else dataclasses.replace(found, const=swapped)


class IgnoresUpdates(ReferenceTarget):
    """Answers SUCCESS to an update and keeps the old cached values."""

    def _update(self, root: OffloadBlockList) -> Callable[[], None] | None:
        kept = {id(o): o.cached for o in self.pools.objects.values()}
        parents = {id(o): o.parent for o in self.pools.objects.values()}
        after = super()._update(root)
        for obj in self.pools.objects.values():
            obj.cached = kept.get(id(obj), obj.cached)
            obj.parent = parents.get(id(obj), obj.parent)
        return after


class NeverRelinks(ReferenceTarget):
    """Updates cached values but keeps every path under its first neighbor."""

    def _update(self, root: OffloadBlockList) -> Callable[[], None] | None:
        parents = {id(o): o.parent for o in self.pools.objects.values()}
        after = super()._update(root)
        for obj in self.pools.objects.values():
            obj.parent = parents.get(id(obj), obj.parent)
        return after


class FailsQueriesSilently(ReferenceTarget):
    """Cannot read a connection's state back, and says so only with FAILURE: no RETRIEVE
    with HARDWARE_FAILURE, no ABORT."""

    def _query(self, root: OffloadBlockList) -> Callable[[], None] | None:
        after = super()._query(root)
        for block, depth in _named(root):
            if depth == 2:
                block.status = S.FAILURE
        return after


class TrustsTheHostsPointer(ReferenceTarget):
    """Terminates whatever the host names: a context it never handed out is SUCCESS too."""

    def _object_of(
        self, block: OffloadBlockList, depth: int, *, combined_only: bool = False
    ) -> Any:
        found = super()._object_of(block, depth, combined_only=combined_only)
        if found is None and depth < 3:
            layer = ("neighbor", "path", "tcp")[depth]
            same = [o for o in self.pools.objects.values() if o.layer == layer]
            return same[-1] if same else None
        return found


# -- send and buffered data, events -----------------------------------------------------


class AcksSendDataOnTerminate(ReferenceTarget):
    """Completes outstanding send data with SUCCESS at terminate, as if acknowledged."""

    def _delegated(self, obj: OffloadedObject, block: OffloadBlockList) -> Any:
        if obj.layer == "tcp" and obj.sends:
            for nbl in obj.sends:
                nbl.status = S.SUCCESS
            self.host.tcp_offload_send_complete(obj.sends)
            obj.sends = ()
        return super()._delegated(obj, block)


class DropsBufferedData(ReferenceTarget):
    """Never hands buffered receive data back."""

    def _delegated(self, obj: OffloadedObject, block: OffloadBlockList) -> Any:
        state = super()._delegated(obj, block)
        if obj.layer == "tcp":
            return dataclasses.replace(state, buffered_data=())
        return state


class DisconnectsAfterTerminate(ReferenceTarget):
    """A teardown timer that indicates a disconnect after the terminate completed."""

    def _dispatch(self, work: Any, root: OffloadBlockList, completion: str) -> None:
        handles = [
            b.ndis_offload_handle
            for b, depth in _named(root)
            if depth == 2 and completion == "terminate_offload_complete"
        ]
        super()._dispatch(work, root, completion)
        for handle in handles:
            _event(self, handle, TcpOffloadEventType.DISCONNECT)


class AbortsAndChainsSends(ReferenceTarget):
    """Indicates ABORT for each connection with send data once it is offloaded (a reset
    came in), then at the terminate chains the send data as if nothing had happened."""

    told: set[int]

    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        super()._offload_and_complete(root)
        self.told = getattr(self, "told", set())
        for obj in list(self.pools.objects.values()):
            if obj.layer == "tcp" and obj.sends and id(obj) not in self.told:
                self.told.add(id(obj))
                _event(self, obj.handle, TcpOffloadEventType.ABORT)

    def _delegated(self, obj: OffloadedObject, block: OffloadBlockList) -> Any:
        obj.aborted = False
        return super()._delegated(obj, block)


class UploadsPaths(ReferenceTarget):
    """Asks for the upload of an invalidated path itself, not of its connections."""

    def _invalidate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        after = super()._invalidate(root)
        handles = [b.ndis_offload_handle for b, depth in _named(root) if depth == 1]

        def ask() -> None:
            if after is not None:
                after()
            for handle in handles:
                _event(self, handle, TcpOffloadEventType.RETRIEVE, TcpUploadReason.INVALID_STATE)

        return ask


class UploadsHalfClosed(ReferenceTarget):
    """Asks for the upload of every connection on invalidated state, half-closed ones too."""

    def _invalidate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        super()._invalidate(root)
        with self._lock:
            affected = [
                o.handle
                for o in self.pools.objects.values()
                if o.layer == "tcp" and _depends_on_invalid(o)
            ]

        def ask() -> None:
            for handle in affected:
                _event(self, handle, TcpOffloadEventType.RETRIEVE, TcpUploadReason.INVALID_STATE)

        return ask


class UploadsEveryone(ReferenceTarget):
    """After an invalidate, asks to upload every connection with INVALID_STATE."""

    def _invalidate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        super()._invalidate(root)
        with self._lock:
            everyone = [
                o.handle
                for o in self.pools.objects.values()
                if o.layer == "tcp" and o.state.delegated.state not in HALF_CLOSED  # type: ignore[union-attr]
            ]

        def ask() -> None:
            for handle in everyone:
                _event(self, handle, TcpOffloadEventType.RETRIEVE, TcpUploadReason.INVALID_STATE)

        return ask


_HW = TcpUploadReason.HARDWARE_FAILURE


BROKEN_LIFECYCLE: dict[str, Callable[[Host], Any]] = {
    "LIFE-COMPLETE-ONCE": _subclass(CompletesTerminateTwice),
    "LIFE-NO-RAISE": _subclass(QueryRaises),
    "LIFE-STATUS-ALLOWED": _subclass(NamedStatusesOnly),
    "LIFE-HOST-FIELDS-INTACT": _subclass(ClearsContextOnInvalidate),
    "LIFE-HEALTHY-SUCCESS": _subclass(FailsUpdates),
    "LIFE-CONTEXT-UNIQUE": _subclass(RecyclesInvalidated),
    "LIFE-CAPACITY-FREED": _subclass(LeaksTcpEntries),
    "LIFE-STATE-WRITTEN": _subclass(LeavesNeighborStateUnwritten),
    "LIFE-DELEGATED-SETTLED": _subclass(RcvNxtPastFin),
    "LIFE-FAILURE-SEQUENCE": _subclass(FailsQueriesSilently),
    "LIFE-ROBUST-FAILURE": _subclass(TrustsTheHostsPointer),
    "TRM-SEND-DATA-ONCE": _subclass(AcksSendDataOnTerminate),
    "TRM-BUFFERED-DATA": _subclass(DropsBufferedData),
    "TRM-NO-EVENT-AFTER": _subclass(DisconnectsAfterTerminate),
    "TRM-ABORTED-SENDS": _subclass(AbortsAndChainsSends),
    "TRM-UPLOAD-TCP-ONLY": _subclass(UploadsPaths),
    "TRM-UPLOAD-NOT-HALF-CLOSED": _subclass(UploadsHalfClosed),
    "UPD-QUERY-SHOWS": _subclass(IgnoresUpdates),
    "UPD-RELINK": _subclass(NeverRelinks),
    "QRY-CONST-CACHED": _subclass(SwapsPortsOnQuery),
    "INV-STILL-OFFLOADED": _subclass(InvalidateFreesCapacity),
    "INV-INVALID-STATE-REASON": _subclass(UploadsEveryone),
}


def v1_only(host: Host) -> ReferenceTarget:
    """The reference target declaring initiate only (a v1 target)."""
    return reference_target.create_target(host, operations=frozenset({OffloadOperation.INITIATE}))


# -- conformant targets that trigger the target-triggered rules ---------------------------


class AbortsCorrectly(ReferenceTarget):
    """Indicates ABORT for each connection with send data once it is offloaded, and at
    its terminate completes that data with REQUEST_ABORTED (conformant)."""

    told: set[int]

    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        super()._offload_and_complete(root)
        self.told = getattr(self, "told", set())
        for obj in list(self.pools.objects.values()):
            if obj.layer == "tcp" and obj.sends and id(obj) not in self.told:
                self.told.add(id(obj))
                obj.aborted = True
                _event(self, obj.handle, TcpOffloadEventType.ABORT)


class FailsQueriesLoudly(ReferenceTarget):
    """Cannot read a connection's state back: FAILURE, then RETRIEVE with
    HARDWARE_FAILURE and ABORT, as domain.md 5.5 asks (conformant)."""

    def _query(self, root: OffloadBlockList) -> Callable[[], None] | None:
        super()._query(root)
        handles = []
        for block, depth in _named(root):
            if depth == 2:
                block.status = S.FAILURE
                handles.append(block.ndis_offload_handle)
                slot = block.miniport_offload_context
                obj = self.pools.lookup(slot.value, "tcp") if slot is not None else None
                if obj is not None:
                    obj.aborted = True  # its send data completes REQUEST_ABORTED later

        def sequence() -> None:
            for handle in handles:
                _event(
                    self, handle, TcpOffloadEventType.RETRIEVE, TcpUploadReason.HARDWARE_FAILURE
                )
                _event(self, handle, TcpOffloadEventType.ABORT)

        return sequence


aborts_correctly = _subclass(AbortsCorrectly)
fails_queries_loudly = _subclass(FailsQueriesLoudly)


class DeclaresQueryWithoutMethod:
    """Declares every operation but implements initiate only (a usage error)."""

    def __init__(self, host: Host) -> None:
        from pytest_offload import OffloadCapabilities

        self.host = host
        self.capabilities = OffloadCapabilities(
            tcp_connection_offload_capacity=4, operations=frozenset(OffloadOperation)
        )

    def initiate_offload(self, root: OffloadBlockList) -> None:
        self.host.initiate_offload_complete(root)


class ReusesFreedContexts(ReferenceTarget):
    """Hands the structure of a connection terminated with SUCCESS to the next new one,
    as a C driver reallocating freed memory at the same address (conformant: a GONE
    object's context may recur)."""

    freed: list[OffloadedObject]

    def _terminate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        before = {id(o): o for o in self.pools.objects.values() if o.layer == "tcp"}
        after = super()._terminate(root)
        self.freed = getattr(self, "freed", [])
        self.freed += [o for k, o in before.items() if k not in self.pools.objects]
        return after

    def _admit_tcp(self, block: OffloadBlockList, state: Any, parent: Any) -> Any:
        obj, status = super()._admit_tcp(block, state, parent)
        freed = getattr(self, "freed", [])
        if obj is not None and freed:
            old = freed.pop()
            self.pools.objects.pop(id(obj))
            for name in type(obj).__slots__:
                setattr(old, name, getattr(obj, name))
            self.pools.objects[id(old)] = old
            obj = old
        return obj, status


class FailsTerminatesLoudly(ReferenceTarget):
    """The corrupt-hardware sequence on a terminate (domain.md 5.1): FAILURE on the first
    terminate of each connection, RETRIEVE with HARDWARE_FAILURE, ABORT, and the send
    data completed REQUEST_ABORTED by the terminate that follows (conformant)."""

    failed: set[int]

    def _terminate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        self.failed = getattr(self, "failed", set())
        first = []
        for block, depth in _named(root):
            slot = block.miniport_offload_context
            obj = self.pools.lookup(slot.value, "tcp") if slot is not None and depth == 2 else None
            if obj is not None and id(obj) not in self.failed:
                first.append((block, obj))
        if not first:
            return super()._terminate(root)
        for block, obj in first:
            self.failed.add(id(obj))
            obj.aborted = True
            block.status = S.FAILURE
        for block in _placeholders(root):
            block.status = S.SUCCESS
        handles = [obj.handle for _, obj in first]
        for block, depth in _named(root):
            if block.status == S.PENDING:
                block.status = S.FAILURE  # the rest of this tree is not attempted
                if depth == 2:
                    handles.append(block.ndis_offload_handle)

        def sequence() -> None:
            for handle in handles:
                _event(self, handle, TcpOffloadEventType.RETRIEVE, _HW)
                _event(self, handle, TcpOffloadEventType.ABORT)

        return sequence


class HangsOnTerminate(ReferenceTarget):
    """Never completes a terminate (a lost completion)."""

    def terminate_offload(self, root: OffloadBlockList) -> None:
        return


class AbortsSendsWithoutAbort(ReferenceTarget):
    """Completes outstanding send data REQUEST_ABORTED at a terminate though no ABORT was
    indicated (it should be UPLOAD_IN_PROGRESS, or chained)."""

    def _delegated(self, obj: OffloadedObject, block: OffloadBlockList) -> Any:
        if obj.layer == "tcp" and obj.sends:
            for nbl in obj.sends:
                nbl.status = S.REQUEST_ABORTED
            self.host.tcp_offload_send_complete(obj.sends)
            obj.sends = ()
        return super()._delegated(obj, block)


reuses_freed_contexts = _subclass(ReusesFreedContexts)
fails_terminates_loudly = _subclass(FailsTerminatesLoudly)
hangs_on_terminate = _subclass(HangsOnTerminate)
aborts_sends_without_abort = _subclass(AbortsSendsWithoutAbort)


class MovesSndUnaInDelegatedQueries(ReferenceTarget):
    """Answers a TCP_DELEGATED query with snd_una advanced (combined queries are right)."""

    def _current(self, obj: OffloadedObject, part: str) -> object:
        found: Any = super()._current(obj, part)
        if obj.layer == "tcp" and part == "delegated":
            return dataclasses.replace(found, snd_una=(found.snd_una + 1) & 0xFFFFFFFF)
        return found


moves_snd_una_in_delegated_queries = _subclass(MovesSndUnaInDelegatedQueries)
