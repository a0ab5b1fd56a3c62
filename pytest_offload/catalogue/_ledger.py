"""The ledger: what one target still has offloaded, across the initiates of one case."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import and_, is_not
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_offload.model import LAYERS, context_key

if TYPE_CHECKING:
    from pytest_offload.catalogue._facts import InitiateFacts
    from pytest_offload.harness import TreeSnapshot

__all__ = ["LedgerEntry", "TargetLedger", "context_key"]


class LedgerEntry(NamedTuple):
    """An object a target offloaded: its context (kept alive), layer and where it came from."""

    context: object
    layer: str
    snapshot: TreeSnapshot
    position: int
    initiate: str

    @property
    def path(self) -> str:
        """Where the object was offloaded, e.g. ``neighbor[0].path[1]``."""
        return self.snapshot.path(self.position)


@dataclass(slots=True)
class TargetLedger:
    """What one target still has offloaded, across the initiates of one test case.

    v1 has no terminate, so objects only accumulate. Cross-request rules (INI-CONTEXT-UNIQUE,
    INI-CAPACITY, INI-ENTRIES-CAUSE, INI-LINKER-STATUS) read it; the checker records each
    judged batch into it. Objects are kept in flat columns (context, layer, position,
    initiate) indexed by a serial number, so recording tens of thousands of objects is a
    few C-level list extensions, not an allocation per object.
    """

    counts: dict[str, int] = field(default_factory=lambda: {"neighbor": 0, "path": 0, "tcp": 0})
    initiates: int = 0
    #: Context key -> serial of the first object offloaded with that context.
    serials: dict[Any, int] = field(default_factory=dict)
    _contexts: list[object] = field(default_factory=list)
    _layers: list[str] = field(default_factory=list)
    _positions: list[int] = field(default_factory=list)
    _sources: list[int] = field(default_factory=list)
    _initiates: list[tuple[TreeSnapshot, str]] = field(default_factory=list)

    @property
    def fresh(self) -> bool:
        """True while the target has offloaded nothing and judged no initiate."""
        return self.initiates == 0 and not self.serials

    def __len__(self) -> int:
        return len(self.serials)

    def __contains__(self, key: object) -> bool:
        return key in self.serials

    def entry(self, key: object) -> LedgerEntry | None:
        """The object recorded under context ``key``, or ``None``."""
        serial = self.serials.get(key)
        if serial is None:
            return None
        snapshot, label = self._initiates[self._sources[serial]]
        return LedgerEntry(
            self._contexts[serial], self._layers[serial], snapshot, self._positions[serial], label
        )

    @property
    def entries(self) -> dict[Any, LedgerEntry]:
        """Every recorded object by context key, in the order they were offloaded (built
        on demand: for reports and slow paths)."""
        out: dict[Any, LedgerEntry] = {}
        for key in self.serials:
            entry = self.entry(key)
            assert entry is not None
            out[key] = entry
        return out

    def holds(self, value: object, layer: str) -> bool:
        """Whether ``value`` names an object of ``layer`` this target offloaded and holds."""
        serial = self.serials.get(context_key(value))
        return serial is not None and self._layers[serial] == layer

    def contexts(self, layer: str) -> list[object]:
        """The contexts of the recorded objects of ``layer``, in the order offloaded."""
        layers = self._layers
        return [self._contexts[s] for s in self.serials.values() if layers[s] == layer]

    def record(self, facts: InitiateFacts) -> None:
        """Add every object ``facts`` shows offloaded (the first object of a context wins)."""
        self.initiates += 1
        depths = facts.offloaded_depths
        for depth, name in enumerate(LAYERS):
            self.counts[name] += depths.count(depth)
        keys = facts.context_keys()
        positions = facts.new_offloaded
        values = facts.new_offloaded_slots()
        start = len(self._contexts)
        if None not in depths and facts.contexts_unique_and_new():
            serials = range(start, start + len(keys))
            self.serials.update(zip(keys, serials, strict=True))  # the common case
            self._extend(facts, values, depths, positions)
            return
        if None in keys or None in depths:
            keep = list(
                map(and_, map(is_not, keys, repeat(None)), map(is_not, depths, repeat(None)))
            )
            keys = list(compress(keys, keep))
            positions = list(compress(positions, keep))
            values = list(compress(values, keep))
            depths = list(compress(depths, keep))
        fresh = dict(zip(keys, range(start, start + len(keys)), strict=True))
        if len(fresh) != len(keys):  # a context repeated within this initiate: first wins
            fresh = {}
            for serial, key in enumerate(keys, start):
                fresh.setdefault(key, serial)
        known = self.serials
        if not known.keys().isdisjoint(fresh):
            for key in fresh.keys() & known.keys():
                del fresh[key]
        known.update(fresh)
        self._extend(facts, values, depths, positions)

    def _extend(
        self,
        facts: InitiateFacts,
        values: list[object],
        depths: list[int | None],
        positions: list[int],
    ) -> None:
        self._contexts.extend(values)
        self._layers.extend(map(LAYERS.__getitem__, depths))  # type: ignore[arg-type]
        self._positions.extend(positions)
        self._sources.extend(repeat(len(self._initiates), len(values)))
        self._initiates.append((facts.snapshot, facts.observation.label))
