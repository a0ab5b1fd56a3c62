"""The process transport end to end: served and stand-alone targets, broken ones, no leaks.

Every run here starts real child processes through ``--offload-target=exec:...``: the
reference target served over the protocol, the stand-alone example, and the example broken
one way per mode (tests/process_targets/broken_sim.py).
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_offload.catalogue import LIFECYCLE_ORDER, SPEC_ORDER
from tests.support import line_of

if TYPE_CHECKING:
    from collections.abc import Sequence

ROOT = Path(__file__).resolve().parents[1]
BROKEN_SIM = ROOT / "tests" / "process_targets" / "broken_sim.py"
EXAMPLE = ROOT / "examples" / "process_target" / "offload_sim.py"
SEED = "--offload-seed=20261201"
SERVED = f"exec:{shlex.quote(sys.executable)} -m pytest_offload.cli serve reference_target"


def program(path: Path, *args: str) -> str:
    return "exec:" + shlex.join([sys.executable, str(path), *args])


def run(
    pytester: pytest.Pytester, target: str, *args: str, pids: Path | None = None
) -> pytest.RunResult:
    if pids is not None:
        os.environ["BROKEN_SIM_PIDS"] = str(pids)
    try:
        return pytester.runpytest_subprocess(
            f"--offload-target={target}", SEED, "-p", "no:cacheprovider", *args, timeout=600
        )
    finally:
        os.environ.pop("BROKEN_SIM_PIDS", None)


def verdicts(certificate: Path) -> dict[str, tuple[str, int, int]]:
    data = json.loads(certificate.read_text(encoding="utf-8"))
    return {r["id"]: (r["verdict"], r["hits"], r["cases"]) for r in data["rules"]}


def alive(pids: Sequence[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        # A zombie whose parent has not reaped it yet is not running.
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z":
            out.append(pid)
    return out


def started(pids: Path) -> list[int]:
    if not pids.exists():
        return []
    return [int(x) for x in pids.read_text().split()]


# -- conformant targets over the wire -----------------------------------------------------


def test_served_reference_target_gives_the_in_process_verdicts_and_hit_counts(
    pytester: pytest.Pytester,
) -> None:
    # Every rule but WIRE-PROTOCOL, which has no opportunity in-process (and whose own
    # cases would add to every count): the lifecycle rules too, over protocol 1.3.
    rules = "--offload-rules=INI-*,LIFE-*,TRM-*,UPD-*,QRY-*,INV-*"
    inproc = run(pytester, "reference_target", rules, "--offload-report=inproc")
    served = run(pytester, SERVED, rules, "--offload-report=served")
    assert inproc.ret == served.ret == pytest.ExitCode.OK, served.stdout.str()
    first = verdicts(pytester.path / "inproc" / "certificate.json")
    second = verdicts(pytester.path / "served" / "certificate.json")
    assert first == second
    assert len(first) == len(SPEC_ORDER) - 1
    assert all(
        first[rule_id][1] > 0
        for rule_id in LIFECYCLE_ORDER
        if rule_id
        not in (
            "LIFE-FAILURE-SEQUENCE",
            "TRM-ABORTED-SENDS",  # target-triggered: never by it
        )
    )


def test_served_reference_target_passes_the_wire_rule(pytester: pytest.Pytester) -> None:
    result = run(pytester, SERVED, "--offload-budget=quick")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "PASSED" in line_of(result, "WIRE-PROTOCOL")
    result.stdout.fnmatch_lines(["offload verdict: CONFORMANT"])


def test_the_stand_alone_example_passes_every_rule(pytester: pytest.Pytester) -> None:
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported  # stdlib only
    result = run(pytester, program(EXAMPLE))
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["54 rules (41 MUST) of 54: 23 not applicable, 31 passed", "offload verdict: CONFORMANT"]
    )


def test_xdist_gives_the_serial_verdicts_for_a_process_target(pytester: pytest.Pytester) -> None:
    serial = run(pytester, program(EXAMPLE), "--offload-budget=quick", "--offload-report=a")
    parallel = run(
        pytester, program(EXAMPLE), "--offload-budget=quick", "-n", "2", "--offload-report=b"
    )
    assert serial.ret == parallel.ret == pytest.ExitCode.OK
    assert verdicts(pytester.path / "a" / "certificate.json") == verdicts(
        pytester.path / "b" / "certificate.json"
    )


# -- broken targets over the wire ---------------------------------------------------------

#: mode of broken_sim.py -> (rule it breaks, text the finding must quote).
BROKEN_MODES = {
    "crash": ("INI-NO-RAISE", "killed by signal 11 (SIGSEGV)"),
    "hang": ("INI-COMPLETE-ONCE", "no completion within"),
    "invalid-json": ("WIRE-PROTOCOL", "invalid JSON"),
    "schema": ("WIRE-PROTOCOL", "Expected `int`, got `str`"),
    "noise": ("WIRE-PROTOCOL", "debug: offloading"),
    "wrong-initiate": ("WIRE-PROTOCOL", "which was never handed over"),
    "out-of-range": ("WIRE-PROTOCOL", "block position 9999 is out of range"),
    "oversized": ("WIRE-PROTOCOL", "over the size limit"),
    "unknown-method": ("WIRE-PROTOCOL", "unknown method 'hello'"),
    "banner": ("WIRE-PROTOCOL", "offload_sim 1.0 starting"),
    "twice": ("INI-COMPLETE-ONCE", "2 completions"),
    "noise-after-reset": ("WIRE-PROTOCOL", "'ready'"),
    "closeout": ("INI-NO-RAISE", "closed its stdout while still running"),
}


@pytest.mark.parametrize("mode", list(BROKEN_MODES))
def test_each_broken_process_target_gets_its_verdict_and_leaves_no_child(
    pytester: pytest.Pytester, mode: str, tmp_path: Path
) -> None:
    rule_id, quoted = BROKEN_MODES[mode]
    pids = tmp_path / "pids"
    result = run(
        pytester,
        program(BROKEN_SIM, mode),
        f"--offload-rules={rule_id}",
        "--offload-budget=quick",
        "--offload-timeout=0.5",
        pids=pids,
    )
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert "FAILED" in line_of(result, rule_id)
    assert quoted in output
    assert "nondeterministic" not in output  # a deterministic defect replays
    assert "Traceback" not in output
    assert started(pids), "the target program never ran"
    assert alive(started(pids)) == []


def test_garbage_on_the_wire_is_one_finding_not_a_hang_too(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        program(BROKEN_SIM, "invalid-json"),
        "--offload-rules=INI-COMPLETE-ONCE,INI-NO-RAISE,WIRE-PROTOCOL",
        "--offload-budget=quick",
    )
    assert "FAILED" in line_of(result, "WIRE-PROTOCOL")
    assert "PASSED" in line_of(result, "INI-COMPLETE-ONCE")
    assert "PASSED" in line_of(result, "INI-NO-RAISE")


@pytest.mark.parametrize("mode", ["schema", "out-of-range"])
def test_a_garbled_answer_to_a_robustness_case_is_one_finding(
    pytester: pytest.Pytester, mode: str
) -> None:
    # The initiates in flight are judged by WIRE-PROTOCOL alone (docs/protocol.md,
    # Isolation): the robustness rules see a rejected answer, not a hang of theirs.
    result = run(
        pytester,
        program(BROKEN_SIM, mode),
        "--offload-rules=WIRE-PROTOCOL,INI-MALFORMED-TREE,INI-UNKNOWN-LINKER",
        "--offload-budget=quick",
    )
    assert "FAILED" in line_of(result, "WIRE-PROTOCOL")
    malformed = line_of(result, "INI-MALFORMED-TREE")
    assert "PASSED" in malformed, malformed  # exercised: the quick budget draws such trees
    unknown = line_of(result, "INI-UNKNOWN-LINKER")  # exercised only once a linker is held
    assert "NON-STRICT" not in unknown, unknown
    assert "FAILED" not in unknown, unknown


def test_the_replay_command_of_a_process_finding_replays_it(pytester: pytest.Pytester) -> None:
    target = program(BROKEN_SIM, "noise")
    first = run(pytester, target, "--offload-rules=WIRE-PROTOCOL", "--offload-budget=quick")
    (replay,) = [
        line.split("Replay: ", 1)[1]
        for line in first.outlines
        if "Replay: " in line and "WIRE-PROTOCOL" in line
    ][:1]
    argv = shlex.split(replay)
    assert argv[0] == "pytest"
    again = pytester.runpytest_subprocess(*argv[1:], "-p", "no:cacheprovider", timeout=300)
    assert "FAILED" in line_of(again, "WIRE-PROTOCOL")


# -- usage errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("exec:./no-such-sim", "cannot start the target program './no-such-sim'"),
        ("exec:no-such-sim-on-path", "is not on PATH"),
        ('exec:"unbalanced', "cannot parse the command"),
        ("exec:", "names no program"),
        (program(BROKEN_SIM, "exit-in-handshake"), "firmware image not found"),
        (program(BROKEN_SIM, "refuse"), "refused the handshake: busy"),
        (program(BROKEN_SIM, "old-protocol"), "speaks protocol '2.0'"),
        (program(BROKEN_SIM, "bad-capabilities"), "Expected `bool`, got `str`"),
    ],
)
def test_a_program_that_cannot_serve_is_a_usage_error(
    pytester: pytest.Pytester, target: str, message: str
) -> None:
    result = run(pytester, target)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_a_program_that_is_not_executable_is_a_usage_error(pytester: pytest.Pytester) -> None:
    script = pytester.path / "sim.sh"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o644)
    result = run(pytester, "exec:./sim.sh")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Permission denied" in result.stderr.str()


def test_the_target_is_selected_from_the_ini_file_and_the_environment(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(f"[pytest]\noffload_target = {program(EXAMPLE)}\n")
    result = pytester.runpytest_subprocess(
        "--offload-rules=WIRE-PROTOCOL", "--offload-budget=quick", "-p", "no:cacheprovider"
    )
    assert "PASSED" in line_of(result, "WIRE-PROTOCOL")
    pytester.makeini("[pytest]\n")
    os.environ["PYTEST_OFFLOAD_TARGET"] = program(EXAMPLE)
    try:
        result = pytester.runpytest_subprocess(
            "--offload-rules=WIRE-PROTOCOL", "--offload-budget=quick", "-p", "no:cacheprovider"
        )
    finally:
        del os.environ["PYTEST_OFFLOAD_TARGET"]
    assert "PASSED" in line_of(result, "WIRE-PROTOCOL")


# -- no child survives ---------------------------------------------------------------------


def test_no_child_survives_a_run_under_xdist(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    result = run(
        pytester,
        program(BROKEN_SIM, "hang"),
        "--offload-rules=INI-COMPLETE-ONCE,INI-NO-RAISE",
        "--offload-budget=quick",
        "--offload-timeout=0.3",
        "-n",
        "2",
        pids=pids,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert len(started(pids)) >= 3  # the controller's probe and both workers' children
    assert alive(started(pids)) == []


def test_no_child_survives_ctrl_c(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    env = dict(os.environ, BROKEN_SIM_PIDS=str(pids))
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--offload-target={program(BROKEN_SIM, 'hang')}",
        "--offload-rules=INI-COMPLETE-ONCE",
        "--offload-timeout=30",
        "-p",
        "no:cacheprovider",
    ]
    suite = subprocess.Popen(
        command, cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while len(started(pids)) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2.0)  # into the first hang
        assert alive(started(pids)), "the target program is not running"
        suite.send_signal(signal.SIGINT)
        try:
            suite.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # One CI run (session 7) saw a first Ctrl-C not end the run within 60 s; the
            # likely cause, shutdown waiting behind a stuck write, is fixed and tested in
            # test_child.py. Should it recur, press it again, as a user would.
            suite.send_signal(signal.SIGINT)
            suite.communicate(timeout=30)
    finally:
        if suite.poll() is None:
            suite.kill()
            suite.communicate()  # reaped here, not by a later test's garbage collection
    assert suite.returncode == pytest.ExitCode.INTERRUPTED
    assert alive(started(pids)) == []


# -- a served Python target is judged as it is in-process -----------------------------------

MUTATING = """
import copy
import os

import reference_target
from pytest_offload import OffloadOperation


class Mutating:
    def __init__(self, host):
        # An initiate-only wrapper: it declares initiate alone (its only method).
        self.inner = reference_target.create_target(
            host, operations=frozenset({OffloadOperation.INITIATE})
        )
        self.capabilities = self.inner.capabilities
        self.host = host

    def initiate_offload(self, root):
        blocks, stack = [], [root]
        while stack:
            block = stack.pop()
            blocks.append(block)
            stack += [b for b in (block.next_block, block.dependent_block_list) if b]
        mode = os.environ["MUTATE"]
        for block in blocks:
            if mode == "chain" and block.net_buffer_list_chain:
                block.net_buffer_list_chain = None
            if mode == "state" and block.state is not None:
                block.state = copy.deepcopy(block.state)
        self.inner.initiate_offload(root)


def create_target(host):
    return Mutating(host)
"""


@pytest.mark.parametrize("mode", ["chain", "state"])
def test_a_served_target_that_changes_a_host_field_is_judged_as_in_process(
    pytester: pytest.Pytester, mode: str
) -> None:
    pytester.makepyfile(mutating=MUTATING)
    os.environ["MUTATE"] = mode
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(pytester.path), os.environ.get("PYTHONPATH", "")]
    )
    try:
        served_target = f"exec:{shlex.quote(sys.executable)} -m pytest_offload.cli serve mutating"
        results = [
            run(pytester, target, "--offload-budget=quick", "--offload-rules=INI-HOST*,WIRE*")
            for target in ("mutating", served_target)
        ]
    finally:
        del os.environ["MUTATE"]
        os.environ["PYTHONPATH"] = os.environ["PYTHONPATH"].split(os.pathsep, 1)[1]
        if not os.environ["PYTHONPATH"]:
            del os.environ["PYTHONPATH"]
    for result in results:
        assert "FAILED" in line_of(result, "INI-HOST-FIELDS-INTACT"), result.stdout.str()
    assert "PASSED" in line_of(results[1], "WIRE-PROTOCOL")
