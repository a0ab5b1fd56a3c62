"""Checker time against a bare traversal of the same tree, measured in the same run.

Run: ``python benchmarks/bench_checker.py`` (numbers recorded in benchmarks/RESULTS.md).
Targets (issue 2): checker at most 5x the bare traversal at 100k blocks; time per block
flat within 25% from 1k to 100k.
"""

from __future__ import annotations

import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _trees import bare_traversal, big_tree

import reference_target
from pytest_offload import TargetChecker
from pytest_offload.host import RecordingHost

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload import Observation, OffloadCapabilities


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls (the median resists a noisy shared machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _judge(capabilities: OffloadCapabilities, observation: Observation) -> object:
    return TargetChecker(capabilities).check(observation)


def main() -> None:
    print(f"{'blocks':>8} {'traversal ms':>13} {'checker ms':>11} {'ratio':>6} {'us/block':>9}")
    per_block = {}
    for size in (1_000, 10_000, 100_000):
        tree = big_tree(size)
        host = RecordingHost(timeout=60)
        # Capacity for a tenth of the connections: the tree exhausts it, so the rules that
        # judge failures (entries, partial success, depth-first order) all do real work.
        target = reference_target.create_target(
            host, tcp_capacity=size // 10, neighbor_capacity=None, path_capacity=None,
            ip_address_capacity=size, memory_budget=None, xmit_buffers=size, rcv_buffers=size,
        )  # fmt: skip
        obs = host.run_initiate(target, tree, capabilities=target.capabilities)
        n = len(obs.snapshot)
        repeat = 21 if size < 100_000 else 7
        traversal = median_time(partial(bare_traversal, tree), repeat)
        checker = median_time(partial(_judge, target.capabilities, obs), repeat)
        report = TargetChecker(target.capabilities).check(obs)
        assert report.violations == [], report.violations[:3]
        per_block[n] = checker / n
        print(f"{n:>8} {traversal * 1e3:>13.2f} {checker * 1e3:>11.2f} "
              f"{checker / traversal:>6.2f} {checker / n * 1e6:>9.3f}")  # fmt: skip
    sizes = sorted(per_block)
    spread = max(per_block.values()) / min(per_block.values()) - 1
    print(f"time per block varies by {spread:.0%} from {sizes[0]} to {sizes[-1]} blocks")


if __name__ == "__main__":
    main()
