"""Checker time against a bare traversal of the same tree, measured in the same run.

Run: ``python benchmarks/bench_checker.py`` (numbers recorded in benchmarks/RESULTS.md);
``--sizes 1000 --rounds 3`` for a quick look. Targets (issue 2): checker at most 5x the
bare traversal at 100k blocks; time per block flat within 25% from 1k to 100k.

The machine is shared and noisy, and its slow spells last seconds. So each round visits
every size in turn, timing a batch of traversals and then a batch of checker runs
(batches of about 100k blocks, so that small trees are not timed one sub-millisecond run
at a time); a slow spell then slows both sides of a ratio, and every size, alike. The
ratio is the median of the per-round ratios; time per block is reported from the median
round and from the fastest one (the least disturbed estimate of the checker's own cost).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _trees import bare_traversal, big_tree, capacity_bound_target

from pytest_offload import TargetChecker
from pytest_offload.harness import RecordingHost

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload import Observation, OffloadCapabilities

SIZES = (1_000, 10_000, 100_000)
#: Blocks judged per batch: a batch of a small tree repeats the run.
BATCH_BLOCKS = 100_000


@dataclass(frozen=True)
class Row:
    """The measurements of one tree size."""

    blocks: int
    traversal: list[float]
    checker: list[float]

    @property
    def ratio(self) -> float:
        """Median of the per-round checker/traversal ratios."""
        return statistics.median(c / t for c, t in zip(self.checker, self.traversal, strict=True))

    @property
    def best_per_block(self) -> float:
        """Seconds per block in the fastest round."""
        return min(self.checker) / self.blocks

    @property
    def median_per_block(self) -> float:
        """Seconds per block in the median round."""
        return statistics.median(self.checker) / self.blocks


def observe(size: int) -> tuple[OffloadCapabilities, Observation]:
    """One initiate of a ``size``-block tree through the reference target.

    The target runs out of TCP capacity, so the rules that judge failures do real work.
    """
    tree = big_tree(size)
    host = RecordingHost(timeout=60)
    target = capacity_bound_target(host, size)
    obs = host.run_initiate(target, tree, capabilities=target.capabilities)
    report = TargetChecker(target.capabilities).check(obs)
    assert report.violations == [], report.violations[:3]
    return target.capabilities, obs


def measure(sizes: Sequence[int], rounds: int) -> list[Row]:
    """Time ``rounds`` rounds, each a batch of traversals then of checker runs per size."""
    observed = [observe(size) for size in sizes]
    rows = [Row(len(obs.snapshot), [], []) for _, obs in observed]
    for _ in range(rounds):
        gc.collect()  # nothing owed from earlier allocations lands inside a timing
        for (capabilities, obs), row in zip(observed, rows, strict=True):
            root = obs.snapshot.root
            repeat = max(1, BATCH_BLOCKS // row.blocks)
            start = time.perf_counter()
            for _ in range(repeat):
                bare_traversal(root)
            middle = time.perf_counter()
            for _ in range(repeat):
                TargetChecker(capabilities).check(obs)
            end = time.perf_counter()
            row.traversal.append((middle - start) / repeat)
            row.checker.append((end - middle) / repeat)
    return rows


def spread(values: Sequence[float]) -> float:
    """How far the largest value lies above the smallest, as a fraction."""
    return max(values) / min(values) - 1


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure, print the table and the two target lines, return the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    print(
        f"{'blocks':>8} {'traversal ms':>13} {'checker ms':>11} {'ratio':>6} "
        f"{'us/block best':>14} {'us/block median':>16}"
    )
    rows = measure(args.sizes, args.rounds)
    for row in rows:
        print(
            f"{row.blocks:>8} {statistics.median(row.traversal) * 1e3:>13.2f} "
            f"{statistics.median(row.checker) * 1e3:>11.2f} {row.ratio:>6.2f} "
            f"{row.best_per_block * 1e6:>14.3f} {row.median_per_block * 1e6:>16.3f}"
        )
    largest = max(rows, key=lambda r: r.blocks)
    print(f"checker at {largest.blocks} blocks: {largest.ratio:.2f}x the bare traversal")
    best = spread([r.best_per_block for r in rows])
    median = spread([r.median_per_block for r in rows])
    print(f"time per block varies by {best:.0%} (best rounds), {median:.0%} (median rounds)")
    return rows


if __name__ == "__main__":
    main()
