"""The lifecycle state machine: one Hypothesis ``RuleBasedStateMachine`` run per case.

Each run creates a fresh target (a :class:`LifecycleSession`), knows the objects it
offloaded through the session's model, and draws one request per rule: offload, terminate, update,
relink, invalidate, query, requests together, answers to the target's events, and
robustness cases. The host guarantees of lifecycle.md section 2 are the rules'
preconditions and the session's checks (a drawn object that no longer fits is replaced by
one that does, or the step does not run); the teardown terminates what is left, and the
case goes to the campaign, which counts it and, when shrinking, fails it for one rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from pytest_offload.generate._lifecycle._steps import (
    Answer,
    Invalidate,
    Offload,
    PathPlan,
    Query,
    Relink,
    TcpPlan,
    Terminate,
    Together,
    Update,
)
from pytest_offload.model import (
    LAYERS,
    NATIVE_WORD_POISON,
    NeighborOffloadState,
    NeighborOffloadStateCached,
    NeighborOffloadStateConst,
    OffloadOperation,
    OffloadStateType,
    PathOffloadState,
    PathOffloadStateCached,
    PathOffloadStateConst,
    TcpConnectionState,
    TcpKeepAlive,
    TcpOffloadState,
    TcpOffloadStateCached,
    TcpOffloadStateConst,
    TcpOffloadStateDelegated,
    TcpRetransmit,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_offload.catalogue import ObjectRecord
    from pytest_offload.generate._lifecycle._session import LifecycleSession
    from pytest_offload.generate._runner import ScenarioOutcome
    from pytest_offload.model import NetBufferList, OffloadCapabilities

__all__ = ["machine_for", "offload_plans"]

T = OffloadStateType
#: A sequence number; never the native harness's poison word (a terminate echoes it).
_U32 = st.integers(0, 0xFFFFFFFF).filter(lambda v: v != NATIVE_WORD_POISON)
_TIMER_OFF = 0xFFFFFFFF
#: Query types per layer: combined first, then each class.
_QUERY_TYPES = {
    "neighbor": (T.NEIGHBOR, T.NEIGHBOR_CONST, T.NEIGHBOR_CACHED, T.NEIGHBOR_DELEGATED),
    "path4": (T.IP4, T.IP4_CONST, T.IP4_CACHED, T.IP4_DELEGATED),
    "path6": (T.IP6, T.IP6_CONST, T.IP6_CACHED, T.IP6_DELEGATED),
    "tcp": (T.TCP, T.TCP_CONST, T.TCP_CACHED, T.TCP_DELEGATED),
}
_ROBUST = ("gone", "unknown", "null", "omit")
#: Which object a rule names: an index into the objects that fit when it runs.
_PICK = st.integers(0, 255)
#: The most connections one compound step offers to fill the capacity (a capacity above
#: it is not filled by the state machine).
_FILL_LIMIT = 4096
#: The compound steps a case starts with (one each, drawn).
_COMPOUNDS = (
    "nothing",  # first: what a failing case shrinks to when the compound is not needed
    "update_then_query",
    "query_every_type",
    "relink_and_retire",
    "fill_free_refill",
    "invalidate_and_fill",
    "robust",
)


# -- what the host offloads and updates (within the declaration: H8) ------------------


def _neighbors() -> st.SearchStrategy[NeighborOffloadState]:
    return st.builds(
        lambda mac, delta: NeighborOffloadState(
            const=NeighborOffloadStateConst(),
            cached=NeighborOffloadStateCached(
                dl_destination_address=mac, host_reachability_delta=delta
            ),
        ),
        st.binary(min_size=6, max_size=6),
        st.integers(0, 100_000),
    )


def _paths(caps: OffloadCapabilities) -> st.SearchStrategy[PathOffloadState]:
    version = st.sampled_from(
        [v for v, ok in ((4, caps.support_ipv4), (6, caps.support_ipv6)) if ok]
    )

    # Two source addresses per version: paths share them, so the target's table of source
    # addresses is not what limits a case.
    def build(v: int, source: int, destination: bytes, mtu: int) -> PathOffloadState:
        size = 4 if v == 4 else 16
        src = bytes([10, 0, 0, source]) if v == 4 else bytes([0xFD] + [0] * 14 + [source])
        dst = (destination * 4)[:size]
        return PathOffloadState(
            const=PathOffloadStateConst(source_address=src, destination_address=dst),
            cached=PathOffloadStateCached(path_mtu=mtu),
        )

    return st.builds(
        build,
        version,
        st.integers(1, 2),
        st.binary(min_size=4, max_size=4),
        _mtus(caps),
    )


def _mtus(caps: OffloadCapabilities) -> st.SearchStrategy[int]:
    high = min(caps.max_path_mtu, 9000)
    return st.sampled_from(sorted({min(1500, high), min(576, high), high}))


def _windows(caps: OffloadCapabilities) -> st.SearchStrategy[int]:
    high = min(caps.max_initial_rcv_wnd, 1 << 20)
    return st.sampled_from(sorted({min(65535, high), high, min(8192, high)}))


@st.composite
def _tcp(draw: Any, caps: OffloadCapabilities) -> TcpPlan:
    state = draw(
        st.sampled_from(
            [
                TcpConnectionState.ESTABLISHED,
                TcpConnectionState.ESTABLISHED,
                TcpConnectionState.CLOSE_WAIT,
                TcpConnectionState.FIN_WAIT1,
                TcpConnectionState.FIN_WAIT2,
            ]
        )
    )
    quiet = draw(st.integers(0, 2)) == 0
    una = draw(_U32)
    send = () if quiet else tuple(draw(st.lists(st.integers(1, 64), min_size=1, max_size=2)))
    ahead = 0 if quiet else draw(st.integers(0, 3000))
    nxt = (una + ahead) & 0xFFFFFFFF
    if nxt == NATIVE_WORD_POISON:
        nxt = (nxt + 1) & 0xFFFFFFFF  # one byte more in flight
    buffered: tuple[NetBufferList, ...] = ()
    if draw(st.integers(0, 3)) == 0:
        from pytest_offload.model import NetBufferList  # noqa: PLC0415

        buffered = (NetBufferList(draw(st.binary(min_size=1, max_size=16))),)
    delegated = TcpOffloadStateDelegated(
        state=state,
        rcv_nxt=draw(_U32),
        snd_una=una,
        snd_nxt=nxt,
        snd_max=nxt,
        keep_alive=TcpKeepAlive(timeout_delta=_TIMER_OFF if quiet else 7200_000),
        retransmit=TcpRetransmit(timeout_delta=_TIMER_OFF if quiet or not ahead else 300),
        buffered_data=buffered,
    )
    const = TcpOffloadStateConst(
        remote_port=draw(st.integers(1, 0xFFFF)), local_port=draw(st.integers(1024, 0xFFFF))
    )
    cached = TcpOffloadStateCached(
        flags=0x02 if draw(st.booleans()) else (0 if quiet else 0x01),
        initial_rcv_wnd=draw(_windows(caps)),
    )
    return TcpPlan(TcpOffloadState(const=const, cached=cached, delegated=delegated), send)


def offload_plans(caps: OffloadCapabilities) -> st.SearchStrategy[Offload]:
    """Initiates within the declaration: under a live neighbor or a new one, up to two
    paths (live or new), up to two connections each, some with send or buffered data."""
    path_plans = st.builds(
        PathPlan,
        _paths(caps),
        st.one_of(st.none(), st.integers(0, 7)),
        st.lists(_tcp(caps), max_size=2).map(tuple),
    )
    return st.builds(
        Offload,
        _neighbors(),
        st.one_of(st.none(), st.integers(0, 7)),
        st.lists(path_plans, min_size=1, max_size=2).map(tuple),
    )


def _cached_for(caps: OffloadCapabilities, layer: str) -> st.SearchStrategy[Any]:
    if layer == "neighbor":
        return _neighbors().map(lambda n: n.cached)
    if layer == "path":
        return _mtus(caps).map(lambda m: PathOffloadStateCached(path_mtu=m))
    return st.builds(
        lambda flags, wnd, ttl: TcpOffloadStateCached(
            flags=flags, initial_rcv_wnd=wnd, ttl_or_hop_limit=ttl
        ),
        st.sampled_from([0, 0x01, 0x02, 0x03, 0x06]),
        _windows(caps),
        st.integers(1, 255),
    )


def _cached_all(caps: OffloadCapabilities) -> st.SearchStrategy[dict[str, Any]]:
    """New cached values for each layer, drawn together: which one is used depends on the
    object the step names, and the draws must not."""
    return st.fixed_dictionaries({layer: _cached_for(caps, layer) for layer in LAYERS})


# -- the machine ---------------------------------------------------------------------------


def machine_for(
    caps: OffloadCapabilities,
    new_session: Callable[[], LifecycleSession],
    done: Callable[[ScenarioOutcome], None],
    *,
    robustness: bool,
) -> type[RuleBasedStateMachine]:
    """A state machine class for a target declaring ``caps``: each run starts a session
    from ``new_session`` and hands its judged case to ``done``.

    Every draw is independent of what the target answered: rules are enabled by the
    declaration alone, objects are drawn as indexes into the ones that fit when the rule
    runs, and a rule with nothing that fits does nothing. The host guarantees are checked
    by the session when a step runs. So a nondeterministic target gets verdicts (its
    findings do not replay) rather than breaking Hypothesis's generation, which requires
    the same draws to mean the same data.
    """
    relink_possible = caps.neighbor_capacity is None or caps.neighbor_capacity >= 2
    declared = caps.operations

    def has(*operations: OffloadOperation) -> Callable[[Any], bool]:
        enabled = all(op in declared for op in operations)
        return lambda self: enabled

    class LifecycleMachine(RuleBasedStateMachine):
        """The objects offloaded so far (the session's model), and one rule per request
        the host may make."""

        def __init__(self) -> None:
            super().__init__()
            self.session = new_session()
            self.robust_cases = 0

        def _pick(self, index: int, ok: Callable[[ObjectRecord], bool]) -> ObjectRecord | None:
            """The ``index``-th (modulo) of the objects that fit, or ``None``."""
            fits = [r for r in self.session.model.records if ok(r)]
            return fits[index % len(fits)] if fits else None

        def _stale(self, record: ObjectRecord) -> bool:
            """Terminated with SUCCESS, its context not reissued to an object the target
            holds (a GONE one's may recur, LIFE-CONTEXT-UNIQUE: a target reusing the
            memory of a freed object as a context then names that object by it)."""
            model = self.session.model
            if model.state_of(record) != "gone":
                return False
            holder = model.by_key.get(record.key)
            return holder is None or holder is record or model.state_of(holder) == "gone"

        def _near(self, index: int) -> ObjectRecord | None:
            records = self.session.model.records
            return records[index % len(records)] if records else None

        @initialize(plan=offload_plans(caps), kind=st.sampled_from(_COMPOUNDS), data=st.data())
        def start(self, plan: Offload, kind: str, data: st.DataObject) -> None:
            """Every case starts with an initiate, then one of the compound steps (each
            makes one rule's opportunity), so every rule is exercised at any seed."""
            self.session.run(plan)
            if kind != "nothing" and self.session.lifecycle_declared:
                getattr(self, f"_{kind}")(0, data)

        @rule(plan=offload_plans(caps))
        def offload(self, plan: Offload) -> None:
            self.session.run(plan)

        @precondition(has(OffloadOperation.TERMINATE))
        @rule(obj=_PICK, siblings=st.booleans())
        def terminate(self, obj: int, siblings: bool) -> None:
            session = self.session
            found = self._pick(obj, session._may_terminate)
            if found is None:
                return
            chosen = [found.serial]
            if siblings and found.parent is not None:
                chosen += [
                    r.serial
                    for r in session.model.dependents(found.parent)
                    if r is not found and session._may_terminate(r)
                ][:1]
            session.run(Terminate(tuple(chosen)))

        @precondition(has(OffloadOperation.UPDATE))
        @rule(obj=_PICK, cached=_cached_all(caps))
        def update(self, obj: int, cached: dict[str, Any]) -> None:
            found = self._pick(obj, self.session.eligible)
            if found is not None:
                self.session.run(Update(found.serial, cached[found.layer]))

        @precondition(lambda self: relink_possible and has(OffloadOperation.UPDATE)(self))
        @rule(old=_PICK, new=_PICK)
        def relink(self, old: int, new: int) -> None:
            session = self.session

            def neighbor(r: ObjectRecord) -> bool:
                return r.layer == "neighbor" and session.eligible(r)

            first = self._pick(old, lambda r: neighbor(r) and bool(session.model.dependents(r)))
            second = self._pick(new, lambda r: neighbor(r) and r is not first)
            if first is not None and second is not None:
                session.run(Relink(first.serial, second.serial))

        @precondition(has(OffloadOperation.INVALIDATE))
        @rule(obj=_PICK)
        def invalidate(self, obj: int) -> None:
            found = self._pick(obj, self.session.eligible)
            if found is not None:
                self.session.run(Invalidate((found.serial,)))

        @precondition(has(OffloadOperation.QUERY))
        @rule(obj=_PICK, part=st.integers(0, 3))
        def query(self, obj: int, part: int) -> None:
            found = self._pick(obj, self.session.eligible)
            if found is not None:
                self.session.run(Query(found.serial, _query_type(found, part)))

        @precondition(has(OffloadOperation.QUERY))
        @rule(first=_PICK, second=_PICK, part=st.integers(0, 3), update=st.booleans())
        def together(self, first: int, second: int, part: int, update: bool) -> None:
            """A query in flight with another request on another object (H5), or with a
            second query of the same object."""
            session = self.session
            a = self._pick(first, session.eligible)
            b = self._pick(second, session.eligible)
            if a is None or b is None:
                return
            one = Query(a.serial, _query_type(a, part))
            if a is b:
                session.run(Together((one, Query(a.serial, _query_type(a, 0)))))
            elif update and OffloadOperation.UPDATE in declared:
                session.run(Together((one, Update(b.serial, b.cached))))
            else:
                session.run(Together((one, Query(b.serial, _query_type(b, part)))))

        # -- compound steps: each creates one rule's opportunity outright ----------------

        @precondition(has(OffloadOperation.UPDATE, OffloadOperation.QUERY))
        @rule(obj=_PICK, data=st.data())
        def update_then_query(self, obj: int, data: st.DataObject) -> None:
            self._update_then_query(obj, data)

        def _update_then_query(self, obj: int, data: st.DataObject) -> None:
            """UPD-QUERY-SHOWS: new cached values, then a query of them."""
            cached = data.draw(_cached_all(caps), label="cached")
            if not has(OffloadOperation.UPDATE, OffloadOperation.QUERY)(self):
                return
            session = self.session
            found = self._pick(obj, session.eligible)
            if found is not None and session.run(Update(found.serial, cached[found.layer])):
                session.run(Query(found.serial, _query_type(found, 0)))

        @precondition(has(OffloadOperation.QUERY))
        @rule(obj=_PICK, data=st.data())
        def query_every_type(self, obj: int, data: st.DataObject) -> None:
            self._query_every_type(obj, data)

        def _query_every_type(self, obj: int, data: st.DataObject) -> None:
            """QRY-CONST-CACHED, LIFE-DELEGATED-SETTLED: one connection (else any object)
            queried as each of its types: combined, const, cached, delegated."""
            del data
            if OffloadOperation.QUERY not in declared:
                return
            session = self.session
            found = self._pick(obj, lambda r: r.layer == "tcp" and session.eligible(r))
            found = found or self._pick(obj, session.eligible)
            if found is None:
                return
            for part in range(4):
                session.run(Query(found.serial, _query_type(found, part)))

        @precondition(lambda self: relink_possible and has(OffloadOperation.UPDATE)(self))
        @rule(old=_PICK, data=st.data())
        def relink_and_retire(self, old: int, data: st.DataObject) -> None:
            self._relink_and_retire(old, data)

        def _relink_and_retire(self, old: int, data: st.DataObject) -> None:
            """UPD-RELINK: every path of a neighbor relinked to another (offloaded first
            when there is none), then the old neighbor terminated alone."""
            state = data.draw(_neighbors(), label="new neighbor")
            if not relink_possible or OffloadOperation.UPDATE not in declared:
                return
            session = self.session

            def neighbor(r: ObjectRecord) -> bool:
                return r.layer == "neighbor" and session.eligible(r)

            first = self._pick(old, lambda r: neighbor(r) and bool(session.model.dependents(r)))
            if first is None:
                return
            second = self._pick(old + 1, lambda r: neighbor(r) and r is not first)
            if second is None:
                before = len(session.model.records)
                session.run(Offload(state, None, ()))
                second = next((r for r in session.model.records[before:] if neighbor(r)), None)
            if second is not None and session.run(Relink(first.serial, second.serial)):
                session.run(Terminate((first.serial,)))

        @precondition(has(OffloadOperation.TERMINATE))
        @rule(obj=_PICK, data=st.data())
        def fill_free_refill(self, obj: int, data: st.DataObject) -> None:
            self._fill_free_refill(obj, data)

        def _fill_free_refill(self, obj: int, data: st.DataObject) -> None:
            """LIFE-CAPACITY-FREED: TCP capacity filled, one or two connections
            terminated, as many offered again."""
            freed = data.draw(st.integers(1, 2), label="freed")
            session = self.session
            near = self._near(obj)
            room = caps.tcp_connection_offload_capacity - len(session.model.held("tcp"))
            if room > _FILL_LIMIT:
                return
            if room > 0 and not session.run_fill(near, room):
                return
            live = [r for r in session.model.live("tcp") if session._may_terminate(r)]
            if len(live) < freed:
                return
            if session.run(Terminate(tuple(r.serial for r in live[-freed:]))):
                session.run_fill(near, freed)

        @precondition(has(OffloadOperation.INVALIDATE))
        @rule(obj=_PICK, data=st.data())
        def invalidate_and_fill(self, obj: int, data: st.DataObject) -> None:
            self._invalidate_and_fill(obj, data)

        def _invalidate_and_fill(self, obj: int, data: st.DataObject) -> None:
            """INV-STILL-OFFLOADED: a connection invalidated, then connections offered up
            to the capacity counting only valid ones."""
            del data
            if OffloadOperation.INVALIDATE not in declared:
                return
            session = self.session

            def valid_tcp(r: ObjectRecord) -> bool:
                return r.layer == "tcp" and session.eligible(r)

            victim = self._pick(obj, valid_tcp)
            if victim is None and session.run_fill(self._near(obj), 1):
                victim = self._pick(obj, valid_tcp)
            if victim is None or not session.run(Invalidate((victim.serial,))):
                return
            counted = session.checker.ledger.capacity_count("tcp")
            room = caps.tcp_connection_offload_capacity - counted
            if 0 < room <= _FILL_LIMIT:
                session.run_fill(victim, room)

        @precondition(has(OffloadOperation.TERMINATE))
        @rule(optional=st.booleans())
        def answer(self, optional: bool) -> None:
            """Terminate what asked to be uploaded (nothing, when nothing asked)."""
            self.session.run(Answer(optional))

        @precondition(lambda self: robustness and has(OffloadOperation.TERMINATE)(self))
        @rule(obj=_PICK, kind=st.sampled_from(_ROBUST), op=st.integers(0, 2))
        def robust(self, obj: int, kind: str, op: int) -> None:
            self._robust_case(obj, kind, op)

        def _robust(self, obj: int, data: st.DataObject) -> None:
            """LIFE-ROBUST-FAILURE: one robustness case."""
            kind = data.draw(st.sampled_from(_ROBUST), label="robustness case")
            op = data.draw(st.integers(0, 2), label="operation")
            if robustness:
                self._robust_case(obj, kind, op)

        def _robust_case(self, obj: int, kind: str, op: int) -> None:
            """One robustness case; the operation turns with each robustness case of the
            run (from ``op``), and a kind with nothing to name falls back to a context
            never issued, so that every draw hands one over."""
            session = self.session
            drawn = self._near(obj)
            if drawn is None:
                return
            operation = [o for o in ("terminate", "invalidate", "query") if _declares(declared, o)]
            self.robust_cases += 1
            chosen = operation[(op + self.robust_cases) % len(operation)]
            if kind == "omit":
                found = self._pick(
                    obj, lambda r: r.layer != "tcp" and session.eligible(r, valid=False)
                    and bool(session.model.dependents(r))
                )  # fmt: skip
                if found is not None and session.run(Terminate((found.serial,), robust="omit")):
                    return
                kind = "unknown"
            found = drawn
            if kind == "gone":
                gone = self._pick(obj, self._stale)
                found, kind = (gone, kind) if gone is not None else (drawn, "unknown")
            if chosen == "terminate":
                session.run(Terminate((found.serial,), robust=kind))
            elif chosen == "invalidate":
                session.run(Invalidate((found.serial,), robust=kind))
            else:
                session.run(Query(found.serial, _query_type(found, 0), robust=kind))

        def teardown(self) -> None:
            self.session.teardown()
            done(self.session.outcome())

    return LifecycleMachine


def _declares(declared: frozenset[OffloadOperation], name: str) -> bool:
    return OffloadOperation(name) in declared


def _query_type(record: ObjectRecord, part: int) -> int:
    layer = record.layer
    if layer == "path":
        layer = "path6" if record.state_type == T.IP6 else "path4"
    return int(_QUERY_TYPES[layer][part % 4])
