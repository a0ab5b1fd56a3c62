"""Each lifecycle rule on a hand-written program: kept by a conformant target, caught (with
its ID and grade) on the broken target of ``tests/broken_lifecycle.py``.

The programs are fixed, so these run without Hypothesis: the state machine's cases are
tested end to end in ``tests/test_plugin.py``.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

import pytest

import reference_target
from pytest_offload import (
    CATALOGUE,
    NeighborOffloadState,
    NetBufferList,
    OffloadCapabilities,
    OffloadOperation,
    OffloadStateType,
    PathOffloadState,
    ScenarioOutcome,
    TcpConnectionState,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateDelegated,
    run_program,
)
from pytest_offload.catalogue import LIFECYCLE_ORDER
from pytest_offload.generate._lifecycle import (
    Answer,
    Invalidate,
    Offload,
    PathPlan,
    Query,
    Relink,
    TcpPlan,
    Terminate,
    Update,
    describe,
)
from pytest_offload.generate._lifecycle._fill import fill_connections
from tests.broken_lifecycle import (
    BROKEN_LIFECYCLE,
    aborts_correctly,
    aborts_sends_without_abort,
    fails_queries_loudly,
    fails_terminates_loudly,
    hangs_on_terminate,
    reuses_freed_contexts,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytest_plugins = ["pytester"]

T = OffloadStateType
CAPS = reference_target.create_target(None).capabilities  # type: ignore[arg-type]

#: Connection A: ESTABLISHED, unacknowledged data, send data and buffered data.
A = TcpPlan(
    TcpOffloadState(
        cached=TcpOffloadStateCached(flags=0x02),
        delegated=TcpOffloadStateDelegated(
            rcv_nxt=1000,
            snd_una=5000,
            snd_nxt=5024,
            snd_max=5024,
            buffered_data=(NetBufferList(b"hello"),),
        ),
    ),
    send_data=(8, 16),
)
#: Connection B: quiet and half-closed (CLOSE_WAIT).
B = TcpPlan(
    TcpOffloadState(
        delegated=TcpOffloadStateDelegated(
            state=TcpConnectionState.CLOSE_WAIT, rcv_nxt=77, snd_una=88, snd_nxt=88, snd_max=88
        )
    )
)
#: Serials of what BASE offloads: neighbor 0, path 1, connections A 2 and B 3.
N, P, CA, CB = 0, 1, 2, 3
BASE = Offload(NeighborOffloadState(), None, (PathPlan(PathOffloadState(), None, (A, B)),))
NEW_CACHED = TcpOffloadStateCached(flags=0x02, initial_rcv_wnd=8192, ttl_or_hop_limit=64)


def more(count: int) -> Offload:
    """``count`` more quiet connections under the path of BASE."""
    path = PathPlan(PathOffloadState(), 0, fill_connections(CAPS, count))
    return Offload(NeighborOffloadState(), 0, (path,))


PROGRAMS: dict[str, tuple[Any, ...]] = {
    "LIFE-COMPLETE-ONCE": (BASE, Terminate((CA,))),
    "LIFE-NO-RAISE": (BASE, Query(CA, T.TCP)),
    "LIFE-STATUS-ALLOWED": (BASE, Invalidate((CA,))),
    "LIFE-HOST-FIELDS-INTACT": (BASE, Invalidate((CA,))),
    "LIFE-HEALTHY-SUCCESS": (BASE, Update(CA, NEW_CACHED)),
    "LIFE-CONTEXT-UNIQUE": (BASE, Invalidate((CB,)), more(1)),
    "LIFE-CAPACITY-FREED": (BASE, more(2), Terminate((CA,)), more(1)),
    "LIFE-STATE-WRITTEN": (BASE, Terminate((N,))),
    "LIFE-DELEGATED-SETTLED": (BASE, Terminate((CA,))),
    "LIFE-FAILURE-SEQUENCE": (BASE, Query(CA, T.TCP)),
    "LIFE-ROBUST-FAILURE": (BASE, Terminate((CA,), robust="unknown")),
    "TRM-SEND-DATA-ONCE": (BASE, Terminate((CA,))),
    "TRM-BUFFERED-DATA": (BASE, Terminate((CA,))),
    "TRM-NO-EVENT-AFTER": (BASE, Terminate((CA,))),
    "TRM-ABORTED-SENDS": (BASE, Answer()),
    "TRM-UPLOAD-TCP-ONLY": (BASE, Invalidate((P,))),
    "TRM-UPLOAD-NOT-HALF-CLOSED": (BASE, Invalidate((P,))),
    "UPD-QUERY-SHOWS": (BASE, Update(CA, NEW_CACHED), Query(CA, T.TCP)),
    "UPD-RELINK": (BASE, Offload(NeighborOffloadState(), None, ()), Relink(N, 4), Terminate((N,))),
    "QRY-CONST-CACHED": (BASE, Query(CA, T.TCP), Query(CB, T.TCP_CONST)),
    "INV-STILL-OFFLOADED": (BASE, Invalidate((CB,)), more(3)),
    "INV-INVALID-STATE-REASON": (BASE, Invalidate((CB,))),
}

#: The conformant target of each rule (the reference, unless the rule needs a target that
#: makes the choice opening it).
CONFORMANT: dict[str, Callable[[Any], Any]] = {
    "LIFE-FAILURE-SEQUENCE": fails_queries_loudly,
    "TRM-ABORTED-SENDS": aborts_correctly,
}


def judge(factory: Callable[[Any], Any], program: tuple[Any, ...]) -> ScenarioOutcome:
    return run_program(factory, program, timeout=0.5, settle=0.05)


def found(outcome: ScenarioOutcome, rule_id: str) -> tuple[int, list[str]]:
    hits = sum(r.outcomes[rule_id].hits for r in outcome.reports if rule_id in r.outcomes)
    return hits, [str(v) for r in outcome.reports for v in r.violations if v.rule_id == rule_id]


def test_every_lifecycle_rule_has_a_program_and_a_broken_target() -> None:
    assert set(PROGRAMS) == set(BROKEN_LIFECYCLE) == set(LIFECYCLE_ORDER)


@pytest.mark.parametrize("rule_id", LIFECYCLE_ORDER)
def test_a_conformant_target_keeps_the_rule(rule_id: str) -> None:
    factory = CONFORMANT.get(rule_id, reference_target.create_target)
    outcome = judge(factory, PROGRAMS[rule_id])
    hits, violations = found(outcome, rule_id)
    assert hits, f"{rule_id}: the program gave no opportunity"
    assert violations == []
    # A target choosing a FAILURE is healthy no more: LIFE-HEALTHY-SUCCESS (SHOULD) notes
    # the first one, and nothing else may be found.
    every = [
        str(v)
        for r in outcome.reports
        for v in r.violations
        if not (rule_id in CONFORMANT and v.rule_id == "LIFE-HEALTHY-SUCCESS")
    ]
    assert every == [], every


@pytest.mark.parametrize("rule_id", LIFECYCLE_ORDER)
def test_the_broken_target_is_caught_with_the_rules_id_and_grade(rule_id: str) -> None:
    outcome = judge(BROKEN_LIFECYCLE[rule_id], PROGRAMS[rule_id])
    hits, violations = found(outcome, rule_id)
    assert hits, f"{rule_id}: the program gave no opportunity"
    assert violations, (
        f"{rule_id} not caught: {[str(v) for r in outcome.reports for v in r.violations]}"
    )
    grade = CATALOGUE[rule_id].grade
    assert all(f"{rule_id} ({grade.value})" in v for v in violations)


def test_a_v1_target_is_never_asked_a_lifecycle_request() -> None:
    v1 = reference_target.create_target(None, operations=frozenset({OffloadOperation.INITIATE}))  # type: ignore[arg-type]
    outcome = run_program(
        lambda host: reference_target.create_target(
            host, operations=frozenset({OffloadOperation.INITIATE})
        ),
        (BASE, Terminate((CA,)), Query(CA, T.TCP)),
    )
    assert [r.observation.operation for r in outcome.reports] == ["initiate"]
    assert v1.capabilities.operations == {OffloadOperation.INITIATE}


def test_operations_beyond_initiate_must_include_terminate() -> None:
    with pytest.raises(ValueError, match="lacks TERMINATE"):
        OffloadCapabilities(
            tcp_connection_offload_capacity=1,
            operations=frozenset({OffloadOperation.INITIATE, OffloadOperation.QUERY}),
        )


def test_a_pickled_program_replays_to_the_same_verdicts() -> None:
    """The campaign keeps a failing case pickled, and replays it to shrink and confirm."""
    program = PROGRAMS["TRM-SEND-DATA-ONCE"]
    again = pickle.loads(pickle.dumps(program))
    assert [describe(s) for s in again] == [describe(s) for s in program]
    broken = BROKEN_LIFECYCLE["TRM-SEND-DATA-ONCE"]
    first, second = judge(broken, program), judge(broken, again)
    assert found(first, "TRM-SEND-DATA-ONCE") == found(second, "TRM-SEND-DATA-ONCE")


# -- from the adversarial review of the lifecycle (regressions) ---------------------------


def test_a_context_of_a_terminated_connection_may_be_handed_out_again() -> None:
    """LIFE-CONTEXT-UNIQUE: "a GONE one's may recur"; the new object is judged as itself."""
    program = (BASE, Terminate((CA,)), more(1), Query(4, T.TCP), Query(CA, T.TCP))
    outcome = judge(reuses_freed_contexts, program)
    assert [str(v) for r in outcome.reports for v in r.violations] == []
    queried = [r for r in outcome.reports if r.observation.operation == "query"]
    assert len(queried) == 1  # the query of the terminated #2 is not sent (H1)


def test_the_corrupt_hardware_sequence_on_a_terminate_is_conformant() -> None:
    outcome = judge(fails_terminates_loudly, (BASE, Terminate((CA,))))
    found_ = [
        str(v)
        for r in outcome.reports
        for v in r.violations
        if v.rule_id != "LIFE-HEALTHY-SUCCESS"  # the first FAILURE of a healthy target
    ]
    assert found_ == []
    assert found(outcome, "TRM-ABORTED-SENDS")[0] > 0  # the re-terminate was judged


def test_a_terminate_that_never_completes_is_life_complete_once() -> None:
    outcome = judge(hangs_on_terminate, (BASE, Terminate((CA,)), Query(CB, T.TCP)))
    hits, violations = found(outcome, "LIFE-COMPLETE-ONCE")
    assert hits
    assert violations
    assert outcome.reports[-1].observation.operation == "terminate"  # nothing after it


def test_send_data_aborted_without_an_abort_is_caught() -> None:
    hits, violations = found(
        judge(aborts_sends_without_abort, (BASE, Terminate((CA,)))), "TRM-SEND-DATA-ONCE"
    )
    assert hits
    assert any("without an ABORT first" in v for v in violations)


def test_every_query_type_of_a_connection_is_asked_in_generated_cases(
    pytester: pytest.Pytester,
) -> None:
    """A defect only in TCP_DELEGATED answers is found at any seed: the state machine's
    compound step queries one connection as each of its types."""
    for seed in ("3", "5"):
        result = pytester.runpytest_inprocess(
            "--offload-target=tests.broken_lifecycle:moves_snd_una_in_delegated_queries",
            "--offload-rules=LIFE-DELEGATED-SETTLED",
            f"--offload-seed={seed}",
            "-p",
            "no:cacheprovider",
        )
        assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
        result.stdout.fnmatch_lines(["LIFE-DELEGATED-SETTLED * MUST * FAILED *"])
