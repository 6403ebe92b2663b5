"""Known exceptions: validation with located errors, the end date, and the results they give."""

from __future__ import annotations

import datetime as dt
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
