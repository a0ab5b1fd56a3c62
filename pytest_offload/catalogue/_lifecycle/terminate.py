"""TRM rules on a terminate: send data handed back exactly once, buffered data returned,
no event after the completion, aborted sends completed as such."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue._registry import Grade, rule
from pytest_offload.model import (
    POISON,
    NdisStatus,
    TcpOffloadEventType,
    context_key,
    format_status,
)

if TYPE_CHECKING:
    from pytest_offload.catalogue._lifecycle._facts import Named, RequestFacts
    from pytest_offload.catalogue._registry import RuleOutcome

GROUP = "terminate"
MUST, SHOULD = Grade.MUST, Grade.SHOULD
_SUCCESS = int(NdisStatus.SUCCESS)
_ABORTED = int(NdisStatus.REQUEST_ABORTED)
_UPLOADING = int(NdisStatus.UPLOAD_IN_PROGRESS)


def _tcp_blocks(facts: RequestFacts) -> list[Named]:
    if facts.operation != "terminate":
        return []
    return [
        n
        for n in facts.named
        if not n.offending and n.record is not None and n.record.layer == "tcp"
    ]


def _chain(facts: RequestFacts, named: Named) -> tuple[Any, ...]:
    if facts.image is None:
        return ()
    chain: Any = facts.image.chains[named.position]
    try:
        return tuple(chain) if chain else ()
    except TypeError:
        return (chain,)


@rule(
    "TRM-SEND-DATA-ONCE",
    MUST,
    group=GROUP,
    judges="request",
    reading=True,
    text="By the completion, never later, each NBL not yet completed is, exactly once, either "
    "completed with a non-SUCCESS status (UPLOAD_IN_PROGRESS, or REQUEST_ABORTED after ABORT) "
    "or, on terminate SUCCESS only, chained in original order, with send_data_head/_tail on "
    "the chain's ends. No NBL completes with SUCCESS.",
    source="lifecycle.md 3, H9; domain.md 5.1 [R:nf-ndischimney-ndismterminateoffloadcomplete]",
)
def send_data_once(facts: RequestFacts, out: RuleOutcome) -> None:
    done = facts.completed_at()
    for named in _tcp_blocks(facts):
        record = named.record
        assert record is not None
        if not record.sends:
            if done is not None and facts.succeeded(named):
                _check_no_ends(facts, named, out, hit=True)
            continue
        out.hit()
        if done is None:
            continue
        chain = _chain(facts, named)
        success = facts.succeeded(named)
        chained = {id(n) for n in chain}
        model = facts.model
        aborts = [
            e.entered
            for e in facts.events
            if context_key(e.handle) == record.handle_key
            and e.event_type == TcpOffloadEventType.ABORT
        ]
        for index, nbl in enumerate(named.outstanding):
            calls = [c for c in model.completions_of(nbl) if c.at >= facts.observation.started]
            early = [c for c in calls if c.at <= done]
            late = [c for c in calls if c.at > done]
            times = len(early) + (id(nbl) in chained)
            where = f"NBL {index} of the send data"
            for call in calls:
                if call.status == _SUCCESS:
                    continue  # reported below
                aborted = call.status == _ABORTED and any(t <= call.at for t in aborts)
                if call.status != _UPLOADING and not aborted:
                    out.violate(
                        named.position,
                        f"{where} send-completed with {format_status(call.status)}"
                        + (" without an ABORT first" if call.status == _ABORTED else ""),
                        "UPLOAD_IN_PROGRESS, or REQUEST_ABORTED after an ABORT",
                    )
            if not success:
                # A terminate that failed leaves the object in doubt: its send data is
                # handed back by the terminate that follows (REQUEST_ABORTED after the
                # ABORT of the corrupt-hardware sequence), judged there [reading].
                if times > 1:
                    out.violate(
                        named.position,
                        f"{where} handed back {times} times",
                        "each outstanding NBL handed back exactly once",
                    )
                continue
            if late:
                out.violate(
                    named.position,
                    f"{where} send-completed {(late[0].at - done) * 1000:.1f} ms after the "
                    "terminate completed",
                    "every NBL handed back by the completion, never later",
                )
            if any(c.status == _SUCCESS for c in calls):
                out.violate(
                    named.position,
                    f"{where} send-completed with SUCCESS",
                    "UPLOAD_IN_PROGRESS or REQUEST_ABORTED: no peer acknowledged it (H9)",
                )
            if times == 0 and not late:
                out.violate(
                    named.position,
                    f"{where} neither send-completed nor in net_buffer_list_chain",
                    "each outstanding NBL handed back exactly once",
                )
            elif times > 1:
                out.violate(
                    named.position,
                    f"{where} handed back {times} times (completed {len(early)}x"
                    f"{', and chained' if id(nbl) in chained else ''})",
                    "each outstanding NBL handed back exactly once",
                )
        if chain and not success:
            out.violate(
                named.position,
                f"{len(chain)} NBL(s) chained on {format_status(facts.status(named.position))}",
                "net_buffer_list_chain None unless the terminate succeeded",
            )
        if chain and success:
            _check_order(facts, named, chain, out)
        elif success:
            _check_no_ends(facts, named, out)


def _check_no_ends(facts: RequestFacts, named: Named, out: Any, *, hit: bool = False) -> None:
    """Nothing chained: send_data_head and send_data_tail are NULL (a host follows them).
    ``hit``: a connection without send data, an opportunity only when it set them."""
    state = facts.state_after(named)
    ends = [
        name
        for name in ("send_data_head", "send_data_tail")
        if getattr(state, name, None) not in (None, POISON)
    ]
    if not ends:
        return
    if hit:
        out.hit()
    out.violate(
        named.position,
        f"{' and '.join(ends)} set with no NBL chained",
        "send_data_head and send_data_tail NULL when net_buffer_list_chain is",
    )


def _check_order(facts: RequestFacts, named: Named, chain: tuple[Any, ...], out: Any) -> None:
    original = {id(n): i for i, n in enumerate(named.outstanding)}
    order = [original.get(id(n), -1) for n in chain]
    if -1 in order:
        out.violate(
            named.position,
            "net_buffer_list_chain holds an NBL that was not outstanding send data",
            "only this connection's unsent or unacknowledged NBLs",
        )
    elif order != sorted(order):
        out.violate(named.position, f"chained in the order {order}", "their original order")
    state = facts.state_after(named)
    head = getattr(state, "send_data_head", POISON)
    tail = getattr(state, "send_data_tail", POISON)
    if head is POISON or tail is POISON:
        return  # unwritten: LIFE-STATE-WRITTEN's
    if head is not chain[0] or tail is not chain[-1]:
        out.violate(
            named.position,
            "send_data_head/send_data_tail not on the chain's first and last NBL",
            "send_data_head = the chain's first NBL, send_data_tail = its last",
        )


@rule(
    "TRM-BUFFERED-DATA",
    SHOULD,
    group=GROUP,
    judges="request",
    reading=True,
    text="Buffered data given at offload returns in buffered_data on SUCCESS, same bytes.",
    source="lifecycle.md 3; domain.md 4.3, 5.1",
)
def buffered_data(facts: RequestFacts, out: RuleOutcome) -> None:
    for named in _tcp_blocks(facts):
        record = named.record
        assert record is not None
        if not record.has_buffered:
            continue
        out.hit()
        if not facts.succeeded(named):
            continue
        returned: Any = getattr(facts.state_after(named), "buffered_data", POISON)
        if returned is POISON:
            continue  # unwritten: LIFE-STATE-WRITTEN's
        try:
            data = b"".join(bytes(getattr(n, "data", b"")) for n in returned)
        except TypeError:
            data = None
        if data != record.buffered:
            got = "nothing" if not data else f"{len(data)} bytes that differ"
            out.violate(
                named.position,
                f"buffered_data returned {got}",
                f"the {len(record.buffered)} bytes of buffered receive data it was offloaded with",
            )


@rule(
    "TRM-NO-EVENT-AFTER",
    MUST,
    group=GROUP,
    judges="request",
    text="No event for a connection is entered after, or still running at, the entry of its "
    "SUCCESS terminate_offload_complete.",
    source="lifecycle.md 3, H10; domain.md 5.1 [R:nf-ndischimney-ndismterminateoffloadcomplete]",
)
def no_event_after(facts: RequestFacts, out: RuleOutcome) -> None:
    done = facts.completed_at()
    for named in _tcp_blocks(facts):
        record = named.record
        assert record is not None
        out.hit()
        if done is None or not facts.succeeded(named):
            continue
        for event in facts.events:
            if context_key(event.handle) != record.handle_key:
                continue
            if event.entered >= done:
                out.violate(
                    named.position,
                    f"event type {event.event_type!r} entered "
                    f"{(event.entered - done) * 1000:.1f} ms after the terminate completed",
                    "no event for a connection once its terminate completed with SUCCESS",
                )
            elif event.returned > done:
                out.violate(
                    named.position,
                    f"event type {event.event_type!r} still running when the terminate completed",
                    "every indication for the connection returned before the completion",
                )


@rule(
    "TRM-ABORTED-SENDS",
    MUST,
    group=GROUP,
    judges="request",
    target_triggered=True,
    text="After ABORT, outstanding NBLs complete with REQUEST_ABORTED by the next terminate's "
    "end; no chain.",
    source="lifecycle.md 3; domain.md 5.2 [R:nc-ndischimney-ndis_tcp_offload_event_indicate]",
)
def aborted_sends(facts: RequestFacts, out: RuleOutcome) -> None:
    done = facts.completed_at()
    for named in _tcp_blocks(facts):
        if not named.aborted or not named.outstanding:
            continue
        out.hit()
        if done is None or not facts.succeeded(named):
            continue  # a terminate failing again leaves the data to the one that succeeds
        if _chain(facts, named):
            out.violate(
                named.position,
                "send data chained after ABORT",
                "every outstanding NBL completed with REQUEST_ABORTED, no chain",
            )
        for index, nbl in enumerate(named.outstanding):
            calls = [c for c in facts.model.completions_of(nbl) if c.at <= done]
            if not any(c.status == _ABORTED for c in calls):
                seen = ", ".join(format_status(c.status) for c in calls) or "not completed"
                out.violate(
                    named.position,
                    f"NBL {index} of the send data: {seen}",
                    "completed with REQUEST_ABORTED by the terminate's completion",
                )
