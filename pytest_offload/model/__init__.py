"""The model: NDIS status values, capabilities, state structures, the state tree, and the
host/target contract.

Imports nothing above it; ``reference_target`` depends on this layer only."""

from __future__ import annotations

from pytest_offload.model._capabilities import CapabilityError as CapabilityError
from pytest_offload.model._capabilities import OffloadCapabilities as OffloadCapabilities
from pytest_offload.model._contract import Host as Host
from pytest_offload.model._contract import OffloadTarget as OffloadTarget
from pytest_offload.model._contract import TargetFactory as TargetFactory
from pytest_offload.model._lifecycle import HALF_CLOSED as HALF_CLOSED
from pytest_offload.model._lifecycle import LIFECYCLE_OPERATIONS as LIFECYCLE_OPERATIONS
from pytest_offload.model._lifecycle import MANDATORY_REASONS as MANDATORY_REASONS
from pytest_offload.model._lifecycle import NATIVE_VLAN_POISON as NATIVE_VLAN_POISON
from pytest_offload.model._lifecycle import NATIVE_WORD_POISON as NATIVE_WORD_POISON
from pytest_offload.model._lifecycle import POISON as POISON
from pytest_offload.model._lifecycle import REQUEST_TYPES as REQUEST_TYPES
from pytest_offload.model._lifecycle import TYPE_CLASSES as TYPE_CLASSES
from pytest_offload.model._lifecycle import LifecycleHost as LifecycleHost
from pytest_offload.model._lifecycle import LifecycleTarget as LifecycleTarget
from pytest_offload.model._lifecycle import OffloadOperation as OffloadOperation
from pytest_offload.model._lifecycle import TcpOffloadEventType as TcpOffloadEventType
from pytest_offload.model._lifecycle import TcpUploadReason as TcpUploadReason
from pytest_offload.model._lifecycle import is_poisoned as is_poisoned
from pytest_offload.model._lifecycle import poisoned as poisoned
from pytest_offload.model._lifecycle import with_poison as with_poison
from pytest_offload.model._pointer import context_key as context_key
from pytest_offload.model._pointer import is_object_context_type as is_object_context_type
from pytest_offload.model._state import NOT_OFFLOADABLE_STATES as NOT_OFFLOADABLE_STATES
from pytest_offload.model._state import NeighborOffloadState as NeighborOffloadState
from pytest_offload.model._state import NeighborOffloadStateCached as NeighborOffloadStateCached
from pytest_offload.model._state import NeighborOffloadStateConst as NeighborOffloadStateConst
from pytest_offload.model._state import (
    NeighborOffloadStateDelegated as NeighborOffloadStateDelegated,
)
from pytest_offload.model._state import NetBufferList as NetBufferList
from pytest_offload.model._state import PathOffloadState as PathOffloadState
from pytest_offload.model._state import PathOffloadStateCached as PathOffloadStateCached
from pytest_offload.model._state import PathOffloadStateConst as PathOffloadStateConst
from pytest_offload.model._state import PathOffloadStateDelegated as PathOffloadStateDelegated
from pytest_offload.model._state import TcpConnectionState as TcpConnectionState
from pytest_offload.model._state import TcpKeepAlive as TcpKeepAlive
from pytest_offload.model._state import TcpOffloadState as TcpOffloadState
from pytest_offload.model._state import TcpOffloadStateCached as TcpOffloadStateCached
from pytest_offload.model._state import TcpOffloadStateConst as TcpOffloadStateConst
from pytest_offload.model._state import TcpOffloadStateDelegated as TcpOffloadStateDelegated
from pytest_offload.model._state import TcpRetransmit as TcpRetransmit
from pytest_offload.model._status import CAUSE_CODE_LAYERS as CAUSE_CODE_LAYERS
from pytest_offload.model._status import FAILURE_CODES as FAILURE_CODES
from pytest_offload.model._status import INITIATE_CODES as INITIATE_CODES
from pytest_offload.model._status import OFFLOADED_CODES as OFFLOADED_CODES
from pytest_offload.model._status import NdisStatus as NdisStatus
from pytest_offload.model._status import format_status as format_status
from pytest_offload.model._status import initiate_codes as initiate_codes
from pytest_offload.model._status import is_failed as is_failed
from pytest_offload.model._status import is_offloaded as is_offloaded
from pytest_offload.model._tree import LAYER_TYPES as LAYER_TYPES
from pytest_offload.model._tree import LAYERS as LAYERS
from pytest_offload.model._tree import STATE_CLASSES as STATE_CLASSES
from pytest_offload.model._tree import ContextSlot as ContextSlot
from pytest_offload.model._tree import OffloadBlockList as OffloadBlockList
from pytest_offload.model._tree import OffloadStateType as OffloadStateType
from pytest_offload.model._tree import Role as Role
from pytest_offload.model._tree import TreeError as TreeError
from pytest_offload.model._tree import chain as chain
from pytest_offload.model._tree import iter_depth_first as iter_depth_first
from pytest_offload.model._tree import layer_name as layer_name
from pytest_offload.model._tree import linker as linker
from pytest_offload.model._tree import new_offload as new_offload
from pytest_offload.model._tree import placeholder as placeholder
from pytest_offload.model._tree import state_type_of as state_type_of

__all__ = [
    "CAUSE_CODE_LAYERS",
    "FAILURE_CODES",
    "HALF_CLOSED",
    "INITIATE_CODES",
    "LAYERS",
    "LAYER_TYPES",
    "LIFECYCLE_OPERATIONS",
    "MANDATORY_REASONS",
    "NATIVE_VLAN_POISON",
    "NATIVE_WORD_POISON",
    "NOT_OFFLOADABLE_STATES",
    "OFFLOADED_CODES",
    "POISON",
    "REQUEST_TYPES",
    "STATE_CLASSES",
    "TYPE_CLASSES",
    "CapabilityError",
    "ContextSlot",
    "Host",
    "LifecycleHost",
    "LifecycleTarget",
    "NdisStatus",
    "NeighborOffloadState",
    "NeighborOffloadStateCached",
    "NeighborOffloadStateConst",
    "NeighborOffloadStateDelegated",
    "NetBufferList",
    "OffloadBlockList",
    "OffloadCapabilities",
    "OffloadOperation",
    "OffloadStateType",
    "OffloadTarget",
    "PathOffloadState",
    "PathOffloadStateCached",
    "PathOffloadStateConst",
    "PathOffloadStateDelegated",
    "Role",
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
    "chain",
    "context_key",
    "format_status",
    "initiate_codes",
    "is_failed",
    "is_object_context_type",
    "is_offloaded",
    "is_poisoned",
    "iter_depth_first",
    "layer_name",
    "linker",
    "new_offload",
    "placeholder",
    "poisoned",
    "state_type_of",
    "with_poison",
]
