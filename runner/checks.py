"""Run checks: evaluate every step of a check with the engine and compare with the expectation.

This module is shared by the pytest plugin and the command line. It knows the spec's
expectation semantics but none of the IAM combination rules, which live in ``runner.engine``
only; the result dicts it hands out are built by ``runner.results``.

Explanations (``Decision.to_dict()``) are the expensive part of a check, so :func:`evaluate_check`
returns a :class:`CheckRun` that knows pass/fail at once and builds explanations lazily, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import model, results
from runner.errors import SpecError, Undecided
from runner.model import Expectation, Verdict

if TYPE_CHECKING:  # pragma: no cover - types only
    from runner.engine import Decision
    from runner.result_lines import PassedLines


_ALLOW = Verdict.ALLOW.value
_EXPLICIT_DENY = Verdict.EXPLICIT_DENY.value
_IMPLICIT_DENY = Verdict.IMPLICIT_DENY.value
_EXPECTATIONS = {e.value: e for e in Expectation}
#: ``expectation_met`` of every expectation and decision, looked up per check
_MET = {(e.value, v.value): e.met_by(v.value) for e in Expectation for v in Verdict}


def combine(decisions: Iterable[str]) -> str:
    """The decision of an operation from the decisions of its steps: ``allow`` when every
    step is allowed, ``explicit-deny`` when any step is explicitly denied, else
    ``implicit-deny`` (spec-format.md, "Operations")."""
    seen = set(decisions)
    if not seen:
        raise ValueError("a check has at least one step")
    if _EXPLICIT_DENY in seen:
        return _EXPLICIT_DENY
    if seen == {_ALLOW}:
        return _ALLOW
    return _IMPLICIT_DENY


def expectation_met(expected: str, decision: str) -> bool:
    """``allow`` needs an allow; ``deny`` anything else; the two deny kinds pin the reason."""
    expectation = _EXPECTATIONS.get(expected)
    if expectation is None:
        known = ", ".join(_EXPECTATIONS)
        raise ValueError(f"unknown expectation {expected!r}; expected one of {known}")
    return expectation.met_by(decision)


class CheckRun:
    """The evaluated check: pass/fail is known at once; explanations are built on demand.

    A check that cannot be evaluated (``model.Check.error`` is set: the spec leaves a value
    open that the decision depends on) has no decision: ``error`` holds the message, ``passed``
    is false, and its result's outcome is ``error``.
    """

    __slots__ = (
        "_explanations",
        "check",
        "decision",
        "decisions",
        "error",
        "passed",
        "step_decisions",
    )

    def __init__(
        self, check: model.Check, step_decisions: Sequence[Decision], error: str | None = None
    ) -> None:
        self.check = check
        error = self.error = error if error is not None else check.error
        steps = self.step_decisions = tuple(step_decisions)
        self._explanations: list[dict[str, Any]] | None = None
        if len(steps) == 1:  # most checks: one step, whose decision is the check's
            # a Verdict's text is its value (a StrEnum's str())
            verdict = steps[0].decision._value_
            self.decisions: tuple[str, ...] = (verdict,)
            if error is None:
                self.decision: str | None = verdict
                met = _MET.get((check.expected, verdict))
                self.passed = met if met is not None else expectation_met(check.expected, verdict)
            else:
                self.decision = None
                self.passed = False
            return
        decisions = self.decisions = tuple(str(d.decision) for d in steps)
        self.decision = None
        self.passed = False
        if error is None:
            decision = self.decision = combine(decisions)
            met = _MET.get((check.expected, decision))
            self.passed = met if met is not None else expectation_met(check.expected, decision)

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
        (``results.COMPACT_KEYS``: what the report needs for a passing check); None (default)
        means full for a failed check and compact for a passed one.
        """
        if self.error is not None:
            result = results.check_result(self.check, nodeid=nodeid)
            result["message"] = self.error
            return result
        full = (not self.passed) if explain is None else explain
        shown = (
            self.explanations()
            if full
            else [results.compact_explanation(d) for d in self.step_decisions]
        )
        steps = [
            results.step_result(action, decision, explanation)
            for action, decision, explanation in zip(
                self.check.steps, self.decisions, shown, strict=True
            )
        ]
        return results.check_result(
            self.check, nodeid=nodeid, decision=self.decision, passed=self.passed, steps=steps
        )

    def passed_line(self, lines: PassedLines) -> str | None:
        """The JSON line of ``to_result()`` for a passed check without a known exception (the
        caller checks ``passed`` and ``check.exception``), built by ``lines``; None for a run
        whose result is not the plain one (a subclass with its own ``to_result``)."""
        if type(self).to_result is not CheckRun.to_result:
            return None
        check = self.check
        if len(self.decisions) == 1:  # most checks: one step
            steps: Sequence[tuple[str, str, Decision]] = (
                (check.steps[0], self.decisions[0], self.step_decisions[0]),
            )
        else:
            steps = tuple(zip(check.steps, self.decisions, self.step_decisions, strict=True))
        return lines.line(check, str(self.decision), steps)


_evaluate: list[Callable[[model.Request], Decision]] = []


def _engine() -> Callable[[model.Request], Decision]:
    """``engine.evaluate``, imported on first use: collection stays cheap."""
    from runner import engine

    _evaluate.append(engine.evaluate)
    return engine.evaluate


def evaluate_check(check: model.Check) -> CheckRun:
    """Evaluate each step of ``check`` (no explanations are built yet); a check whose
    ``error`` is set is not evaluated."""
    if check.universal is not None:
        from runner.engine.universal_run import run_universal  # a proof over every caller

        return run_universal(check)
    if check.error is not None:
        return CheckRun(check, ())
    evaluate = _evaluate[0] if _evaluate else _engine()
    principal, resource, context, organization = (
        check.principal, check.resource, check.context, check.organization
    )  # fmt: skip
    steps = check.steps
    try:
        if len(steps) == 1:  # most checks
            request = model.Request(principal, steps[0], resource, context, organization)
            return CheckRun(check, (evaluate(request),))
        decisions = [
            evaluate(model.Request(principal, action, resource, context, organization))
            for action in steps
        ]
    except Undecided as exc:  # the decision depends on what AWS does not document
        return CheckRun(check, (), f"{check.loc}: cannot decide exactly: {exc}")
    return CheckRun(check, decisions)


def run_check(check: model.Check) -> dict[str, Any]:
    """Evaluate ``check`` and return its result dict with every step's full explanation."""
    return evaluate_check(check).to_result(explain=True)


# ---------------------------------------------------------------------------------------------
# Running whole files (the command line).


@dataclass(frozen=True, slots=True)
class SpecRun:
    """One spec file: either the loaded spec, its checks' runs and its warnings (``file:line:col:
    message``), or the error that stopped it loading."""

    path: Path
    runs: tuple[CheckRun, ...] = ()
    error: SpecError | None = None
    warnings: tuple[str, ...] = ()
    spec: model.Spec | None = None


def run_spec_files(paths: Sequence[Path], *, display_root: Path | None = None) -> Iterator[SpecRun]:
    """Load and evaluate each spec file in turn; a file that cannot be loaded yields a
    :class:`SpecRun` with ``error`` set, and the following files still run.

    The cyclic garbage collector is paused until the iteration ends, the caller's work on
    each file included: loading and evaluating allocate many small containers, almost none in
    cycles (``runner eval`` over 800 files, 20,000 checks: 516 objects in garbage cycles at
    the end, the same peak memory), and its collections walked each file's live objects and
    the growing caches in vain (runner/speed.py).
    """
    from runner import spec as loader
    from runner.speed import collector_paused

    with collector_paused():
        for path in paths:
            try:
                spec = loader.load_spec(path, display_root=display_root)
            except SpecError as exc:
                yield SpecRun(path, error=exc)
                continue
            runs = tuple(evaluate_check(c) for c in spec.checks)
            yield SpecRun(path, runs=runs, warnings=spec.warnings, spec=spec)
