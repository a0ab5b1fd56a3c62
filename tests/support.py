"""Helpers for the project's tests: scripted targets, the documented example, judging."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pytest_offload import (
    CheckReport,
    NdisStatus,
    NeighborOffloadState,
    OffloadBlockList,
    OffloadCapabilities,
    PathOffloadState,
    PathOffloadStateConst,
    Role,
    TargetChecker,
    TcpOffloadState,
    new_offload,
    take_snapshot,
)
from pytest_offload.harness import RecordingHost

if TYPE_CHECKING:
    import pytest

    from pytest_offload import Observation

S = NdisStatus
CAPS = OffloadCapabilities(tcp_connection_offload_capacity=4)
IPV6 = PathOffloadStateConst(
    source_address=bytes(15) + b"\x01", destination_address=bytes(15) + b"\x02"
)

Behaviour = Callable[[RecordingHost, OffloadBlockList], None]


class FnTarget:
    """A target whose initiate_offload is the given function of (host, root)."""

    def __init__(
        self, host: RecordingHost, behaviour: Behaviour, caps: OffloadCapabilities = CAPS
    ):
        self.host = host
        self.behaviour = behaviour
        self.capabilities = caps

    def initiate_offload(self, root: OffloadBlockList) -> None:
        self.behaviour(self.host, root)


def write(
    statuses: Mapping[str, int | object],
    *,
    contexts: bool = True,
    complete: bool = True,
) -> Behaviour:
    """A behaviour writing ``statuses`` by block path, and a fresh context into every new
    offload it marks offloaded; then completing once."""

    def behave(host: RecordingHost, root: OffloadBlockList) -> None:
        snap = take_snapshot(root)
        for i, block in enumerate(snap.blocks):
            path = snap.path(i)
            if path not in statuses:
                raise KeyError(f"script has no status for {path}")
            status = statuses[path]
            block.status = status
            slot = block.miniport_offload_context
            if (
                contexts
                and snap.roles[i] is Role.NEW_OFFLOAD
                and status in (S.SUCCESS, S.OFFLOAD_PARTIAL_SUCCESS)
                and slot is not None
            ):
                slot.value = object()
        if complete:
            host.initiate_offload_complete(root)

    return behave


def observe(
    tree: OffloadBlockList,
    behaviour: Behaviour,
    caps: OffloadCapabilities = CAPS,
    *,
    host: RecordingHost | None = None,
    timeout: float = 2.0,
) -> Observation:
    host = host or RecordingHost(timeout=timeout)
    return host.run_initiate(FnTarget(host, behaviour, caps), tree, capabilities=caps)


def judge(
    tree: OffloadBlockList,
    behaviour: Behaviour,
    caps: OffloadCapabilities = CAPS,
    *,
    checker: TargetChecker | None = None,
    timeout: float = 2.0,
) -> CheckReport:
    checker = checker or TargetChecker(caps)
    return checker.check(observe(tree, behaviour, caps, timeout=timeout))


def rule_ids(report: CheckReport) -> set[str]:
    return {v.rule_id for v in report.violations}


def chain3(
    neighbor: NeighborOffloadState | None = None,
    path: PathOffloadState | None = None,
    tcp: TcpOffloadState | None = None,
) -> OffloadBlockList:
    """One neighbor, one path, one TCP connection, all new offloads."""
    return new_offload(
        neighbor or NeighborOffloadState(),
        new_offload(path or PathOffloadState(), new_offload(tcp or TcpOffloadState())),
    )


def documented_example(path2: PathOffloadState | None = None) -> OffloadBlockList:
    """Neighbor1 -> {Path1 -> {TCP1, TCP2}, Path2 -> {TCP3}} (domain.md 4.2)."""
    return new_offload(
        NeighborOffloadState(),
        new_offload(
            PathOffloadState(), new_offload(TcpOffloadState()), new_offload(TcpOffloadState())
        ),
        new_offload(path2 or PathOffloadState(), new_offload(TcpOffloadState())),
    )


N1, P1, T1, T2, P2, T3 = (
    "neighbor[0]",
    "neighbor[0].path[0]",
    "neighbor[0].path[0].tcp[0]",
    "neighbor[0].path[0].tcp[1]",
    "neighbor[0].path[1]",
    "neighbor[0].path[1].tcp[0]",
)

#: The documented outcome of the example (rules.md section 4).
DOCUMENTED = {
    N1: S.OFFLOAD_PARTIAL_SUCCESS,
    P1: S.OFFLOAD_PARTIAL_SUCCESS,
    T1: S.SUCCESS,
    T2: S.RESOURCES,
    P2: S.FAILURE,
    T3: S.FAILURE,
}


def line_of(result: pytest.RunResult, rule_id: str) -> str:
    """The summary line of ``rule_id`` in a pytester run's output (its verdict, hits)."""
    for line in result.outlines:
        if line.startswith(rule_id + " "):
            return line
    raise AssertionError(f"no summary line for {rule_id}:\n{result.stdout.str()}")
