"""The results format: a check's result dict, a results file (assembled, validated, read and
written); merging results files is in :mod:`runner.results.merge`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import json
import math
import os
import re
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.model import EXPECTATIONS, Outcome

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner import model
    from runner.engine import Decision
    from runner.errors import Problem


#: The ``format`` value of a results file this version reads and writes.
RESULTS_FORMAT = "policyspec-results/1"

#: Keys of a step's explanation kept for a passing check (``Decision.decisive()`` and the
#: verdict): enough for the report's matrices and statement coverage.
COMPACT_KEYS = ("decision", "gate", "reason", "decisive")

_OUTCOMES = tuple(o.value for o in Outcome)


class ResultsError(ValueError):
    """A results file (or dict) that cannot be read or is not in the expected format."""


# ---------------------------------------------------------------------------------------------
# One check


def check_id(check: model.Check) -> str:
    """``specs/prod.yaml::ci-pushes-to-prod[ci-prod-push]``: the pytest node id of a check."""
    return f"{check.file}::{check.test_id}"


def principal_label(principal: model.Principal) -> str:
    """What identifies the caller in messages: the session ARN of a role session, the ARN of
    other IAM principals, the service name of a service, ``anonymous`` for an unsigned call."""
    if principal.session_arn:
        return principal.session_arn
    if principal.arn:
        return principal.arn
    if principal.service:
        return principal.service
    return "anonymous"


def check_result(
    check: model.Check,
    *,
    nodeid: str | None = None,
    decision: str | None = None,
    passed: bool = False,
    steps: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The result dict of one check. Without a ``decision`` the check is an ``error`` (its
    setup failed or evaluation raised; the caller adds ``message``)."""
    principal = check.principal
    resource = check.resource
    outcome = Outcome.ERROR if decision is None else Outcome.PASSED if passed else Outcome.FAILED
    return {
        "id": nodeid if nodeid is not None else check_id(check),
        "file": check.file,
        "line": check.loc.line,
        "case": check.case,
        "case_index": check.case_index,
        "principal": principal.name,
        "principal_arn": principal_label(principal),
        "resource": resource.name if resource else None,
        "resource_arn": resource.arn if resource else None,
        "action": check.action,
        "expected": str(check.expected),
        "decision": decision,
        "passed": passed,
        "outcome": outcome.value,
        "context": {k: list(v) for k, v in check.context.items()},
        "steps": [dict(s) for s in steps],
    }


def on_registry(result: Mapping[str, Any]) -> bool:
    """Whether a check's action is account-level (``ecr:DescribeRegistry``,
    ``ecr:GetAuthorizationToken``...): it acts on the caller's own registry, never on the
    repository its case names, so no output presents it as access to that repository."""
    action = result.get("action")
    return isinstance(action, str) and action in _registry_actions()


@functools.cache
def _registry_actions() -> frozenset[str]:
    from runner import catalog

    return frozenset(a for a in catalog.ACTIONS if catalog.is_account_level(a))


def step_result(action: str, decision: str, explanation: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of a check's ``steps``."""
    return {"action": action, "decision": decision, "explanation": explanation}


def compact_explanation(decision: Decision) -> dict[str, Any]:
    """The explanation of a passing step as the report needs it (:data:`COMPACT_KEYS`), without
    the costly full walk over every policy and condition that ``Decision.to_dict()`` does."""
    return {
        "decision": str(decision.decision),
        "gate": None if decision.gate is None else str(decision.gate),
        "reason": decision.reason,
        "decisive": decision.decisive(),
    }


# ---------------------------------------------------------------------------------------------
# The parts of a results file besides the checks


_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$", re.DOTALL)


def located(text: str) -> dict[str, Any]:
    """A ``file:line:col: message`` string (a spec warning) as a results entry; text without a
    place keeps ``file``, ``line`` and ``col`` null."""
    m = _LOCATED.match(text)
    if m is None:
        return {"file": None, "line": None, "col": None, "message": text}
    return {
        "file": m["file"],
        "line": int(m["line"]),
        "col": int(m["col"]),
        "message": m["message"],
    }


def place_key(entry: Mapping[str, Any]) -> tuple[str, int, int]:
    """Sorts ``errors`` and ``warnings`` entries by file, line and column (no place first)."""
    line, col = entry.get("line"), entry.get("col")
    return (
        str(entry.get("file") or ""),
        line if isinstance(line, int) else 0,
        col if isinstance(col, int) else 0,
    )


def warning_text(text: str) -> str:
    """A spec warning as the command line prints it: ``file:line:col: warning: message``."""
    entry = located(text)
    if entry["file"] is None:
        return f"warning: {text}"
    return f"{entry['file']}:{entry['line']}:{entry['col']}: warning: {entry['message']}"


def problem_entry(problem: Problem, file: str) -> dict[str, Any]:
    """An ``errors`` entry for a spec problem; ``file`` stands in when it has no place."""
    loc = problem.loc
    return {
        "file": loc.file if loc else file,
        "line": loc.line if loc else None,
        "col": loc.col if loc else None,
        "message": problem.message,
    }


def policy_inventory(spec: model.Spec) -> list[dict[str, Any]]:
    """The ``policies`` entries of the results file for one loaded spec."""
    out: list[dict[str, Any]] = []
    for info in spec.policies:
        compiled = info.policy
        out.append(
            {
                "name": info.name,
                "kind": compiled.kind.value,
                "file": compiled.file,
                "line": compiled.line if compiled.line is not None else info.loc.line,
                "spec": spec.path,
                "statements": [
                    {
                        "index": s.index,
                        "sid": s.sid,
                        "effect": s.effect.value,
                        "line": s.line,
                    }
                    for s in compiled.statements
                ],
            }
        )
    return out


def instant_text(when: dt.datetime) -> str:
    """``2027-01-01T00:00:00Z``: an instant as a results file writes it (``generated``,
    ``evaluated_at``), in UTC, whole seconds, the year in four digits (``0001-...``, which
    ``strftime("%Y")`` leaves unpadded)."""
    utc = when.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{utc.isoformat(timespec='seconds')}Z"


def assemble(
    *,
    checks: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    policies: list[dict[str, Any]],
    generated: str,
    duration: float,
    evaluated_at: str,
    command: str,
    versions: Mapping[str, str],
    warnings: list[dict[str, Any]] | None = None,
    selection: Mapping[str, Any] | None = None,
    project: str | None = None,
) -> dict[str, Any]:
    """A results dict. ``project`` names what was tested (the run's root folder): a merge keeps
    the results of different projects apart. ``warnings`` and ``selection`` are written only
    when there is something to say (no warning, a run of every collected check)."""
    results: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        **({"project": project} if project else {}),
        "generated": generated,
        "duration": duration,
        "evaluated_at": evaluated_at,
        "command": command,
        "versions": dict(versions),
        "checks": checks,
        "errors": errors,
        "policies": policies,
    }
    if warnings:
        results["warnings"] = warnings
    if selection:
        results["selection"] = dict(selection)
    return results


# ---------------------------------------------------------------------------------------------
# Validation


def _problems(results: object) -> list[str]:
    """What is wrong with ``results`` as a results dict (at most a handful, in order): every
    value the report, the merge and the SARIF log read, of the type they read it as."""
    if not isinstance(results, dict):
        return [f"expected a JSON object, got {type(results).__name__}"]
    fmt = results.get("format")
    if fmt != RESULTS_FORMAT:
        return [
            f'not a policyspec results file: "format" is {json.dumps(fmt)}, '
            f"expected {json.dumps(RESULTS_FORMAT)}"
        ]
    out: list[str] = []
    for key in ("checks", "errors", "policies", "warnings"):
        if not isinstance(results.get(key, []), list):
            out.append(f'"{key}" must be a list')
    if out:
        return out
    out.extend(_run_problems(results))
    seen: dict[str, int] = {}
    for i, check in enumerate(results.get("checks", [])):
        problem = _check_problem(check)
        if problem is None and check["id"] in seen:
            problem = f'"id" is also that of checks[{seen[check["id"]]}]; each check is listed once'
        if problem is not None:
            named = (
                f" ({check['id']})" if isinstance(check, dict) and _is_str(check.get("id")) else ""
            )
            out.append(f"checks[{i}]{named}: {problem}")
            if len(out) >= 5:
                return out
        else:
            seen[check["id"]] = i
    for key in ("errors", "warnings"):
        for i, entry in enumerate(results.get(key, [])):
            if not isinstance(entry, dict) or not isinstance(entry.get("message"), str):
                out.append(f'{key}[{i}]: expected an object with a "message" string')
            elif (problem := _place_problem(entry)) is not None:
                out.append(f"{key}[{i}]: {problem}")
    for i, policy in enumerate(results.get("policies", [])):
        if (
            not isinstance(policy, dict)
            or not isinstance(policy.get("name"), str)
            or not isinstance(policy.get("statements", []), list)
        ):
            out.append(f'policies[{i}]: expected an object with "name" and a "statements" list')
        elif (problem := _policy_problem(policy)) is not None:
            out.append(f"policies[{i}] ({policy['name']}): {problem}")
    return out[:5]


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional(value: object, kind: str) -> bool:
    """Whether ``value`` is null or of ``kind`` (``text`` or ``integer``)."""
    return value is None or (_is_str(value) if kind == "text" else _is_int(value))


def _wrong(key: str, value: object, expected: str) -> str:
    return f'"{key}" is {_shown(value)}, expected {expected}'


_DECISIONS = frozenset(EXPECTATIONS)
_EXCEPTION_STATUSES = ("accepted", "expired", "unneeded", "ignored")
_TEXT = (str, type(None))  # JSON text or null
_INTEGER = (int, type(None))  # a JSON integer or null (with bool excluded: see _of)
_CHECK_TYPES = (
    ("file", _TEXT),
    ("line", _INTEGER),
    ("case", _TEXT),
    ("case_index", _INTEGER),
    ("principal", _TEXT),
    ("resource", _TEXT),
    ("action", _TEXT),
    ("expected", _TEXT),
)


def _of(value: object, types: type | tuple[type, ...]) -> bool:
    """``isinstance(value, types)``, with a boolean never taken for a number."""
    return isinstance(value, types) and value is not True and value is not False


def _run_problems(results: Mapping[str, Any]) -> list[str]:
    """What is wrong with the run's own values (duration, dates, command, sources...)."""
    out: list[str] = []
    duration = results.get("duration")
    if duration is not None and (
        not isinstance(duration, int | float)
        or isinstance(duration, bool)
        or not math.isfinite(duration)
        or duration < 0
    ):
        out.append(_wrong("duration", duration, "a finite number of seconds, 0 or more"))
    for key in ("generated", "evaluated_at", "command", "project"):
        if not _optional(results.get(key), "text"):
            out.append(_wrong(key, results.get(key), "text"))
    if not isinstance(results.get("versions", {}), dict):
        out.append(_wrong("versions", results.get("versions"), "an object"))
    for key in ("sources", "projects"):
        value = results.get(key, [])
        if not isinstance(value, list) or not all(map(_is_str, value)):
            out.append(_wrong(key, value, "a list of text"))
    selection = results.get("selection")
    if selection is not None:
        by_file = selection.get("deselected_by_file", {}) if isinstance(selection, dict) else None
        if (
            not isinstance(selection, dict)
            or not _is_int(selection.get("deselected", 0))
            or not isinstance(by_file, dict)
            or not all(map(_is_int, by_file.values()))
            or not isinstance(selection.get("how", []), list)
            or not all(map(_is_str, selection.get("how", [])))
        ):
            out.append(
                _wrong(
                    "selection",
                    selection,
                    'an object with "deselected", '
                    '"deselected_by_file" (numbers by file) and "how" (a list of text)',
                )
            )
    return out


def _check_problem(check: object) -> str | None:
    """What is wrong with one entry of ``checks``, or None."""
    if not isinstance(check, dict):
        return "expected an object"
    if not isinstance(check.get("id"), str):
        return '"id" must be a string'
    outcome = check.get("outcome")
    if outcome not in _OUTCOMES:
        return f'"outcome" is {json.dumps(outcome)}, expected one of {", ".join(_OUTCOMES)}'
    get = check.get
    for key, types in _CHECK_TYPES:
        if not _of(get(key), types):
            kind = "text" if types is _TEXT else "an integer"
            return _wrong(key, get(key), f"{kind} or null")
    decision = check.get("decision")
    if decision is not None and decision not in _DECISIONS:
        return _wrong("decision", decision, f"null or one of {', '.join(EXPECTATIONS)}")
    if not isinstance(check.get("context") or {}, dict):
        return _wrong("context", check.get("context"), "an object")
    steps = check.get("steps", [])
    if not isinstance(steps, list):
        return '"steps" must be a list'
    for n, step in enumerate(steps):
        problem = _step_problem(step)
        if problem is not None:
            return f"steps[{n}]: {problem}"
    exception = check.get("exception")
    if exception is not None:
        problem = _exception_problem(exception)
        if problem is not None:
            return f"exception: {problem}"
    if outcome == "xfail" and (exception is None or exception.get("status") != "accepted"):
        return (
            '"outcome" is "xfail" without an accepted "exception"; only a known exception '
            "makes a failure expected"
        )
    return None


def _step_problem(step: object) -> str | None:
    if not isinstance(step, dict):
        return "expected an object"
    if not isinstance(step.get("action"), _TEXT):
        return _wrong("action", step.get("action"), "text")
    decision = step.get("decision")
    if decision is not None and decision not in _DECISIONS:
        return _wrong("decision", decision, f"one of {', '.join(EXPECTATIONS)}")
    explanation = step.get("explanation")
    if explanation is None:
        return None
    if not isinstance(explanation, dict):
        return _wrong("explanation", explanation, "an object")
    decisive = explanation.get("decisive", ())
    if not isinstance(decisive, list | tuple):
        return _wrong("explanation.decisive", decisive, "a list")
    for n, entry in enumerate(decisive):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("policy"), str)
            or not isinstance(entry.get("file"), _TEXT)
            or not _of(entry.get("index"), int)
        ):
            return (
                f"explanation.decisive[{n}] is {_shown(entry)}, expected an object with "
                '"policy" (text), "file" (text or null) and "index" (an integer)'
            )
    return None


def _exception_problem(exception: object) -> str | None:
    if not isinstance(exception, dict):
        return f"expected an object, got {_shown(exception)}"
    if exception.get("status") not in _EXCEPTION_STATUSES:
        return _wrong("status", exception.get("status"), f"one of {', '.join(_EXCEPTION_STATUSES)}")
    for key, kind in (("note", "text"), ("reason", "text"), ("until", "text")):
        if not _is_str(exception.get(key)):
            return _wrong(key, exception.get(key), kind)
    for key, kind in (
        ("ticket", "text"),
        ("file", "text"),
        ("line", "integer"),
        ("col", "integer"),
    ):
        if not _optional(exception.get(key), kind):
            return _wrong(
                key, exception.get(key), f"{'an ' if kind == 'integer' else ''}{kind} or null"
            )
    for key in ("file", "line"):
        if key not in exception:
            return f'"{key}" is missing'
    return None


def _place_problem(entry: Mapping[str, Any]) -> str | None:
    for key, kind in (("file", "text"), ("line", "integer"), ("col", "integer")):
        if not _optional(entry.get(key), kind):
            return _wrong(
                key, entry.get(key), f"{'an ' if kind == 'integer' else ''}{kind} or null"
            )
    return None


def _policy_problem(policy: Mapping[str, Any]) -> str | None:
    for key in ("file", "kind", "spec"):
        if not _optional(policy.get(key), "text"):
            return _wrong(key, policy.get(key), "text or null")
    specs = policy.get("specs", [])
    if not isinstance(specs, list) or not all(map(_is_str, specs)):
        return _wrong("specs", specs, "a list of text")
    for n, statement in enumerate(policy["statements"]):
        if not isinstance(statement, dict) or not _is_int(statement.get("index")):
            return f'statements[{n}] is {_shown(statement)}, expected an object with an "index"'
    return None


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_results(results: object, source: str = "results") -> None:
    """Raise :class:`ResultsError` naming ``source`` when ``results`` is not a results dict."""
    problems = _problems(results)
    if problems:
        raise ResultsError("\n".join(f"{source}: {p}" for p in problems))


# ---------------------------------------------------------------------------------------------
# Files


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to the output file ``path`` (a results file, a report, a SARIF log).

    A regular file (or a new one) is written atomically, a reader never seeing half a file:
    a temporary file beside it, renamed onto it; parent folders are created. A symbolic link
    stays: the file it points to is the one replaced. A pipe or a character device
    (``/dev/stdout``, ``/dev/null``) is written to as it is, never replaced; so is a regular
    file that is this process's standard output or error (``--sarif /dev/stdout > out.txt``).

    Raises OSError naming what is wrong: a directory (``Is a directory``) or another kind of
    file. A caller refuses its own inputs first (:func:`refuse_input`).
    """
    path = Path(path)
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None  # a new file (or a symbolic link to one)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            return
        if not stat.S_ISREG(st.st_mode):
            raise OSError(
                errno.EINVAL, "not a regular file, a pipe or a character device", str(path)
            )
        stream = _standard_stream(st)
        if stream is not None:
            _write_through(stream, text)
            return
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def refuse_input(path: Path, inputs: Iterable[Path]) -> None:
    """Raise OSError when the output path ``path`` is one of ``inputs`` (the same file, by any
    name), such as ``--sarif spec.yaml``; called before :func:`write_text`."""
    try:
        st = os.stat(path)
    except OSError:  # nothing there yet (or said when it is written)
        return
    if stat.S_ISREG(st.st_mode) and _is_one_of(st, inputs):
        raise OSError(
            errno.EINVAL, "it is an input of this run, not an output; name another path", str(path)
        )


def _is_one_of(st: os.stat_result, paths: Iterable[Path]) -> bool:
    """Whether the file of ``st`` is one of ``paths`` (the same file, by any name)."""
    for path in paths:
        try:
            other = os.stat(path)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return True
    return False


def _standard_stream(st: os.stat_result) -> int | None:
    """The descriptor of standard output or error when it is the file of ``st``."""
    for fd in (1, 2):
        try:
            other = os.fstat(fd)
        except OSError:  # closed
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return fd
    return None


def _write_through(fd: int, text: str) -> None:
    """Write ``text`` on descriptor ``fd`` after what the process has printed there."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed or replaced
            stream.flush()
    data = text.encode("utf-8")
    while data:
        written = os.write(fd, data)
        data = data[written:]


def write_results(results: dict[str, Any], path: Path) -> None:
    """Write the JSON results file (``--policy-results``) as :func:`write_text` does."""
    validate_results(results)
    text = json.dumps(results, ensure_ascii=False, separators=(",", ":"))
    write_text(Path(path), text + "\n")


def _parse(text: str, path: Path) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}; "
            "expected a results file written by --policy-results"
        ) from None
    except (ValueError, RecursionError) as exc:  # an integer too long, or nesting too deep
        raise ResultsError(
            f"{path}: not valid JSON ({exc or 'nested too deeply'}); expected a results file "
            "written by --policy-results"
        ) from None


def read_results(path: Path) -> dict[str, Any]:
    """Read and validate one results file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ResultsError(
            f"{path}: not UTF-8 text (byte {exc.start}); expected a results file written by "
            "--policy-results or eval --results, or eval's output"
        ) from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    lines = _eval_lines(text)
    data = _parse(text, path) if lines is None else _from_eval_lines(lines, path)
    validate_results(data, str(path))
    assert isinstance(data, dict)
    return data


def _eval_lines(text: str) -> list[str] | None:
    """The lines of ``python -m runner eval`` output (one check result per line), or None
    when ``text`` is not that (a results file is one object, and has a ``format``)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].lstrip().startswith("{") or '"format"' in lines[0][:200]:
        return None
    if len(lines) == 1 and not lines[0].lstrip().startswith('{"id"'):
        return None
    return lines


def _from_eval_lines(lines: list[str], path: Path) -> dict[str, Any]:
    """A results dict from ``eval`` output: its checks, and no policy inventory (``eval
    --results`` writes a whole results file)."""
    checks: list[Any] = []
    for number, line in enumerate(lines, 1):
        try:
            checks.append(json.loads(line))
        except (ValueError, RecursionError):
            raise ResultsError(
                f"{path}:{number}: not a JSON object; expected a results file written by "
                "--policy-results or eval --results, or the JSON lines eval prints"
            ) from None
    return {
        "format": RESULTS_FORMAT,
        "command": "python -m runner eval",
        "checks": checks,
        "errors": [],
        "policies": [],
    }
