"""The native transport: marshalling into C memory and reading back against a bare
traversal, and the main job against the C example.

Run: ``python benchmarks/bench_native.py`` (numbers recorded in benchmarks/RESULTS.md);
``--no-suite`` for the memory part alone. Targets (issue 12): marshalling a
100,000-block tree into C memory and reading it back within 5x a bare traversal, in the
same run; the default main job against the C example (examples/c_target) within 1.5x
the wall time of the in-process reference target.

The memory part measures what the child pays per initiate beyond decoding the JSON: from
the tree's columns as decoded, packing it into C memory (blocks, each distinct state's
structures, slots, NBLs, guards, the mask of bytes the target may write, the hand-over
copy) and, after a completion that wrote a status and a context into every block,
reading it back into the image's columns (and comparing every other byte in C) and
encoding that image. Rounds alternate the traversal and the measured steps; the ratio is
the median of per-round ratios.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _trees import bare_traversal, big_tree
from bench_process import _encode, _timed, main_job

from pytest_offload.harness import take_snapshot
from pytest_offload.harness.transports.native import include_dir
from pytest_offload.harness.transports.native._build import build_harness
from pytest_offload.harness.transports.native._columns import PackedTree, pack, read_image
from pytest_offload.harness.transports.native._library import Library
from pytest_offload.harness.transports.native._wire import decode_initiate

if TYPE_CHECKING:
    from collections.abc import Sequence

ROOT = Path(__file__).resolve().parents[1]


def _as_the_child_receives(blocks: list[Any]) -> Any:
    """The tree's columns as the native child decodes them from the suite's message."""
    params = msgspec.json.decode(_encode(blocks), type=dict[str, msgspec.Raw])["params"]
    return decode_initiate(params).tree


def memory(size: int, rounds: int) -> dict[str, float]:
    root = big_tree(size)
    blocks = take_snapshot(root).blocks
    wire = _as_the_child_receives(blocks)
    library = Library.harness_only(str(build_harness()))

    def complete(tree: PackedTree) -> ctypes.Array[ctypes.c_char]:
        # What a target does: a status and a context into every block, then complete
        # (the harness copies the tree inside NdisMInitiateOffloadComplete).
        memory = tree.memory
        for k in range(tree.count):
            struct.pack_into("<I", memory, tree.offsets[k] + 0x18, 0)
            if tree.slot[k]:
                struct.pack_into("<Q", memory, tree.slots[k], 0x10000 + 0x40 * k)
        copy = ctypes.create_string_buffer(tree.size)
        ctypes.memmove(copy, tree.base, tree.size)
        return copy

    steps: dict[str, list[float]] = {
        "traversal": [], "marshal": [], "read_back": [], "ratio": []
    }  # fmt: skip
    tree = copy = None
    for _ in range(rounds):
        base = _timed(lambda: bare_traversal(root), 10)
        # The last round's tree is released first, as a case's trees are (its buffers
        # go back to the arena: a run of big trees recycles them; the first pays faults).
        del tree, copy
        start = time.perf_counter()
        tree = pack(wire, library)
        packed = time.perf_counter() - start
        copy = complete(tree)
        start = time.perf_counter()
        image, runs, _ = read_image(tree, copy, library)
        msgspec.json.encode(image)  # the image as it goes on the wire
        read = time.perf_counter() - start
        assert not runs, runs  # a status and a context per block: nothing else written
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
