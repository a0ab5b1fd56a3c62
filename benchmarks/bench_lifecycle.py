"""The lifecycle state machine: steps per second, the per-step cost of judging, the main job.

Run: ``python benchmarks/bench_lifecycle.py`` (numbers recorded in benchmarks/RESULTS.md);
``--no-suite`` for the state-machine part alone. Targets (issue 13): the default main job,
lifecycle included, under 60 s on the 2-core machine; state-machine steps per second and
the per-step cost of judging measured and recorded.

The state machine runs its default budget of cases against the reference target (phase
generate, as the campaign runs it) and records each case's program. Those programs are
then replayed twice, back to back in each round: judged by every rule, and judged by no
rule (the same requests handed over, completed, imaged and torn down). The difference per
request is what judging costs; the unjudged replay is the baseline measured in the same
run, so a slow spell of this shared machine slows both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis.stateful import run_state_machine_as_test

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_process import main_job

import reference_target
from pytest_offload import CATALOGUE
from pytest_offload.generate import LifecycleSession, machine_for, run_program, stable_generation

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload import ScenarioOutcome

SEED = 20261201


def generate(cases: int) -> tuple[float, list[tuple[Any, ...]], int]:
    """Seconds to run ``cases`` state-machine cases, their programs, and the requests
    (initiates and lifecycle requests, teardowns included) they handed over."""
    caps = reference_target.create_target(None).capabilities  # type: ignore[arg-type]
    programs: list[tuple[Any, ...]] = []
    requests = [0]

    def done(outcome: ScenarioOutcome) -> None:
        programs.append(outcome.specs)
        requests[0] += len(outcome.reports)

    machine = machine_for(
        caps,
        lambda: LifecycleSession(reference_target.create_target, settle=0.05),
        done,
        robustness=True,
    )
    settings = hypothesis.settings(
        max_examples=cases,
        stateful_step_count=12,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )

    def factory() -> Any:
        return machine()

    start = time.perf_counter()
    with stable_generation():
        run_state_machine_as_test(hypothesis.seed(SEED)(factory), settings=settings)  # type: ignore[arg-type]
    return time.perf_counter() - start, programs, requests[0]


def judging(programs: list[tuple[Any, ...]], rounds: int) -> dict[str, float]:
    """Per request, milliseconds to replay judged by every rule and by none (medians)."""
    every = list(CATALOGUE)
    judged: list[float] = []
    bare: list[float] = []
    requests = 0
    for _ in range(rounds):
        for rules, out in ((every, judged), ([], bare)):
            start = time.perf_counter()
            count = 0
            for program in programs:
                count += len(
                    run_program(reference_target.create_target, program, rules=rules).reports
                )
            out.append((time.perf_counter() - start) / count * 1000)
            requests = count
    judge = statistics.median(judged)
    base = statistics.median(bare)
    return {"judged": judge, "bare": base, "cost": judge - base, "requests": requests}


def main(argv: Sequence[str] | None = None) -> bool:
    """Measure and print; return whether the main job stayed under 60 s."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-suite", action="store_true", help="skip the main-job timing")
    args = parser.parse_args(argv)
    seconds, programs, requests = generate(args.cases)
    steps = sum(len(p) for p in programs)
    print(
        f"state machine: {len(programs)} cases, {steps} steps ({requests} requests with the "
        f"teardowns) in {seconds:.2f} s: {steps / seconds:.0f} steps/s, "
        f"{requests / seconds:.0f} requests/s (each case waits 50 ms past its last completion)"
    )
    found = judging(programs, args.rounds)
    print(
        f"per request: {found['judged']:.3f} ms judged by all {len(CATALOGUE)} rules, "
        f"{found['bare']:.3f} ms by none: judging costs {found['cost']:.3f} ms a request "
        f"({found['requests']:.0f} requests a round, median of {args.rounds} rounds)"
    )
    met = True
    if not args.no_suite:
        wall, verdict = main_job("reference_target")
        print(f"main job, lifecycle included: {wall:6.1f} s  {verdict}")
        met = wall < 60
    return met


if __name__ == "__main__":
    main()
