"""The lifecycle rules of lifecycle.md section 3: terminate, update, invalidate, query.

Importing this package registers them in ``CATALOGUE`` after the initiate rules and puts
the whole catalogue in the specs' order. Rules judge one of three kinds of facts (their
``judges``): an initiate (context and capacity rules counting the lifecycle's states), a
request (terminate, update, invalidate, query) or a step (the events that arrived).
"""

from __future__ import annotations

from pytest_offload.catalogue._initiate import EXERCISED as INITIATE_EXERCISED
from pytest_offload.catalogue._initiate import SPEC_ORDER as INITIATE_ORDER
from pytest_offload.catalogue._lifecycle import capacity, completion, events, state, terminate
from pytest_offload.catalogue._lifecycle._checker import LifecycleChecker
from pytest_offload.catalogue._lifecycle._facts import Named, Request, RequestFacts, StepFacts
from pytest_offload.catalogue._lifecycle._model import (
    HALF_CLOSED,
    LifecycleModel,
    ObjectRecord,
    handle_key,
    is_quiet,
)
from pytest_offload.catalogue._registry import CATALOGUE

__all__ = [
    "GROUPS",
    "HALF_CLOSED",
    "LIFECYCLE_ORDER",
    "NEEDS",
    "LifecycleChecker",
    "LifecycleModel",
    "Named",
    "ObjectRecord",
    "Request",
    "RequestFacts",
    "StepFacts",
    "handle_key",
    "is_quiet",
]

del capacity, completion, events, state, terminate  # imported to register their rules

#: Rule groups of the lifecycle, in report order.
GROUPS = ("lifecycle", "terminate", "update", "query", "invalidate")

#: The order of lifecycle.md section 3.
LIFECYCLE_ORDER = (
    "LIFE-COMPLETE-ONCE",
    "LIFE-NO-RAISE",
    "LIFE-STATUS-ALLOWED",
    "LIFE-HOST-FIELDS-INTACT",
    "LIFE-HEALTHY-SUCCESS",
    "LIFE-CONTEXT-UNIQUE",
    "LIFE-CAPACITY-FREED",
    "LIFE-STATE-WRITTEN",
    "LIFE-DELEGATED-SETTLED",
    "LIFE-FAILURE-SEQUENCE",
    "LIFE-ROBUST-FAILURE",
    "TRM-SEND-DATA-ONCE",
    "TRM-BUFFERED-DATA",
    "TRM-NO-EVENT-AFTER",
    "TRM-ABORTED-SENDS",
    "TRM-UPLOAD-TCP-ONLY",
    "TRM-UPLOAD-NOT-HALF-CLOSED",
    "UPD-QUERY-SHOWS",
    "UPD-RELINK",
    "QRY-CONST-CACHED",
    "INV-STILL-OFFLOADED",
    "INV-INVALID-STATE-REASON",
)
CATALOGUE.order(INITIATE_ORDER + LIFECYCLE_ORDER)

#: The operations each lifecycle rule needs besides INITIATE (lifecycle.md section 3);
#: a target that does not declare them has the rule "not applicable". LIFE-STATE-WRITTEN
#: and LIFE-DELEGATED-SETTLED judge whichever of terminate and query is declared.
NEEDS: dict[str, frozenset[str]] = {
    rule_id: frozenset({"terminate"})
    for rule_id in LIFECYCLE_ORDER
    if rule_id.startswith(("LIFE-", "TRM-"))
}
NEEDS |= {
    "UPD-QUERY-SHOWS": frozenset({"terminate", "update", "query"}),
    "UPD-RELINK": frozenset({"terminate", "update"}),
    "QRY-CONST-CACHED": frozenset({"terminate", "query"}),
    "INV-STILL-OFFLOADED": frozenset({"terminate", "invalidate"}),
    "INV-INVALID-STATE-REASON": frozenset({"terminate", "invalidate"}),
}

#: When each lifecycle rule is exercised (lifecycle.md section 3), from the requests the
#: state machine hands over, never from the target's answers.
EXERCISED = {
    "LIFE-COMPLETE-ONCE": "any lifecycle request",
    "LIFE-NO-RAISE": "any lifecycle request",
    "LIFE-STATUS-ALLOWED": "every block of a lifecycle request that completed",
    "LIFE-HOST-FIELDS-INTACT": "any lifecycle request that completed",
    "LIFE-HEALTHY-SUCCESS": "a named block of a request to a healthy target, not a "
    "robustness case",
    "LIFE-CONTEXT-UNIQUE": "an initiate with a new offload after a terminate or invalidate",
    "LIFE-CAPACITY-FREED": "an initiate offering objects of a layer that fit only because "
    "objects of it were terminated with SUCCESS",
    "LIFE-STATE-WRITTEN": "a named block of a terminate or query",
    "LIFE-DELEGATED-SETTLED": "a terminate or query asking a TCP connection's delegated state",
    "LIFE-FAILURE-SEQUENCE": "target-triggered: the target's own FAILURE on a terminate, "
    "invalidate or query TCP block",
    "LIFE-ROBUST-FAILURE": "a robustness case (not applicable with robustness cases off)",
    "TRM-SEND-DATA-ONCE": "a terminate of a connection offloaded with send data",
    "TRM-BUFFERED-DATA": "a terminate of a connection offloaded with buffered data",
    "TRM-NO-EVENT-AFTER": "a terminate of a connection",
    "TRM-ABORTED-SENDS": "target-triggered: a terminate of a connection with outstanding "
    "send data that the target indicated ABORT for",
    "TRM-UPLOAD-TCP-ONLY": "a step while a live neighbor or path exists",
    "TRM-UPLOAD-NOT-HALF-CLOSED": "a step while a live connection offloaded in FIN_WAIT1, "
    "FIN_WAIT2 or CLOSE_WAIT exists",
    "UPD-QUERY-SHOWS": "a query of an object whose update succeeded",
    "UPD-RELINK": "a terminate of a neighbor whose paths were all relinked, or a query or "
    "terminate of a relinked path (not applicable when neighbor_capacity < 2)",
    "QRY-CONST-CACHED": "a query asking const or never-updated cached values",
    "INV-STILL-OFFLOADED": "an initiate that fits the capacity only if invalidated objects "
    "are not counted",
    "INV-INVALID-STATE-REASON": "a step while an invalidated object and a live connection "
    "that depends on no invalidated state exist",
}
CATALOGUE.annotate(INITIATE_EXERCISED | EXERCISED)
