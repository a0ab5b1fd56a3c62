"""The initiate rules of rules.md section 4, one module per group.

Importing this package registers every initiate rule in ``CATALOGUE`` and puts the
catalogue in the spec's order.
"""

from __future__ import annotations

from pytest_offload.catalogue import _transport
from pytest_offload.catalogue._initiate import capability, causes, completion, context, status
from pytest_offload.catalogue._registry import CATALOGUE

__all__ = ["CATALOGUE_VERSION", "EXERCISED", "GROUPS", "SPEC_ORDER"]

#: Version of the catalogue's rule set (IDs, grades, meanings); bump on any change.
CATALOGUE_VERSION = "2.0"

#: The order of rules.md section 4, which reports and docs follow.
SPEC_ORDER = (
    "INI-COMPLETE-ONCE",
    "INI-COMPLETE-ROOT",
    "INI-NO-RAISE",
    "INI-STATUS-WRITTEN",
    "INI-STATUS-ALLOWED",
    "INI-HOST-FIELDS-INTACT",
    "INI-NO-TOUCH-AFTER-COMPLETE",
    "INI-SUCCESS-ALL-DEPENDENTS",
    "INI-PARTIAL-NEEDS-FAILED-DEPENDENT",
    "INI-PARTIAL-IS-OFFLOADED",
    "INI-LINKER-STATUS",
    "INI-PLACEHOLDER-SUCCESS",
    "INI-FAILED-SUBTREE",
    "INI-FAILED-SUBTREE-FAILURE",
    "INI-ROOT-SIBLINGS",
    "INI-CONTEXT-ON-SUCCESS",
    "INI-NO-CONTEXT-ON-FAILURE",
    "INI-CONTEXT-UNIQUE",
    "INI-SEND-DATA-KEPT-ON-FAILURE",
    "INI-CODE-LAYER",
    "INI-HW-ADDRESS-CAUSE",
    "INI-VLAN-MISMATCH-CAUSE",
    "INI-RCV-WINDOW-CAUSE",
    "INI-PATH-MTU-CAUSE",
    "INI-CONNECTION-REJECTED-VERSION",
    "INI-CAPACITY",
    "INI-ENTRIES-CAUSE",
    "INI-ADVERTISED-WORKS",
    "INI-DEPTH-FIRST",
    "INI-MALFORMED-TREE",
    "INI-UNKNOWN-LINKER",
    "WIRE-PROTOCOL",
)
CATALOGUE.order(SPEC_ORDER)

#: Group modules in report order.
GROUPS = tuple(m.GROUP for m in (completion, status, context, causes, capability, _transport))

#: When each rule is exercised: what a case must give the target (rules.md 4.1). Decided
#: from the trees handed over and the declaration, never from the target's answers.
EXERCISED = {
    "INI-COMPLETE-ONCE": "any initiate",
    "INI-COMPLETE-ROOT": "any initiate",
    "INI-NO-RAISE": "any initiate",
    "INI-STATUS-WRITTEN": "any initiate that completed",
    "INI-STATUS-ALLOWED": "any initiate that completed",
    "INI-HOST-FIELDS-INTACT": "any initiate that completed",
    "INI-NO-TOUCH-AFTER-COMPLETE": "any initiate that completed",
    "INI-SUCCESS-ALL-DEPENDENTS": "a new offload or linker with a dependent",
    "INI-PARTIAL-NEEDS-FAILED-DEPENDENT": "any non-placeholder block",
    "INI-PARTIAL-IS-OFFLOADED": "a block whose dependent has dependents of its own",
    "INI-LINKER-STATUS": "a linker naming an object the target holds (blocked when the "
    "target never offloaded one)",
    "INI-PLACEHOLDER-SUCCESS": "a placeholder",
    "INI-FAILED-SUBTREE": "a new offload or linker with a dependent",
    "INI-FAILED-SUBTREE-FAILURE": "a block below a new offload or an unknown linker",
    "INI-ROOT-SIBLINGS": "on a fresh target, a root neighbor the declaration predicts to "
    "fail, then a sibling within the declaration (not applicable when the declaration "
    "predicts no root failure)",
    "INI-CONTEXT-ON-SUCCESS": "a new offload",
    "INI-NO-CONTEXT-ON-FAILURE": "a new offload",
    "INI-CONTEXT-UNIQUE": "two new offloads handed to one target, in one initiate or across "
    "initiates",
    "INI-SEND-DATA-KEPT-ON-FAILURE": "a new TCP block with send data",
    "INI-CODE-LAYER": "any non-placeholder block",
    "INI-HW-ADDRESS-CAUSE": "a new neighbor with a zero dl_source_address",
    "INI-VLAN-MISMATCH-CAUSE": "a new neighbor with vlan_id 0 or one of the interface's IDs, "
    "or any new neighbor when the interface has no non-zero VLAN",
    "INI-RCV-WINDOW-CAUSE": "a new TCP block within max_initial_rcv_wnd",
    "INI-PATH-MTU-CAUSE": "a new path block within max_path_mtu",
    "INI-CONNECTION-REJECTED-VERSION": "any block (not applicable from NDIS 6.20)",
    "INI-CAPACITY": "more objects offered, in one initiate or over several, than the declared "
    "capacity (not applicable above 1,000,000)",
    "INI-ENTRIES-CAUSE": "a new TCP (path, neighbor) block while the objects held and offered "
    "stay within the declared capacity",
    "INI-ADVERTISED-WORKS": "a small tree within the declaration, on a fresh target",
    "INI-DEPTH-FIRST": "a single initiate offering more TCP blocks than the capacity, where TCP "
    "capacity is the only limit it hits (not applicable above 1,000,000)",
    "INI-MALFORMED-TREE": "a malformed tree (not applicable with robustness cases off)",
    "INI-UNKNOWN-LINKER": "an unknown linker (not applicable with robustness cases off)",
    "WIRE-PROTOCOL": "any initiate handed to a target in another process (not applicable to "
    "a target in the suite's process)",
}
CATALOGUE.annotate(EXERCISED)
