"""Rules on the state a target hands back: terminate and query structures written and of
their class, delegated TCP state settled, queries showing what was offloaded or updated,
and what a relink leads to."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue._registry import Grade, rule
from pytest_offload.model import (
    POISON,
    TYPE_CLASSES,
    OffloadStateType,
    format_status,
    is_poisoned,
)

if TYPE_CHECKING:
    from pytest_offload.catalogue._lifecycle._facts import Named, RequestFacts
    from pytest_offload.catalogue._registry import RuleOutcome

MUST, SHOULD = Grade.MUST, Grade.SHOULD
T = OffloadStateType
_DELEGATED_TYPES = frozenset({T.TCP_DELEGATED, T.TCP})
#: Flag bits of TCP_OFFLOAD_STATE_CACHED that are values a query shows [reading]; 0x04,
#: 0x08 and 0x10 are one-shot commands (lifecycle.md reading 7).
_VALUE_FLAGS = 0x01 | 0x02
#: Delegated TCP values knowable without a peer (H9), and those of a quiet connection.
_SETTLED = ("rcv_nxt", "snd_una")
_QUIET = ("state", "snd_nxt", "snd_max")


def _state_type(facts: RequestFacts, named: Named) -> object:
    return facts.snapshot.image.state_types[named.position]


def _written(facts: RequestFacts, named: Named) -> Any:
    """The structure handed back, when it is of the type's class and fully written."""
    state = facts.state_after(named)
    cls = TYPE_CLASSES.get(_state_type(facts, named))  # type: ignore[call-overload]
    if cls is None or type(state) is not cls or is_poisoned(state):
        return None
    return state


@rule(
    "LIFE-STATE-WRITTEN",
    MUST,
    group="lifecycle",
    judges="request",
    reading=True,
    text="On terminate or query SUCCESS a named block's structure is written (no field still "
    "poisoned) and of its type's class.",
    source="lifecycle.md 1, 3; domain.md 5.1 [R:nc-ndischimney-w_terminate_offload_handler], 5.5",
)
def state_written(facts: RequestFacts, out: RuleOutcome) -> None:
    if facts.operation not in ("terminate", "query") or facts.image is None:
        return
    for named in facts.named:
        if named.offending:
            continue
        out.hit()
        if not facts.succeeded(named):
            continue
        state = facts.state_after(named)
        cls = TYPE_CLASSES.get(_state_type(facts, named))  # type: ignore[call-overload]
        if cls is None:
            continue
        if type(state) is not cls:
            out.violate(
                named.position,
                f"a {type(state).__name__} after SUCCESS",
                f"a {cls.__name__}, the class of {T(_state_type(facts, named)).name}",  # type: ignore[arg-type]
            )
            continue
        left = is_poisoned(state)
        if left:
            shown = ", ".join(left[:6]) + (f" and {len(left) - 6} more" if len(left) > 6 else "")
            out.violate(
                named.position,
                f"SUCCESS with {len(left)} field(s) never written: {shown}",
                f"every field of the {cls.__name__} filled in",
            )


def _delegated(facts: RequestFacts, named: Named) -> Any:
    state = _written(facts, named)
    if state is None:
        return None
    return state.delegated if _state_type(facts, named) == T.TCP else state


@rule(
    "LIFE-DELEGATED-SETTLED",
    MUST,
    group="lifecycle",
    judges="request",
    reading=True,
    text="TCP delegated state from terminate or query SUCCESS has the settled values: rcv_nxt "
    "and snd_una as offloaded, and for a quiet connection state, snd_nxt and snd_max too.",
    source="lifecycle.md 3, H9; domain.md 2.3 [C:classes-of-offload-state-variables]",
)
def delegated_settled(facts: RequestFacts, out: RuleOutcome) -> None:
    if facts.operation not in ("terminate", "query") or facts.image is None:
        return
    for named in facts.named:
        record = named.record
        if named.offending or record is None or record.layer != "tcp":
            continue
        if _state_type(facts, named) not in _DELEGATED_TYPES:
            continue
        out.hit()
        if not facts.succeeded(named):
            continue
        got = _delegated(facts, named)
        if got is None:
            continue  # unwritten or of another class: LIFE-STATE-WRITTEN's
        offloaded = record.offloaded.delegated
        names = _SETTLED + (_QUIET if named.quiet else ())
        wrong = [
            f"{n}={getattr(got, n)!r} (offloaded {getattr(offloaded, n)!r})"
            for n in names
            if getattr(got, n) != getattr(offloaded, n)
        ]
        if wrong:
            why = " and a quiet connection sends none" if named.quiet else ""
            out.violate(
                named.position,
                "; ".join(wrong),
                f"{', '.join(names)} as offloaded",
                f"no segment reached the target{why} (H9)",
            )


def _differences(got: Any, want: Any, *, tcp_cached: bool) -> list[str]:
    out: list[str] = []
    for f in dataclasses.fields(want):
        a, b = getattr(got, f.name, POISON), getattr(want, f.name)
        if tcp_cached and f.name == "flags" and isinstance(a, int) and isinstance(b, int):
            a, b = a & _VALUE_FLAGS, b & _VALUE_FLAGS
        if a != b:
            out.append(f"{f.name}={a!r} (expected {b!r})")
    return out


def _parts(facts: RequestFacts, named: Named) -> tuple[Any, Any] | None:
    """(const, cached) of a query's answer, each ``None`` when the type does not ask it."""
    state = _written(facts, named)
    if state is None:
        return None
    kind = _state_type(facts, named)
    if kind in (T.NEIGHBOR, T.IP4, T.IP6, T.TCP):
        return state.const, state.cached
    if kind in (T.NEIGHBOR_CONST, T.IP4_CONST, T.IP6_CONST, T.TCP_CONST):
        return state, None
    if kind in (T.NEIGHBOR_CACHED, T.IP4_CACHED, T.IP6_CACHED, T.TCP_CACHED):
        return None, state
    return None, None


_ASKS_CONST = frozenset(
    {T.NEIGHBOR, T.IP4, T.IP6, T.TCP, T.NEIGHBOR_CONST, T.IP4_CONST, T.IP6_CONST, T.TCP_CONST}
)
_ASKS_CACHED = frozenset(
    {T.NEIGHBOR, T.IP4, T.IP6, T.TCP, T.NEIGHBOR_CACHED, T.IP4_CACHED, T.IP6_CACHED, T.TCP_CACHED}
)


@rule(
    "QRY-CONST-CACHED",
    MUST,
    group="query",
    judges="request",
    text="Const values, and cached values never updated, are as offloaded.",
    source="lifecycle.md 3; domain.md 2.3, 5.5 [C:querying-offloaded-state]",
)
def const_cached(facts: RequestFacts, out: RuleOutcome) -> None:
    if facts.operation != "query" or facts.image is None:
        return
    for named in facts.named:
        record = named.record
        kind = _state_type(facts, named)
        if named.offending or record is None:
            continue
        asks_cached = kind in _ASKS_CACHED and not named.updated
        if kind not in _ASKS_CONST and not asks_cached:
            continue
        out.hit()
        parts = _parts(facts, named) if facts.succeeded(named) else None
        if parts is None:
            continue
        const, cached = parts
        wrong: list[str] = []
        if const is not None:
            wrong += _differences(const, record.offloaded.const, tcp_cached=False)
        if cached is not None and asks_cached:
            wrong += _differences(
                cached, record.offloaded.cached, tcp_cached=record.layer == "tcp"
            )
        if wrong:
            out.violate(
                named.position,
                "; ".join(wrong[:6]),
                "the const and cached values it was offloaded with",
                record.where,
            )


@rule(
    "UPD-QUERY-SHOWS",
    MUST,
    group="update",
    judges="request",
    reading=True,
    text="After update SUCCESS, queries show the new cached values (TCP flags: bits 0x01 and "
    "0x02).",
    source="lifecycle.md 3; domain.md 5.3 [C:update-offload-sequence], 2.6",
)
def query_shows(facts: RequestFacts, out: RuleOutcome) -> None:
    if facts.operation != "query" or facts.image is None:
        return
    for named in facts.named:
        record = named.record
        if named.offending or record is None or not named.updated:
            continue
        if _state_type(facts, named) not in _ASKS_CACHED:
            continue
        out.hit()
        parts = _parts(facts, named) if facts.succeeded(named) else None
        if parts is None or parts[1] is None:
            continue
        wrong = _differences(parts[1], named.cached, tcp_cached=record.layer == "tcp")
        if wrong:
            out.violate(
                named.position,
                "; ".join(wrong[:6]),
                "the cached values of the last update that succeeded",
            )


@rule(
    "UPD-RELINK",
    SHOULD,
    group="update",
    judges="request",
    reading=True,
    text="After its paths are relinked to N2, the old neighbor N1 terminates alone with "
    "SUCCESS, and the relinked paths and their connections still query and terminate with "
    "SUCCESS; the link itself is not observable.",
    source="lifecycle.md 3; domain.md 5.3, 5.4 [R:nc-ndischimney-w_update_offload_handler]",
)
def relink(facts: RequestFacts, out: RuleOutcome) -> None:
    if facts.image is None or facts.operation not in ("terminate", "query"):
        return
    request = facts.request
    if not request.healthy:
        return  # a target that signalled a hardware failure may fail anything after it
    for named in facts.named:
        if named.offending:
            continue
        alone = request.relinked_away and named.record is not None and named.layer == "neighbor"
        if not (alone or named.relinked):
            continue
        out.hit()
        if not facts.succeeded(named):
            out.violate(
                named.position,
                format_status(facts.status(named.position)),
                "SUCCESS",
                "the old neighbor, every path relinked away"
                if alone
                else "relinked to another neighbor by an update that succeeded",
            )
