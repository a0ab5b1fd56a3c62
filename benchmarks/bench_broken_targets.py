"""How long the whole default run takes against a target that never completes, and one
that raises on every call, beside the run against the reference target (same machine, same
run): issue 10 wants both within 120 s with the right verdict.

Run: ``python benchmarks/bench_broken_targets.py [--budget NAME] [--timeout S]`` (numbers
recorded in benchmarks/RESULTS.md). Each run is ``pytest --offload-target=...`` in a
subprocess with a fixed seed; the verdict line and the wall time are printed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {
    "reference": "reference_target",
    "never completes": "tests.broken_targets:break_complete_once",
    "raises every call": "tests.broken_targets:break_no_raise_always",
}


def run(target: str, budget: str, timeout: str) -> tuple[float, str, int]:
    """Wall seconds, verdict line and exit status of one default run against ``target``."""
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        f"--offload-target={target}", "--offload-seed=7", f"--offload-budget={budget}",
        f"--offload-timeout={timeout}",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    verdict = next(
        (line for line in done.stdout.splitlines() if line.startswith("offload verdict")), "?"
    )
    return seconds, verdict, done.returncode


def main(argv: list[str] | None = None) -> int:
    """Time each target's run and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="default")
    parser.add_argument("--timeout", default="2", help="the run's --offload-timeout")
    args = parser.parse_args(argv)
    print(f"{'target':<20} {'seconds':>8}  exit  verdict")
    for name, target in TARGETS.items():
        seconds, verdict, status = run(target, args.budget, args.timeout)
        print(f"{name:<20} {seconds:>8.1f}  {status:>4}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
