"""The native transport end to end: C libraries built with gcc, run through
``--offload-target=native:...`` in child processes.

The C example (examples/c_target) must be CONFORMANT, completing inside the handler and
from a thread of its own; the same code broken one way per build
(tests/native_targets/broken_target.c) must be caught with each defect's rule; a library
that cannot serve is a usage error saying why; no child outlives a run.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_offload.harness.transports.native import include_dir
from pytest_offload.harness.transports.native._library import (
    LAYOUT_TAG,
    _Limits,
    _TcpConnectionOffload,
)
from tests.support import line_of

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "c_target" / "offload_target.c"
BROKEN = ROOT / "tests" / "native_targets" / "broken_target.c"
SEED = "--offload-seed=20261201"
GCC = shutil.which("gcc")
pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is not installed (.ci/run installs it)")

#: BREAK value of broken_target.c -> (name, the rule it breaks, text the finding quotes).
BROKEN_BUILDS = {
    1: ("partial-on-leaf", "INI-PARTIAL-NEEDS-FAILED-DEPENDENT", "on a block without dependents"),
    2: ("write-past-end", "INI-HOST-FIELDS-INTACT", "guard bytes after the block"),
    3: ("segfault-on-ipv6", "INI-NO-RAISE", "killed by signal 11 (SIGSEGV)"),
    4: ("second-completion-from-a-thread", "INI-COMPLETE-ONCE", "2 completions"),
    5: ("null-context-on-success", "INI-CONTEXT-ON-SUCCESS", "tcp"),
    6: ("context-reused", "INI-CONTEXT-UNIQUE", "tcp"),
    7: ("abort", "INI-NO-RAISE", "killed by signal 6 (SIGABRT)"),
    8: ("hang", "INI-COMPLETE-ONCE", "no completion within"),
    9: ("late-write", "INI-NO-TOUCH-AFTER-COMPLETE", "written after the completion"),
    10: ("port-number", "INI-HOST-FIELDS-INTACT", "NDIS_MINIPORT_OFFLOAD_BLOCK_LIST.PortNumber"),
    11: ("state-write", "INI-HOST-FIELDS-INTACT", "TCP_OFFLOAD_STATE_DELEGATED.SndNxt"),
    13: ("complete-non-root", "INI-COMPLETE-ROOT", "(block 1 of the tree in hand-over order"),
    14: ("complete-stray", "INI-COMPLETE-ROOT", "no tree handed over lies there"),
    15: ("late-nbl-status", "INI-SEND-DATA-KEPT-ON-FAILURE", "FAILURE"),
}


def build(source: Path, out: Path, *flags: str, includes: bool = True) -> Path:
    assert GCC is not None
    command = [GCC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-fPIC", "-shared"]
    command += ["-mms-bitfields", *flags]
    if includes:
        command.append(f"-I{include_dir()}")
    command += [str(source), "-o", str(out), "-lpthread"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every library these tests run, built once."""
    where = tmp_path_factory.mktemp("native")
    built = {
        "example": build(EXAMPLE, where / "liboffload_target.so"),
        "example-worker": build(
            EXAMPLE, where / "liboffload_worker.so", "-DOFFLOAD_COMPLETE_ON_WORKER"
        ),
        "stdout": build(BROKEN, where / "libstdout.so", "-DBREAK=12"),
    }
    for value, (name, _, _) in BROKEN_BUILDS.items():
        built[name] = build(BROKEN, where / f"lib{name}.so", f"-DBREAK={value}")
    built["late-write-slow"] = build(
        BROKEN, where / "liblate-slow.so", "-DBREAK=9", "-DLATE_MS=400"
    )
    return built


def run(
    pytester: pytest.Pytester, library: Path | str, *args: str, seed: str | None = None
) -> pytest.RunResult:
    """The suite against ``library`` in a subprocess (``seed``: another than SEED)."""
    chosen = SEED if seed is None else f"--offload-seed={seed}"
    return pytester.runpytest_subprocess(
        f"--offload-target=native:{library}", chosen, "-p", "no:cacheprovider", *args,
        timeout=600,
    )  # fmt: skip


def children_of(library: Path) -> list[int]:
    """Running processes whose command line names ``library`` (native target children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(library).encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


def verdicts(certificate: Path) -> dict[str, tuple[str, int, int]]:
    data = json.loads(certificate.read_text(encoding="utf-8"))
    return {r["id"]: (r["verdict"], r["hits"], r["cases"]) for r in data["rules"]}


# -- the example ------------------------------------------------------------------------


def test_the_c_example_is_conformant_at_the_default_budget(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    result = run(pytester, libraries["example"])
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "54 rules (41 MUST) of 54: 1 not applicable, 2 not triggered, 51 passed",
            "offload verdict: CONFORMANT",
        ]
    )
    assert children_of(libraries["example"]) == []


def test_the_c_example_completing_from_its_own_thread_is_conformant(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    result = run(pytester, libraries["example-worker"], "--offload-budget=quick")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["offload verdict: CONFORMANT"])


def test_printf_on_stdout_in_vendor_code_does_not_break_the_protocol(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    # The child keeps the protocol on a descriptor of its own: C's stdout is stderr.
    result = run(pytester, libraries["stdout"], "--offload-budget=quick")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "PASSED" in line_of(result, "WIRE-PROTOCOL")


def test_xdist_gives_the_serial_verdicts_for_a_native_target(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    serial = run(pytester, libraries["example"], "--offload-budget=quick", "--offload-report=a")
    parallel = run(
        pytester,
        libraries["example"],
        "--offload-budget=quick",
        "-n",
        "2",
        "--offload-report=b",
    )
    assert serial.ret == parallel.ret == pytest.ExitCode.OK
    assert verdicts(pytester.path / "a" / "certificate.json") == verdicts(
        pytester.path / "b" / "certificate.json"
    )
    assert children_of(libraries["example"]) == []


# -- broken builds ------------------------------------------------------------------------


@pytest.mark.parametrize("value", list(BROKEN_BUILDS), ids=[v[0] for v in BROKEN_BUILDS.values()])
def test_each_broken_c_target_is_caught_with_its_rule(
    pytester: pytest.Pytester, libraries: dict[str, Path], value: int
) -> None:
    name, rule_id, quoted = BROKEN_BUILDS[value]
    result = run(
        pytester,
        libraries[name],
        f"--offload-rules={rule_id}",
        "--offload-budget=quick",
        "--offload-timeout=0.5",
    )
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert "FAILED" in line_of(result, rule_id)
    assert quoted in output
    assert "nondeterministic" not in output
    assert "Traceback" not in output
    assert "Replay: pytest --offload-target=native:" in output
    assert children_of(libraries[name]) == []


def test_a_write_long_after_the_completion_is_one_finding_and_harms_no_later_case(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    # The tree's memory outlives its case, so a write 400 ms late (many cases later)
    # lands in memory of the harness's: a late write, not a crash or garbage elsewhere.
    result = run(
        pytester,
        libraries["late-write-slow"],
        "--offload-rules=INI-NO-TOUCH-AFTER-COMPLETE,INI-NO-RAISE,INI-COMPLETE-ONCE,WIRE-PROTOCOL",
        "--offload-budget=quick",
    )
    assert "FAILED" in line_of(result, "INI-NO-TOUCH-AFTER-COMPLETE")
    for rule_id in ("INI-NO-RAISE", "INI-COMPLETE-ONCE", "WIRE-PROTOCOL"):
        assert "PASSED" in line_of(result, rule_id), result.stdout.str()


def test_the_replay_command_of_a_native_finding_replays_it(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    first = run(
        pytester,
        libraries["state-write"],
        "--offload-rules=INI-HOST-FIELDS-INTACT",
        "--offload-budget=quick",
    )
    (replay,) = [
        line.split("Replay: ", 1)[1]
        for line in first.outlines
        if "Replay: " in line and "INI-HOST-FIELDS-INTACT" in line
    ][:1]
    argv = shlex.split(replay)
    again = pytester.runpytest_subprocess(*argv[1:], "-p", "no:cacheprovider", timeout=300)
    assert "FAILED" in line_of(again, "INI-HOST-FIELDS-INTACT")
    assert "TCP_OFFLOAD_STATE_DELEGATED.SndNxt" in again.stdout.str()


def test_a_crash_quotes_the_signal_and_draws_the_tree(
    pytester: pytest.Pytester, libraries: dict[str, Path]
) -> None:
    result = run(
        pytester,
        libraries["segfault-on-ipv6"],
        "--offload-rules=INI-NO-RAISE",
        "--offload-budget=quick",
    )
    output = result.stdout.str()
    assert "SIGSEGV" in output
    assert "IP6" in output  # the minimal tree holds the IPv6 path it crashed on
    # The C stack, from the harness's handler: the frame of the broken code included.
    assert "segfaulted (SIGSEGV); C stack" in output
    assert "libsegfault-on-ipv6.so(" in output


# -- usage errors -------------------------------------------------------------------------

NO_ENTRY_POINTS = """
#include <offload_harness.h>
int unrelated(void) { return 1; }
"""
NO_TAG = """
#include <ndischimney.h>
struct _OFFLOAD_HARNESS_LIMITS;
NDIS_STATUS OffloadHarnessSetOptions(NDIS_HANDLE h) { (void)h; return 0; }
NDIS_STATUS OffloadHarnessInitialize(NDIS_HANDLE h, PNDIS_HANDLE c,
    PNDIS_TCP_CONNECTION_OFFLOAD o, struct _OFFLOAD_HARNESS_LIMITS *l)
{ (void)h; (void)c; (void)o; (void)l; return 0; }
VOID OffloadHarnessHalt(NDIS_HANDLE c) { (void)c; }
"""
WRONG_TAG = NO_TAG + "const ULONG OffloadHarnessLayoutTag = 0x272C9880u; /* TTL at 0x27 */\n"
NO_REGISTRATION = NO_TAG.replace("#include <ndischimney.h>", "#include <offload_harness.h>")
REFUSES = """
#include <offload_harness.h>
static VOID Initiate(NDIS_HANDLE a, PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST l) { (void)a; (void)l; }
NDIS_STATUS OffloadHarnessSetOptions(NDIS_HANDLE h) {
    static NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS c;
    c.Header.Type = NDIS_OBJECT_TYPE_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS;
    c.InitiateOffloadHandler = Initiate;
    return NdisSetOptionalHandlers(h, (PNDIS_DRIVER_OPTIONAL_HANDLERS)&c);
}
NDIS_STATUS OffloadHarnessInitialize(NDIS_HANDLE h, PNDIS_HANDLE c,
    PNDIS_TCP_CONNECTION_OFFLOAD o, POFFLOAD_HARNESS_LIMITS l)
{ (void)h; (void)c; (void)o; (void)l; return NDIS_STATUS_RESOURCES; }
VOID OffloadHarnessHalt(NDIS_HANDLE c) { (void)c; }
"""
UNRESOLVED = NO_TAG.replace(
    "#include <ndischimney.h>", "#include <offload_harness.h>\nvoid NdisMNoSuchCall(void);"
).replace("{ (void)h; return 0; }", "{ (void)h; NdisMNoSuchCall(); return 0; }")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "does not exist"),
        ("not a library", "cannot load"),
        (NO_ENTRY_POINTS, "does not export OffloadHarnessSetOptions, OffloadHarnessInitialize"),
        (NO_TAG, "was not built against pytest-offload's headers"),
        (WRONG_TAG, "TtlOrHopLimit at 0x27"),
        (NO_REGISTRATION, "did not register its handlers"),
        (REFUSES, "OffloadHarnessInitialize of"),
        (UNRESOLVED, "NdisMNoSuchCall"),
    ],
    ids=[
        "missing",
        "not-a-library",
        "no-entry-points",
        "no-layout-tag",
        "wrong-layout",
        "no-registration",
        "refuses",
        "unresolved",
    ],
)
def test_a_library_that_cannot_serve_is_a_usage_error_saying_why(
    pytester: pytest.Pytester, tmp_path: Path, source: str | None, message: str
) -> None:
    library = tmp_path / "libvendor.so"
    if source == "not a library":
        library.write_text("not an ELF file\n", encoding="utf-8")
    elif source is not None:
        c_file = tmp_path / "vendor.c"
        c_file.write_text(source, encoding="utf-8")
        flags = ["-Wno-unused-parameter"]
        if source is UNRESOLVED:
            flags.append("-Wl,--allow-shlib-undefined")
        build(c_file, library, *flags)
    result = run(pytester, library)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    error = result.stderr.str()
    assert message in error, error
    assert "Traceback" not in error
    assert children_of(library) == []


# -- the Python side of the harness's own structures ----------------------------------------


def test_the_harness_structures_match_what_gcc_lays_out(tmp_path: Path) -> None:
    fields = {
        "OFFLOAD_HARNESS_LIMITS": (_Limits, [name for name, *_ in _Limits._fields_]),
    }
    lines = ["#include <stdio.h>", "#include <offload_harness.h>", "int main(void) {"]
    lines.append('printf("tag %u\\n", (unsigned)OFFLOAD_HARNESS_LAYOUT_TAG);')
    lines.append('printf("offload %zu\\n", sizeof(NDIS_TCP_CONNECTION_OFFLOAD));')
    lines.append(
        'printf("capacity %zu\\n", offsetof(NDIS_TCP_CONNECTION_OFFLOAD, '
        "TcpConnectionOffloadCapacity));"
    )
    for structure, (_, names) in fields.items():
        lines.append(f'printf("{structure} sizeof %zu\\n", sizeof({structure}));')
        for name in names:
            if name in ("Type", "Revision", "Size"):
                continue
            lines.append(f'printf("{structure} {name} %zu\\n", offsetof({structure}, {name}));')
    lines += ["return 0;", "}"]
    program = tmp_path / "p.c"
    program.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert GCC is not None
    subprocess.run(
        [GCC, "-std=c11", "-mms-bitfields", f"-I{include_dir()}", str(program), "-o",
         str(tmp_path / "p")],
        check=True,
    )  # fmt: skip
    out = subprocess.run([str(tmp_path / "p")], capture_output=True, text=True, check=True)
    printed = dict(line.rsplit(" ", 1) for line in out.stdout.splitlines())
    assert int(printed["tag"]) == LAYOUT_TAG
    assert int(printed["offload"]) == ctypes.sizeof(_TcpConnectionOffload)
    assert int(printed["capacity"]) == _TcpConnectionOffload.TcpConnectionOffloadCapacity.offset
    assert int(printed["OFFLOAD_HARNESS_LIMITS sizeof"]) == ctypes.sizeof(_Limits)
    for name, *_ in _Limits._fields_:
        if name not in ("Type", "Revision", "Size"):
            assert int(printed[f"OFFLOAD_HARNESS_LIMITS {name}"]) == getattr(_Limits, name).offset


def test_the_harness_library_is_built_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_offload.harness.transports.native._build import build_harness

    monkeypatch.setenv("PYTEST_OFFLOAD_CACHE", str(tmp_path))
    first = build_harness()
    assert first.parent == tmp_path
    assert first.exists()
    stamp = first.stat().st_mtime_ns
    assert build_harness() == first
    assert first.stat().st_mtime_ns == stamp
    monkeypatch.setenv("CC", "/no/such/compiler")
    monkeypatch.setenv("PYTEST_OFFLOAD_CACHE", str(tmp_path / "other"))
    from pytest_offload.harness.transports.native._build import BuildError

    with pytest.raises(BuildError, match="cannot run the C compiler"):
        build_harness()
    assert os.listdir(tmp_path / "other") == []  # nothing half-built left behind


def test_the_complete_example_of_docs_native_md_is_conformant(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    page = (ROOT / "docs" / "native.md").read_text(encoding="utf-8")
    (source,) = re.findall(r"```c\n(.*?)```", page, re.S)
    c_file = tmp_path / "docs_example.c"
    c_file.write_text(source, encoding="utf-8")
    library = build(c_file, tmp_path / "libdocs_example.so")
    result = run(pytester, library, "--offload-budget=quick")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["offload verdict: CONFORMANT"])
