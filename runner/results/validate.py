"""Validating a results dict: every value the report, the merge and the SARIF log read, of
the type they read it as, with what is wrong named by its place (``checks[0] (ID): ...``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from runner.model import EXPECTATIONS, Outcome

__all__ = ["RESULTS_FORMAT", "ResultsError", "validate_results"]

#: The ``format`` value of a results file this version reads and writes.
RESULTS_FORMAT = "policyspec-results/1"

_OUTCOMES = tuple(o.value for o in Outcome)


class ResultsError(ValueError):
    """A results file (or dict) that cannot be read or is not in the expected format."""


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


#: What a message says a nullable value should be
_NULLABLE: dict[tuple[type, ...], str] = {_TEXT: "text or null", _INTEGER: "an integer or null"}


def _nullable_problem(
    entry: Mapping[str, Any], keys: Sequence[tuple[str, tuple[type, ...]]]
) -> str | None:
    """The first of ``keys`` whose value in ``entry`` is not of its types (``_TEXT`` or
    ``_INTEGER``), said as ``_wrong`` says it, or None."""
    for key, types in keys:
        if not _of(entry.get(key), types):
            return _wrong(key, entry.get(key), _NULLABLE[types])
    return None


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
        if not _of(results.get(key), _TEXT):
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
    problem = _nullable_problem(check, _CHECK_TYPES)
    if problem is not None:
        return problem
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
    problem = _nullable_problem(
        exception, (("ticket", _TEXT), ("file", _TEXT), ("line", _INTEGER), ("col", _INTEGER))
    )
    if problem is not None:
        return problem
    for key in ("file", "line"):
        if key not in exception:
            return f'"{key}" is missing'
    return None


def _place_problem(entry: Mapping[str, Any]) -> str | None:
    return _nullable_problem(entry, (("file", _TEXT), ("line", _INTEGER), ("col", _INTEGER)))


def _policy_problem(policy: Mapping[str, Any]) -> str | None:
    problem = _nullable_problem(policy, (("file", _TEXT), ("kind", _TEXT), ("spec", _TEXT)))
    if problem is not None:
        return problem
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
