"""The lifecycle over the process protocol (1.3): requests, completions and events on the
wire, judged by the same rules as in-process.

The reference target served in every completion mode is conformant; broken lifecycle
targets served over the wire are caught with the IDs they are caught with in-process
(each chosen for what its defect puts on the wire: handed-back send data and buffered
NBLs, poisoned structures left unfilled, query and update structures, relinks, events, a
changed context slot); a process that dies or hangs in a terminate, sends a short image,
completes through the wrong notification or names a handle it never got gets the verdict
docs/protocol.md promises.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import msgspec
import pytest

from pytest_offload.harness.transports._messages import (
    EventNotification,
    RequestCompleteParams,
    TerminateRequest,
)
from tests.support import line_of

ROOT = Path(__file__).resolve().parents[1]
TAMPERING = ROOT / "tests" / "process_targets" / "tampering_serve.py"
SEED = "--offload-seed=20261201"
LIFECYCLE_RULES = "--offload-rules=LIFE-*,TRM-*,UPD-*,QRY-*,INV-*"


def serve(spec: str) -> str:
    return f"exec:{shlex.quote(sys.executable)} -m pytest_offload.cli serve {spec}"


def run(pytester: pytest.Pytester, target: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        f"--offload-target={target}", SEED, "-p", "no:cacheprovider", *args, timeout=600
    )


@pytest.fixture
def tests_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The served child imports ``tests.broken_lifecycle`` and ``reference_target``."""
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )


@pytest.mark.parametrize("mode", ["reference_thread", "reference_delayed"])
def test_the_served_reference_target_passes_every_lifecycle_rule_in_every_completion_mode(
    pytester: pytest.Pytester, tests_importable: None, mode: str
) -> None:
    result = run(
        pytester, serve(f"tests.broken_targets:{mode}"), "--offload-budget=quick", "-n", "2"
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    for rule_id in ("TRM-SEND-DATA-ONCE", "QRY-CONST-CACHED", "INV-INVALID-STATE-REASON"):
        assert "PASSED" in line_of(result, rule_id)
    result.stdout.fnmatch_lines(["offload verdict: CONFORMANT"])


#: Broken lifecycle targets served over the wire, one per kind of data it puts there.
OVER_THE_WIRE = [
    "TRM-SEND-DATA-ONCE",  # NBLs of the initiate handed back, by id, with statuses
    "TRM-BUFFERED-DATA",  # buffered receive data: NBLs of the target's own
    "LIFE-STATE-WRITTEN",  # a poisoned structure left unfilled: null in the image
    "QRY-CONST-CACHED",  # a query's single-part and combined structures
    "UPD-QUERY-SHOWS",  # an update's cached structure, then a query
    "UPD-RELINK",  # a path relinked to a new neighbor
    "INV-INVALID-STATE-REASON",  # tcp_offload_event notifications
    "LIFE-HOST-FIELDS-INTACT",  # a context slot cleared in a request's image
]


@pytest.mark.parametrize("rule_id", OVER_THE_WIRE)
def test_a_served_broken_lifecycle_target_is_caught_with_its_rule(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tests_importable: None,
    rule_id: str,
) -> None:
    monkeypatch.setenv("OFFLOAD_BROKEN_RULE", rule_id)
    result = run(
        pytester,
        serve("tests.process_targets.served_lifecycle"),
        f"--offload-rules={rule_id},WIRE-PROTOCOL",
        "--offload-budget=quick",
        "--offload-strict",  # a SHOULD rule's finding fails the run too
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    assert "FAILED" in line_of(result, rule_id), result.stdout.str()
    assert "PASSED" in line_of(result, "WIRE-PROTOCOL")  # the wire itself was right
    result.stdout.fnmatch_lines(["*Replay: pytest*serve tests.process_targets.served_lifecycle*"])


@pytest.mark.parametrize(
    ("mode", "rule_id", "quoted"),
    [
        ("crash-in-terminate", "LIFE-NO-RAISE", "*status 9*"),
        ("hang-in-terminate", "LIFE-COMPLETE-ONCE", "*"),
        ("short-terminate-image", "WIRE-PROTOCOL", "*the image's state has*"),
        ("terminate-completes-as-update", "LIFE-COMPLETE-ONCE", "*update_offload_complete*"),
        ("event-for-unknown-handle", "TRM-UPLOAD-TCP-ONLY", "*names no offloaded object*"),
        ("terminate-completed-with-a-block", "LIFE-COMPLETE-ONCE", "*PVOID 0x7f10*"),
        ("terminate-completed-twice", "LIFE-COMPLETE-ONCE", "*2 completions*"),
        ("long-invalidate-image", "WIRE-PROTOCOL", "*status has*entries*"),
    ],
)
def test_a_process_target_breaking_the_lifecycle_on_the_wire_gets_its_verdict(
    pytester: pytest.Pytester, tests_importable: None, mode: str, rule_id: str, quoted: str
) -> None:
    target = "exec:" + shlex.join([sys.executable, str(TAMPERING), mode])
    result = run(pytester, target, LIFECYCLE_RULES + ",WIRE-*", "--offload-budget=quick")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    failed = {
        line.split()[0] for line in result.outlines if " FAILED " in line and "-" in line[:6]
    }
    assert failed == {rule_id}, result.stdout.str()  # one defect, one finding
    result.stdout.fnmatch_lines([f"*{rule_id} (MUST)*{quoted}"])


def test_a_v1_process_target_is_not_asked_a_lifecycle_request(pytester: pytest.Pytester) -> None:
    """A program declaring initiate alone (any 1.x target) is certified for the INI rules;
    the lifecycle rules are not applicable to it."""
    example = ROOT / "examples" / "process_target" / "offload_sim.py"
    result = run(
        pytester,
        "exec:" + shlex.join([sys.executable, str(example)]),
        LIFECYCLE_RULES + ",INI-COMPLETE-ONCE",
        "--offload-budget=quick",
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "NOT APPLICABLE" in line_of(result, "TRM-SEND-DATA-ONCE")
    assert "PASSED" in line_of(result, "INI-COMPLETE-ONCE")


@pytest.mark.parametrize(
    ("operations", "error"),
    [
        (["initiate_offload", "teleport_offload"], "*declares operations*teleport_offload*"),
        (["terminate_offload"], '*without "initiate_offload"*'),
        (["initiate_offload", "query_offload"], "*TERMINATE*"),
    ],
)
def test_a_handshake_declaring_bad_operations_is_a_usage_error(
    pytester: pytest.Pytester, operations: list[str], error: str
) -> None:
    program = pytester.makepyfile(
        sim=f"""
        import json, sys
        for line in sys.stdin:
            request = json.loads(line)
            result = {{"protocol": "1.3", "name": "sim", "version": "1",
                      "capabilities": {{"tcp_connection_offload_capacity": 4}},
                      "operations": {json.dumps(operations)}}}
            print(json.dumps({{"jsonrpc": "2.0", "id": request["id"], "result": result}}),
                  flush=True)
        """
    )
    result = run(pytester, "exec:" + shlex.join([sys.executable, str(program)]))
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([error])


def test_an_operation_of_a_later_minor_version_is_ignored(pytester: pytest.Pytester) -> None:
    program = pytester.makepyfile(
        sim="""
        import json, sys
        for line in sys.stdin:
            request = json.loads(line)
            if request["method"] != "handshake":
                print(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": None}),
                      flush=True)
                continue
            result = {"protocol": "1.9", "name": "sim", "version": "1",
                      "capabilities": {"tcp_connection_offload_capacity": 4},
                      "operations": ["initiate_offload", "migrate_offload"]}
            print(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}),
                  flush=True)
        """
    )
    result = run(
        pytester,
        "exec:" + shlex.join([sys.executable, str(program)]),
        "--offload-rules=TRM-SEND-DATA-ONCE",
    )
    assert result.ret != pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    assert "NOT APPLICABLE" in line_of(result, "TRM-SEND-DATA-ONCE")


def test_the_lifecycle_messages_are_in_the_schema() -> None:
    schema = json.loads((ROOT / "docs" / "protocol.schema.json").read_text(encoding="utf-8"))
    for name in ("TerminateRequest", "QueryCompleteNotification", "EventNotification"):
        assert name in schema["$defs"]
    # Strict: a completion's image must be one, an event's handle a pointer string.
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"request":1,"image":{}}', type=RequestCompleteParams)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(
            b'{"jsonrpc":"2.0","method":"tcp_offload_event","params":{'
            b'"ndis_offload_handle":12,"event_type":3,"event_specific_information":10}}',
            type=EventNotification,
        )
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(
            b'{"jsonrpc":"2.0","id":1,"method":"initiate_offload","params":{}}',
            type=TerminateRequest,
        )
