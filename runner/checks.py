"""Run checks: evaluate every step of a check with the engine and compare with the expectation.

This module is shared by the pytest plugin, the command line and (through the result dicts)
the HTML report. It knows the spec's expectation semantics but none of the IAM combination
rules, which live in ``engine.py`` only.

Explanations (``Decision.to_dict()``) are the expensive part of a check, so :func:`evaluate_check`
returns a :class:`CheckRun` that knows pass/fail at once and builds explanations lazily, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import model
from runner.errors import SpecError

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner.engine import Decision

#: The decisions the engine returns.
DECISIONS = ("allow", "explicit-deny", "implicit-deny")

#: How messages name each kind of policy.
KIND_LABELS = {
    "identity": "identity policy",
    "boundary": "permissions boundary",
    "session": "session policy",
    "resource": "repository policy",
    "scp": "SCP",
    "rcp": "RCP",
}

#: Keys of an explanation kept for a passing check (see :meth:`CheckRun.to_result`).
COMPACT_KEYS = ("decision", "gate", "reason", "decisive")


def combine(decisions: Iterable[str]) -> str:
    """The decision of an operation from the decisions of its steps: ``allow`` when every
    step is allowed, ``explicit-deny`` when any step is explicitly denied, else
    ``implicit-deny`` (spec-format.md, "Operations")."""
    seen = set(decisions)
    if not seen:
        raise ValueError("a check has at least one step")
    if "explicit-deny" in seen:
        return "explicit-deny"
    if seen == {"allow"}:
        return "allow"
    return "implicit-deny"


def expectation_met(expected: str, decision: str) -> bool:
    """``allow`` needs an allow; ``deny`` anything else; the two deny kinds pin the reason."""
    if expected == "allow":
        return decision == "allow"
    if expected == "deny":
        return decision != "allow"
    if expected in ("explicit-deny", "implicit-deny"):
        return decision == expected
    raise ValueError(f"unknown expectation {expected!r}; expected one of {model.EXPECTATIONS}")


class CheckRun:
    """The evaluated check: pass/fail is known at once; explanations are built on demand."""

    __slots__ = ("_explanations", "check", "decision", "decisions", "passed", "step_decisions")

    def __init__(self, check: model.Check, step_decisions: Sequence[Decision]) -> None:
        self.check = check
        self.step_decisions: tuple[Decision, ...] = tuple(step_decisions)
        self.decisions: tuple[str, ...] = tuple(d.decision for d in self.step_decisions)
        self.decision: str = combine(self.decisions)
        self.passed: bool = expectation_met(check.expected, self.decision)
        self._explanations: list[dict[str, Any]] | None = None

    def explanations(self) -> list[dict[str, Any]]:
        """``Decision.to_dict()`` of every step, computed once."""
        if self._explanations is None:
            self._explanations = [d.to_dict() for d in self.step_decisions]
        return self._explanations

    def to_result(
        self, *, explain: bool | None = None, nodeid: str | None = None
    ) -> dict[str, Any]:
        """The check result dict of docs/internals.md (plain built-in types).

        ``explain``: True puts each step's full explanation in ``steps``; False a compact one
        (decision, gate, reason, decisive: what the report needs for a passing check); None
        (default) means full for a failed check and compact for a passed one.
        """
        full = (not self.passed) if explain is None else explain
        shown = (
            self.explanations() if full else [compact_explanation(d) for d in self.step_decisions]
        )
        steps = [
            {"action": action, "decision": decision, "explanation": explanation}
            for action, decision, explanation in zip(
                self.check.steps, self.decisions, shown, strict=True
            )
        ]
        result = base_result(self.check, nodeid=nodeid)
        result.update(
            decision=self.decision,
            passed=self.passed,
            outcome="passed" if self.passed else "failed",
            steps=steps,
        )
        return result


def compact_explanation(decision: Decision) -> dict[str, Any]:
    """The explanation of a passing step as the report needs it: decision, gate, reason and
    the decisive statements (for statement coverage), without the costly full walk over every
    policy and condition that ``Decision.to_dict()`` does."""
    return {
        "decision": decision.decision,
        "gate": decision.gate,
        "reason": decision.reason,
        "decisive": decision.decisive(),
    }


def evaluate_check(check: model.Check) -> CheckRun:
    """Evaluate each step of ``check`` (no explanations are built yet)."""
    from runner import engine  # the engine is imported on first use: collection stays cheap

    decisions = [
        engine.evaluate(
            model.Request(
                principal=check.principal,
                action=action,
                resource=check.resource,
                context=check.context,
                organization=check.organization,
            )
        )
        for action in check.steps
    ]
    return CheckRun(check, decisions)


def run_check(check: model.Check) -> dict[str, Any]:
    """Evaluate ``check`` and return its result dict with every step's full explanation."""
    return evaluate_check(check).to_result(explain=True)


def check_id(check: model.Check) -> str:
    """``specs/prod.yaml::CI pushes to prod[ci-prod-push]``: the pytest node id of a check."""
    return f"{check.file}::{check.test_id}"


def base_result(check: model.Check, *, nodeid: str | None = None) -> dict[str, Any]:
    """The part of a result dict that does not depend on the evaluation."""
    principal = check.principal
    resource = check.resource
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
        "expected": check.expected,
        "decision": None,
        "passed": False,
        "outcome": "error",
        "context": {k: list(v) for k, v in check.context.items()},
        "steps": [],
    }


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


# ---------------------------------------------------------------------------------------------
# Text for people: failure messages (pytest) and ``python -m runner explain``.


def format_failure(result: dict[str, Any]) -> str:
    """A short, readable account of a failed check from its (full) result dict."""
    lines = [
        f"expected {result['expected']}, got {result['decision']}",
        f"case:      {result['case']} ({result['file']}:{result['line']})",
        *_request_lines(result),
    ]
    steps = result["steps"]
    if len(steps) == 1:
        lines.extend(_step_detail(steps[0]["explanation"], indent=""))
        return "\n".join(lines)
    lines.append(f"steps of {result['action']}:")
    for step in steps:
        exp = step["explanation"]
        gate = f" [{exp['gate']}]" if exp.get("gate") else ""
        lines.append(f"  {step['action']}: {step['decision']}{gate}: {exp.get('reason', '')}")
        if _step_matters(result, step):
            decisive = exp.get("decisive") or []
            lines.extend("      " + _statement_ref(d, exp) for d in decisive)
    return "\n".join(lines)


def _step_detail(exp: dict[str, Any], indent: str) -> list[str]:
    lines = [f"{indent}reason:    {exp.get('reason', '')}"]
    if exp.get("gate"):
        lines.append(f"{indent}gate:      {exp['gate']}")
    decisive = exp.get("decisive") or []
    if decisive:
        lines.append(f"{indent}decisive statements:")
        lines.extend(f"{indent}  " + _statement_ref(d, exp) for d in decisive)
    return lines


def _step_matters(result: dict[str, Any], step: dict[str, Any]) -> bool:
    """For an operation, show the reasons of the steps that explain the failure."""
    if len(result["steps"]) == 1:
        return True
    if result["decision"] == "allow":
        return True  # expected a deny: every step was allowed, each grant matters
    if result["decision"] == "explicit-deny":
        return bool(step["decision"] == "explicit-deny")
    return bool(step["decision"] != "allow")


def _request_lines(result: dict[str, Any]) -> list[str]:
    lines = [
        f"principal: {result['principal']} ({result['principal_arn']})",
        f"action:    {_action_text(result)}",
    ]
    if result["resource"] is not None:
        lines.append(f"resource:  {result['resource']} ({result['resource_arn']})")
    else:
        lines.append("resource:  * (account-level)")
    if result["context"]:
        pairs = ", ".join(f"{k}={_values(v)}" for k, v in result["context"].items())
        lines.append(f"context:   {pairs}")
    return lines


def _action_text(result: dict[str, Any]) -> str:
    actions = [s["action"] for s in result["steps"]]
    if actions and actions != [result["action"]]:
        return f"{result['action']} ({', '.join(actions)})"
    return str(result["action"])


def _values(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else "[" + ", ".join(values) + "]"


def _statement_ref(decisive: dict[str, Any], explanation: dict[str, Any]) -> str:
    """``Deny statement DenyDelete (#2) of resource policy prod-repo, policies/x.json:30``."""
    sid = decisive.get("sid")
    label = f"{sid} (#{decisive.get('index')})" if sid else f"#{decisive.get('index')}"
    where = decisive.get("file") or ""
    line = _statement_line(decisive, explanation)
    if where and line:
        where = f"{where}:{line}"
    elif line:
        where = f"line {line}"
    kind = KIND_LABELS.get(str(decisive.get("kind")), f"{decisive.get('kind')} policy")
    text = f"{decisive.get('effect', '')} statement {label} of {kind} {decisive.get('policy')}"
    return f"{text}, {where}" if where else text


def _statement_line(decisive: dict[str, Any], explanation: dict[str, Any]) -> int | None:
    if decisive.get("line"):
        return int(decisive["line"])
    for policy in explanation.get("policies", []):
        if policy.get("name") != decisive.get("policy") or policy.get("kind") != decisive.get(
            "kind"
        ):
            continue
        for stmt in policy.get("statements", []):
            if stmt.get("index") == decisive.get("index") and stmt.get("line"):
                return int(stmt["line"])
    return None


def format_explanation(result: dict[str, Any]) -> str:
    """Everything about one check for a person: request, verdict, and for each step the
    gates, the policies that took part and their statements with conditions."""
    verdict = "PASS" if result["passed"] else "FAIL"
    lines = [
        f"{result['id']}  ({result['file']}:{result['line']})",
        f"  {verdict}: expected {result['expected']}, got {result['decision']}",
        *("  " + line for line in _request_lines(result)),
    ]
    for step in result["steps"]:
        exp = step["explanation"]
        lines.append(f"  {step['action']}: {step['decision']}")
        if exp.get("reason"):
            lines.append(f"    reason: {exp['reason']}")
        if exp.get("gate"):
            lines.append(f"    deciding gate: {exp['gate']}")
        for gate in exp.get("gates", []):
            note = f" ({gate['note']})" if gate.get("note") else ""
            lines.append(f"    gate {gate.get('gate')}: {gate.get('result')}{note}")
        for policy in exp.get("policies", []):
            where = policy.get("file") or "inline"
            if policy.get("line"):
                where = f"{where}:{policy['line']}"
            kind = KIND_LABELS.get(str(policy.get("kind")), f"{policy.get('kind')} policy")
            lines.append(f"    {kind} {policy.get('name')} ({where})")
            for stmt in policy.get("statements", []):
                sid = f" {stmt['sid']}" if stmt.get("sid") else ""
                mark = "matched" if stmt.get("matched") else "not matched"
                line = f", line {stmt['line']}" if stmt.get("line") else ""
                note = f": {stmt['note']}" if stmt.get("note") else ""
                lines.append(
                    f"      #{stmt.get('index')}{sid} {stmt.get('effect')} {mark}{line}{note}"
                )
                for cond in stmt.get("conditions", []):
                    lines.append(
                        f"        {cond.get('operator')} {cond.get('key')}: "
                        f"expected {cond.get('expected')}, actual {cond.get('actual')} "
                        f"-> {str(cond.get('result')).lower()}"
                    )
            if policy.get("skipped"):
                lines.append(f"      (takes no part: {policy['skipped']})")
            elif policy.get("unmatched_by_action"):
                lines.append(
                    f"      ({policy['unmatched_by_action']} statement(s) not for this action)"
                )
        decisive = exp.get("decisive") or []
        for d in decisive:
            lines.append("    decisive: " + _statement_ref(d, exp))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Running whole files (the command line).


@dataclass(frozen=True, slots=True)
class SpecRun:
    """One spec file: either its checks' runs, or the error that stopped it loading."""

    path: Path
    runs: tuple[CheckRun, ...] = ()
    error: SpecError | None = None


def run_spec_files(paths: Sequence[Path], *, display_root: Path | None = None) -> Iterator[SpecRun]:
    """Load and evaluate each spec file in turn; a file that cannot be loaded yields a
    :class:`SpecRun` with ``error`` set, and the following files still run."""
    from runner import spec as loader

    for path in paths:
        try:
            spec = loader.load_spec(path, display_root=display_root)
        except SpecError as exc:
            yield SpecRun(path, error=exc)
            continue
        yield SpecRun(path, runs=tuple(evaluate_check(c) for c in spec.checks))


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
                        "effect": s.effect,
                        "line": s.line,
                    }
                    for s in compiled.statements
                ],
            }
        )
    return out
