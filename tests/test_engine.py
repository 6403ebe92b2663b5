"""The evaluation engine: data-driven cases from tests/engine_cases/*.yaml (all but the
conditions-*/variables-* files, which test_conditions.py runs), plus the explanation's shape.

Each case file holds one topic (``topic:``, and ``source:`` naming the AWS pages its
expectations come from). Decision cases are written in the spec format users write
(``docs/spec-reference.md``): the file's ``specs:`` is a list of specs, each with its
``policies``, ``principals``, ``resources``, ``organization`` and ``cases``, and each spec is
loaded by ``runner.spec.load_spec`` from a file of its own, so the engine is tested on exactly
what a user's spec gives it. Every combination of a case (principal x resource x action) is
one test. A case may add what only an engine test asserts, which the harness takes out before
loading: ``gate`` (the deciding gate), ``decisive`` (the decisive statements as
``policy#index``), ``reason`` (a substring of the reason), ``context-includes`` (keys and
values of the request context), ``context-excludes`` (keys it lacks), ``now`` (the instant of
``aws:CurrentTime``, default 2026-11-30T04:10:00Z), ``source`` (the AWS page the
expectation comes from) and ``undecided`` (the exact message of the
:class:`~runner.errors.Undecided` the engine raises: the decision depends on what AWS does not
document; its ``expect`` is then not asserted); a case's ``name`` is unique in its file.

The policy grammar (``policy-grammar*.yaml``) and the catalog (``catalog.yaml``) are not
decisions, and a spec cannot say what they assert: that a policy document is refused with
exactly these problems at these paths (a spec with such a policy is a located load error, and
the spec format has no way to expect one), or that an action name or pattern resolves to
exactly these actions. Those files keep a list of ``engine_cases:`` with a ``name``
(and ``source``) each, of three kinds:

- a validation (``kind`` + ``document``): ``problems`` is the exact list of
  ``[path, message]``, empty for a valid document;
- a resolution (``resolve``): ``actions`` or ``error`` (exact text);
- a catalog fact (``account_level``: a list of actions) with ``expect: true | false``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner import catalog, engine, model
from runner import policy as validate
from runner.errors import Undecided
from runner.model import PolicyKind
from runner.spec import load_spec

CASES_DIR = Path(__file__).parent / "engine_cases"
CASE_FILES = sorted(
    f for f in CASES_DIR.glob("*.yaml") if not f.name.startswith(("conditions-", "variables-"))
)
DEFAULT_REPOSITORY = "arn:aws:ecr:us-east-1:111122223333:repository/prod/app"
NOW = dt.datetime(2026, 11, 30, 4, 10, tzinfo=dt.UTC)
#: What a decision case may say besides the spec format's own keys.
ENGINE_KEYS = frozenset(
    {
        "gate", "decisive", "reason", "context-includes", "context-excludes", "now", "source",
        "undecided",
    }
)  # fmt: skip
DATA_KEYS = {
    "name", "source", "kind", "document", "problems", "resolve", "actions", "error",
    "account_level", "expect",
}  # fmt: skip


def _load() -> list[Any]:
    params: list[Any] = []
    for file in CASE_FILES:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        assert isinstance(data, dict), file
        names: list[str] = []
        if "specs" in data:
            assert set(data) <= {"specs", "topic", "source"}, file
            for spec in data["specs"]:
                for case in spec["cases"]:
                    names.append(case["name"])
                    params.extend(_decision_params(file, spec, case))
        else:
            assert set(data) <= {"engine_cases", "topic", "source"}, file
            for case in data["engine_cases"]:
                assert set(case) <= DATA_KEYS, f"{file.name}: {case.get('name')}: {set(case)}"
                names.append(case["name"])
                params.append(pytest.param(case, None, id=f"{file.stem}: {case['name']}"))
        repeated = sorted({n for n in names if names.count(n) > 1})
        assert not repeated, f"{file.name}: repeated case names {repeated}"
    return params


def _decision_params(file: Path, spec: Mapping[str, Any], case: Mapping[str, Any]) -> list[Any]:
    """One test per action of the case: the spec with that case alone, for that action, and
    what the case asserts besides its expected decision."""
    expects = {k: v for k, v in case.items() if k in ENGINE_KEYS}
    own = {k: v for k, v in case.items() if k not in ENGINE_KEYS}
    actions = case["action"]
    return [
        pytest.param(
            {**spec, "cases": [{**own, "action": action}]},
            expects,
            id=f"{file.stem}: {case['name']}"
            + (f" [{action}]" if isinstance(actions, list) else ""),
        )
        for action in (actions if isinstance(actions, list) else [actions])
    ]


CASES = _load()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 230


# ---------------------------------------------------------------------------------------------
# The corpus


@pytest.mark.parametrize(("case", "expects"), CASES)
def test_engine_case(case: dict[str, Any], expects: dict[str, Any] | None, tmp_path: Path) -> None:
    if expects is not None:
        _check_decision(case, expects, tmp_path)
    elif "document" in case:
        _check_validation(case)
    elif "resolve" in case:
        _check_resolution(case)
    else:
        for action in case["account_level"]:
            assert catalog.is_account_level(action) is case["expect"], action


def _check_validation(case: Mapping[str, Any]) -> None:
    kind = PolicyKind(case["kind"])
    expected = [list(p) for p in case["problems"]]
    try:
        validate.compile_policy(case["document"], kind, name="doc")
    except model.PolicyInvalid as exc:
        got = [[model.format_path(p.path), p.message] for p in exc.problems]
        assert got == expected
    else:
        assert expected == [], "the document was accepted"


def _check_resolution(case: Mapping[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(catalog.UnknownAction) as info:
            catalog.resolve_action(case["resolve"])
        assert str(info.value) == case["error"]
    else:
        assert catalog.resolve_action(case["resolve"]) == case["actions"]


def load_check(spec: Mapping[str, Any], directory: Path) -> model.Check:
    """The one check of ``spec`` (one case, one action), loaded as a user's spec file is."""
    path = directory / "case.yaml"
    path.write_text(yaml.safe_dump(dict(spec), sort_keys=False), encoding="utf-8")
    (check,) = load_spec(path, display_root=directory).checks
    assert check.error is None, check.error
    return check


def _now(expects: Mapping[str, Any]) -> dt.datetime:
    raw = expects.get("now")
    return NOW if raw is None else engine.parse_instant(str(raw))


def _check_decision(spec: Mapping[str, Any], expects: Mapping[str, Any], directory: Path) -> None:
    check = load_check(spec, directory)
    (action,) = check.steps
    request = model.Request(
        check.principal, action, check.resource, check.context, check.organization
    )
    if "undecided" in expects:
        with pytest.raises(Undecided) as info:
            engine.evaluate(request, now=_now(expects))
        assert str(info.value) == expects["undecided"]
        return
    decision = engine.evaluate(request, now=_now(expects))
    explanation = decision.to_dict()
    assert decision.decision == check.expected, explanation["reason"]
    if "gate" in expects:
        assert decision.gate == expects["gate"], explanation["reason"]
    if "decisive" in expects:
        got = sorted(f"{d['policy']}#{d['index']}" for d in explanation["decisive"])
        assert got == sorted(expects["decisive"]), explanation["reason"]
    if "reason" in expects:
        assert expects["reason"] in decision.reason
    context = explanation["request"]["context"]
    for key, value in (expects.get("context-includes") or {}).items():
        assert context.get(key) == (value if isinstance(value, list) else [value]), key
    for key in expects.get("context-excludes") or ():
        assert key not in context, key
    _assert_words_for_people(explanation)


#: Python's spelling of a missing value or of a list, which no sentence for people shows.
PYTHON_SPELLING = re.compile(r"\bNone\b|[\[(]['\"]")


def _assert_words_for_people(explanation: Mapping[str, Any]) -> None:
    """The reason and every note speak of values as a person would (values themselves, such
    as a condition's ``actual``, are data: null and JSON lists)."""
    texts = [explanation["reason"], *(g["note"] for g in explanation["gates"])]
    for policy in explanation["policies"]:
        texts.extend(s["note"] for s in policy["statements"])
        texts.append(policy.get("skipped", ""))
    for text in texts:
        assert not PYTHON_SPELLING.search(text), text


# ---------------------------------------------------------------------------------------------
# The explanation


def _cross_account_request(with_identity: bool) -> model.Request:
    repo_policy = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowPull",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                },
                {
                    "Sid": "DenyDelete",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "ecr:DeleteRepository",
                },
            ],
        },
        PolicyKind.RESOURCE,
        name="prod-repo",
        file="policies/prod-repo.json",
        line=1,
        statement_lines=[4, 12],
    )
    identity = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}],
        },
        PolicyKind.IDENTITY,
        name="ci-identity",
    )
    principal = model.principal_from_arn(
        "ci",
        "arn:aws:iam::444455556666:role/ci",
        session="build-7",
        policies=[identity] if with_identity else [],
    )
    resource = model.repository("prod", DEFAULT_REPOSITORY, policy=repo_policy)
    return model.Request(principal, "ecr:BatchGetImage", resource, {"aws:SourceIp": ["1.2.3.4"]})


def test_explanation_shape_of_a_cross_account_allow() -> None:
    out = engine.evaluate(_cross_account_request(True), now=NOW).to_dict()
    assert out["decision"] == "allow"
    assert out["gate"] == "resource"
    assert out["reason"] == (
        "allowed across accounts by statement AllowPull of repository policy prod-repo and "
        "statement #0 of identity policy ci-identity"
    )
    assert out["request"]["principal"] == "arn:aws:sts::444455556666:assumed-role/ci/build-7"
    assert out["request"]["principal_type"] == "AssumedRole"
    assert out["request"]["context"]["aws:PrincipalArn"] == ["arn:aws:iam::444455556666:role/ci"]
    assert out["request"]["context"]["aws:SourceIp"] == ["1.2.3.4"]
    assert out["request"]["context"]["aws:CurrentTime"] == ["2026-11-30T04:10:00Z"]
    assert [g["gate"] for g in out["gates"]] == [
        "scp", "rcp", "resource", "identity", "boundary", "session",
    ]  # fmt: skip
    repo = out["policies"][0]
    assert repo["name"] == "prod-repo"
    assert repo["file"] == "policies/prod-repo.json"
    assert repo["unmatched_by_action"] == 1
    assert repo["statements"] == [
        {
            "index": 0,
            "sid": "AllowPull",
            "effect": "Allow",
            "line": 4,
            "matched": True,
            "note": "action and principal match (the account of "
            "arn:aws:sts::444455556666:assumed-role/ci/build-7 is named by Principal "
            "[arn:aws:iam::444455556666:root])",
        }
    ]
    assert out["decisive"] == [
        {
            "policy": "ci-identity",
            "kind": "identity",
            "file": None,
            "index": 0,
            "sid": None,
            "effect": "Allow",
        },
        {
            "policy": "prod-repo",
            "kind": "resource",
            "file": "policies/prod-repo.json",
            "index": 0,
            "sid": "AllowPull",
            "effect": "Allow",
        },
    ]


def test_explanation_of_an_implicit_deny_has_no_decisive_statements() -> None:
    decision = engine.evaluate(_cross_account_request(False), now=NOW)
    out = decision.to_dict()
    assert out["decision"] == "implicit-deny"
    assert out["gate"] == "identity"
    assert out["decisive"] == []
    assert out["reason"] == (
        "arn:aws:sts::444455556666:assumed-role/ci/build-7 has no identity policies for "
        "ecr:BatchGetImage (cross-account access needs the identity side too)"
    )


def test_condition_details_in_the_explanation() -> None:
    policy = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyOutsideOrg",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "ecr:*",
                    "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
                }
            ],
        },
        PolicyKind.RESOURCE,
        name="prod-repo",
    )
    resource = model.repository("prod", DEFAULT_REPOSITORY, policy=policy)
    principal = model.principal_from_arn("u", "arn:aws:iam::444455556666:user/u")
    out = engine.evaluate(model.Request(principal, "ecr:PutImage", resource), now=NOW).to_dict()
    assert out["decision"] == "explicit-deny"
    assert (
        out["reason"]
        == "explicitly denied by statement DenyOutsideOrg of repository policy prod-repo"
    )
    stmt = out["policies"][0]["statements"][0]
    assert stmt["matched"] is True
    assert stmt["conditions"] == [
        {
            "operator": "StringNotEquals",
            "key": "aws:PrincipalOrgID",
            "expected": ["o-a1b2c3d4e5"],
            "actual": None,
            "result": True,
        }
    ]


def test_explanation_is_plain_json_and_cached() -> None:
    decision = engine.evaluate(_cross_account_request(True), now=NOW)
    first = decision.to_dict()
    assert decision.to_dict() is first
    assert json.loads(json.dumps(first)) == first


def test_account_level_action_skips_the_repository_policy_in_the_explanation() -> None:
    request = _cross_account_request(True)
    request = model.Request(request.principal, "ecr:GetAuthorizationToken", request.resource)
    out = engine.evaluate(request, now=NOW).to_dict()
    assert out["decision"] == "allow"
    assert out["request"]["resource"] == "*"
    skipped = [p for p in out["policies"] if p.get("skipped")]
    assert [p["name"] for p in skipped] == ["prod-repo"]
    assert skipped[0]["skipped"] == (
        "ecr:GetAuthorizationToken is account-level: repository policies do not apply"
    )


def test_creating_a_repository_skips_its_policy_in_the_explanation() -> None:
    request = _cross_account_request(True)
    request = model.Request(request.principal, "ecr:CreateRepository", request.resource)
    out = engine.evaluate(request, now=NOW).to_dict()
    assert out["decision"] == "implicit-deny"
    assert out["request"]["resource"] == request.resource.arn  # type: ignore[union-attr]
    skipped = [p for p in out["policies"] if p.get("skipped")]
    assert [p["name"] for p in skipped] == ["prod-repo"]
    assert skipped[0]["skipped"] == (
        "ecr:CreateRepository creates the repository: its repository policy does not exist yet"
    )


def test_clock_is_injectable() -> None:
    request = _cross_account_request(True)
    engine.set_clock(lambda: dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    try:
        ctx = engine.build_context(request)
    finally:
        engine.set_clock(None)
    assert ctx["aws:CurrentTime"] == ("2030-01-02T03:04:05Z",)
    assert ctx["aws:EpochTime"] == ("1893553445",)


def test_request_context_wins_key_by_key_ignoring_case() -> None:
    request = _cross_account_request(True)
    request = model.Request(
        request.principal,
        request.action,
        request.resource,
        {"AWS:SecureTransport": ["false"], "aws:principalarn": ["x"]},
    )
    ctx = engine.build_context(request, now=NOW)
    assert ctx["aws:SecureTransport"] == ("false",)
    assert ctx["aws:PrincipalArn"] == ("x",)
    assert ctx["aws:PrincipalAccount"] == ("444455556666",)


def test_requests_that_cannot_exist_are_refused() -> None:
    principal = model.principal_from_arn("u", "arn:aws:iam::111122223333:user/u")
    with pytest.raises(ValueError, match="needs a resource"):
        engine.evaluate(model.Request(principal, "ecr:PutImage"))
    with pytest.raises(ValueError, match="not an Amazon ECR action"):
        engine.evaluate(model.Request(principal, "s3:GetObject"))


def test_statement_notes_say_what_did_not_match() -> None:
    identity = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DevOnly",
                    "Effect": "Allow",
                    "Action": "ecr:PutImage",
                    "Resource": "arn:aws:ecr:us-east-1:111122223333:repository/dev/*",
                },
                {
                    "Sid": "Tagged",
                    "Effect": "Allow",
                    "Action": "ecr:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
                },
            ],
        },
        PolicyKind.IDENTITY,
        name="ci",
    )
    principal = model.principal_from_arn(
        "ci", "arn:aws:iam::111122223333:role/ci", policies=[identity], tags={"team": "apps"}
    )
    resource = model.repository("prod", DEFAULT_REPOSITORY)
    out = engine.evaluate(model.Request(principal, "ecr:PutImage", resource), now=NOW).to_dict()
    assert out["decision"] == "implicit-deny"
    notes = [s["note"] for s in out["policies"][0]["statements"]]
    assert notes == [
        "resource does not match (arn:aws:ecr:us-east-1:111122223333:repository/prod/app is not "
        "in Resource [arn:aws:ecr:us-east-1:111122223333:repository/dev/*])",
        "conditions are not met (arn:aws:ecr:us-east-1:111122223333:repository/prod/app matches "
        "Resource [*]; condition not met: StringEquals aws:PrincipalTag/team)",
    ]
    assert out["policies"][0]["statements"][1]["conditions"][0]["actual"] == ["apps"]


def test_shared_contexts_follow_the_request_context_by_value() -> None:
    # Contexts (and the condition results remembered for them) are shared between requests;
    # a caller that reuses one mapping with other contents must still get fresh answers.
    policy = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "ecr:*",
                    "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
                }
            ],
        },
        PolicyKind.IDENTITY,
        name="office",
    )
    ci = model.principal_from_arn("ci", "arn:aws:iam::111122223333:role/ci", policies=[policy])
    repo = model.repository("app", "arn:aws:ecr:us-east-1:111122223333:repository/app")
    context: dict[str, list[str]] = {"aws:SourceIp": ["203.0.113.7"]}
    now = dt.datetime(2026, 11, 30, 4, 10, tzinfo=dt.UTC)

    def decide(action: str) -> str:
        request = model.Request(ci, action, repo, context=context)
        return engine.evaluate(request, now=now).decision

    assert [decide(a) for a in catalog.OPERATIONS["push"]] == ["allow"] * 7
    context["aws:SourceIp"] = ["198.51.100.1"]
    assert [decide(a) for a in catalog.OPERATIONS["push"]] == ["implicit-deny"] * 7
    context["aws:SourceIp"] = ["203.0.113.200"]
    assert decide("ecr:PutImage") == "allow"


def test_principals_sharing_policies_each_get_their_own_answer() -> None:
    # Whether a statement applies is remembered per principal, repository and context, and a
    # policy's applicable statements per tuple of statements about the action: requests of
    # different principals, interleaved, must not see each other's.
    identity = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Platform",
                    "Effect": "Allow",
                    "Action": "ecr:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
                }
            ],
        },
        PolicyKind.IDENTITY,
        name="team",
    )
    repo_policy = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Partner",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::444455556666:role/partner"},
                    "Action": "ecr:*",
                }
            ],
        },
        PolicyKind.RESOURCE,
        name="repo",
    )
    repo = model.repository(
        "app", "arn:aws:ecr:us-east-1:111122223333:repository/app", policy=repo_policy
    )
    platform = model.principal_from_arn(
        "platform",
        "arn:aws:iam::111122223333:role/platform",
        policies=[identity],
        tags={"team": "platform"},
    )
    apps = model.principal_from_arn(
        "apps", "arn:aws:iam::111122223333:role/apps", policies=[identity], tags={"team": "apps"}
    )
    partner = model.principal_from_arn(
        "partner",
        "arn:aws:iam::444455556666:role/partner",
        policies=[identity],
        tags={"team": "platform"},
    )
    stranger = model.principal_from_arn(
        "stranger",
        "arn:aws:iam::444455556666:role/stranger",
        policies=[identity],
        tags={"team": "platform"},
    )
    callers = [platform, apps, partner, stranger]
    expected = ["allow", "implicit-deny", "allow", "implicit-deny"]
    for action in ("ecr:BatchGetImage", "ecr:PutImage", "ecr:BatchGetImage"):
        got = [engine.evaluate(model.Request(c, action, repo), now=NOW).decision for c in callers]
        assert got == expected, action
        got = [
            engine.evaluate(model.Request(c, action, repo), now=NOW).decision
            for c in reversed(callers)
        ]
        assert got == expected[::-1], action


def test_one_request_at_two_instants_is_decided_at_each() -> None:
    # The shared context of a request is also the instant's: the same request decided at
    # another instant right after (the last shared context is tried first) sees that instant.
    policy = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "ecr:*",
                    "Resource": "*",
                    "Condition": {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
                }
            ],
        },
        PolicyKind.IDENTITY,
        name="until-2027",
    )
    ci = model.principal_from_arn("ci", "arn:aws:iam::111122223333:role/ci", policies=[policy])
    repo = model.repository("app", "arn:aws:ecr:us-east-1:111122223333:repository/app")
    request = model.Request(ci, "ecr:BatchGetImage", repo)
    before = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    after = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    decisions = [engine.evaluate(request, now=when).decision for when in (before, after, before)]
    assert decisions == ["allow", "implicit-deny", "allow"]
    assert engine.build_context(request, now=after)["aws:CurrentTime"] == ("2027-01-01T00:00:00Z",)


def test_creating_a_repository_does_not_share_the_existing_repository_context() -> None:
    # ecr:CreateRepository sees the repository as created (no tags); the requests before and
    # after it on the existing repository see its tags.
    policy = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "ecr:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:ResourceTag/env": "dev"}},
                }
            ],
        },
        PolicyKind.IDENTITY,
        name="dev-only",
    )
    ci = model.principal_from_arn("ci", "arn:aws:iam::111122223333:role/ci", policies=[policy])
    repo = model.repository(
        "app", "arn:aws:ecr:us-east-1:111122223333:repository/app", tags={"env": "dev"}
    )
    actions = ["ecr:PutImage", "ecr:CreateRepository", "ecr:PutImage", "ecr:CreateRepository"]
    decisions = [engine.evaluate(model.Request(ci, a, repo), now=NOW) for a in actions]
    assert [d.decision for d in decisions] == ["allow", "implicit-deny"] * 2
    created = decisions[1].to_dict()["request"]["context"]
    assert "aws:ResourceTag/env" not in created
    assert decisions[2].to_dict()["request"]["context"]["aws:ResourceTag/env"] == ["dev"]


def test_an_organization_without_scps_restricts_nothing() -> None:
    # A spec's organization always has an SCP (FullAWSAccess unless it lists others); an
    # Organization built through the API may have none, and then SCPs restrict nothing.
    org = model.Organization(id="o-a1b2c3d4e5", accounts=frozenset({"111122223333"}))
    identity = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}],
        },
        PolicyKind.IDENTITY,
        name="ci",
    )
    ci = model.principal_from_arn("ci", "arn:aws:iam::111122223333:role/ci", policies=[identity])
    repo = model.repository("prod", DEFAULT_REPOSITORY)
    out = engine.evaluate(model.Request(ci, "ecr:PutImage", repo, organization=org), now=NOW)
    assert out.decision == "allow"
    assert out.to_dict()["gates"][0] == {
        "gate": "scp",
        "result": "not-applicable",
        "note": "no SCPs attached",
    }


# ---------------------------------------------------------------------------------------------
# Reasons that name every gate that refuses


def _doc(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"document": {"Version": "2012-10-17", "Statement": list(statements)}}


ALL_ECR = _doc({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"})
PULL_ONLY = _doc({"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"})
OTHER_ROLE = _doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444455556666:role/other"},
        "Action": "ecr:*",
    }
)
PROD = "arn:aws:ecr:us-east-1:111122223333:repository/prod/app"


def _refusal_spec(
    caller: Mapping[str, Any],
    policies: Mapping[str, Any],
    *,
    repository_policy: Mapping[str, Any] | None = None,
    organization: Mapping[str, Any] | None = None,
    action: str = "ecr:PutImage",
) -> dict[str, Any]:
    resource: dict[str, Any] = {"arn": PROD}
    all_policies = dict(policies)
    if repository_policy is not None:
        all_policies["repo"] = repository_policy
        resource["policy"] = "repo"
    spec: dict[str, Any] = {
        "policies": all_policies,
        "principals": {"ci": dict(caller)},
        "resources": {"prod": resource},
        "cases": [{"principal": "ci", "resource": "prod", "action": action, "expect": "deny"}],
    }
    if organization is not None:
        spec["organization"] = dict(organization)
    return spec


OTHER_CI = "arn:aws:iam::444455556666:role/ci"
OWN_CI = "arn:aws:iam::111122223333:role/ci"
REFUSALS = [
    pytest.param(
        _refusal_spec({"arn": OTHER_CI}, {}, repository_policy=OTHER_ROLE),
        "identity",
        "arn:aws:sts::444455556666:assumed-role/ci/ci has no identity policies for ecr:PutImage, "
        f"and the repository policy of {PROD} does not allow the caller either (cross-account "
        "access needs both)",
        id="across accounts, neither side allows",
    ),
    pytest.param(
        _refusal_spec({"arn": OTHER_CI, "policies": ["pull"]}, {"pull": PULL_ONLY}),
        "identity",
        "arn:aws:sts::444455556666:assumed-role/ci/ci is allowed by no identity policy for "
        f"ecr:PutImage, and {PROD} has no repository policy (cross-account access needs both)",
        id="across accounts, no identity policy allows and no repository policy",
    ),
    pytest.param(
        _refusal_spec(
            {"arn": OTHER_CI, "policies": ["all"], "boundary": "pull"},
            {"all": ALL_ECR, "pull": PULL_ONLY},
            repository_policy=OTHER_ROLE,
        ),
        "boundary",
        "the permissions boundary pull does not allow ecr:PutImage, and the repository policy "
        f"of {PROD} does not allow the caller either (cross-account access needs both)",
        id="across accounts, the boundary and the repository policy",
    ),
    pytest.param(
        _refusal_spec(
            {"arn": OWN_CI, "policies": ["all"], "boundary": "pull", "session-policy": "pull"},
            {"all": ALL_ECR, "pull": PULL_ONLY},
        ),
        "boundary",
        "the permissions boundary pull does not allow ecr:PutImage, and the session policy pull "
        "does not allow ecr:PutImage",
        id="the boundary and the session policy",
    ),
    pytest.param(
        _refusal_spec(
            {"arn": OWN_CI, "policies": ["pull"], "boundary": "pull"},
            {"pull": PULL_ONLY},
            repository_policy=OTHER_ROLE,
        ),
        "identity",
        "arn:aws:sts::111122223333:assumed-role/ci/ci is allowed by no identity policy for "
        "ecr:PutImage, the permissions boundary pull does not allow ecr:PutImage, and the "
        "repository policy does not grant it to the caller",
        id="same account, identity policies, boundary and repository policy",
    ),
    pytest.param(
        _refusal_spec(
            {"arn": OWN_CI},
            {"pull": PULL_ONLY},
            organization={"id": "o-a1b2c3d4e5", "accounts": ["111122223333"], "scps": ["pull"]},
        ),
        "scp",
        "no SCP attached to account 111122223333 allows ecr:PutImage, and "
        "arn:aws:sts::111122223333:assumed-role/ci/ci has no identity policies for ecr:PutImage",
        id="SCPs and identity policies",
    ),
    pytest.param(
        _refusal_spec(
            {"arn": OWN_CI, "policies": ["pull"], "boundary": "pull"},
            {"pull": PULL_ONLY},
            action="ecr:GetAuthorizationToken",
        ),
        "identity",
        "arn:aws:sts::111122223333:assumed-role/ci/ci is allowed by no identity policy for "
        "ecr:GetAuthorizationToken, and the permissions boundary pull does not allow "
        "ecr:GetAuthorizationToken",
        id="account-level action, identity policies and boundary",
    ),
]


@pytest.mark.parametrize(("spec", "gate", "reason"), REFUSALS)
def test_an_implicit_deny_names_every_gate_that_refuses(
    spec: dict[str, Any], gate: str, reason: str, tmp_path: Path
) -> None:
    check = load_check(spec, tmp_path)
    request = model.Request(
        check.principal, check.steps[0], check.resource, check.context, check.organization
    )
    decision = engine.evaluate(request, now=NOW)
    assert (decision.decision, decision.gate, decision.reason) == ("implicit-deny", gate, reason)


def test_an_scp_denial_lists_every_gate() -> None:
    scp = validate.compile_policy(PULL_ONLY["document"], PolicyKind.SCP, name="pull")
    org = model.Organization(id="o-a1b2c3d4e5", accounts=frozenset({"111122223333"}), scps=(scp,))
    ci = model.principal_from_arn("ci", OWN_CI)
    request = model.Request(ci, "ecr:PutImage", model.repository("prod", PROD), organization=org)
    gates = engine.evaluate(request, now=NOW).to_dict()["gates"]
    assert [(g["gate"], g["result"]) for g in gates] == [
        ("scp", "implicit-deny"),
        ("rcp", "not-applicable"),
        ("resource", "implicit-deny"),
        ("identity", "implicit-deny"),
        ("boundary", "not-applicable"),
        ("session", "not-applicable"),
    ]
    assert gates[0]["note"] == "no SCP attached to account 111122223333 allows ecr:PutImage"
