"""Reference-target offload throughput against a bare traversal of the same tree.

Run: ``python benchmarks/bench_reference_target.py`` (numbers in benchmarks/RESULTS.md).
Target (issue 3): at most 10x the bare traversal on trees of 10k and 100k blocks.
The time is the target's own walk (decisions, tables, statuses), completed inline to a
host that only counts completions, so no snapshot or checker cost is included. Each round
builds a fresh tree, collects garbage, then times the traversal and the target; the ratio
is the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from typing import TYPE_CHECKING

from _trees import bare_traversal, big_tree, capacity_bound_target

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_offload import NetBufferList, OffloadBlockList


class CountingHost:
    """The cheapest host: counts completions."""

    def __init__(self) -> None:
        self.completions = 0

    def initiate_offload_complete(self, root: OffloadBlockList) -> None:
        self.completions += 1

    def tcp_offload_send_complete(self, chain: Sequence[NetBufferList]) -> None:
        pass


def main(argv: Sequence[str] | None = None) -> dict[int, float]:
    """Measure and print; return the target/traversal ratio by tree size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, help="rounds per size (default: 9, 5 at 100k)")
    args = parser.parse_args(argv)
    print(f"{'blocks':>8} {'traversal ms':>13} {'target ms':>10} {'ratio':>6} {'us/block':>9}")
    ratios = {}
    for size in args.sizes:
        traversals, offloads = [], []
        for _ in range(args.rounds or (9 if size < 100_000 else 5)):
            tree = big_tree(size)  # fresh tree and target each round: nothing offloaded yet
            host = CountingHost()
            target = capacity_bound_target(host, size)
            # Building the tree leaves a million young objects pending: collect them now,
            # so that a full collection they are owed does not land inside the timing.
            # Collections the target's own allocations cause still count.
            gc.collect()
            start = time.perf_counter()
            bare_traversal(tree)
            traversals.append(time.perf_counter() - start)
            start = time.perf_counter()
            target.initiate_offload(tree)
            offloads.append(time.perf_counter() - start)
            assert host.completions == 1
        traversal, offload = statistics.median(traversals), statistics.median(offloads)
        # The median of per-round ratios: a slow spell slows both sides of a round alike.
        ratio = statistics.median(o / t for o, t in zip(offloads, traversals, strict=True))
        n = max(1, size // 100) * 101
        print(f"{n:>8} {traversal * 1e3:>13.2f} {offload * 1e3:>10.2f} "
              f"{ratio:>6.2f} {offload / n * 1e6:>9.3f}")  # fmt: skip
        ratios[n] = ratio
    return ratios


if __name__ == "__main__":
    main()
