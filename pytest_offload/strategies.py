"""Public Hypothesis strategies for state trees and their parts (``pytest_offload.strategies``).

The implementation lives in :mod:`pytest_offload.generate`; this module is the stable name.
"""

from __future__ import annotations

from pytest_offload.generate._strategies import (
    malformed_tree_specs,
    neighbor_states,
    path_states,
    scenarios,
    state_trees,
    tcp_states,
    tree_specs,
)

__all__ = [
    "malformed_tree_specs",
    "neighbor_states",
    "path_states",
    "scenarios",
    "state_trees",
    "tcp_states",
    "tree_specs",
]
