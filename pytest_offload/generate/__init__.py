"""Generation: tree specs, Hypothesis strategies, per-rule aims and scenarios run on a target."""

from __future__ import annotations

from pytest_offload.generate._aims import AIMS as AIMS
from pytest_offload.generate._aims import aim_for as aim_for
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
    "UNKNOWN",
    "BlockSpec",
    "InFlight",
    "ScenarioOutcome",
    "TreeSpec",
    "aim_for",
    "release",
    "run_scenario",
    "stable_generation",
]
