"""pytest-offload: a conformance suite for NDIS 6.x TCP chimney offload targets.

The public API: every name here is documented in docs/api.md, and a test holds the two equal.
The layers behind it are subpackages (ARCHITECTURE.md); ``pytest_offload.strategies`` holds
the public Hypothesis strategies.
"""

from __future__ import annotations

from pytest_offload._version import __version__ as __version__
from pytest_offload.catalogue import CATALOGUE as CATALOGUE
from pytest_offload.catalogue import CATALOGUE_VERSION as CATALOGUE_VERSION
from pytest_offload.catalogue import CheckReport as CheckReport
from pytest_offload.catalogue import Grade as Grade
from pytest_offload.catalogue import Rule as Rule
from pytest_offload.catalogue import TargetChecker as TargetChecker
from pytest_offload.catalogue import Violation as Violation
from pytest_offload.catalogue import check as check
from pytest_offload.catalogue import expected_statuses as expected_statuses
from pytest_offload.generate import BlockSpec as BlockSpec
from pytest_offload.generate import InFlight as InFlight
from pytest_offload.generate import LifecycleSession as LifecycleSession
from pytest_offload.generate import ScenarioOutcome as ScenarioOutcome
from pytest_offload.generate import TreeSpec as TreeSpec
from pytest_offload.generate import run_program as run_program
from pytest_offload.generate import run_scenario as run_scenario
from pytest_offload.harness import Completion as Completion
from pytest_offload.harness import Observation as Observation
from pytest_offload.harness import RaisedError as RaisedError
from pytest_offload.harness import RecordingHost as RecordingHost
from pytest_offload.harness import TreeImage as TreeImage
from pytest_offload.harness import TreeSnapshot as TreeSnapshot
from pytest_offload.harness import capture as capture
from pytest_offload.harness import take_snapshot as take_snapshot
from pytest_offload.model import MANDATORY_REASONS as MANDATORY_REASONS
from pytest_offload.model import POISON as POISON
from pytest_offload.model import CapabilityError as CapabilityError
from pytest_offload.model import ContextSlot as ContextSlot
from pytest_offload.model import Host as Host
from pytest_offload.model import LifecycleHost as LifecycleHost
from pytest_offload.model import LifecycleTarget as LifecycleTarget
from pytest_offload.model import NdisStatus as NdisStatus
from pytest_offload.model import NeighborOffloadState as NeighborOffloadState
from pytest_offload.model import NeighborOffloadStateCached as NeighborOffloadStateCached
from pytest_offload.model import NeighborOffloadStateConst as NeighborOffloadStateConst
from pytest_offload.model import NeighborOffloadStateDelegated as NeighborOffloadStateDelegated
from pytest_offload.model import NetBufferList as NetBufferList
from pytest_offload.model import OffloadBlockList as OffloadBlockList
from pytest_offload.model import OffloadCapabilities as OffloadCapabilities
from pytest_offload.model import OffloadOperation as OffloadOperation
from pytest_offload.model import OffloadStateType as OffloadStateType
from pytest_offload.model import OffloadTarget as OffloadTarget
from pytest_offload.model import PathOffloadState as PathOffloadState
from pytest_offload.model import PathOffloadStateCached as PathOffloadStateCached
from pytest_offload.model import PathOffloadStateConst as PathOffloadStateConst
from pytest_offload.model import PathOffloadStateDelegated as PathOffloadStateDelegated
from pytest_offload.model import Role as Role
from pytest_offload.model import TargetFactory as TargetFactory
from pytest_offload.model import TcpConnectionState as TcpConnectionState
from pytest_offload.model import TcpKeepAlive as TcpKeepAlive
from pytest_offload.model import TcpOffloadEventType as TcpOffloadEventType
from pytest_offload.model import TcpOffloadState as TcpOffloadState
from pytest_offload.model import TcpOffloadStateCached as TcpOffloadStateCached
from pytest_offload.model import TcpOffloadStateConst as TcpOffloadStateConst
from pytest_offload.model import TcpOffloadStateDelegated as TcpOffloadStateDelegated
from pytest_offload.model import TcpRetransmit as TcpRetransmit
from pytest_offload.model import TcpUploadReason as TcpUploadReason
from pytest_offload.model import TreeError as TreeError
from pytest_offload.model import chain as chain
from pytest_offload.model import format_status as format_status
from pytest_offload.model import initiate_codes as initiate_codes
from pytest_offload.model import is_failed as is_failed
from pytest_offload.model import is_offloaded as is_offloaded
from pytest_offload.model import is_poisoned as is_poisoned
from pytest_offload.model import iter_depth_first as iter_depth_first
from pytest_offload.model import linker as linker
from pytest_offload.model import new_offload as new_offload
from pytest_offload.model import placeholder as placeholder
from pytest_offload.model import poisoned as poisoned
from pytest_offload.report import ConformanceError as ConformanceError

__all__ = [
    "CATALOGUE",
    "CATALOGUE_VERSION",
    "MANDATORY_REASONS",
    "POISON",
    "BlockSpec",
    "CapabilityError",
    "CheckReport",
    "Completion",
    "ConformanceError",
    "ContextSlot",
    "Grade",
    "Host",
    "InFlight",
    "LifecycleHost",
    "LifecycleSession",
    "LifecycleTarget",
    "NdisStatus",
    "NeighborOffloadState",
    "NeighborOffloadStateCached",
    "NeighborOffloadStateConst",
    "NeighborOffloadStateDelegated",
    "NetBufferList",
    "Observation",
    "OffloadBlockList",
    "OffloadCapabilities",
    "OffloadOperation",
    "OffloadStateType",
    "OffloadTarget",
    "PathOffloadState",
    "PathOffloadStateCached",
    "PathOffloadStateConst",
    "PathOffloadStateDelegated",
    "RaisedError",
    "RecordingHost",
    "Role",
    "Rule",
    "ScenarioOutcome",
    "TargetChecker",
    "TargetFactory",
    "TcpConnectionState",
    "TcpKeepAlive",
    "TcpOffloadEventType",
    "TcpOffloadState",
    "TcpOffloadStateCached",
    "TcpOffloadStateConst",
    "TcpOffloadStateDelegated",
    "TcpRetransmit",
    "TcpUploadReason",
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
    "is_poisoned",
    "iter_depth_first",
    "linker",
    "new_offload",
    "placeholder",
    "poisoned",
    "run_program",
    "run_scenario",
    "take_snapshot",
]
