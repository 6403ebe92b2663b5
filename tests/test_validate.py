"""Policy validation and compilation: what the compiled form keeps, predefined policies, and
properties that hold for every document (all problems reported, JSON text = mapping)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner import catalog
from runner import policy as validate
from runner.model import PolicyInvalid, PolicyKind, PolicyProblem, RequestContext

REPO = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowPull",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        },
        {"Effect": "Deny", "Principal": "*", "Action": "ecr:Delete*"},
    ],
}


def test_compiled_policy_keeps_what_explanations_need() -> None:
    policy = validate.compile_policy(
        REPO,
        PolicyKind.RESOURCE,
        name="prod-repo",
        file="policies/prod.json",
        line=3,
        statement_lines=[5, 12],
    )
    assert (policy.name, policy.kind, policy.file, policy.line, policy.version) == (
        "prod-repo",
        PolicyKind.RESOURCE,
        "policies/prod.json",
        3,
        "2012-10-17",
    )
    assert [(s.index, s.sid, s.effect, s.line) for s in policy.statements] == [
        (0, "AllowPull", "Allow", 5),
        (1, None, "Deny", 12),
    ]
    assert [s.label for s in policy.statements] == ["AllowPull", "#1"]


def test_statement_lines_may_be_a_mapping() -> None:
    policy = validate.compile_policy(REPO, PolicyKind.RESOURCE, name="p", statement_lines={1: 40})
    assert [s.line for s in policy.statements] == [None, 40]


def test_statements_are_indexed_by_the_actions_they_cover() -> None:
    policy = validate.compile_policy(REPO, PolicyKind.RESOURCE, name="p")
    assert [s.index for s in policy.for_action("ecr:BatchGetImage")] == [0]
    assert [s.index for s in policy.for_action("ecr:DeleteRepository")] == [1]
    assert policy.for_action("ecr:PutImage") == ()


def test_not_action_covers_every_other_catalog_action() -> None:
    policy = validate.compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "NotAction": "ecr:Delete*", "Resource": "*"},
        },
        PolicyKind.IDENTITY,
        name="p",
    )
    covered = {a for a in catalog.ACTIONS if policy.for_action(a)}
    assert covered == {a for a in catalog.ACTIONS if not a.startswith("ecr:Delete")}


def test_missing_version_means_2008_rules() -> None:
    policy = validate.compile_policy(
        {"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}},
        PolicyKind.IDENTITY,
        name="p",
    )
    assert policy.version == "2008-10-17"


def test_version_read_by_yaml_as_a_date() -> None:
    policy = validate.compile_policy(
        {
            "Version": dt.date(2012, 10, 17),
            "Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
        },
        PolicyKind.IDENTITY,
        name="p",
    )
    assert policy.version == "2012-10-17"


def test_predefined_full_access_policies() -> None:
    assert validate.FULL_AWS_ACCESS.name == "FullAWSAccess"
    assert validate.FULL_AWS_ACCESS.kind is PolicyKind.SCP
    assert validate.RCP_FULL_AWS_ACCESS.name == "RCPFullAWSAccess"
    assert validate.RCP_FULL_AWS_ACCESS.kind is PolicyKind.RCP
    for action in catalog.ACTIONS:
        assert len(validate.FULL_AWS_ACCESS.for_action(action)) == 1
        assert len(validate.RCP_FULL_AWS_ACCESS.for_action(action)) == 1


def test_policy_invalid_lists_every_problem_with_its_path() -> None:
    with pytest.raises(PolicyInvalid) as info:
        validate.compile_policy(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}, {"Effect": "Deny"}]},
            PolicyKind.IDENTITY,
            name="p",
        )
    assert info.value.problems == (
        PolicyProblem(("Statement", 0), "a statement needs Action or NotAction"),
        PolicyProblem(
            ("Statement", 0),
            'a statement of an identity-based policy needs Resource or NotResource ("Resource": '
            '"*" for every resource)',
        ),
        PolicyProblem(("Statement", 1), "a statement needs Action or NotAction"),
        PolicyProblem(
            ("Statement", 1),
            'a statement of an identity-based policy needs Resource or NotResource ("Resource": '
            '"*" for every resource)',
        ),
    )
    assert str(info.value).startswith("Statement[0]: a statement needs Action or NotAction; ")


def test_json_text_and_mapping_compile_alike() -> None:
    a = validate.compile_policy(REPO, PolicyKind.RESOURCE, name="p")
    b = validate.compile_policy(json.dumps(REPO), PolicyKind.RESOURCE, name="p")
    assert [(s.index, s.sid, s.effect, s.action.actions) for s in a.statements] == [
        (s.index, s.sid, s.effect, s.action.actions) for s in b.statements
    ]


def test_the_document_is_not_modified() -> None:
    before = json.dumps(REPO, sort_keys=True)
    validate.compile_policy(REPO, PolicyKind.RESOURCE, name="p")
    assert json.dumps(REPO, sort_keys=True) == before


_KEYS = st.sampled_from(
    ["Sid", "Effect", "Action", "NotAction", "Resource", "Principal", "Condition", "Bogus"]
)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=12),
    st.just("*"),
    st.just("ecr:*"),
    st.just("Allow"),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=2),
)


@given(
    st.sampled_from(list(PolicyKind)),
    st.lists(st.dictionaries(_KEYS, _VALUES, max_size=6), min_size=1, max_size=3),
)
def test_any_document_compiles_or_fails_with_problems_never_crashes(
    kind: PolicyKind, statements: list[dict[str, object]]
) -> None:
    doc = {"Version": "2012-10-17", "Statement": statements}
    try:
        validate.compile_policy(doc, kind, name="fuzz")
    except PolicyInvalid as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message
            assert problem.path[:1] in ((), ("Statement",), ("Version",))


def _sized(kind: PolicyKind, size: int) -> dict[str, object]:
    """A valid policy of ``kind`` whose compact JSON has ``size`` characters, none of them
    white space: one statement whose Sid (letters only) is as long as it takes."""
    stmt: dict[str, object] = {"Sid": "", "Effect": "Deny", "Action": "ecr:DeleteRepository"}
    stmt["Resource"] = "arn:aws:ecr:us-east-1:111122223333:repository/prod/app"
    doc: dict[str, object] = {"Version": "2012-10-17", "Statement": [stmt]}
    stmt["Sid"] = "S" * (size - len(json.dumps(doc, separators=(",", ":"))))
    assert len(json.dumps(doc, separators=(",", ":"))) == size
    return doc


@pytest.mark.parametrize(
    ("kind", "limit", "words"),
    [
        (PolicyKind.IDENTITY, 10_240, "an identity policy (10,240 for the largest inline one)"),
        (PolicyKind.BOUNDARY, 6_144, "a permissions boundary (a managed policy: 6,144)"),
        (PolicyKind.SESSION, 2_048, "a session policy (2,048)"),
        (PolicyKind.SCP, 5_120, "an SCP (5,120)"),
    ],
)
def test_policies_larger_than_aws_accepts_are_invalid(
    kind: PolicyKind, limit: int, words: str
) -> None:
    """ "IAM and AWS STS quotas", AssumeRole (session policies) and AWS Organizations quotas."""
    validate.compile_policy(_sized(kind, limit), kind, name="p")  # at the limit: fine
    with pytest.raises(PolicyInvalid) as info:
        validate.compile_policy(_sized(kind, limit + 1), kind, name="p")
    counted = "" if kind is PolicyKind.SCP else " without white space"  # SCPs: every one
    assert [(p.path, p.message) for p in info.value.problems] == [
        ((), f"this policy has {limit + 1:,} characters{counted}, more than AWS accepts in {words}")
    ]


def test_white_space_does_not_count_towards_the_size() -> None:
    doc = _sized(PolicyKind.SESSION, 2_048)
    validate.compile_policy(json.dumps(doc, indent=8), PolicyKind.SESSION, name="p")


def test_a_control_character_is_found_where_it_is() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Sid": "A"}],
    }
    doc["Statement"][0]["Condition"] = {"StringEquals": {"aws:username": "dev\x01"}}  # type: ignore[index]
    with pytest.raises(PolicyInvalid) as info:
        validate.compile_policy(doc, PolicyKind.IDENTITY, name="p")
    assert [(p.path, p.message) for p in info.value.problems] == [
        (
            ("Statement", 0, "Condition", "StringEquals", "aws:username"),
            "'dev\\x01' contains '\\x01' (U+0001); IAM policy documents may contain only tab, "
            "line feed, carriage return and the characters U+0020 to U+00FF "
            '("IAM and AWS STS quotas")',
        )
    ]
    # a repository policy is not an IAM policy: its characters are ECR's business
    repo = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:ListImages", "Sid": "Équipe ✓"}
    ]}  # fmt: skip
    validate.compile_policy(repo, PolicyKind.RESOURCE, name="r")


def test_white_space_in_an_scp_counts() -> None:
    """AWS Organizations quotas: for SCPs every character counts, spaces inside values too."""
    stmt: dict[str, object] = {"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}
    doc = {"Version": "2012-10-17", "Statement": [stmt]}
    stmt["Condition"] = {"StringEquals": {"aws:username": "a"}}
    pad = 5_121 - len(json.dumps(doc, separators=(",", ":")))
    stmt["Condition"] = {"StringEquals": {"aws:username": "a" + " " * pad}}
    assert len(json.dumps(doc, separators=(",", ":"))) == 5_121
    with pytest.raises(PolicyInvalid):
        validate.compile_policy(doc, PolicyKind.SCP, name="p")
    validate.compile_policy(doc, PolicyKind.IDENTITY, name="p")  # IAM does not count them


@pytest.mark.parametrize("char", ["\x08", "\x0c", "\x01", "\u0100"])
def test_every_character_outside_latin1_or_a_control_one_is_refused(char: str) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:username": f"a{char}b"}},
            }
        ],
    }
    with pytest.raises(PolicyInvalid):
        validate.compile_policy(doc, PolicyKind.IDENTITY, name="p")


def test_an_escape_in_the_region_is_not_taken_for_a_variable() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:us-east-${?}:*:*"}
        ],
    }
    validate.compile_policy(doc, PolicyKind.IDENTITY, name="p")


# --- unknown condition keys: warnings, never errors ---------------------------------------------


def _warnings(condition: dict[str, object], **statement: object) -> list[str]:
    document = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "ecr:*",
            "Resource": "*",
            "Condition": condition,
            **statement,
        },
    }
    policy = validate.compile_policy(document, PolicyKind.IDENTITY, name="p")
    return [str(w) for w in policy.warnings]


def test_a_misspelt_global_key_is_a_warning_with_the_closest_key() -> None:
    assert _warnings({"StringEquals": {"aws:PrincipleOrgID": "o-a1b2c3d4e5"}}) == [
        "Statement.Condition.StringEquals.aws:PrincipleOrgID: unknown condition key "
        "aws:PrincipleOrgID; did you mean aws:PrincipalOrgID? AWS accepts it, but no request "
        "carries it, so StringEquals on it is always false, and this statement never applies"
    ]


def test_the_warning_says_what_the_operator_makes_of_the_missing_key() -> None:
    assert _warnings({"StringNotEquals": {"aws:SourceVpce": "vpce-1", "aws:SoruceVpc": "v"}}) == [
        "Statement.Condition.StringNotEquals.aws:SoruceVpc: unknown condition key "
        "aws:SoruceVpc; did you mean aws:SourceVpc? AWS accepts it, but no request carries it, "
        "so StringNotEquals on it is always true"
    ]
    assert _warnings({"Null": {"aws:MultiFactorAuthPresnt": "true"}}) == [
        "Statement.Condition.Null.aws:MultiFactorAuthPresnt: unknown condition key "
        "aws:MultiFactorAuthPresnt; did you mean aws:MultiFactorAuthPresent? AWS accepts it, "
        "but no request carries it, so Null on it is always true"
    ]


def test_tag_keys_keep_their_tag_and_unknown_ecr_keys_are_warned_about() -> None:
    assert _warnings(
        {
            "StringEquals": {"aws:PrincipleTag/team": "a", "ecr:ResourceTags/env": "prod"},
            "ForAnyValue:StringEquals": {"ecr:RepositoryName": "prod/app"},
        }
    ) == [
        "Statement.Condition.StringEquals.aws:PrincipleTag/team: unknown condition key "
        "aws:PrincipleTag/team; did you mean aws:PrincipalTag/team? AWS accepts it, but no "
        "request carries it, so StringEquals on it is always false, and this statement never "
        "applies",
        "Statement.Condition.StringEquals.ecr:ResourceTags/env: unknown condition key "
        "ecr:ResourceTags/env; did you mean ecr:ResourceTag/env? AWS accepts it, but no "
        "request carries it, so StringEquals on it is always false, and this statement never "
        "applies",
        "Statement.Condition.ForAnyValue:StringEquals.ecr:RepositoryName: unknown condition key "
        "ecr:RepositoryName (not a condition key of Amazon ECR); AWS accepts it, but no "
        "request carries it, so ForAnyValue:StringEquals on it is always false, and this "
        "statement never applies",
    ]


def test_known_keys_in_any_case_and_other_services_keys_are_not_warned_about() -> None:
    condition = {
        "StringEquals": {
            "aws:principalorgid": "o-a1b2c3d4e5",
            "AWS:PrincipalTag/Team": "a",
            "aws:ResourceTag/env": "prod",
            "aws:RequestTag/env": "prod",
            "ecr:ResourceTag/env": "prod",
            "ecr:accountsetting": "x",
            "s3:prefix": "home/",
            "kms:ViaService": "ecr.us-east-1.amazonaws.com",
        },
        "ForAllValues:StringEquals": {"aws:TagKeys": ["env"]},
        "Bool": {"aws:SecureTransport": "true", "aws:ViaAWSService": "false"},
        "DateGreaterThan": {"aws:CurrentTime": "2024-01-01", "aws:TokenIssueTime": "2024-01-01"},
        "IpAddress": {"aws:SourceIp": "203.0.113.0/24", "aws:VpcSourceIp": "10.0.0.0/8"},
    }
    assert _warnings(condition) == []
    assert validate.compile_policy(REPO, PolicyKind.RESOURCE, name="p").warnings == ()


def test_a_misspelt_key_in_a_policy_variable_is_a_warning_where_the_variable_is() -> None:
    assert _warnings(
        {"StringEquals": {"ecr:ResourceTag/owner": ["x", "${aws:usename, 'nobody'}"]}},
        Resource="arn:aws:ecr:*:111122223333:repository/${aws:usrename}/*",
    ) == [
        "Statement.Resource: unknown condition key aws:usrename; did you mean aws:username? "
        "AWS accepts it, but no request carries it, so the policy variable ${aws:usrename} has "
        "no value and this value matches nothing",
        "Statement.Condition.StringEquals.ecr:ResourceTag/owner[1]: unknown condition key "
        "aws:usename; did you mean aws:username? AWS accepts it, but no request carries it, so "
        "the policy variable ${aws:usename} has no value and its default 'nobody' is used",
    ]
    # in a 2008-10-17 policy ${...} is text
    old = validate.compile_policy(
        {
            "Version": "2008-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "ecr:BatchGetImage",
                "Resource": "arn:aws:ecr:*:111122223333:repository/${aws:usrename}",
            },
        },
        PolicyKind.IDENTITY,
        name="p",
    )
    assert old.warnings == ()


def test_warnings_change_nothing_the_engine_reads() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "ecr:BatchGetImage",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipleOrgID": "o-a1b2c3d4e5"}},
        },
    }
    policy = validate.compile_policy(document, PolicyKind.IDENTITY, name="p")
    assert len(policy.warnings) == 1
    conditions = policy.statements[0].conditions
    assert conditions is not None
    # a request that does carry the misspelt key (a spec may give one) is compared as written
    carried = RequestContext({"aws:PrincipleOrgID": ["o-a1b2c3d4e5"]})
    assert conditions.evaluate(carried) is True
    assert conditions.evaluate(RequestContext({"aws:PrincipalOrgID": ["o-a1b2c3d4e5"]})) is False


def test_every_key_the_engine_fills_in_is_a_known_key() -> None:
    from runner import engine, model
    from runner.policy import keys

    org = model.Organization(id="o-a1b2c3d4e5", accounts=frozenset({"111122223333"}))
    callers = [
        model.principal_from_arn(
            "dev", "arn:aws:iam::111122223333:role/dev", session="dev-1", tags={"team": "a"}
        ),
        model.principal_from_arn("ana", "arn:aws:iam::111122223333:user/ana"),
        model.service_principal("build", "codebuild.amazonaws.com"),
        model.anonymous_principal("anyone"),
    ]
    repo = model.repository(
        "app", "arn:aws:ecr:us-east-1:111122223333:repository/app", tags={"env": "prod"}
    )
    filled: set[str] = set()
    for caller in callers:
        request = model.Request(caller, "ecr:BatchGetImage", repo, organization=org)
        filled.update(engine.build_context(request))
    assert {"aws:PrincipalTag/team", "aws:ResourceTag/env", "aws:CurrentTime"} <= filled
    assert [key for key in sorted(filled) if not keys.is_known(key)] == []
