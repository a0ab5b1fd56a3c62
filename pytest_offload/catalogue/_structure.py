"""Structure facts: which blocks of a handed-over tree are malformed, and why."""

from __future__ import annotations

from itertools import compress, repeat
from operator import eq, ne
from typing import TYPE_CHECKING

from pytest_offload.model import LAYER_TYPES, LAYERS, STATE_CLASSES, Role, layer_name

if TYPE_CHECKING:
    from pytest_offload.harness import TreeSnapshot

__all__ = ["TYPE_DEPTH", "StructureFacts", "type_depth"]

#: Depth (layer index) of each known state type, and the state class a new offload needs.
TYPE_DEPTH: dict[int, int] = {
    t: depth for depth, layer in enumerate(LAYERS) for t in LAYER_TYPES[layer]
}
_DEPTH_OF_CLASS: dict[type, int] = {
    STATE_CLASSES[t]: depth for depth, layer in enumerate(LAYERS) for t in LAYER_TYPES[layer]
}
# One state class per layer: a block's depth alone says which class a new offload needs.
assert len(_DEPTH_OF_CLASS) == len(LAYERS)
_TCP_DEPTH = LAYERS.index("tcp")


def type_depth(state_type: object) -> int | None:
    try:
        return TYPE_DEPTH.get(state_type)  # type: ignore[call-overload, no-any-return]
    except TypeError:  # unhashable
        return None


def _is_one_of(state_type: object, allowed: frozenset[int]) -> bool:
    # Equality, as the fast scans use: a value equal to an allowed type is that type.
    try:
        return state_type in allowed
    except TypeError:  # unhashable
        return False


class StructureFacts:
    """The malformed-tree facts of one initiate [reading: rules.md INI-MALFORMED-TREE].

    A base of :class:`InitiateFacts`, which sets the attributes declared here.
    """

    snapshot: TreeSnapshot
    n: int
    type_depth: list[int | None]
    others: list[int]
    placeholders: list[int]
    _malformed: dict[int, str] | None
    _malformed_ancestor: list[int] | None

    @property
    def malformed(self) -> dict[int, str]:
        """Offending blocks of a malformed tree, by position, with the reason [reading]."""
        if self._malformed is None:
            self._compute_malformed()
            assert self._malformed is not None
        return self._malformed

    @property
    def malformed_ancestor(self) -> list[int]:
        """For each block, the nearest offending ancestor (or itself), else -1 (memoised)."""
        if self._malformed_ancestor is None:
            ends = self.snapshot.subtree_end
            inherited = [-1] * self.n
            for i in self.malformed:  # offending blocks never nest: no overlap
                inherited[i : ends[i]] = [i] * (ends[i] - i)
            self._malformed_ancestor = inherited
        return self._malformed_ancestor

    def _suspects(self) -> set[int]:
        """Non-placeholder blocks that may be malformed; a superset, found with fast scans."""
        snapshot = self.snapshot
        n = self.n
        depths, roles = snapshot.depths, snapshot.roles
        suspects: set[int] = set()
        # Each known type names one layer; a block's layer is its depth. Blocks past the
        # TCP layer always differ here, and their TCP-layer parents are suspects too.
        if self.type_depth != depths:
            suspects.update(compress(range(n), map(ne, self.type_depth, depths)))
            below_tcp = compress(snapshot.parents, map(eq, depths, repeat(_TCP_DEPTH + 1)))
            suspects.update(below_tcp)
        # A new offload carries the state class of its layer; others carry no state.
        state_depth = list(map(_DEPTH_OF_CLASS.get, map(type, snapshot.image.states)))
        for i in self.others:
            state_depth[i] = depths[i]
        if state_depth != depths:
            suspects.update(compress(range(n), map(ne, state_depth, depths)))
        deep = snapshot.dependents
        for p in self.placeholders:
            suspects.update(deep[p])
        placeholder = Role.PLACEHOLDER
        return {i for i in suspects if roles[i] is not placeholder}

    def _compute_malformed(self) -> None:
        snapshot = self.snapshot
        roles, depths, parents = snapshot.roles, snapshot.depths, snapshot.parents
        offending: dict[int, str] = {}
        covered_until = -1
        for i in sorted(self._suspects()):
            if i < covered_until:
                continue  # inside an offending subtree already
            reason = _malformed_reason(i, roles[i], depths[i], roles, parents[i], snapshot)
            if reason is not None:
                offending[i] = reason
                covered_until = snapshot.subtree_end[i]
        self._malformed = offending


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
    state_type, state = snapshot.image.state_types[i], snapshot.image.states[i]
    allowed = LAYER_TYPES[layer]
    if not _is_one_of(state_type, allowed):
        names = "/".join(f"{int(t)}" for t in sorted(allowed))
        return (
            f"state_type {state_type!r} at the {layer} layer (expected {names}): "
            "an unknown type or a next_block into another layer"
        )
    if role is Role.NEW_OFFLOAD:
        expected_class = STATE_CLASSES[state_type]  # type: ignore[index]
        if not isinstance(state, expected_class):
            return (
                f"a new offload without {expected_class.__name__} "
                f"(state is {type(state).__name__})"
            )
        if parent >= 0 and roles[parent] is Role.PLACEHOLDER:
            return f"a new {layer} block whose parent {snapshot.path(parent)} is a placeholder"
    return None
