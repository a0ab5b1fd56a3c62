"""pytest-offload: a conformance suite for NDIS 6.x TCP chimney offload targets."""

from __future__ import annotations

from pytest_offload.adapter import Host, OffloadTarget, TargetFactory
from pytest_offload.capabilities import CapabilityError, OffloadCapabilities
from pytest_offload.checker import CheckReport, TargetChecker, check, expected_statuses
from pytest_offload.observation import Completion, Observation, RaisedError
from pytest_offload.rules import CATALOGUE, CATALOGUE_VERSION, Grade, Rule, Violation
from pytest_offload.runner import ScenarioOutcome, run_scenario
from pytest_offload.snapshot import TreeImage, TreeSnapshot, capture, take_snapshot
from pytest_offload.spec import BlockSpec, InFlight, TreeSpec
from pytest_offload.state import (
    NeighborOffloadState,
    NeighborOffloadStateCached,
    NeighborOffloadStateConst,
    NeighborOffloadStateDelegated,
    NetBufferList,
    PathOffloadState,
    PathOffloadStateCached,
    PathOffloadStateConst,
    PathOffloadStateDelegated,
    TcpConnectionState,
    TcpKeepAlive,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
    TcpRetransmit,
)
from pytest_offload.status import (
    NdisStatus,
    format_status,
    initiate_codes,
    is_failed,
    is_offloaded,
)
from pytest_offload.tree import (
    ContextSlot,
    OffloadBlockList,
    OffloadStateType,
    Role,
    TreeError,
    chain,
    iter_depth_first,
    linker,
    new_offload,
    placeholder,
)
from pytest_offload.verdict import ConformanceError

__version__ = "0.1.0"

__all__ = [
    "CATALOGUE",
    "CATALOGUE_VERSION",
    "BlockSpec",
    "CapabilityError",
    "CheckReport",
    "Completion",
    "ConformanceError",
    "ContextSlot",
    "Grade",
    "Host",
    "InFlight",
    "NdisStatus",
    "NeighborOffloadState",
    "NeighborOffloadStateCached",
    "NeighborOffloadStateConst",
    "NeighborOffloadStateDelegated",
    "NetBufferList",
    "Observation",
    "OffloadBlockList",
    "OffloadCapabilities",
    "OffloadStateType",
    "OffloadTarget",
    "PathOffloadState",
    "PathOffloadStateCached",
    "PathOffloadStateConst",
    "PathOffloadStateDelegated",
    "RaisedError",
    "Role",
    "Rule",
    "ScenarioOutcome",
    "TargetChecker",
    "TargetFactory",
    "TcpConnectionState",
    "TcpKeepAlive",
    "TcpOffloadState",
    "TcpOffloadStateCached",
    "TcpOffloadStateConst",
    "TcpOffloadStateDelegated",
    "TcpRetransmit",
    "TreeError",
    "TreeImage",
    "TreeSnapshot",
    "TreeSpec",
    "Violation",
    "__version__",
    "capture",
    "chain",
    "check",
    "expected_statuses",
    "format_status",
    "initiate_codes",
    "is_failed",
    "is_offloaded",
    "iter_depth_first",
    "linker",
    "new_offload",
    "placeholder",
    "run_scenario",
    "take_snapshot",
]
