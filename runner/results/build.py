"""The results format: a check's result dict, a results file (assembled, read and written);
validating one is in :mod:`runner.results.validate`, writing any output file in
:mod:`runner.results.output`, merging results files in :mod:`runner.results.merge`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.model import Outcome
from runner.results.output import write_text
from runner.results.validate import RESULTS_FORMAT, ResultsError, validate_results

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner import model
    from runner.engine import Decision
    from runner.errors import Problem


#: Keys of a step's explanation kept for a passing check (``Decision.decisive()`` and the
#: verdict): enough for the report's matrices and statement coverage.
COMPACT_KEYS = ("decision", "gate", "reason", "decisive")

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
