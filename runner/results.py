"""The results format, in one place: a check's result dict, a results file, and reading,
validating, writing and merging results files (docs/internals.md, "Check results" and
"Results file").

Everything here is plain built-in types (dict, list, str, int, float, bool, None): a result
crosses pytest-xdist's channel and is written as JSON as it is. The pytest plugin, the command
line and the HTML report all go through these functions; none builds a result of its own.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.model import Outcome

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner import model
    from runner.engine import Decision
    from runner.errors import Problem

__all__ = [
    "COMPACT_KEYS",
    "RESULTS_FORMAT",
    "ResultsError",
    "Source",
    "assemble",
    "check_id",
    "check_result",
    "compact_explanation",
    "load_results",
    "located",
    "merge_selections",
    "on_registry",
    "place_key",
    "policy_inventory",
    "principal_label",
    "problem_entry",
    "read_results",
    "validate_results",
    "warning_text",
    "write_results",
    "write_text",
]

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
    """What is wrong with ``results`` as a results dict (at most a handful, in order)."""
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
    for i, check in enumerate(results.get("checks", [])):
        if not isinstance(check, dict):
            out.append(f"checks[{i}]: expected an object")
        elif not isinstance(check.get("id"), str):
            out.append(f'checks[{i}]: "id" must be a string')
        elif check.get("outcome") not in _OUTCOMES:
            out.append(
                f'checks[{i}] ({check["id"]}): "outcome" is {json.dumps(check.get("outcome"))}, '
                f"expected one of {', '.join(_OUTCOMES)}"
            )
        elif not isinstance(check.get("steps", []), list):
            out.append(f'checks[{i}] ({check["id"]}): "steps" must be a list')
        if len(out) >= 5:
            return out
    for key in ("errors", "warnings"):
        for i, entry in enumerate(results.get(key, [])):
            if not isinstance(entry, dict) or not isinstance(entry.get("message"), str):
                out.append(f'{key}[{i}]: expected an object with a "message" string')
    for i, policy in enumerate(results.get("policies", [])):
        if (
            not isinstance(policy, dict)
            or not isinstance(policy.get("name"), str)
            or not isinstance(policy.get("statements", []), list)
        ):
            out.append(f'policies[{i}]: expected an object with "name" and a "statements" list')
    return out[:5]


def validate_results(results: object, source: str = "results") -> None:
    """Raise :class:`ResultsError` naming ``source`` when ``results`` is not a results dict."""
    problems = _problems(results)
    if problems:
        raise ResultsError("\n".join(f"{source}: {p}" for p in problems))


# ---------------------------------------------------------------------------------------------
# Files


def write_text(path: Path, text: str) -> None:
    """Write atomically (a reader never sees half a file), with the usual permissions; parent
    folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_results(results: dict[str, Any], path: Path) -> None:
    """Write the JSON results file (``--policy-results``); parent folders are created."""
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


# ---------------------------------------------------------------------------------------------
# Merging


def policy_key(policy: Mapping[str, Any]) -> tuple[Any, Any]:
    """What identifies a policy across spec files: its file and name."""
    return (policy.get("file"), policy.get("name"))


def specs_of(policy: Mapping[str, Any]) -> list[str]:
    """The spec files that use a policy entry (``specs``, or the one ``spec``)."""
    specs = policy.get("specs")
    if isinstance(specs, list):
        return [str(s) for s in specs]
    spec = policy.get("spec")
    return [str(spec)] if spec is not None else []


def _statement_indexes(policy: Mapping[str, Any]) -> list[Any]:
    return [s.get("index") for s in policy.get("statements", []) if isinstance(s, dict)]


@dataclass(frozen=True, slots=True)
class Source:
    """One input of a merge: a results file and, optionally, the project it comes from (it
    overrides the file's own ``project``)."""

    path: Path
    project: str | None = None


def load_results(paths: Sequence[Path | str | Source]) -> dict[str, Any]:
    """Read and validate results files and merge them into one results dict.

    Inputs of one project (the ``project`` a results file names, or a :class:`Source`'s) are
    shards of one run: their checks and errors are concatenated (an error reported identically
    by two files is kept once), their policy inventories united (a policy is identified by its
    file and name); a check id found in two inputs, or a policy whose statements differ, is an
    error: the same results given twice, or results of different projects under one name.
    Inputs of several projects stay apart: each one's spec files, policy files and check ids
    are written under its project's name (``repo-a/specs/prod.yaml``).

    ``generated`` is the latest date, ``duration`` the sum, ``command`` and ``versions`` are
    kept when they agree and joined with ``" | "`` otherwise; ``sources`` lists the files read,
    ``projects`` the projects when there are several. Raises :class:`ResultsError` for a
    missing, invalid or repeated input.
    """
    sources = [p if isinstance(p, Source) else Source(Path(p)) for p in paths]
    if not sources:
        raise ResultsError("no results file given")
    loaded: list[tuple[str, str | None, dict[str, Any]]] = []
    given: dict[str, str] = {}
    for source in sources:
        real = os.path.realpath(source.path)
        if real in given:
            raise ResultsError(f"{source.path}: given twice (as {given[real]} too)")
        given[real] = str(source.path)
        data = read_results(Path(source.path))
        project = source.project or data.get("project")
        loaded.append((str(source.path), project if isinstance(project, str) else None, data))
    if len(loaded) == 1:
        single = dict(loaded[0][2])
        single.setdefault("sources", [loaded[0][0]])
        return single
    _refuse_duplicates(loaded)
    projects = list(dict.fromkeys(project for _, project, _ in loaded))
    if len(projects) > 1:
        loaded = [
            (source, project, _in_project(data, project or "unnamed"))
            for source, project, data in loaded
        ]
    merged = _merge((source, data) for source, _, data in loaded)
    if len(projects) > 1:
        merged["projects"] = [p or "unnamed" for p in projects]
    return merged


def _refuse_duplicates(loaded: Sequence[tuple[str, str | None, dict[str, Any]]]) -> None:
    """Within one project: no check id twice, no policy with two different statement lists."""
    check_at: dict[tuple[str | None, str], str] = {}
    policy_at: dict[tuple[str | None, Any, Any], tuple[str, str]] = {}
    advice = (
        "the same results given twice? Results of different projects stay apart when "
        "each is named: python -m runner report NAME=RESULTS.json ..."
    )
    for source, project, data in loaded:
        for check in data.get("checks", []):
            key = (project, check["id"])
            other = check_at.setdefault(key, source)
            if other != source:
                raise ResultsError(f"{source}: check {check['id']} is also in {other}: {advice}")
        for policy in data.get("policies", []):
            pkey = (project, *policy_key(policy))
            statements = json.dumps(policy.get("statements", []), sort_keys=True)
            first = policy_at.setdefault(pkey, (source, statements))
            if first[1] != statements:
                raise ResultsError(
                    f"{source}: policy {policy.get('name')} ({policy.get('file')}) has other "
                    f"statements than in {first[0]}: {advice}"
                )


def _under(project: str, value: object) -> object:
    return f"{project}/{value}" if isinstance(value, str) else value


def _in_project(data: Mapping[str, Any], project: str) -> dict[str, Any]:
    """``data`` with every spec file, policy file and check id under ``project``'s name (and
    the statements that checks point at, so that statement coverage stays per project)."""

    def placed(entry: Mapping[str, Any], *keys: str) -> dict[str, Any]:
        out = dict(entry)
        for key in keys:
            if key in out:
                out[key] = _under(project, out[key])
        return out

    def step(entry: Any) -> Any:
        if not isinstance(entry, dict) or not isinstance(entry.get("explanation"), dict):
            return entry
        explanation = dict(entry["explanation"])
        for key in ("decisive", "policies"):
            if isinstance(explanation.get(key), list):
                explanation[key] = [
                    placed(e, "file") if isinstance(e, dict) else e for e in explanation[key]
                ]
        return {**entry, "explanation": explanation}

    out = dict(data)
    out["checks"] = [
        {**placed(c, "id", "file"), "steps": [step(s) for s in c.get("steps") or []]}
        for c in data.get("checks", [])
    ]
    for key in ("errors", "warnings"):
        if key in data:
            out[key] = [placed(e, "file") for e in data[key]]
    out["policies"] = [
        {
            **placed(p, "file", "spec"),
            **(
                {"specs": [_under(project, s) for s in p["specs"]]}
                if isinstance(p.get("specs"), list)
                else {}
            ),
        }
        for p in data.get("policies", [])
    ]
    selection = data.get("selection")
    if isinstance(selection, dict) and isinstance(selection.get("deselected_by_file"), dict):
        by_file = {str(_under(project, f)): n for f, n in selection["deselected_by_file"].items()}
        out["selection"] = {**selection, "deselected_by_file": by_file}
    return out


def _merge(loaded: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    checks: list[Any] = []
    errors: list[Any] = []
    warnings: list[Any] = []
    seen: set[str] = set()
    policies: dict[tuple[Any, Any, str], dict[str, Any]] = {}
    generated: list[str] = []
    duration = 0.0
    evaluated_at: list[str] = []
    commands: list[str] = []
    versions: dict[str, list[str]] = {}
    sources: list[str] = []
    selections: list[Mapping[str, Any]] = []
    for source, data in loaded:
        sources.extend(data.get("sources") or [source])
        if isinstance(data.get("selection"), dict):
            selections.append(data["selection"])
        checks.extend(data.get("checks", []))
        for key, into in (("errors", errors), ("warnings", warnings)):
            for entry in data.get(key, []):
                entry_key = key + json.dumps(entry, sort_keys=True)
                if entry_key not in seen:
                    seen.add(entry_key)
                    into.append(entry)
        for policy in data.get("policies", []):
            # statements are identified by (file, name, index): one entry per such policy
            pkey = (*policy_key(policy), json.dumps(_statement_indexes(policy)))
            if pkey in policies:
                merged = policies[pkey]
                specs = merged.setdefault("specs", specs_of(merged))
                for spec in specs_of(policy):
                    if spec not in specs:
                        specs.append(spec)
            else:
                policies[pkey] = dict(policy)
        if isinstance(data.get("generated"), str):
            generated.append(data["generated"])
        if isinstance(data.get("duration"), int | float):
            duration += float(data["duration"])
        at = data.get("evaluated_at")
        if isinstance(at, str) and at not in evaluated_at:
            evaluated_at.append(at)
        if isinstance(data.get("command"), str) and data["command"] not in commands:
            commands.append(data["command"])
        for name, version in (data.get("versions") or {}).items():
            known = versions.setdefault(str(name), [])
            if str(version) not in known:
                known.append(str(version))
    merged_results: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "generated": max(generated) if generated else None,
        "duration": duration,
        "evaluated_at": " | ".join(evaluated_at) if evaluated_at else None,
        "command": " | ".join(commands) if commands else None,
        "versions": {name: " | ".join(v) for name, v in versions.items()},
        "sources": sources,
        "checks": checks,
        "errors": errors,
        "policies": list(policies.values()),
    }
    if warnings:
        merged_results["warnings"] = warnings
    if selections:
        merged_results["selection"] = merge_selections(selections)
    return merged_results


def merge_selections(selections: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One ``selection`` for several partial runs: the deselected checks added up, by file."""
    by_file: dict[str, int] = {}
    how: list[str] = []
    for selection in selections:
        for file, n in (selection.get("deselected_by_file") or {}).items():
            by_file[str(file)] = by_file.get(str(file), 0) + int(n)
        how.extend(h for h in selection.get("how") or () if h not in how)
    return {"deselected": sum(by_file.values()), "deselected_by_file": by_file, "how": how}
