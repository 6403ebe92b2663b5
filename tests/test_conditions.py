"""Condition operators: data-driven cases from tests/engine_cases/conditions-*.yaml and
variables-*.yaml, plus explain() output and the compiled form's behaviour across requests.

A case file is a mapping with ``engine_cases:`` (and optionally ``topic:`` and ``source:``).
Each case has ``name``, ``condition`` (the Condition block), and either ``context`` +
``expect`` (true/false: does the block hold?), ``context`` + ``undecided`` (the exact message
of the :class:`~runner.errors.Undecided` the evaluation raises: the answer depends on what AWS
does not document) or ``problems`` (the exact validation problems, each a ``path`` relative to
the Condition element and a ``message``). Optional: ``version``
(the policy's Version, default 2012-10-17) and ``source`` (the AWS page the expectation
comes from).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from runner.errors import Undecided
from runner.model import PolicyKind, PolicyProblem, RequestContext
from runner.policy import compile_policy
from runner.policy.conditions import compile_conditions

CASES_DIR = Path(__file__).parent / "engine_cases"
CASE_FILES = sorted([*CASES_DIR.glob("conditions-*.yaml"), *CASES_DIR.glob("variables-*.yaml")])
BASE_PATH = ("Statement", 0, "Condition")
CASE_KEYS = {
    "name", "condition", "context", "expect", "problems", "undecided", "version", "source"
}  # fmt: skip


def _context_value(value: Any) -> list[str]:
    """Context values as the spec format takes them: strings, numbers and booleans written the
    way AWS writes them, or lists of those."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, int | float | str):
            out.append(str(item))
        else:
            raise TypeError(f"bad context value {item!r}")
    return out


def _load_cases() -> list[Any]:
    params = []
    seen: set[str] = set()
    for file in CASE_FILES:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        assert isinstance(data, dict), f"{file.name}: must be a mapping"
        assert set(data) <= {"engine_cases", "topic", "source"}, f"{file.name}: {set(data)}"
        for case in data["engine_cases"]:
            unknown = set(case) - CASE_KEYS
            assert not unknown, f"{file.name}: {case.get('name')}: unknown keys {unknown}"
            outcomes = [k for k in ("expect", "problems", "undecided") if k in case]
            assert len(outcomes) == 1, f"{file.name}: {case['name']}"
            case_id = f"{file.stem}::{case['name']}"
            assert case_id not in seen, f"duplicate case {case_id}"
            seen.add(case_id)
            params.append(pytest.param(case, id=case_id))
    return params


CASES = _load_cases()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 100
    assert len(CASE_FILES) >= 9


@pytest.mark.parametrize("case", CASES)
def test_engine_case(case: dict[str, Any]) -> None:
    version = case.get("version", "2012-10-17")
    compiled, problems = compile_conditions(case["condition"], version=version, path=BASE_PATH)
    if "problems" in case:
        expected = [PolicyProblem((*BASE_PATH, *p["path"]), p["message"]) for p in case["problems"]]
        assert problems == expected
        return
    assert problems == []
    ctx = RequestContext({k: _context_value(v) for k, v in (case.get("context") or {}).items()})
    if "undecided" in case:
        with pytest.raises(Undecided) as info:
            compiled.evaluate(ctx)
        assert str(info.value) == case["undecided"]
        return
    assert compiled.evaluate(ctx) is case["expect"]
    # explain() must tell the same story as evaluate()
    explained = compiled.explain(ctx)
    assert all(e["result"] for e in explained) is case["expect"]


# --- explain() -----------------------------------------------------------------------------


def _compile(block: Mapping[str, Any], version: str = "2012-10-17") -> Any:
    compiled, problems = compile_conditions(block, version=version, path=BASE_PATH)
    assert problems == []
    return compiled


def test_explain_names_operator_key_values_and_result_in_document_order() -> None:
    compiled = _compile(
        {
            "StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"},
            "IpAddress": {"AWS:SourceIp": ["203.0.113.0/24", "10.0.0.0/8"]},
            "Null": {"aws:TokenIssueTime": True},
        }
    )
    ctx = RequestContext({"aws:PrincipalOrgID": ["o-zzz"], "aws:SourceIp": ["198.51.100.1"]})
    assert compiled.explain(ctx) == [
        {
            "operator": "StringNotEquals",
            "key": "aws:PrincipalOrgID",
            "expected": ["o-a1b2c3d4e5"],
            "actual": ["o-zzz"],
            "result": True,
        },
        {
            "operator": "IpAddress",
            "key": "AWS:SourceIp",
            "expected": ["203.0.113.0/24", "10.0.0.0/8"],
            "actual": ["198.51.100.1"],
            "result": False,
        },
        {
            "operator": "Null",
            "key": "aws:TokenIssueTime",
            "expected": ["true"],
            "actual": None,
            "result": True,
        },
    ]
    assert compiled.evaluate(ctx) is False


def test_explain_keeps_variables_as_written_and_shows_qualified_operator() -> None:
    compiled = _compile({"ForAllValues:StringLike": {"aws:TagKeys": ["${aws:username}-*", "team"]}})
    ctx = RequestContext({"aws:username": ["ana"], "aws:TagKeys": ["ana-x", "team"]})
    assert compiled.explain(ctx) == [
        {
            "operator": "ForAllValues:StringLike",
            "key": "aws:TagKeys",
            "expected": ["${aws:username}-*", "team"],
            "actual": ["ana-x", "team"],
            "result": True,
        }
    ]


def test_explain_is_plain_builtin_types() -> None:
    compiled = _compile({"DateLessThan": {"aws:CurrentTime": "2030-01-01"}})
    out = compiled.explain(RequestContext({"aws:CurrentTime": ["2029-12-31T23:59:59Z"]}))

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | bool | int)

    assert plain(out)


def test_empty_block_is_empty_and_holds() -> None:
    compiled = _compile({})
    assert compiled.empty is True
    assert compiled.evaluate(RequestContext()) is True
    assert compiled.explain(RequestContext()) == []
    assert _compile({"Bool": {"aws:SecureTransport": "true"}}).empty is False


# --- one compiled block, many requests ------------------------------------------------------


def test_compiled_block_with_variables_follows_each_request() -> None:
    compiled = _compile({"StringEquals": {"ecr:ResourceTag/owner": "${aws:username}"}})
    alice = RequestContext({"aws:username": ["alice"], "ecr:ResourceTag/owner": ["alice"]})
    bob = RequestContext({"aws:username": ["bob"], "ecr:ResourceTag/owner": ["alice"]})
    assert compiled.evaluate(alice) is True
    assert compiled.evaluate(bob) is False
    assert compiled.evaluate(alice) is True


def test_compiled_block_of_fixed_values_follows_each_request() -> None:
    # A block without variables remembers its results by the request's values of its keys:
    # each request still gets the answer its own values give, whichever came before.
    compiled = _compile(
        {
            "StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]},
            "Null": {"aws:PrincipalTag/team": "false"},
        }
    )

    def ctx(region: list[str] | None, team: list[str] | None) -> RequestContext:
        keys = {"aws:RequestedRegion": region, "aws:PrincipalTag/team": team}
        return RequestContext({k: v for k, v in keys.items() if v is not None})

    cases = [
        (ctx(["us-east-1"], ["a"]), True),
        (ctx(["us-east-1"], None), False),
        (ctx(["ap-south-1"], ["a"]), False),
        (ctx(["eu-west-1"], ["b"]), True),
        (ctx(None, ["a"]), False),
        (ctx(["ap-south-1", "eu-west-1"], ["a"]), True),
        (ctx(["us-east-1"], ["a"]), True),
        (ctx(["us-east-1"], None), False),
    ]
    assert [compiled.evaluate(c) for c, _ in cases * 2] == [held for _, held in cases] * 2


def test_unparseable_request_values_do_not_break_later_requests() -> None:
    compiled = _compile({"NumericLessThan": {"s3:max-keys": "10"}})
    assert compiled.evaluate(RequestContext({"s3:max-keys": ["ten"]})) is False
    assert compiled.evaluate(RequestContext({"s3:max-keys": ["9"]})) is True


def test_every_problem_is_reported_not_only_the_first() -> None:
    _, problems = compile_conditions(
        {
            "StringEqualz": {"aws:username": "a"},
            "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "bad", "10.0.0.0/40"]},
            "Bool": {"aws:SecureTransport": "yes"},
        },
        version="2012-10-17",
        path=("Statement", 3, "Condition"),
    )
    assert [str(p) for p in problems] == [
        "Statement[3].Condition.StringEqualz: unknown condition operator 'StringEqualz'; "
        "did you mean 'StringEquals'?",
        "Statement[3].Condition.IpAddress.aws:SourceIp[1]: IpAddress value 'bad' is not an IP "
        "address or CIDR range (such as 203.0.113.0/24 or 2001:db8::/32)",
        "Statement[3].Condition.IpAddress.aws:SourceIp[2]: IpAddress value '10.0.0.0/40' is "
        "not an IP address or CIDR range (such as 203.0.113.0/24 or 2001:db8::/32)",
        "Statement[3].Condition.Bool.aws:SecureTransport: Bool value 'yes' must be true or false",
    ]


def test_json_text_numbers_and_booleans_compare_as_aws_writes_them() -> None:
    compiled = _compile(
        {"NumericEquals": {"s3:max-keys": 15}, "Bool": {"aws:MultiFactorAuthPresent": True}}
    )
    ctx = RequestContext({"s3:max-keys": ["15.0"], "aws:MultiFactorAuthPresent": ["TRUE"]})
    assert compiled.evaluate(ctx) is True


@pytest.mark.parametrize("operator", ["StringEquals", "StringLike", "NumericEquals", "DateEquals"])
def test_a_json_number_with_a_fraction_or_exponent_is_refused(operator: str) -> None:
    """json.loads keeps no text of 1.10 (it is the float 1.1): a StringEquals against it
    compared 1.1, which is not what the policy says."""
    block = json.loads('{"' + operator + '": {"aws:PrincipalTag/v": [1.10, "x", 1e2]}}')
    _compiled, problems = compile_conditions(block, version="2012-10-17", path=BASE_PATH)
    message = (
        "a condition value written as a JSON number with a fraction or an exponent ({} as Python "
        "reads it): AWS does not document how it reads one, as its text (1.10 and 1.1 differ as "
        "strings) or as a binary floating point number (which keeps about 15 significant "
        'digits); write the value as a string, such as "1.5"'
    )
    where = (*BASE_PATH, operator, "aws:PrincipalTag/v")
    assert problems == [
        PolicyProblem((*where, 0), message.format("1.1")),
        PolicyProblem((*where, 2), message.format("100.0")),
    ]


# --- properties -----------------------------------------------------------------------------

_PAIRS = [
    ("StringEquals", "StringNotEquals"),
    ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    ("StringLike", "StringNotLike"),
    ("ArnLike", "ArnNotLike"),
    ("ArnEquals", "ArnNotEquals"),
]
_policy_text = st.text(alphabet="aB*?:", max_size=8)
_request_text = st.text(alphabet="abB:", max_size=8)


def _arnish(text: str) -> str:
    return "arn:p:s:r:a:" + text


@given(
    pair=st.sampled_from(_PAIRS),
    policy=st.lists(_policy_text, min_size=1, max_size=3),
    request=_request_text,
)
def test_negated_operator_is_the_opposite_for_one_present_value(
    pair: tuple[str, str], policy: list[str], request: str
) -> None:
    positive, negated = pair
    if positive.startswith("Arn"):
        policy = [_arnish(p) for p in policy]
        request = _arnish(request)
    ctx = RequestContext({"k:v": [request]})
    pos = _compile({positive: {"k:v": policy}}).evaluate(ctx)
    neg = _compile({negated: {"k:v": policy}}).evaluate(ctx)
    assert neg is (not pos)
    # IfExists changes nothing when the key is present
    assert _compile({positive + "IfExists": {"k:v": policy}}).evaluate(ctx) is pos


@given(
    policy=st.lists(_policy_text, min_size=1, max_size=3),
    request=st.lists(_request_text, min_size=1, max_size=4),
    op=st.sampled_from(["StringLike", "StringNotLike", "StringEquals", "StringNotEquals"]),
)
def test_qualifiers_test_each_request_value_on_its_own(
    policy: list[str], request: list[str], op: str
) -> None:
    def single(value: str) -> bool:
        return bool(_compile({op: {"k:v": policy}}).evaluate(RequestContext({"k:v": [value]})))

    ctx = RequestContext({"k:v": request})
    # only empty strings: "an empty data set (for example, an empty string)", for which
    # ForAllValues is true and ForAnyValue false ("Multivalued context keys")
    empty_set = not any(request)
    assert _compile({f"ForAllValues:{op}": {"k:v": policy}}).evaluate(ctx) is (
        empty_set or all(single(r) for r in request)
    )
    assert _compile({f"ForAnyValue:{op}": {"k:v": policy}}).evaluate(ctx) is (
        not empty_set and any(single(r) for r in request)
    )


@given(policy=st.text(alphabet="ab:/.", max_size=8), request=st.text(alphabet="ab:/.", max_size=8))
def test_like_without_wildcards_is_equals(policy: str, request: str) -> None:
    ctx = RequestContext({"k:v": [request]})
    like = _compile({"StringLike": {"k:v": policy}}).evaluate(ctx)
    assert like is _compile({"StringEquals": {"k:v": policy}}).evaluate(ctx)


# --- hostile patterns -----------------------------------------------------------------------


def test_a_hostile_string_like_in_a_policy_within_aws_limits_answers_at_once() -> None:
    """5,000 ``*a`` segments (an identity policy of 10,100 characters, under IAM's 10,240)
    against a megabyte of aws:UserAgent: a backtracking regex or a set-of-states automaton
    never finishes; the greedy matcher answers in milliseconds. StringNotLike sees the
    opposite."""
    pattern = "*a" * 5_000 + "*"
    document = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "ecr:*",
            "Resource": "*",
            "Condition": {"StringLike": {"aws:UserAgent": pattern}},
        },
    }
    policy = compile_policy(document, PolicyKind.IDENTITY, name="hostile")
    conditions = policy.statements[0].conditions
    assert conditions is not None
    assert conditions.evaluate(RequestContext({"aws:UserAgent": ["a" * 1_000_000]})) is True
    assert conditions.evaluate(RequestContext({"aws:UserAgent": ["ab" * 2_499]})) is False
    negated = _compile({"StringNotLike": {"aws:UserAgent": pattern + "b"}})
    assert negated.evaluate(RequestContext({"aws:UserAgent": ["a" * 1_000_000]})) is True
