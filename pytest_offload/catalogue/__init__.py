"""The catalogue: the rule registry, the facts rules share, the checker; rules.md section 4.

The initiate rules live in ``_initiate/``, one module per group; the transport rule
(WIRE-PROTOCOL) in ``_transport``; the lifecycle rules (terminate, update, invalidate,
query) in ``_lifecycle/``.

Importing this package registers every rule in :data:`CATALOGUE`.
"""

from __future__ import annotations

from pytest_offload.catalogue._checker import LATE_RULES as LATE_RULES
from pytest_offload.catalogue._checker import REJUDGED_RULES as REJUDGED_RULES
from pytest_offload.catalogue._checker import CheckReport as CheckReport
from pytest_offload.catalogue._checker import TargetChecker as TargetChecker
from pytest_offload.catalogue._checker import check as check
from pytest_offload.catalogue._checker import expected_statuses as expected_statuses
from pytest_offload.catalogue._initiate import CATALOGUE_VERSION as CATALOGUE_VERSION
from pytest_offload.catalogue._initiate import GROUPS as INITIATE_GROUPS
from pytest_offload.catalogue._initiate import SPEC_ORDER as INITIATE_ORDER
from pytest_offload.catalogue._lifecycle import GROUPS as LIFECYCLE_GROUPS
from pytest_offload.catalogue._lifecycle import LIFECYCLE_ORDER as LIFECYCLE_ORDER
from pytest_offload.catalogue._lifecycle import NEEDS as NEEDS
from pytest_offload.catalogue._lifecycle import LifecycleChecker as LifecycleChecker
from pytest_offload.catalogue._lifecycle import Named as Named
from pytest_offload.catalogue._lifecycle import ObjectRecord as ObjectRecord
from pytest_offload.catalogue._lifecycle import Request as Request
from pytest_offload.catalogue._lifecycle import handle_key as handle_key
from pytest_offload.catalogue._registry import CATALOGUE as CATALOGUE
from pytest_offload.catalogue._registry import Grade as Grade
from pytest_offload.catalogue._registry import Rule as Rule
from pytest_offload.catalogue._registry import RuleOutcome as RuleOutcome
from pytest_offload.catalogue._registry import Violation as Violation

#: Every rule group, in report order.
GROUPS = INITIATE_GROUPS + LIFECYCLE_GROUPS
#: The catalogue's order: rules.md section 4, then lifecycle.md section 3.
SPEC_ORDER = INITIATE_ORDER + LIFECYCLE_ORDER

__all__ = [
    "CATALOGUE",
    "CATALOGUE_VERSION",
    "GROUPS",
    "LATE_RULES",
    "LIFECYCLE_ORDER",
    "NEEDS",
    "REJUDGED_RULES",
    "SPEC_ORDER",
    "CheckReport",
    "Grade",
    "LifecycleChecker",
    "Named",
    "ObjectRecord",
    "Request",
    "Rule",
    "RuleOutcome",
    "TargetChecker",
    "Violation",
    "check",
    "expected_statuses",
    "handle_key",
]
