"""The process transport: wire codec cost against a bare traversal, and the main job served.

Run: ``python benchmarks/bench_process.py`` (numbers recorded in benchmarks/RESULTS.md);
``--no-suite`` for the codec part alone. Targets (issue 11): encoding and decoding a
10,000-block tree within 10x a bare traversal of it, measured in the same run; the
default main job against the served reference target within 2x the wall time of the
in-process run.

The codec part measures what the suite pays per initiate of a process target, beyond the
hand-over snapshot the host takes for every target: encoding the tree (columns, taken
from the snapshot, then JSON) and decoding and applying the target's completion image (a
status and a context per block). The serving side's cost (decoding the tree into Python
blocks, building the image) is a target's, and is printed for information. Rounds
alternate the traversal and the codec, and the ratio is the median of per-round ratios,
so a slow spell of this shared machine slows both sides alike.
"""

from __future__ import annotations

import argparse
import itertools
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _trees import bare_traversal, big_tree

from pytest_offload import NdisStatus
from pytest_offload.harness import take_snapshot
from pytest_offload.harness.transports._messages import (
    InitiateCompleteParams,
    InitiateParams,
    InitiateRequest,
)
from pytest_offload.harness.transports.codec import (
    SERVE_BASE,
    PointerTable,
    apply_image,
    decode_tree,
    encode_tree,
    host_fields,
    image_of,
    nbl_hook,
    nbl_ref_hook,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pytest_offload import OffloadBlockList
    from pytest_offload.harness import TreeSnapshot

SEED = 20261201
_COMPLETE = msgspec.json.Decoder(InitiateCompleteParams, dec_hook=nbl_ref_hook)
_INITIATE = msgspec.json.Decoder(InitiateParams, dec_hook=nbl_ref_hook)


def _encode(blocks: list[OffloadBlockList], snapshot: TreeSnapshot | None = None) -> bytes:
    """The initiate request, encoded as the process transport does: from the host's
    hand-over snapshot (its order and field columns) when there is one."""
    ids: dict[int, int] = {}
    counter = itertools.count(1)
    tree, nbls = encode_tree(blocks, PointerTable(), ids, counter.__next__, snapshot=snapshot)
    return msgspec.json.encode(
        InitiateRequest("2.0", 1, "initiate_offload", InitiateParams(1, tree)),
        enc_hook=nbl_hook(ids, counter.__next__, nbls),
    )


def _completion(blocks: list[OffloadBlockList]) -> bytes:
    """What a target answers for ``blocks``: every block offloaded, a context for each."""
    payload = _encode(blocks)
    params = _INITIATE.decode(msgspec.json.decode(payload, type=dict[str, msgspec.Raw])["params"])
    served, _ = decode_tree(params.tree, PointerTable(SERVE_BASE))
    handed = [host_fields(b) for b in served]
    for block in served:
        block.status = NdisStatus.SUCCESS
        if block.miniport_offload_context is not None:
            block.miniport_offload_context.value = object()
    image = image_of(served, handed, {}, PointerTable(SERVE_BASE))
    return msgspec.json.encode(InitiateCompleteParams(1, image))


def _timed(function: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


def codec(size: int, rounds: int) -> dict[str, float]:
    """Milliseconds (median rounds) of each step, and the suite's ratio to the traversal."""
    root = big_tree(size)
    snapshot = take_snapshot(root)  # the host takes it at hand-over, for every transport
    blocks = snapshot.blocks
    answer = _completion(blocks)
    payload = _encode(blocks)
    table = PointerTable()

    slots = [b.miniport_offload_context for b in blocks if b.miniport_offload_context]

    def suite_side() -> float:
        """Seconds for one initiate's suite side (the slots are emptied after, untimed:
        the next round hands the same blocks over again as new offloads)."""
        start = time.perf_counter()
        _encode(blocks, snapshot)
        apply_image(_COMPLETE.decode(answer).image, blocks, {}, table, snapshot.image.slots)
        elapsed = time.perf_counter() - start
        deque(map(setattr, slots, repeat("value"), repeat(None)), maxlen=0)
        return elapsed

    def serve_side() -> None:
        params = _INITIATE.decode(
            msgspec.json.decode(payload, type=dict[str, msgspec.Raw])["params"]
        )
        decode_tree(params.tree, PointerTable(SERVE_BASE))

    suite_side()  # warm: the state cache is filled once per state object
    steps: dict[str, list[float]] = {"traversal": [], "suite": [], "serve": [], "ratio": []}
    for _ in range(rounds):
        base = _timed(lambda: bare_traversal(root), 20)
        suite = statistics.fmean(suite_side() for _ in range(3))
        steps["traversal"].append(base * 1000)
        steps["suite"].append(suite * 1000)
        steps["serve"].append(_timed(serve_side, 1) * 1000)
        steps["ratio"].append(suite / base)
    out = {name: statistics.median(values) for name, values in steps.items()}
    out["blocks"] = len(blocks)
    out["tree_bytes"] = len(payload)
    out["image_bytes"] = len(answer)
    return out


def main_job(target: str) -> tuple[float, str]:
    """Wall time and summary line of the default main job against ``target``."""
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-suite", action="store_true", help="skip the main-job timing")
    args = parser.parse_args(argv)
    found = codec(args.size, args.rounds)
    print(
        f"codec, {found['blocks']:,.0f} blocks ({found['tree_bytes'] / 1e6:.1f} MB tree, "
        f"{found['image_bytes'] / 1e6:.2f} MB image): traversal {found['traversal']:.2f} ms, "
        f"suite side (encode tree + decode and apply image) {found['suite']:.2f} ms = "
        f"{found['ratio']:.1f}x; serving side decode {found['serve']:.1f} ms"
    )
    met = found["ratio"] <= 10
    if not args.no_suite:
        inproc, first = main_job("reference_target")
        served, second = main_job(
            f"exec:{sys.executable} -m pytest_offload.cli serve reference_target"
        )
        print(f"main job in-process: {inproc:6.1f} s  {first}")
        print(f"main job served:     {served:6.1f} s  {second}  ({served / inproc:.2f}x)")
        met = met and served <= 2 * inproc
    return met


if __name__ == "__main__":
    main()
