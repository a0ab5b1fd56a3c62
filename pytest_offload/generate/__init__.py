"""Generation: tree specs, Hypothesis strategies, per-rule aims and scenarios run on a target."""

from __future__ import annotations

from pytest_offload.generate._aims import AIMS as AIMS
from pytest_offload.generate._aims import aim_for as aim_for
from pytest_offload.generate._aims import aim_key as aim_key
from pytest_offload.generate._lifecycle import LIFECYCLE_STEPS as LIFECYCLE_STEPS
from pytest_offload.generate._lifecycle import LifecycleSession as LifecycleSession
from pytest_offload.generate._lifecycle import describe as describe
from pytest_offload.generate._lifecycle import machine_for as machine_for
from pytest_offload.generate._lifecycle import run_program as run_program
from pytest_offload.generate._runner import UNKNOWN as UNKNOWN
from pytest_offload.generate._runner import ScenarioOutcome as ScenarioOutcome
from pytest_offload.generate._runner import release as release
from pytest_offload.generate._runner import run_scenario as run_scenario
from pytest_offload.generate._spec import BlockSpec as BlockSpec
from pytest_offload.generate._spec import InFlight as InFlight
from pytest_offload.generate._spec import TreeSpec as TreeSpec
from pytest_offload.generate._stable import stable_generation as stable_generation

__all__ = [
    "AIMS",
    "LIFECYCLE_STEPS",
    "UNKNOWN",
    "BlockSpec",
    "InFlight",
    "LifecycleSession",
    "ScenarioOutcome",
    "TreeSpec",
    "aim_for",
    "aim_key",
    "describe",
    "machine_for",
    "release",
    "run_program",
    "run_scenario",
    "stable_generation",
]
