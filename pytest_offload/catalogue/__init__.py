"""The catalogue: the rule registry, the facts rules share, the checker; rules.md section 4.

The initiate rules live in ``_initiate/``, one module per group; the transport rule
(WIRE-PROTOCOL) in ``_transport``.

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
from pytest_offload.catalogue._initiate import GROUPS as GROUPS
from pytest_offload.catalogue._initiate import SPEC_ORDER as SPEC_ORDER
from pytest_offload.catalogue._registry import CATALOGUE as CATALOGUE
from pytest_offload.catalogue._registry import Grade as Grade
from pytest_offload.catalogue._registry import Rule as Rule
from pytest_offload.catalogue._registry import RuleOutcome as RuleOutcome
from pytest_offload.catalogue._registry import Violation as Violation

__all__ = [
    "CATALOGUE",
    "CATALOGUE_VERSION",
    "GROUPS",
    "LATE_RULES",
    "REJUDGED_RULES",
    "SPEC_ORDER",
    "CheckReport",
    "Grade",
    "Rule",
    "RuleOutcome",
    "TargetChecker",
    "Violation",
    "check",
    "expected_statuses",
]
