"""The harness: the target contract and loading, the recording host, snapshots, observations."""

from __future__ import annotations

from pytest_offload.harness._adapter import TargetLoadError as TargetLoadError
from pytest_offload.harness._adapter import load_factory as load_factory
from pytest_offload.harness._host import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from pytest_offload.harness._host import PendingInitiate as PendingInitiate
from pytest_offload.harness._host import RecordingHost as RecordingHost
from pytest_offload.harness._host import never_join as never_join
from pytest_offload.harness._observation import Completion as Completion
from pytest_offload.harness._observation import Event as Event
from pytest_offload.harness._observation import MemoryWrite as MemoryWrite
from pytest_offload.harness._observation import Observation as Observation
from pytest_offload.harness._observation import RaisedError as RaisedError
from pytest_offload.harness._observation import SendCompletion as SendCompletion
from pytest_offload.harness._observation import TargetCrashed as TargetCrashed
from pytest_offload.harness._snapshot import HOST_FIELD_NAMES as HOST_FIELD_NAMES
from pytest_offload.harness._snapshot import NO_SLOT as NO_SLOT
from pytest_offload.harness._snapshot import TARGET_FIELD_NAMES as TARGET_FIELD_NAMES
from pytest_offload.harness._snapshot import TreeImage as TreeImage
from pytest_offload.harness._snapshot import TreeSnapshot as TreeSnapshot
from pytest_offload.harness._snapshot import capture as capture
from pytest_offload.harness._snapshot import take_snapshot as take_snapshot

__all__ = [
    "DEFAULT_TIMEOUT",
    "HOST_FIELD_NAMES",
    "NO_SLOT",
    "TARGET_FIELD_NAMES",
    "Completion",
    "Event",
    "MemoryWrite",
    "Observation",
    "PendingInitiate",
    "RaisedError",
    "RecordingHost",
    "SendCompletion",
    "TargetCrashed",
    "TargetLoadError",
    "TreeImage",
    "TreeSnapshot",
    "capture",
    "load_factory",
    "never_join",
    "take_snapshot",
]
