"""The reference target's own inverted tree of offloaded objects and its resource pools."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_offload.model import (
        NeighborOffloadState,
        NetBufferList,
        PathOffloadState,
        TcpOffloadState,
    )

#: Host memory each offloaded object takes from the budget (bytes), besides buffered data.
OBJECT_COST = {"neighbor": 256, "path": 256, "tcp": 1024}


class OffloadedObject:
    """One offloaded neighbor, path or TCP connection; handed back as the block's context.

    Domain.md 1.6: each TCP object points to its path, each path to its neighbor.
    """

    __slots__ = (
        "aborted",
        "buffered",
        "cached",
        "handle",
        "invalid",
        "layer",
        "memory",
        "parent",
        "sends",
        "state",
    )

    def __init__(
        self,
        layer: str,
        state: NeighborOffloadState | PathOffloadState | TcpOffloadState,
        parent: OffloadedObject | None,
        handle: object,
    ) -> None:
        self.layer = layer
        self.state = state
        self.parent = parent
        self.handle = handle
        self.buffered = b""
        #: The cached variables now in force (the offloaded ones until an update).
        self.cached: object = state.cached
        self.invalid = False
        #: Outstanding send data taken over at offload, not yet handed back.
        self.sends: tuple[NetBufferList, ...] = ()
        self.aborted = False
        self.memory = 0

    def __repr__(self) -> str:
        return f"<{self.layer} context 0x{id(self):x}>"


@dataclass(slots=True)
class Pools:
    """Counters for every limit the reference target enforces."""

    memory_used: int = 0
    xmit_used: int = 0
    rcv_used: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    vlans: Counter[int] = field(default_factory=Counter)
    macs: Counter[bytes] = field(default_factory=Counter)
    source_ips: Counter[bytes] = field(default_factory=Counter)
    objects: dict[int, OffloadedObject] = field(default_factory=dict)

    def register(self, obj: OffloadedObject, memory: int) -> None:
        """Record ``obj`` as offloaded, charging ``memory`` bytes."""
        self.objects[id(obj)] = obj
        self.counts[obj.layer] += 1
        self.memory_used += memory
        obj.memory = memory

    def unregister(self, obj: OffloadedObject) -> None:
        """Free everything ``obj`` holds (terminate SUCCESS): its entry, memory, buffers
        and its share of the VLAN, MAC and source-address tables."""
        del self.objects[id(obj)]
        self.counts[obj.layer] -= 1
        self.memory_used -= obj.memory
        state: Any = obj.state
        if obj.layer == "tcp":
            self.xmit_used -= 1 + len(obj.sends)
            self.rcv_used -= 1 + len(state.delegated.buffered_data)
        elif obj.layer == "path":
            _release(self.source_ips, state.const.source_address)
        else:
            if state.const.vlan_id != 0:
                _release(self.vlans, state.const.vlan_id)
            if state.const.has_source_mac:
                _release(self.macs, state.const.dl_source_address.ljust(32, b"\0"))

    def dependents(self, obj: OffloadedObject) -> list[OffloadedObject]:
        """The objects that depend on ``obj`` now (paths of a neighbor, TCP of a path)."""
        return [o for o in self.objects.values() if o.parent is obj]

    def lookup(self, context: object, layer: str) -> OffloadedObject | None:
        """The object a linker's context names, if this target offloaded it at ``layer``."""
        obj = self.objects.get(id(context))
        if obj is None or obj is not context or obj.layer != layer:
            return None
        return obj


def _release(table: Counter[Any], key: object) -> None:
    table[key] -= 1
    if table[key] <= 0:
        del table[key]
