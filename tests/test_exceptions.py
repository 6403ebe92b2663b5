"""Known exceptions: validation with located errors, the end date, and the results they give."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner import exceptions
from runner.exceptions import ExceptionStatus, Field, KnownException
from runner.model import SourceLoc

AT = SourceLoc("specs/app.yaml", 12, 5)


def _field(text: str | None, line: int, described: str = "") -> Field:
    return Field(
        key_loc=SourceLoc("specs/app.yaml", line, 7),
        loc=SourceLoc("specs/app.yaml", line, 15),
        text=text,
        described=described or f"the text {text!r}",
    )


def _read(**fields: Field) -> tuple[KnownException | None, list[str]]:
    exc, problems = exceptions.read_exception(fields, AT)
    return exc, [str(p) for p in problems]


def test_a_valid_exception() -> None:
    exc, problems = _read(
        reason=_field(" waiting for the CI role ", 13),
        until=_field("2027-03-31", 14),
        ticket=_field("SEC-142", 15),
    )
    assert problems == []
    assert exc == KnownException("waiting for the CI role", dt.date(2027, 3, 31), AT, "SEC-142")
    exc, problems = _read(reason=_field("r", 13), until=_field("2027-03-31", 14))
    assert problems == [] and exc is not None and exc.ticket is None


def test_reason_and_until_are_required() -> None:
    exc, problems = _read()
    assert exc is None
    assert problems == [
        "specs/app.yaml:12:5: an exception needs 'reason' (why the failure is accepted)",
        "specs/app.yaml:12:5: an exception needs 'until' (the last day it holds, e.g. 2027-03-31)",
    ]


def test_bad_values_are_located() -> None:
    exc, problems = _read(
        reason=_field("  ", 13),
        until=_field("2027-02-30", 14),
        ticket=_field(None, 15, "a number (142)"),
    )
    assert exc is None
    assert problems == [
        "specs/app.yaml:13:15: expected a reason (text saying why the failure is accepted), "
        "got an empty text",
        "specs/app.yaml:14:15: '2027-02-30' is not a day of the calendar; expected a date such "
        "as 2027-03-31 (the exception holds through that day, UTC)",
        "specs/app.yaml:15:15: expected a ticket (text, e.g. SEC-142), got a number (142)",
    ]


@pytest.mark.parametrize(
    ("text", "described", "got"),
    [
        ("2027-03-31T12:00:00Z", "", "got '2027-03-31T12:00:00Z'"),
        ("next spring", "", "got 'next spring'"),
        ("20270331", "", "got '20270331'"),
        (None, "a list", "got a list"),
    ],
)
def test_until_must_be_a_date(text: str | None, described: str, got: str) -> None:
    _exc, problems = _read(reason=_field("r", 13), until=_field(text, 14, described))
    assert problems == [
        "specs/app.yaml:14:15: expected a date such as 2027-03-31 (the exception holds through "
        f"that day, UTC), {got}"
    ]


def test_unknown_keys_suggest_the_closest() -> None:
    _exc, problems = _read(
        reasn=_field("r", 13), until=_field("2027-03-31", 14), owner=_field("me", 15)
    )
    assert problems == [
        "specs/app.yaml:13:7: unknown key 'reasn' in an exception; did you mean reason? "
        "Valid keys: reason, until, ticket",
        "specs/app.yaml:15:7: unknown key 'owner' in an exception; valid keys: reason, until, "
        "ticket",
        "specs/app.yaml:12:5: an exception needs 'reason' (why the failure is accepted)",
    ]


EXC = KnownException("waiting for the CI role", dt.date(2027, 3, 31), AT, "SEC-142")


@pytest.mark.parametrize(
    ("now", "state"),
    [
        ("2027-03-31T23:59:59+00:00", ExceptionStatus.ACCEPTED),
        ("2027-04-01T00:00:00+00:00", ExceptionStatus.EXPIRED),
        # the day is UTC's: 01:00 on 1 April in UTC+2 is still 31 March in UTC
        ("2027-04-01T01:00:00+02:00", ExceptionStatus.ACCEPTED),
        ("2027-03-31T20:00:00-05:00", ExceptionStatus.EXPIRED),
        ("2026-01-01T00:00:00+00:00", ExceptionStatus.ACCEPTED),
    ],
)
def test_a_failure_is_accepted_through_its_last_day(now: str, state: ExceptionStatus) -> None:
    instant = dt.datetime.fromisoformat(now)
    assert exceptions.status(EXC, outcome="failed", now=instant) is state


def test_passes_and_errors() -> None:
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert exceptions.status(EXC, outcome="passed", now=now) is ExceptionStatus.UNNEEDED
    assert exceptions.status(EXC, outcome="error", now=now) is ExceptionStatus.IGNORED
    with pytest.raises(ValueError, match="time zone"):
        EXC.expired(dt.datetime(2027, 1, 1))


def _result(outcome: str, passed: bool) -> dict[str, Any]:
    return {"id": "specs/app.yaml::x[y]", "outcome": outcome, "passed": passed}


def test_apply_marks_an_accepted_failure_xfail_and_keeps_passed_honest() -> None:
    before = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    result = exceptions.apply(_result("failed", False), EXC, before)
    assert result == {
        "id": "specs/app.yaml::x[y]",
        "outcome": "xfail",
        "passed": False,
        "exception": {
            "reason": "waiting for the CI role",
            "until": "2027-03-31",
            "ticket": "SEC-142",
            "status": "accepted",
            "file": "specs/app.yaml",
            "line": 12,
            "col": 5,
            "note": "known exception until 2027-03-31: waiting for the CI role, SEC-142",
        },
    }


def test_apply_after_the_date_and_on_a_pass() -> None:
    after = dt.datetime(2027, 4, 2, tzinfo=dt.UTC)
    expired = exceptions.apply(_result("failed", False), EXC, after)
    assert expired["outcome"] == "failed"
    assert expired["exception"]["note"] == (
        "known exception expired on 2027-03-31: waiting for the CI role, SEC-142"
    )
    unneeded = exceptions.apply(_result("passed", True), EXC, after)
    assert unneeded["outcome"] == "passed" and unneeded["passed"] is True
    assert unneeded["exception"]["note"] == (
        "known exception no longer needed: the check passes; remove the exception "
        "(waiting for the CI role, SEC-142, until 2027-03-31)"
    )
    errored = exceptions.apply(_result("error", False), EXC, after)
    assert errored["outcome"] == "error"
    assert errored["exception"]["status"] == "ignored"


def test_counts() -> None:
    now = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    checks = [
        exceptions.apply(_result("failed", False), EXC, now),
        exceptions.apply(_result("passed", True), EXC, now),
        _result("failed", False),
    ]
    assert exceptions.counts(checks) == {"accepted": 1, "expired": 0, "unneeded": 1, "ignored": 0}


# ---------------------------------------------------------------------------------------------
# The `exception` key of a case, as the loader reads it

SPEC_HEAD = """\
principals:
  dev: arn:aws:iam::111122223333:user/dev
cases:
  - name: dev gets a token
    principal: dev
    action: ecr:GetAuthorizationToken
    expect: deny
"""


def _load(tmp_path: Path, exception_yaml: str) -> Any:
    from runner import spec as loader

    path = tmp_path / "spec.yaml"
    path.write_text(SPEC_HEAD + exception_yaml, encoding="utf-8")
    return loader.load_spec(path, display_root=tmp_path)


def test_the_loader_puts_the_exception_on_every_check_of_the_case(tmp_path: Path) -> None:
    loaded = _load(
        tmp_path,
        "    exception:\n      reason: CI still needs it\n      until: 2027-03-31\n"
        "      ticket: 142\n",
    )
    (check,) = loaded.checks
    assert check.exception == KnownException(
        "CI still needs it", dt.date(2027, 3, 31), SourceLoc("spec.yaml", 8, 5), "142"
    )
    # quoted dates are dates too
    quoted = _load(tmp_path, '    exception: {reason: r, until: "2027-03-31"}\n')
    assert quoted.checks[0].exception is not None
    assert quoted.checks[0].exception.until == dt.date(2027, 3, 31)


@pytest.mark.parametrize(
    ("yaml_text", "problems"),
    [
        (
            "    exception: later\n",
            [
                "spec.yaml:8:16: expected an exception: a mapping with 'reason' and 'until', "
                "e.g. {reason: ..., until: 2027-03-31}, got the text 'later'"
            ],
        ),
        (
            "    exception:\n      until: 2027-13-01\n      reson: x\n",
            [
                "spec.yaml:10:7: unknown key 'reson' in an exception; did you mean reason? "
                "Valid keys: reason, until, ticket",
                "spec.yaml:8:5: an exception needs 'reason' (why the failure is accepted)",
                "spec.yaml:9:14: '2027-13-01' is not a day of the calendar; expected a date such "
                "as 2027-03-31 (the exception holds through that day, UTC)",
            ],
        ),
        (
            "    exception: {reason: [a, b], until: 2027-03-31T10:00:00Z}\n",
            [
                "spec.yaml:8:25: expected a reason (text saying why the failure is accepted), "
                "got a list",
                "spec.yaml:8:40: expected a date such as 2027-03-31 (the exception holds "
                "through that day, UTC), got '2027-03-31T10:00:00Z'",
            ],
        ),
    ],
    ids=["not a mapping", "unknown key and bad date", "wrong types"],
)
def test_bad_exceptions_are_spec_errors(
    tmp_path: Path, yaml_text: str, problems: list[str]
) -> None:
    from runner.errors import SpecError

    with pytest.raises(SpecError) as info:
        _load(tmp_path, yaml_text)
    assert sorted(str(p) for p in info.value.problems) == sorted(problems)


# ---------------------------------------------------------------------------------------------
# End to end: pytest, pytest -n 2 and eval

WAIVED = """\
principals:
  dev: arn:aws:iam::111122223333:user/dev
cases:
  - name: dev gets no token
    principal: dev
    action: ecr:GetAuthorizationToken
    expect: allow
    exception:
      reason: the token grant lands with the new role
      until: 2027-03-31
      ticket: SEC-142
  - name: dev has no describe
    principal: dev
    action: ecr:DescribeRegistry
    expect: deny
    exception: {reason: nobody checked yet, until: 2027-03-31}
"""

WAIVED_IDS = (
    "specs/waived.yaml::dev-gets-no-token[dev-ecr:GetAuthorizationToken]",
    "specs/waived.yaml::dev-has-no-describe[dev-ecr:DescribeRegistry]",
)


def _project(root: Path) -> Path:
    (root / "specs").mkdir(parents=True, exist_ok=True)
    (root / "specs" / "waived.yaml").write_text(WAIVED, encoding="utf-8")
    return root


def _run(root: Path, *args: str, module: str = "pytest") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=root, capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def _pytest(root: Path, when: str, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(
        root, "specs", "-p", "no:cacheprovider", "--no-policy-report", "-rxXf",
        f"--policy-time={when}", "--policy-results=results.json", *args,
    )  # fmt: skip


def test_pytest_before_the_date_xfails_with_the_reason_and_warns_on_a_pass(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path)
    run = _pytest(root, "2027-03-31T23:00:00Z")
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert (
        f"XFAIL {WAIVED_IDS[0]} - known exception until 2027-03-31: the token grant lands "
        "with the new role, SEC-142"
    ) in out
    assert "1 passed, 1 xfailed, 1 warning" in out.splitlines()[-1]
    assert (
        "KnownExceptionWarning: specs/waived.yaml:16: dev has no describe: known exception no "
        "longer needed: the check passes; remove the exception (nobody checked yet, until "
        "2027-03-31)"
    ) in out
    data = json.loads((root / "results.json").read_text(encoding="utf-8"))
    by_id = {c["id"]: c for c in data["checks"]}
    waived, unneeded = by_id[WAIVED_IDS[0]], by_id[WAIVED_IDS[1]]
    assert (waived["outcome"], waived["passed"], waived["exception"]["status"]) == (
        "xfail",
        False,
        "accepted",
    )
    assert waived["exception"]["line"] == 8
    assert (unneeded["outcome"], unneeded["passed"], unneeded["exception"]["status"]) == (
        "passed",
        True,
        "unneeded",
    )


def test_pytest_after_the_date_fails_saying_the_exception_expired(tmp_path: Path) -> None:
    root = _project(tmp_path)
    run = _pytest(root, "2027-04-01T00:00:00Z")
    assert run.returncode == 1
    assert (
        "known exception expired on 2027-03-31: the token grant lands with the new role, "
        "SEC-142\nexpected allow, got implicit-deny"
    ) in run.stdout
    assert f"FAILED {WAIVED_IDS[0]}" in run.stdout
    data = json.loads((root / "results.json").read_text(encoding="utf-8"))
    waived = next(c for c in data["checks"] if c["id"] == WAIVED_IDS[0])
    assert (waived["outcome"], waived["exception"]["status"]) == ("failed", "expired")


def test_pytest_n2_gives_the_same_results(tmp_path: Path) -> None:
    root = _project(tmp_path)
    serial = _pytest(root, "2027-03-01T00:00:00Z")
    first = json.loads((root / "results.json").read_text(encoding="utf-8"))
    parallel = _pytest(root, "2027-03-01T00:00:00Z", "-n", "2")
    assert (serial.returncode, parallel.returncode) == (0, 0), parallel.stdout
    second = json.loads((root / "results.json").read_text(encoding="utf-8"))
    assert sorted(first["checks"], key=lambda c: c["id"]) == sorted(
        second["checks"], key=lambda c: c["id"]
    )
    assert "1 passed, 1 xfailed" in parallel.stdout.splitlines()[-1]


def test_eval_reports_xfail_and_exits_by_it(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = _run(root, "eval", "specs", "--time", "2027-03-31T12:00:00Z", module="runner")
    assert before.returncode == 0, before.stderr
    lines = [json.loads(line) for line in before.stdout.splitlines()]
    assert [(c["outcome"], c["passed"], c["exception"]["status"]) for c in lines] == [
        ("xfail", False, "accepted"),
        ("passed", True, "unneeded"),
    ]
    assert "known exception no longer needed" in before.stderr
    after = _run(root, "eval", "specs", "--time", "2027-04-01T00:00:00Z", module="runner")
    assert after.returncode == 1
    lines = [json.loads(line) for line in after.stdout.splitlines()]
    assert [(c["outcome"], c["exception"]["status"]) for c in lines] == [
        ("failed", "expired"),
        ("passed", "unneeded"),
    ]


def test_the_report_lists_known_exceptions_apart(tmp_path: Path) -> None:
    from runner import report

    root = _project(tmp_path)
    run = _pytest(root, "2027-03-31T23:00:00Z")
    assert run.returncode == 0, run.stdout
    data = json.loads((root / "results.json").read_text(encoding="utf-8"))
    page = report.render_report(data)
    assert "<b>1</b> expected failure (known exceptions)" in page
    assert '<h2>Known exceptions <span class="count">2</span></h2>' in page
    assert (
        "known exception until 2027-03-31: the token grant lands with the new role, SEC-142"
    ) in page
    assert "known exception no longer needed: the check passes; remove the exception" in page
    # the accepted failure is not among the failed checks
    assert '<section id="failed">' not in page
    assert "<b>0</b> failed" in page
