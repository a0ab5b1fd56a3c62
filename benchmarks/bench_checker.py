"""Checker time against a bare traversal of the same tree, measured in the same run.

Run: ``python benchmarks/bench_checker.py`` (numbers recorded in benchmarks/RESULTS.md);
``--sizes 1000 --rounds 3`` for a quick look. Targets (issue 2): checker at most 5x the
bare traversal at 100k blocks; time per block flat within 25% from 1k to 100k.

The machine is shared and noisy, so each round times the traversal and then the checker
back to back, and the ratio is the median of the per-round ratios: a slow spell slows
both sides of a round alike. Time per block is reported from the fastest round (the
least disturbed estimate of the checker's own cost) and from the median round.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _trees import bare_traversal, big_tree

import reference_target
from pytest_offload import TargetChecker
from pytest_offload.host import RecordingHost

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload import Observation, OffloadCapabilities

#: Rounds per size: more for small trees, whose single runs are the noisiest.
ROUNDS = {1_000: 300, 10_000: 60, 100_000: 15}


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

    Capacity for a tenth of the connections: the tree exhausts it, so the rules that judge
    failures (entries, partial success, depth-first order) all do real work.
    """
    tree = big_tree(size)
    host = RecordingHost(timeout=60)
    target = reference_target.create_target(
        host, tcp_capacity=size // 10, neighbor_capacity=None, path_capacity=None,
        ip_address_capacity=size, memory_budget=None, xmit_buffers=size, rcv_buffers=size,
    )  # fmt: skip
    obs = host.run_initiate(target, tree, capabilities=target.capabilities)
    report = TargetChecker(target.capabilities).check(obs)
    assert report.violations == [], report.violations[:3]
    return target.capabilities, obs


def measure(size: int, rounds: int) -> Row:
    """Time ``rounds`` interleaved traversals and checker runs on one tree."""
    capabilities, obs = observe(size)
    root = obs.snapshot.root
    traversal: list[float] = []
    checker: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        bare_traversal(root)
        middle = time.perf_counter()
        TargetChecker(capabilities).check(obs)
        end = time.perf_counter()
        traversal.append(middle - start)
        checker.append(end - middle)
    return Row(len(obs.snapshot), traversal, checker)


def spread(values: Sequence[float]) -> float:
    """How far the largest value lies above the smallest, as a fraction."""
    return max(values) / min(values) - 1


def main(argv: Sequence[str] | None = None) -> list[Row]:
    """Measure, print the table and the two target lines, return the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(ROUNDS))
    parser.add_argument("--rounds", type=int, help="rounds per size (default: by size)")
    args = parser.parse_args(argv)
    print(
        f"{'blocks':>8} {'traversal ms':>13} {'checker ms':>11} {'ratio':>6} "
        f"{'us/block best':>14} {'us/block median':>16}"
    )
    rows = []
    for size in args.sizes:
        row = measure(size, args.rounds or ROUNDS.get(size, 15))
        rows.append(row)
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
