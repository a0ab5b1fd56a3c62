"""The campaign of a run: every aim's cases generated once and judged by every rule.

Each selected rule has an aim (``generate.aim_for``): a strategy that creates the
opportunities to break it. The campaign runs each aim's Hypothesis generation once, with
the run's seed, and judges every case by every selected rule (rules.md section 5), so a
violation of one rule found in a case generated for another is never thrown away. A rule's
test then asks the campaign for the opportunities all aims gave it and, when some aim
found it broken, shrinks that aim's cases again for that rule alone and replays the
result to tell a deterministic finding from a nondeterministic target.

Generation and shrinking are separate Hypothesis runs with the same seed: generation never
raises, so every call is a generated case and the opportunity counts exclude shrinking and
replays; the shrinking run raises only for the rule judged, and regenerates the same cases
up to the first that breaks it (a deterministic target gives the same answers).

Under xdist each worker claims aims one by one through files in a directory the
controller made (``os.open`` with ``O_EXCL``), computes them and writes the result; a rule
test waits until every aim is done, computing unclaimed ones itself, so no worker waits for
work that nobody does. A claim whose process has died is taken over.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from pytest_offload.catalogue import LATE_RULES, REJUDGED_RULES, TargetChecker
from pytest_offload.generate import (
    LifecycleSession,
    ScenarioOutcome,
    aim_for,
    aim_key,
    machine_for,
    run_program,
    run_scenario,
    stable_generation,
)
from pytest_offload.generate._stable import bounded_shrinking

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from pytest_offload.run._run import OffloadRun

__all__ = ["LATE_SETTLE", "REPLAYS", "AimResult", "Campaign", "Finding"]

#: Seconds a case is watched after its last completion in the aims of the rules that look
#: past the completion (a second completion, a timer's late write).
LATE_SETTLE = 0.15
#: Once a target has hung, later cases wait this long at most: a hang is already a finding,
#: and a target that never completes must not cost the full timeout per case.
HUNG_TIMEOUT = 0.02
#: Replays of a shrunk case, and of the original, that decide whether a finding reproduces.
REPLAYS = 5
#: How long a rule test waits for aims another worker is computing (seconds).
WAIT_LIMIT = 3600.0
#: Steps of one lifecycle state-machine run (its teardown's terminates not counted).
LIFECYCLE_STEPS = 12
#: Seconds a lifecycle case is watched after its last completion before its final
#: judgement (a second completion or a write after it is that case's finding).
LIFECYCLE_SETTLE = 0.05
#: Once a target has let a failed connection go without RETRIEVE and ABORT for a whole
#: operation timeout, later generated and shrunk cases give each failure this long (the
#: finding is made; replays and the case shown give the full timeout again).
SILENT_WAIT = 0.05
#: Seconds Hypothesis may spend shrinking one lifecycle finding (each shrink runs a whole
#: case on a fresh target; its default, 300 s, would dominate a run).
LIFECYCLE_SHRINK_SECONDS = 30
#: The lifecycle rules that look past a completion (a second completion, a late write, a
#: late event or send completion): only their shrinking watches each case past its end.
LIFECYCLE_LATE_RULES = frozenset(
    {"LIFE-COMPLETE-ONCE", "LIFE-HOST-FIELDS-INTACT", "TRM-NO-EVENT-AFTER", "TRM-SEND-DATA-ONCE"}
)

# Health checks suppressed, each for a reason: a target's initiate takes real time, and a
# thread or a timeout may be part of a case (too_slow); capacity aims build large trees by
# design (data_too_large, large_base_example).
_SUPPRESSED = (HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example)


@dataclass(slots=True)
class AimResult:
    """What generating one aim's cases found, for every rule.

    Attributes:
        aim: The rule whose aim generated the cases.
        cases: Generated cases (no shrinking, no replays).
        hits: Per rule, the generated cases that gave the target an opportunity to break it.
        found: Per rule, the first generated scenario that broke it (pickled).
        error: Set when the aim could not be run (the suite's problem, not a verdict).
    """

    aim: str
    cases: int = 0
    hits: dict[str, int] = field(default_factory=dict)
    found: dict[str, bytes] = field(default_factory=dict)
    error: str = ""
    #: Generated cases that ended with the target holding an offloaded object.
    held: int = 0
    #: Kinds of lifecycle request the target accepted, and refused, in some case.
    accepted: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule found broken: the case to show, and whether it reproduces.

    ``outcome`` is the shrunk case when it reproduced on every replay, else the original
    generated case; ``reproduced`` counts the replays (of ``REPLAYS``) that broke the rule
    again, ``None`` when the shrunk case reproduced every time.
    """

    rule: str
    aim: str
    outcome: ScenarioOutcome
    reproduced: int | None = None

    @property
    def deterministic(self) -> bool:
        """Whether the shown case breaks the rule every time it is replayed."""
        return self.reproduced is None


class _Broken(Exception):
    """Raised in the shrinking run so that Hypothesis shrinks the case for one rule."""

    def __init__(self, outcome: ScenarioOutcome) -> None:
        super().__init__("rule broken")
        self.outcome = outcome


class Campaign:
    """One run's generation, shared by every rule test of this process (and, through
    ``directory``, of every xdist worker)."""

    def __init__(self, run: OffloadRun, directory: Path) -> None:
        self.run = run
        self.directory = directory
        keys = [aim_key(r.id) for r in run.rules if run.not_applicable(r.id) is None]
        self.aims = list(dict.fromkeys(keys))  # rules sharing a generation: it runs once
        self._results: dict[str, AimResult] = {}

    # -- sharing the work ----------------------------------------------------------------

    def results(self) -> list[AimResult]:
        """Every aim's result, computing the unclaimed ones and waiting for the others."""
        deadline = time.monotonic() + WAIT_LIMIT
        while True:
            missing = [a for a in self.aims if self._load(a) is None]
            if not missing:
                return [self._results[a] for a in self.aims]
            for aim in missing:
                if self._claim(aim):
                    self._store(self._generate_safely(aim))
            if all(self._load(a) is not None for a in missing):
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"offload: aims {missing} were not generated within {WAIT_LIMIT:g} s"
                )
            time.sleep(0.05)

    def _path(self, aim: str, suffix: str) -> Path:
        return self.directory / f"{aim}.{suffix}"

    def _load(self, aim: str) -> AimResult | None:
        found = self._results.get(aim)
        if found is not None:
            return found
        try:
            data = self._path(aim, "result").read_bytes()
        except FileNotFoundError:
            return None
        loaded: AimResult = pickle.loads(data)  # written by this run, on this machine
        self._results[aim] = loaded
        return loaded

    def _claim(self, aim: str) -> bool:
        claim = self._path(aim, "claim")
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return self._take_over(claim)
        with os.fdopen(fd, "w") as out:
            out.write(str(os.getpid()))
        return True

    def _take_over(self, claim: Path) -> bool:
        """Claim an aim whose claimant died (a crashed worker), once."""
        try:
            pid = int(claim.read_text() or "0")
        except (OSError, ValueError):
            return False
        if pid <= 0 or pid == os.getpid() or _alive(pid):
            return False
        with contextlib.suppress(OSError):
            claim.unlink()
        return self._claim(claim.stem)

    def _store(self, result: AimResult) -> None:
        self._results[result.aim] = result
        final = self._path(result.aim, "result")
        partial = final.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(pickle.dumps(result))
        partial.replace(final)

    # -- generation ----------------------------------------------------------------------

    def _generate_safely(self, aim: str) -> AimResult:
        try:
            return self.generate(aim)
        except Exception as exc:  # the suite could not judge: an error verdict, not a hang
            return AimResult(aim, error=f"{type(exc).__name__}: {exc}")

    def _hung(self) -> bool:
        return self._path("target", "hung").exists()

    def _mark_hung(self) -> None:
        self._path("target", "hung").touch()

    def _case(
        self,
        aim: str,
        scenario: Sequence[Any],
        *,
        replay: bool = False,
        timeout: float | None = None,
        settle: float | None = None,
    ) -> ScenarioOutcome:
        """Run one scenario on a fresh target, judged by every selected rule (a replay
        neither shortens the timeout of a target known to hang nor marks one)."""
        settings = self.run.settings
        if timeout is None:
            timeout = settings.timeout
            if not replay and self._hung():
                timeout = min(timeout, HUNG_TIMEOUT)
        if aim_for(aim).lifecycle:
            outcome = run_program(
                self.run.factory,
                scenario,
                timeout=timeout,
                rules=self.run.rules,
                robustness=settings.robustness,
                settle=LIFECYCLE_SETTLE if settle is None else settle,
            )
            if not replay and not self._hung() and _hang_found(outcome):
                self._mark_hung()
            return outcome
        if settle is None:
            settle = LATE_SETTLE if aim in LATE_RULES else 0.0
        outcome = run_scenario(
            self.run.factory,
            scenario,
            timeout=timeout,
            rules=self.run.rules,
            settle=settle,
            robustness=settings.robustness,
        )
        if not replay and not self._hung() and _hang_found(outcome):
            self._mark_hung()
        return outcome

    def generate(self, aim: str) -> AimResult:
        """Generate ``aim``'s cases, judge each by every selected rule, count opportunities."""
        result = AimResult(aim)
        # The cases of the rules judging time stay watched until the aim's generation ends
        # (and an operation timeout after): only then are their targets released.
        watched: list[tuple[tuple[Any, ...], ScenarioOutcome]] = []

        def count(scenario: tuple[Any, ...], outcome: ScenarioOutcome) -> None:
            result.cases += 1
            result.held += outcome.held > 0
            result.accepted |= outcome.accepted
            result.refused |= outcome.refused
            for rule_id in outcome.exercised():
                result.hits[rule_id] = result.hits.get(rule_id, 0) + 1
            for report in outcome.reports:
                for violation in report.violations:
                    if violation.rule_id not in result.found:
                        result.found[violation.rule_id] = pickle.dumps(tuple(scenario))

        if aim_for(aim).lifecycle:
            with stable_generation():
                self._machine(aim, lambda o: count(o.specs, o), (Phase.generate,))()
            return result

        def prop(scenario: tuple[Any, ...]) -> None:
            outcome = self._case(aim, scenario)
            if aim in LATE_RULES:
                watched.append((tuple(scenario), outcome))
            count(scenario, outcome)

        with stable_generation():
            self._hypothesis(aim, prop, (Phase.generate,))()
        self._look_again(watched, result)
        return result

    def _look_again(
        self, watched: list[tuple[tuple[Any, ...], ScenarioOutcome]], result: AimResult
    ) -> None:
        """Judge the watched cases once more, an operation timeout after the last of them
        completed: a second completion or a late write by then is that case's finding."""
        if not watched:
            return
        last = watched[-1][1].host
        if last is not None:
            last.settle(self.run.settings.timeout)
        checker = TargetChecker(
            self.run.capabilities, rules=[r for r in self.run.rules if r.id in REJUDGED_RULES]
        )
        for scenario, outcome in watched:
            if outcome.host is None:
                continue
            for handed, report in zip(outcome.host.initiates(), outcome.reports, strict=False):
                late = handed.late()
                if late is None:
                    continue
                checker.rejudge_late(report, late)
                for violation in report.violations:
                    if violation.rule_id not in result.found:
                        result.found[violation.rule_id] = pickle.dumps(scenario)

    def _settings(self, aim: str, phases: tuple[Phase, ...]) -> hypothesis.settings:
        run = self.run
        return hypothesis.settings(
            max_examples=aim_for(aim).examples(run.capabilities, run.settings.max_examples),
            deadline=None,
            database=None,  # the run's seed alone decides its cases: a replay is exact
            derandomize=False,
            print_blob=False,
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            phases=phases,
            suppress_health_check=_SUPPRESSED,
            stateful_step_count=LIFECYCLE_STEPS,
        )

    def _hypothesis(
        self, aim: str, prop: Callable[[tuple[Any, ...]], None], phases: tuple[Phase, ...]
    ) -> Callable[[], None]:
        run = self.run
        settings = self._settings(aim, phases)
        strategy = aim_for(aim).build(run.capabilities)
        test: Callable[[], None] = hypothesis.seed(run.rule_seed(aim))(
            settings(given(strategy)(prop))
        )
        return test

    def _machine(
        self,
        aim: str,
        done: Callable[[ScenarioOutcome], None],
        phases: tuple[Phase, ...],
        rule_id: str | None = None,
    ) -> Callable[[], None]:
        """The lifecycle state machine as a test: each run is one case on a fresh target,
        handed to ``done`` once torn down and judged (``rule_id``: the rule a shrinking
        run is for)."""
        run = self.run
        settle = LIFECYCLE_SETTLE
        if rule_id is not None and rule_id not in LIFECYCLE_LATE_RULES:
            settle = 0.0  # nothing this rule judges comes after the completions
        settings = run.settings
        timeout = settings.timeout
        if phases == (Phase.generate,) and self._hung():
            timeout = min(timeout, HUNG_TIMEOUT)

        def new_session() -> LifecycleSession:
            silent = self._path("target", "silent").exists()
            return LifecycleSession(
                run.factory,
                timeout=timeout,
                rules=run.rules,
                robustness=settings.robustness,
                settle=settle,
                failure_wait=SILENT_WAIT if silent else None,
            )

        def judged(outcome: ScenarioOutcome) -> None:
            if phases == (Phase.generate,) and not self._hung() and _hang_found(outcome):
                self._mark_hung()
            if outcome.silent_failures:
                self._path("target", "silent").touch()
            done(outcome)

        machine = machine_for(
            run.capabilities, new_session, judged, robustness=settings.robustness
        )

        def factory() -> Any:
            return machine()

        seeded = hypothesis.seed(run.rule_seed(aim))(factory)
        config = self._settings(aim, phases)

        def test() -> None:
            with bounded_shrinking(LIFECYCLE_SHRINK_SECONDS):
                run_state_machine_as_test(seeded, settings=config)  # type: ignore[arg-type]

        return test

    # -- findings ------------------------------------------------------------------------

    def opportunities(self, rule_id: str) -> tuple[int, int]:
        """(generated cases giving ``rule_id`` an opportunity, generated cases in all)."""
        results = self.results()
        return (sum(r.hits.get(rule_id, 0) for r in results), sum(r.cases for r in results))

    def ever_held(self) -> bool:
        """Whether any generated case left the target holding an offloaded object."""
        return any(r.held for r in self.results())

    def only_refused(self, kind: str) -> bool:
        """Whether the target refused requests of ``kind`` (``"update"``, ``"relink"``)
        in some generated case and answered SUCCESS to none in any."""
        results = self.results()
        refused = any(kind in r.refused for r in results)
        return refused and not any(kind in r.accepted for r in results)

    def errors(self) -> list[str]:
        """What kept aims from being generated, one line each."""
        return [f"aim of {r.aim}: {r.error}" for r in self.results() if r.error]

    def finding(self, rule_id: str) -> Finding | None:
        """The minimal case breaking ``rule_id`` found by any aim (its own aim first), with
        how well it reproduces; ``None`` when no generated case broke it."""
        results = self.results()
        found = [r for r in results if rule_id in r.found]
        if not found:
            return None
        found.sort(key=lambda r: r.aim != rule_id)  # its own aim first, then catalogue order
        source = found[0]
        original: tuple[Any, ...] = pickle.loads(source.found[rule_id])
        shrunk = self._shrink(source.aim, rule_id)
        if shrunk is not None and aim_for(source.aim).lifecycle:
            shrunk = self._trim(source.aim, shrunk, rule_id)
        if shrunk is not None:
            count, _ = self._reproduces(source.aim, shrunk.specs, rule_id)
            if count == REPLAYS:
                # Shown as the run's own settings judge it (shrinking may have used a shorter
                # timeout once the target was known to hang).
                shown = self._case(source.aim, shrunk.specs, replay=True)
                return Finding(rule_id, source.aim, shown if _breaks(shown, rule_id) else shrunk)
        # The shrunk case did not hold up: judge by the case as generated.
        count, broken = self._reproduces(source.aim, original, rule_id)
        outcome = broken or self._case(source.aim, original, replay=True)
        return Finding(rule_id, source.aim, outcome, None if count == REPLAYS else count)

    def _shrink(self, aim: str, rule_id: str) -> ScenarioOutcome | None:
        """Regenerate ``aim``'s cases and shrink the first that breaks ``rule_id``."""

        def prop(scenario: tuple[Any, ...]) -> None:
            outcome = self._case(aim, scenario)
            if _breaks(outcome, rule_id):
                raise _Broken(outcome)

        def done(outcome: ScenarioOutcome) -> None:
            if _breaks(outcome, rule_id):
                raise _Broken(outcome)

        phases = (Phase.generate, Phase.shrink)
        try:
            with stable_generation():
                if aim_for(aim).lifecycle:
                    self._machine(aim, done, phases, rule_id)()
                else:
                    self._hypothesis(aim, prop, phases)()
        except _Broken as broken:
            return broken.outcome
        except (Flaky, BaseExceptionGroup):
            return None  # the target answered differently for the same case
        return None

    def _trim(self, aim: str, outcome: ScenarioOutcome, rule_id: str) -> ScenarioOutcome:
        """Delete the steps of a shrunk lifecycle program that the finding does not need,
        one at a time from the last: Hypothesis shrinks the rules it drew, and leaves
        steps whose removal shifts which objects later draws name; a replay of the
        program without a step tells directly whether that step is needed."""
        run, settings = self.run, self.run.settings
        silent = self._path("target", "silent").exists()
        steps = list(outcome.specs)
        best = outcome
        for index in range(len(steps) - 1, 0, -1):  # the first initiate stays
            trial = steps[:index] + steps[index + 1 :]
            again = run_program(
                run.factory,
                trial,
                timeout=min(settings.timeout, HUNG_TIMEOUT) if self._hung() else settings.timeout,
                rules=run.rules,
                robustness=settings.robustness,
                settle=LIFECYCLE_SETTLE if rule_id in LIFECYCLE_LATE_RULES else 0.0,
                failure_wait=SILENT_WAIT if silent else None,
            )
            if _breaks(again, rule_id):
                steps, best = trial, again
        return best

    def _reproduces(
        self, aim: str, scenario: Sequence[Any], rule_id: str
    ) -> tuple[int, ScenarioOutcome | None]:
        """How many of ``REPLAYS`` replays of ``scenario`` break ``rule_id`` (rules judging
        time get four times the timeout), and the last replay that broke it."""
        settings = self.run.settings
        slow = rule_id in LATE_RULES or rule_id in LIFECYCLE_LATE_RULES
        count = 0
        broken: ScenarioOutcome | None = None
        for _ in range(REPLAYS):
            # A rule judging time waits four timeouts for a completion and watches a whole
            # timeout past the last one (a late completion or write within it counts).
            outcome = self._case(
                aim,
                scenario,
                replay=True,
                timeout=settings.timeout * (4 if slow else 1),
                settle=settings.timeout if slow else 0.0,
            )
            if _breaks(outcome, rule_id):
                count += 1
                broken = outcome
        return count, broken


def _hang_found(outcome: ScenarioOutcome) -> bool:
    """Whether INI-COMPLETE-ONCE found an initiate that never completed (a robustness case's
    hang is its own rule's finding, and does not count)."""
    for report in outcome.reports:
        once = report.outcomes.get("INI-COMPLETE-ONCE") or report.outcomes.get(
            "LIFE-COMPLETE-ONCE"
        )
        observation = report.observation
        stuck = not observation.completions or not observation.returned
        if once is not None and stuck and once.violations:
            return True
    return False


def _breaks(outcome: ScenarioOutcome, rule_id: str) -> bool:
    return any(v.rule_id == rule_id for r in outcome.reports for v in r.violations)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
