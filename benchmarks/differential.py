"""Same verdicts before and after: judge random scenarios with this tree and with a revision.

Run: ``python benchmarks/differential.py --against REV`` (e.g. the commit before a speed-up).
The revision is checked out into a temporary git worktree; the same seeded scenarios
(random trees with linkers, placeholders and malformed blocks, handed to a target that
writes random statuses, contexts, scribbles and extra completions) are judged by both
checkers in separate processes, and every violation, hit count and expected status is
compared. Exit status 0 when all agree, 1 otherwise (the first differences are printed).

Only public, long-standing APIs are used here, so older revisions run it unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


# -- the scenarios (run inside each checker's process) ----------------------------------
# Imported from whichever tree is first on the path: the child processes put the tree
# under test there.

from pytest_offload import NetBufferList, OffloadStateType  # noqa: E402

try:  # the top-level name since the layout of subpackages; a module of its own before
    from pytest_offload import RecordingHost
except ImportError:  # pragma: no cover - only when judging an older revision
    from pytest_offload.host import RecordingHost  # type: ignore[import-not-found, no-redef]

from pytest_offload import (  # noqa: E402
    NdisStatus,
    NeighborOffloadState,
    OffloadBlockList,
    OffloadCapabilities,
    PathOffloadState,
    PathOffloadStateConst,
    TargetChecker,
    TcpOffloadState,
    chain,
    linker,
    new_offload,
    placeholder,
    take_snapshot,
)

S = NdisStatus
T = OffloadStateType
PLAUSIBLE: list[object] = [S.SUCCESS, S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS, S.FAILURE]
PLAUSIBLE += [S.OFFLOAD_TCP_ENTRIES, S.OFFLOAD_PATH_ENTRIES, S.OFFLOAD_NEIGHBOR_ENTRIES]
ANYTHING: list[object] = [*PLAUSIBLE, S.RESOURCES, S.OFFLOAD_VLAN_MISMATCH]
ANYTHING += [S.OFFLOAD_HW_ADDRESS_ENTRIES, S.OFFLOAD_TCP_RCV_WINDOW, S.OFFLOAD_PATH_MTU]
ANYTHING += [S.OFFLOAD_CONNECTION_REJECTED, S.PENDING, 12345, None, True, 0.0]
ANYTHING += [int(S.SUCCESS), int(S.OFFLOAD_TCP_ENTRIES)]


class Context:
    """A context object (compared by identity)."""


class ChaosTarget:
    """Writes random statuses (plausible ones more often), contexts and scribbles."""

    def __init__(self, host: RecordingHost, rng: random.Random, caps: OffloadCapabilities):
        self.host, self.rng, self.capabilities = host, rng, caps
        self.shared = Context()

    def initiate_offload(self, root: OffloadBlockList) -> None:
        rng, blocks = self.rng, take_snapshot(root).blocks
        for block in blocks:
            block.status = rng.choice(PLAUSIBLE if rng.random() < 0.6 else ANYTHING)
            slot = block.miniport_offload_context
            if slot is not None and slot.value is None:
                offloaded = block.status in (S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS)
                if rng.random() < (0.9 if offloaded and block.status is not True else 0.05):
                    r = rng.random()
                    slot.value = (
                        self.shared if r < 0.03 else rng.randrange(3) if r < 0.08 else Context()
                    )
            if rng.random() < 0.02:
                block.port_number = 7
            if rng.random() < 0.05:
                block.miniport_reserved[0] = "m"
            sends = block.net_buffer_list_chain
            if sends and rng.random() < 0.3:
                sends[0].status = S.FAILURE
                if rng.random() < 0.5:
                    self.host.tcp_offload_send_complete(sends)
        if rng.random() < 0.97:
            self.host.initiate_offload_complete(root)
        if rng.random() < 0.03:
            self.host.initiate_offload_complete(root)
        if rng.random() < 0.05:
            blocks[-1].status = S.FAILURE  # after completing


def _tcp(rng: random.Random, known: list[object]) -> OffloadBlockList:
    r = rng.random()
    if r < 0.08 and known:
        return linker(rng.choice(known), T.TCP)
    if r < 0.12:
        return linker(object(), T.TCP)
    send = (NetBufferList(b"x"),) if rng.random() < 0.2 else None
    block = new_offload(TcpOffloadState(), send_data=send)
    if rng.random() < 0.05:
        block.state_type = T.IP4  # a type of another layer
    if rng.random() < 0.03:
        block.dependent_block_list = new_offload(TcpOffloadState())
    if rng.random() < 0.03:
        block.state = None
    return block


def _path(rng: random.Random, known: list[object], n: int, p: int) -> OffloadBlockList:
    kids = [_tcp(rng, known) for _ in range(rng.randrange(0, 5))]
    r = rng.random()
    if r < 0.1 and known:
        return linker(rng.choice(known), T.IP4, *kids)
    if r < 0.15:
        return placeholder(*kids)
    if r < 0.2:
        return linker(object(), T.IP4, *kids)
    const = PathOffloadStateConst(source_address=bytes([10, n, p, 1]))
    return new_offload(PathOffloadState(const=const), *kids)


def _tree(rng: random.Random, known: list[object]) -> OffloadBlockList:
    roots = []
    for n in range(rng.randrange(1, 4)):
        paths = [_path(rng, known, n, p) for p in range(rng.randrange(0, 4))]
        r = rng.random()
        if r < 0.1:
            roots.append(placeholder(*paths))
        elif r < 0.2 and known:
            roots.append(linker(rng.choice(known), T.NEIGHBOR, *paths))
        else:
            roots.append(new_offload(NeighborOffloadState(), *paths))
    root = chain(roots)
    assert root is not None
    return root


def _contexts(checker: TargetChecker, layer: str) -> list[object]:
    ledger: Any = checker.ledger
    if hasattr(ledger, "contexts"):
        return list(ledger.contexts(layer))
    return [e.context for e in ledger.entries.values() if e.layer == layer]  # older ledgers


def _scenarios(start: int, stop: int) -> list[Any]:
    out = []
    for seed in range(start, stop):
        rng = random.Random(seed)
        caps = OffloadCapabilities(
            tcp_connection_offload_capacity=rng.randrange(0, 6),
            neighbor_capacity=rng.choice([None, 1, 3]),
            path_capacity=rng.choice([None, 2, 5]),
        )
        host = RecordingHost(timeout=0.05)
        target = ChaosTarget(host, rng, caps)
        checker = TargetChecker(caps)
        steps = []
        for _ in range(rng.randrange(1, 4)):
            known = _contexts(checker, "tcp") + _contexts(checker, "path")
            obs = host.run_initiate(target, _tree(rng, known), capabilities=caps)
            report = checker.check(obs)
            found = sorted(
                (v.rule_id, v.path or "", v.observed, v.expected, v.detail)
                for v in report.violations
            )
            hits = {rule_id: outcome.hits for rule_id, outcome in report.outcomes.items()}
            steps.append({"violations": found, "hits": hits, "expected": report.expected})
        out.append(steps)
    return out


# -- comparing two trees -----------------------------------------------------------------


def _normalised(data: object) -> str:
    text = json.dumps(data, default=str, sort_keys=True)
    text = re.sub(r"0x[0-9a-f]{6,}", "0x?", text)  # object addresses differ per process
    return re.sub(r"[0-9.]+ ms", "? ms", text)  # so do timings


def _judge_with(tree: Path, start: int, stop: int) -> list[Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, __file__, "--emit", str(start), str(stop)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: list[Any] = json.loads(done.stdout)
    return result


def compare(
    against: str, scenarios: int, seed: int
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Differences between this tree's checker and ``against``'s (rule, line), and the rules
    only ``against`` has and only this tree has."""
    with tempfile.TemporaryDirectory() as scratch:
        other = Path(scratch) / "other"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", str(other), against],
                       capture_output=True, check=True)  # fmt: skip
        try:
            before = _judge_with(other, seed, seed + scenarios)
            old_rules = _rules_of(other)
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(other)],
                           capture_output=True, check=False)  # fmt: skip
    after = _judge_with(ROOT, seed, seed + scenarios)
    differences: list[tuple[str, str]] = []  # (rule ID or "-", what differs)
    for number, (old, new) in enumerate(zip(before, after, strict=True), start=seed):
        for step, (a, b) in enumerate(zip(old, new, strict=True), start=1):
            where = f"scenario {number}, initiate {step}"
            # A rule only one side has is an addition or a removal, listed apart by main().
            both = a["hits"].keys() & b["hits"].keys()
            for rule_id in sorted(k for k in both if a["hits"][k] != b["hits"][k]):
                differences.append((rule_id, f"{where}: hits differ for {rule_id}"))
            old_v = {_normalised(v): v[0] for v in a["violations"] if v[0] in both}
            new_v = {_normalised(v): v[0] for v in b["violations"] if v[0] in both}
            for gone in sorted(old_v.keys() - new_v.keys()):
                differences.append((old_v[gone], f"{where}: only {against} finds {gone}"))
            for extra in sorted(new_v.keys() - old_v.keys()):
                differences.append((new_v[extra], f"{where}: only this tree finds {extra}"))
            if _normalised(a["expected"]) != _normalised(b["expected"]):
                differences.append(("-", f"{where}: expected statuses differ"))
    new_rules = _rules_of(ROOT)
    removed = [r for r in old_rules if r not in new_rules]
    added = [r for r in new_rules if r not in old_rules]
    return differences, removed, added


def _rules_of(tree: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = "import pytest_offload; print(' '.join(r.id for r in pytest_offload.CATALOGUE))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return done.stdout.split()


def main(argv: list[str] | None = None) -> int:
    """Compare, print a summary, return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision (default: HEAD)")
    parser.add_argument("--scenarios", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0, help="first scenario's seed")
    parser.add_argument("--emit", nargs=2, type=int, metavar=("START", "STOP"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.emit:
        json.dump(_scenarios(*args.emit), sys.stdout, default=str)
        return 0
    differences, removed, added = compare(args.against, args.scenarios, args.seed)
    if added:
        print(f"rules only in this tree (not compared): {', '.join(added)}")
    if removed:
        print(f"rules only in {args.against} (not compared): {', '.join(removed)}")
    by_rule: dict[str, list[str]] = {}
    for rule_id, line in differences:
        by_rule.setdefault(rule_id, []).append(line)
    for rule_id, lines in sorted(by_rule.items()):
        name = "expected statuses" if rule_id == "-" else rule_id
        print(f"{name}: {len(lines)} differences, e.g.")
        for line in lines[:3]:
            print(f"  {line}")
    verdict = "differ" if differences else "agree"
    print(f"{args.scenarios} scenarios: this tree and {args.against} {verdict}"
          + (f" ({len(differences)} differences)" if differences else ""))  # fmt: skip
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
