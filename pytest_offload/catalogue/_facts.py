"""Facts about one observed initiate, computed once in linear time and shared by the rules.

Rules judge only the blocks their precondition can hold for: the facts index blocks by
role, status and layer with C-level passes (``map``, ``compress``, ``list.count``), so a
100k-block tree costs a handful of scans, not thirty.
"""

from __future__ import annotations

from collections import Counter
from itertools import compress, repeat
from operator import eq
from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue._ledger import TargetLedger
from pytest_offload.catalogue._structure import TYPE_DEPTH, StructureFacts, type_depth
from pytest_offload.harness import NO_SLOT
from pytest_offload.model import (
    FAILURE_CODES,
    INITIATE_CODES,
    LAYERS,
    OFFLOADED_CODES,
    NdisStatus,
    Role,
    context_key,
    is_failed,
    is_object_context_type,
    is_offloaded,
)

if TYPE_CHECKING:
    from pytest_offload.harness import Observation
    from pytest_offload.model import OffloadCapabilities

__all__ = ["BatchFacts", "InitiateFacts", "TargetLedger", "context_key", "positions_of"]

# Keyed by the enum members themselves: a status a target wrote as a member is found by
# identity, and a plain int equal to a member is still found by equality.
_OFFLOADED = frozenset(OFFLOADED_CODES)
_FAILED = frozenset(FAILURE_CODES)
_ALLOWED_OR_PENDING = frozenset(INITIATE_CODES) | {NdisStatus.PENDING}
_MEMBERS: dict[int | None, int] = {member: member for member in NdisStatus}
_INT_TYPES = frozenset({int, NdisStatus})
_NoSlotType = type(NO_SLOT)


def positions_of(values: list[Any], value: object, count: int | None = None) -> list[int]:
    """Positions where ``values`` holds ``value`` (``count`` times, if known), found with
    C-level scans."""
    if count is None:
        count = values.count(value)
    if count == 0:
        return []
    if count * 3 > len(values):  # the index loop costs a call per hit
        return list(compress(range(len(values)), map(eq, values, repeat(value))))
    found: list[int] = []
    index = values.index
    at = -1
    for _ in range(count):
        at = index(value, at + 1)
        found.append(at)
    return found


def _code(value: object) -> int | None:
    # Statuses are whatever the target wrote; rules compare normalised ints only.
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return None


class InitiateFacts(StructureFacts):
    """Derived views of one observation, each computed at most once.

    Everything proportional to the tree is computed with C-level passes (``map``,
    ``compress``, ``list.count``, set and dict construction); Python-level loops run only
    over blocks a rule has already found suspicious, or over the few blocks of one role.
    """

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
        if set(map(type, raw)) <= _INT_TYPES:
            self.codes: list[int | None] = raw  # type: ignore[assignment]
        else:
            self.codes = [_code(s) for s in raw]
        codes = self.codes
        #: The distinct codes present (``None`` stands for statuses that are not ints).
        self.present: set[int | None] = set(codes)
        self._counts: dict[int | None, int] = {}
        self.slot_values: list[object] = (
            image.slot_values if image is not None else snapshot.image.slot_values
        )
        self.state_types: list[object] = snapshot.image.state_types
        by_role = snapshot.by_role
        self.new_positions = by_role[Role.NEW_OFFLOAD]
        self.linkers = by_role[Role.LINKER]
        self.placeholders = by_role[Role.PLACEHOLDER]
        #: Linkers and placeholders: the blocks that are not new offloads.
        self.others = self.linkers + self.placeholders if len(self.new_positions) < n else []
        self._derive_layers()
        self._offloaded: list[bool] | None = None
        self._internal_buckets: dict[int, list[int]] = {}
        self._internal_codes: list[int | None] | None = None
        self._malformed: dict[int, str] | None = None
        self._malformed_ancestor: list[int] | None = None
        self._failed_ancestor: list[int] | None = None
        self._abandoned: list[int] | None = None
        self._buckets: dict[object, list[int]] = {}
        self._context_keys: list[Any] | None = None
        self._new_offloaded_slots: list[object] | None = None
        self._offloaded_children: Counter[int] | None = None
        self._new_at_depth: dict[tuple[int, int], int] = {}
        self._abandoning_blocks: list[int] | None = None
        self._fresh_at = -1
        self._unknown_linkers: list[int] | None = None

    def _derive_layers(self) -> None:
        """Layers as depths, and which new offloads the target offloaded."""
        #: The layer (as a depth) each block's type names, ``None`` for unknown types.
        self.type_depth: list[int | None]
        try:
            self.type_depth = list(map(TYPE_DEPTH.get, self.state_types))  # type: ignore[arg-type]
        except TypeError:  # an unhashable state_type
            self.type_depth = list(map(type_depth, self.state_types))
        #: ``type_depth`` for new offloads, ``None`` for linkers and placeholders.
        self.new_depth: list[int | None] = self.type_depth
        is_offloaded = _OFFLOADED.__contains__
        codes, n, new = self.codes, self.n, self.new_positions
        if len(new) == n:
            self.new_offloaded: list[int] = list(compress(range(n), map(is_offloaded, codes)))
        else:
            self.new_depth = self.type_depth.copy()
            for i in self.others:
                self.new_depth[i] = None
            new_codes = map(codes.__getitem__, new)
            self.new_offloaded = list(compress(new, map(is_offloaded, new_codes)))
        #: ``new_depth`` of each block of ``new_offloaded``.
        self.offloaded_depths: list[int | None] = list(
            map(self.new_depth.__getitem__, self.new_offloaded)
        )

    @property
    def offloaded(self) -> list[bool]:
        """For each block, whether its status is SUCCESS or PARTIAL (memoised)."""
        if self._offloaded is None:
            self._offloaded = list(map(_OFFLOADED.__contains__, self.codes))
        return self._offloaded

    def is_offloaded(self, position: int) -> bool:
        """Whether the block at ``position`` carries SUCCESS or OFFLOAD_PARTIAL_SUCCESS."""
        return is_offloaded(self.codes[position])

    def new_of_layer(self, depth: int) -> int:
        """How many new offloads have a type of the layer at ``depth``."""
        if self.malformed:
            return self.new_depth.count(depth)
        # A well-formed tree: every new offload's type names the layer of its depth.
        by_depth = self.snapshot.by_depth
        found = len(by_depth[depth]) if depth < len(by_depth) else 0
        depths = self.snapshot.depths
        if not self.others:
            return found
        return found - sum(1 for i in self.others if depths[i] == depth)

    def typed_positions(self, code: int, depth: int) -> list[int]:
        """The new offloads whose type names the layer at ``depth`` and whose status is
        ``code``."""
        new_depth = self.new_depth
        return [i for i in self.with_code(code) if new_depth[i] == depth]

    def typed_count(self, code: int, depth: int) -> int:
        """How many :meth:`typed_positions` there are; counted at C speed when the tree is
        well formed (every type then matches its block's depth)."""
        if not self.malformed:
            return self.new_at_depth_with(code, depth)
        return len(self.typed_positions(code, depth))

    def new_at_depth_with(self, code: int, depth: int) -> int:
        """How many new offloads at ``depth`` carry ``code``, counted at C speed by
        subtracting the blocks that are elsewhere or are not new offloads."""
        found = self._new_at_depth.get((code, depth))
        if found is None:
            found = self._new_at_depth[code, depth] = self._count_new_at_depth(code, depth)
        return found

    def _count_new_at_depth(self, code: int, depth: int) -> int:
        total = self.count_of(code)
        if not total:
            return 0
        code = _MEMBERS.get(code, code)  # scans match enum members by identity
        codes, by_depth = self.codes, self.snapshot.by_depth
        at = by_depth[depth] if depth < len(by_depth) else []
        if len(at) * 2 < self.n:
            found = list(map(codes.__getitem__, at)).count(code)
        else:  # most blocks stand at this depth: count the others instead
            found = total
            for d, ps in enumerate(by_depth):
                if d != depth:
                    found -= list(map(codes.__getitem__, ps)).count(code)
        depths = self.snapshot.depths
        for i in self.others:
            if depths[i] == depth and codes[i] == code:
                found -= 1
        return found

    @property
    def unknown_linkers(self) -> list[int]:
        """Linkers naming no object of their layer that this target offloaded and holds
        (rules.md section 3): robustness cases, judged by INI-UNKNOWN-LINKER."""
        if self._unknown_linkers is None:
            ledger, slots = self.batch.ledger, self.snapshot.image.slot_values
            depths = self.snapshot.depths
            self._unknown_linkers = [
                i
                for i in self.linkers
                if depths[i] >= len(LAYERS) or not ledger.holds(slots[i], LAYERS[depths[i]])
            ]
        return self._unknown_linkers

    @property
    def robustness_case(self) -> bool:
        """Whether the tree holds a case no host sends: an unknown linker or a malformed
        block. A crash or hang on it is that rule's finding, not INI-NO-RAISE's [reading]."""
        return bool(self.unknown_linkers) or bool(self.malformed)

    def is_failed(self, position: int) -> bool:
        """Whether the block at ``position`` carries a failure code."""
        return is_failed(self.codes[position])

    def new_offloaded_slots(self) -> list[object]:
        """The context slot value of each block of ``new_offloaded``."""
        if self._new_offloaded_slots is None:
            self._new_offloaded_slots = list(map(self.slot_values.__getitem__, self.new_offloaded))
        return self._new_offloaded_slots

    def contexts_unique_and_new(self) -> bool:
        """Whether every block of ``new_offloaded`` has a context, no two the same and none
        known to the ledger (decided at C speed; remembered while the ledger is unchanged)."""
        ledger = self.batch.ledger
        if self._fresh_at == ledger.version:
            return True
        keys = self.context_keys()
        fresh = (
            None not in keys
            and len(set(keys)) == len(keys)
            and ledger.serials.keys().isdisjoint(keys)
        )
        if fresh:
            self._fresh_at = ledger.version
        return fresh

    def context_keys(self) -> list[Any]:
        """The context key of each block of ``new_offloaded`` (``None`` where no context)."""
        if self._context_keys is None:
            values = self.new_offloaded_slots()
            types = set(map(type, values))
            if _NoSlotType not in types and all(map(is_object_context_type, types)):
                self._context_keys = list(map(id, values))  # the common case: objects
            else:
                self._context_keys = [None if v is NO_SLOT else context_key(v) for v in values]
        return self._context_keys

    # -- indexes -----------------------------------------------------------------------

    def count_of(self, code: int | None) -> int:
        """How many blocks carry ``code`` (memoised; absent codes cost a set lookup)."""
        if code not in self.present:
            return 0
        found = self._counts.get(code)
        if found is None:
            # Counting with the enum member lets the scan match members by identity.
            found = self._counts[code] = self.codes.count(_MEMBERS.get(code, code))
        return found

    def with_code(self, code: int) -> list[int]:
        """Positions whose status is ``code`` (memoised)."""
        found = self._buckets.get(code)
        if found is None:
            if code not in self.present:
                return []
            count = self.count_of(code)
            member = _MEMBERS.get(code, code)
            found = self._buckets[code] = positions_of(self.codes, member, count) if count else []
        return found

    def not_allowed(self) -> list[int]:
        """Positions whose status is neither an initiate code nor PENDING."""
        bad = [c for c in self.present if c not in _ALLOWED_OR_PENDING]
        if not bad:
            return []
        return sorted(i for code in bad for i in self.with_code(code))  # type: ignore[arg-type]

    @property
    def internal(self) -> list[int]:
        """Positions of the blocks that have immediate dependents."""
        return self.snapshot.internal

    @property
    def internal_codes(self) -> list[int | None]:
        """The code of each block of ``internal`` (memoised)."""
        if self._internal_codes is None:
            self._internal_codes = list(map(self.codes.__getitem__, self.internal))
        return self._internal_codes

    def internal_with(self, code: int) -> list[int]:
        """Blocks with dependents whose status is ``code`` (memoised)."""
        found = self._internal_buckets.get(code)
        if found is None:
            if code not in self.present:
                found = []
            else:
                selected = map(eq, self.internal_codes, repeat(_MEMBERS.get(code, code)))
                found = list(compress(self.internal, selected))
            self._internal_buckets[code] = found
        return found

    def all_dependents_offloaded(self, positions: list[int]) -> list[bool]:
        """For each block of ``positions``: are all its immediate dependents offloaded?

        Counts offloaded dependents per parent from the offloaded blocks only (usually far
        fewer than the failed ones) and compares with the number of dependents.
        """
        if self._offloaded_children is None:
            offloaded = self.new_offloaded
            others = [i for i in self.others if self.is_offloaded(i)]
            if others:
                offloaded = sorted(offloaded + others)
            self._offloaded_children = Counter(map(self.snapshot.parents.__getitem__, offloaded))
        done = map(self._offloaded_children.get, positions, repeat(0))
        dependents = map(len, map(self.snapshot.dependents.__getitem__, positions))
        return list(map(eq, done, dependents))

    def first_not_offloaded(self, position: int) -> int | None:
        """The first immediate dependent of ``position`` that is not offloaded, if any."""
        offloaded = self.offloaded
        for child in self.snapshot.dependents[position]:
            if not offloaded[child]:
                return child
        return None

    def _abandoning(self) -> list[int]:
        """Failed blocks with dependents whose failure abandons their subtree (memoised)."""
        if self._abandoning_blocks is None:
            self._abandoning_blocks = self._find_abandoning()
        return self._abandoning_blocks

    def _find_abandoning(self) -> list[int]:
        snapshot = self.snapshot
        roles = snapshot.roles
        known = self.batch.ledger
        slots = snapshot.image.slot_values
        internal = self.internal
        out: list[int] = []
        for i in compress(internal, map(_FAILED.__contains__, self.internal_codes)):
            role = roles[i]
            if role is Role.NEW_OFFLOAD or (
                role is Role.LINKER and context_key(slots[i]) not in known
            ):
                out.append(i)
        return out

    @property
    def failed_ancestor(self) -> list[int]:
        """For each block, the nearest ancestor whose failure abandons its subtree, else -1.

        A new offload that failed abandons its dependents. A linker's FAILURE abandons them
        only when it names no object this target offloaded: a known linker's FAILURE just
        sums up dependents that were attempted and failed on their own [reading]. A
        placeholder wrongly marked failed is INI-PLACEHOLDER-SUCCESS's finding only.
        """
        if self._failed_ancestor is None:
            ends = self.snapshot.subtree_end
            out = [-1] * self.n
            # Subtrees are contiguous; filling outer ones first lets inner ones overwrite,
            # which leaves each block with its nearest abandoning ancestor.
            for i in self._abandoning():
                out[i + 1 : ends[i]] = [i] * (ends[i] - i - 1)
            self._failed_ancestor = out
        return self._failed_ancestor

    def abandoned(self) -> list[int]:
        """Non-placeholder blocks under an abandoning failed ancestor (memoised)."""
        if self._abandoned is None:
            ends, roles = self.snapshot.subtree_end, self.snapshot.roles
            found: list[int] = []
            covered_until = -1
            for i in self._abandoning():  # in depth-first order: outer subtrees first
                if i < covered_until:
                    continue
                found.extend(range(i + 1, ends[i]))
                covered_until = ends[i]
            placeholder = Role.PLACEHOLDER
            self._abandoned = [i for i in found if roles[i] is not placeholder]
        return self._abandoned


class BatchFacts:
    """Initiates that were in flight together on one target, and the ledger before them."""

    def __init__(self, observations: list[Observation], ledger: TargetLedger) -> None:
        self.ledger = ledger
        self.fresh = ledger.fresh and len(observations) == 1
        self.initiates = [InitiateFacts(obs, self) for obs in observations]
        self._offloaded: dict[str, int] = {}

    def offloaded_in_batch(self, layer: str) -> int:
        """New objects of ``layer`` offloaded by every initiate of the batch (computed once)."""
        found = self._offloaded.get(layer)
        if found is None:
            depth = LAYERS.index(layer)
            found = sum(f.offloaded_depths.count(depth) for f in self.initiates)
            self._offloaded[layer] = found
        return found
