"""Scenarios aimed at each rule's precondition, from the target's declaration.

The bundled suite runs one property per rule; each draws scenarios from the aim below so
that the rule has something to judge in nearly every case. An aim may find the
declaration leaves nothing to provoke (a target without interface VLANs can never owe a
VLAN mismatch): it then says why, and the rule is reported not exercised for that cause.
"""

from __future__ import annotations

from pytest_offload.generate._aims._base import (
    Aim,
    _general,
)
from pytest_offload.generate._aims._capacity import (
    _capacity_cost,
    _depth_first,
    _entries_cause,
    _too_big_capacity,
)
from pytest_offload.generate._aims._causes import (
    _advertised,
    _closing,
    _no_predicted_failure,
    _path_mtu,
    _rcv_window,
    _rejection_exists,
    _root_siblings,
    _source_macs,
    _vlan_mismatch,
)
from pytest_offload.generate._aims._lifecycle import LIFECYCLE_AIMS, SHARED
from pytest_offload.generate._aims._trees import (
    _capacity_edge_or_in_flight,
    _failures,
    _linkers,
    _linking_or_in_flight,
    _malformed,
    _send_data,
    _unknown_linkers,
)

__all__ = ["AIMS", "SHARED", "Aim", "aim_for", "aim_key"]

AIMS: dict[str, Aim] = {
    "INI-LINKER-STATUS": Aim(_linkers),
    "INI-PLACEHOLDER-SUCCESS": Aim(_linkers),
    "INI-CONTEXT-UNIQUE": Aim(_linking_or_in_flight),
    "INI-FAILED-SUBTREE": Aim(_failures),
    "INI-FAILED-SUBTREE-FAILURE": Aim(_failures),
    "INI-ROOT-SIBLINGS": Aim(_root_siblings, _no_predicted_failure),
    "INI-SEND-DATA-KEPT-ON-FAILURE": Aim(_send_data),
    "INI-HW-ADDRESS-CAUSE": Aim(_source_macs),
    "INI-VLAN-MISMATCH-CAUSE": Aim(_vlan_mismatch),
    "INI-RCV-WINDOW-CAUSE": Aim(_rcv_window),
    "INI-PATH-MTU-CAUSE": Aim(_path_mtu),
    "INI-CONNECTION-REJECTED-VERSION": Aim(_closing, _rejection_exists),
    "INI-CAPACITY": Aim(_capacity_edge_or_in_flight, _too_big_capacity, _capacity_cost),
    "INI-ENTRIES-CAUSE": Aim(_entries_cause, cost=_capacity_cost),
    "INI-DEPTH-FIRST": Aim(_depth_first, _too_big_capacity, _capacity_cost),
    "INI-ADVERTISED-WORKS": Aim(_advertised),
    "INI-MALFORMED-TREE": Aim(_malformed, robustness=True),
    "INI-UNKNOWN-LINKER": Aim(_unknown_linkers, robustness=True),
    "WIRE-PROTOCOL": Aim(_general, wire=True),
    **LIFECYCLE_AIMS,
}

_GENERAL = Aim(_general)


def aim_for(rule_id: str) -> Aim:
    """The aim of ``rule_id`` (general scenarios for rules every case exercises)."""
    return AIMS.get(rule_id, _GENERAL)


def aim_key(rule_id: str) -> str:
    """The name of the generation that serves ``rule_id``: its own, or the one it shares."""
    return aim_for(rule_id).shared or rule_id
