"""Known exceptions: a case's accepted failure, with a reason and an end date.

A case may carry ``exception: {reason: ..., until: 2027-03-31, ticket: SEC-142}``. Until the end
of that day (UTC) at the run's instant (the one instant the engine evaluates every check at:
``--policy-time`` / ``eval --time``, else when the run starts), a failing check of that case is
an expected failure (pytest: xfail with the reason). After it, the check fails again and says
that the exception expired, and on which date. A check that passes although its case carries an
exception is reported as "exception no longer needed", so that someone removes it; it does not
fail the run. An error (a check that could not be evaluated) is never covered by an exception.

The loader reads the YAML and hands each key of the ``exception`` mapping over as a
:class:`Field`; :func:`read_exception` checks them and returns located problems. Results dicts
carry the outcome as plain built-in types (:func:`apply`, :func:`exception_result`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import Problem
from runner.model import Outcome, SourceLoc
from runner.words import closest, did_you_mean

#: The keys of an ``exception`` mapping; ``reason`` and ``until`` are required.
KEYS = ("reason", "until", "ticket")

#: What the loader says when ``exception`` is not a mapping ("expected ..., got ...").
EXPECTED = (
    "an exception: a mapping with 'reason' and 'until', e.g. {reason: ..., until: 2027-03-31}"
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: The outcome of a check that failed under an accepted exception, in results dicts.
XFAIL = Outcome.XFAIL.value


class ExceptionStatus(enum.StrEnum):
    """How a case's known exception bears on one of its checks."""

    #: The check failed before the end date: an expected failure.
    ACCEPTED = "accepted"
    #: The check failed after the end date: a failure again.
    EXPIRED = "expired"
    #: The check passed: the exception can be removed.
    UNNEEDED = "unneeded"
    #: The check could not be evaluated (an error): an exception never covers an error.
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class KnownException:
    """An accepted failure of a case. ``until`` is the last day (UTC) it holds; ``loc`` is where
    the ``exception`` key is written."""

    reason: str
    until: dt.date
    loc: SourceLoc
    ticket: str | None = None

    def expired(self, now: dt.datetime) -> bool:
        """Whether the exception no longer holds at ``now`` (it holds through its last day)."""
        return _utc_day(now) > self.until


@dataclass(frozen=True, slots=True)
class Field:
    """One key of an ``exception`` mapping as the loader read it: ``text`` is the scalar's text
    (a string or an unquoted YAML date), or None when the value is anything else (a list, a
    number, ...), which ``described`` then names ("a list", "a number (3)") for the message."""

    key_loc: SourceLoc
    loc: SourceLoc
    text: str | None
    described: str


def read_exception(
    fields: Mapping[str, Field], loc: SourceLoc
) -> tuple[KnownException | None, list[Problem]]:
    """Check the keys of one ``exception`` mapping written at ``loc``; every problem is
    returned, each at its place. The exception is None when there is any problem."""
    problems: list[Problem] = []
    for key, field in fields.items():
        if key not in KEYS:
            best = closest(key, KEYS)
            hint = f"{did_you_mean([best])} Valid keys" if best else "; valid keys"
            problems.append(
                Problem(
                    field.key_loc, f"unknown key {key!r} in an exception{hint}: {', '.join(KEYS)}"
                )
            )
    reason = _text(fields.get("reason"), "a reason (text saying why the failure is accepted)")
    if isinstance(reason, Problem):
        problems.append(reason)
    elif reason is None:
        problems.append(Problem(loc, "an exception needs 'reason' (why the failure is accepted)"))
    until = _date(fields.get("until"))
    if isinstance(until, Problem):
        problems.append(until)
    elif until is None:
        problems.append(
            Problem(loc, "an exception needs 'until' (the last day it holds, e.g. 2027-03-31)")
        )
    ticket = _text(fields.get("ticket"), "a ticket (text, e.g. SEC-142)")
    if isinstance(ticket, Problem):
        problems.append(ticket)
    if problems:
        return None, problems
    assert isinstance(reason, str) and isinstance(until, dt.date)
    return KnownException(reason, until, loc, ticket if isinstance(ticket, str) else None), problems


def _text(field: Field | None, what: str) -> str | Problem | None:
    if field is None:
        return None
    if field.text is None:
        return Problem(field.loc, f"expected {what}, got {field.described}")
    text = field.text.strip()
    if not text:
        return Problem(field.loc, f"expected {what}, got an empty text")
    return text


def _date(field: Field | None) -> dt.date | Problem | None:
    if field is None:
        return None
    what = "a date such as 2027-03-31 (the exception holds through that day, UTC)"
    if field.text is None:
        return Problem(field.loc, f"expected {what}, got {field.described}")
    text = field.text.strip()
    if not _DATE.match(text):
        return Problem(field.loc, f"expected {what}, got {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return Problem(field.loc, f"{text!r} is not a day of the calendar; expected {what}")


def _utc_day(now: dt.datetime) -> dt.date:
    if now.tzinfo is None:
        raise ValueError("the run's instant must carry a time zone")
    return now.astimezone(dt.UTC).date()


def status(exception: KnownException, *, outcome: str, now: dt.datetime) -> ExceptionStatus:
    """The bearing of ``exception`` on a check whose own outcome (``passed``, ``failed`` or
    ``error``) is ``outcome``, at the run's instant ``now``."""
    if outcome == Outcome.PASSED:
        return ExceptionStatus.UNNEEDED
    if outcome == Outcome.ERROR:
        return ExceptionStatus.IGNORED
    return ExceptionStatus.EXPIRED if exception.expired(now) else ExceptionStatus.ACCEPTED


def note(info: Mapping[str, Any]) -> str:
    """The sentence every output shows for a check's ``exception`` entry (see
    :func:`exception_result`)."""
    until = info.get("until")
    reason = info.get("reason")
    ticket = f", {info['ticket']}" if info.get("ticket") else ""
    state = info.get("status")
    if state == ExceptionStatus.ACCEPTED:
        return f"known exception until {until}: {reason}{ticket}"
    if state == ExceptionStatus.EXPIRED:
        return f"known exception expired on {until}: {reason}{ticket}"
    if state == ExceptionStatus.UNNEEDED:
        return (
            f"known exception no longer needed: the check passes; remove the exception "
            f"({reason}{ticket}, until {until})"
        )
    return f"known exception not applied: an error is never covered ({reason}{ticket})"


def exception_result(exception: KnownException, state: ExceptionStatus) -> dict[str, Any]:
    """The ``exception`` entry of a check result (plain built-in types)."""
    info: dict[str, Any] = {
        "reason": exception.reason,
        "until": exception.until.isoformat(),
        "ticket": exception.ticket,
        "status": state.value,
        "file": exception.loc.file,
        "line": exception.loc.line,
        "col": exception.loc.col,
    }
    info["note"] = note(info)
    return info


def apply(result: dict[str, Any], exception: KnownException, now: dt.datetime) -> dict[str, Any]:
    """Put ``exception``'s bearing into a check result dict (in place; returned too): the
    ``exception`` entry, and ``outcome`` ``xfail`` for an accepted failure. ``passed`` stays
    what the decision says: an accepted failure did not pass."""
    state = status(exception, outcome=str(result.get("outcome")), now=now)
    result["exception"] = exception_result(exception, state)
    if state is ExceptionStatus.ACCEPTED:
        result["outcome"] = XFAIL
    return result


def counts(checks: Iterable[object]) -> dict[str, int]:
    """How many checks of a results dict's ``checks`` each exception status touches."""
    out = {state.value: 0 for state in ExceptionStatus}
    for check in checks:
        info = check.get("exception") if isinstance(check, Mapping) else None
        if isinstance(info, Mapping) and info.get("status") in out:
            out[str(info["status"])] += 1
    return out
