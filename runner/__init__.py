"""pytest-policyspec: declarative, offline tests for AWS access policies (Amazon ECR first).

The library's public API, for code that loads specs or decides requests without pytest::

    from runner import load_spec, run_check

    spec = load_spec("specs/prod.yaml")
    for check in spec.checks:
        result = run_check(check)  # a result dict (docs/internals.md, "Check results")
        print(result["id"], result["outcome"])

Each name is imported on first use, so ``import runner`` (and the pytest plugin, which
imports it) stays cheap: the HTML report's template engine, for one, is loaded only when a
report is written.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover - the same names, for the type checker
    from runner.checks import CheckRun, evaluate_check, run_check
    from runner.engine import Decision, build_context, evaluate
    from runner.errors import Problem, SpecError, Undecided
    from runner.model import (
        Check,
        Expectation,
        Gate,
        Organization,
        Outcome,
        PolicyInvalid,
        PolicyKind,
        PolicyProblem,
        Principal,
        PrincipalType,
        Request,
        Resource,
        SourceLoc,
        Spec,
        Verdict,
        anonymous_principal,
        principal_from_arn,
        repository,
        service_principal,
    )
    from runner.policy import CompiledPolicy, compile_policy
    from runner.report import render_report, write_report
    from runner.results import RESULTS_FORMAT, ResultsError, load_results, write_results
    from runner.spec import load_spec
    from runner.text import format_explanation, format_failure

#: Where each public name lives.
_EXPORTS = {
    "load_spec": "runner.spec",
    "compile_policy": "runner.policy",
    "CompiledPolicy": "runner.policy",
    "evaluate": "runner.engine",
    "build_context": "runner.engine",
    "Decision": "runner.engine",
    "run_check": "runner.checks",
    "evaluate_check": "runner.checks",
    "CheckRun": "runner.checks",
    "format_failure": "runner.text",
    "format_explanation": "runner.text",
    "RESULTS_FORMAT": "runner.results",
    "ResultsError": "runner.results",
    "load_results": "runner.results",
    "write_results": "runner.results",
    "render_report": "runner.report",
    "write_report": "runner.report",
    "Problem": "runner.errors",
    "SpecError": "runner.errors",
    "Undecided": "runner.errors",
    **dict.fromkeys(
        (
            "Check",
            "Expectation",
            "Gate",
            "Organization",
            "Outcome",
            "PolicyInvalid",
            "PolicyKind",
            "PolicyProblem",
            "Principal",
            "PrincipalType",
            "Request",
            "Resource",
            "SourceLoc",
            "Spec",
            "Verdict",
            "anonymous_principal",
            "principal_from_arn",
            "repository",
            "service_principal",
        ),
        "runner.model",
    ),
}

__all__ = [
    "RESULTS_FORMAT",
    "Check",
    "CheckRun",
    "CompiledPolicy",
    "Decision",
    "Expectation",
    "Gate",
    "Organization",
    "Outcome",
    "PolicyInvalid",
    "PolicyKind",
    "PolicyProblem",
    "Principal",
    "PrincipalType",
    "Problem",
    "Request",
    "Resource",
    "ResultsError",
    "SourceLoc",
    "Spec",
    "SpecError",
    "Undecided",
    "Verdict",
    "__version__",
    "anonymous_principal",
    "build_context",
    "compile_policy",
    "evaluate",
    "evaluate_check",
    "format_explanation",
    "format_failure",
    "load_results",
    "load_spec",
    "principal_from_arn",
    "render_report",
    "repository",
    "run_check",
    "service_principal",
    "write_report",
    "write_results",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
