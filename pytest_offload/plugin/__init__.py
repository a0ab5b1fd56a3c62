"""pytest wiring: options, ini keys, the bundled suite's collection, fixtures, the summary.

Registered through the ``pytest11`` entry point as ``offload`` (``-p no:offload`` turns it
off). Without ``--offload-target`` it only offers fixtures; with it, the run collects the
bundled conformance suite (alone, or beside the paths given on the command line).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_offload.catalogue import CATALOGUE
from pytest_offload.generate import ScenarioOutcome, release, run_scenario
from pytest_offload.harness import DEFAULT_TIMEOUT, RecordingHost, TargetLoadError, load_factory
from pytest_offload.harness.transports import end_all
from pytest_offload.model import CapabilityError, OffloadCapabilities, OffloadOperation
from pytest_offload.plugin._engine import CAMPAIGN_KEY, PROPERTY_KEY, RUN_KEY
from pytest_offload.plugin._summary import write_summary
from pytest_offload.report import build_certificate, write_report
from pytest_offload.run import (
    OPTIONS,
    Campaign,
    OffloadRun,
    RuleVerdict,
    SettingError,
    WaiverError,
    load_waivers,
    resolve,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pytest_offload.generate import TreeSpec
    from pytest_offload.model import OffloadBlockList, OffloadTarget, TargetFactory

__all__ = ["RUN_KEY"]

#: Exit status of a run whose verdict is INCOMPLETE (a rule was never exercised) though
#: nothing failed; pytest's own codes are 0-5.
EXIT_INCOMPLETE = 6

#: The ``workerinput`` key carrying the run's seed from the xdist controller to workers.
SEED_KEY = "offload_seed"
#: The ``workerinput`` key carrying the directory in which workers share the campaign.
STORE_KEY = "offload_campaign"

SUITE_DIR = Path(__file__).resolve().parent.parent / "suite"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("offload", "TCP chimney offload conformance (pytest-offload)")
    for option in OPTIONS:
        help_text = f"{option.help}. Also ini key {option.ini}, environment {option.env}."
        if option.flag:
            group.addoption(option.cli, action="store_true", default=None, help=help_text)
        else:
            group.addoption(option.cli, default=None, metavar=option.name.upper(), help=help_text)
        parser.addini(option.ini, option.help, type="string", default=None)


def _usage_error(message: str) -> pytest.UsageError:
    return pytest.UsageError(message)


def _load_run(config: pytest.Config) -> OffloadRun | None:
    try:
        settings = resolve(
            cli=lambda name: config.getoption("offload_" + name),
            ini=config.getini,
        )
    except SettingError as exc:
        raise _usage_error(str(exc)) from None
    if settings.target is None:
        return None
    source = settings.sources["target"]
    # A vendor module next to where pytest was started is found, as `python -m pytest`
    # would find it; appended, so it never shadows an installed package.
    here = str(config.invocation_params.dir)
    if here not in sys.path:
        sys.path.append(here)
    try:
        factory = load_factory(settings.target, source=source, cwd=here)
    except TargetLoadError as exc:
        raise _usage_error(str(exc)) from None
    # A process target's children end with the session (and on Ctrl-C, which ends it too).
    close = getattr(factory, "close", None)
    if callable(close):
        config.add_cleanup(close)
    config.add_cleanup(end_all)
    capabilities = _probe(factory, settings.target, source)
    try:
        rules = CATALOGUE.select(settings.rules) if settings.rules else list(CATALOGUE)
    except KeyError as exc:
        raise _usage_error(
            f"offload: rule {exc.args[0]!r} given by {settings.sources['rules']} matches no "
            "rule ID; use IDs such as INI-NO-RAISE, a prefix such as INI-CONTEXT or a glob "
            "such as INI-*-CAUSE (pytest --offload-target=... --collect-only lists them)"
        ) from None
    # One seed per run: an xdist worker takes the controller's (sent in its workerinput),
    # so every rule's cases, on every worker, come from the seed the certificate records.
    worker_seed = getattr(config, "workerinput", {}).get(SEED_KEY)
    if settings.seed is not None:
        seed = settings.seed
    elif worker_seed is not None:
        seed = int(worker_seed)
    else:
        seed = random.randrange(2**32)
    waivers = []
    if settings.waivers:
        try:
            waivers = load_waivers(Path(settings.waivers))
        except WaiverError as exc:
            raise _usage_error(f"{exc} (given by {settings.sources['waivers']})") from None
    return OffloadRun(
        settings, factory, capabilities, rules, seed, settings.target, waivers=waivers
    )


def _probe(factory: TargetFactory, name: str, source: str) -> OffloadCapabilities:
    """Create one target up front, so that a broken factory is a usage error, not 30 fails."""
    try:
        target = factory(RecordingHost())
    except TargetLoadError as exc:  # a process target that would not start or shake hands
        raise _usage_error(str(exc)) from None
    except CapabilityError as exc:
        raise _usage_error(
            f"offload: the target from {name} given by {source} declares invalid "
            f"capabilities: {exc}"
        ) from None
    except Exception as exc:  # vendor code: any failure is reported, never a traceback
        raise _usage_error(
            f"offload: the factory {name} given by {source} raised "
            f"{type(exc).__name__}: {exc}; it must return a target for the host it is given"
        ) from None
    capabilities = getattr(target, "capabilities", None)
    if not isinstance(capabilities, OffloadCapabilities):
        raise _usage_error(
            f"offload: the target from {name} has capabilities={capabilities!r}; declare "
            "`capabilities = pytest_offload.OffloadCapabilities("
            "tcp_connection_offload_capacity=N, ...)`"
        )
    if not callable(getattr(target, "initiate_offload", None)):
        raise _usage_error(f"offload: the target from {name} has no initiate_offload(root) method")
    missing = [
        op.method
        for op in OffloadOperation
        if op in capabilities.operations and not callable(getattr(target, op.method, None))
    ]
    if missing:
        raise _usage_error(
            f"offload: the target from {name} declares operations it has no method for: "
            f"{', '.join(f'{m}(root)' for m in missing)}; implement them or leave them out "
            "of OffloadCapabilities.operations"
        )
    release(target)
    return capabilities


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "offload_rule(rule_id): a conformance test of one rule")
    try:
        run = _load_run(config)
    except CapabilityError as exc:
        raise _usage_error(f"offload: the target declares invalid capabilities: {exc}") from None
    if run is None:
        return
    config.stash[RUN_KEY] = run
    config.stash[CAMPAIGN_KEY] = Campaign(run, _campaign_directory(config))
    # The suite directory, not its files, as the initial path: node IDs then read
    # test_status.py::test_rule[INI-...] wherever the package is installed.
    from_ini = run.settings.sources["target"].startswith("ini")
    testpaths = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if config.args_source is pytest.Config.ArgsSource.ARGS or (from_ini and testpaths):
        # Paths given on the command line, or the ini file's testpaths when the ini file
        # names the target too, run beside the suite: they are never silently dropped.
        config.args = [*config.args, str(SUITE_DIR)]
    else:
        config.args = [str(SUITE_DIR)]
    config.pluginmanager.register(OffloadSession(run), "offload-session")


def _campaign_directory(config: pytest.Config) -> Path:
    """Where this run's workers share the generated aims: made by the controller (or the
    only process), handed to xdist workers in their workerinput, removed at the end."""
    given = getattr(config, "workerinput", {}).get(STORE_KEY)
    if given is not None:
        return Path(given)
    made = Path(tempfile.mkdtemp(prefix="pytest-offload-"))
    config.add_cleanup(lambda: shutil.rmtree(made, ignore_errors=True))
    return made


class OffloadSession:
    """Collects each rule test's verdict (also from xdist workers) and sums them up."""

    def __init__(self, run: OffloadRun) -> None:
        self.run = run
        self.started = _now()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist (controller): hand this run's seed and campaign directory to every worker."""
        node.workerinput[SEED_KEY] = self.run.seed
        node.workerinput[STORE_KEY] = str(node.config.stash[CAMPAIGN_KEY].directory)

    def _suite_module(self, path: Path) -> bool:
        return path.parent == SUITE_DIR and path.name.startswith("test_") and path.suffix == ".py"

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        """Skip the suite modules of groups with no selected rule."""
        if self._suite_module(collection_path):
            group = collection_path.stem.removeprefix("test_")
            if group not in {r.group for r in self.run.rules}:
                return True
        return None  # not ours to decide: --ignore and other plugins still apply

    def pytest_collect_file(
        self, file_path: Path, parent: pytest.Collector
    ) -> pytest.Module | None:
        """Collect the suite's modules even when ``python_files`` would not match them."""
        if not self._suite_module(file_path):
            return None
        patterns = parent.config.getini("python_files")
        if any(fnmatch.fnmatch(file_path.name, pattern) for pattern in patterns):
            return None  # pytest's own collector takes it
        return pytest.Module.from_parent(parent, path=file_path)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == PROPERTY_KEY and isinstance(value, str):
                found = RuleVerdict.from_json(value)
                self.run.verdicts[found.rule] = found

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        if terminalreporter.config.option.collectonly:
            return  # nothing was judged: no verdict to sum up
        write_summary(terminalreporter, self.run)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if _on_worker(session.config):
            return  # the controller sums up what the workers sent
        judged = [v for v in self.run.verdicts.values() if v.verdict.judged]
        if exitstatus == pytest.ExitCode.OK and not judged:
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        elif exitstatus == pytest.ExitCode.OK and self.run.overall_verdict() == "INCOMPLETE":
            # A rule never given an opportunity: no claim of conformance (rules.md 5).
            session.exitstatus = EXIT_INCOMPLETE
        report_dir = self.run.settings.report
        if report_dir:
            complete = exitstatus not in (
                pytest.ExitCode.INTERRUPTED,
                pytest.ExitCode.INTERNAL_ERROR,
            ) and all(r.id in self.run.verdicts for r in self.run.rules)
            certificate = build_certificate(
                self.run,
                started=self.started,
                finished=_now(),
                complete=complete,
                verdict=self.run.overall_verdict() if complete else "INCOMPLETE",
            )
            messages = {
                rule_id: found.message
                for rule_id, found in self.run.verdicts.items()
                if found.message
            }
            write_report(Path(report_dir), certificate, messages)
            self.run.report_written = str(Path(report_dir).resolve())


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _on_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# -- fixtures for vendors' own tests --------------------------------------------------------


def _timeout(config: pytest.Config) -> float:
    run = config.stash.get(RUN_KEY, None)
    return run.settings.timeout if run else DEFAULT_TIMEOUT


@pytest.fixture(scope="session")
def offload_target_factory(pytestconfig: pytest.Config) -> TargetFactory:
    """The ``create_target`` factory named by ``--offload-target``; without one, the bundled
    ``reference_target`` (a well-behaved target for host-side tests)."""
    run = pytestconfig.stash.get(RUN_KEY, None)
    if run is not None:
        return run.factory
    # Loaded only when asked for: the plugin itself never needs the reference target.
    return load_factory("reference_target", source="the offload fixtures' default")


@pytest.fixture(scope="session")
def offload_capabilities(
    offload_target_factory: TargetFactory, pytestconfig: pytest.Config
) -> OffloadCapabilities:
    """The capabilities the target of ``offload_target_factory`` declares."""
    run = pytestconfig.stash.get(RUN_KEY, None)
    if run is not None:
        return run.capabilities
    return offload_target_factory(RecordingHost()).capabilities


@pytest.fixture
def offload_host(pytestconfig: pytest.Config) -> RecordingHost:
    """A fresh recording host with the run's ``--offload-timeout``."""
    return RecordingHost(timeout=_timeout(pytestconfig))


@pytest.fixture
def offload_target(
    offload_target_factory: TargetFactory, offload_host: RecordingHost
) -> Iterator[OffloadTarget]:
    """A fresh target (nothing offloaded) created with ``offload_host``; released (its
    ``close()``, if any) when the test ends."""
    target = offload_target_factory(offload_host)
    yield target
    release(target)


@pytest.fixture(scope="session")
def offload_check(
    offload_target_factory: TargetFactory, pytestconfig: pytest.Config
) -> Callable[..., ScenarioOutcome]:
    """Run trees through a fresh target and return every initiate's verdict.

    Call it with trees (``OffloadBlockList``) or tree specs, one per initiate, in order;
    each call creates a fresh target, so it is safe under ``@given``::

        outcome = offload_check(tree)
        assert outcome.reports[0].violations == []
    """
    timeout = _timeout(pytestconfig)

    def check(*trees: OffloadBlockList | TreeSpec) -> ScenarioOutcome:
        return run_scenario(offload_target_factory, trees, timeout=timeout)

    return check
