"""Checker invariants over random trees: no false alarms, no missed flips, never a crash."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_offload import (
    CATALOGUE,
    NdisStatus,
    OffloadBlockList,
    Role,
    TargetChecker,
    capture,
    check,
    expected_statuses,
    take_snapshot,
)
from pytest_offload.catalogue._facts import BatchFacts, TargetLedger
from pytest_offload.strategies import tree_specs
from tests.support import CAPS, chain3, observe

if TYPE_CHECKING:
    from pytest_offload.generate import TreeSpec
    from pytest_offload.harness import RecordingHost

S = NdisStatus
OFFLOADED = (S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS)
GENERIC_FAILURES = (S.FAILURE, S.RESOURCES)


def conformant(decisions: list[bool], codes: list[int]):  # type: ignore[no-untyped-def]
    """A minimal conformant target: new offload i succeeds iff decisions[i] (no limits
    declared beyond CAPS, so only generic failure codes), statuses derived bottom-up."""

    def behave(host: RecordingHost, root: OffloadBlockList) -> None:
        counter = iter(range(10**6))
        offloaded_tcp = 0

        def visit(block: OffloadBlockList | None, abandoned: bool) -> None:
            nonlocal offloaded_tcp
            while block is not None:
                k = next(counter)
                slot = block.miniport_offload_context
                own_ok = not abandoned and decisions[k % len(decisions)]
                if block.state_type == 17 and own_ok:
                    own_ok = offloaded_tcp < CAPS.tcp_connection_offload_capacity
                    offloaded_tcp += own_ok
                if abandoned:
                    block.status = S.FAILURE
                elif not own_ok:
                    block.status = codes[k % len(codes)]
                visit(block.dependent_block_list, abandoned or not own_ok)
                if own_ok:
                    assert slot is not None
                    slot.value = object()
                    done = all(d.status in OFFLOADED for d in block.dependents())
                    block.status = S.SUCCESS if done else S.OFFLOAD_PARTIAL_SUCCESS
                block = block.next_block

        visit(root, False)
        host.initiate_offload_complete(root)

    return behave


decisions = st.lists(st.booleans(), min_size=1, max_size=12)
codes = st.lists(st.sampled_from(GENERIC_FAILURES), min_size=1, max_size=3)
benign = tree_specs(benign=True, max_neighbors=3, max_paths=3, max_connections=3)


@given(benign, decisions, codes)
def test_a_conformant_target_is_never_flagged(
    spec: TreeSpec, ds: list[bool], cs: list[int]
) -> None:
    obs = observe(spec.build(), conformant(ds, cs))
    report = check(obs)
    # Failing a benign one-neighbor, one-path, one-connection tree on a fresh target is
    # exactly what INI-ADVERTISED-WORKS (SHOULD) exists to flag; every other rule is quiet.
    assert obs.completion_image is not None
    fails_minimal = len(spec) == 3 and any(
        s not in OFFLOADED or s != S.SUCCESS for s in obs.completion_image.statuses
    )
    others = [v for v in report.violations if v.rule_id != "INI-ADVERTISED-WORKS"]
    assert others == [], "\n".join(map(str, others))
    assert report.outcomes["INI-ADVERTISED-WORKS"].violations == [] or fails_minimal


@given(benign, decisions, codes)
def test_expected_statuses_agree_with_a_conformant_outcome(
    spec: TreeSpec, ds: list[bool], cs: list[int]
) -> None:
    obs = observe(spec.build(), conformant(ds, cs))
    facts = BatchFacts([obs], TargetLedger()).initiates[0]
    assert obs.completion_image is not None
    observed = [S(cast("int", s)).name for s in obs.completion_image.statuses]
    assert expected_statuses(facts) == observed


@given(benign, decisions, st.data())
def test_flipping_success_and_partial_on_a_parent_is_caught(
    spec: TreeSpec, ds: list[bool], data: st.DataObject
) -> None:
    obs = observe(spec.build(), conformant(ds, [S.FAILURE]))
    snap = obs.snapshot
    assert obs.completion_image is not None
    statuses = obs.completion_image.statuses
    parents = [i for i in range(len(snap)) if snap.dependents[i] and statuses[i] in OFFLOADED]
    if not parents:
        return
    i = data.draw(st.sampled_from(parents))
    flipped = S.SUCCESS if statuses[i] == S.OFFLOAD_PARTIAL_SUCCESS else S.OFFLOAD_PARTIAL_SUCCESS
    statuses[i] = flipped
    ids = {v.rule_id for v in check(obs).violations}
    assert ids & {
        "INI-SUCCESS-ALL-DEPENDENTS",
        "INI-PARTIAL-NEEDS-FAILED-DEPENDENT",
        "INI-PARTIAL-IS-OFFLOADED",
    }, f"flip of {snap.path(i)} to {flipped.name} went unnoticed"


class Hostile:
    """A value whose comparisons and hash raise."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing me")

    def __hash__(self) -> int:
        raise RuntimeError("no hashing me")


class Liar:
    """A value equal to everything."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


garbage = st.one_of(
    st.sampled_from(list(NdisStatus)),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.none(),
    st.text(max_size=3),
    st.builds(object),
    st.floats(allow_nan=True),
    st.builds(Hostile),
    st.builds(Liar),
)


@settings(max_examples=60, deadline=None)
@given(tree_specs(max_neighbors=2), st.data())
def test_the_checker_never_raises_on_anything_a_target_writes(
    spec: TreeSpec, data: st.DataObject
) -> None:
    size = len(spec)
    # Everything is drawn here, in the test's thread: the target runs on the host's
    # caller thread, which may still be running when the test has moved on.
    statuses = data.draw(st.lists(garbage, min_size=size, max_size=size))
    slots = data.draw(st.lists(st.one_of(st.none(), garbage), min_size=size, max_size=size))
    scribbles = data.draw(st.lists(st.one_of(st.none(), garbage), min_size=size, max_size=size))
    complete, stray = data.draw(st.booleans()), data.draw(st.integers(-1, size - 1))

    def chaos(host: RecordingHost, root: OffloadBlockList) -> None:
        snap = take_snapshot(root)
        for k, block in enumerate(snap.blocks):
            block.status = statuses[k]
            if block.miniport_offload_context is not None and slots[k] is not None:
                block.miniport_offload_context.value = slots[k]
            if scribbles[k] is not None:
                block.protocol_reserved[0] = scribbles[k]
                block.source_handle = scribbles[k]
        if complete:
            host.initiate_offload_complete(root)
        if stray >= 0:
            host.initiate_offload_complete(snap.blocks[stray])

    obs = observe(spec.build(), chaos, timeout=0.05)
    report = TargetChecker(CAPS).check(obs)
    for violation in report.violations:
        assert str(violation)  # every finding renders
    assert len(report.outcomes) == sum("initiate" in r.judges for r in CATALOGUE)


@given(benign, decisions)
def test_checking_is_deterministic(spec: TreeSpec, ds: list[bool]) -> None:
    obs = observe(spec.build(), conformant(ds, [S.FAILURE]))
    first = [str(v) for v in check(obs).violations]
    assert first == [str(v) for v in check(obs).violations]


@pytest.mark.parametrize("value", [Hostile(), [1, 2]], ids=["hostile", "list"])
def test_a_host_field_replaced_by_an_odd_value_is_reported(value: object) -> None:
    def scribble(host: RecordingHost, root: OffloadBlockList) -> None:
        for block in take_snapshot(root).blocks:
            block.status = S.FAILURE
        root.port_number = value  # type: ignore[assignment]
        root.im_reserved = value  # type: ignore[assignment]
        host.initiate_offload_complete(root)

    found = [v for v in check(observe(chain3(), scribble)).violations]
    intact = [v for v in found if v.rule_id == "INI-HOST-FIELDS-INTACT"]
    assert [(v.path, v.observed) for v in intact] == [
        ("neighbor[0]", "changed im_reserved, port_number")
    ]


def test_a_context_rewritten_after_completion_by_an_equal_object_is_reported() -> None:
    def rewrite(host: RecordingHost, root: OffloadBlockList) -> None:
        blocks = take_snapshot(root).blocks
        for block in blocks:
            block.status = S.SUCCESS
            assert block.miniport_offload_context is not None
            block.miniport_offload_context.value = object()
        host.initiate_offload_complete(root)
        last = blocks[-1].miniport_offload_context
        assert last is not None
        last.value = Liar()  # equal to the old context, but another object

    found = check(observe(chain3(), rewrite)).violations
    late = [v for v in found if v.rule_id == "INI-NO-TOUCH-AFTER-COMPLETE"]
    assert [(v.path, v.observed.split(" from")[0]) for v in late] == [
        ("neighbor[0].path[0].tcp[0]", "context slot")
    ]
    assert "written after the completion" in late[0].observed


def test_capture_copies_reserved_arrays() -> None:
    tree = chain3()
    snap = take_snapshot(tree)
    tree.miniport_reserved[0] = "x"
    assert capture(snap.blocks).target_fields(0) != snap.image.target_fields(0)
    assert snap.roles[0] is Role.NEW_OFFLOAD
