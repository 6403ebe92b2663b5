"""Findings of the audit of the condition language (runner/policy/): Condition blocks whose
answer differed from what the AWS pages say, each with the page it comes from.

The cases have the shape of tests/engine_cases/conditions-*.yaml (``condition``, then
``context`` + ``expect`` or ``problems``), and run the same way as test_conditions.py does.
They live here and not in a YAML file of tests/engine_cases/, because test_engine.py reads
every file there but the conditions-*/variables-* ones as decision or validation cases. The
policy-level cases of the audit are tests/engine_cases/audit-conditions-*.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.model import PolicyInvalid, PolicyKind, PolicyProblem, RequestContext
from runner.policy import compile_policy
from runner.policy.conditions import compile_conditions

BASE_PATH = ("Statement", 0, "Condition")

_NOT_A_NUMBER = "is not a number (such as 42 or -1.5)"
_NOT_A_DATE = (
    "is not a date (ISO 8601 such as 2024-05-01 or 2024-05-01T12:00:00Z, or epoch seconds)"
)
_NOT_CIDR = "is not an IP address or CIDR range (such as 203.0.113.0/24 or 2001:db8::/32)"
_NUMERIC_PAGE = (
    "IAM JSON policy elements: Condition operators (Numeric condition operators: comparing a "
    "key to an integer or decimal value)"
)
_DATE_PAGE = (
    "IAM JSON policy elements: Condition operators (Date condition operators: one of the W3C "
    "implementations of the ISO 8601 date formats or epoch (UNIX) time)"
)
_IP_PAGE = (
    "IAM JSON policy elements: Condition operators (IP address condition operators: The value "
    "must be in the standard CIDR format)"
)

CASES: list[dict[str, Any]] = [
    # --- Numbers: ASCII digits, the whole text ------------------------------------------------
    # ``\d`` took any script's digits (Arabic-Indic U+0661 U+0660 is "10" to int() and
    # Decimal()), and ``$`` matched before a trailing newline.
    {
        "name": "a number of Arabic-Indic digits is not a policy number",
        "source": _NUMERIC_PAGE,
        "condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "\u0661\u0660"}},
        "problems": [
            {
                "path": ["NumericLessThan", "aws:MultiFactorAuthAge"],
                "message": f"NumericLessThan value '\u0661\u0660' {_NOT_A_NUMBER}",
            }
        ],
    },
    {
        "name": "a number with a trailing newline is not a policy number",
        "source": _NUMERIC_PAGE,
        "condition": {"NumericEquals": {"s3:max-keys": "10\n"}},
        "problems": [
            {
                "path": ["NumericEquals", "s3:max-keys"],
                "message": f"NumericEquals value '10\\n' {_NOT_A_NUMBER}",
            }
        ],
    },
    {
        "name": "a request value of Arabic-Indic digits is not read as a number",
        "source": _NUMERIC_PAGE,
        "condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}},
        "context": {"aws:MultiFactorAuthAge": "\u0661\u0660"},
        "expect": False,
    },
    {
        "name": "a request number with a trailing newline is not read as a number",
        "source": _NUMERIC_PAGE,
        "condition": {"NumericEquals": {"s3:max-keys": "10"}},
        "context": {"s3:max-keys": "10\n"},
        "expect": False,
    },
    # --- Dates ----------------------------------------------------------------------------
    {
        "name": "epoch seconds of Arabic-Indic digits are not a policy date",
        "source": _DATE_PAGE,
        "condition": {"DateGreaterThan": {"aws:EpochTime": "\u0661\u0667\u0660\u0660"}},
        "problems": [
            {
                "path": ["DateGreaterThan", "aws:EpochTime"],
                "message": f"DateGreaterThan value '\u0661\u0667\u0660\u0660' {_NOT_A_DATE}",
            }
        ],
    },
    {
        "name": "a policy date with a trailing newline is not a date",
        "source": _DATE_PAGE,
        "condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01\n"}},
        "problems": [
            {
                "path": ["DateLessThan", "aws:CurrentTime"],
                "message": f"DateLessThan value '2030-01-01\\n' {_NOT_A_DATE}",
            }
        ],
    },
    {
        "name": "request epoch seconds of Arabic-Indic digits are not read as a date",
        "source": _DATE_PAGE,
        "condition": {"DateLessThan": {"aws:EpochTime": "2030-01-01T00:00:00Z"}},
        "context": {"aws:EpochTime": "\u0661\u0667\u0660\u0660"},
        "expect": False,
    },
    # A year alone is a W3C format ("Year: YYYY (eg 1997)") and all digits, so epoch time too:
    # the engine read "2030" as 2030 seconds after 1970, and DateLessThan 2030 was never true.
    {
        "name": "a year alone is refused as ambiguous",
        "source": _DATE_PAGE,
        "condition": {"DateLessThan": {"aws:CurrentTime": "2030"}},
        "problems": [
            {
                "path": ["DateLessThan", "aws:CurrentTime"],
                "message": "DateLessThan value '2030' is ambiguous: ISO 8601 reads it as the "
                "year 2030, epoch time as 2030 seconds after 1970-01-01T00:00:00Z; write "
                "2030-01-01T00:00:00Z for the year",
            }
        ],
    },
    {
        "name": "a year alone in a list is refused at its index",
        "source": _DATE_PAGE,
        "condition": {"DateGreaterThan": {"aws:CurrentTime": ["2024-01-01", "0999"]}},
        "problems": [
            {
                "path": ["DateGreaterThan", "aws:CurrentTime", 1],
                "message": "DateGreaterThan value '0999' is ambiguous: ISO 8601 reads it as the "
                "year 0999, epoch time as 999 seconds after 1970-01-01T00:00:00Z; write "
                "0999-01-01T00:00:00Z for the year",
            }
        ],
    },
    {
        "name": "epoch seconds of more than four digits are still epoch seconds",
        "source": _DATE_PAGE,
        "condition": {"DateLessThan": {"aws:CurrentTime": "20300"}},
        "context": {"aws:CurrentTime": "1970-01-01T05:38:19Z"},
        "expect": True,
    },
    # --- IP addresses: CIDR only ----------------------------------------------------------
    # ipaddress.ip_network reads a netmask, a host mask (0.255.255.255 as /8) and a scope.
    {
        "name": "a netmask is not CIDR",
        "source": _IP_PAGE,
        "condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/255.0.0.0"}},
        "problems": [
            {
                "path": ["IpAddress", "aws:SourceIp"],
                "message": f"IpAddress value '10.0.0.0/255.0.0.0' {_NOT_CIDR}",
            }
        ],
    },
    {
        "name": "a host mask is not CIDR",
        "source": _IP_PAGE,
        "condition": {
            "NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "10.0.0.0/0.255.255.255"]}
        },
        "problems": [
            {
                "path": ["NotIpAddress", "aws:SourceIp", 1],
                "message": f"NotIpAddress value '10.0.0.0/0.255.255.255' {_NOT_CIDR}",
            }
        ],
    },
    {
        "name": "an IPv6 address with a scope is not CIDR",
        "source": _IP_PAGE,
        "condition": {"IpAddress": {"aws:SourceIp": "fe80::1%eth0"}},
        "problems": [
            {
                "path": ["IpAddress", "aws:SourceIp"],
                "message": f"IpAddress value 'fe80::1%eth0' {_NOT_CIDR}",
            }
        ],
    },
    {
        "name": "IPv6 CIDR in upper case as the page writes it",
        "source": _IP_PAGE + " (2001:DB8:1234:5678::/64)",
        "condition": {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
        "context": {"aws:SourceIp": "2001:db8:1234:5678:abcd::1"},
        "expect": True,
    },
    # --- values that are no JSON ----------------------------------------------------------
    {
        "name": "NaN is not a condition value",
        "source": "Grammar of the IAM JSON policy language (a policy is JSON; RFC 8259 has no NaN)",
        "condition": {"StringEquals": {"aws:username": float("nan")}},
        "problems": [
            {
                "path": ["StringEquals", "aws:username"],
                "message": "a condition value must be a string, number or boolean, got nan "
                "(not a JSON number)",
            }
        ],
    },
    {
        "name": "Infinity is not a condition value",
        "source": "Grammar of the IAM JSON policy language (a policy is JSON; RFC 8259 has no "
        "Infinity)",
        "condition": {"NumericLessThan": {"s3:max-keys": [10, float("inf")]}},
        "problems": [
            {
                "path": ["NumericLessThan", "s3:max-keys", 1],
                "message": "a condition value must be a string, number or boolean, got inf "
                "(not a JSON number)",
            }
        ],
    },
    # --- pinned as right (passed as audited), with the AWS text that says so ---------------
    {
        "name": "StringNotLike matches a variable with no value",
        "source": "IAM policy elements: Variables and tags (Policy variables with no value: "
        "Inverted condition operators like StringNotEquals or StringNotLike do match against "
        "a null value)",
        "condition": {"StringNotLike": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}*"}},
        "context": {"aws:ResourceTag/team": "platform"},
        "expect": True,
    },
    {
        "name": "StringLike does not match a variable with no value",
        "source": "IAM policy elements: Variables and tags (Policy variables with no value: "
        "condition operators like StringEquals or StringLike do not match)",
        "condition": {"StringLike": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}*"}},
        "context": {"aws:ResourceTag/team": "platform"},
        "expect": False,
    },
    {
        "name": "ArnNotEquals and ArnNotLike behave identically",
        "source": "IAM JSON policy elements: Condition operators (ARN condition operators: The "
        "ArnNotEquals and ArnNotLike condition operators behave identically)",
        "condition": {
            "ArnNotEquals": {"aws:SourceArn": "arn:aws:codebuild:*:111122223333:project/*"}
        },
        "context": {"aws:SourceArn": "arn:aws:codebuild:us-east-1:111122223333:project/build"},
        "expect": False,
    },
    {
        "name": "ArnLike star matches one component where StringLike crosses colons",
        "source": "IAM JSON policy elements: Condition operators (ARN condition operators: "
        "the first asterisk matches only us-east-2)",
        "condition": {"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
        "context": {
            "aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:"
            "111122223333:finance/document.txt"
        },
        "expect": False,
    },
    {
        "name": "StringLike with the same pattern crosses the colons",
        "source": "IAM JSON policy elements: Condition operators (ARN condition operators: With "
        "a StringLike condition, the match succeeds)",
        "condition": {
            "StringLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}
        },
        "context": {
            "aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:"
            "111122223333:finance/document.txt"
        },
        "expect": True,
    },
    {
        "name": "a W3C date and time with minutes and an offset",
        "source": _DATE_PAGE + " (YYYY-MM-DDThh:mmTZD)",
        "condition": {"DateEquals": {"aws:CurrentTime": "1997-07-16T19:20+01:00"}},
        "context": {"aws:CurrentTime": "1997-07-16T18:20:00Z"},
        "expect": True,
    },
]


def _context(values: dict[str, Any]) -> RequestContext:
    return RequestContext({k: (list(v) if isinstance(v, list) else [v]) for k, v in values.items()})


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES])
def test_audit_case(case: dict[str, Any]) -> None:
    assert case["source"]
    compiled, problems = compile_conditions(case["condition"], version="2012-10-17", path=BASE_PATH)
    if "problems" in case:
        expected = [PolicyProblem((*BASE_PATH, *p["path"]), p["message"]) for p in case["problems"]]
        assert problems == expected
        return
    assert problems == []
    ctx = _context(case.get("context") or {})
    assert compiled.evaluate(ctx) is case["expect"]
    assert all(e["result"] for e in compiled.explain(ctx)) is case["expect"]


def test_case_names_are_unique() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_policy_json_with_a_non_json_number_is_refused(constant: str) -> None:
    """Python's json reads NaN and Infinity; JSON (RFC 8259) has neither, so AWS cannot read a
    policy holding one ("Grammar of the IAM JSON policy language")."""
    text = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ecr:*", '
        '"Resource": "*", "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": '
        f"{constant}}}}}}}"
    )
    with pytest.raises(PolicyInvalid) as info:
        compile_policy(text, PolicyKind.IDENTITY, name="p")
    assert [str(p) for p in info.value.problems] == [
        f"not valid JSON: {constant} is not a JSON value"
    ]


_UNDECIDED_SPEC = """\
policies:
  p:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: ecr:GetAuthorizationToken
          Resource: "*"
          Condition: {StringLike: {aws:PrincipalTag/team: "${aws:RequestTag/team}"}}
  q:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: ecr:GetAuthorizationToken
          Resource: "*"
          Condition: {StringEqualsIgnoreCase: {aws:PrincipalTag/team: "I"}}
principals:
  ci: {arn: "arn:aws:iam::111122223333:role/r", policies: [p], tags: {team: blue}}
  ops: {arn: "arn:aws:iam::111122223333:role/o", policies: [q], tags: {team: "\u0131"}}
  dev: {arn: "arn:aws:iam::111122223333:role/d", policies: [q], tags: {team: "i"}}
cases:
  - principal: ci
    action: ecr:GetAuthorizationToken
    context: {aws:RequestTag/team: "*"}
    expect: allow
  - principal: ci
    action: ecr:GetAuthorizationToken
    context: {aws:RequestTag/team: "blue"}
    expect: allow
  - principal: ops
    action: ecr:GetAuthorizationToken
    expect: deny
  - principal: dev
    action: ecr:GetAuthorizationToken
    expect: allow
"""


def test_a_check_whose_answer_aws_leaves_open_is_an_error_and_the_others_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A '*' that a policy variable brings into StringLike, and an IgnoreCase comparison of
    the dotless i with I: the engine answered them (as a literal '*'; as different letters),
    which AWS does not document. Those checks are errors; the file's other checks run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(_UNDECIDED_SPEC, encoding="utf-8")
    assert main(["eval", "spec.yaml", "--jobs", "1"]) == 2
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [(r["outcome"], r.get("decision")) for r in rows] == [
        ("error", None), ("passed", "allow"), ("error", None), ("passed", "allow"),
    ]  # fmt: skip
    assert captured.err.splitlines() == [
        "spec.yaml:23:5: cannot decide exactly: the policy variable ${aws:RequestTag/team} in "
        "'${aws:RequestTag/team}' is '*' for this request, and AWS does not document whether a "
        "'*' that comes from a variable's value is a wildcard (only that ${*} and ${?} are "
        "literal)",
        "spec.yaml:31:5: cannot decide exactly: an IgnoreCase comparison of '\u0131' with 'I': "
        "they are one text ignoring case by some rules of case folding and not by others "
        "(Unicode lower case, Unicode case folding, Java's equalsIgnoreCase), and AWS says only "
        '"ignoring case"',
    ]
    assert rows[0]["message"] == captured.err.splitlines()[0]


def _one_check(tmp_path: Path, text: str) -> Any:
    from runner.checks import evaluate_check
    from runner.spec import load_spec

    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    spec = load_spec(tmp_path / "spec.yaml", display_root=tmp_path)
    return [evaluate_check(c) for c in spec.checks]


_SETTLED = """\
policies:
  idp:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: App
          Effect: Allow
          Action: ecr:BatchGetImage
          Resource: arn:aws:ecr:us-east-1:111122223333:repository/app
        - Sid: Other
          Effect: Allow
          Action: ecr:BatchGetImage
          Resource: arn:aws:ecr:us-east-1:111122223333:repository/other
          Condition: {StringEqualsIgnoreCase: {aws:PrincipalTag/team: "I"}}
        - Sid: FalseFirst
          Effect: Allow
          Action: ecr:ListImages
          Resource: "*"
          Condition:
            StringEquals: {aws:PrincipalTag/env: prod}
            StringEqualsIgnoreCase: {aws:PrincipalTag/team: "I"}
        - Sid: FalseLast
          Effect: Allow
          Action: ecr:DescribeImages
          Resource: "*"
          Condition:
            StringEqualsIgnoreCase: {aws:PrincipalTag/team: "I"}
            StringEquals: {aws:PrincipalTag/env: prod}
        - Sid: NoDeletes
          Effect: Deny
          Action: ecr:DeleteRepository
          Resource: "*"
        - Sid: MaybeDeletes
          Effect: Allow
          Action: [ecr:DeleteRepository, ecr:PutImage]
          Resource: "*"
          Condition: {StringEqualsIgnoreCase: {aws:PrincipalTag/team: "I"}}
        - Sid: Like
          Effect: Allow
          Action: ecr:TagResource
          Resource: "*"
          Condition: {StringLike: {aws:RequestTag/owner: ["${aws:PrincipalTag/team}", "ci-*"]}}
principals:
  dev:
    arn: arn:aws:iam::111122223333:role/dev
    policies: [idp]
    tags: {team: "\\u0131", env: dev}
  star:
    arn: arn:aws:iam::111122223333:role/star
    policies: [idp]
    tags: {team: "*"}
resources:
  app: arn:aws:ecr:us-east-1:111122223333:repository/app
cases:
  - {principal: dev, resource: app, action: ecr:BatchGetImage, expect: allow}
  - {principal: dev, resource: app, action: ecr:ListImages, expect: implicit-deny}
  - {principal: dev, resource: app, action: ecr:DescribeImages, expect: implicit-deny}
  - {principal: dev, resource: app, action: ecr:DeleteRepository, expect: explicit-deny}
  - {principal: dev, resource: app, action: ecr:PutImage, expect: allow}
  - principal: star
    resource: app
    action: ecr:TagResource
    context: {aws:RequestTag/owner: ci-bot}
    expect: allow
  - principal: star
    resource: app
    action: ecr:TagResource
    context: {aws:RequestTag/owner: x}
    expect: deny
"""


def test_what_aws_leaves_open_counts_only_where_it_could_change_the_decision(
    tmp_path: Path,
) -> None:
    """A test that fails beside it (before or after it in the block), a value that matches
    beside it, an explicit deny elsewhere, a statement whose resource does not match: each
    settles the check; only where the open test decides is the check an error. The
    explanation of a settled check shows the open test as undecided instead of raising."""
    runs = _one_check(tmp_path, _SETTLED.replace("\\\\u0131", "\u0131"))
    assert [(r.decision, r.error is None) for r in runs] == [
        ("allow", True),
        ("implicit-deny", True),
        ("implicit-deny", True),
        ("explicit-deny", True),
        (None, False),
        ("allow", True),
        (None, False),
    ]
    assert runs[4].error.startswith("spec.yaml:59:5: cannot decide exactly: an IgnoreCase")
    assert "the policy variable ${aws:PrincipalTag/team}" in runs[6].error
    statements = runs[0].explanations()[0]["policies"][0]["statements"]
    other = next(s for s in statements if s["sid"] == "Other")
    assert other["matched"] is False
    (condition,) = other["conditions"]
    assert condition["result"] == "undecided"
    assert condition["undecided"].startswith("an IgnoreCase comparison of '\u0131' with 'I'")
    for run in runs[:4]:  # every explanation is built without raising
        run.to_result(explain=True)


@pytest.mark.parametrize(
    ("request_value", "policy_value", "expected"),
    [
        ("adm\u0130n", "admin", "undecided"),  # Java's simple lower case of U+0130 is i
        ("\u00e9t\u00e9", "\u00c9T\u00c9", True),
        ("ADMIN", "admin", True),
        ("admin", "admins", False),
    ],
)
def test_ignore_case_readings(request_value: str, policy_value: str, expected: object) -> None:
    compiled, problems = compile_conditions(
        {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": policy_value}},
        version="2012-10-17",
        path=BASE_PATH,
    )
    assert problems == []
    ctx = RequestContext({"aws:PrincipalTag/team": [request_value]})
    (entry,) = compiled.explain(ctx)
    assert entry["result"] == expected
