"""Rules on the events a target indicates (``NdisTcpOffloadEventHandler``), judged at each
step of a case against the model as it stands then."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_offload.catalogue._registry import Grade, rule
from pytest_offload.model import TcpOffloadEventType, TcpUploadReason

if TYPE_CHECKING:
    from pytest_offload.catalogue._lifecycle._facts import StepFacts
    from pytest_offload.catalogue._registry import RuleOutcome
    from pytest_offload.harness import Event

MUST = Grade.MUST
_TYPES = frozenset(int(t) for t in TcpOffloadEventType)
_REASONS = frozenset(int(r) for r in TcpUploadReason)


def _describe(event: Event) -> str:
    try:
        kind = TcpOffloadEventType(event.event_type).name  # type: ignore[arg-type]
    except (ValueError, TypeError):
        kind = f"type {event.event_type!r}"
    if event.event_type == TcpOffloadEventType.RETRIEVE:
        try:
            reason = TcpUploadReason(event.information).name  # type: ignore[arg-type]
        except (ValueError, TypeError):
            reason = f"reason {event.information!r}"
        return f"{kind} ({reason})"
    return kind


@rule(
    "TRM-UPLOAD-TCP-ONLY",
    MUST,
    group="terminate",
    judges="step",
    text="Events name an offloaded TCP connection by its handle: never a neighbor or path, a "
    "TCP block whose initiate failed, or a connection terminated with SUCCESS; type 1-4, "
    "reason 1-11.",
    source="lifecycle.md 3; domain.md 5.2 [C:terminate-offload-requested-by-an-offload-target]",
)
def upload_tcp_only(facts: StepFacts, out: RuleOutcome) -> None:
    model = facts.model
    if model.live("neighbor") or model.live("path"):
        out.hit()
    for event, record in zip(facts.events, facts.records, strict=True):
        what = _describe(event)
        if event.event_type not in _TYPES or isinstance(event.event_type, bool):
            out.violate(None, f"an event of {what}", "type 1-4 (TCP_OFFLOAD_EVENT_TYPE)")
            continue
        if event.event_type == TcpOffloadEventType.RETRIEVE and event.information not in _REASONS:
            out.violate(None, f"{what}", "a TCP_UPLOAD_REASON of 1-11")
            continue
        if record is None:
            known = event.handle is not None and _handle_known(facts, event)
            out.violate(
                None,
                f"{what} for the handle of a TCP block whose initiate failed"
                if known
                else f"{what} for handle {event.handle!r}, which names no offloaded object",
                "the ndis_offload_handle of an offloaded TCP connection",
            )
        elif record.layer != "tcp":
            out.violate(
                None,
                f"{what} for the {record.layer} offloaded at {record.where}",
                "events for TCP connections only (never a neighbor or path)",
            )


def _handle_known(facts: StepFacts, event: Event) -> bool:
    from pytest_offload.catalogue._lifecycle._model import handle_key  # noqa: PLC0415

    return handle_key(event.handle) in facts.model.handles


@rule(
    "TRM-UPLOAD-NOT-HALF-CLOSED",
    MUST,
    group="terminate",
    judges="step",
    reading=True,
    text="No RETRIEVE for a connection in FIN_WAIT1, FIN_WAIT2 or CLOSE_WAIT but with "
    "HARDWARE_FAILURE: the target keeps servicing it or indicates ABORT; "
    "INV-INVALID-STATE-REASON does not override this.",
    source="lifecycle.md 3; domain.md 5.2 [R:nc-ndischimney-ndis_tcp_offload_event_indicate], 5.1",
)
def not_half_closed(facts: StepFacts, out: RuleOutcome) -> None:
    model = facts.model
    if any(r.half_closed for r in model.live("tcp")):
        out.hit()
    for event, record in zip(facts.events, facts.records, strict=True):
        if record is None or record.layer != "tcp" or not record.half_closed:
            continue
        if (
            event.event_type == TcpOffloadEventType.RETRIEVE
            and event.information != TcpUploadReason.HARDWARE_FAILURE
        ):
            out.violate(
                None,
                f"{_describe(event)} for the connection offloaded in "
                f"{record.offloaded.delegated.state.name} at {record.where}",
                "no upload request for a half-closed connection (but for HARDWARE_FAILURE)",
            )


@rule(
    "INV-INVALID-STATE-REASON",
    MUST,
    group="invalidate",
    judges="step",
    text="INVALID_STATE only for a connection invalidated or on an invalidated path or neighbor.",
    source="lifecycle.md 3; domain.md 5.2, 5.4",
)
def invalid_state_reason(facts: StepFacts, out: RuleOutcome) -> None:
    model = facts.model
    live = model.live("tcp")
    if model.ledger.invalidated and any(not model.on_invalid_state(r) for r in live):
        out.hit()
    for event, record in zip(facts.events, facts.records, strict=True):
        if record is None or record.layer != "tcp":
            continue
        if (
            event.event_type == TcpOffloadEventType.RETRIEVE
            and event.information == TcpUploadReason.INVALID_STATE
            and not model.may_be_on_invalid_state(record)  # reading 19
        ):
            out.violate(
                None,
                f"RETRIEVE (INVALID_STATE) for the connection offloaded at {record.where}, "
                "which depends on no invalidated state",
                "INVALID_STATE only for a connection that is, or depends on, invalidated state",
            )
