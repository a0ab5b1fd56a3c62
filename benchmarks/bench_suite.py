"""The bundled suite against reference_target: wall time, xdist verdicts, overhead.

Run: ``python benchmarks/bench_suite.py`` (numbers in benchmarks/RESULTS.md).
Targets (issue 4): the default budget runs in under 60 s on this 2-core machine and gives
the same verdicts with ``-n 2``. Also measured: the suite's overhead against Hypothesis
generating the same trees (same aims, seeds and budget) without running them.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING

import hypothesis
from hypothesis import HealthCheck, Phase, given

import reference_target
from pytest_offload import CATALOGUE, InFlight, run_scenario
from pytest_offload.generate import aim_for
from pytest_offload.run import BUDGETS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload.generate import TreeSpec

SEED = 20261125


def run_pytest(*extra: str, budget: str = "default") -> tuple[float, dict[str, str], str]:
    """Run the main job in a scratch directory; return wall time, verdicts, last line."""
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--offload-target=reference_target",
             f"--offload-seed={SEED}", f"--offload-budget={budget}",
             "-p", "no:cacheprovider", "-q", *extra],
            cwd=scratch, capture_output=True, text=True, check=False,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
    verdicts = {
        m.group(1): m.group(2)
        for m in re.finditer(
            r"^([A-Z]+-[A-Z0-9-]+)\s+(?:MUST|SHOULD)\s+(\S+)", done.stdout, re.MULTILINE
        )
    }
    return elapsed, verdicts, done.stdout.strip().splitlines()[-1]


def generation_only_vs_full(budget: str = "default") -> tuple[float, float]:
    """Seconds to draw and build every initiate rule's trees, and to draw, build, run and
    judge (the lifecycle state machine cannot draw without a target: bench_lifecycle.py
    measures it)."""
    caps = reference_target.create_target(None).capabilities  # type: ignore[arg-type]
    times = []
    for run in (False, True):
        start = time.perf_counter()
        for rule in CATALOGUE:
            if aim_for(rule.id).lifecycle:
                continue  # the state machine has no generation without a target

            def body(scenario: tuple[TreeSpec | InFlight, ...]) -> None:
                if run:  # noqa: B023 (read at call time, within this loop iteration)
                    run_scenario(reference_target.create_target, scenario)
                else:
                    for step in scenario:
                        trees = step.trees if isinstance(step, InFlight) else (step,)
                        for spec in trees:
                            spec.build(lambda layer, index: object())

            hypothesis.seed(SEED)(
                hypothesis.settings(
                    max_examples=BUDGETS[budget], deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), phases=[Phase.generate],
                )(given(aim_for(rule.id).build(caps))(body))
            )()  # fmt: skip
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def main(argv: Sequence[str] | None = None) -> bool:
    """Measure and print; return whether both runs gave the same verdict for every rule."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="default")
    budget = parser.parse_args(argv).budget
    serial, serial_verdicts, serial_last = run_pytest(budget=budget)
    parallel, parallel_verdicts, parallel_last = run_pytest("-n", "2", budget=budget)
    print(f"serial:   {serial:6.1f} s  {serial_last}")
    print(f"-n 2:     {parallel:6.1f} s  {parallel_last}")
    same = serial_verdicts == parallel_verdicts and len(serial_verdicts) == len(CATALOGUE)
    print(f"same verdicts for all {len(serial_verdicts)} rules: {same}")
    generate, full = generation_only_vs_full(budget)
    print(f"generation only: {generate:6.2f} s; generation + target + checker: {full:6.2f} s; "
          f"overhead {full / generate:4.1f}x")  # fmt: skip
    return same


if __name__ == "__main__":
    main()
