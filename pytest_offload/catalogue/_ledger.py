"""The ledger: what one target holds, across the requests of one case (lifecycle.md H0).

Every object offloaded is LIVE until a terminate starts (TERMINATING); a terminate
completing with SUCCESS makes it GONE (dropped from the ledger: its context may recur),
with FAILURE IN DOUBT (held, context reserved). A LIVE or TERMINATING object may also be
invalidated. The INI rules count what they need from these states (lifecycle.md section
2); the lifecycle rules and the state machine read the same ledger.
"""

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

    Cross-request rules (INI-CONTEXT-UNIQUE, INI-CAPACITY, INI-ENTRIES-CAUSE,
    INI-LINKER-STATUS and the lifecycle rules) read it; the checker records each judged
    initiate into it, the lifecycle checker each terminate and invalidate. Objects are kept
    in flat columns (context, layer, position, initiate) indexed by a serial number, so
    recording tens of thousands of objects is a few C-level list extensions, not an
    allocation per object.

    ``counts`` holds, per layer, the objects LIVE, TERMINATING or IN DOUBT (what the
    ``*_ENTRIES`` rules count); ``gone`` those terminated with SUCCESS in this case;
    :meth:`capacity_count` what INI-CAPACITY counts (LIVE, not invalidated, or
    TERMINATING).
    """

    counts: dict[str, int] = field(default_factory=lambda: {"neighbor": 0, "path": 0, "tcp": 0})
    initiates: int = 0
    #: Context key -> serial of the first object offloaded with that context.
    serials: dict[Any, int] = field(default_factory=dict)
    _contexts: list[object] = field(default_factory=list)
    _layers: list[str] = field(default_factory=list)
    _positions: list[int] = field(default_factory=list)
    _sources: list[int] = field(default_factory=list)
    _initiates: list[tuple[TreeSnapshot, str, list[object]]] = field(default_factory=list)
    #: Context key -> "terminating" or "in doubt" (absent: LIVE).
    states: dict[Any, str] = field(default_factory=dict)
    #: Context keys of invalidated objects still held.
    invalidated: set[Any] = field(default_factory=set)
    #: Per layer, objects terminated with SUCCESS (GONE) in this case.
    gone: dict[str, int] = field(default_factory=lambda: {"neighbor": 0, "path": 0, "tcp": 0})
    #: Per layer, held objects INI-CAPACITY does not count (invalidated or in doubt).
    _excluded: dict[str, int] = field(default_factory=lambda: {"neighbor": 0, "path": 0, "tcp": 0})
    #: Per layer, invalidated objects that are not in doubt.
    _invalid: dict[str, int] = field(default_factory=lambda: {"neighbor": 0, "path": 0, "tcp": 0})
    #: Bumped on every change, so that facts can remember what they decided against it.
    version: int = 0
    #: Terminates and invalidates handed over in this case (LIFE-CONTEXT-UNIQUE's
    #: opportunity starts with the first).
    lifecycle_requests: int = 0

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
        snapshot, label, _ = self._initiates[self._sources[serial]]
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
        """The contexts of the LIVE, valid objects of ``layer``, in the order offloaded
        (what an initiate's linker may name: lifecycle.md H1)."""
        layers = self._layers
        if not self.states and not self.invalidated:
            return [self._contexts[s] for s in self.serials.values() if layers[s] == layer]
        skip = self.states.keys() | self.invalidated
        return [
            self._contexts[s]
            for k, s in self.serials.items()
            if layers[s] == layer and k not in skip
        ]

    # -- the lifecycle (lifecycle.md H0) ------------------------------------------------

    def state_of(self, key: object) -> str:
        """``"live"``, ``"terminating"``, ``"in doubt"`` or ``"gone"`` (not held)."""
        if key not in self.serials:
            return "gone"
        return self.states.get(key, "live")

    def layer_of(self, key: object) -> str | None:
        """The layer of the held object ``key`` names, or ``None``."""
        serial = self.serials.get(key)
        return None if serial is None else self._layers[serial]

    def capacity_count(self, layer: str) -> int:
        """Objects of ``layer`` INI-CAPACITY counts: LIVE and not invalidated, or
        TERMINATING and not invalidated."""
        return self.counts[layer] - self._excluded[layer]

    def invalidated_count(self, layer: str) -> int:
        """Invalidated objects of ``layer`` still held and not in doubt."""
        return self._invalid[layer]

    def lifecycle_keys(self) -> set[Any]:
        """Held objects that are not simply LIVE: terminating, in doubt or invalidated."""
        return self.states.keys() | self.invalidated

    def parent_key(self, key: object) -> Any:
        """The context key of the object ``key``'s block depended on when it was offloaded
        (``None`` for a neighbor, or under a placeholder)."""
        serial = self.serials.get(key)
        if serial is None:
            return None
        snapshot, _, slots = self._initiates[self._sources[serial]]
        parent = snapshot.parents[self._positions[serial]]
        if parent < 0:
            return None
        return context_key(slots[parent])

    def start_terminate(self, key: object) -> None:
        """A terminate naming ``key`` was handed over."""
        if key in self.serials and self.states.get(key) != "in doubt":
            self.states[key] = "terminating"
            self.version += 1

    def cancel_terminate(self, key: object) -> None:
        """A terminate of ``key`` failed as a robustness case expects: the object is LIVE
        again (lifecycle.md section 2: the model is unchanged)."""
        if self.states.get(key) == "terminating":
            del self.states[key]
            self.version += 1

    def finish_terminate(self, key: object, *, success: bool) -> None:
        """The terminate of ``key`` completed: GONE on SUCCESS, else IN DOUBT."""
        serial = self.serials.get(key)
        if serial is None:
            return
        layer = self._layers[serial]
        in_doubt = self.states.get(key) == "in doubt"
        invalid = key in self.invalidated
        if success:
            del self.serials[key]
            self.states.pop(key, None)
            self.invalidated.discard(key)
            self.counts[layer] -= 1
            self.gone[layer] += 1
            if in_doubt or invalid:
                self._excluded[layer] -= 1
            if invalid and not in_doubt:
                self._invalid[layer] -= 1
        elif not in_doubt:
            self.states[key] = "in doubt"
            if invalid:
                self._invalid[layer] -= 1  # still excluded, now as in doubt
            else:
                self._excluded[layer] += 1
        self.version += 1

    def invalidate(self, key: object) -> None:
        """An invalidate of ``key`` completed with SUCCESS."""
        serial = self.serials.get(key)
        if serial is None or key in self.invalidated:
            return
        layer = self._layers[serial]
        self.invalidated.add(key)
        if self.states.get(key) != "in doubt":
            self._excluded[layer] += 1
            self._invalid[layer] += 1
        self.version += 1

    def record(self, facts: InitiateFacts) -> None:
        """Add every object ``facts`` shows offloaded (the first object of a context wins)."""
        self.initiates += 1
        self.version += 1
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
        self._initiates.append((facts.snapshot, facts.observation.label, facts.slot_values))
