"""SARIF 2.1.0 from a results dict, for GitHub code scanning (and any SARIF viewer).

One result per failed check, errored check, spec error and warning, and one note per known
exception that is no longer needed. Each result is located at the policy statement that
decided (the deciding step's ``decisive`` statement, with its line from the explanation's
``policies``), or at the spec case when no statement decided (an implicit deny, a predefined
policy); the spec case is a related location. ``partialFingerprints`` hash what identifies the
check (file, case, principal, resource, action, expectation) and never a line number, so that
code scanning keeps tracking one alert across runs and unrelated edits.

The same findings feed the GitHub workflow commands (``runner.workflow``): :func:`findings`.
File paths are the results dict's, relative to the run's root (the pytest rootdir, or the
working directory of ``eval``); run from the repository root so that they are relative to it.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from runner import __version__
from runner import exceptions as known
from runner.model import PolicyKind

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
#: The base every relative ``uri`` is resolved against: the repository root.
SRCROOT = "%SRCROOT%"
#: The key of ``partialFingerprints``; bump the version when the hashed identity changes.
FINGERPRINT_KEY = "policyspecIdentity/v1"
TOOL_NAME = "pytest-policyspec"

#: Error messages that say the tool does not support a construct (YAML tags, merge keys,
#: Federated principals, a universal check the engine cannot decide exactly, ...).
_UNSUPPORTED = re.compile(
    r"\bnot supported\b|\bunsupported\b|\bdoes not support\b|\bcannot (?:decide|reason)\b"
    r"|\bdoes not (?:model|ship)\b",
    re.IGNORECASE,
)
_WARNING = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$", re.DOTALL)


class Level(enum.StrEnum):
    """SARIF result levels, also the kind of GitHub workflow command."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Rule(enum.Enum):
    """The kinds of finding: one stable SARIF ``ruleId`` each."""

    UNEXPECTED_ALLOW = "policyspec/unexpected-allow"
    UNEXPECTED_DENY = "policyspec/unexpected-deny"
    UNIVERSAL_CHECK_BROKEN = "policyspec/universal-check-broken"
    CHECK_ERROR = "policyspec/check-error"
    SPEC_ERROR = "policyspec/spec-error"
    UNSUPPORTED_CONSTRUCT = "policyspec/unsupported-construct"
    WARNING = "policyspec/warning"
    EXCEPTION_UNNEEDED = "policyspec/exception-unneeded"

    @property
    def info(self) -> RuleInfo:
        return _RULES[self]


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """How a rule is described to code scanning. ``severity`` is GitHub's ``security-severity``
    (0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical), None for a rule that is
    not about security."""

    name: str
    title: str
    description: str
    level: Level
    severity: str | None


_RULES = {
    Rule.UNEXPECTED_ALLOW: RuleInfo(
        "UnexpectedAllow",
        "unexpected allow",
        "A request that the spec expects to be denied is allowed: the policies grant more "
        "access than intended.",
        Level.ERROR,
        "8.0",
    ),
    Rule.UNEXPECTED_DENY: RuleInfo(
        "UnexpectedDeny",
        "unexpected deny",
        "A request is denied other than the spec expects: a request that should be allowed "
        "is denied, or an explicit deny the spec relies on does not apply (or the reverse).",
        Level.ERROR,
        "5.0",
    ),
    Rule.UNIVERSAL_CHECK_BROKEN: RuleInfo(
        "UniversalCheckBroken",
        "universal check broken",
        "A check about every caller of a class does not hold: the result names a witness, "
        "one concrete caller and request context that breaks it.",
        Level.ERROR,
        "9.0",
    ),
    Rule.CHECK_ERROR: RuleInfo(
        "CheckError",
        "check could not be evaluated",
        "A check could not be evaluated, so nothing is known about what it expects.",
        Level.ERROR,
        "5.0",
    ),
    Rule.SPEC_ERROR: RuleInfo(
        "SpecError",
        "spec error",
        "A spec file or a policy it references is invalid; none of its checks ran.",
        Level.ERROR,
        "5.0",
    ),
    Rule.UNSUPPORTED_CONSTRUCT: RuleInfo(
        "UnsupportedConstruct",
        "unsupported construct",
        "A spec or policy uses something the engine does not support; it refuses to guess, "
        "so the affected checks did not run.",
        Level.ERROR,
        "5.0",
    ),
    Rule.WARNING: RuleInfo(
        "SpecWarning",
        "spec warning",
        "A problem that does not stop a spec, such as a condition key that AWS does not "
        "define for the actions of the statement (the condition can never match).",
        Level.WARNING,
        "3.0",
    ),
    Rule.EXCEPTION_UNNEEDED: RuleInfo(
        "ExceptionUnneeded",
        "known exception no longer needed",
        "A case carries a known exception but its checks pass: remove the exception, so that "
        "a later regression fails again.",
        Level.NOTE,
        None,
    ),
}


@dataclass(frozen=True, slots=True)
class Place:
    """A place in a file of the run (a path relative to the run's root). ``line`` is None when
    no line is known (a file named on the command line that does not exist)."""

    file: str
    line: int | None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.file, *(str(n) for n in (self.line, self.col) if n)]
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a CI user should see: one SARIF result, one workflow command."""

    rule: Rule
    level: Level
    message: str
    place: Place
    #: What is at ``place`` ("statement DenyDelete (#2) of repository policy prod-repo").
    place_label: str | None
    fingerprint: str
    #: The spec case, when the finding is about a check and ``place`` is elsewhere.
    case_place: Place | None = None
    case_label: str | None = None
    #: The justification when an accepted known exception covers the finding.
    suppressed: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Findings from a results dict


def findings(results: Mapping[str, Any]) -> list[Finding]:
    """Every finding of a results dict, in a stable order: checks by id, then spec errors and
    warnings by place."""
    out: list[Finding] = []
    checks = [c for c in results.get("checks", []) if isinstance(c, Mapping)]
    for check in sorted(checks, key=lambda c: str(c.get("id"))):
        out.extend(_check_findings(check))
    errors = [e for e in results.get("errors", []) if isinstance(e, Mapping)]
    out.extend(sorted((_error_finding(e) for e in errors), key=_place_order))
    warnings = [w for w in results.get("warnings") or [] if isinstance(w, str | Mapping)]
    out.extend(sorted((_warning_finding(w) for w in warnings), key=_place_order))
    return out


def _place_order(f: Finding) -> tuple[str, int, int, str]:
    return (f.place.file, f.place.line or 0, f.place.col or 0, f.message)


def _check_findings(check: Mapping[str, Any]) -> list[Finding]:
    outcome = check.get("outcome")
    info = check.get("exception")
    exception = info if isinstance(info, Mapping) else None
    if outcome == "passed":
        if exception is not None and exception.get("status") == known.ExceptionStatus.UNNEEDED:
            return [_unneeded_finding(check, exception)]
        return []
    if outcome == "error":
        return [_check_error_finding(check)]
    if outcome not in ("failed", known.XFAIL):
        return []
    rule = _failure_rule(check)
    step = _deciding_step(check)
    explanation = step.get("explanation") if step else None
    statement = _decisive_statement(explanation) if isinstance(explanation, Mapping) else None
    case_place = _case_place(check)
    place, label = statement if statement else (case_place, _case_label(check))
    message = _failure_message(check, step)
    suppressed = None
    if exception is not None:
        if outcome == known.XFAIL:
            suppressed = known.note(exception)
        elif exception.get("status") == known.ExceptionStatus.EXPIRED:
            message = f"{known.note(exception)}. {message}"
    props: dict[str, Any] = {
        "checkId": check.get("id"),
        "expected": check.get("expected"),
        "decision": check.get("decision"),
    }
    if isinstance(check.get("witness"), Mapping):
        props["witness"] = check["witness"]
    return [
        Finding(
            rule,
            rule.info.level,
            message,
            place,
            label,
            _fingerprint(rule, _identity(check)),
            case_place=case_place if statement else None,
            case_label=_case_label(check) if statement else None,
            suppressed=suppressed,
            properties=props,
        )
    ]


def _failure_rule(check: Mapping[str, Any]) -> Rule:
    if "witness" in check:
        return Rule.UNIVERSAL_CHECK_BROKEN
    if check.get("decision") == "allow":
        return Rule.UNEXPECTED_ALLOW
    return Rule.UNEXPECTED_DENY


def _steps(check: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in check.get("steps") or [] if isinstance(s, Mapping)]


def _deciding_step(check: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The step that explains a failure: for an unexpected allow every step was allowed (the
    first one); otherwise the first step with the combined decision (an explicit deny wins
    over an implicit one), else the first step that was not allowed."""
    steps = _steps(check)
    if not steps:
        return None
    decision = check.get("decision")
    if decision == "allow":
        return steps[0]
    for step in steps:
        if step.get("decision") == decision:
            return step
    for step in steps:
        if step.get("decision") != "allow":
            return step
    return steps[0]


def _decisive_statement(explanation: Mapping[str, Any]) -> tuple[Place, str] | None:
    """The first decisive statement written in a file of the run (predefined and AWS managed
    policies have none), with its line from the explanation's ``policies``."""
    for decisive in explanation.get("decisive") or []:
        if not isinstance(decisive, Mapping) or not isinstance(decisive.get("file"), str):
            continue
        line, col = _statement_position(decisive, explanation)
        if line is None:
            continue
        return Place(decisive["file"], line, col), statement_label(decisive)
    return None


def _statement_position(
    decisive: Mapping[str, Any], explanation: Mapping[str, Any]
) -> tuple[int | None, int | None]:
    if isinstance(decisive.get("line"), int):
        return decisive["line"], _int(decisive.get("col"))
    for policy in explanation.get("policies") or []:
        if not isinstance(policy, Mapping):
            continue
        if policy.get("name") != decisive.get("policy") or policy.get("kind") != decisive.get(
            "kind"
        ):
            continue
        for stmt in policy.get("statements") or []:
            if isinstance(stmt, Mapping) and stmt.get("index") == decisive.get("index"):
                return _int(stmt.get("line")), _int(stmt.get("col"))
    return None, None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def statement_label(decisive: Mapping[str, Any]) -> str:
    """``Deny statement DenyDelete (#2) of repository policy prod-repo``."""
    sid = decisive.get("sid")
    index = decisive.get("index")
    which = f"{sid} (#{index})" if sid else f"#{index}"
    try:
        kind = PolicyKind(decisive.get("kind")).label
    except ValueError:
        kind = f"{decisive.get('kind')} policy"
    effect = f"{decisive['effect']} " if decisive.get("effect") else ""
    return f"{effect}statement {which} of {kind} {decisive.get('policy')}"


def _case_place(check: Mapping[str, Any]) -> Place:
    return Place(str(check.get("file")), _int(check.get("line")), _int(check.get("col")))


def _case_label(check: Mapping[str, Any]) -> str:
    return f"spec case {check.get('case')!r}"


def _who(check: Mapping[str, Any]) -> str:
    where = f" on {check['resource']}" if check.get("resource") else " (account-level)"
    return f"{check.get('principal')} {check.get('action')}{where}"


def _failure_message(check: Mapping[str, Any], step: Mapping[str, Any] | None) -> str:
    text = (
        f"{check.get('case')}: {_who(check)}: expected {check.get('expected')}, "
        f"got {check.get('decision')}"
    )
    if step is not None and len(_steps(check)) > 1:
        text += f" ({step.get('action')}: {step.get('decision')})"
    explanation = step.get("explanation") if step else None
    reason = explanation.get("reason") if isinstance(explanation, Mapping) else None
    if reason:
        text += f"; {reason}"
    witness = check.get("witness")
    if isinstance(witness, Mapping):
        name = f" ({witness['name']})" if witness.get("name") else ""
        text += f"; witness: {witness.get('principal')}{name}"
    return text


def _check_error_finding(check: Mapping[str, Any]) -> Finding:
    message = str(check.get("message") or "the check could not be evaluated")
    rule = Rule.UNSUPPORTED_CONSTRUCT if _UNSUPPORTED.search(message) else Rule.CHECK_ERROR
    place = _message_place(message) or _case_place(check)
    return Finding(
        rule,
        rule.info.level,
        f"{check.get('case')}: {_who(check)}: {message}",
        place,
        _case_label(check),
        _fingerprint(rule, _identity(check)),
        properties={"checkId": check.get("id"), "expected": check.get("expected")},
    )


def _message_place(message: str) -> Place | None:
    """The place a ``file:line:col: message`` error names, if it does."""
    m = _WARNING.match(message)
    if m is None:
        return None
    return Place(m["file"], int(m["line"]), int(m["col"]))


def _unneeded_finding(check: Mapping[str, Any], exception: Mapping[str, Any]) -> Finding:
    rule = Rule.EXCEPTION_UNNEEDED
    place = Place(
        str(exception.get("file") or check.get("file")),
        _int(exception.get("line")) or _int(check.get("line")),
        _int(exception.get("col")),
    )
    return Finding(
        rule,
        rule.info.level,
        f"{check.get('case')}: {_who(check)}: {known.note(exception)}",
        place,
        "the known exception",
        _fingerprint(rule, _identity(check)),
        case_place=_case_place(check),
        case_label=_case_label(check),
        properties={"checkId": check.get("id"), "expected": check.get("expected")},
    )


def _error_finding(error: Mapping[str, Any]) -> Finding:
    message = str(error.get("message"))
    rule = Rule.UNSUPPORTED_CONSTRUCT if _UNSUPPORTED.search(message) else Rule.SPEC_ERROR
    place = Place(str(error.get("file")), _int(error.get("line")), _int(error.get("col")))
    return Finding(
        rule,
        rule.info.level,
        message,
        place,
        None,
        _fingerprint(rule, [place.file, message]),
    )


def _warning_finding(warning: str | Mapping[str, Any]) -> Finding:
    """A warning entry (``file``, ``line``, ``col``, ``message``) or its text
    ``file:line:col: message``."""
    if isinstance(warning, Mapping):
        place = Place(
            str(warning.get("file") or ""), _int(warning.get("line")), _int(warning.get("col"))
        )
        message = str(warning.get("message"))
    elif m := _WARNING.match(warning):
        place, message = Place(m["file"], int(m["line"]), int(m["col"])), m["message"]
    else:
        place, message = Place("", None), warning
    rule = Rule.WARNING
    return Finding(
        rule, rule.info.level, message, place, None, _fingerprint(rule, [place.file, message])
    )


def _identity(check: Mapping[str, Any]) -> list[Any]:
    """What identifies a check whatever its line: never the line, the time or the decision."""
    return [
        check.get("file"),
        check.get("case"),
        check.get("principal"),
        check.get("resource"),
        check.get("action"),
        check.get("expected"),
    ]


def _fingerprint(rule: Rule, identity: Sequence[Any]) -> str:
    data = json.dumps([rule.value, *identity], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# The SARIF log


def to_sarif(results: Mapping[str, Any]) -> dict[str, Any]:
    """A SARIF 2.1.0 log (one run) of the findings of ``results`` (plain built-in types,
    deterministic: no time stamps, results in the order of :func:`findings`)."""
    rules = list(Rule)
    index = {rule: i for i, rule in enumerate(rules)}
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "rules": [_rule_descriptor(rule) for rule in rules],
                    }
                },
                "originalUriBaseIds": {
                    SRCROOT: {
                        "description": {
                            "text": "The root of the run (the pytest rootdir, or the working "
                            "directory of eval): the repository root when run from there."
                        }
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, index[f.rule]) for f in findings(results)],
            }
        ],
    }


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    info = rule.info
    properties: dict[str, Any] = {
        "tags": ["security", "aws", "iam", "ecr"] if info.severity else ["maintenance"],
        "precision": "very-high",
        "problem.severity": info.level.value,
    }
    if info.severity is not None:
        properties["security-severity"] = info.severity
    return {
        "id": rule.value,
        "name": info.name,
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.description},
        "help": {"text": info.description},
        "defaultConfiguration": {"level": info.level.value},
        "properties": properties,
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    location: dict[str, Any] = {"physicalLocation": _physical(finding.place)}
    if finding.place_label:
        location["message"] = {"text": finding.place_label}
    result: dict[str, Any] = {
        "ruleId": finding.rule.value,
        "ruleIndex": rule_index,
        "level": finding.level.value,
        "message": {"text": finding.message},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    if finding.case_place is not None:
        related: dict[str, Any] = {"id": 1, "physicalLocation": _physical(finding.case_place)}
        if finding.case_label:
            related["message"] = {"text": finding.case_label}
        result["relatedLocations"] = [related]
    if finding.suppressed is not None:
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": finding.suppressed}
        ]
    if finding.properties:
        result["properties"] = dict(finding.properties)
    return result


def _physical(place: Place) -> dict[str, Any]:
    artifact = artifact_location(place.file)
    region: dict[str, Any] = {"startLine": place.line or 1}
    if place.col:
        region["startColumn"] = place.col
    return {"artifactLocation": artifact, "region": region}


def artifact_location(path: str) -> dict[str, Any]:
    """A file of the run as a SARIF ``artifactLocation``: a relative path becomes a URI
    reference under ``%SRCROOT%`` (``/`` separators, other characters percent-encoded); an
    absolute path a ``file:`` URI."""
    text = path.replace("\\", "/") if path else "."
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    posix = PurePosixPath(text)
    return {"uri": quote(str(posix), safe="/"), "uriBaseId": SRCROOT}


def write_sarif(results: Mapping[str, Any], path: Path) -> None:
    """Write the SARIF log of ``results`` to ``path`` as ``results.write_text`` writes an
    output file (parent folders are created; a pipe or device is written to, not replaced)."""
    from runner.results import write_text

    text = json.dumps(to_sarif(results), ensure_ascii=False, indent=1)
    write_text(Path(path), text + "\n")


def counts(found: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each level (for a one-line summary)."""
    out = {level.value: 0 for level in Level}
    for f in found:
        out[f.level.value] += 1
    return out
