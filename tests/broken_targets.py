"""Deliberately broken targets: the reference target with one realistic defect each.

Each factory is named after the rule it breaks; ``tests/test_plugin.py`` proves that the
suite catches every one of them with that rule's ID and grade.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import reference_target
from pytest_offload import (
    NdisStatus,
    NeighborOffloadState,
    OffloadBlockList,
    OffloadStateType,
    TcpOffloadState,
    iter_depth_first,
)
from reference_target import ReferenceTarget
from reference_target._resources import OffloadedObject
from tests.broken_lifecycle import BROKEN_LIFECYCLE, v1_only

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pytest_offload import Host

S = NdisStatus
OFFLOADED = (S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS)


def _blocks(root: OffloadBlockList) -> list[OffloadBlockList]:
    return [block for block, *_ in iter_depth_first(root)]


class Tampering(ReferenceTarget):
    """Walks like the reference, then lets ``tamper`` change the tree before completing."""

    @staticmethod
    def tamper(target: Tampering, root: OffloadBlockList) -> None:
        """No change; subclasses made by ``_tampering`` bring their own."""

    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        self._walk_tree(root)
        self.tamper(self, root)
        self.host.initiate_offload_complete(root)


def _tampering(
    tamper: Callable[[Tampering, OffloadBlockList], None], **limits: Any
) -> Callable[[Host], ReferenceTarget]:
    cls = type(f"Tampering[{tamper.__name__}]", (Tampering,), {"tamper": staticmethod(tamper)})
    return _subclass(cls, **limits)


def _subclass(cls: type[ReferenceTarget], **limits: Any) -> Callable[[Host], ReferenceTarget]:
    def create_target(host: Host) -> ReferenceTarget:
        target = reference_target.create_target(host, **limits)
        target.__class__ = cls
        return target

    return create_target


# -- completion --------------------------------------------------------------------------


class NeverCompletes(ReferenceTarget):
    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        self._walk_tree(root)


class CompletesTwice(Tampering):
    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        super()._offload_and_complete(root)
        self.host.initiate_offload_complete(root)


class CompletesWithCopy(ReferenceTarget):
    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        self._walk_tree(root)
        copy = OffloadBlockList(root.state_type, state=root.state)
        copy.status = root.status
        self.host.initiate_offload_complete(copy)


class RaisesAfterCompleting(ReferenceTarget):
    def initiate_offload(self, root: OffloadBlockList) -> None:
        super().initiate_offload(root)
        raise RuntimeError("DMA ring full (raised after completing)")


def _leave_last_pending(target: Tampering, root: OffloadBlockList) -> None:
    _blocks(root)[-1].status = S.PENDING


def _unknown_code_for_failures(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        if block.status == S.FAILURE:
            block.status = 0xC0231001  # UPLOAD_IN_PROGRESS: not an initiate code


def _scribble_protocol_reserved(target: Tampering, root: OffloadBlockList) -> None:
    root.protocol_reserved[0] = "queued by miniport"


class WritesAfterCompleting(Tampering):
    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        super()._offload_and_complete(root)
        root.scratch[0] = "freed after completion"


# -- status ------------------------------------------------------------------------------


def _partial_as_success(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        if block.status == S.OFFLOAD_PARTIAL_SUCCESS:
            block.status = S.SUCCESS


def _partial_on_leaves(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        if block.state_type == OffloadStateType.TCP and block.status == S.SUCCESS:
            block.status = S.OFFLOAD_PARTIAL_SUCCESS


def _grandchild_failures_propagate(target: Tampering, root: OffloadBlockList) -> None:
    def failed_below(block: OffloadBlockList) -> bool:
        return any(d.status not in OFFLOADED or failed_below(d) for d in block.dependents())

    for block in _blocks(root):
        if (
            block.status == S.SUCCESS
            and block.miniport_offload_context is not None
            and failed_below(block)
        ):
            block.status = S.OFFLOAD_PARTIAL_SUCCESS


def _linkers_always_succeed(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        slot = block.miniport_offload_context
        if slot is not None and isinstance(slot.value, OffloadedObject) and block.state is None:
            block.status = S.SUCCESS


def _placeholder_mirrors_dependent(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        first = block.dependent_block_list
        if block.miniport_offload_context is None and first is not None:
            block.status = first.status


class AttemptsUnderFailedParent(ReferenceTarget):
    """Forgets to skip the dependents of a failed block: offloads them anyway."""

    def _fail(self, block: OffloadBlockList, status: int) -> None:
        block.status = status
        for child in block.dependents():
            if (
                child.miniport_offload_context is not None
                and child.miniport_offload_context.value is None
            ):
                child.status = S.SUCCESS
                child.miniport_offload_context.value = object()
            else:
                child.status = S.SUCCESS


class InheritsParentCode(ReferenceTarget):
    """Gives the dependents of a failed block the parent's own cause code."""

    def _fail(self, block: OffloadBlockList, status: int) -> None:
        block.status = status
        stack = list(block.dependents())
        while stack:
            below = stack.pop()
            below.status = S.SUCCESS if below.miniport_offload_context is None else status
            stack.extend(below.dependents())


class StopsAfterFailedRoot(ReferenceTarget):
    """Reads "if the root fails, stop traversing" as abandoning the root's siblings too."""

    def _walk_chain(
        self,
        first: OffloadBlockList | None,
        depth: int,
        parent: OffloadedObject | None,
        *,
        parent_is_placeholder: bool,
    ) -> list[Any]:
        if depth != 0:
            return super()._walk_chain(
                first, depth, parent, parent_is_placeholder=parent_is_placeholder
            )
        block, stopped = first, False
        sends: list[Any] = []
        while block is not None:
            if stopped:
                self._fail(block, S.FAILURE)
            else:
                sends += self._process(block, depth, parent, parent_is_placeholder)
                stopped = block.status not in OFFLOADED
            block = block.next_block
        return sends


# -- context -----------------------------------------------------------------------------


def _forget_tcp_contexts(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        slot = block.miniport_offload_context
        if (
            block.state is not None
            and isinstance(block.state, TcpOffloadState)
            and block.status in OFFLOADED
            and slot is not None
        ):
            slot.value = None


def _context_on_failed(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        slot = block.miniport_offload_context
        if block.state is not None and block.status not in OFFLOADED and slot is not None:
            slot.value = "half-initialised context"


class ReusesContextSlots(ReferenceTarget):
    """Hands out a small integer per layer, restarting at 1 on every initiate."""

    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        self._walk_tree(root)
        counters: dict[type, int] = {}
        for block in _blocks(root):
            slot = block.miniport_offload_context
            if block.state is not None and block.status in OFFLOADED and slot is not None:
                kind = type(block.state)
                counters[kind] = counters.get(kind, 0) + 1
                slot.value = counters[kind]
        self.host.initiate_offload_complete(root)


class CompletesSendDataOfFailures(ReferenceTarget):
    def _offload_and_complete(self, root: OffloadBlockList) -> None:
        super()._offload_and_complete(root)
        for block in _blocks(root):
            chain = block.net_buffer_list_chain
            if chain and block.status not in OFFLOADED:
                self.host.tcp_offload_send_complete(chain)


# -- causes ------------------------------------------------------------------------------


def _path_failures_as_tcp_entries(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        if (
            block.state_type in (OffloadStateType.IP4, OffloadStateType.IP6)
            and block.status not in OFFLOADED
            and block.state is not None
        ):
            block.status = S.OFFLOAD_TCP_ENTRIES


class CountsEveryMac(ReferenceTarget):
    """Charges every neighbor to the source-MAC table, even one with no MAC of its own."""

    def _admit_neighbor(
        self, block: OffloadBlockList, state: NeighborOffloadState
    ) -> tuple[OffloadedObject | None, int]:
        if (
            not state.const.has_source_mac
            and self.pools.counts["neighbor"] >= self.capabilities.source_mac_capacity
        ):
            return None, S.OFFLOAD_HW_ADDRESS_ENTRIES
        return super()._admit_neighbor(block, state)


class MismatchesVlanZero(ReferenceTarget):
    """Compares vlan_id 0 against the interface VLANs too."""

    def _admit_neighbor(
        self, block: OffloadBlockList, state: NeighborOffloadState
    ) -> tuple[OffloadedObject | None, int]:
        if state.const.vlan_id == 0 and self.capabilities.nonzero_interface_vlans:
            return None, S.OFFLOAD_VLAN_MISMATCH
        return super()._admit_neighbor(block, state)


class WindowOffByOne(ReferenceTarget):
    def _admit_tcp(
        self, block: OffloadBlockList, state: TcpOffloadState, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        if state.cached.initial_rcv_wnd >= self.capabilities.max_initial_rcv_wnd:
            return None, S.OFFLOAD_TCP_RCV_WINDOW
        return super()._admit_tcp(block, state, parent)


class MtuOffByOne(ReferenceTarget):
    def _admit_path(
        self, block: OffloadBlockList, state: Any, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        if state.cached.path_mtu >= self.capabilities.max_path_mtu:
            return None, S.OFFLOAD_PATH_MTU
        return super()._admit_path(block, state, parent)


class RejectsOnOldNdis(ReferenceTarget):
    """Uses CONNECTION_REJECTED though it declares NDIS 6.1."""

    def _admit_tcp(
        self, block: OffloadBlockList, state: TcpOffloadState, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        if state.delegated.state in self.reject_states:
            return None, S.OFFLOAD_CONNECTION_REJECTED
        return super()._admit_tcp(block, state, parent)


# -- capability --------------------------------------------------------------------------


class _ShiftedTcpCapacity(ReferenceTarget):
    shift = 0

    def _admit_tcp(
        self, block: OffloadBlockList, state: TcpOffloadState, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        declared = self.capabilities
        cap = declared.tcp_connection_offload_capacity + self.shift
        self.capabilities = replace(declared, tcp_connection_offload_capacity=max(cap, 0))
        try:
            return super()._admit_tcp(block, state, parent)
        finally:
            self.capabilities = declared


class CapacityOffByOne(_ShiftedTcpCapacity):
    """Compares with > instead of >=: one connection more than declared."""

    shift = 1


class EntriesTooEarly(_ShiftedTcpCapacity):
    """Keeps one TCP slot in reserve but reports TCP_ENTRIES for it."""

    shift = -1


class FailsEverything(ReferenceTarget):
    def _admit(
        self, block: OffloadBlockList, layer: str, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        return None, S.FAILURE


class LastConnectionFirst(ReferenceTarget):
    """Walks each path's connections from the last one: breadth-first order is lost."""

    reversed_depth = 2

    def _walk_chain(
        self,
        first: OffloadBlockList | None,
        depth: int,
        parent: OffloadedObject | None,
        *,
        parent_is_placeholder: bool,
    ) -> list[Any]:
        if depth != self.reversed_depth:
            return super()._walk_chain(
                first, depth, parent, parent_is_placeholder=parent_is_placeholder
            )
        blocks = []
        block = first
        while block is not None:
            blocks.append(block)
            block = block.next_block
        sends: list[Any] = []
        for block in reversed(blocks):
            sends += self._process(block, depth, parent, parent_is_placeholder)
        return sends


class MismatchesWhenVlanTableFull(ReferenceTarget):
    """Answers VLAN_MISMATCH where its VLAN table is full: VLAN_ENTRIES is the cause."""

    def _admit_neighbor(
        self, block: OffloadBlockList, state: NeighborOffloadState
    ) -> tuple[OffloadedObject | None, int]:
        found, status = super()._admit_neighbor(block, state)
        if status == S.OFFLOAD_VLAN_ENTRIES:
            status = S.OFFLOAD_VLAN_MISMATCH
        return found, status


def break_vlan_mismatch_table_full(host: Host) -> ReferenceTarget:
    return _subclass(MismatchesWhenVlanTableFull)(host)


class LastPathFirst(LastConnectionFirst):
    """Walks each neighbor's paths from the last one: invisible with a single path."""

    reversed_depth = 1


def break_depth_first_paths(host: Host) -> ReferenceTarget:
    return _subclass(LastPathFirst)(host)


class CountsFailedAttempts(ReferenceTarget):
    """Charges a TCP slot for every connection it tried, also those it failed for another
    cause: TCP_ENTRIES comes before the declared capacity is reached."""

    def _admit_tcp(
        self, block: OffloadBlockList, state: TcpOffloadState, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        found, status = super()._admit_tcp(block, state, parent)
        if found is None and status != S.OFFLOAD_TCP_ENTRIES:
            self.pools.counts["tcp"] += 1
        return found, status


def break_entries_cause_failed_attempts(host: Host) -> ReferenceTarget:
    return _subclass(CountsFailedAttempts)(host)


class AcceptsNewUnderPlaceholder(ReferenceTarget):
    """Offloads a new path or connection whose parent is only a placeholder."""

    def _process(
        self,
        block: OffloadBlockList,
        depth: int,
        parent: OffloadedObject | None,
        parent_is_placeholder: bool,
    ) -> Sequence[Any]:
        return super()._process(block, depth, parent, False)


# -- robustness --------------------------------------------------------------------------


class TrustsUnknownLinkers(ReferenceTarget):
    """Looks a linker's context up loosely: one it never handed out falls back to the last
    object of that layer, as a driver that trusts the host's pointer would do."""

    def _process_linker(
        self, block: OffloadBlockList, depth: int, layer: str, context: object
    ) -> list[Any]:
        if self.pools.lookup(context, layer) is None:
            same_layer = [o for o in self.pools.objects.values() if o.layer == layer]
            if same_layer:
                context = same_layer[-1]
        return super()._process_linker(block, depth, layer, context)


BROKEN: dict[str, Callable[[Host], Any]] = {
    "INI-COMPLETE-ONCE": _subclass(NeverCompletes),
    "INI-COMPLETE-ROOT": _subclass(CompletesWithCopy),
    "INI-NO-RAISE": _subclass(RaisesAfterCompleting),
    "INI-STATUS-WRITTEN": _tampering(_leave_last_pending),
    "INI-STATUS-ALLOWED": _tampering(_unknown_code_for_failures),
    "INI-HOST-FIELDS-INTACT": _tampering(_scribble_protocol_reserved),
    "INI-NO-TOUCH-AFTER-COMPLETE": _subclass(WritesAfterCompleting),
    "INI-SUCCESS-ALL-DEPENDENTS": _tampering(_partial_as_success),
    "INI-PARTIAL-NEEDS-FAILED-DEPENDENT": _tampering(_partial_on_leaves),
    "INI-PARTIAL-IS-OFFLOADED": _tampering(_grandchild_failures_propagate),
    "INI-LINKER-STATUS": _tampering(_linkers_always_succeed),
    "INI-PLACEHOLDER-SUCCESS": _tampering(_placeholder_mirrors_dependent),
    "INI-FAILED-SUBTREE": _subclass(AttemptsUnderFailedParent),
    "INI-FAILED-SUBTREE-FAILURE": _subclass(InheritsParentCode),
    "INI-ROOT-SIBLINGS": _subclass(StopsAfterFailedRoot),
    "INI-CONTEXT-ON-SUCCESS": _tampering(_forget_tcp_contexts),
    "INI-NO-CONTEXT-ON-FAILURE": _tampering(_context_on_failed),
    "INI-CONTEXT-UNIQUE": _subclass(ReusesContextSlots),
    "INI-SEND-DATA-KEPT-ON-FAILURE": _subclass(CompletesSendDataOfFailures),
    "INI-CODE-LAYER": _tampering(_path_failures_as_tcp_entries),
    "INI-HW-ADDRESS-CAUSE": _subclass(CountsEveryMac),
    "INI-VLAN-MISMATCH-CAUSE": _subclass(MismatchesVlanZero),
    "INI-RCV-WINDOW-CAUSE": _subclass(WindowOffByOne),
    "INI-PATH-MTU-CAUSE": _subclass(MtuOffByOne),
    "INI-CONNECTION-REJECTED-VERSION": _subclass(RejectsOnOldNdis, ndis_version=(6, 1)),
    "INI-CAPACITY": _subclass(CapacityOffByOne),
    "INI-ENTRIES-CAUSE": _subclass(EntriesTooEarly),
    "INI-ADVERTISED-WORKS": _subclass(FailsEverything),
    "INI-DEPTH-FIRST": _subclass(LastConnectionFirst),
    "INI-MALFORMED-TREE": _subclass(AcceptsNewUnderPlaceholder),
    "INI-UNKNOWN-LINKER": _subclass(TrustsUnknownLinkers),
}


BROKEN |= BROKEN_LIFECYCLE


def factory_name(rule_id: str) -> str:
    """The attribute of this module that creates the target breaking ``rule_id``."""
    return "break_" + rule_id.removeprefix("INI-").lower().replace("-", "_")


for _rule_id, _factory in BROKEN.items():
    globals()[factory_name(_rule_id)] = _factory


# -- contexts as pointer values (rules.md section 3) ------------------------------------


class IntContexts(Tampering):
    """Hands out contexts as ints, as a C target's pointers arrive, and copies each linker's
    pointer back into its slot as an equal int that is a different object (a C copy-back).
    Conformant: an equal pointer written back is no change."""

    handles: dict[int, object]

    def _process_linker(
        self, block: OffloadBlockList, depth: int, layer: str, context: object
    ) -> list[Any]:
        handles = self.__dict__.setdefault("handles", {})
        obj = handles.get(context, context) if isinstance(context, int) else context
        sends = super()._process_linker(block, depth, layer, obj)
        slot = block.miniport_offload_context
        if slot is not None and isinstance(context, int):
            slot.value = int(str(context))  # equal value, another int object
        return sends

    @staticmethod
    def tamper(target: Tampering, root: OffloadBlockList) -> None:
        handles = target.__dict__.setdefault("handles", {})
        for block in _blocks(root):
            slot = block.miniport_offload_context
            if slot is not None and isinstance(slot.value, OffloadedObject):
                handle = 0x7F0000001000 + 16 * len(handles)  # far above the small-int cache
                handles[handle] = slot.value
                slot.value = handle


class SameIntContext(int):
    """A pointer value as an int subclass: every instance a distinct object."""


def _same_pointer_for_all(target: Tampering, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        slot = block.miniport_offload_context
        if slot is not None and isinstance(slot.value, OffloadedObject):
            slot.value = SameIntContext(0x7F0000002000)


def reference_int_contexts(host: Host) -> ReferenceTarget:
    return _subclass(IntContexts)(host)


def break_context_unique_same_int(host: Host) -> ReferenceTarget:
    return _tampering(_same_pointer_for_all)(host)


# -- late, after the completion (found by an outside review) ------------------------------


def _afterwards(delay: float, act: Callable[[ReferenceTarget, OffloadBlockList], None]) -> Any:
    """A reference target that, ``delay`` seconds after completing, does ``act``."""

    class Afterwards(ReferenceTarget):
        def _offload_and_complete(self, root: OffloadBlockList) -> None:
            super()._offload_and_complete(root)
            timer = threading.Timer(delay, act, args=(self, root))
            timer.daemon = True
            timer.start()

    return _subclass(Afterwards)


def _complete_again(target: ReferenceTarget, root: OffloadBlockList) -> None:
    target.host.initiate_offload_complete(root)


def _fail_first_offloaded(target: ReferenceTarget, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        if block.status == S.SUCCESS and block.miniport_offload_context is not None:
            block.status = S.FAILURE
            return


def _send_complete_failed(target: ReferenceTarget, root: OffloadBlockList) -> None:
    for block in _blocks(root):
        chain = block.net_buffer_list_chain
        if chain and block.status not in OFFLOADED:
            target.host.tcp_offload_send_complete(chain)


break_complete_once_300ms = _afterwards(0.3, _complete_again)
break_no_touch_200ms = _afterwards(0.2, _fail_first_offloaded)
break_send_data_late = _afterwards(0.01, _send_complete_failed)


class RaisesWithoutCompleting(ReferenceTarget):
    def initiate_offload(self, root: OffloadBlockList) -> None:
        raise MemoryError("out of descriptors")


break_complete_once_raising = _subclass(RaisesWithoutCompleting)


class DeletesAStatus(Tampering):
    """Deletes the last block's status attribute before completing."""

    @staticmethod
    def tamper(target: Tampering, root: OffloadBlockList) -> None:
        del _blocks(root)[-1].status


break_status_deleted = _subclass(DeletesAStatus)


# -- found only in another rule's cases, or not reproducibly -----------------------------


_COMBINED = {int(OffloadStateType.NEIGHBOR), int(OffloadStateType.IP4)}
_COMBINED |= {int(OffloadStateType.IP6), int(OffloadStateType.TCP)}


def _pending_on_malformed(target: Tampering, root: OffloadBlockList) -> None:
    """Leaves the last block unwritten when a block has a type no layer combines: only the
    malformed-tree aim builds such trees, so INI-STATUS-WRITTEN's own aim never sees it."""
    blocks = _blocks(root)
    if any(b.state_type not in _COMBINED for b in blocks):
        blocks[-1].status = S.PENDING


def break_status_written_on_malformed(host: Host) -> ReferenceTarget:
    return _tampering(_pending_on_malformed)(host)


class RaisesAlways(ReferenceTarget):
    """Raises on every call, before writing anything: a target that is simply broken."""

    def initiate_offload(self, root: OffloadBlockList) -> None:
        raise RuntimeError("firmware not responding")


break_no_raise_always = _subclass(RaisesAlways)


_FLAKY = random.Random(20261201)


def _pending_now_and_then(target: Tampering, root: OffloadBlockList) -> None:
    """Forgets the last status in one initiate of five, whatever the tree."""
    if _FLAKY.random() < 0.2:
        _blocks(root)[-1].status = S.PENDING


def break_status_written_at_random(host: Host) -> ReferenceTarget:
    return _tampering(_pending_now_and_then)(host)


# -- well-behaved variants for the plugin tests -----------------------------------------


def reference_inline(host: Host) -> ReferenceTarget:
    return reference_target.create_target(host, completion="inline")


def reference_thread(host: Host) -> ReferenceTarget:
    return reference_target.create_target(host, completion="thread")


def reference_delayed(host: Host) -> ReferenceTarget:
    return reference_target.create_target(host, completion="delayed", delay=0.002)


def factory_raises(host: Host) -> ReferenceTarget:
    raise OSError("firmware image not found")


def no_capabilities(host: Host) -> object:
    class Bare:
        def initiate_offload(self, root: OffloadBlockList) -> None:
            host.initiate_offload_complete(root)

    return Bare()


def break_complete_once_twice(host: Host) -> ReferenceTarget:
    return _subclass(CompletesTwice)(host)


class RacyTables(ReferenceTarget):
    """Walks trees without the table lock, pausing between a capacity check and the
    commit: two initiates in flight together both see room for the last connection."""

    def _walk_tree(self, root: OffloadBlockList) -> list[Any]:
        return self._walk_chain(root, 0, None, parent_is_placeholder=False)

    def _admit_tcp(
        self, block: OffloadBlockList, state: TcpOffloadState, parent: OffloadedObject | None
    ) -> tuple[OffloadedObject | None, int]:
        if self.pools.counts["tcp"] < self.capabilities.tcp_connection_offload_capacity:
            time.sleep(0.002)  # the window in which another initiate runs
            obj = OffloadedObject("tcp", state, parent, block.ndis_offload_handle)
            self.pools.register(obj, 0)
            return obj, S.SUCCESS
        return None, S.OFFLOAD_TCP_ENTRIES


def break_capacity_racy(host: Host) -> ReferenceTarget:
    return _subclass(RacyTables)(host)


def reference_capacity_10k(host: Host) -> ReferenceTarget:
    return reference_target.create_target(host, tcp_capacity=10_000)


reference_v1 = v1_only
