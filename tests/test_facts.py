"""The checker's fast facts agree with their plain definitions, on any tree and any statuses.

The facts are computed with C-level passes and shortcuts (counting from the smaller side,
comparing whole columns first, memoising); each property here recomputes one of them the
obvious way, block by block, and compares.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_offload import (
    NdisStatus,
    NeighborOffloadState,
    PathOffloadState,
    Role,
    TargetChecker,
    capture,
    new_offload,
    take_snapshot,
)
from pytest_offload.catalogue._facts import BatchFacts, InitiateFacts, TargetLedger, context_key
from pytest_offload.catalogue._structure import _malformed_reason
from pytest_offload.harness import Completion, Observation
from pytest_offload.model import FAILURE_CODES, INITIATE_CODES, LAYER_TYPES, LAYERS, ContextSlot
from pytest_offload.strategies import malformed_tree_specs, tree_specs
from tests.support import CAPS

S = NdisStatus
OFFLOADED = {S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS}
FAILED = set(FAILURE_CODES)
#: What a target may write: every kind of code, PENDING, and values that are not codes.
WRITTEN = [
    S.SUCCESS,
    S.OFFLOAD_PARTIAL_SUCCESS,
    S.FAILURE,
    S.RESOURCES,
    S.OFFLOAD_TCP_ENTRIES,
    S.OFFLOAD_PATH_ENTRIES,
    S.OFFLOAD_NEIGHBOR_ENTRIES,
    S.PENDING,
    int(S.SUCCESS),
    int(S.OFFLOAD_TCP_ENTRIES),
    12345,
    None,
    True,
    0.0,
]
LINKED = object()  # an object a linker names that no target offloaded


@st.composite
def judged(draw: st.DrawFn) -> InitiateFacts:
    """Facts of one completed initiate: any tree (some blocks turned into linkers or
    placeholders, some malformed), any statuses and contexts written into it."""
    spec = draw(st.one_of(tree_specs(max_paths=3), malformed_tree_specs()))
    root = spec.build()
    blocks = take_snapshot(root).blocks
    for block in blocks:
        turn = draw(st.sampled_from(["keep"] * 6 + ["linker", "placeholder"]))
        if turn == "linker":
            block.miniport_offload_context = ContextSlot(LINKED)
            block.state = None
        elif turn == "placeholder":
            block.miniport_offload_context = None
            block.state = None
    snapshot = take_snapshot(root)
    shared = object()
    for block, role in zip(snapshot.blocks, snapshot.roles, strict=True):
        block.status = draw(st.sampled_from(WRITTEN))
        slot = block.miniport_offload_context
        if role is Role.NEW_OFFLOAD and slot is not None:
            slot.value = draw(st.sampled_from([None, "ctx", 7, shared, object()]))
    image = capture(snapshot.blocks)
    completion = Completion(root, True, "test", 0.0, True)
    obs = Observation(snapshot, CAPS, (completion,), image, image)
    return BatchFacts([obs], TargetLedger()).initiates[0]


def code_of(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def naive_codes(facts: InitiateFacts) -> list[int | None]:
    return [code_of(v) for v in facts.raw_statuses]


@settings(max_examples=150)
@given(judged())
def test_codes_counts_and_positions(facts: InitiateFacts) -> None:
    codes = naive_codes(facts)
    assert facts.codes == codes
    assert facts.present == set(codes)
    for code in {*codes, *S}:
        if code is None:
            continue
        positions = [i for i, c in enumerate(codes) if c == code]
        assert facts.count_of(code) == len(positions)
        assert facts.with_code(int(code)) == positions
    allowed = {*INITIATE_CODES, S.PENDING}
    assert facts.not_allowed() == [i for i, c in enumerate(codes) if c not in allowed]


@settings(max_examples=150)
@given(judged())
def test_offloaded_blocks_layers_and_structure(facts: InitiateFacts) -> None:
    snap, codes = facts.snapshot, naive_codes(facts)
    new = [i for i, r in enumerate(snap.roles) if r is Role.NEW_OFFLOAD]
    assert facts.new_positions == new
    assert facts.new_offloaded == [i for i in new if codes[i] in OFFLOADED]
    assert snap.internal == [i for i in range(facts.n) if snap.dependents[i]]
    for depth, blocks in enumerate(snap.by_depth):
        assert blocks == [i for i in range(facts.n) if snap.depths[i] == depth]
    assert sum(map(len, snap.by_depth)) == facts.n

    def typed(i: int, depth: int) -> bool:
        return snap.image.state_types[i] in LAYER_TYPES[LAYERS[depth]]

    for depth in range(len(LAYERS)):
        assert facts.new_of_layer(depth) == sum(typed(i, depth) for i in new)
        for code in (S.OFFLOAD_TCP_ENTRIES, S.OFFLOAD_PATH_ENTRIES, S.SUCCESS, S.FAILURE):
            mine = [i for i in new if codes[i] == code]
            at_depth = [i for i in mine if snap.depths[i] == depth]
            assert facts.new_at_depth_with(int(code), depth) == len(at_depth)
            by_type = [i for i in mine if typed(i, depth)]
            assert facts.typed_positions(int(code), depth) == by_type
            assert facts.typed_count(int(code), depth) == len(by_type)
    everyone = list(range(facts.n))
    assert facts.all_dependents_offloaded(everyone) == [
        all(codes[c] in OFFLOADED for c in snap.dependents[i]) for i in everyone
    ]


@settings(max_examples=150)
@given(judged())
def test_malformed_blocks_and_abandoned_subtrees(facts: InitiateFacts) -> None:
    snap = facts.snapshot
    roles, codes = snap.roles, naive_codes(facts)
    offending: dict[int, str] = {}
    covered = -1
    for i in range(facts.n):
        if i < covered or roles[i] is Role.PLACEHOLDER:
            continue
        reason = _malformed_reason(i, roles[i], snap.depths[i], roles, snap.parents[i], snap)
        if reason is not None:
            offending[i] = reason
            covered = snap.subtree_end[i]
    assert facts.malformed == offending
    assert facts.malformed_ancestor == [
        next((a for a in offending if a <= i < snap.subtree_end[a]), -1) for i in range(facts.n)
    ]

    def abandons(i: int) -> bool:
        if codes[i] not in FAILED:
            return False
        slot = snap.image.slot_values[i]
        return roles[i] is Role.NEW_OFFLOAD or (
            roles[i] is Role.LINKER and context_key(slot) not in facts.batch.ledger
        )

    nearest = [-1] * facts.n
    for i in range(facts.n):  # outer first: inner abandoning blocks overwrite
        if abandons(i):
            for j in range(i + 1, snap.subtree_end[i]):
                nearest[j] = i
    assert facts.failed_ancestor == nearest
    assert facts.abandoned() == [
        i for i in range(facts.n) if nearest[i] >= 0 and roles[i] is not Role.PLACEHOLDER
    ]


@settings(max_examples=100)
@given(judged())
def test_contexts_and_the_ledger(facts: InitiateFacts) -> None:
    values = [facts.slot_values[i] for i in facts.new_offloaded]
    assert facts.new_offloaded_slots() == values
    keys = [None if v is None else context_key(v) for v in values]
    assert facts.context_keys() == keys
    assert facts.contexts_unique_and_new() == (None not in keys and len(set(keys)) == len(keys))
    ledger = TargetLedger()
    ledger.record(facts)
    first: dict[object, int] = {}
    for i, key in zip(facts.new_offloaded, keys, strict=True):
        if key is not None and facts.new_depth[i] is not None:
            first.setdefault(key, i)
    assert list(ledger.serials) == list(first)
    for key, position in first.items():
        entry = ledger.entry(key)
        assert entry is not None
        assert entry.position == position
        assert entry.context is facts.slot_values[position]
        assert entry.layer == LAYERS[facts.new_depth[position]]  # type: ignore[index]
    for depth, layer in enumerate(LAYERS):
        assert ledger.counts[layer] == facts.offloaded_depths.count(depth)
        assert ledger.contexts(layer) == [
            facts.slot_values[p] for p in first.values() if facts.new_depth[p] == depth
        ]


def test_a_ledger_keeps_the_first_object_of_a_repeated_context() -> None:
    shared = object()
    checker = TargetChecker(CAPS)
    for _ in range(2):  # both paths of both initiates get the same context
        root = new_offload(
            NeighborOffloadState(),
            new_offload(PathOffloadState()),
            new_offload(PathOffloadState()),
        )
        snapshot = take_snapshot(root)
        for block in snapshot.blocks:
            block.status = S.SUCCESS
            slot = block.miniport_offload_context
            assert slot is not None
            slot.value = shared if isinstance(block.state, PathOffloadState) else object()
        image = capture(snapshot.blocks)
        completion = Completion(root, True, "test", 0.0, True)
        report = checker.check(Observation(snapshot, CAPS, (completion,), image, image))
        assert "INI-CONTEXT-UNIQUE" in {v.rule_id for v in report.violations}
    entry = checker.ledger.entry(id(shared))
    assert entry is not None
    assert (entry.initiate, entry.path, entry.layer) == ("initiate", "neighbor[0].path[0]", "path")
    assert len(checker.ledger.entries) == len(checker.ledger) == 3  # two neighbors + shared
    assert checker.ledger.contexts("path") == [shared]
