"""Facts about one observed initiate, computed once in linear time and shared by the rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_offload.snapshot import NO_SLOT
from pytest_offload.status import FAILURE_CODES, OFFLOADED_CODES
from pytest_offload.tree import LAYER_TYPES, STATE_CLASSES, Role, layer_name, layer_of_type

if TYPE_CHECKING:
    from pytest_offload.capabilities import OffloadCapabilities
    from pytest_offload.observation import Observation
    from pytest_offload.snapshot import TreeSnapshot

__all__ = ["BatchFacts", "InitiateFacts", "LedgerEntry", "TargetLedger", "context_key"]


def context_key(value: object) -> tuple[str, Any]:
    """How two context values are compared: by value for plain data, else by identity.

    A PVOID is a number; a Python target may hand out ints, strings or objects. Two
    objects that merely compare equal are still two distinct context areas.
    """
    if type(value) in (int, str, bytes):
        return ("=", value)
    return ("id", id(value))


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """An object a target offloaded: its context (kept alive), layer and where it came from."""

    context: object
    layer: str
    path: str
    initiate: str


@dataclass(slots=True)
class TargetLedger:
    """What one target still has offloaded, across the initiates of one test case.

    v1 has no terminate, so objects only accumulate. Cross-request rules (INI-CONTEXT-UNIQUE,
    INI-CAPACITY, INI-ENTRIES-CAUSE) read it; the checker records each judged batch into it.
    """

    entries: dict[tuple[str, Any], LedgerEntry] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"neighbor": 0, "path": 0, "tcp": 0})
    initiates: int = 0

    @property
    def fresh(self) -> bool:
        """True while the target has offloaded nothing and judged no initiate."""
        return self.initiates == 0 and not self.entries

    def record(self, facts: InitiateFacts) -> None:
        """Add every object ``facts`` shows offloaded."""
        self.initiates += 1
        snapshot = facts.observation.snapshot
        for position in facts.new_offloaded:
            value = facts.slot_values[position]
            layer = facts.type_layer[position]
            if layer is None:
                continue
            self.counts[layer] += 1
            if value is None or value is NO_SLOT:
                continue
            self.entries.setdefault(
                context_key(value),
                LedgerEntry(value, layer, snapshot.path(position), facts.observation.label),
            )


def _code(value: object) -> int | None:
    # Statuses are whatever the target wrote; rules compare normalised ints only.
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return None


class InitiateFacts:
    """Derived views of one observation, each computed in one pass over the blocks."""

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
        self.codes: list[int | None] = [_code(s) for s in raw]
        self.slot_values: list[object] = (
            image.slot_values if image is not None else snapshot.image.slot_values
        )
        offloaded_codes = OFFLOADED_CODES
        failure_codes = FAILURE_CODES
        self.offloaded: list[bool] = [c in offloaded_codes for c in self.codes]
        self.failed: list[bool] = [c in failure_codes for c in self.codes]
        roles = snapshot.roles
        self.type_layer: list[str | None] = [
            layer_of_type(fields[0]) if role is not Role.PLACEHOLDER else None
            for fields, role in zip(snapshot.image.host_fields, roles, strict=True)
        ]
        self.new_offloaded: list[int] = [
            i for i in range(n) if self.offloaded[i] and roles[i] is Role.NEW_OFFLOAD
        ]
        self._malformed: dict[int, str] | None = None
        self._failed_ancestor: list[int] | None = None
        self._malformed_ancestor: list[int] | None = None

    # -- structure -------------------------------------------------------------------

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

    def _compute_malformed(self) -> None:
        snapshot = self.snapshot
        roles, depths, parents = snapshot.roles, snapshot.depths, snapshot.parents
        offending: dict[int, str] = {}
        inherited = [-1] * self.n
        for i in range(self.n):
            parent = parents[i]
            above = inherited[parent] if parent >= 0 else -1
            if above >= 0:
                inherited[i] = above
                continue
            if roles[i] is Role.PLACEHOLDER:
                continue
            reason = _malformed_reason(i, roles[i], depths[i], roles, parent, snapshot)
            if reason is not None:
                offending[i] = reason
                inherited[i] = i
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
            parents, roles = snapshot.parents, snapshot.roles
            known = self.batch.ledger.entries
            slots = snapshot.image.slot_values
            abandons = [
                f
                and (
                    r is Role.NEW_OFFLOAD
                    or (r is Role.LINKER and context_key(slots[i]) not in known)
                )
                for i, (f, r) in enumerate(zip(self.failed, roles, strict=True))
            ]
            out = [-1] * self.n
            for i in range(self.n):
                parent = parents[i]
                if parent >= 0:
                    out[i] = parent if abandons[parent] else out[parent]
            self._failed_ancestor = out
        return self._failed_ancestor


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

    def offloaded_in_batch(self, layer: str) -> int:
        """New objects of ``layer`` offloaded by every initiate of the batch."""
        return sum(1 for f in self.initiates for i in f.new_offloaded if f.type_layer[i] == layer)
