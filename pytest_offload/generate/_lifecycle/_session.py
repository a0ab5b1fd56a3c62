"""One lifecycle case: a fresh target driven step by step, every step judged.

The session is the host of lifecycle.md section 2: it hands over initiates and lifecycle
requests only as the host guarantees allow, answers the target's events, and at the end
terminates everything the target still holds. Each step is judged when it completes (the
model moves on by what the target answered), and every request again at the end of the
case with all that was seen by then: the last judgement is the verdict.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pytest_offload.catalogue import CheckReport, LifecycleChecker, TargetChecker
from pytest_offload.generate._lifecycle._fill import fill_connections
from pytest_offload.generate._lifecycle._requests import (
    NamedSpec,
    NeverIssued,
    build_request,
    request_type,
)
from pytest_offload.generate._lifecycle._steps import (
    Answer,
    Invalidate,
    Offload,
    PathPlan,
    Query,
    Relink,
    Step,
    Terminate,
    Together,
    Update,
)
from pytest_offload.generate._runner import ScenarioOutcome, release
from pytest_offload.harness import DEFAULT_TIMEOUT, RecordingHost
from pytest_offload.model import (
    LIFECYCLE_OPERATIONS,
    MANDATORY_REASONS,
    NeighborOffloadState,
    OffloadOperation,
    PathOffloadState,
    PathOffloadStateConst,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pytest_offload.catalogue import ObjectRecord, Request, Rule
    from pytest_offload.harness import PendingInitiate
    from pytest_offload.model import TargetFactory

__all__ = ["LifecycleSession", "run_program"]

#: Lifecycle requests of a case at most (the teardown's terminates not counted).
MAX_STEPS = 40


class LifecycleSession:
    """A fresh target, its recording host, the checkers, and the program run so far."""

    def __init__(
        self,
        factory: TargetFactory,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        rules: Iterable[Rule] | None = None,
        robustness: bool = True,
        settle: float = 0.0,
        failure_wait: float | None = None,
    ) -> None:
        self.host = RecordingHost(timeout=timeout)
        self.settle = settle
        #: How long a connection that failed is given to indicate RETRIEVE and ABORT
        #: before the host terminates it anyway (H7: the operation timeout; shorter once
        #: the campaign knows this target never does).
        self.failure_wait = timeout if failure_wait is None else failure_wait
        #: Connections whose failure sequence never came within ``failure_wait``.
        self.silent_failures = 0
        self.target = factory(self.host)
        self.capabilities = self.target.capabilities
        self.checker = TargetChecker(self.capabilities, rules=rules)
        self.lifecycle = LifecycleChecker(self.checker)
        self.model = self.lifecycle.model
        self.robustness = robustness
        self.program: list[Step] = []
        self.reports: list[CheckReport] = []
        #: Every handed-over request: (pending, report, request or None for an initiate).
        self._handed: list[tuple[PendingInitiate, CheckReport, Request | None]] = []
        #: False once a request never completed: the target may be stuck, nothing after
        #: it is meaningful (the teardown is skipped too).
        self.alive = True
        self.closed = False
        #: Serials of neighbors whose paths were all relinked away (UPD-RELINK).
        self._relinked: set[int] = set()
        self._tearing_down = False

    # -- what the machine may ask -------------------------------------------------------

    def declares(self, operation: OffloadOperation) -> bool:
        """Whether the target declares ``operation``."""
        return operation in self.capabilities.operations

    @property
    def lifecycle_declared(self) -> bool:
        """Whether the target declares any operation past initiate."""
        return any(op in self.capabilities.operations for op in LIFECYCLE_OPERATIONS)

    def record(self, serial: int) -> ObjectRecord | None:
        """The object of ``serial``, if the model knows it."""
        records = self.model.records
        return records[serial] if 0 <= serial < len(records) else None

    def eligible(self, record: ObjectRecord | None, *, valid: bool = True) -> bool:
        """LIVE (and, with ``valid``, not invalidated, not owed a terminate: a request on
        it failed, or the target aborted it or asked to upload it for a mandatory
        reason; H6, H7)."""
        if record is None or self.model.state_of(record) != "live":
            return False
        if not valid:
            return True
        owed = record.must_terminate or record.aborted
        owed = owed or any(r in MANDATORY_REASONS for r in record.asked)
        return not (owed or self.model.on_invalid_state(record))

    def subtree(self, record: ObjectRecord) -> list[ObjectRecord]:
        """``record`` and every object held below it (what a terminate of it must name)."""
        out = [record]
        for below in self.model.dependents(record):
            out.extend(self.subtree(below))
        return out

    # -- running steps ------------------------------------------------------------------

    def run(self, step: Step) -> bool:
        """Run one step if the model still allows it; ``True`` when it ran."""
        if not self.alive or self.closed or len(self.program) >= MAX_STEPS:
            return False
        started = self._start(step)
        if not started:
            return False
        self.program.append(step)
        self._finish(started)
        return True

    def _start(self, step: Step) -> list[tuple[PendingInitiate, Request | None]]:
        if isinstance(step, Together):
            out: list[tuple[PendingInitiate, Request | None]] = []
            taken: set[int] = set()
            queries_only = all(isinstance(part, Query) for part in step.steps)
            for part in step.steps:
                keys = set(self._serials_of(part))
                if keys & taken and not queries_only:
                    continue  # requests together name distinct objects, but queries (H5)
                started = self._start(part)
                if started:
                    taken |= keys
                    out.extend(started)
            return out
        if isinstance(step, Answer):
            return self._answer(step)
        if isinstance(step, Offload):
            return self._offload(step)
        built = self._request(step)
        if built is None:
            return []
        root, request = built
        pending = self.host.start_initiate(
            self.target,
            root,
            capabilities=self.capabilities,
            label=f"{self._step_name()}: {request.operation}",
            operation=request.operation,
        )
        request.locate(pending.snapshot)
        self.lifecycle.handed_over(request)
        return [(pending, request)]

    def _finish(self, started: list[tuple[PendingInitiate, Request | None]]) -> None:
        initiates = [p for p, r in started if r is None]
        observations = {id(p): p.finish() for p, _ in started}
        reports: dict[int, CheckReport] = {}
        if initiates:
            judged = self.checker.check_batch([observations[id(p)] for p in initiates])
            for pending, report in zip(initiates, judged, strict=True):
                reports[id(pending)] = report
                self.model.register_initiate(observations[id(pending)])
        for pending, request in started:
            if request is None:
                continue
            observation = observations[id(pending)]
            report = self.lifecycle.judge_request(observation, request, self.host.events())
            self.lifecycle.apply(observation, request)
            reports[id(pending)] = report
        for pending, request in started:
            report = reports[id(pending)]
            self.reports.append(report)
            self._handed.append((pending, report, request))
            if not observations[id(pending)].completed:
                self.alive = False
        self.lifecycle.judge_step(self.reports[-1], self.host.events(), self.host.send_log())

    def _step_name(self) -> str:
        return "teardown" if self._tearing_down else f"step {len(self.program) + 1}"

    # -- initiates ----------------------------------------------------------------------

    def run_fill(self, near: ObjectRecord | None, count: int) -> bool:
        """Offer ``count`` quiet connections without send or buffered data under a live,
        valid path (the one of ``near``'s family when it can; a new neighbor and path
        when none is left): a capacity step."""
        if count <= 0:
            return False
        paths = [r for r in self.model.live("path") if self.eligible(r)]
        neighbors = [r for r in self.model.live("neighbor") if self.eligible(r)]
        usable = [p for p in paths if p.parent in neighbors]
        connections = fill_connections(self.capabilities, count)
        if not usable:
            return self.run(
                Offload(_NEW_NEIGHBOR, None, (PathPlan(_new_path(self), None, connections),))
            )
        family = {id(r) for r in near.chain_up()} if near is not None else set()
        path = next((p for p in usable if id(p) in family), usable[0])
        assert path.parent is not None
        plan = Offload(
            path.parent.offloaded,
            neighbors.index(path.parent),
            (PathPlan(path.offloaded, paths.index(path), connections),),
        )
        return self.run(plan)

    def _offload(self, step: Offload) -> list[tuple[PendingInitiate, Request | None]]:
        neighbors = [r.context for r in self.model.live("neighbor") if self.eligible(r)]
        paths = [r.context for r in self.model.live("path") if self.eligible(r)]

        def resolve(layer: str, index: int) -> object:
            known = neighbors if layer == "neighbor" else paths
            return known[index % len(known)]

        spec = step.spec(len(neighbors), len(paths))
        root = spec.build(resolve)
        pending = self.host.start_initiate(
            self.target,
            root,
            capabilities=self.capabilities,
            label=f"{self._step_name()}: initiate",
        )
        return [(pending, None)]

    # -- lifecycle requests -------------------------------------------------------------

    def _serials_of(self, step: Step) -> list[int]:
        if isinstance(step, Terminate | Invalidate):
            return list(step.serials)
        if isinstance(step, Update | Query):
            return [step.serial]
        if isinstance(step, Relink):
            old = self.record(step.old)
            paths = [p.serial for p in self.model.dependents(old)] if old else []
            return [step.old, step.new, *paths]
        return []

    def _request(self, step: Step) -> tuple[Any, Request] | None:
        model = self.model
        self.model.learn_sends(self.host.send_log())
        healthy = model.healthy
        if isinstance(step, Terminate):
            return self._terminate(step, healthy)
        if isinstance(step, Update):
            record = self.record(step.serial)
            if not self.declares(OffloadOperation.UPDATE) or not self.eligible(record):
                return None
            assert record is not None
            kind = request_type("update", record)
            spec = NamedSpec(record, kind, handed=step.cached)
            return build_request("update", [spec], model, healthy=healthy)
        if isinstance(step, Relink):
            return self._relink(step, healthy)
        if isinstance(step, Invalidate):
            if not self.declares(OffloadOperation.INVALIDATE):
                return None
            specs = self._specs("invalidate", step.serials, step.robust)
            if specs is None:
                return None
            robust = step.robust and "a robustness case: " + step.robust
            return build_request("invalidate", specs, model, robustness=robust, healthy=healthy)
        if isinstance(step, Query):
            if not self.declares(OffloadOperation.QUERY):
                return None
            specs = self._specs("query", (step.serial,), step.robust, state_type=step.state_type)
            if specs is None:
                return None
            robust = step.robust and "a robustness case: " + step.robust
            return build_request("query", specs, model, robustness=robust, healthy=healthy)
        return None

    def _specs(
        self,
        operation: str,
        serials: Sequence[int],
        robust: str,
        *,
        state_type: int | None = None,
    ) -> list[NamedSpec] | None:
        """Named blocks for ``serials`` (each LIVE and valid: H1, H4, H6); a robustness
        word replaces the first by what it names."""
        if robust and not self.robustness:
            return None
        specs: list[NamedSpec] = []
        for index, serial in enumerate(serials):
            record = self.record(serial)
            if index == 0 and robust in ("unknown", "null"):
                layer = record.layer if record is not None else "tcp"
                value = NeverIssued() if robust == "unknown" else None
                kind = state_type or _any_type(operation, layer)
                specs.append(NamedSpec(None, kind, value=value, offending=robust, layer=layer))
                continue
            if index == 0 and robust == "gone":
                if record is None or self.model.state_of(record) != "gone":
                    return None
                kind = state_type or request_type(operation, record)
                specs.append(NamedSpec(record, kind, value=record.context, offending="gone"))
                continue
            if not self.eligible(record):
                return None
            assert record is not None
            specs.append(NamedSpec(record, state_type or request_type(operation, record)))
        return specs

    def _terminate(self, step: Terminate, healthy: bool) -> tuple[Any, Request] | None:
        if not self.declares(OffloadOperation.TERMINATE):
            return None
        model = self.model
        if step.robust:
            if not self.robustness:
                return None
            if step.robust == "omit":
                record = self.record(step.serials[0])
                if not self.eligible(record, valid=False) or not model.dependents(record):  # type: ignore[arg-type]
                    return None
                assert record is not None
                spec = NamedSpec(record, request_type("terminate", record), offending="omit")
                return build_request(
                    "terminate",
                    [spec],
                    model,
                    robustness="a terminate leaving live dependents out",
                    healthy=healthy,
                )
            specs = self._specs("terminate", step.serials[:1], step.robust)
            if specs is None:
                return None
            return build_request(
                "terminate", specs, model, robustness=f"a robustness case: {step.robust}",
                healthy=healthy,
            )  # fmt: skip
        chosen: dict[int, ObjectRecord] = {}
        for serial in step.serials:
            record = self.record(serial)
            if record is None or not self._may_terminate(record):
                return None
            for below in self.subtree(record):  # H3: all dependents in the same tree
                if not self._may_terminate(below):
                    return None
                chosen[below.serial] = below
        if not chosen:
            return None
        specs = [NamedSpec(r, request_type("terminate", r)) for r in chosen.values()]
        root, request = build_request("terminate", specs, model, healthy=healthy)
        for named in request.named:
            record = named.record
            if record is not None and record.layer == "neighbor" and not model.dependents(record):
                # UPD-RELINK: a neighbor left without paths by relinks terminates alone.
                request.relinked_away = request.relinked_away or record.serial in self._relinked
        return root, request

    def _may_terminate(self, record: ObjectRecord) -> bool:
        """H1, H2, H7: LIVE, or IN DOUBT once its ABORT came or a timeout passed."""
        state = self.model.state_of(record)
        if state == "live":
            if record.failed_at is not None and record.layer == "tcp":
                return record.aborted or time.monotonic() > record.failed_at + self.failure_wait
            return True
        if state == "in doubt":
            if record.layer != "tcp":
                return True
            return record.aborted or time.monotonic() > (record.failed_at or 0) + self.failure_wait
        return False

    def _relink(self, step: Relink, healthy: bool) -> tuple[Any, Request] | None:
        if not self.declares(OffloadOperation.UPDATE):
            return None
        old, new = self.record(step.old), self.record(step.new)
        if old is None or new is None or old is new:
            return None
        if old.layer != "neighbor" or new.layer != "neighbor":
            return None
        if not (self.eligible(old, valid=False) and self.eligible(new)):
            return None
        paths = self.model.dependents(old)
        if not paths or not all(self.eligible(p) for p in paths):
            return None  # H4, H6: every path LIVE and valid
        specs = [NamedSpec(p, request_type("update", p), handed=p.cached) for p in paths]
        built = build_request("update", specs, self.model, anchor=new, healthy=healthy)
        self._relinked.add(old.serial)
        return built

    # -- events ---------------------------------------------------------------------------

    def _answer(self, step: Answer) -> list[tuple[PendingInitiate, Request | None]]:
        """Terminate the connections that asked (H7): mandatory reasons and ABORT, and
        optional reasons when the step says so."""
        self.lifecycle.judge_step(self._last_report(), self.host.events(), self.host.send_log())
        wanted: list[int] = []
        for record in self.model.held("tcp"):
            asked = record.asked
            must = record.aborted or any(r in MANDATORY_REASONS for r in asked)
            if (must or (step.optional and asked)) and self._may_terminate(record):
                wanted.append(record.serial)
        if not wanted:
            return []
        return self._start(Terminate(tuple(wanted)))

    def _last_report(self) -> CheckReport:
        if self.reports:
            return self.reports[-1]
        raise LookupError("no step has run yet")

    # -- the end of a case ------------------------------------------------------------------

    def teardown(self) -> None:
        """Terminate everything held (connections that failed only after their ABORT or a
        timeout), once; then judge every request again with all that was seen."""
        if self.closed:
            return
        self._tearing_down = True
        if self.alive and self.lifecycle_declared and self.declares(OffloadOperation.TERMINATE):
            for _ in range(2):  # a second round re-terminates what the first left in doubt
                self._wait_for_failed()
                neighbors = [r for r in self.model.held("neighbor") if self._may_terminate(r)]
                # Objects whose parent is gone (a connection left in doubt by a terminate
                # of its path that succeeded) are terminated on their own.
                loose = [
                    r
                    for r in self.model.held()
                    if r.layer != "neighbor"
                    and (r.parent is None or self.model.state_of(r.parent) == "gone")
                    and self._may_terminate(r)
                ]
                roots = [r.serial for r in neighbors + loose]
                if not roots or not self.alive:
                    break
                self._teardown_terminate(roots)
        self.closed = True
        self._final()

    def _teardown_terminate(self, serials: list[int]) -> None:
        step = Terminate(tuple(serials))
        started = self._start(step)
        if started:
            self._finish(started)

    def _wait_for_failed(self) -> None:
        """H7: a connection that failed is terminated only after its ABORT, or once the
        operation timeout has passed."""
        failed = [r for r in self.model.held("tcp") if r.failed_at is not None and not r.aborted]
        if not failed:
            return
        deadline = max((r.failed_at or 0.0) + self.failure_wait for r in failed)
        while time.monotonic() < deadline:
            self.lifecycle.judge_step(
                self._last_report(), self.host.events(), self.host.send_log()
            )
            if all(r.aborted for r in failed):
                return
            time.sleep(0.01)
        self.silent_failures += sum(not r.aborted for r in failed)

    def _final(self) -> None:
        if not self.reports:
            return
        self.host.settle(self.settle)
        self.lifecycle.judge_step(self.reports[-1], self.host.events(), self.host.send_log())
        events = self.host.events()
        self.model.learn_sends(self.host.send_log())
        for pending, report, request in self._handed:
            if request is None:
                late = pending.late()
                if late is not None:
                    self.checker.rejudge_late(report, late)
                continue
            observation = pending.late() or pending.observation
            assert observation is not None
            self.lifecycle.rejudge(report, observation, request, events)

    def outcome(self) -> ScenarioOutcome:
        """The case as judged, for the campaign (``specs``: the program, replayable)."""
        release(self.target)
        return ScenarioOutcome(
            tuple(self.program),
            tuple(self.reports),
            self.target,
            held=len(self.checker.ledger),
            host=self.host,
            silent_failures=self.silent_failures,
            accepted=frozenset(self.model.accepted),
            refused=frozenset(self.model.refused),
        )


#: The neighbor a capacity step offloads when no live one is left.
_NEW_NEIGHBOR = NeighborOffloadState()


def _new_path(session: LifecycleSession) -> PathOffloadState:
    """A path of an IP version the target supports, for a capacity step."""
    if session.capabilities.support_ipv4:
        return PathOffloadState()
    return PathOffloadState(
        const=PathOffloadStateConst(
            source_address=bytes([0xFD] + [0] * 14 + [1]),
            destination_address=bytes([0xFD] + [0] * 14 + [2]),
        )
    )


def _any_type(operation: str, layer: str) -> int:
    from pytest_offload.model import REQUEST_TYPES  # noqa: PLC0415

    return REQUEST_TYPES[operation][layer][0]


def run_program(
    factory: TargetFactory,
    program: Sequence[Step],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    rules: Iterable[Rule] | None = None,
    robustness: bool = True,
    settle: float = 0.0,
    failure_wait: float | None = None,
) -> ScenarioOutcome:
    """Replay a recorded lifecycle program on a fresh target, then tear down and judge."""
    session = LifecycleSession(
        factory,
        timeout=timeout,
        rules=rules,
        robustness=robustness,
        settle=settle,
        failure_wait=failure_wait,
    )
    for step in program:
        session.run(step)
    session.teardown()
    return session.outcome()
