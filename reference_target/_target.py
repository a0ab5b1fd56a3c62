"""The reference offload target: NDIS initiate-offload behaviour, configurable limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pytest_offload.model import (
    NOT_OFFLOADABLE_STATES,
    NdisStatus,
    NeighborOffloadState,
    OffloadBlockList,
    OffloadCapabilities,
    OffloadOperation,
    OffloadStateType,
    PathOffloadState,
    TcpConnectionState,
    TcpOffloadState,
)
from reference_target._lifecycle import LifecycleOperations
from reference_target._resources import OBJECT_COST, OffloadedObject, Pools

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.model import Host, NetBufferList

S = NdisStatus
CompletionMode = Literal["inline", "thread", "delayed"]
#: One layer's admission ladder: (block, state, parent) -> (object or None, status).
Admission = Callable[
    [OffloadBlockList, Any, "OffloadedObject | None"], tuple["OffloadedObject | None", int]
]
LAYERS = ("neighbor", "path", "tcp")
LAYER_TYPES = {
    "neighbor": (OffloadStateType.NEIGHBOR,),
    "path": (OffloadStateType.IP4, OffloadStateType.IP6),
    "tcp": (OffloadStateType.TCP,),
}
STATE_CLASS = {"neighbor": NeighborOffloadState, "path": PathOffloadState, "tcp": TcpOffloadState}
_TCP = LAYERS.index("tcp")
_TYPES_AT = tuple(LAYER_TYPES[layer] for layer in LAYERS)
_CLASS_AT = tuple(STATE_CLASS[layer] for layer in LAYERS)
_SUCCESS, _PARTIAL, _FAILURE = S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS, S.FAILURE
_TCP_ENTRIES = S.OFFLOAD_TCP_ENTRIES
_OFFLOADED = frozenset({_SUCCESS, _PARTIAL})


class ReferenceTarget(LifecycleOperations):
    """An offload target that follows domain.md 1.4, 1.5, 3, 4 and 5, with declared limits.

    It walks each tree depth-first, breadth-next; decides each new offload against its own
    table of offloaded objects and its resource pools; gives the dependents of a failed
    block FAILURE without attempting them; hands out a unique context per object; leaves
    the send data of failed TCP blocks alone; copies buffered receive data before
    completing; and completes exactly once, inline, on a worker thread or after a delay.
    Terminate, update, invalidate and query come from :class:`LifecycleOperations`; a
    declaration without them makes it an initiate-only (v1) target.
    """

    def __init__(
        self,
        host: Host,
        *,
        capabilities: OffloadCapabilities,
        ip_address_capacity: int,
        xmit_buffers: int,
        rcv_buffers: int,
        memory_budget: int | None,
        reject_states: frozenset[TcpConnectionState],
        completion: CompletionMode,
        delay: float,
        upload_invalidated: bool = True,
    ) -> None:
        self.host = host
        self.capabilities = capabilities
        self.ip_address_capacity = ip_address_capacity
        self.xmit_buffers = xmit_buffers
        self.rcv_buffers = rcv_buffers
        self.memory_budget = memory_budget
        self.reject_states = reject_states
        self.completion = completion
        self.delay = delay
        self.upload_invalidated = upload_invalidated
        self.pools = Pools()
        self._lock = threading.Lock()
        self._admit_at: tuple[Admission, ...] | None = None

    # -- MiniportInitiateOffload ------------------------------------------------------

    def initiate_offload(self, root: OffloadBlockList) -> None:
        """Take the tree; complete it inline, on a worker thread, or after ``delay`` s."""
        if self.completion == "inline":
            self._offload_and_complete(root)
        elif self.completion == "thread":
            threading.Thread(
                target=self._offload_and_complete, args=(root,), name="reference-offload"
            ).start()
        else:
            timer = threading.Timer(self.delay, self._offload_and_complete, args=(root,))
            timer.name = "reference-offload-delayed"
            timer.start()

    def _walk_tree(self, root: OffloadBlockList) -> list[tuple[NetBufferList, ...]]:
        """Decide every block of the tree under the table lock; return send data to complete."""
        with self._lock:
            # Each walk calls the layers' admission ladders directly, looked up afresh (a
            # subclass may override them), unless _admit itself is overridden.
            self._admit_at = None
            if type(self)._admit is ReferenceTarget._admit:
                self._admit_at = (
                    lambda block, state, parent: self._admit_neighbor(block, state),
                    self._admit_path,
                    self._admit_tcp,
                )
            return self._walk_chain(root, 0, None, parent_is_placeholder=False)

    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        sends = self._walk_tree(root)
        self.host.initiate_offload_complete(root)
        if OffloadOperation.TERMINATE in self.capabilities.operations:
            # No segment ever reaches a target under the suite (lifecycle.md H9): its
            # send data stays outstanding until the connection is terminated.
            return
        # An initiate-only target never hands send data back through a terminate: pretend
        # it was transmitted and acknowledged, and hand it back once the initiate completed.
        for chain in sends:
            for nbl in chain:
                nbl.status = S.SUCCESS
            self.host.tcp_offload_send_complete(chain)

    # -- the walk ---------------------------------------------------------------------

    def _walk_chain(
        self,
        first: OffloadBlockList | None,
        depth: int,
        parent: OffloadedObject | None,
        *,
        parent_is_placeholder: bool,
    ) -> list[tuple[NetBufferList, ...]]:
        """Process ``first`` and its next blocks, each with its dependents before the next."""
        sends: list[tuple[NetBufferList, ...]] = []
        process = self._process
        block = first
        while block is not None:
            found = process(block, depth, parent, parent_is_placeholder)
            if found:
                sends += found
            block = block.next_block
        return sends

    def _process(
        self,
        block: OffloadBlockList,
        depth: int,
        parent: OffloadedObject | None,
        parent_is_placeholder: bool,
    ) -> Sequence[tuple[NetBufferList, ...]]:
        """Decide one block (and its dependents); return the send data it took over."""
        slot = block.miniport_offload_context
        below = block.dependent_block_list
        if slot is None:  # placeholder: always SUCCESS, dependents hang on nothing new
            block.status = _SUCCESS
            if below is None:
                return ()
            return self._walk_chain(below, depth + 1, None, parent_is_placeholder=True)
        if (
            depth > _TCP
            or (depth == _TCP and below is not None)
            or block.state_type not in _TYPES_AT[depth]
        ):
            self._fail(block, _FAILURE)  # malformed: this block and its subtree
            return ()
        if slot.value is not None:
            return self._process_linker(block, depth, LAYERS[depth], slot.value)
        state = block.state
        if not isinstance(state, _CLASS_AT[depth]) or (depth > 0 and parent_is_placeholder):
            self._fail(block, _FAILURE)  # a new offload without state, or with no parent
            return ()
        admit_at = self._admit_at
        if admit_at is not None:
            obj, status = admit_at[depth](block, state, parent)
        else:
            obj, status = self._admit(block, LAYERS[depth], parent)
        if obj is None:
            self._fail(block, status)
            return ()
        slot.value = obj
        if below is None:  # a leaf: nothing below can fail
            block.status = _SUCCESS
            chain = block.net_buffer_list_chain
            return [chain] if depth == _TCP and chain else ()
        sends = self._walk_chain(below, depth + 1, obj, parent_is_placeholder=False)
        block.status = _SUCCESS if _all_offloaded(block) else _PARTIAL
        return sends

    def _process_linker(
        self, block: OffloadBlockList, depth: int, layer: str, context: object
    ) -> list[tuple[NetBufferList, ...]]:
        obj = self.pools.lookup(context, layer)
        if obj is None:  # names nothing this target offloaded: fail cleanly
            self._fail(block, S.FAILURE)
            return []
        sends = self._walk_chain(
            block.dependent_block_list, depth + 1, obj, parent_is_placeholder=False
        )
        children = list(block.dependents())
        done = sum(1 for c in children if c.status in (S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS))
        if done == len(children):
            block.status = S.SUCCESS
        else:
            block.status = S.FAILURE if done == 0 else S.OFFLOAD_PARTIAL_SUCCESS
        return sends

    def _fail(self, block: OffloadBlockList, status: int) -> None:
        """Fail ``block``; its dependents get FAILURE without being attempted."""
        block.status = status
        if block.dependent_block_list is None:
            return
        stack = list(block.dependents())
        while stack:
            below = stack.pop()
            below.status = S.SUCCESS if below.miniport_offload_context is None else S.FAILURE
            stack.extend(below.dependents())

    # -- admission: one decision ladder per layer, each rung one NDIS cause -------------

    def _memory_left(self) -> int | None:
        budget = self.memory_budget
        return None if budget is None else budget - self.pools.memory_used

    def _admit(
        self, block: OffloadBlockList, layer: str, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        """One decision ladder per layer, each rung one NDIS cause (the state's class was
        checked by the walk)."""
        state: Any = block.state
        if layer == "tcp":
            return self._admit_tcp(block, state, parent)
        if layer == "path":
            return self._admit_path(block, state, parent)
        return self._admit_neighbor(block, state)

    def _admit_neighbor(
        self, block: OffloadBlockList, state: NeighborOffloadState
    ) -> tuple[OffloadedObject | None, int]:
        caps, pools = self.capabilities, self.pools
        vlan = state.const.vlan_id
        interface = caps.nonzero_interface_vlans
        if vlan != 0 and interface and vlan not in interface:
            return None, S.OFFLOAD_VLAN_MISMATCH
        mac = state.const.dl_source_address.ljust(32, b"\0")
        if state.const.has_source_mac and (
            not caps.configurable_source_mac
            or (mac not in pools.macs and len(pools.macs) >= caps.source_mac_capacity)
        ):
            return None, S.OFFLOAD_HW_ADDRESS_ENTRIES
        if vlan != 0 and vlan not in pools.vlans and len(pools.vlans) >= caps.vlan_capacity:
            return None, S.OFFLOAD_VLAN_ENTRIES
        if (
            caps.neighbor_capacity is not None
            and pools.counts["neighbor"] >= caps.neighbor_capacity
        ):
            return None, S.OFFLOAD_NEIGHBOR_ENTRIES
        left = self._memory_left()
        if left is not None and left < OBJECT_COST["neighbor"]:
            return None, S.RESOURCES
        obj = OffloadedObject("neighbor", state, None, block.ndis_offload_handle)
        if vlan != 0:
            pools.vlans[vlan] += 1
        if state.const.has_source_mac:
            pools.macs[mac] += 1
        pools.register(obj, OBJECT_COST["neighbor"])
        return obj, S.SUCCESS

    def _admit_path(
        self, block: OffloadBlockList, state: PathOffloadState, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        caps, pools = self.capabilities, self.pools
        ipv6 = block.state_type == OffloadStateType.IP6
        size = 16 if ipv6 else 4
        if len(state.const.source_address) != size or len(state.const.destination_address) != size:
            return None, S.FAILURE  # addresses of the other IP version than the block's type
        if not (caps.support_ipv6 if ipv6 else caps.support_ipv4):
            return None, S.FAILURE
        if state.cached.path_mtu > caps.max_path_mtu:
            return None, S.OFFLOAD_PATH_MTU
        source = state.const.source_address
        if source not in pools.source_ips and len(pools.source_ips) >= self.ip_address_capacity:
            return None, S.OFFLOAD_IP_ADDRESS_ENTRIES
        if caps.path_capacity is not None and pools.counts["path"] >= caps.path_capacity:
            return None, S.OFFLOAD_PATH_ENTRIES
        left = self._memory_left()
        if left is not None and left < OBJECT_COST["path"]:
            return None, S.RESOURCES
        obj = OffloadedObject("path", state, parent, block.ndis_offload_handle)
        pools.source_ips[source] = pools.source_ips.get(source, 0) + 1  # no __missing__ call
        pools.register(obj, OBJECT_COST["path"])
        return obj, S.SUCCESS

    def _admit_tcp(
        self, block: OffloadBlockList, state: TcpOffloadState, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        caps, pools = self.capabilities, self.pools
        if state.cached.initial_rcv_wnd > caps.max_initial_rcv_wnd:
            return None, S.OFFLOAD_TCP_RCV_WINDOW
        connection_state = state.delegated.state
        if connection_state in NOT_OFFLOADABLE_STATES:
            return None, _FAILURE  # the host never offloads these states
        if connection_state in self.reject_states:
            rejected = caps.ndis_version >= (6, 20)
            return None, S.OFFLOAD_CONNECTION_REJECTED if rejected else _FAILURE
        if pools.counts["tcp"] >= caps.tcp_connection_offload_capacity:
            return None, _TCP_ENTRIES
        sends = block.net_buffer_list_chain or ()
        xmit_needed = 1 + len(sends)
        if pools.xmit_used + xmit_needed > self.xmit_buffers:
            return None, S.OFFLOAD_TCP_XMIT_BUFFER
        buffered = state.delegated.buffered_data
        rcv_needed = 1 + len(buffered)
        if pools.rcv_used + rcv_needed > self.rcv_buffers:
            return None, S.OFFLOAD_TCP_RCV_BUFFER
        left = self._memory_left()
        if left is not None and left < OBJECT_COST["tcp"]:
            return None, S.RESOURCES
        copied = b"".join([nbl.data for nbl in buffered]) if buffered else b""
        if left is not None and left - OBJECT_COST["tcp"] < len(copied):
            return None, S.FAILURE  # cannot copy buffered receive data (domain.md 4.3)
        obj = OffloadedObject("tcp", state, parent, block.ndis_offload_handle)
        obj.buffered = copied
        obj.sends = tuple(sends)
        pools.xmit_used += xmit_needed
        pools.rcv_used += rcv_needed
        pools.register(obj, OBJECT_COST["tcp"] + len(copied))
        return obj, S.SUCCESS


def _all_offloaded(block: OffloadBlockList) -> bool:
    child = block.dependent_block_list
    while child is not None:
        if child.status not in _OFFLOADED:
            return False
        child = child.next_block
    return True
