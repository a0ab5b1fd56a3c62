"""The native transport: marshalling into C memory and reading back against a bare
traversal, and the main job against the C example.

Run: ``python benchmarks/bench_native.py`` (numbers recorded in benchmarks/RESULTS.md);
``--no-suite`` for the memory part alone. Targets (issue 12): marshalling a
100,000-block tree into C memory and reading it back within 5x a bare traversal, in the
same run; the default main job against the C example (examples/c_target) within 1.5x
the wall time of the in-process reference target.

The memory part measures what the child pays per initiate beyond decoding the wire:
packing the tree (``marshal``: blocks, states, slots, NBLs, guards; plus the masks and
the hand-over copy) and, after a completion that wrote a status and a context into every
block, reading it back (statuses and contexts onto the blocks, and the C comparison of
every other byte). Rounds alternate the traversal and the measured step; the ratio is the
median of per-round ratios.
"""

from __future__ import annotations

import argparse
import ctypes
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _trees import bare_traversal, big_tree

from pytest_offload.harness import take_snapshot
from pytest_offload.harness.transports.native import include_dir
from pytest_offload.harness.transports.native._build import build_harness
from pytest_offload.harness.transports.native._library import Library
from pytest_offload.harness.transports.native._target import _Runtime

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261201


def _timed(function: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


class _Host:
    def initiate_offload_complete(self, root: object) -> None:
        pass


class _Case:
    host = _Host()


def _runtime() -> _Runtime:
    """The child's runtime over the harness library alone (no vendor library, no
    dispatcher: the benchmark plays the completion itself)."""
    library = Library.__new__(Library)
    library.harness = ctypes.CDLL(str(build_harness()), mode=ctypes.RTLD_GLOBAL)
    library._declare()
    runtime = _Runtime.__new__(_Runtime)
    runtime.library = library
    runtime.lock = threading.Lock()
    runtime.flights = {}
    runtime.nbl_at = {}
    runtime.released = []
    return runtime


def memory(size: int, rounds: int) -> dict[str, float]:
    root = big_tree(size)
    blocks = take_snapshot(root).blocks
    runtime = _runtime()
    case: Any = _Case()

    def complete(flight: Any) -> None:
        # What a target does: a status and a context into every block, then complete.
        tree = flight.tree
        for k, start in enumerate(tree.blocks):
            struct.pack_into("<I", tree.memory, start + 0x18, 0)
            slot = tree.slots[k]
            if slot is not None:
                struct.pack_into("<Q", tree.memory, slot, 0x10000 + 0x40 * k)
        ctypes.memmove(flight.copy, tree.base, flight.size)

    def hand_over() -> Any:
        return runtime.hand_over(case, blocks)

    def read_back(flight: Any) -> None:
        runtime._read_back(flight, flight.copy, late=False)
        runtime.library.unregister(flight.index)
        runtime.flights.pop(flight.index, None)
        for slot in (b.miniport_offload_context for b in blocks):
            if slot is not None:
                slot.value = None

    steps: dict[str, list[float]] = {
        "traversal": [], "marshal": [], "read_back": [], "ratio": []
    }  # fmt: skip
    for _ in range(rounds):
        base = _timed(lambda: bare_traversal(root), 10)
        start = time.perf_counter()
        flight = hand_over()
        packed = time.perf_counter() - start
        complete(flight)
        start = time.perf_counter()
        read_back(flight)
        read = time.perf_counter() - start
        steps["traversal"].append(base * 1000)
        steps["marshal"].append(packed * 1000)
        steps["read_back"].append(read * 1000)
        steps["ratio"].append((packed + read) / base)
    out = {name: statistics.median(values) for name, values in steps.items()}
    out["blocks"] = len(blocks)
    return out


def build_example(where: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler is not None, "a C compiler is needed"
    library = where / "liboffload_target.so"
    subprocess.run(
        [compiler, "-std=c11", "-O2", "-fPIC", "-shared", "-mms-bitfields",
         f"-I{include_dir()}", str(ROOT / "examples" / "c_target" / "offload_target.c"),
         "-o", str(library), "-lpthread"],
        check=True,
    )  # fmt: skip
    return library


def main_job(target: str) -> tuple[float, str]:
    """Wall time and verdict line of the default main job against ``target``."""
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", f"--offload-target={target}",
             f"--offload-seed={SEED}", "-p", "no:cacheprovider", "-q"],
            cwd=scratch, capture_output=True, text=True, check=False,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
    verdict = re.search(r"^offload verdict: .*$", done.stdout, re.MULTILINE)
    return elapsed, verdict.group(0) if verdict else done.stdout[-500:]


def main(argv: Sequence[str] | None = None) -> bool:
    """Measure and print; return whether both targets were met."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-suite", action="store_true", help="skip the main-job timing")
    args = parser.parse_args(argv)
    found = memory(args.size, args.rounds)
    print(
        f"memory, {found['blocks']:,.0f} blocks: traversal {found['traversal']:.1f} ms, "
        f"marshal (and masks, hand-over copy) {found['marshal']:.1f} ms, read back "
        f"{found['read_back']:.1f} ms = {found['ratio']:.1f}x"
    )
    met = found["ratio"] <= 5
    if not args.no_suite:
        with tempfile.TemporaryDirectory() as where:
            library = build_example(Path(where))
            inproc, first = main_job("reference_target")
            native, second = main_job(f"native:{library}")
        print(f"main job in-process reference: {inproc:6.1f} s  {first}")
        print(
            f"main job C example (native):   {native:6.1f} s  {second}  ({native / inproc:.2f}x)"
        )
        met = met and native <= 1.5 * inproc
    return met


if __name__ == "__main__":
    main()
