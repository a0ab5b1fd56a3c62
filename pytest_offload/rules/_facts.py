"""Facts about one observed initiate, computed once in linear time and shared by the rules.

Rules judge only the blocks their precondition can hold for: the facts index blocks by
role, status and layer with C-level passes (``map``, ``compress``, ``list.count``), so a
100k-block tree costs a handful of scans, not thirty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import eq, itemgetter, not_
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from pytest_offload.snapshot import NO_SLOT
from pytest_offload.status import FAILURE_CODES, INITIATE_CODES, OFFLOADED_CODES, NdisStatus
from pytest_offload.tree import LAYER_TYPES, LAYERS, STATE_CLASSES, Role, layer_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload.capabilities import OffloadCapabilities
    from pytest_offload.observation import Observation
    from pytest_offload.snapshot import TreeSnapshot

__all__ = ["BatchFacts", "InitiateFacts", "LedgerEntry", "TargetLedger", "context_key"]

_OFFLOADED = frozenset(int(c) for c in OFFLOADED_CODES)
_FAILED = frozenset(int(c) for c in FAILURE_CODES)
_ALLOWED_OR_PENDING = frozenset(int(c) for c in INITIATE_CODES) | {int(NdisStatus.PENDING)}
_INT_TYPES = frozenset({int, NdisStatus})
_PLAIN = (int, str, bytes)
_NoSlotType = type(NO_SLOT)
#: Layer of each combined state type.
_TYPE_LAYER: dict[int, str] = {int(t): layer for layer, ts in LAYER_TYPES.items() for t in ts}
#: (depth, state_type) pairs of a well-formed new offload or linker.
_GOOD_PAIRS = frozenset(
    (depth, int(t)) for depth, layer in enumerate(LAYERS) for t in LAYER_TYPES[layer]
)
_GOOD_STATES = frozenset((int(t), cls) for t, cls in STATE_CLASSES.items())


def context_key(value: object) -> Any:
    """How two context values are compared: by value for plain data, else by identity.

    A PVOID is a number; a Python target may hand out ints, strings or objects. Two
    objects that merely compare equal are still two distinct context areas.
    """
    if type(value) in _PLAIN:
        return ("=", value)
    return id(value)


def positions_of(values: list[Any], value: object) -> list[int]:
    """Positions where ``values`` holds ``value``, found with C-level scans."""
    count = values.count(value)
    if count == 0:
        return []
    if count * 16 > len(values):
        return list(compress(range(len(values)), map(eq, values, repeat(value))))
    found: list[int] = []
    index = values.index
    at = -1
    for _ in range(count):
        at = index(value, at + 1)
        found.append(at)
    return found


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
    judged batch into it.
    """

    entries: dict[Any, LedgerEntry] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"neighbor": 0, "path": 0, "tcp": 0})
    initiates: int = 0

    @property
    def fresh(self) -> bool:
        """True while the target has offloaded nothing and judged no initiate."""
        return self.initiates == 0 and not self.entries

    def record(self, facts: InitiateFacts) -> None:
        """Add every object ``facts`` shows offloaded."""
        self.initiates += 1
        label = facts.observation.label
        snapshot = facts.snapshot
        for name in LAYERS:
            self.counts[name] += facts.offloaded_layers.count(name)
        entries = self.entries
        slot_values, new_layer = facts.slot_values, facts.new_layer
        for position, key in zip(facts.new_offloaded, facts.context_keys(), strict=True):
            layer = new_layer[position]
            if key is None or layer is None or key in entries:
                continue
            entries[key] = LedgerEntry(slot_values[position], layer, snapshot, position, label)


def _code(value: object) -> int | None:
    # Statuses are whatever the target wrote; rules compare normalised ints only.
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return None


class InitiateFacts:
    """Derived views of one observation, each computed at most once."""

    def __init__(self, observation: Observation, batch: BatchFacts) -> None:
        self.observation = observation
        self.batch = batch
        self.capabilities: OffloadCapabilities = observation.capabilities
        snapshot = observation.snapshot
        self.snapshot = snapshot
        self.n = n = len(snapshot.blocks)
        self.completed = observation.completed
        image = observation.completion_image
        raw: list[object] = image.statuses if image is not None else [None] * n
        self.raw_statuses = raw
        if all(map(_INT_TYPES.__contains__, map(type, raw))):
            self.codes: list[int | None] = raw  # type: ignore[assignment]
        else:
            self.codes = [_code(s) for s in raw]
        self.slot_values: list[object] = (
            image.slot_values if image is not None else snapshot.image.slot_values
        )
        self.offloaded: list[bool] = list(map(_OFFLOADED.__contains__, self.codes))
        self.failed: list[bool] = list(map(_FAILED.__contains__, self.codes))
        self.state_types: list[object] = list(map(itemgetter(0), snapshot.image.host_fields))
        by_role = snapshot.by_role
        self.new_positions = by_role[Role.NEW_OFFLOAD]
        self.linkers = by_role[Role.LINKER]
        self.placeholders = by_role[Role.PLACEHOLDER]
        #: Layer of each new offload by its type (``None`` elsewhere or for unknown types).
        self.new_layer: list[str | None]
        try:
            self.new_layer = list(map(_TYPE_LAYER.get, self.state_types))  # type: ignore[arg-type]
        except TypeError:  # an unhashable state_type
            self.new_layer = [
                _TYPE_LAYER.get(t) if isinstance(t, int) else None for t in self.state_types
            ]
        for i in self.linkers + self.placeholders:
            self.new_layer[i] = None
        offloaded = self.offloaded
        self.new_offloaded: list[int] = list(
            compress(self.new_positions, map(offloaded.__getitem__, self.new_positions))
        )
        self.offloaded_layers: list[str | None] = [self.new_layer[i] for i in self.new_offloaded]
        self._malformed: dict[int, str] | None = None
        self._malformed_ancestor: list[int] | None = None
        self._failed_ancestor: list[int] | None = None
        self._buckets: dict[object, list[int]] = {}
        self._context_keys: list[Any] | None = None

    def context_keys(self) -> list[Any]:
        """The context key of each block of ``new_offloaded`` (``None`` where no context)."""
        if self._context_keys is None:
            values = list(map(self.slot_values.__getitem__, self.new_offloaded))
            types = set(map(type, values))
            if types.isdisjoint(_PLAIN) and _NoSlotType not in types and type(None) not in types:
                self._context_keys = list(map(id, values))  # the common case: objects
            else:
                self._context_keys = [
                    None if v is None or v is NO_SLOT else context_key(v) for v in values
                ]
        return self._context_keys

    # -- indexes -----------------------------------------------------------------------

    def with_code(self, code: int) -> list[int]:
        """Positions whose status is ``code`` (memoised)."""
        found = self._buckets.get(code)
        if found is None:
            found = self._buckets[code] = positions_of(self.codes, code)
        return found

    def not_allowed(self) -> list[int]:
        """Positions whose status is neither an initiate code nor PENDING."""
        allowed = map(_ALLOWED_OR_PENDING.__contains__, self.codes)
        return list(compress(range(self.n), map(not_, allowed)))

    # -- structure ---------------------------------------------------------------------

    @property
    def malformed(self) -> dict[int, str]:
        """Offending blocks of a malformed tree, by position, with the reason [reading]."""
        if self._malformed is None:
            self._compute_malformed()
        assert self._malformed is not None
        return self._malformed

    @property
    def malformed_ancestor(self) -> list[int]:
        """For each block, the nearest offending ancestor (or itself), else -1."""
        if self._malformed_ancestor is None:
            self._compute_malformed()
        assert self._malformed_ancestor is not None
        return self._malformed_ancestor

    def _suspects(self) -> set[int]:
        """Non-placeholder blocks that may be malformed; a superset, found with fast scans."""
        snapshot = self.snapshot
        depths, types, roles = snapshot.depths, self.state_types, snapshot.roles
        pairs = zip(depths, types, strict=True)
        suspects: set[int] = set()
        try:
            suspects.update(
                compress(range(self.n), map(not_, map(_GOOD_PAIRS.__contains__, pairs)))
            )
        except TypeError:  # an unhashable state_type: judge every block the slow way
            suspects.update(range(self.n))
        deep = snapshot.dependents
        with_dependents = compress(range(self.n), map(bool, deep))
        suspects.update(i for i in with_dependents if depths[i] == 2)
        new = self.new_positions
        fields = snapshot.image.host_fields
        at = cast("Callable[[int], Any]", fields.__getitem__)
        state_classes = map(type, map(itemgetter(3), map(at, new)))
        type_at = cast("Callable[[int], Any]", types.__getitem__)
        pairs = zip(map(type_at, new), state_classes, strict=True)
        try:
            suspects.update(compress(new, map(not_, map(_GOOD_STATES.__contains__, pairs))))
        except TypeError:  # an unhashable state_type: judge every new offload the slow way
            suspects.update(new)
        for p in self.placeholders:
            suspects.update(deep[p])
        return {i for i in suspects if roles[i] is not Role.PLACEHOLDER}

    def _compute_malformed(self) -> None:
        snapshot = self.snapshot
        roles, depths, parents = snapshot.roles, snapshot.depths, snapshot.parents
        offending: dict[int, str] = {}
        inherited = [-1] * self.n
        covered_until = -1
        for i in sorted(self._suspects()):
            if i < covered_until:
                continue  # inside an offending subtree already
            reason = _malformed_reason(i, roles[i], depths[i], roles, parents[i], snapshot)
            if reason is not None:
                offending[i] = reason
                end = snapshot.subtree_end[i]
                inherited[i:end] = [i] * (end - i)
                covered_until = end
        self._malformed = offending
        self._malformed_ancestor = inherited

    @property
    def failed_ancestor(self) -> list[int]:
        """For each block, the nearest ancestor whose failure abandons its subtree, else -1.

        A new offload that failed abandons its dependents. A linker's FAILURE abandons them
        only when it names no object this target offloaded: a known linker's FAILURE just
        sums up dependents that were attempted and failed on their own [reading]. A
        placeholder wrongly marked failed is INI-PLACEHOLDER-SUCCESS's finding only.
        """
        if self._failed_ancestor is None:
            snapshot = self.snapshot
            roles, ends, deps = snapshot.roles, snapshot.subtree_end, snapshot.dependents
            known = self.batch.ledger.entries
            slots = snapshot.image.slot_values
            out = [-1] * self.n
            # Subtrees are contiguous; filling outer ones first lets inner ones overwrite,
            # which leaves each block with its nearest abandoning ancestor.
            for i in compress(range(self.n), self.failed):
                if not deps[i]:
                    continue
                role = roles[i]
                if role is Role.NEW_OFFLOAD or (
                    role is Role.LINKER and context_key(slots[i]) not in known
                ):
                    out[i + 1 : ends[i]] = [i] * (ends[i] - i - 1)
            self._failed_ancestor = out
        return self._failed_ancestor

    def abandoned(self) -> list[int]:
        """Non-placeholder blocks under an abandoning failed ancestor."""
        ancestor, roles = self.failed_ancestor, self.snapshot.roles
        return [
            i
            for i in compress(range(self.n), map((-1).__ne__, ancestor))
            if roles[i] is not Role.PLACEHOLDER
        ]


def _malformed_reason(  # noqa: PLR0917 (a private helper fed from one loop)
    i: int, role: Role, depth: int, roles: list[Role], parent: int, snapshot: TreeSnapshot
) -> str | None:
    """Why a non-placeholder block is malformed [reading: rules.md INI-MALFORMED-TREE].

    Judged on the hand-over image only: the live tree may have been changed by the target.
    """
    layer = layer_name(depth)
    if depth >= 3:
        return f"a {role.value} block past the TCP layer (TCP blocks have no dependents)"
    if depth == 2 and snapshot.dependents[i]:
        return "a TCP-layer block with dependents (DependentBlockList must be NULL)"
    fields = snapshot.image.host_fields[i]
    state_type, state = fields[0], fields[3]
    allowed = LAYER_TYPES[layer]
    if not (isinstance(state_type, int) and state_type in allowed):
        names = "/".join(f"{int(t)}" for t in sorted(allowed))
        return (
            f"state_type {state_type!r} at the {layer} layer (expected {names}): "
            "an unknown type or a next_block into another layer"
        )
    if role is Role.NEW_OFFLOAD:
        expected_class = STATE_CLASSES[state_type]
        if not isinstance(state, expected_class):
            return (
                f"a new offload without {expected_class.__name__} "
                f"(state is {type(state).__name__})"
            )
        if parent >= 0 and roles[parent] is Role.PLACEHOLDER:
            return f"a new {layer} block whose parent {snapshot.path(parent)} is a placeholder"
    return None


class BatchFacts:
    """Initiates that were in flight together on one target, and the ledger before them."""

    def __init__(self, observations: list[Observation], ledger: TargetLedger) -> None:
        self.ledger = ledger
        self.fresh = ledger.fresh and len(observations) == 1
        self.initiates = [InitiateFacts(obs, self) for obs in observations]
        self._offloaded: dict[str, int] | None = None

    def offloaded_in_batch(self, layer: str) -> int:
        """New objects of ``layer`` offloaded by every initiate of the batch (computed once)."""
        if self._offloaded is None:
            self._offloaded = {
                name: sum(f.offloaded_layers.count(name) for f in self.initiates)
                for name in LAYERS
            }
        return self._offloaded[layer]
