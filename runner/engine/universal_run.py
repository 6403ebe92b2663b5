"""A universal check as the shell runs it: a :class:`runner.model.Check` whose ``universal``
is set becomes a :class:`UniversalRun`, which the plugin, ``eval`` and the report read as
they read any check run.

The result dict is the ordinary one (docs/internals.md) with ``principal`` the class's name,
plus ``universal`` (the class in words, the callers considered, how many decisions were
made) and, for a failed check, ``witness`` (spec-format.md, "Outside pytest") and
``witness_summary`` (the witness in words). ``decision`` is the witness's decision, or the
expectation proven; ``steps`` are the witness's steps with their explanations, or, for a
proven check, one entry per step carrying the proven expectation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner import model, results
from runner.checks import CheckRun
from runner.engine.universal import Question, Result, Undecidable, decide, witness_dict
from runner.errors import Undecided

__all__ = ["UniversalRun", "question_of", "run_universal", "universal_lines"]


def question_of(check: model.Check) -> Question:
    scope = check.universal
    assert scope is not None
    return Question(
        scope.caller_class,
        scope.defined,
        check.resource,
        check.action,
        check.steps,
        model.Expectation(check.expected),
        check.context,
        check.organization,
        scope.closed_accounts,
    )


class UniversalRun(CheckRun):
    """The outcome of one universal check (or the construct that stopped it, in ``error``)."""

    __slots__ = ("question", "result")

    def __init__(
        self, check: model.Check, question: Question, result: Result | None, error: str | None
    ) -> None:
        # CheckRun's own constructor combines step decisions; a proven check has none
        self.check = check
        self.question = question
        self.result = result
        self.error = error if error is not None else check.error
        witness = result.witness if result is not None else None
        self.step_decisions = witness.decisions if witness is not None else ()
        self.decisions = tuple(str(d.decision) for d in self.step_decisions)
        self.decision = None if self.error is not None or result is None else result.decision
        self.passed = self.error is None and result is not None and result.passed
        self._explanations = None

    def to_result(
        self, *, explain: bool | None = None, nodeid: str | None = None
    ) -> dict[str, Any]:
        check = self.check
        scope = check.universal
        assert scope is not None
        if self.error is not None or self.result is None:
            out = results.check_result(check, nodeid=nodeid)
            out["message"] = self.error
            out["principal_arn"] = scope.caller_class.describe()
            return out
        result = self.result
        if result.witness is None:
            proven: dict[str, Any] = {
                "decision": check.expected,
                "gate": None,
                "reason": f"proven for every caller of {scope.caller_class.describe()} and "
                "every request context",
                "decisive": [],
            }
            steps = [results.step_result(a, check.expected, dict(proven)) for a in check.steps]
        else:
            shown = self.explanations()
            steps = [
                results.step_result(str(d.request.action), str(d.decision), e)
                for d, e in zip(self.step_decisions, shown, strict=True)
            ]
        out = results.check_result(
            check, nodeid=nodeid, decision=self.decision, passed=self.passed, steps=steps
        )
        out["principal_arn"] = scope.caller_class.describe()
        out["universal"] = {
            "class": scope.caller_class.describe(),
            "considered": list(result.considered),
            "evaluated": result.evaluated,
        }
        if result.witness is not None:
            out["witness"] = witness_dict(self.question, result.witness)
            out["witness_summary"] = result.witness.summary
        return out


def run_universal(check: model.Check) -> UniversalRun:
    """Decide a universal check; what stops the reasoning becomes the check's error, at the
    case (``file:line:col: message``)."""
    question = question_of(check)
    if check.error is not None:
        return UniversalRun(check, question, None, check.error)
    try:
        result = decide(question)
    except (Undecidable, Undecided) as exc:  # Undecided: from a request the engine evaluated
        return UniversalRun(check, question, None, f"{check.loc}: cannot decide exactly: {exc}")
    return UniversalRun(check, question, result, None)


def universal_lines(result: Mapping[str, Any]) -> list[str]:
    """What a person reads about a universal check besides the ordinary explanation: the
    class, the callers considered and the witness (from its result dict)."""
    about = result.get("universal")
    if not about:
        return []
    lines = [f"universal check over {about['class']}"]
    lines.append("callers considered: " + "; ".join(about.get("considered", [])))
    if result.get("witness_summary"):
        lines.append(f"witness: {result['witness_summary']}")
    found = result.get("witness")
    if found:
        name = f" (defined principal {found['name']})" if found.get("name") else ""
        lines.append(f"witness request: {found['principal']}{name}")
        if found.get("tags"):
            tags = ", ".join(f"{k}={v}" for k, v in sorted(found["tags"].items()))
            lines.append(f"witness tags: {tags}")
        for key, value in sorted(found.get("context", {}).items()):
            shown = value if isinstance(value, str) else "[" + ", ".join(value) + "]"
            lines.append(f"witness context: {key} = {shown}")
    return lines
