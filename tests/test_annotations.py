"""GitHub workflow commands (runner.workflow): the escaping the syntax requires, one line per
finding."""

from __future__ import annotations

import io
from typing import Any

from runner import workflow


def test_message_escaping() -> None:
    assert workflow.escape_data("100% sure\r\nnext line\n") == "100%25 sure%0D%0Anext line%0A"
    # % goes first: an already escaped sequence is escaped again, not decoded
    assert workflow.escape_data("%0A") == "%250A"
    # colons and commas are fine in a message
    assert workflow.escape_data("a: b, c") == "a: b, c"


def test_property_escaping() -> None:
    assert workflow.escape_property("policyspec: a, b%\n") == "policyspec%3A a%2C b%25%0A"
    assert workflow.escape_property("C:\\specs\\x.yaml") == "C%3A\\specs\\x.yaml"


def test_command_layout() -> None:
    assert (
        workflow.command(
            "error", "line one\nline two", file="specs/a,b.yaml", line=3, col=7, title="t: x"
        )
        == "::error file=specs/a%2Cb.yaml,line=3,col=7,title=t%3A x::line one%0Aline two"
    )
    # a column only with a line, a line only with a file
    assert workflow.command("warning", "m", file="a.yaml", col=4) == "::warning file=a.yaml::m"
    assert workflow.command("notice", "m", line=4) == "::notice::m"


def test_enabled_only_on_github_actions() -> None:
    assert workflow.enabled({"GITHUB_ACTIONS": "true"})
    assert not workflow.enabled({"GITHUB_ACTIONS": "false"})
    assert not workflow.enabled({"CI": "true"})


def _check(**changes: Any) -> dict[str, Any]:
    check: dict[str, Any] = {
        "id": "specs/app.yaml::nobody-deletes[intern-app-ecr:DeleteRepository]",
        "file": "specs/app.yaml",
        "line": 28,
        "case": "nobody deletes",
        "principal": "intern",
        "resource": "app",
        "action": "ecr:DeleteRepository",
        "expected": "deny",
        "decision": "allow",
        "passed": False,
        "outcome": "failed",
        "steps": [
            {
                "action": "ecr:DeleteRepository",
                "decision": "allow",
                "explanation": {
                    "reason": "allowed by statement AnyoneDeletes of repository policy app-repo",
                    "policies": [
                        {
                            "name": "app-repo",
                            "kind": "resource",
                            "statements": [{"index": 1, "line": 10}],
                        }
                    ],
                    "decisive": [
                        {
                            "policy": "app-repo",
                            "kind": "resource",
                            "file": "specs/policies/app-repo.json",
                            "index": 1,
                            "sid": "AnyoneDeletes",
                            "effect": "Allow",
                        }
                    ],
                },
            }
        ],
    }
    check.update(changes)
    return check


def test_one_command_per_finding() -> None:
    results = {
        "format": "policyspec-results/1",
        "checks": [
            _check(),
            _check(
                id="specs/app.yaml::waived[x]",
                case="waived",
                line=40,
                outcome="xfail",
                exception={
                    "reason": "migration, 50% done",
                    "until": "2027-03-31",
                    "ticket": None,
                    "status": "accepted",
                },
            ),
            _check(id="specs/app.yaml::fine[x]", outcome="passed", passed=True),
        ],
        "errors": [
            {
                "file": "specs/typo.yaml",
                "line": 2,
                "col": 1,
                "message": "unknown top-level key 'case'; did you mean 'cases'?\nValid keys: cases",
            }
        ],
        "warnings": ["specs/x.yaml:4:9: aws:SourceIpp is not a condition key, it never matches"],
        "policies": [],
    }
    out = io.StringIO()
    workflow.write(out, workflow.lines(results))
    assert out.getvalue().splitlines() == [
        "::error file=specs/policies/app-repo.json,line=10,title=policyspec%3A unexpected allow"
        "::nobody deletes: intern ecr:DeleteRepository on app: expected deny, got allow; "
        "allowed by statement AnyoneDeletes of repository policy app-repo "
        "[case at specs/app.yaml:28]",
        "::notice file=specs/policies/app-repo.json,line=10,"
        "title=policyspec%3A unexpected allow (accepted)"
        "::waived: intern ecr:DeleteRepository on app: expected deny, got allow; "
        "allowed by statement AnyoneDeletes of repository policy app-repo "
        "(known exception until 2027-03-31: migration, 50%25 done) [case at specs/app.yaml:40]",
        "::error file=specs/typo.yaml,line=2,col=1,title=policyspec%3A spec error"
        "::unknown top-level key 'case'; did you mean 'cases'?%0AValid keys: cases",
        "::warning file=specs/x.yaml,line=4,col=9,title=policyspec%3A spec warning"
        "::aws:SourceIpp is not a condition key, it never matches",
    ]
