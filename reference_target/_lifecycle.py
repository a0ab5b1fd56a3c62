"""The reference target's terminate, update, invalidate and query (domain.md 5.1-5.5).

A mixin of :class:`ReferenceTarget`: each request's tree is walked like an initiate's
(placeholders SUCCESS, named blocks decided one by one), under the same table lock, and
completed once in the target's completion mode.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any

from pytest_offload.model import (
    HALF_CLOSED,
    NdisStatus,
    NeighborOffloadState,
    NeighborOffloadStateCached,
    NeighborOffloadStateConst,
    NeighborOffloadStateDelegated,
    NetBufferList,
    OffloadStateType,
    PathOffloadState,
    PathOffloadStateCached,
    PathOffloadStateConst,
    PathOffloadStateDelegated,
    TcpOffloadEventType,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpUploadReason,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload.model import Host, OffloadBlockList
    from reference_target._resources import OffloadedObject, Pools

S = NdisStatus
T = OffloadStateType
_LAYERS = ("neighbor", "path", "tcp")
#: The class of the structure each state type names, per layer.
_PARTS: dict[int, tuple[str, str]] = {
    T.NEIGHBOR_CONST: ("neighbor", "const"),
    T.NEIGHBOR_CACHED: ("neighbor", "cached"),
    T.NEIGHBOR_DELEGATED: ("neighbor", "delegated"),
    T.NEIGHBOR: ("neighbor", "all"),
    T.IP4_CONST: ("path", "const"),
    T.IP4_CACHED: ("path", "cached"),
    T.IP4_DELEGATED: ("path", "delegated"),
    T.IP4: ("path", "all"),
    T.IP6_CONST: ("path", "const"),
    T.IP6_CACHED: ("path", "cached"),
    T.IP6_DELEGATED: ("path", "delegated"),
    T.IP6: ("path", "all"),
    T.TCP_CONST: ("tcp", "const"),
    T.TCP_CACHED: ("tcp", "cached"),
    T.TCP_DELEGATED: ("tcp", "delegated"),
    T.TCP: ("tcp", "all"),
}
_CACHED_CLASS = {
    "neighbor": NeighborOffloadStateCached,
    "path": PathOffloadStateCached,
    "tcp": TcpOffloadStateCached,
}
_CONST_CLASS = {
    "neighbor": NeighborOffloadStateConst,
    "path": PathOffloadStateConst,
    "tcp": TcpOffloadStateConst,
}
#: TCP cached flag bits that are one-shot commands, not values kept (domain.md 2.6).
_COMMAND_FLAGS = 0x04 | 0x08 | 0x10
_UNSUPPORTED = 0xFFFFFFFF


class LifecycleOperations:
    """Terminate, update, invalidate and query over the table of offloaded objects."""

    host: Host
    pools: Pools
    completion: str
    delay: float
    _lock: threading.Lock
    #: Whether to ask for the upload of connections that depend on invalidated state.
    upload_invalidated: bool = True

    # -- the four handlers ------------------------------------------------------------

    def terminate_offload(self, root: OffloadBlockList) -> None:
        """MiniportTerminateOffload: hand back delegated state and send data, free all."""
        self._dispatch(self._terminate, root, "terminate_offload_complete")

    def update_offload(self, root: OffloadBlockList) -> None:
        """MiniportUpdateOffload: new cached values, and paths relinked to a neighbor."""
        self._dispatch(self._update, root, "update_offload_complete")

    def invalidate_offload(self, root: OffloadBlockList) -> None:
        """MiniportInvalidateOffload: mark the state invalid, keep it until terminated."""
        self._dispatch(self._invalidate, root, "invalidate_offload_complete")

    def query_offload(self, root: OffloadBlockList) -> None:
        """MiniportQueryOffload: fill each named block's structure with current values."""
        self._dispatch(self._query, root, "query_offload_state_complete")

    def _dispatch(
        self,
        work: Callable[[OffloadBlockList], Callable[[], None] | None],
        root: OffloadBlockList,
        completion: str,
    ) -> None:
        def run() -> None:
            after = work(root)
            getattr(self.host, completion)(root)
            if after is not None:
                after()  # indications the request leads to, once it has completed

        if self.completion == "inline":
            run()
        elif self.completion == "thread":
            threading.Thread(target=run, name=f"reference-{completion}").start()
        else:
            timer = threading.Timer(self.delay, run)
            timer.name = f"reference-{completion}-delayed"
            timer.start()

    # -- terminate ----------------------------------------------------------------------

    def _terminate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        with self._lock:
            named = _named(root)
            objects = {id(b): self._object_of(b, depth) for b, depth in named}
            in_tree = {id(o) for o in objects.values() if o is not None}
            aborted_sends: list[NetBufferList] = []
            for block, _depth in named:
                obj = objects[id(block)]
                if obj is None or any(id(d) not in in_tree for d in self.pools.dependents(obj)):
                    # Names nothing offloaded here, or leaves live dependents behind.
                    block.status = S.FAILURE
                    continue
                block.state = self._delegated(obj, block)
                if obj.aborted and obj.sends:
                    aborted_sends.extend(obj.sends)
                self.pools.unregister(obj)
                block.status = S.SUCCESS
            for block in _placeholders(root):
                block.status = S.SUCCESS
            if aborted_sends:
                for nbl in aborted_sends:
                    nbl.status = S.REQUEST_ABORTED
                chain = tuple(aborted_sends)
                self.host.tcp_offload_send_complete(chain)
        return None

    def _delegated(self, obj: OffloadedObject, block: OffloadBlockList) -> Any:
        state: Any = obj.state
        if obj.layer == "neighbor":
            return NeighborOffloadStateDelegated(nic_reachability_delta=0)
        if obj.layer == "path":
            return PathOffloadStateDelegated()
        sends = () if obj.aborted else obj.sends
        block.net_buffer_list_chain = sends or None
        buffered = (NetBufferList(obj.buffered),) if obj.buffered else ()
        return dataclasses.replace(
            state.delegated,
            send_data_head=sends[0] if sends else None,
            send_data_tail=sends[-1] if sends else None,
            buffered_data=buffered,
            send_backlog_size=0,
            receive_backlog_size=0,
        )

    # -- update -------------------------------------------------------------------------

    def _update(self, root: OffloadBlockList) -> Callable[[], None] | None:
        with self._lock:
            for block, depth in _named(root):
                obj = self._object_of(block, depth)
                if obj is None:
                    _fail_below(block)
                    continue
                state: Any = block.state
                if state is None and depth == 0 and block.dependent_block_list is not None:
                    block.status = S.SUCCESS  # the neighbor anchoring a relink
                    continue
                if type(state) is not _CACHED_CLASS[obj.layer]:
                    block.status = S.FAILURE
                    continue
                cached: Any = state
                if obj.layer == "tcp":
                    cached = dataclasses.replace(cached, flags=cached.flags & ~_COMMAND_FLAGS)
                obj.cached = cached
                parent = _parent_block(root, block)
                if obj.layer == "path" and parent is not None and parent.miniport_offload_context:
                    anchor = self._object_of(parent, 0)
                    if anchor is not None:
                        obj.parent = anchor  # relinked to the neighbor above it
                block.status = S.SUCCESS
            for block in _placeholders(root):
                block.status = S.SUCCESS
        return None

    # -- invalidate ---------------------------------------------------------------------

    def _invalidate(self, root: OffloadBlockList) -> Callable[[], None] | None:
        with self._lock:
            for block, depth in _named(root):
                obj = self._object_of(block, depth)
                if obj is None:
                    block.status = S.FAILURE
                    continue
                obj.invalid = True
                block.status = S.SUCCESS
            for block in _placeholders(root):
                block.status = S.SUCCESS
            if not self.upload_invalidated:
                return None
            affected = [
                o
                for o in self.pools.objects.values()
                if o.layer == "tcp"
                and _depends_on_invalid(o)
                and o.state.delegated.state not in HALF_CLOSED  # type: ignore[union-attr]
            ]
        if not affected:
            return None

        def ask() -> None:
            # Under the table lock, for what is still offloaded and still on invalidated
            # state: a terminate the host sent meanwhile has then either not started (the
            # event comes first) or has freed the connection (no event after its
            # completion, TRM-NO-EVENT-AFTER); the host never calls back from inside an
            # event (H10), so holding the lock is safe.
            with self._lock:
                for obj in affected:
                    if self.pools.objects.get(id(obj)) is obj and _depends_on_invalid(obj):
                        self.host.tcp_offload_event(  # type: ignore[attr-defined]
                            obj.handle,
                            TcpOffloadEventType.RETRIEVE,
                            TcpUploadReason.INVALID_STATE,
                        )

        return ask

    # -- query --------------------------------------------------------------------------

    def _query(self, root: OffloadBlockList) -> Callable[[], None] | None:
        with self._lock:
            for block, depth in _named(root):
                obj = self._object_of(block, depth, combined_only=False)
                part = _PARTS.get(block.state_type)
                if obj is None or part is None or part[0] != obj.layer:
                    block.status = S.FAILURE
                    continue
                block.state = self._current(obj, part[1])  # type: ignore[assignment]
                block.status = S.SUCCESS
            for block in _placeholders(root):
                block.status = S.SUCCESS
        return None

    def _current(self, obj: OffloadedObject, part: str) -> object:
        state: Any = obj.state
        if part == "const":
            return state.const
        if part == "cached":
            return obj.cached
        delegated: object
        if obj.layer == "tcp":
            delegated = dataclasses.replace(
                state.delegated,
                send_data_head=None,
                send_data_tail=None,
                buffered_data=(),
                send_backlog_size=sum(len(n.data) for n in obj.sends),
                receive_backlog_size=len(obj.buffered),
            )
        else:
            delegated = state.delegated
        if part == "delegated":
            return delegated
        combined = {
            "neighbor": NeighborOffloadState,
            "path": PathOffloadState,
            "tcp": TcpOffloadState,
        }[obj.layer]
        return combined(const=state.const, cached=obj.cached, delegated=delegated)

    # -- lookups ------------------------------------------------------------------------

    def _object_of(
        self, block: OffloadBlockList, depth: int, *, combined_only: bool = False
    ) -> OffloadedObject | None:
        del combined_only
        slot = block.miniport_offload_context
        if slot is None or slot.value is None or depth >= len(_LAYERS):
            return None
        return self.pools.lookup(slot.value, _LAYERS[depth])


def _named(root: OffloadBlockList) -> list[tuple[OffloadBlockList, int]]:
    """The blocks naming an object, each with its depth, depth-first breadth-next."""
    out: list[tuple[OffloadBlockList, int]] = []
    stack: list[tuple[OffloadBlockList, int]] = [(root, 0)]
    seen: set[int] = set()
    while stack:
        block, depth = stack.pop()
        if id(block) in seen:
            continue  # a host never sends a cycle; never loop on one
        seen.add(id(block))
        if block.miniport_offload_context is not None:
            out.append((block, depth))
        if block.next_block is not None:
            stack.append((block.next_block, depth))
        if block.dependent_block_list is not None:
            stack.append((block.dependent_block_list, depth + 1))
    return out


def _placeholders(root: OffloadBlockList) -> list[OffloadBlockList]:
    out: list[OffloadBlockList] = []
    stack = [root]
    seen: set[int] = set()
    while stack:
        block = stack.pop()
        if id(block) in seen:
            continue
        seen.add(id(block))
        if block.miniport_offload_context is None:
            out.append(block)
        if block.next_block is not None:
            stack.append(block.next_block)
        if block.dependent_block_list is not None:
            stack.append(block.dependent_block_list)
    return out


def _parent_block(root: OffloadBlockList, target: OffloadBlockList) -> OffloadBlockList | None:
    stack: list[tuple[OffloadBlockList, OffloadBlockList | None]] = [(root, None)]
    seen: set[int] = set()
    while stack:
        block, parent = stack.pop()
        if id(block) in seen:
            continue
        seen.add(id(block))
        if block is target:
            return parent
        if block.next_block is not None:
            stack.append((block.next_block, parent))
        if block.dependent_block_list is not None:
            stack.append((block.dependent_block_list, block))
    return None


def _fail_below(block: OffloadBlockList) -> None:
    """FAILURE on ``block``, and on every named block under it (not attempted)."""
    block.status = S.FAILURE
    for below in block.dependents():
        if below.miniport_offload_context is not None:
            _fail_below(below)


def _depends_on_invalid(obj: OffloadedObject) -> bool:
    walk: OffloadedObject | None = obj
    while walk is not None:
        if walk.invalid:
            return True
        walk = walk.parent
    return False
