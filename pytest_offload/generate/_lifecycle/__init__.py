"""Lifecycle cases: the steps, the request trees, the session that runs them on a fresh
target, and the Hypothesis state machine that draws them (lifecycle.md section 5)."""

from __future__ import annotations

from pytest_offload.generate._lifecycle._machine import machine_for, offload_plans
from pytest_offload.generate._lifecycle._session import LifecycleSession, run_program
from pytest_offload.generate._lifecycle._steps import (
    Answer,
    Invalidate,
    Offload,
    PathPlan,
    Query,
    Relink,
    Step,
    TcpPlan,
    Terminate,
    Together,
    Update,
    describe,
)

#: The step classes of a lifecycle program (a case's ``specs``).
LIFECYCLE_STEPS = (Offload, Terminate, Update, Relink, Invalidate, Query, Answer, Together)

__all__ = [
    "LIFECYCLE_STEPS",
    "Answer",
    "Invalidate",
    "LifecycleSession",
    "Offload",
    "PathPlan",
    "Query",
    "Relink",
    "Step",
    "TcpPlan",
    "Terminate",
    "Together",
    "Update",
    "describe",
    "machine_for",
    "offload_plans",
    "run_program",
]
