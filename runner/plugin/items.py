"""The pytest plugin's items and hooks: spec files become test files, each check one test item
(the shape of pytest's own non-Python test example), and the results and the report written at
the end of the session.

Under pytest-xdist, workers attach a small plain-dict result to each check's report
(``report.policyspec``) and, once per spec file and worker, the file's policy inventory; the
controller gathers them and writes the HTML report and the results file.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import time
import warnings
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from runner import __version__, model, results, text
from runner.errors import SpecError
from runner.plugin import ci, clock
from runner.plugin.gcfreeze import GcFreezer
from runner.speed import collector_paused

if TYPE_CHECKING:
    from runner import checks
    from runner.engine.context import Clock

# The loader (runner.spec) and the checks (runner.checks) are imported where a process first
# collects or runs a check, the engine where it sets the run's clock (runner/plugin/clock.py):
# the xdist controller does none of these, and it starts the workers only once it has
# imported its plugins (importing them took 0.13 s of its start).

#: The file suffixes of spec files.
SUFFIXES = (".yaml", ".yml")
_STATE_KEY = pytest.StashKey["PolicySpecSession"]()
_ERROR = model.Outcome.ERROR.value


class PolicySpecWarning(pytest.PytestWarning):
    """A problem in a spec or policy that does not stop it (an unknown condition key, say);
    the message starts with its ``file:line:col``."""


def is_spec_nodeid(nodeid: str) -> bool:
    """Whether a node id is a spec check's (or a spec file's): its file is a spec file."""
    return nodeid.split("::", 1)[0].endswith(SUFFIXES)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("policyspec", "AWS policy specs (pytest-policyspec)")
    group.addoption(
        "--policy-report",
        metavar="PATH",
        default=None,
        help="write the HTML policy report here (default: reports/policy-report.html "
        "under the rootdir, or the policyspec_report ini value)",
    )
    group.addoption(
        "--no-policy-report",
        action="store_true",
        default=False,
        help="do not write the HTML policy report",
    )
    group.addoption(
        "--policy-results",
        metavar="PATH",
        default=None,
        help="also write the results as JSON (input of `python -m runner report`)",
    )
    group.addoption(
        "--policy-time",
        metavar="ISO8601",
        default=None,
        type=clock.parse_time,
        help="evaluate every check at this instant (aws:CurrentTime, aws:EpochTime), ISO "
        "8601, e.g. 2027-01-01T00:00:00Z; a time without Z or an offset is UTC, a date alone "
        "its midnight UTC; years 1 to 9999; default: when the run starts",
    )
    ci.add_options(group)
    parser.addini(
        "policyspec_report",
        "path of the HTML policy report, relative to the rootdir",
        default="reports/policy-report.html",
    )


def pytest_configure(config: pytest.Config) -> None:
    ci.configure(config)
    state = PolicySpecSession(config)
    config.stash[_STATE_KEY] = state
    config.pluginmanager.register(state, "policyspec-session")
    # Registered before pytest's own plugins add theirs, so it runs after them: the garbage
    # collections that pytest's unraisable-exception plugin runs at the end skip the frozen
    # checks (0.4 s of walking after 8,000 checks, bench_scale.py xdist).
    config.add_cleanup(state.gc.thaw)
    # one instant for the whole run, the engine's clock in every process that runs tests
    state.now = clock.run_instant(config)
    if not clock.is_xdist_controller(config):
        state.freeze_clock()


@pytest.hookimpl(trylast=True)  # after the other plugins' own ends
def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE_KEY, None)
    if state is None:
        return
    if state.previous_clock is not None:
        clock.restore_engine_clock(state.previous_clock)
    state.gc.session_over()  # just before pytest's cleanup collections


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, on the controller: give each worker the run's instant."""
    clock.hand_to_worker(node, _state(node.config).now)


def _state(config: pytest.Config) -> PolicySpecSession:
    return config.stash[_STATE_KEY]


# ---------------------------------------------------------------------------------------------
# Collection


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    if file_path.suffix not in SUFFIXES or file_path.name.startswith("_"):
        return None
    if not ci.in_shard(parent.config, file_path):
        return None
    from runner.spec.discovery import looks_like_spec

    if _given_explicitly(parent.config, file_path) or looks_like_spec(file_path):
        return SpecFile.from_parent(parent, path=file_path)
    return None


def _given_explicitly(config: pytest.Config, file_path: Path) -> bool:
    state = _state(config)
    if state.explicit_files is None:
        base = config.invocation_params.dir
        explicit: set[Path] = set()
        for arg in config.args:
            path = Path(arg.split("::", 1)[0])
            path = path if path.is_absolute() else base / path
            if path.suffix in SUFFIXES:
                explicit.add(path.resolve())
        state.explicit_files = frozenset(explicit)
    return bool(state.explicit_files) and file_path.resolve() in state.explicit_files


class SpecFile(pytest.File):
    """A YAML spec file; its items are its checks."""

    spec: model.Spec | None = None
    spec_error: SpecError | None = None
    _inventory: list[dict[str, Any]] | None = None

    def collect(self) -> Iterator[CheckItem]:
        from runner.spec import load_spec

        _state(self.config).freeze_clock()
        try:
            spec = load_spec(self.path, display_root=self.config.rootpath)
        except SpecError as exc:
            self.spec_error = exc
            raise
        self.spec = spec
        # one pytest warning each, at its line (the message names file, line and column); under
        # xdist every worker collects every file, and the first worker alone says them
        for text_ in spec.warnings if _says_warnings(self.config) else ():
            where = results.located(text_)
            warnings.warn_explicit(
                PolicySpecWarning(text.terminal_safe(text_)),
                PolicySpecWarning,
                filename=str(self.path),
                lineno=where["line"] or 1,
            )
        for check in spec.checks:
            # The node id is passed whole so that pytest parses the "[...]" part as parameters,
            # exactly as it parses the ids it stored for --lf / --ff (pytest >= 9.2 compares
            # structured ids).
            yield CheckItem.from_parent(
                self, name=check.test_id, nodeid=f"{self.nodeid}::{check.test_id}", check=check
            )

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        if isinstance(excinfo.value, SpecError):
            return text.terminal_safe(str(excinfo.value))
        return super().repr_failure(excinfo)

    def inventory(self) -> list[dict[str, Any]]:
        if self._inventory is None:
            self._inventory = results.policy_inventory(self.spec) if self.spec else []
        return self._inventory


def _says_warnings(config: pytest.Config) -> bool:
    workerinput = getattr(config, "workerinput", None)
    return workerinput is None or workerinput.get("workerid") == "gw0"


#: pytest's exception for ``pytest.fail`` (its class is not public: reached through the function).
_Failed: type[BaseException] = pytest.fail.Exception


class CannotDecide(_Failed):  # type: ignore[misc,valid-type]  # a variable base, known at run time
    """A check that cannot be evaluated (``model.Check.error``): an error at its setup, shown
    as its message alone (no traceback: the message names the file, line and column)."""

    __module__ = "builtins"  # the summary line says "CannotDecide: ...", as pytest's "Failed:"

    def __init__(self, message: str) -> None:
        super().__init__(message, pytrace=False)


class CheckFailed(Exception):
    """A check whose decision does not meet its expectation."""

    def __init__(self, run: checks.CheckRun) -> None:
        super().__init__(run.decision)
        self.run = run


class CheckItem(pytest.Item):
    """One check: one principal, one resource (or none), one action or operation."""

    def __init__(self, *, check: model.Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.run: checks.CheckRun | None = None

    def setup(self) -> None:
        if self.check.error is not None:
            raise CannotDecide(text.terminal_safe(self.check.error))

    def runtest(self) -> None:
        from runner.checks import evaluate_check

        with collector_paused():  # a check's evaluation leaves no garbage cycle (gcfreeze.py)
            self.run = evaluate_check(self.check)
        if self.run.error is not None:  # a universal check that cannot be decided exactly
            raise CannotDecide(text.terminal_safe(self.run.error))
        ci.judge(self.check, self.run.passed, _state(self.config).now)  # known exceptions
        if not self.run.passed:
            raise CheckFailed(self.run)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, CheckFailed):
            failure = text.format_failure(excinfo.value.run.to_result(explain=True))
            failure += f"\nexplain:   {self.explain_command()}"
            expired = ci.failure_note(self.check, _state(self.config).now)
            return text.terminal_safe(f"{expired}\n{failure}" if expired else failure)
        return super().repr_failure(excinfo)

    def explain_command(self) -> str:
        """The command that explains this check in full, from where pytest was started."""
        try:
            where = os.path.relpath(self.path, self.config.invocation_params.dir)
        except ValueError:  # another drive
            where = str(self.path)
        args = ["python", "-m", "runner", "explain", where, "--case", self.check.test_id]
        at = self.config.getoption("policy_time")
        if at is not None:  # the instant this run evaluated at
            args += ["--time", at.isoformat()]
        return shlex.join(args)

    def reportinfo(self) -> tuple[Path, int, str]:
        c = self.check
        if c.resource is None:
            where = ""
        elif results.on_registry({"action": c.action}):
            where = " on the registry"  # an account-level action, whatever repository is named
        else:
            where = f" on {c.resource.name}"
        return (
            self.path,
            c.loc.line - 1,
            text.terminal_safe(f"{c.principal.name} {c.action}{where}: expect {c.expected}"),
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not isinstance(item, CheckItem):
        return report
    run = item.run
    if report.when == "call":
        item.run = None  # drop the decisions: 10,000 live explanations would only feed the GC
    state = _state(item.config)
    if not state.wanted or (report.when != "call" and report.passed):
        return report
    if report.when == "call":
        if run is not None:
            result = run.to_result(nodeid=item.nodeid)
        else:  # the engine raised: an internal error, shown with its traceback
            result = results.check_result(item.check, nodeid=item.nodeid)
            result["message"] = _error_line(call)
    elif report.when == "setup" and item.check.error is not None:  # cannot be evaluated
        from runner.checks import evaluate_check

        result = evaluate_check(item.check).to_result(nodeid=item.nodeid)
    else:  # setup or teardown failed
        result = results.check_result(item.check, nodeid=item.nodeid)
        result["message"] = f"{report.when} failed: {_error_line(call)}"
    report.policyspec = ci.with_exception(item.check, result, state.now)  # type: ignore[attr-defined]
    parent = item.parent
    if isinstance(parent, SpecFile) and parent.nodeid not in state.inventory_sent:
        state.inventory_sent.add(parent.nodeid)
        report.policyspec_policies = parent.inventory()  # type: ignore[attr-defined]
        if parent.spec is not None:  # how many checks the file has, run or not
            total = [parent.spec.path, len(parent.spec.checks)]
            report.policyspec_checks = total  # type: ignore[attr-defined]
    if state.deselected and not state.deselected_sent:
        # files none of whose checks run send no report of their own: a worker tells the
        # controller about them once, with its first report (every worker deselects alike)
        state.deselected_sent = True
        report.policyspec_deselected = dict(state.deselected)  # type: ignore[attr-defined]
    return report


def _error_line(call: pytest.CallInfo[None]) -> str:
    """The exception that stopped a check, in one line, for the report's error entries."""
    if call.excinfo is None:
        return "no decision was recorded"
    return call.excinfo.exconly().strip().splitlines()[-1][:500]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if isinstance(collector, SpecFile) and report.failed:
        problems = collector.spec_error.problems if collector.spec_error else ()
        errors = [results.problem_entry(p, collector.nodeid) for p in problems]
        if not errors:
            errors.append(
                {
                    "file": collector.nodeid,
                    "line": None,
                    "col": None,
                    "message": report.longreprtext,
                }
            )
        report.policyspec_errors = errors  # type: ignore[attr-defined]
    return report


# ---------------------------------------------------------------------------------------------
# Results and the report (controller only)


class PolicySpecSession:
    """Per-run state of the plugin (one per ``pytest.Config``)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        #: Whether anything will use the results (the report or the results file); workers
        #: see the same options as the controller.
        self.wanted = (
            bool(config.getoption("policy_results"))
            or not config.getoption("no_policy_report")
            or ci.wanted(config)
        )
        self.start = time.time()
        self.gc = GcFreezer()
        self.now = _dt.datetime.now(_dt.UTC)  # the run's instant, set in pytest_configure
        #: the engine's clock before this session set its own (None: not set yet)
        self.previous_clock: Clock | None = None
        self.explicit_files: frozenset[Path] | None = None
        self.inventory_sent: set[str] = set()
        self.check_results: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, list[dict[str, Any]]] = {}
        self.other_collect_failures = 0
        self.policies: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.report_path: Path | None = None
        self.write_errors: list[str] = []
        self.results_path: Path | None = None
        self.warnings: dict[str, dict[str, Any]] = {}
        #: Spec file -> its number of checks (as the inventory reports say, on the controller).
        self.spec_totals: dict[str, int] = {}
        #: Spec file -> its checks deselected (-k, -m, --deselect), in this process
        self.deselected: dict[str, int] = {}
        self.deselected_sent = False

    def freeze_clock(self) -> None:
        """The engine evaluates every check at the run's instant: set in pytest_configure,
        except in the xdist controller, and again (once) where a process collects a spec file,
        should a controller ever collect one."""
        if self.previous_clock is None:
            self.previous_clock = clock.set_engine_clock(self.now)

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        for item in items:
            if isinstance(item, CheckItem):
                self.deselected[item.check.file] = self.deselected.get(item.check.file, 0) + 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """On the controller, every check's reports (xdist forwards the workers')."""
        if report.when == "call" and is_spec_nodeid(report.nodeid):
            self.gc.check_reported()
        if self.is_worker:
            return
        result = getattr(report, "policyspec", None)
        if result is None:
            return
        total = getattr(report, "policyspec_checks", None)
        if total is not None:
            self.spec_totals[total[0]] = total[1]
        for file, count in (getattr(report, "policyspec_deselected", None) or {}).items():
            self.deselected[file] = max(self.deselected.get(file, 0), count)
        inventory = getattr(report, "policyspec_policies", None)
        if inventory:
            for policy in inventory:
                key = (policy["spec"], policy["name"], policy["kind"], policy["file"])
                self.policies.setdefault(key, policy)
        if report.when == "call":
            if report.outcome == "failed" and result.get("decision") is None:
                result = {**result, "outcome": _ERROR}
            self.check_results[report.nodeid] = result
        elif report.failed:  # a setup/teardown error wins over the call's outcome
            self.check_results[report.nodeid] = {**result, "outcome": _ERROR, "passed": False}

    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage) -> None:
        """Spec warnings, as pytest records them (xdist forwards the workers', each worker's
        collection once: the same warning is kept once)."""
        if self.is_worker or not issubclass(warning_message.category, PolicySpecWarning):
            return
        message = str(warning_message.message)
        self.warnings.setdefault(message, results.located(message))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """Failed spec files (xdist forwards failed collect reports, once per file)."""
        if self.is_worker:
            return
        errors = getattr(report, "policyspec_errors", None)
        if errors is not None:
            self.errors[report.nodeid] = errors
        elif report.failed:
            self.other_collect_failures += 1

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """A broken spec file must not stop the others (spec-format.md, "Errors"): when every
        collection error came from a spec file, run the collected checks anyway. The errors
        are still reported and still make the run fail."""
        if self.errors and not self.other_collect_failures:
            self.config.option.continue_on_collection_errors = True
        self.gc.collected(sum(isinstance(item, CheckItem) for item in session.items))

    def assemble(self) -> dict[str, Any]:
        args = " ".join(self.config.invocation_params.args)
        return results.assemble(
            checks=list(self.check_results.values()),
            errors=[e for errs in self.errors.values() for e in errs],
            policies=list(self.policies.values()),
            generated=results.instant_text(_dt.datetime.now(_dt.UTC)),
            duration=round(time.time() - self.start, 3),
            evaluated_at=results.instant_text(self.now),
            command=f"pytest {args}".strip(),
            versions={
                "policyspec": __version__,
                "python": platform.python_version(),
                "pytest": pytest.__version__,
            },
            warnings=sorted(self.warnings.values(), key=results.place_key),
            selection=self.selection(),
            project=self.config.rootpath.name,
        )

    def input_files(self, assembled: Mapping[str, Any]) -> list[Path]:
        """The files the run read, as far as its results name them (spec files, the files of
        their errors, policy files): no output may be written onto one of them."""
        names: set[str] = set(self.spec_totals)
        for key in ("checks", "errors", "policies"):
            for entry in assembled.get(key, []):
                if isinstance(entry.get("file"), str):
                    names.add(entry["file"])
        root = self.config.rootpath
        return [root / name for name in sorted(names)]

    def selection(self) -> dict[str, Any] | None:
        """The checks of the spec files that ran that did not run themselves (``-k``, ``-m``,
        ``--lf``, ``--deselect``, ``-x``...), by file; None when every one ran."""
        ran: dict[str, int] = {}
        for result in self.check_results.values():
            ran[result["file"]] = ran.get(result["file"], 0) + 1
        left_out = {
            file: total - ran.get(file, 0)
            for file, total in self.spec_totals.items()
            if total > ran.get(file, 0)
        }
        # files none of whose checks ran: only the deselection knows them
        left_out.update((f, n) for f, n in self.deselected.items() if f not in self.spec_totals)
        left_out = dict(sorted(left_out.items()))
        if not left_out:
            return None
        option = self.config.getoption
        how = [f"-k {shlex.quote(option('keyword'))}"] if option("keyword") else []
        how += [f"-m {shlex.quote(option('markexpr'))}"] if option("markexpr") else []
        how += ["--lf"] if option("lf", False) else []
        how += ["--deselect"] if option("deselect", None) else []
        how += [f"--maxfail={option('maxfail')}"] if option("maxfail", 0) else []
        return {"deselected": sum(left_out.values()), "deselected_by_file": left_out, "how": how}


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _state(session.config).start = time.time()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return
    state = _state(config)
    if not state.check_results and not state.errors and not ci.sharded(config):
        return  # an empty shard still writes its (empty) results file, for the merge
    assembled = state.assemble()
    inputs = state.input_files(assembled)
    from runner import report

    results_opt = config.getoption("policy_results")
    if results_opt:
        path = _resolve(results_opt, config.invocation_params.dir)
        try:
            results.refuse_input(path, inputs)
            results.write_results(assembled, path)
            state.results_path = path
        except OSError as exc:
            state.write_errors.append(f"cannot write {path}: {exc.strerror or exc}")
    if not config.getoption("no_policy_report"):
        opt = config.getoption("policy_report")
        if opt:
            path = _resolve(opt, config.invocation_params.dir)
        else:
            path = _resolve(str(config.getini("policyspec_report")), config.rootpath)
        try:
            results.refuse_input(path, inputs)
            report.write_report(assembled, path)
            state.report_path = path
        except OSError as exc:
            state.write_errors.append(f"cannot write {path}: {exc.strerror or exc}")
    ci.finish(session, assembled, state.write_errors, inputs)
    if state.write_errors and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _resolve(value: str, base: Path) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else base / path


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state = _state(config)
    parts = []
    if state.report_path is not None:
        parts.append(f"policy report: {_shown(state.report_path, config)}")
    if state.results_path is not None:
        parts.append(f"policy results: {_shown(state.results_path, config)}")
    sarif_path = ci.summary(terminalreporter, config)  # GitHub annotations, on GitHub Actions
    if sarif_path is not None:
        parts.append(f"policy SARIF: {_shown(sarif_path, config)}")
    if parts:
        terminalreporter.write_line(text.terminal_safe("; ".join(parts)))
    for message in state.write_errors:
        terminalreporter.write_line(text.terminal_safe(f"policyspec: error: {message}"), red=True)


def _shown(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)
