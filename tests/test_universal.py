"""Universal checks (runner/engine/universal.py): hand-written cases for each kind of caller,
closed accounts, SCPs and RCPs, the unmodelled worst case, wildcards, IP ranges, dates, sets
of values, policy variables and the constructs that stop the reasoning. Every witness is
decided again as an ordinary check (``replay``) and must get the same decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from runner import catalog
from runner.engine.universal import (
    CallerClass,
    CallerKind,
    Membership,
    Question,
    Result,
    Undecidable,
    decide,
    replay,
    witness_dict,
)
from runner.model import (
    Expectation,
    Organization,
    PolicyKind,
    Principal,
    Resource,
    anonymous_principal,
    principal_from_arn,
    repository,
    service_principal,
)
from runner.policy import FULL_AWS_ACCESS, CompiledPolicy, compile_policy

PROD = "111122223333"
STAGING = "444455556666"
MGMT = "999999999999"
ORG_ID = "o-a1b2c3d4e5"
PULL = catalog.OPERATIONS["pull"]
PUSH = catalog.OPERATIONS["push"]


def policy(kind: PolicyKind, name: str, *statements: Mapping[str, Any]) -> CompiledPolicy:
    return compile_policy(
        {"Version": "2012-10-17", "Statement": list(statements)},
        kind,
        name=name,
        file=f"policies/{name}.json",
        statement_lines=[10 + 5 * i for i in range(len(statements))],
    )


ALL_ECR = policy(
    PolicyKind.IDENTITY, "all-ecr", {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
)
DENY_OUTSIDE_RCP = policy(
    PolicyKind.RCP,
    "perimeter",
    {
        "Sid": "OnlyOrg",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "ecr:*",
        "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG_ID}},
    },
)


def org(
    *, scps: Sequence[CompiledPolicy] = (FULL_AWS_ACCESS,), rcps: Sequence[CompiledPolicy] = ()
) -> Organization:
    return Organization(
        id=ORG_ID,
        management_account=MGMT,
        accounts=frozenset({PROD, STAGING}),
        scps=tuple(scps),
        rcps=tuple(rcps),
    )


def repo(*statements: Mapping[str, Any], name: str = "prod/app") -> Resource:
    pol = policy(PolicyKind.RESOURCE, "prod-repo", *statements) if statements else None
    return repository("prod", f"arn:aws:ecr:us-east-1:{PROD}:repository/{name}", policy=pol)


def ask(
    resource: Resource | None,
    action: str,
    expected: str,
    *,
    cls: CallerClass | None = None,
    defined: Mapping[str, Principal] | None = None,
    organization: Organization | None = None,
    closed: Sequence[str] = (),
    context: Mapping[str, Sequence[str]] | None = None,
) -> tuple[Question, Result]:
    steps = catalog.OPERATIONS.get(action, (action,))
    q = Question(
        cls or CallerClass(),
        dict(defined or {}),
        resource,
        action,
        tuple(steps),
        Expectation(expected),
        context=dict(context or {}),
        organization=organization,
        closed_accounts=frozenset(closed),
    )
    result = decide(q)
    if result.witness is not None:
        confirm(q, result)
    return q, result


def confirm(q: Question, result: Result) -> dict[str, Any]:
    """The witness, written as an ordinary check, gets the same decisions and breaks the
    expectation."""
    assert result.witness is not None
    found = witness_dict(q, result.witness)
    again = replay(q, found)
    assert [d.decision for d in again] == [d.decision for d in result.witness.decisions]
    verdicts = [d.decision for d in again]
    combined = (
        "explicit-deny"
        if "explicit-deny" in verdicts
        else "allow"
        if set(verdicts) == {"allow"}
        else "implicit-deny"
    )
    assert combined == result.decision
    assert not q.expected.met_by(combined)
    return found


ORG_PULL = {
    "Sid": "OrgPulls",
    "Effect": "Allow",
    "Principal": "*",
    "Action": list(PULL[1:]),
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}},
}


# --- kinds of caller ------------------------------------------------------------------------


def test_string_equals_if_exists_lets_an_outsider_in_with_the_key_absent() -> None:
    res = repo({**ORG_PULL, "Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": ORG_ID}}})
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("outsiders", organization=Membership.OUTSIDE),
        organization=org(),
    )
    assert not r.passed and r.witness is not None
    assert r.decision == "allow"
    assert r.witness.caller.name is None
    assert "outside the organization" in r.witness.summary
    assert "aws:PrincipalOrgID absent" in r.witness.summary
    assert "StringEqualsIfExists holds when aws:PrincipalOrgID is absent" in r.witness.summary
    assert "statement OrgPulls of repository policy prod-repo (policies/prod-repo.json:10)" in (
        r.witness.summary
    )
    found = witness_dict(q, r.witness)
    assert found["name"] is None and found["tags"] == {}
    assert "aws:PrincipalOrgID" not in found["context"]  # absent from the request


def test_org_condition_keeps_every_outsider_out() -> None:
    _q, r = ask(
        repo(ORG_PULL),
        "pull",
        "deny",
        cls=CallerClass("outsiders", organization=Membership.OUTSIDE),
        organization=org(),
    )
    assert r.passed and r.witness is None
    assert r.decision == "deny"
    assert any("anonymous" in c for c in r.considered)
    assert any("service" in c for c in r.considered)


def test_every_role_of_the_organization_can_pull() -> None:
    _q, r = ask(
        repo(ORG_PULL),
        "pull",
        "allow",
        cls=CallerClass(
            "org-roles", organization=Membership.INSIDE, kinds=frozenset({CallerKind.ROLE})
        ),
        organization=org(),
    )
    assert r.passed, r.witness and r.witness.summary
    assert r.decision == "allow"


def test_a_defined_role_with_a_narrow_boundary_breaks_every_role_can_pull() -> None:
    boundary = policy(
        PolicyKind.BOUNDARY,
        "no-ecr",
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
    )
    ci = principal_from_arn(
        "ci", f"arn:aws:iam::{STAGING}:role/ci", policies=[ALL_ECR], boundary=boundary
    )
    q, r = ask(
        repo(ORG_PULL),
        "pull",
        "allow",
        cls=CallerClass(
            "org-roles", organization=Membership.INSIDE, kinds=frozenset({CallerKind.ROLE})
        ),
        defined={"ci": ci},
        organization=org(),
    )
    assert not r.passed and r.witness is not None
    assert r.witness.caller.name == "ci"  # defined principals first
    assert r.decision == "implicit-deny"
    assert witness_dict(q, r.witness)["name"] == "ci"


def test_unmodelled_callers_of_the_repository_account_are_the_honest_worst_case() -> None:
    ci = principal_from_arn("ci", f"arn:aws:iam::{PROD}:role/ci", policies=[ALL_ECR])
    res = repo(
        {
            "Sid": "CiPushes",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{PROD}:role/ci"},
            "Action": "ecr:*",
        }
    )
    _, r = ask(
        res,
        "push",
        "deny",
        cls=CallerClass("all-but-ci", excluded=frozenset({"ci"})),
        defined={"ci": ci},
        organization=org(),
    )
    assert not r.passed and r.witness is not None
    assert r.witness.principal.account == PROD
    assert r.witness.caller.name is None
    assert "taken to allow every action, the worst case" in r.witness.summary
    # closing the account leaves its root user, which always exists and has every
    # permission in its own account
    q, r = ask(
        res,
        "push",
        "deny",
        cls=CallerClass("all-but-ci", excluded=frozenset({"ci"})),
        defined={"ci": ci},
        organization=org(),
        closed=[PROD],
    )
    assert not r.passed and r.witness is not None
    assert confirm(q, r)["principal"] == f"arn:aws:iam::{PROD}:root"
    assert "worst case" not in r.witness.summary
    # an SCP that denies member accounts' root users leaves only the callers the
    # repository policy does not name
    no_root = policy(
        PolicyKind.SCP,
        "no-root",
        {
            "Sid": "NoRoot",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}},
        },
    )
    _q, r = ask(
        res,
        "push",
        "deny",
        cls=CallerClass("all-but-ci", excluded=frozenset({"ci"})),
        defined={"ci": ci},
        organization=org(scps=[FULL_AWS_ACCESS, no_root]),
        closed=[PROD],
    )
    assert r.passed, r.witness and r.witness.summary


def test_a_closed_account_still_has_services_and_anonymous_callers() -> None:
    res = repo(
        {
            "Sid": "BuildPulls",
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": list(PULL[1:]),
        }
    )
    no_roots = CallerClass("no-roots", kinds=frozenset(CallerKind) - {CallerKind.ROOT})
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=no_roots,
        organization=org(),
        closed=[PROD, STAGING, MGMT],
    )
    assert not r.passed and r.witness is not None
    assert r.witness.caller.kind is CallerKind.SERVICE
    assert witness_dict(q, r.witness)["principal"] == "codebuild.amazonaws.com"
    # a defined service principal is that caller, evaluated as defined
    build = service_principal("build", "codebuild.amazonaws.com")
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=no_roots,
        defined={"build": build},
        organization=org(),
        closed=[PROD, STAGING, MGMT],
    )
    assert r.witness is not None and r.witness.caller.name == "build"


def test_public_repository_is_found_and_an_anonymous_witness_is_given() -> None:
    res = repo(
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}
    )
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("public", kinds=frozenset({CallerKind.ANONYMOUS})),
        organization=org(),
    )
    assert not r.passed and r.witness is not None
    assert witness_dict(q, r.witness)["principal"] == "anonymous"
    # a defined anonymous principal is the anonymous caller
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("public", kinds=frozenset({CallerKind.ANONYMOUS})),
        defined={"public": anonymous_principal("public")},
        organization=org(),
    )
    assert r.witness is not None and r.witness.caller.name == "public"


def test_a_defined_role_stands_for_its_other_sessions_without_the_session_policy() -> None:
    pull_only = policy(
        PolicyKind.SESSION, "pull-only", {"Effect": "Allow", "Action": list(PULL), "Resource": "*"}
    )
    oncall = principal_from_arn(
        "oncall",
        f"arn:aws:iam::{PROD}:role/oncall",
        session="incident-7",
        policies=[ALL_ECR],
        session_policy=pull_only,
    )
    q, r = ask(
        repo(),
        "push",
        "deny",
        cls=CallerClass(
            "prod-roles", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.ROLE})
        ),
        defined={"oncall": oncall},
        organization=org(),
        closed=[PROD],
    )
    assert not r.passed and r.witness is not None
    assert r.witness.caller.name == "oncall"
    assert "another session" in r.witness.summary
    found = witness_dict(q, r.witness)
    assert found["principal"] == f"arn:aws:sts::{PROD}:assumed-role/oncall/other-session"


def test_sessions_named_by_the_repository_policy_are_considered() -> None:
    res = repo(
        {
            "Sid": "OneSession",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:sts::{STAGING}:assumed-role/deployer/release"},
            "Action": "ecr:BatchGetImage",
        }
    )
    q, r = ask(res, "ecr:BatchGetImage", "deny", organization=org(), closed=[PROD])
    assert not r.passed and r.witness is not None
    assert witness_dict(q, r.witness)["principal"] == (
        f"arn:aws:sts::{STAGING}:assumed-role/deployer/release"
    )


def test_federated_and_root_callers_are_callers_too() -> None:
    res = repo(
        {
            "Sid": "Fed",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:sts::{STAGING}:federated-user/bob"},
            "Action": "ecr:BatchGetImage",
        }
    )
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass(
            "feds", accounts=frozenset({STAGING}), kinds=frozenset({CallerKind.FEDERATED})
        ),
        organization=org(),
    )
    assert r.witness is not None
    assert witness_dict(q, r.witness)["principal"] == f"arn:aws:sts::{STAGING}:federated-user/bob"
    res = repo(
        {
            "Sid": "Acct",
            "Effect": "Allow",
            "Principal": {"AWS": STAGING},
            "Action": "ecr:BatchGetImage",
        }
    )
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("roots", kinds=frozenset({CallerKind.ROOT})),
        organization=org(),
    )
    # the repository account's root user holds every permission of its account
    assert r.witness is not None
    assert witness_dict(q, r.witness)["principal"] == f"arn:aws:iam::{PROD}:root"
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("roots", kinds=frozenset({CallerKind.ROOT})),
        organization=org(),
        closed=[PROD],
    )
    # closing the account does not remove its root user
    assert r.witness is not None
    assert witness_dict(q, r.witness)["principal"] == f"arn:aws:iam::{PROD}:root"
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("roots", kinds=frozenset({CallerKind.ROOT}), accounts=frozenset({STAGING})),
        organization=org(),
        closed=[STAGING],
    )
    assert r.witness is not None
    assert witness_dict(q, r.witness)["principal"] == f"arn:aws:iam::{STAGING}:root"


# --- SCPs and RCPs --------------------------------------------------------------------------


def test_an_scp_keeps_member_accounts_out_but_not_service_linked_roles() -> None:
    scp = policy(
        PolicyKind.SCP,
        "only-ci-pushes",
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            "Sid": "NoPush",
            "Effect": "Deny",
            "Action": "ecr:PutImage",
            "Resource": "*",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{PROD}:role/ci"}},
        },
    )
    res = repo({"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": PROD}, "Action": "ecr:*"})
    ci = principal_from_arn("ci", f"arn:aws:iam::{PROD}:role/ci", policies=[ALL_ECR])
    _, r = ask(
        res,
        "ecr:PutImage",
        "deny",
        cls=CallerClass("prod-others", accounts=frozenset({PROD}), excluded=frozenset({"ci"})),
        defined={"ci": ci},
        organization=org(scps=[scp]),
    )
    # the honest witness: SCPs do not restrict service-linked roles
    assert not r.passed and r.witness is not None
    assert ":role/aws-service-role/" in str(r.witness.principal.arn)
    gates = r.witness.decisions[0].to_dict()["gates"]
    assert gates[0] == {
        "gate": "scp",
        "result": "not-applicable",
        "note": "service-linked roles are not restricted by SCPs",
    }
    # the IAM users of the account are denied by the SCP
    _q, r = ask(
        res,
        "ecr:PutImage",
        "deny",
        cls=CallerClass(
            "prod-users", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.USER})
        ),
        defined={"ci": ci},
        organization=org(scps=[scp]),
    )
    assert r.passed, r.witness and r.witness.summary


def test_an_rcp_closes_a_public_repository_to_outsiders_but_service_linked_roles() -> None:
    public = {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": list(PULL[1:])}
    outsiders = CallerClass("outsiders", organization=Membership.OUTSIDE)
    _, r = ask(
        repo(public), "pull", "deny", cls=outsiders, organization=org(rcps=[DENY_OUTSIDE_RCP])
    )
    # RCPs do not restrict service-linked roles, whose permissions the spec does not know
    assert not r.passed and r.witness is not None
    assert ":role/aws-service-role/" in str(r.witness.principal.arn)
    assert "a service-linked role" in r.witness.summary
    assert r.witness.decisions[1].to_dict()["gates"][1]["note"] == (
        "service-linked roles are not restricted by RCPs"
    )
    no_roles = CallerClass(
        "outsiders",
        organization=Membership.OUTSIDE,
        kinds=frozenset(set(CallerKind) - {CallerKind.ROLE}),
    )
    _, r = ask(
        repo(public), "pull", "deny", cls=no_roles, organization=org(rcps=[DENY_OUTSIDE_RCP])
    )
    assert r.passed, r.witness and r.witness.summary
    _, r = ask(
        repo(public),
        "ecr:BatchGetImage",
        "explicit-deny",
        cls=no_roles,
        organization=org(rcps=[DENY_OUTSIDE_RCP]),
    )
    assert r.passed
    _q, r = ask(repo(public), "ecr:BatchGetImage", "deny", cls=no_roles, organization=org())
    assert not r.passed and r.witness is not None
    assert r.witness.caller.kind is CallerKind.USER  # the first kind considered


# --- condition values -----------------------------------------------------------------------


def test_wildcards_give_the_shortest_text_of_the_cell_that_lets_in() -> None:
    res = repo(
        {
            "Sid": "Endpoint",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:BatchGetImage",
            "Condition": {
                "StringLike": {"aws:SourceVpce": "vpce-1*"},
                "StringNotLike": {"aws:SourceVpce": "vpce-12*"},
            },
        }
    )
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("public", kinds=frozenset({CallerKind.ANONYMOUS})),
        organization=org(),
    )
    assert r.witness is not None
    assert witness_dict(q, r.witness)["context"] == {"aws:SourceVpce": "vpce-1"}
    assert "aws:SourceVpce = vpce-1" in r.witness.summary


def test_arn_patterns_on_the_caller_are_matched_part_by_part() -> None:
    res = repo(
        {
            "Sid": "CiRoles",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:BatchGetImage",
            "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci-*"}},
        }
    )
    _q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("outsiders", organization=Membership.OUTSIDE),
        organization=org(),
    )
    assert r.witness is not None
    arn = str(r.witness.principal.arn)
    assert ":role/ci-" in arn and r.witness.principal.account not in (PROD, STAGING, MGMT)


def test_ip_ranges_are_cut_at_their_boundaries() -> None:
    res = repo(
        {
            "Sid": "Office",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:BatchGetImage",
            "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        },
        {
            "Sid": "NotTheLab",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "ecr:BatchGetImage",
            "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/25", "2001:db8::/32"]}},
        },
    )
    cls = CallerClass("public", kinds=frozenset({CallerKind.ANONYMOUS}))
    q, r = ask(res, "ecr:BatchGetImage", "deny", cls=cls, organization=org())
    assert r.witness is not None
    assert witness_dict(q, r.witness)["context"] == {"aws:SourceIp": "203.0.113.128"}
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=cls,
        organization=org(),
        context={"aws:SourceIp": ["198.51.100.7"]},
    )
    assert r.passed


def test_dates_are_cut_at_their_boundaries() -> None:
    res = repo(
        {
            "Sid": "Later",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:BatchGetImage",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
        }
    )
    cls = CallerClass("public", kinds=frozenset({CallerKind.ANONYMOUS}))
    q, r = ask(res, "ecr:BatchGetImage", "deny", cls=cls, organization=org())
    assert r.witness is not None
    assert witness_dict(q, r.witness)["context"] == {"aws:CurrentTime": "2030-01-01T00:00:01Z"}
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=cls,
        organization=org(),
        context={"aws:CurrentTime": ["2029-06-01T00:00:00Z"]},
    )
    assert r.passed


TAGGER = f"arn:aws:iam::{PROD}:user/tagger"


def _tagger(*statements: Mapping[str, Any]) -> dict[str, Principal]:
    return {
        "tagger": principal_from_arn(
            "tagger", TAGGER, policies=[policy(PolicyKind.IDENTITY, "tagging", *statements)]
        )
    }


def test_for_any_value_needs_a_set_with_both_values() -> None:
    defined = _tagger(
        {
            "Sid": "Both",
            "Effect": "Allow",
            "Action": "ecr:TagResource",
            "Resource": "*",
            "Condition": {
                "ForAnyValue:StringEquals": {"aws:TagKeys": "team"},
                "ForAnyValue:StringLike": {"aws:TagKeys": "env*"},
            },
        }
    )
    cls = CallerClass(
        "tagger-account", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.USER})
    )
    q, r = ask(
        repo(),
        "ecr:TagResource",
        "deny",
        cls=cls,
        defined=defined,
        organization=org(),
        closed=[PROD],
    )
    assert r.witness is not None
    assert witness_dict(q, r.witness)["context"] == {"aws:TagKeys": ["env", "team"]}


def test_for_all_values_holds_for_an_absent_key() -> None:
    defined = _tagger(
        {
            "Sid": "Known",
            "Effect": "Allow",
            "Action": "ecr:TagResource",
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
        }
    )
    cls = CallerClass(
        "tagger-account", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.USER})
    )
    q, r = ask(
        repo(),
        "ecr:TagResource",
        "deny",
        cls=cls,
        defined=defined,
        organization=org(),
        closed=[PROD],
    )
    assert r.witness is not None
    assert witness_dict(q, r.witness)["context"] == {}
    q, r = ask(
        repo(),
        "ecr:TagResource",
        "allow",
        cls=cls,
        defined=defined,
        organization=org(),
        closed=[PROD],
    )
    assert r.witness is not None  # a tag key outside the list
    keys = witness_dict(q, r.witness)["context"]["aws:TagKeys"]
    assert set(keys) - {"team", "env"}


def test_policy_variables_of_defined_principals_resolve() -> None:
    alice = principal_from_arn(
        "alice",
        f"arn:aws:iam::{PROD}:user/alice",
        policies=[
            policy(
                PolicyKind.IDENTITY,
                "own-repos",
                {
                    "Sid": "Own",
                    "Effect": "Allow",
                    "Action": "ecr:*",
                    "Resource": "arn:aws:ecr:*:*:repository/${aws:username}/*",
                },
            )
        ],
    )
    cls = CallerClass("prod-users", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.USER}))
    _, r = ask(
        repo(),
        "ecr:PutImage",
        "deny",
        cls=cls,
        defined={"alice": alice},
        organization=org(),
        closed=[PROD],
    )
    assert r.passed
    _q, r = ask(
        repo(name="alice/app"),
        "ecr:PutImage",
        "deny",
        cls=cls,
        defined={"alice": alice},
        organization=org(),
        closed=[PROD],
    )
    assert r.witness is not None and r.witness.caller.name == "alice"


# --- what stops the reasoning ---------------------------------------------------------------


def test_a_variable_over_a_key_that_ranges_is_refused() -> None:
    res = repo(
        {
            "Sid": "SameTeam",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:BatchGetImage",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
        }
    )
    with pytest.raises(Undecidable) as info:
        decide(
            Question(
                CallerClass(),
                {},
                res,
                "ecr:BatchGetImage",
                ("ecr:BatchGetImage",),
                Expectation.DENY,
                organization=org(),
            )
        )
    assert str(info.value) == (
        "the policy variable ${aws:PrincipalTag/team} in statement SameTeam of repository "
        "policy prod-repo (policies/prod-repo.json:10) reads a key that ranges over every "
        "value; the universal check cannot tie it to the text it is compared with (fix the "
        "key in the context)"
    )


def test_a_key_compared_as_a_number_and_as_text_is_refused() -> None:
    res = repo(
        {
            "Sid": "Mixed",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:BatchGetImage",
            "Condition": {
                "NumericLessThan": {"ecr:Weird": "5"},
                "StringLike": {"ecr:Weird": "1*"},
            },
        }
    )
    with pytest.raises(Undecidable, match=r"ecr:weird is compared as numeric and as text"):
        ask(res, "ecr:BatchGetImage", "deny", organization=org())


def test_a_class_without_callers_is_an_error_not_a_pass() -> None:
    with pytest.raises(Undecidable, match="has no caller"):
        ask(
            repo(),
            "ecr:BatchGetImage",
            "allow",
            cls=CallerClass(
                "nobody", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.USER})
            ),
            organization=org(),
            closed=[PROD],
        )


# --- soundness: what the audit found --------------------------------------------------------


def _everyone(**condition: Any) -> dict[str, Any]:
    return {
        "Sid": "Cond",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "ecr:BatchGetImage",
        "Condition": condition,
    }


def test_a_variable_over_a_fixed_key_in_a_principal_arn_test_names_a_caller() -> None:
    arn = f"arn:aws:iam::{STAGING}:role/${{aws:SourceVpc}}"
    q, r = ask(
        repo(_everyone(StringLike={"aws:PrincipalArn": arn})),
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("partner", accounts=frozenset({STAGING})),
        context={"aws:SourceVpc": ["vpc-1"]},
    )
    assert not r.passed and r.witness is not None
    assert confirm(q, r)["principal_arn"] == f"arn:aws:iam::{STAGING}:role/vpc-1"


def test_a_variable_over_the_resource_account_in_a_principal_arn_test() -> None:
    res = repo(
        {
            "Sid": "NotCi",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "ecr:PutImage",
            "Condition": {
                "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:ResourceAccount}:role/ci"}
            },
        }
    )
    q, r = ask(
        res,
        "ecr:PutImage",
        "deny",
        cls=CallerClass("roles", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.ROLE})),
    )
    assert not r.passed and r.witness is not None
    assert confirm(q, r)["principal_arn"] == f"arn:aws:iam::{PROD}:role/ci"


def test_a_variable_over_a_caller_key_in_a_principal_arn_test_is_refused() -> None:
    arn = f"arn:aws:iam::{STAGING}:role/${{aws:PrincipalTag/team}}"
    with pytest.raises(Undecidable) as info:
        ask(repo(_everyone(StringLike={"aws:PrincipalArn": arn})), "ecr:BatchGetImage", "deny")
    assert str(info.value) == (
        "the policy variable ${aws:PrincipalTag/team} in StringLike aws:PrincipalArn "
        "(statement Cond of repository policy prod-repo (policies/prod-repo.json:10)) reads a "
        "key that depends on the caller or ranges over every value; the universal check "
        "cannot enumerate the callers that test tells apart (fix the key in the context)"
    )


def test_a_service_principals_account_is_refused_unless_fixed() -> None:
    res = repo(_everyone(StringEquals={"aws:PrincipalAccount": STAGING}))
    services = CallerClass("services", kinds=frozenset({CallerKind.SERVICE}))
    with pytest.raises(Undecidable) as info:
        ask(res, "ecr:BatchGetImage", "deny", cls=services)
    assert "aws:PrincipalAccount is read by a policy of this check (statement Cond" in str(
        info.value
    )
    assert (
        "with a value the tool cannot know (not documented for service principals); give it "
        "in the context" in str(info.value)
    )
    _q, r = ask(
        res, "ecr:BatchGetImage", "deny", cls=services, context={"aws:PrincipalAccount": [STAGING]}
    )
    assert not r.passed and r.witness is not None and r.decision == "allow"


def test_a_caller_of_another_organization_carries_its_id() -> None:
    res = repo(_everyone(StringEquals={"aws:PrincipalOrgID": "o-partner0001"}))
    q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("outsiders", organization=Membership.OUTSIDE),
        organization=org(),
    )
    assert not r.passed and r.witness is not None
    assert confirm(q, r)["context"]["aws:PrincipalOrgID"] == "o-partner0001"


def test_an_outsider_never_carries_the_organizations_own_id() -> None:
    _q, r = ask(
        repo(_everyone(StringEquals={"aws:PrincipalOrgID": ORG_ID})),
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("outsiders", organization=Membership.OUTSIDE),
        organization=org(),
    )
    assert r.passed, r.witness and r.witness.summary


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"DateLessThan": {"aws:CurrentTime": "1969-12-31T00:00:00Z"}}, "implicit-deny"),
        ({"NumericGreaterThan": {"aws:EpochTime": "100000000000000000000"}}, "implicit-deny"),
        ({"DateGreaterThan": {"aws:CurrentTime": "1969-12-31T00:00:00Z"}}, None),
    ],
)
def test_time_boundaries_out_of_range_keep_every_instant(
    condition: dict[str, Any], expected: str | None
) -> None:
    _q, r = ask(
        repo(_everyone(**condition)),
        "ecr:BatchGetImage",
        "allow",
        cls=CallerClass("unsigned", kinds=frozenset({CallerKind.ANONYMOUS})),
    )
    if expected is None:
        assert r.passed, r.witness and r.witness.summary
    else:
        assert not r.passed and r.decision == expected
        assert r.evaluated > 0


def test_a_service_linked_role_witness_replays_from_the_contracts_fields() -> None:
    q, r = ask(
        repo(),
        "ecr:BatchGetImage",
        "explicit-deny",
        cls=CallerClass(
            "outside-roles", organization=Membership.OUTSIDE, kinds=frozenset({CallerKind.ROLE})
        ),
        organization=org(rcps=[DENY_OUTSIDE_RCP]),
    )
    assert not r.passed and r.witness is not None and r.decision == "implicit-deny"
    found = witness_dict(q, r.witness)
    assert found["principal"] == "arn:aws:iam::777777777777:role/aws-service-role/q"
    del found["principal_arn"]
    assert [d.decision for d in replay(q, found)] == ["implicit-deny"]


def test_a_closed_accounts_root_user_is_a_caller() -> None:
    q, r = ask(repo(), "push", "deny", closed=[PROD])
    assert not r.passed and r.witness is not None
    assert confirm(q, r)["principal"] == f"arn:aws:iam::{PROD}:root"


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        (
            {"NumericLessThan": {"aws:PrincipalAccount": "200000000000"}},
            "NumericLessThan aws:PrincipalAccount in statement Cond of repository policy "
            "prod-repo (policies/prod-repo.json:10) compares a caller's name or account as "
            "numeric",
        ),
        (
            {"Bool": {"aws:username": "true"}},
            "Bool aws:username in statement Cond of repository policy prod-repo "
            "(policies/prod-repo.json:10) compares a caller's name or account as bool; the "
            "names and accounts of unmodelled IAM users are enumerated only against text "
            "comparisons (String, Arn operators)",
        ),
    ],
)
def test_a_non_text_comparison_of_a_callers_name_is_refused(
    condition: dict[str, Any], words: str
) -> None:
    with pytest.raises(Undecidable) as info:
        ask(
            repo(_everyone(**condition)),
            "ecr:BatchGetImage",
            "deny",
            cls=CallerClass("outsiders", organization=Membership.OUTSIDE),
            organization=org(),
        )
    assert words in str(info.value)
    # a class without the callers that test would tell apart is decided
    _q, r = ask(
        repo(_everyone(**condition)),
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("unsigned", kinds=frozenset({CallerKind.ANONYMOUS})),
    )
    assert r.passed


def test_ignore_case_with_a_greek_sigma_is_refused() -> None:
    res = repo(
        _everyone(
            StringEqualsIgnoreCase={"aws:SourceVpce": "\u03b1\u03c2"},
            StringLike={"aws:SourceVpce": "*\u03a3"},
        )
    )
    with pytest.raises(Undecidable) as info:
        ask(
            res,
            "ecr:BatchGetImage",
            "deny",
            cls=CallerClass("u", kinds=frozenset({CallerKind.ANONYMOUS})),
        )
    assert str(info.value).startswith(
        "StringEqualsIgnoreCase aws:SourceVpce in statement Cond of repository policy prod-repo "
        "(policies/prod-repo.json:10); StringLike aws:SourceVpce in statement Cond"
    )
    assert "an IgnoreCase comparison with a Greek sigma" in str(info.value)


@pytest.mark.parametrize(
    ("value", "char", "other"),
    [
        ("vpce-staging", "\u0130", "I"),  # the dotted capital I: I to Java, not to lower()
        ("vpce-0a1b-east", "\u017f", "S"),  # the long s: s to case folding and Java
        ("vpce-pass", "\u00df", "SS"),  # the sharp s: ss to case folding, where "ss" is written
    ],
)
def test_ignore_case_over_letters_the_readings_disagree_on_is_refused(
    value: str, char: str, other: str
) -> None:
    """A caller's text may hold a letter that one reading of "ignoring case" takes for one
    of the policy's and another does not; an ordinary check with such a request is an error
    (runner.errors.Undecided), so the universal check cannot range over it either."""
    res = repo(_everyone(StringEqualsIgnoreCase={"aws:SourceVpce": value}))
    with pytest.raises(Undecidable) as info:
        ask(
            res,
            "ecr:BatchGetImage",
            "deny",
            cls=CallerClass("u", kinds=frozenset({CallerKind.ANONYMOUS})),
        )
    assert str(info.value).endswith(
        f"an IgnoreCase comparison of text that may hold {char!r} (U+{ord(char):04X}): the "
        'readings of "ignoring case" (Unicode lower case, Unicode case folding, Java\'s '
        f"equalsIgnoreCase) disagree on whether it is the same as {other!r}, AWS says only "
        '"ignoring case", and the check ranges over callers whose text may hold it'
    )


def test_ignore_case_over_letters_every_reading_agrees_on_is_decided() -> None:
    res = repo(_everyone(StringEqualsIgnoreCase={"aws:SourceVpce": "vpce-0a1b-prod-\u00e9t\u00e9"}))
    _q, r = ask(
        res,
        "ecr:BatchGetImage",
        "allow",
        cls=CallerClass("u", kinds=frozenset({CallerKind.ANONYMOUS})),
    )
    assert r.witness is not None  # a caller from another VPC endpoint is denied


def test_a_key_tested_as_a_set_and_as_one_value_is_refused() -> None:
    res = repo(
        {
            **_everyone(
                StringEquals={"aws:TagKeys": "a"},
                **{"ForAnyValue:StringLike": {"aws:TagKeys": "b*"}},
            ),
            "Action": "ecr:TagResource",
        }
    )
    with pytest.raises(Undecidable) as info:
        ask(
            res,
            "ecr:TagResource",
            "deny",
            cls=CallerClass("u", kinds=frozenset({CallerKind.ANONYMOUS})),
        )
    assert str(info.value) == (
        "aws:TagKeys is tested as a set of values (ForAllValues:/ForAnyValue:) and as one value "
        "(StringEquals in statement Cond of repository policy prod-repo "
        "(policies/prod-repo.json:10)); AWS does not say how a single-valued operator compares "
        "a key with several values, so the check cannot range over them (as an ordinary check "
        "refuses several values for it)"
    )


def test_a_key_tested_as_a_set_and_read_in_a_policy_variable_is_refused() -> None:
    """A key the check ranges over (here also as a set of values) is not read in a policy
    variable: the variable's value would be one of those the check ranges over."""
    res = repo(
        {
            **_everyone(
                **{
                    "ForAnyValue:StringLike": {"aws:SourceVpce": "vpce-*"},
                    "StringEquals": {"aws:SourceVpc": "${aws:SourceVpce}"},
                },
            ),
        }
    )
    with pytest.raises(Undecidable) as info:
        ask(
            res,
            "ecr:BatchGetImage",
            "deny",
            cls=CallerClass("u", kinds=frozenset({CallerKind.ANONYMOUS})),
        )
    assert str(info.value) == (
        "the policy variable ${aws:SourceVpce} in statement Cond of repository policy prod-repo "
        "(policies/prod-repo.json:10) reads a key that ranges over every value; the universal "
        "check cannot tie it to the text it is compared with (fix the key in the context)"
    )


def test_an_anonymous_class_with_an_account_says_anonymous_callers_have_none() -> None:
    with pytest.raises(Undecidable) as info:
        ask(
            repo(),
            "ecr:BatchGetImage",
            "deny",
            cls=CallerClass(
                "odd", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.ANONYMOUS})
            ),
        )
    assert str(info.value).endswith(
        "has no caller: service principals and anonymous callers have no account, and the "
        "class names accounts"
    )


def test_without_an_organization_no_caller_is_said_to_be_outside_it() -> None:
    _q, r = ask(
        repo(_everyone(StringEquals={"aws:SourceVpc": "vpc-1"})),
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("users", kinds=frozenset({CallerKind.USER})),
    )
    assert r.witness is not None
    assert "organization" not in r.witness.summary.replace("the spec has no organization", "")
    assert f"(account {PROD}, the spec has no organization)" in r.witness.summary


# --- keys AWS always sends --------------------------------------------------------------------

DENY_DIRECT_FROM_OUTSIDE = policy(
    PolicyKind.IDENTITY,
    "corp-network",
    {
        "Sid": "DenyOutsideCorpUnlessViaService",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]},
            "Bool": {"aws:ViaAWSService": "false"},
        },
    },
)


def test_aws_via_aws_service_is_true_or_false_for_iam_callers_never_absent() -> None:
    """A direct call carries aws:ViaAWSService false (the ordinary engine fills it in), a call
    a service makes with the caller's credentials true; it is never absent. So the only way
    past "deny outside the corporate range unless via a service" is a service acting for the
    caller, and the witness says so, replaying as an ordinary check."""
    ci = principal_from_arn(
        "ci", f"arn:aws:iam::{PROD}:role/ci", policies=[ALL_ECR, DENY_DIRECT_FROM_OUTSIDE]
    )
    ci_only = CallerClass("ci-only", accounts=frozenset({PROD}), kinds=frozenset({CallerKind.ROLE}))

    def push(**context: list[str]) -> tuple[Question, Result]:
        context = {"aws:SourceIp": ["203.0.113.9"], **context}
        return ask(repo(), "ecr:PutImage", "deny", cls=ci_only, defined={"ci": ci},
                   closed=[PROD], context=context)  # fmt: skip

    q, r = push()
    assert not r.passed and r.witness is not None
    found = witness_dict(q, r.witness)
    assert found["name"] == "ci"
    assert found["context"]["aws:ViaAWSService"] == "true"
    # fixed to false in the context, the deny holds for every session of ci
    assert push(**{"aws:ViaAWSService": ["false"]})[1].passed


def test_a_service_principal_never_calls_via_a_service() -> None:
    """aws:ViaAWSService is true only for a service using an IAM principal's credentials: a
    repository policy that lets in only such calls lets in no service principal."""
    res = repo(
        {
            "Sid": "ViaServices",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "ecr:BatchGetImage",
            "Condition": {"Bool": {"aws:ViaAWSService": "true"}},
        }
    )
    _q, r = ask(
        res,
        "ecr:BatchGetImage",
        "deny",
        cls=CallerClass("services", kinds=frozenset({CallerKind.SERVICE, CallerKind.ANONYMOUS})),
    )
    assert r.passed


def test_the_resource_perimeter_on_aws_resource_org_id_is_proven_for_members() -> None:
    """aws:ResourceOrgID follows from the repository's account: a data-perimeter SCP that
    denies outside ${aws:PrincipalOrgID} never stops a role of the organization from pulling
    from a member's repository that lets the organization in (while the key was left out, the
    perimeter denied every one of them)."""
    perimeter = policy(
        PolicyKind.SCP,
        "resource-perimeter",
        {
            "Sid": "EnforceResourcePerimeter",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
                "StringNotEqualsIfExists": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}
            },
        },
    )
    members = CallerClass(
        "member-roles", organization=Membership.INSIDE, kinds=frozenset({CallerKind.ROLE})
    )
    _q, r = ask(
        repo(ORG_PULL),
        "ecr:BatchGetImage",
        "allow",
        cls=members,
        organization=org(scps=[FULL_AWS_ACCESS, perimeter]),
    )
    assert r.passed, r.witness and r.witness.summary
