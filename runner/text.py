"""Text for people: the failure text pytest prints and what ``python -m runner explain`` prints.

Both read check result dicts (``runner.results``), so they print the same thing whether the
check ran a moment ago or in another process.

Everything the tool prints to a terminal goes through :func:`terminal_safe` on its way out:
case names, Sids, tags, context values and file names come from the files under test, and a
control character among them would reach the terminal raw (an ANSI escape recolours or clears
the screen, a carriage return overwrites the line, BEL rings).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

from runner.model import PolicyKind
from runner.results import on_registry

__all__ = ["format_explanation", "format_failure", "kind_label", "terminal_safe"]

#: What a terminal must not receive raw: the C0 controls but tab and line feed, DEL, the C1
#: controls, the bidirectional overrides and isolates (they reorder what is shown), and
#: surrogates (a str holds one only when it is alone: it cannot even be encoded).
_UNSAFE = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"


@functools.cache
def _unsafe() -> re.Pattern[str]:
    # compiled on the first message, not at every start (its ranges take about 0.8 ms)
    return re.compile(_UNSAFE)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on written as an escape: ``\\x1b``
    for ESC, ``\\x07`` for BEL, ``\\x0d`` for CR, ``\\x00`` for NUL, ``\\ud800`` for a lone
    surrogate. Line feeds and tabs are kept: they shape the text."""
    unsafe = _unsafe()
    if unsafe.search(text) is None:
        return text
    return unsafe.sub(_escape, text)


_KINDS = {k.value: k for k in PolicyKind}


def kind_label(kind: object) -> str:
    """How messages name a policy kind (``PolicyKind.label``: "repository policy", "SCP")."""
    known = _KINDS.get(str(kind))
    return known.label if known is not None else f"{kind} policy"


def format_failure(result: dict[str, Any]) -> str:
    """A short, readable account of a failed check from its (full) result dict."""
    lines = [
        f"expected {result['expected']}, got {result['decision']}",
        f"case:      {result['case']} ({result['file']}:{result['line']})",
        *_request_lines(result),
        *_universal_lines(result, ""),
    ]
    steps = result["steps"]
    if len(steps) == 1:
        lines.extend(_step_detail(steps[0]["explanation"], indent=""))
        return "\n".join(lines)
    lines.append(f"steps of {result['action']}:")
    for step in failing_first(result):
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
    if result["resource"] is None:
        lines.append("resource:  * (account-level)")
    elif on_registry(result):  # the repository the case names is not what it acts on
        lines.append(
            f"resource:  * (account-level: the caller's own registry, not repository "
            f"{result['resource']})"
        )
    else:
        lines.append(f"resource:  {result['resource']} ({result['resource_arn']})")
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


def _shown(values: object) -> str:
    """Condition values for a person: a key the request does not carry is ``(absent)``, one
    value is itself, several are ``[a, b]`` (never Python's list or None)."""
    if values is None:
        return "(absent)"
    if isinstance(values, list | tuple):
        if not values:
            return "(no values)"
        return _values([v if isinstance(v, str) else json.dumps(v) for v in values])
    return values if isinstance(values, str) else json.dumps(values)


def failing_first(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of a check, those that explain its failure first (for a passing check, or a
    check whose every step explains it, in their order)."""
    steps: list[dict[str, Any]] = list(result["steps"])
    if result.get("passed") or len(steps) < 2:
        return steps
    return sorted(steps, key=lambda step: not _step_matters(result, step))


def _statement_ref(decisive: dict[str, Any], explanation: dict[str, Any]) -> str:
    """``Deny statement DenyDelete (#2) of repository policy prod-repo, policies/x.json:30``."""
    sid = decisive.get("sid")
    label = f"{sid} (#{decisive.get('index')})" if sid else f"#{decisive.get('index')}"
    where = decisive.get("file") or ""
    line = _statement_line(decisive, explanation)
    if where and line:
        where = f"{where}:{line}"
    elif line:
        where = f"line {line}"
    kind = kind_label(decisive.get("kind"))
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


def _universal_lines(result: dict[str, Any], indent: str) -> list[str]:
    """A universal check's class, the callers it considered and its witness."""
    if "universal" not in result:
        return []
    from runner.engine.universal_run import universal_lines

    return [indent + line for line in universal_lines(result)]


def format_explanation(result: dict[str, Any]) -> str:
    """Everything about one check for a person: request, verdict, and for each step the
    gates, the policies that took part and their statements with conditions."""
    if result.get("outcome") == "error":
        verdict = f"  ERROR: {result.get('message') or 'no decision was recorded'}"
    else:
        verdict = "PASS" if result["passed"] else "FAIL"
        verdict = f"  {verdict}: expected {result['expected']}, got {result['decision']}"
    lines = [
        f"{result['id']}  ({result['file']}:{result['line']})",
        verdict,
        f"  case:      {result['case']}",
        *("  " + line for line in _request_lines(result)),
        *_universal_lines(result, "  "),
    ]
    for step in failing_first(result):
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
            kind = kind_label(policy.get("kind"))
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
                        f"expected {_shown(cond.get('expected'))}, "
                        f"actual {_shown(cond.get('actual'))} "
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
