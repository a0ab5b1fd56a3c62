"""The lifecycle over the native transport: the C example's terminate, update,
invalidate and query judged by every rule, and the same code broken one way per build
(tests/native_targets/broken_lifecycle.c) caught with each defect's rule ID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support import line_of
from tests.test_native import BROKEN, EXAMPLE, GCC, ROOT, build, children_of, run, verdicts

if TYPE_CHECKING:
    from pathlib import Path

LIFECYCLE_RULES = "LIFE-*,TRM-*,UPD-*,QRY-*,INV-*"
BROKEN_LIFECYCLE = ROOT / "tests" / "native_targets" / "broken_lifecycle.c"
pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed (.ci/run installs it)")

#: BREAK value of broken_lifecycle.c -> (name, the rule it breaks, text the finding quotes).
BROKEN_BUILDS = {
    1: ("unfilled", "LIFE-STATE-WRITTEN", "1 field(s) never written: cwnd"),
    2: ("terminate-twice", "LIFE-COMPLETE-ONCE", "terminate"),
    3: ("late-write", "LIFE-HOST-FIELDS-INTACT", "status written after the completion"),
    4: ("unsettled", "LIFE-DELEGATED-SETTLED", "rcv_nxt"),
    5: ("query-port", "QRY-CONST-CACHED", "remote_port"),
    6: ("event-after", "TRM-NO-EVENT-AFTER", "event type 3 entered"),
    7: ("sends-success", "TRM-SEND-DATA-ONCE", "SUCCESS"),
    8: ("capacity-kept", "LIFE-CAPACITY-FREED", "TCP_ENTRIES"),
    9: ("segfault", "LIFE-NO-RAISE", "SIGSEGV"),
    10: ("port-number", "LIFE-HOST-FIELDS-INTACT", "NDIS_MINIPORT_OFFLOAD_BLOCK_LIST.PortNumber"),
    11: ("wrong-completion", "LIFE-COMPLETE-ONCE", "update_offload_complete"),
    12: ("garbage-ends", "TRM-SEND-DATA-ONCE", "send_data_head and send_data_tail set with no"),
}
#: BREAK value of broken_lifecycle.c -> (name, rules): conformant ways a review found
#: judged wrongly (a burst of events dropped a completion; NBL statuses written before a
#: terminate's completion were seen after it; a relinked NBL was a write after the
#: initiate's completion).
VARIANTS = {
    13: ("event-burst", LIFECYCLE_RULES),
    14: ("upload-status", "LIFE-HOST-FIELDS-INTACT,TRM-SEND-DATA-ONCE"),
    15: (
        "partial-upload",
        "INI-NO-TOUCH-AFTER-COMPLETE,TRM-SEND-DATA-ONCE,LIFE-HOST-FIELDS-INTACT",
    ),
}


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every library these tests run, built once."""
    where = tmp_path_factory.mktemp("native-lifecycle")
    built = {
        "example": build(EXAMPLE, where / "liboffload_target.so"),
        "example-worker": build(
            EXAMPLE, where / "liboffload_worker.so", "-DOFFLOAD_COMPLETE_ON_WORKER"
        ),
        "v1": build(EXAMPLE, where / "liboffload_v1.so", "-DOFFLOAD_INITIATE_ONLY"),
        "no-terminate": build(BROKEN, where / "libno_terminate.so", "-DBREAK=16"),
    }
    for value, (name, _, _) in BROKEN_BUILDS.items():
        built[name] = build(BROKEN_LIFECYCLE, where / f"lib{name}.so", f"-DBREAK={value}")
    for value, (name, _) in VARIANTS.items():
        built[name] = build(BROKEN_LIFECYCLE, where / f"lib{name}.so", f"-DBREAK={value}")
    return built


def test_the_c_example_passes_every_lifecycle_rule(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    result = run(pytester, libraries["example"], f"--offload-rules={LIFECYCLE_RULES}")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    # Every rule exercised but the two only the target's own FAILURE or ABORT opens.
    result.stdout.fnmatch_lines(
        ["22 rules (16 MUST) of 54: 2 not triggered, 20 passed", "offload verdict: CONFORMANT"]
    )
    assert children_of(libraries["example"]) == []


def test_the_c_example_completing_from_its_own_threads_is_conformant_under_xdist(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    serial = run(
        pytester,
        libraries["example-worker"],
        "--offload-budget=quick",
        f"--offload-rules={LIFECYCLE_RULES}",
        "--offload-report=a",
    )
    parallel = run(
        pytester,
        libraries["example-worker"],
        "--offload-budget=quick",
        f"--offload-rules={LIFECYCLE_RULES}",
        "-n",
        "2",
        "--offload-report=b",
    )
    assert serial.ret == parallel.ret == pytest.ExitCode.OK, parallel.stdout.str()
    parallel.stdout.fnmatch_lines(["offload verdict: CONFORMANT"])
    assert verdicts(pytester.path / "a" / "certificate.json") == verdicts(
        pytester.path / "b" / "certificate.json"
    )
    assert children_of(libraries["example-worker"]) == []


@pytest.mark.parametrize("seed", ["1", "3"])
def test_a_c_target_reusing_freed_memory_as_contexts_is_not_charged_for_it(
    pytester: pytest.Pytester, libraries: dict[str, Path], seed: str
) -> None:
    # The example's contexts are its objects' addresses: after a terminate, malloc may
    # hand the same address to the next object. A robustness case naming the terminated
    # object must not then name the new one (lifecycle.md: "not reissued"); at these
    # seeds it did, and LIFE-ROBUST-FAILURE charged the target.
    result = run(
        pytester,
        libraries["example"],
        "--offload-budget=quick",
        "--offload-rules=LIFE-ROBUST-FAILURE",
        "--offload-strict",
        seed=seed,
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "PASSED" in line_of(result, "LIFE-ROBUST-FAILURE")


def test_a_v1_c_target_registering_initiate_alone_certifies_for_the_ini_rules(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    result = run(pytester, libraries["v1"], "--offload-budget=quick")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["54 rules (41 MUST) of 54: 23 not applicable, 31 passed", "offload verdict: CONFORMANT"]
    )
    assert "NOT APPLICABLE" in line_of(result, "TRM-SEND-DATA-ONCE")


def test_lifecycle_handlers_without_a_terminate_handler_are_a_usage_error(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    result = run(pytester, libraries["no-terminate"], "--offload-budget=quick")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines(["*without a TerminateOffloadHandler*"])


@pytest.mark.parametrize("value", list(BROKEN_BUILDS), ids=[v[0] for v in BROKEN_BUILDS.values()])
def test_each_broken_lifecycle_in_c_is_caught_with_its_rule(
    pytester: pytest.Pytester, libraries: dict[str, Path], value: int
) -> None:
    name, rule_id, quoted = BROKEN_BUILDS[value]
    result = run(
        pytester,
        libraries[name],
        f"--offload-rules={rule_id}",
        "--offload-budget=quick",
        "--offload-strict",
    )
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert "FAILED" in line_of(result, rule_id)
    assert quoted in output
    assert "Traceback" not in output
    assert "Replay: pytest --offload-target=native:" in output
    assert children_of(libraries[name]) == []


@pytest.mark.parametrize("value", list(VARIANTS), ids=[v[0] for v in VARIANTS.values()])
@pytest.mark.parametrize("seed", ["1", "2"])
def test_each_conformant_variant_in_c_passes(
    pytester: pytest.Pytester, libraries: dict[str, Path], value: int, seed: str
) -> None:
    name, rules = VARIANTS[value]
    result = run(
        pytester,
        libraries[name],
        "--offload-budget=quick",
        f"--offload-rules={rules}",
        seed=seed,
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["offload verdict: CONFORMANT"])
