"""The benchmark scripts still run: each at a tiny size, its own sanity checks included.

Timings are not asserted (they live in benchmarks/RESULTS.md); this only keeps the scripts
from rotting as the library changes.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_offload import CATALOGUE

if TYPE_CHECKING:
    from collections.abc import Iterator

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))

    def load(name: str) -> Any:
        return importlib.import_module(name)

    yield load
    for name in (
        "bench_checker",
        "bench_reference_target",
        "bench_suite",
        "bench_broken_targets",
        "bench_native",
        "bench_process",
        "bench_lifecycle",
        "differential",
        "_trees",
    ):
        sys.modules.pop(name, None)


def test_the_checker_benchmark_runs(bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    rows = bench("bench_checker").main(["--sizes", "150", "300", "--rounds", "2"])
    assert [row.blocks for row in rows] == [101, 303]
    assert all(len(row.checker) == 2 and row.ratio > 0 for row in rows)
    out = capsys.readouterr().out
    assert "checker at 303 blocks:" in out
    assert "time per block varies by" in out


def test_the_reference_target_benchmark_runs(bench: Any) -> None:
    ratios = bench("bench_reference_target").main(["--sizes", "200", "--rounds", "1"])
    assert list(ratios) == [202]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed (.ci/run does)")
def test_the_native_benchmark_runs(bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bench("bench_native").main(["--size", "300", "--rounds", "1", "--no-suite"])
    out = capsys.readouterr().out
    assert "memory, 303 blocks:" in out
    assert "read back" in out


def test_the_lifecycle_benchmark_runs(bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    bench("bench_lifecycle").main(["--cases", "3", "--rounds", "1", "--no-suite"])
    out = capsys.readouterr().out
    assert "state machine: " in out
    assert "steps/s" in out
    assert "judging costs" in out


def test_the_suite_benchmark_runs(bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench("bench_suite").main(["--budget", "quick"]) is True
    assert f"same verdicts for all {len(CATALOGUE)} rules: True" in capsys.readouterr().out


def _in_git_checkout(revision: str) -> bool:
    done = subprocess.run(
        ["git", "-C", str(BENCHMARKS.parent), "cat-file", "-e", f"{revision}^{{commit}}"],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


@pytest.mark.skipif(not _in_git_checkout("HEAD"), reason="needs a git checkout")
def test_the_differential_check_agrees_with_the_last_commit(bench: Any) -> None:
    # The working tree may hold uncommitted changes while developing; both sides judge
    # the same scenarios, so a difference here means verdicts changed since HEAD.
    assert bench("differential").main(["--against", "HEAD", "--scenarios", "30"]) == 0


#: A commit whose INI-ENTRIES-CAUSE judged claims by depth on malformed trees (a drift the
#: differential check found during the session-2 speed-up, and which was fixed).
DRIFTED = "e556348"


@pytest.mark.skipif(not _in_git_checkout(DRIFTED), reason="needs the project's git history")
def test_the_differential_check_finds_a_drift(
    bench: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench("differential").main(["--against", DRIFTED, "--scenarios", "100"]) == 1
    assert "INI-ENTRIES-CAUSE" in capsys.readouterr().out


def test_the_broken_target_benchmark_runs(bench: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench("bench_broken_targets").main(["--budget", "1", "--timeout", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "reference" in out
    assert "never completes" in out
    assert out.count("NOT CONFORMANT") == 2
