"""The initiate rules of rules.md section 4, one module per group.

Importing this package registers every initiate rule in ``CATALOGUE`` and puts the
catalogue in the spec's order.
"""

from __future__ import annotations

from pytest_offload.catalogue._initiate import capability, causes, completion, context, status
from pytest_offload.catalogue._registry import CATALOGUE

__all__ = ["CATALOGUE_VERSION", "GROUPS", "SPEC_ORDER"]

#: Version of the catalogue's rule set (IDs, grades, meanings); bump on any change.
CATALOGUE_VERSION = "1.1"

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
)
CATALOGUE.order(SPEC_ORDER)

#: Group modules in report order.
GROUPS = tuple(m.GROUP for m in (completion, status, context, causes, capability))
