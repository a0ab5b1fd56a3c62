"""Transports: how the suite reaches a target that does not live in its own process.

A transport turns a target program into a :class:`~pytest_offload.model.TargetFactory`
whose targets produce the same observations (snapshots and images on the recording host)
as an in-process target, so the catalogue judges every transport alike.

- ``_messages``: the process protocol's messages (msgspec), and its JSON Schema.
- ``codec``: trees to wire blocks and images back onto trees, on either side.
- ``_child``: one child process, its pipes, limits and end.
- ``_handshake``: the handshake a new child answers, and ``reset`` between cases.
- ``_process``: the process transport (``exec:PROGRAM``).
- ``_serve``: the target side of the protocol for Python targets (``pytest-offload serve``).
"""

from __future__ import annotations

from pytest_offload.harness.transports._child import end_all as end_all
from pytest_offload.harness.transports._messages import PROTOCOL_VERSION as PROTOCOL_VERSION
from pytest_offload.harness.transports._messages import protocol_schema as protocol_schema
from pytest_offload.harness.transports._process import PREFIX as EXEC_PREFIX
from pytest_offload.harness.transports._process import ProcessTarget as ProcessTarget
from pytest_offload.harness.transports._process import (
    ProcessTargetFactory as ProcessTargetFactory,
)
from pytest_offload.harness.transports._process import TargetRaised as TargetRaised
from pytest_offload.harness.transports._process import parse_exec as parse_exec
from pytest_offload.harness.transports._serve import serve as serve

__all__ = [
    "EXEC_PREFIX",
    "PROTOCOL_VERSION",
    "ProcessTarget",
    "ProcessTargetFactory",
    "TargetRaised",
    "end_all",
    "parse_exec",
    "protocol_schema",
    "serve",
]
