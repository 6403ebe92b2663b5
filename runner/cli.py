"""The command line: ``python -m runner eval|explain|schema|report`` (also ``policyspec ...``).

Exit codes: 0 every check passed (a failure that a known exception accepts included), 1 a check
failed, 2 a usage or spec error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

from runner import __version__, checks, model, result_lines, results, text
from runner.errors import SpecError
from runner.spec import find_spec_files

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runner",
        description="Evaluate AWS policy spec files without pytest.",
    )
    parser.add_argument("--version", action="version", version=f"pytest-policyspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p_eval = sub.add_parser(
        "eval",
        help="evaluate spec files; print one JSON object per check",
        description="Evaluate spec files (directories are searched like pytest does) and print "
        "one JSON object per check. Exit 0 if all passed, 1 if any failed, 2 on a spec error.",
    )
    p_eval.add_argument("paths", nargs="+", metavar="SPEC_OR_DIR")
    p_eval.add_argument("--time", type=_instant, metavar="ISO8601", help=_TIME_HELP)
    p_eval.add_argument(
        "--sarif",
        type=Path,
        metavar="PATH",
        help="also write the failures and spec errors as SARIF 2.1.0 (GitHub code scanning)",
    )
    p_eval.add_argument(
        "--results",
        type=Path,
        metavar="PATH",
        help="also write a results file, as pytest's --policy-results does (input of "
        "`python -m runner report`)",
    )
    p_eval.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default="auto",
        metavar="N",
        help="evaluate the spec files in up to N processes, each a run of consecutive files of "
        "about equal size; the output is the same as in one. A whole number, or auto (the "
        "default): the CPUs this process may run on. On Linux only, and in a process without "
        "other threads; elsewhere one process",
    )

    p_explain = sub.add_parser(
        "explain",
        help="explain the checks of one case (or one check) for a person",
        description="Print the checks of one case of a spec file, or one check, with their "
        "explanations. SPEC may be a pytest node id (SPEC::TEST_ID): that check alone.",
    )
    p_explain.add_argument("spec", metavar="SPEC")
    p_explain.add_argument(
        "--case",
        metavar="CASE",
        help="the case: its 1-based number in the file, its name, or the label of its test "
        "ids (the slug pytest shows before the brackets); or one check: its test id, "
        "e.g. 'ci-deletes[ci-app-ecr:DeleteRepository]'",
    )
    p_explain.add_argument("--time", type=_instant, metavar="ISO8601", help=_TIME_HELP)

    sub.add_parser("schema", help="print the JSON Schema of spec files")

    p_report = sub.add_parser(
        "report",
        help="render results files into one HTML report",
        add_help=False,
    )
    p_report.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


_TIME_HELP = (
    "evaluate every check at this instant (aws:CurrentTime), ISO 8601, e.g. "
    "2027-01-01T00:00:00Z or 2027-01-01T02:00:00+02:00; a time without Z or an offset is UTC, "
    "a date alone its midnight UTC; years 1 to 9999; default: now"
)


def _jobs(value: str) -> int:
    from runner import forked

    if value == "auto":
        return forked.available_cpus()
    if not value.isdecimal() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1, or auto; got {value!r}")
    return int(value)


def _instant(text: str) -> dt.datetime:
    from runner import engine

    try:
        return engine.parse_instant(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "report":
        return report_main(args_list[1:])
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help/--version
        return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
    try:
        return _run(parser, args)
    except BrokenPipeError:  # e.g. `python -m runner eval specs | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def entry() -> NoReturn:
    """``python -m runner`` and the ``policyspec`` command: :func:`main`, then the process ends
    at once, without the interpreter's teardown.

    The teardown frees every object the run left alive one by one (the compiled policies,
    the caches of the loader and the engine) and runs the cyclic collector: 0.3 s of CPU after
    ``runner eval`` over 800 files (benchmarks/bench_scale.py eval), for a process that is
    about to end anyway. Everything the command writes is written by then: its files are
    closed (``results.write_results`` and ``sarif.write_sarif`` write whole files), and both
    standard streams are flushed here.
    """
    # The cyclic garbage collector is off until the process ends: what the command imports,
    # loads and evaluates is freed by reference counting or lives to the end, and the
    # collector's passes walked it in vain (runner.speed.collector_paused pauses it for the
    # evaluation where runner eval is called as a function).
    gc.disable()
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # e.g. `python -m runner eval specs | head`
            pass
        except (OSError, ValueError):  # closed or failing: nothing more can be said on it
            status = status or EXIT_ERROR
    os._exit(status)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from runner import engine

    # every check of this run sees the same aws:CurrentTime (and known exceptions that instant)
    now = engine.freeze_clock(getattr(args, "time", None))
    if args.command == "eval":
        return _eval(args.paths, now, args.sarif, args.results, args.jobs)
    if args.command == "explain":
        return _explain(args.spec, args.case)
    if args.command == "schema":
        return _schema()
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse checks
    return EXIT_ERROR  # pragma: no cover


def _stderr(message: str) -> None:
    """A message for the terminal, on standard error, with control characters escaped."""
    _say(sys.stderr, message)


def _say(err: TextIO, message: str) -> None:
    """A message for the terminal, on ``err``, with control characters escaped."""
    print(text.terminal_safe(message), file=err)


def _print_problems(error: SpecError, err: TextIO) -> None:
    for problem in error.problems:
        _say(err, str(problem))


@dataclass(slots=True)
class _Tally:
    """What evaluating some spec files gives besides their lines: the exit status so far, and
    what the SARIF file, the annotations and the results file need."""

    status: int = EXIT_OK
    any_failed: bool = False
    found: list[dict[str, Any]] = field(default_factory=list)  # failed, erred, excepted
    spec_errors: list[dict[str, object]] = field(default_factory=list)
    spec_warnings: list[str] = field(default_factory=list)
    inventory: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)  # every result, --results only

    def add(self, other: _Tally) -> None:
        self.status = max(self.status, other.status)  # EXIT_ERROR outranks EXIT_OK
        self.any_failed = self.any_failed or other.any_failed
        self.found.extend(other.found)
        self.spec_errors.extend(other.spec_errors)
        self.spec_warnings.extend(other.spec_warnings)
        self.inventory.extend(other.inventory)
        self.kept.extend(other.kept)


def _eval(
    paths: Sequence[str],
    now: dt.datetime,
    sarif_path: Path | None = None,
    results_path: Path | None = None,
    jobs: int = 1,
) -> int:
    from runner import forked, workflow

    started = time.time()
    files, problems = find_spec_files(paths)
    # a spec file named twice (``eval a.yaml a.yaml``, or a file and its folder) runs once, as
    # under pytest: a results file holds each check id once
    files = _once(files)
    # what the SARIF file and the GitHub annotations need: failures, errors, known exceptions
    ci = sarif_path is not None or workflow.enabled()
    tally = _Tally()
    for problem in problems:
        _stderr(f"error: {problem}")
        tally.status = EXIT_ERROR
    cwd = Path.cwd()

    def work(part: Sequence[Path], out: TextIO, err: TextIO) -> _Tally:
        return _eval_files(part, now, cwd, out, err, ci=ci, keep=results_path is not None)

    for part in forked.run_parts(files, jobs, _size, work, sys.stdout, sys.stderr):
        tally.add(part)
    sys.stdout.flush()
    status = tally.status
    if ci:
        findings = {
            "checks": tally.found, "errors": tally.spec_errors, "warnings": tally.spec_warnings
        }  # fmt: skip
        status = _ci_outputs(findings, sarif_path, status, files)
    if results_path is not None:
        assembled = results.assemble(
            checks=tally.kept,
            errors=tally.spec_errors,
            policies=tally.inventory,
            generated=results.instant_text(dt.datetime.now(dt.UTC)),
            duration=round(time.time() - started, 3),
            evaluated_at=results.instant_text(now),
            command=_command_line(paths),
            versions={"policyspec": __version__, "python": _python_version()},
            warnings=sorted(map(results.located, tally.spec_warnings), key=results.place_key),
            project=cwd.name,
        )
        try:
            results.refuse_input(results_path, files)
            results.write_results(assembled, results_path)
        except OSError as exc:
            _stderr(f"error: cannot write {results_path}: {exc.strerror or exc}")
            status = EXIT_ERROR
    if status == EXIT_OK and tally.any_failed:
        status = EXIT_FAILED
    if not files and not problems:
        _stderr("error: no spec files found in " + " ".join(paths))
        status = EXIT_ERROR
    return status


def _size(path: Path) -> int:
    """A spec file's share of the work when files are split over processes: its size."""
    try:
        return os.stat(path).st_size
    except OSError:  # said when it is read
        return 0


def _eval_files(
    files: Sequence[Path],
    now: dt.datetime,
    cwd: Path,
    out: TextIO,
    err: TextIO,
    *,
    ci: bool,
    keep: bool,
) -> _Tally:
    """Load and evaluate ``files`` in turn: their JSON lines on ``out``, their errors and
    warnings on ``err``; what the rest of the run needs of them."""
    tally = _Tally()
    encode = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps would make one per line
    # a passed check's line is built from parts when no one needs its result dict
    fast = not ci and not keep
    passed_lines = result_lines.PassedLines(encode, json.encoder.encode_basestring_ascii)
    for spec_run in checks.run_spec_files(files, display_root=cwd):
        if spec_run.error is not None:
            _print_problems(spec_run.error, err)
            tally.status = EXIT_ERROR
            tally.spec_errors.extend(
                results.problem_entry(p, str(spec_run.path)) for p in spec_run.error.problems
            )
            continue
        if keep and spec_run.spec is not None:
            tally.inventory.extend(results.policy_inventory(spec_run.spec))
        for warning in spec_run.warnings:
            _say(err, results.warning_text(warning))
        tally.spec_warnings.extend(spec_run.warnings)
        lines = []
        for run in spec_run.runs:
            if run.error is not None:  # this check cannot be decided; the others run
                _say(err, run.error)
                tally.status = EXIT_ERROR
            if fast and run.passed and run.check.exception is None:
                line = run.passed_line(passed_lines)
                if line is not None:
                    lines.append(line)
                    continue
            result = _with_exception(run, now, err)
            tally.any_failed = tally.any_failed or result["outcome"] == "failed"
            if ci and (result["outcome"] != "passed" or "exception" in result):
                tally.found.append(result)
            lines.append(encode(result))
            if keep:
                tally.kept.append(result)
        if lines:
            out.write("\n".join(lines) + "\n")
    return tally


def _once(files: list[Path]) -> list[Path]:
    """``files`` without a file named again (by the same name or another), in order."""
    seen: set[tuple[int, int]] = set()
    out: list[Path] = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError:  # said when it is read
            out.append(path)
            continue
        key = (st.st_dev, st.st_ino)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _command_line(paths: Sequence[str]) -> str:
    import shlex  # only for a results file

    return shlex.join(["python", "-m", "runner", "eval", *paths])


def _python_version() -> str:
    import platform  # only for a results file: a few milliseconds at every start otherwise

    return platform.python_version()


def _with_exception(run: checks.CheckRun, now: dt.datetime, err: TextIO) -> dict[str, Any]:
    """A check's result with its case's known exception applied; a pass under an exception
    is said on standard error, so that someone removes the exception."""
    from runner import exceptions

    result = run.to_result()
    known = run.check.exception
    if known is not None:
        info = exceptions.apply(result, known, now)["exception"]
        if info["status"] == exceptions.ExceptionStatus.UNNEEDED:
            _say(err, f"warning: {result['id']}: {info['note']}")
    return result


def _ci_outputs(
    findings: dict[str, object], sarif_path: Path | None, status: int, inputs: Sequence[Path]
) -> int:
    """Write the SARIF file and print the GitHub annotations (on standard error: standard
    output holds the JSON lines) of an ``eval`` run."""
    from runner import sarif, workflow

    if sarif_path is not None:
        try:
            results.refuse_input(sarif_path, inputs)
            sarif.write_sarif(findings, sarif_path)
        except OSError as exc:
            _stderr(f"error: cannot write {sarif_path}: {exc.strerror or exc}")
            status = EXIT_ERROR
    if workflow.enabled():
        workflow.write(sys.stderr, workflow.lines(findings))
    return status


def _explain(spec: str, case: str | None) -> int:
    from runner import results
    from runner import spec as loader
    from runner.spec.includes import NOT_REGULAR, file_state

    if "::" in spec and file_state(Path(spec)) is not None:  # a pytest node id: SPEC::TEST_ID
        spec, case = spec.split("::", 1)
    if case is None:
        _stderr(f"error: name the case of {spec}: --case N, NAME or TEST_ID (or SPEC::TEST_ID)")
        return EXIT_ERROR
    path = Path(spec)
    why = file_state(path)
    if why is not None:
        if why == NOT_REGULAR and path.is_dir():
            why = "a folder; explain takes one spec file"
        _stderr(f"error: {spec}: {why}")
        return EXIT_ERROR
    try:
        loaded = loader.load_spec(path, display_root=Path.cwd())
    except SpecError as exc:
        _print_problems(exc, sys.stderr)
        return EXIT_ERROR
    for warning in loaded.warnings:
        _stderr(results.warning_text(warning))
    chosen = _chosen_checks(loaded.checks, case)
    if isinstance(chosen, str):
        _stderr(f"error: {spec} {chosen}")
        return EXIT_ERROR
    runs = [checks.evaluate_check(c) for c in chosen]
    blocks = [text.format_explanation(run.to_result(explain=True)) for run in runs]
    passed = sum(run.passed for run in runs)
    print(text.terminal_safe("\n\n".join(blocks)))
    print(f"\n{passed} of {len(runs)} check(s) passed")
    return EXIT_OK if passed == len(runs) else EXIT_FAILED


def _label(check: model.Check) -> str:
    """The part of a check's test id before the brackets: the case's slug (unique in a file)."""
    return check.test_id.partition("[")[0]


def _chosen_checks(all_checks: Sequence[model.Check], case: str) -> list[model.Check] | str:
    """The checks ``--case`` names, in file order, or what is wrong (after the file name).

    ``case`` is a 1-based case number (``case_index + 1``), a check's test id (that check
    alone), a case's name, or the label of a case's test ids (its slug).
    """
    from runner import words

    cases: dict[int, str] = {}
    for check in all_checks:
        cases.setdefault(check.case_index, check.case)
    if case.isdecimal():  # what int() reads ("²" is a digit, not a decimal one)
        index = int(case) - 1
        if index not in cases:
            return f"has {len(cases)} case(s) with checks; --case {case} is not one"
        return [c for c in all_checks if c.case_index == index]
    one = [c for c in all_checks if c.test_id == case]
    if one:
        return one
    for named in (lambda c: c.case == case, lambda c: _label(c) == case):
        found = next((c.case_index for c in all_checks if named(c)), None)
        if found is not None:
            return [c for c in all_checks if c.case_index == found]
    choices = [*cases.values(), *{_label(c): None for c in all_checks}]
    if "[" in case:
        choices += [c.test_id for c in all_checks]
    near = words.closest(case, choices)
    hint = words.did_you_mean([repr(near)] if near else [])
    names = ", ".join(repr(n) for n in cases.values())
    return f"has no case named {case!r}{hint} (cases: {names})"


def _schema() -> int:
    from runner.package_data import read_text

    try:
        schema_text = read_text("spec.schema.json")
    except FileNotFoundError:
        _stderr("error: runner/data/spec.schema.json is missing from the installation")
        return EXIT_ERROR
    sys.stdout.write(schema_text if schema_text.endswith("\n") else schema_text + "\n")
    return EXIT_OK


def _results_source(arg: str) -> results.Source:
    """``RESULTS.json`` or ``NAME=RESULTS.json`` (a file that exists is always a path)."""
    name, sep, path = arg.partition("=")
    if sep and name and "/" not in name and not Path(arg).exists():
        return results.Source(Path(path), project=name)
    return results.Source(Path(arg))


def report_main(argv: Sequence[str] | None = None) -> int:
    """``python -m runner report RESULTS.json... [-o report.html]``: merge results files into one
    report. Exit status 0 when the report was written, 2 on a missing or invalid file; a
    leading ``"report"`` in ``argv`` is ignored."""
    from runner import report, results

    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["report"]:
        args_in = args_in[1:]
    parser = argparse.ArgumentParser(
        prog="python -m runner report",
        description="Write one HTML report from one or more results files (--policy-results, "
        "eval --results, or the JSON lines eval prints), for example from CI shards or several "
        "repositories. Files of one project are merged as shards of one run; results of "
        "different projects stay apart, each under its project's name (the name a results "
        "file records, or NAME in NAME=RESULTS.json).",
    )
    parser.add_argument("results", nargs="+", type=_results_source, metavar="[NAME=]RESULTS.json")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("reports/policy-report.html"),
        help="where to write the report (default: reports/policy-report.html)",
    )
    parser.add_argument(
        "--sarif",
        type=Path,
        metavar="PATH",
        help="also write the merged failures and errors as SARIF 2.1.0 (GitHub code scanning)",
    )
    try:
        args = parser.parse_args(args_in)
    except SystemExit as exc:  # argparse exits 2 on a usage error, 0 for --help
        return int(exc.code or 0)
    from runner import sarif

    written = args.output
    try:
        merged = results.load_results(args.results)
        inputs = [source.path for source in args.results]
        results.refuse_input(args.output, inputs)
        report.write_report(merged, args.output)
        if args.sarif is not None:
            written = args.sarif
            results.refuse_input(args.sarif, inputs)
            sarif.write_sarif(merged, args.sarif)
    except results.ResultsError as exc:
        _stderr(f"error: {exc}")
        return EXIT_ERROR
    except OSError as exc:
        _stderr(f"error: cannot write {written}: {exc.strerror or exc}")
        return EXIT_ERROR
    all_checks = merged["checks"]
    failed = sum(1 for c in all_checks if c["outcome"] in ("failed", "error"))
    print(
        text.terminal_safe(f"wrote {args.output}: ")
        + f"{len(all_checks)} checks ({failed} failed or errored), "
        f"{len(merged['errors'])} collection errors, from {len(args.results)} results file(s)"
    )
    return EXIT_OK
