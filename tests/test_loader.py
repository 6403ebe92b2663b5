"""The spec loader: valid specs become the expected checks; every kind of mistake is reported
with its exact text at file:line:col."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path
from textwrap import dedent

import pytest

import runner
from runner import checks, model
from runner import spec as loader
from runner.errors import SpecError

DATA = Path(__file__).parent / "data" / "loader"

PRINCIPALS = """\
principals:
  ci: arn:aws:iam::111122223333:role/ci
  auditor: arn:aws:iam::111122223333:user/auditor
resources:
  prod: arn:aws:ecr:us-east-1:111122223333:repository/prod/app
"""


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")


def load(root: Path, text: str, **files: str | bytes) -> model.Spec:
    write(root, {"spec.yaml": text, **files})
    return loader.load_spec(root / "spec.yaml", display_root=root)


def errors(root: Path, text: str, **files: str | bytes) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(root, text, **files)
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------------------------------------
# Valid specs


def test_valid_spec_expands_into_checks_in_order() -> None:
    spec = loader.load_spec(DATA / "valid" / "prod.yaml", display_root=DATA)
    assert spec.path == "valid/prod.yaml"
    assert spec.description == "Production images are pulled by staging and pushed only by CI."
    ids = [c.test_id for c in spec.checks]
    assert ids[:2] == [
        "ci-pushes-to-prod[ci-prod-push]",
        "ci-pushes-to-prod[ci-prod-ecr:DeleteRepository]",
    ]
    # ecr:Delete* expands to every Delete action, without repeating ecr:DeleteRepository
    deletes = [c.action for c in spec.checks if c.case_index == 0 and c.expected == "deny"]
    assert deletes[0] == "ecr:DeleteRepository"
    # ... and, on a repository, only the Delete actions that act on one (issue 10, item 6)
    assert deletes == [
        "ecr:DeleteRepository",
        "ecr:DeleteLifecyclePolicy",
        "ecr:DeleteRepositoryPolicy",
    ]
    assert ids[-6:] == [
        "case2[auditor-prod-ecr:DescribeImages]",
        "case2[auditor-prod-ecr:ListImages]",
        "case2[builder-prod-ecr:DescribeImages]",
        "case2[builder-prod-ecr:ListImages]",
        "case3[ci-ecr:GetAuthorizationToken]",
        "ci-pushes-to-prod-2[public-prod-pull]",
    ]
    assert len(ids) == len(set(ids))
    assert all(" " not in i and "::" not in i for i in ids)
    push = spec.checks[0]
    assert push.file == "valid/prod.yaml"
    assert str(push.loc) == "valid/prod.yaml:34:5"
    assert push.case == "CI pushes to prod"
    assert push.steps == (
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
    )
    assert push.expected == "allow"
    assert push.principal.session_arn == "arn:aws:sts::111122223333:assumed-role/ci/ci-build-42"
    assert dict(push.principal.tags) == {"team": "platform", "oncall": "true"}
    assert [p.name for p in push.principal.policies] == ["ci-identity"]
    assert push.resource is not None and push.resource.policy is not None
    assert push.resource.policy.file == "policies/prod-repo.json"
    assert dict(push.context) == {"aws:SourceIp": ("203.0.113.7",)}
    org = push.organization
    assert org is not None and org.id == "o-a1b2c3d4e5"
    assert org.accounts == frozenset({"111122223333", "444455556666"})
    assert [p.name for p in org.scps] == ["FullAWSAccess", "deny-delete"]
    # the case without a resource, the case-level context merged over the file's
    matrix = spec.checks[len(deletes) + 1]
    assert (
        matrix.case == "case2"
        and matrix.expected == "allow"
        and matrix.action == "ecr:DescribeImages"
    )
    assert dict(matrix.context) == {
        "aws:SecureTransport": ("true",),
        "aws:sourceip": ("10.0.0.1", "10.0.0.2"),
        "ecr:Count": ("042",),
    }
    token = spec.checks[-2]
    assert token.resource is None and token.steps == ("ecr:GetAuthorizationToken",)
    # principals and resources are shared, not copied per check
    assert spec.checks[0].principal is spec.checks[1].principal
    assert spec.checks[0].resource is spec.checks[-1].resource
    assert {(p.name, p.policy.kind) for p in spec.policies} == {
        ("deny-delete", model.PolicyKind.SCP),
        ("ci-identity", model.PolicyKind.IDENTITY),
        ("prod-repo", model.PolicyKind.RESOURCE),
    }


def test_get_repository_policy_output_is_accepted(tmp_path: Path) -> None:
    shutil.copy(DATA / "policies" / "get-repository-policy.json", tmp_path / "repo.json")
    spec = load(
        tmp_path,
        """\
        principals:
          staging: arn:aws:iam::111122223333:role/staging
        resources:
          prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod/app", policy: repo}
        policies:
          repo: {file: repo.json}
        cases:
          - {principal: staging, resource: prod, allow: pull}
        """,
    )
    policy = spec.checks[0].resource.policy  # type: ignore[union-attr]
    assert policy is not None
    assert [s.sid for s in policy.statements] == ["AllowPull"]
    assert policy.file == "repo.json"


def test_policy_in_a_yaml_file_and_inline_json_text(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """\
        principals:
          ci: {arn: "arn:aws:iam::111122223333:user/ci", policies: [yaml-file, json-text]}
        policies:
          yaml-file: {file: policies/p.yaml}
          json-text:
            document: '{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
              "Action": "ecr:GetAuthorizationToken", "Resource": "*"}}'
        cases:
          - {principal: ci, action: ecr:GetAuthorizationToken, expect: allow}
        """,
        **{
            "policies/p.yaml": """\
            Version: 2012-10-17
            Statement:
              - Effect: Allow
                Action: ecr:Describe*
                Resource: "*"
            """
        },
    )
    policies = spec.checks[0].principal.policies
    assert [p.name for p in policies] == ["yaml-file", "json-text"]
    assert policies[0].statements[0].line == 3


def test_context_values_as_aws_writes_them(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        PRINCIPALS
        + dedent("""\
        context:
          aws:SecureTransport: false
          aws:MultiFactorAuthAge: 0042
        cases:
          - principal: ci
            action: ecr:GetAuthorizationToken
            expect: allow
            context: {aws:securetransport: yes, aws:CurrentTime: 2026-01-02T03:04:05Z,
                      aws:SourceVpce: [vpce-1, 7]}
        """),
    )
    assert dict(spec.checks[0].context) == {
        "aws:MultiFactorAuthAge": ("0042",),
        "aws:securetransport": ("true",),
        "aws:CurrentTime": ("2026-01-02T03:04:05Z",),
        "aws:SourceVpce": ("vpce-1", "7"),
    }


def test_unquoted_twelve_digit_account_ids_keep_their_digits(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        PRINCIPALS
        + dedent("""\
        organization:
          management-account: 011122223333
          accounts: [111122223333, "444455556666"]
        cases: [{principal: ci, action: ecr:GetAuthorizationToken, expect: allow}]
        """),
    )
    org = spec.checks[0].organization
    assert org is not None
    assert org.management_account == "011122223333"
    assert org.accounts == frozenset({"111122223333", "444455556666"})
    assert [p.name for p in org.scps] == ["FullAWSAccess"]  # attached by default


def test_diamond_includes_are_read_once(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        "include: [_a.yaml, _b.yaml]\n"
        "cases: [{principal: ci, action: ecr:GetAuthorizationToken, expect: allow}]\n",
        **{
            "_a.yaml": "include: [shared/_base.yaml]\n",
            "_b.yaml": "include: [shared/_base.yaml]\n",
            "shared/_base.yaml": PRINCIPALS,
        },
    )
    assert spec.checks[0].principal.name == "ci"


def test_shared_case_names_and_matrix_ids_are_unique(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        PRINCIPALS
        + dedent("""\
        cases:
          - {name: "Pull: prod!", principal: [ci, auditor], resource: prod, allow: pull}
          - {name: "pull prod", principal: ci, resource: prod, deny: [ecr:PutImage, ECR:putimage]}
          - name: "???"
            principal: ci
            resource: prod
            action: ecr:ListImages
            expect: explicit-deny
          - {name: "( - )", principal: ci, resource: prod, deny: ecr:DeleteRepository}
          - {name: "Mixed  CASE -- name", principal: ci, resource: prod, deny: ecr:TagResource}
        """),
    )
    assert [c.test_id for c in spec.checks] == [
        "pull-prod[ci-prod-pull]",
        "pull-prod[auditor-prod-pull]",
        "pull-prod-2[ci-prod-ecr:PutImage]",
        "case3[ci-prod-ecr:ListImages]",
        "case4[ci-prod-ecr:DeleteRepository]",
        "mixed-case-name[ci-prod-ecr:TagResource]",
    ]
    assert spec.checks[3].expected == "explicit-deny"
    assert [c.case for c in spec.checks] == [
        "Pull: prod!",
        "Pull: prod!",
        "pull prod",
        "???",
        "( - )",
        "Mixed  CASE -- name",
    ]


def test_compiled_policies_are_shared_between_specs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "_defs.yaml": """\
            principals:
              ci: {arn: "arn:aws:iam::111122223333:user/ci", policies: [id]}
            policies:
              id: {file: id.json}
            """,
            "id.json": json.dumps(
                {"Statement": {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}}
            ),
            "a.yaml": (
                "include: [_defs.yaml]\n"
                "cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]\n"
            ),
            "b.yaml": (
                "include: [_defs.yaml]\ncases: [{principal: ci, deny: ecr:GetAuthorizationToken}]\n"
            ),
        },
    )
    a = loader.load_spec(tmp_path / "a.yaml", display_root=tmp_path)
    b = loader.load_spec(tmp_path / "b.yaml", display_root=tmp_path)
    assert a.checks[0].principal.policies[0] is b.checks[0].principal.policies[0]
    assert b.checks[0].expected == "deny"


def test_display_root_outside_shows_absolute_paths(tmp_path: Path) -> None:
    write(tmp_path / "in", {"spec.yaml": "case: []\n"})
    with pytest.raises(SpecError) as info:
        loader.load_spec(tmp_path / "in" / "spec.yaml", display_root=tmp_path / "elsewhere")
    assert str(info.value).startswith(
        f"{(tmp_path / 'in' / 'spec.yaml').resolve().as_posix()}:1:1: "
    )


# ---------------------------------------------------------------------------------------------
# Mistakes: each with its exact message and place


def test_broken_yaml(tmp_path: Path) -> None:
    assert errors(tmp_path, "cases: [1, 2\nprincipals: 3\n") == [
        "spec.yaml:2:11: invalid YAML: did not find expected ',' or ']' "
        "(while parsing a flow sequence on line 1)"
    ]


def test_bad_indentation(tmp_path: Path) -> None:
    assert errors(tmp_path, "cases:\n  - principal: ci\n   allow: pull\n") == [
        "spec.yaml:3:4: invalid YAML: did not find expected '-' indicator "
        "(while parsing a block collection on line 2)"
    ]


def test_unknown_top_level_key_with_suggestion(tmp_path: Path) -> None:
    assert errors(tmp_path, PRINCIPALS + "case:\n  - principal: ci\n") == [
        "spec.yaml:6:1: unknown top-level key 'case'; did you mean 'cases'? Valid keys: "
        "description, include, import, policies, principals, resources, organization, "
        "closed-accounts, context, "
        "cases"
    ]


def test_misspelt_section_does_not_cascade(tmp_path: Path) -> None:
    text = (
        "principles:\n  ci: arn:aws:iam::111122223333:user/ci\n"
        "cases: [{principal: ci, allow: pull}]\n"
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:1:1: unknown top-level key 'principles'; did you mean 'principals'? Valid "
        "keys: description, include, import, policies, principals, resources, organization, "
        "closed-accounts, context, cases"
    ]


def test_unknown_keys_in_nested_mappings(tmp_path: Path) -> None:
    text = """\
    policies:
      p: {flie: p.json}
    principals:
      ci: {arn: "arn:aws:iam::111122223333:role/ci", sesion: x}
    resources:
      prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod", polcy: p}
    organization: {scp: [FullAWSAccess]}
    cases:
      - {principal: ci, resource: prod, alow: pull}
    """
    assert errors(tmp_path, text) == [
        "spec.yaml:2:7: unknown key 'flie' in policy 'p'; did you mean 'file'? Valid keys: "
        "file, document",
        "spec.yaml:7:16: unknown key 'scp' in organization; did you mean 'scps'? Valid keys: "
        "id, management-account, accounts, scps, rcps",
        "spec.yaml:4:50: unknown key 'sesion' in principal 'ci'; did you mean 'session'? Valid "
        "keys: arn, session, policies, boundary, session-policy, tags, service",
        "spec.yaml:6:69: unknown key 'polcy' in resource 'prod'; did you mean 'policy'? Valid "
        "keys: arn, policy, tags",
        "spec.yaml:9:37: unknown key 'alow' in a case; did you mean 'allow'? Valid keys: name, "
        "principal, resource, allow, deny, action, expect, only, context, exception",
    ]


def test_wrong_types(tmp_path: Path) -> None:
    text = PRINCIPALS + dedent("""\
    cases:
      - principal: {ci: 1}
        resource: prod
        allow: pull
      - principal: ci
        resource: [prod, [x]]
        deny: {push: 1}
      - "just text"
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:7:16: expected a list of principal names or a single name, got a mapping",
        "spec.yaml:11:22: expected resource name, got a list",
        "spec.yaml:12:11: expected a list of actions or a single name, got a mapping",
        "spec.yaml:13:5: expected a case (a mapping with principal, resource, allow, ...), got "
        "the text 'just text'",
    ]


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    assert errors(tmp_path, PRINCIPALS + "cases:\n  - principal: ci\n    principal: auditor\n") == [
        "spec.yaml:8:5: duplicate key 'principal' (first defined on line 7)"
    ]


def test_python_tag_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"cases: !!python/object/apply:os.system ['touch {marker}']\n"
    assert errors(tmp_path, text) == [
        "spec.yaml:1:8: the YAML tag '!!python/object/apply:os.system' is not supported; only "
        "plain strings, numbers, booleans, lists and mappings are read (tags are never executed)"
    ]
    assert not marker.exists()


def test_cloudformation_tags(tmp_path: Path) -> None:
    text = "description: !Sub '${AWS::StackName}'\ncases:\n  - principal: !Ref Role\n"
    assert errors(tmp_path, text) == [
        "spec.yaml:1:14: the YAML tag '!Sub' is not supported; only plain strings, numbers, "
        "booleans, lists and mappings are read (tags are never executed)",
        "spec.yaml:3:16: the YAML tag '!Ref' is not supported; only plain strings, numbers, "
        "booleans, lists and mappings are read (tags are never executed)",
    ]


def test_billion_laughs(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("cases: [*i]")
    assert errors(tmp_path, "\n".join(lines) + "\n") == [
        "spec.yaml:6:4: anchors and aliases expand this value to more than 100000 extra nodes "
        "(a 'billion laughs' document?); refused; write the values out or use fewer aliases"
    ]


def test_recursive_alias(tmp_path: Path) -> None:
    assert errors(tmp_path, "cases: &c [*c]\n") == [
        "spec.yaml:1:8: a recursive alias (a value that contains itself) is not allowed"
    ]


def test_merge_keys_are_refused(tmp_path: Path) -> None:
    text = "x: &base {principal: ci}\ncases:\n  - <<: *base\n    allow: pull\n"
    assert errors(tmp_path, text) == [
        "spec.yaml:3:5: merge keys ('<<') are not supported; write the keys out (an alias may "
        "still stand for a whole value)"
    ]


def test_include_cycle_shows_the_chain(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        "include: [_a.yaml]\n"
        + PRINCIPALS
        + "cases: [{principal: ci, allow: ecr:ListTagsForResource, resource: prod}]\n",
        **{"_a.yaml": "include: [sub/_b.yaml]\n", "sub/_b.yaml": "include: [../_a.yaml]\n"},
    )
    assert got == ["sub/_b.yaml:1:11: include cycle: _a.yaml -> sub/_b.yaml -> _a.yaml"]


def test_spec_including_itself(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        "include: spec.yaml\n"
        + PRINCIPALS
        + "cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]\n",
    )
    assert got == ["spec.yaml:1:10: include cycle: spec.yaml -> spec.yaml"]


def test_missing_include(tmp_path: Path) -> None:
    assert errors(tmp_path, "include: [_org.yaml]\ncases: [{principal: ci, allow: pull}]\n") == [
        "spec.yaml:1:11: cannot include '_org.yaml': no such file (_org.yaml)"
    ]


def test_errors_inside_an_include_name_that_file(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        "include: [_org.yaml]\ncases: [{principal: ci, allow: ecr:GetAuthorizationToken}]\n",
        **{"_org.yaml": "principals:\n  ci: arn:aws:iam::111122223333:group/ci\n"},
    )
    assert got == [
        "_org.yaml:2:7: not a principal ARN: 'arn:aws:iam::111122223333:group/ci'; expected "
        "arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:role/NAME, "
        "arn:aws:iam::ACCOUNT:root, "
        "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or arn:aws:sts::ACCOUNT:federated-user/NAME"
    ]


def test_cases_in_an_include_file(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        "include: [_org.yaml]\ncases: [{principal: ci, allow: ecr:GetAuthorizationToken}]\n",
        **{"_org.yaml": PRINCIPALS + "cases: []\n"},
    )
    assert got == [
        "_org.yaml:6:1: an include file cannot hold 'cases': include files only share "
        "definitions (policies, principals, resources, organization, context); move the cases "
        "into a spec file"
    ]


def test_duplicate_names_across_includes(tmp_path: Path) -> None:
    got = errors(
        tmp_path,
        "include: [_a.yaml, _b.yaml]\n"
        "principals:\n  ci: arn:aws:iam::111122223333:user/ci\n"
        "context: {aws:SourceIp: 10.0.0.1}\n"
        "cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]\n",
        **{
            "_a.yaml": PRINCIPALS,
            "_b.yaml": (
                "principals:\n  ci: arn:aws:iam::111122223333:user/x\ncontext:\n"
                "  aws:sourceip: 10.0.0.2\n"
            ),
        },
    )
    assert got == [
        "_b.yaml:2:3: principal 'ci' is defined twice: here and at _a.yaml:2:3",
        "spec.yaml:3:3: principal 'ci' is defined twice: here and at _a.yaml:2:3",
        "spec.yaml:4:11: context key 'aws:SourceIp' is defined twice: here and in the 'context' "
        "at _b.yaml:3:1",
    ]


def test_missing_policy_file(tmp_path: Path) -> None:
    text = (
        PRINCIPALS
        + "policies:\n  p:\n    file: ../policies/missing.json\n"
        + "cases: [{principal: ci, allow: ecr:ListImages, resource: prod}]\n"
    )
    write(tmp_path, {"specs/spec.yaml": text})
    with pytest.raises(SpecError) as info:
        loader.load_spec(tmp_path / "specs" / "spec.yaml", display_root=tmp_path)
    assert [str(p) for p in info.value.problems] == [
        "specs/spec.yaml:8:11: policy file '../policies/missing.json' not found: no such file "
        "(policies/missing.json)"
    ]


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_policy_file_that_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    # a directory, a FIFO or a device would block or never end if read: refused before reading
    target = tmp_path / "special"
    if kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    text = (
        PRINCIPALS
        + "policies:\n  p:\n    file: special\n"
        + "cases: [{principal: ci, allow: ecr:ListImages, resource: prod}]\n"
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:8:11: policy file 'special' is not a regular file (special)"
    ]


def test_exactly_one_of_file_or_document(tmp_path: Path) -> None:
    text = PRINCIPALS + (
        "policies:\n  p: {file: p.json, document: {}}\n  q: {}\n"
        "cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]\n"
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:7:3: policy 'p' needs exactly one of 'file' (a JSON or YAML file) or "
        "'document' (the policy inline)",
        "spec.yaml:8:3: policy 'q' needs exactly one of 'file' (a JSON or YAML file) or "
        "'document' (the policy inline)",
    ]


def test_unknown_names_with_suggestions(tmp_path: Path) -> None:
    text = """\
    principals:
      ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [ci-identiy]}
      auditor: arn:aws:iam::111122223333:user/auditor
    policies:
      ci-identity: {document: {Statement: {Effect: Allow, Action: "ecr:*", Resource: "*"}}}
      prod-repo: {document: {Statement: {Effect: Allow, Principal: "*", Action: "ecr:*"}}}
    resources:
      prod: arn:aws:ecr:us-east-1:111122223333:repository/prod
    cases:
      - {principal: [cii, auditor], resource: prd, allow: pull}
      - {principal: zzz, resource: prod, allow: pull}
    """
    assert errors(tmp_path, text) == [
        "spec.yaml:2:61: unknown policy 'ci-identiy'; did you mean 'ci-identity'? defined "
        "policies: ci-identity, prod-repo",
        "spec.yaml:10:18: unknown principal 'cii'; did you mean 'ci'? defined principals: ci, "
        "auditor",
        "spec.yaml:10:43: unknown resource 'prd'; did you mean 'prod'? defined resources: prod",
        "spec.yaml:11:17: unknown principal 'zzz'; defined principals: ci, auditor",
    ]


def test_identity_policy_with_principal_in_a_json_file(tmp_path: Path) -> None:
    text = PRINCIPALS.replace(
        "ci: arn:aws:iam::111122223333:role/ci",
        "ci: {arn: 'arn:aws:iam::111122223333:role/ci', policies: [from-guide]}",
    ) + (
        "policies:\n  from-guide: {file: policies/guide.json}\n"
        "cases: [{principal: ci, resource: prod, allow: pull}]\n"
    )
    guide = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowPull",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/ci"},
                "Action": "ecr:BatchGetImage",
                "Resource": "*",
            }
        ],
    }
    got = errors(tmp_path, text, **{"policies/guide.json": json.dumps(guide, indent=2)})
    assert got == [
        "policies/guide.json:7:7: Statement[0].Principal: identity-based policies must not "
        "contain Principal: the policy is attached to a user, group or role, which is the "
        "implicit principal; Principal belongs in resource-based policies such as a repository "
        "policy (identity policy 'from-guide', attached at spec.yaml:2:61)"
    ]


def test_identity_policy_with_principal_inline(tmp_path: Path) -> None:
    text = """\
    principals:
      ci:
        arn: arn:aws:iam::111122223333:role/ci
        policies: inline
    policies:
      inline:
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: "*"
              Action: ecr:GetAuthorizationToken
              Resource: "*"
    cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]
    """
    assert errors(tmp_path, text) == [
        "spec.yaml:11:11: Statement[0].Principal: identity-based policies must not contain "
        "Principal: the policy is attached to a user, group or role, which is the implicit "
        "principal; Principal belongs in resource-based policies such as a repository policy "
        "(identity policy 'inline', attached at spec.yaml:4:15)"
    ]


def test_repository_policy_with_resource(tmp_path: Path) -> None:
    text = """\
    principals: {ci: "arn:aws:iam::111122223333:role/ci"}
    resources:
      prod:
        arn: arn:aws:ecr:us-east-1:111122223333:repository/prod
        policy: repo
    policies:
      repo:
        document:
          Statement:
            Effect: Allow
            Principal: "*"
            Action: ecr:BatchGetImage
            Resource: "*"
    cases: [{principal: ci, resource: prod, allow: pull}]
    """
    assert errors(tmp_path, text) == [
        "spec.yaml:13:9: Statement.Resource: a repository policy has no Resource element: each "
        "statement applies to the repository the policy is attached to (Amazon ECR rejects "
        "Resource in repository policies) (repository policy 'repo', attached at spec.yaml:5:13)"
    ]


def test_invalid_condition_operator(tmp_path: Path) -> None:
    text = """\
    principals: {ci: {arn: "arn:aws:iam::111122223333:user/ci", policies: [p]}}
    policies:
      p:
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: ecr:*
              Resource: "*"
              Condition:
                StringEqualz: {aws:SourceIp: 10.0.0.1}
    cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]
    """
    assert errors(tmp_path, text) == [
        "spec.yaml:11:13: Statement[0].Condition.StringEqualz: unknown condition operator "
        "'StringEqualz'; did you mean 'StringEquals'? (identity policy 'p', attached at "
        "spec.yaml:1:72)"
    ]


def test_policy_text_problems_point_at_policy_text(tmp_path: Path) -> None:
    repo = {
        "registryId": "111122223333",
        "repositoryName": "prod",
        "policyText": json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*"}]}
        ),
    }
    text = PRINCIPALS.replace(
        "prod: arn:aws:ecr:us-east-1:111122223333:repository/prod/app",
        "prod: {arn: 'arn:aws:ecr:us-east-1:111122223333:repository/prod/app', policy: repo}",
    ) + (
        "policies:\n  repo: {file: repo.json}\n"
        "cases: [{principal: ci, resource: prod, allow: pull}]\n"
    )
    got = errors(tmp_path, text, **{"repo.json": json.dumps(repo, indent=2)})
    assert got == [
        "repo.json:4:17: in policyText, Statement[0]: a repository policy statement needs "
        "Principal or NotPrincipal: it says who the statement applies to (repository policy "
        "'repo', attached at spec.yaml:5:81)"
    ]


def test_invalid_json_policy_file(tmp_path: Path) -> None:
    text = PRINCIPALS.replace(
        "auditor: arn:aws:iam::111122223333:user/auditor",
        "auditor: {arn: 'arn:aws:iam::111122223333:user/auditor', policies: p}",
    ) + (
        "policies:\n  p: {file: p.json}\n"
        "cases: [{principal: auditor, allow: ecr:GetAuthorizationToken}]\n"
    )
    got = errors(
        tmp_path, text, **{"p.json": '{\n  "Version": "2012-10-17",\n  "Statement": [\n}\n'}
    )
    assert got == ["p.json:4:1: invalid JSON: Expecting value"]


def test_duplicate_key_in_json_policy(tmp_path: Path) -> None:
    text = PRINCIPALS.replace(
        "auditor: arn:aws:iam::111122223333:user/auditor",
        "auditor: {arn: 'arn:aws:iam::111122223333:user/auditor', policies: p}",
    ) + (
        "policies:\n  p: {file: p.json}\n"
        "cases: [{principal: auditor, allow: ecr:GetAuthorizationToken}]\n"
    )
    got = errors(
        tmp_path,
        text,
        **{
            "p.json": (
                '{\n  "Statement": {"Effect": "Allow", "Action": "ecr:*",\n'
                '    "Action": "ecr:Get*", "Resource": "*"}\n}\n'
            )
        },
    )
    assert got == ["p.json:3:5: duplicate key 'Action' (first defined on line 2)"]


def test_unknown_action_with_suggestion(tmp_path: Path) -> None:
    text = PRINCIPALS + (
        "cases:\n  - {principal: ci, resource: prod, allow: [pull, "
        "ecr:PutImag, s3:GetObject, ecr:Nothing*]}\n"
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:7:51: unknown Amazon ECR action 'ecr:PutImag'; did you mean ecr:PutImage?",
        "spec.yaml:7:64: 's3:GetObject' is not an Amazon ECR action: ECR actions start with 'ecr:'",
        "spec.yaml:7:78: the pattern 'ecr:Nothing*' matches no Amazon ECR action",
    ]


def test_repository_action_without_resource(tmp_path: Path) -> None:
    text = PRINCIPALS + (
        "cases:\n  - principal: ci\n"
        "    allow: [ecr:PutImage, ecr:GetAuthorizationToken]\n"
        "    deny: [ecr:Get*, push]\n"
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:8:13: ecr:PutImage acts on a repository; name a resource",
        "spec.yaml:9:12: ecr:Get* matches actions that act on a repository "
        "(ecr:GetDownloadUrlForLayer, ecr:GetImageCopyStatus, ecr:GetLifecyclePolicy, "
        "ecr:GetLifecyclePolicyPreview, ecr:GetRepositoryPolicy); name a resource",
        "spec.yaml:9:22: push acts on a repository (ecr:GetAuthorizationToken, "
        "ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, "
        "ecr:CompleteLayerUpload, ecr:PutImage, ecr:BatchGetImage); name a resource",
    ]


def test_contradicting_expectations_for_one_action(tmp_path: Path) -> None:
    text = PRINCIPALS + (
        "cases:\n  - principal: ci\n    resource: prod\n"
        "    allow: [ecr:PutImage]\n    deny: [ecr:Put*]\n"
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:10:12: ecr:PutImage is expected to be denied here but allowed at 9:13 of "
        "the same case"
    ]


def test_bad_arns(tmp_path: Path) -> None:
    text = """\
    principals:
      ci: arn:aws:iam::11112222333:role/ci
      svc: {service: codebuild}
    resources:
      prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/Prod"}
    cases: [{principal: [ci, svc], resource: prod, allow: pull}]
    """
    assert errors(tmp_path, text) == [
        "spec.yaml:2:7: not a principal ARN: 'arn:aws:iam::11112222333:role/ci'; expected "
        "arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:role/NAME, "
        "arn:aws:iam::ACCOUNT:root, "
        "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or "
        "arn:aws:sts::ACCOUNT:federated-user/NAME",
        "spec.yaml:3:18: not a service principal: 'codebuild'; expected NAME.amazonaws.com",
        "spec.yaml:5:15: not an ECR repository ARN: "
        "'arn:aws:ecr:us-east-1:111122223333:repository/Prod'; expected "
        "arn:aws:ecr:REGION:ACCOUNT:repository/NAME (lowercase name, / allowed)",
    ]


def test_bad_context_values(tmp_path: Path) -> None:
    text = PRINCIPALS + dedent("""\
    context: {aws:SourceIp: {a: 1}}
    cases:
      - principal: ci
        allow: ecr:GetAuthorizationToken
        context: {aws:SourceVpc: null, aws:TagKeys: [a, [b]], SourceIp: x}
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:6:25: expected a string or a list of strings, got a mapping",
        "spec.yaml:10:30: expected a string or a list of strings, got nothing (null)",
        "spec.yaml:10:53: expected a string or a list of strings; this list holds a list",
        "spec.yaml:10:59: expected a condition key such as aws:SourceIp, got 'SourceIp'",
    ]


def test_action_without_expect_and_expect_without_action(tmp_path: Path) -> None:
    text = PRINCIPALS + dedent("""\
    cases:
      - principal: ci
        action: ecr:GetAuthorizationToken
      - principal: ci
        expect: allow
        allow: ecr:GetAuthorizationToken
      - principal: ci
        action: ecr:GetAuthorizationToken
        expect: alow
      - principal: ci
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:8:5: 'action' needs 'expect' (allow, deny, explicit-deny or implicit-deny)",
        "spec.yaml:10:5: 'expect' needs 'action' (the actions it is about)",
        "spec.yaml:14:13: expected one of allow, deny, explicit-deny, implicit-deny, got the "
        "text 'alow'; did you mean 'allow'?",
        "spec.yaml:15:5: a case needs 'allow', 'deny', or 'action' with 'expect'",
    ]


def test_session_and_session_policy_on_a_user(tmp_path: Path) -> None:
    text = """\
    principals:
      auditor:
        arn: arn:aws:iam::111122223333:user/auditor
        session: audit
        session-policy: narrow
    policies:
      narrow: {document: {Statement: {Effect: Allow, Action: "ecr:*", Resource: "*"}}}
    cases: [{principal: auditor, allow: ecr:GetAuthorizationToken}]
    """
    assert errors(tmp_path, text) == [
        "spec.yaml:4:5: 'session' is only for roles; principal 'auditor' is an IAM user "
        "(arn:aws:iam::111122223333:user/auditor)",
        "spec.yaml:5:5: 'session-policy' is only for roles and federated users; principal "
        "'auditor' is an IAM user (arn:aws:iam::111122223333:user/auditor)",
    ]


def test_principal_without_arn_and_service_mixed(tmp_path: Path) -> None:
    text = """\
    principals:
      ci: {policies: [p]}
      svc: {service: codebuild.amazonaws.com, tags: {a: b}}
    cases: [{principal: [ci, svc], allow: ecr:GetAuthorizationToken}]
    """
    assert errors(tmp_path, text) == [
        "spec.yaml:2:3: principal 'ci' needs 'arn' (an IAM or STS ARN) or 'service' (such as "
        "codebuild.amazonaws.com)",
        "spec.yaml:3:43: a service principal has only 'service'; 'tags' does not apply",
    ]


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    keys = (
        "description, include, import, policies, principals, resources, organization, "
        "closed-accounts, context, "
        "cases"
    )
    assert errors(tmp_path, "") == [
        "spec.yaml:1:1: the file is empty; a spec needs at least 'cases'"
    ]
    assert errors(tmp_path, "# only a comment\n") == [
        "spec.yaml:1:1: the file is empty; a spec needs at least 'cases'"
    ]
    assert errors(tmp_path, "- a\n- b\n") == [
        f"spec.yaml:1:1: expected a mapping of top-level keys ({keys}), got a list"
    ]
    assert errors(tmp_path, "just text\n") == [
        f"spec.yaml:1:1: expected a mapping of top-level keys ({keys}), got the text 'just text'"
    ]


def test_no_cases_and_empty_cases(tmp_path: Path) -> None:
    assert errors(tmp_path, PRINCIPALS) == [
        "spec.yaml:1:1: a spec needs 'cases' (a list of expectations); if this file only shares "
        "definitions, start its name with '_' and include it from a spec"
    ]
    assert errors(tmp_path, PRINCIPALS + "cases: []\n") == [
        "spec.yaml:6:8: expected a list of cases, got an empty list"
    ]


def test_account_ids(tmp_path: Path) -> None:
    text = PRINCIPALS + dedent("""\
    organization:
      id: o-1
      management-account: 99999999999
      accounts: [111_122_223_333, "1111-2222-3333"]
    cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:7:7: expected an organization id such as o-a1b2c3d4e5, got 'o-1'",
        "spec.yaml:8:23: expected an account id (12 digits), got the number 99999999999; write "
        'account ids as quoted text ("012345678901") so YAML keeps every digit',
        "spec.yaml:9:14: expected an account id (12 digits), got the number 111_122_223_333; "
        'write account ids as quoted text ("012345678901") so YAML keeps every digit',
        "spec.yaml:9:31: expected an account id (12 digits, quoted), got the text '1111-2222-3333'",
    ]


def test_invalid_names(tmp_path: Path) -> None:
    text = (
        "principals:\n  'my ci': arn:aws:iam::111122223333:user/ci\n"
        "cases: [{principal: my ci, allow: ecr:GetAuthorizationToken}]\n"
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:2:3: invalid principal name 'my ci': names use letters, digits, '-', '_' and "
        "'.' (they appear in test ids) and start with a letter or digit"
    ]


def test_predefined_policy_names(tmp_path: Path) -> None:
    text = PRINCIPALS + (
        "policies:\n  FullAWSAccess: {document: {}}\norganization: {scps: []}\n"
        "cases: [{principal: ci, allow: ecr:GetAuthorizationToken}]\n"
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:7:3: 'FullAWSAccess' is a predefined policy name; choose another name",
        "spec.yaml:8:22: an account always has at least one SCP attached; list at least one "
        "(FullAWSAccess is predefined)",
    ]


def test_non_utf8_file(tmp_path: Path) -> None:
    assert errors(tmp_path, b"cases:\n  - name: caf\xe9\n") == [  # type: ignore[arg-type]
        "spec.yaml:2:14: the file is not UTF-8 text (byte 0xe9 cannot be decoded); save it as UTF-8"
    ]


def test_control_characters(tmp_path: Path) -> None:
    assert errors(tmp_path, "cases:\n  - name: a\x07b\n") == [
        "spec.yaml:2:12: invalid YAML: the character U+0007 is not allowed in YAML text"
    ]


def test_huge_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runner.spec.yamlfiles.MAX_FILE_BYTES", 100)
    assert errors(tmp_path, "description: " + "x" * 200 + "\n") == [
        "spec.yaml:1:1: the file is too large (214 bytes); files of at most 100 bytes are read"
    ]


def test_deep_nesting(tmp_path: Path) -> None:
    assert errors(tmp_path, "cases: " + "[" * 100 + "]" * 100 + "\n") == [
        "spec.yaml:1:71: values are nested more than 64 levels deep"
    ]


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        loader.load_spec(tmp_path / "nope.yaml", display_root=tmp_path)
    assert str(info.value) == "nope.yaml: no such file"


def test_a_spec_path_that_is_a_loop_of_symbolic_links(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    with pytest.raises(SpecError) as info:
        loader.load_spec(tmp_path / "a.yaml", display_root=tmp_path)
    assert str(info.value) == "a.yaml: a loop of symbolic links, no file at its end"


def test_many_problems_in_one_pass(tmp_path: Path) -> None:
    text = PRINCIPALS + dedent("""\
    cases:
      - {principal: cii, resource: prod, allow: pull}
      - {principal: ci, resource: prd, allow: pull}
      - {principal: ci, resource: prod, allow: ecr:Pushh}
    """)
    assert [p.split(": ", 1)[0] for p in errors(tmp_path, text)] == [
        "spec.yaml:7:17",
        "spec.yaml:8:31",
        "spec.yaml:9:44",
    ]


# ---------------------------------------------------------------------------------------------
# The collection rule


@pytest.mark.parametrize(
    ("name", "text", "collected"),
    [
        ("prod.yaml", "description: x\ncases:\n  - principal: ci\n", True),
        ("prod.yml", "principals:\n  ci: arn\n\ncases: []\n", True),
        ("typo.yaml", "principals: {}\ncase:\n  - principal: ci\n", True),
        ("typo2.yaml", "principles:\n  ci: arn\nresourses: {}\n", True),
        ("Cases.yaml", '"Cases": []\n', True),
        ("defs.yaml", "principals:\n  ci: arn\npolicies: {}\n", True),
        ("_org.yaml", "principals: {}\ncases: []\n", False),
        ("notes.txt", "cases: []\n", False),
        (
            "docker-compose.yml",
            "version: '3'\nservices:\n  web:\n    image: nginx\nvolumes: {}\nnetworks: {}\n",
            False,
        ),
        ("compose.yaml", "services:\n  db:\n    image: postgres\n", False),
        (
            "ci.yml",
            "name: CI\non:\n  push:\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
            "permissions:\n  contents: read\nenv:\n  A: b\n",
            False,
        ),
        (
            "template.yaml",
            "AWSTemplateFormatVersion: '2010-09-09'\nDescription: repo\nParameters: {}\n"
            "Resources:\n  Repo:\n    Type: AWS::ECR::Repository\n    Properties:\n"
            "      RepositoryName: !Ref Name\nOutputs: {}\n",
            False,
        ),
        ("sam.yaml", "Description: x\nResources:\n  Fn: !GetAtt X.Arn\n", False),
        ("mkdocs.yml", "site_name: Docs\nnav:\n  - Home: index.md\ntheme: material\n", False),
        (
            "deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: 1\n",
            False,
        ),
        (".pre-commit-config.yaml", "repos:\n  - repo: https://x\n    rev: v1\n", False),
        ("engine.yaml", "engine_cases:\n  - name: x\n", False),
        ("empty.yaml", "", False),
        ("list.yaml", "- cases\n- principals\n", False),
        ("binary.yaml", "\udcff\n", False),
        (
            "flow.yaml",
            "# one flow mapping\n---\n{principals: {p: 'arn:aws:iam::111122223333:user/p'},\n"
            " cases: [{principal: p, action: ecr:GetAuthorizationToken, expect: allow}]}\n",
            True,
        ),
        ("flow-other.yaml", "{name: CI, on: push, jobs: {}}\n", False),
        ("flow-tagged.yaml", "{Resources: !Ref X, cases: []}\n", True),
        ("flow-broken.yaml", "{cases: [\n", False),
    ],
)
def test_collection_rule(tmp_path: Path, name: str, text: str, collected: bool) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    assert loader.looks_like_spec(path) is collected


def test_collection_rule_on_a_directory_of_unrelated_yaml() -> None:
    folder = DATA / "collection"
    found = sorted(p.name for p in folder.iterdir() if loader.looks_like_spec(p))
    assert found == ["misspelt.yaml", "spec.yml"]


def test_collection_rule_never_raises(tmp_path: Path) -> None:
    assert loader.looks_like_spec(tmp_path / "missing.yaml") is False
    (tmp_path / "dir.yaml").mkdir()
    assert loader.looks_like_spec(tmp_path / "dir.yaml") is False


# ---------------------------------------------------------------------------------------------
# The JSON Schema says the same as the loader


def test_schema_lists_exactly_the_keys_the_loader_reads() -> None:
    schema = json.loads((Path(runner.__file__).parent / "data" / "spec.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    props = schema["properties"]
    assert tuple(props) == loader.SPEC_KEYS
    assert set(props["policies"]["additionalProperties"]["properties"]) == {"file", "document"}
    arn_form, service_form, class_form = props["principals"]["additionalProperties"]["oneOf"][1:]
    assert set(class_form["properties"]["anyone"]["properties"]) == {
        "organization",
        "account",
        "type",
        "except",
    }
    assert set(arn_form["properties"]) | set(service_form["properties"]) == {
        "arn",
        "session",
        "policies",
        "boundary",
        "session-policy",
        "tags",
        "service",
    }
    resource_form = props["resources"]["additionalProperties"]["oneOf"][1]
    assert set(resource_form["properties"]) == {"arn", "policy", "tags"}
    assert set(props["organization"]["properties"]) == {
        "id",
        "management-account",
        "accounts",
        "scps",
        "rcps",
    }
    case = props["cases"]["items"]
    assert tuple(case["properties"]) == (
        "name",
        "principal",
        "resource",
        "allow",
        "deny",
        "action",
        "expect",
        "only",
        "context",
        "exception",
    )
    assert case["properties"]["expect"]["enum"] == list(model.EXPECTATIONS)


TAGGING = """\
principals:
  ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [tagging]}
resources:
  prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod/app", policy: repo}
policies:
  tagging:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: OnlyTeamTags
          Effect: Allow
          Action: ecr:TagResource
          Resource: "*"
          Condition: {StringEquals: {aws:TagKeys: [team, env]}}
  repo:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: "*"
          Action: ecr:TagResource
          Condition: {ForAllValues:StringEquals: {aws:tagkeys: [team, env]}}
"""


def test_several_values_for_a_key_tested_by_a_single_valued_operator(tmp_path: Path) -> None:
    """AWS does not say how StringEquals reads a key with several request values, so the spec
    is refused where it would need that answer: at the key, case-level or file-level."""
    text = TAGGING + dedent("""\
    context: {aws:TagKeys: [team, owner]}
    cases:
      - principal: ci
        resource: prod
        allow: ecr:TagResource
      - principal: ci
        resource: prod
        allow: ecr:TagResource
        context: {aws:TagKeys: [team, env]}
      - principal: ci
        resource: prod
        deny: ecr:TagResource
      - principal: ci
        resource: prod
        allow: ecr:TagResource
        context: {aws:TagKeys: team}
    """)
    expected = (
        "has 2 values, but statement OnlyTeamTags of policy 'tagging' tests it with "
        "StringEquals, which compares one value; AWS documents only ForAllValues: and "
        'ForAnyValue: for a key with several values ("Multivalued context keys require a '
        'condition set operator"). Give aws:TagKeys one value here, or test it with '
        "ForAnyValue:StringEquals or ForAllValues:StringEquals"
    )
    assert errors(tmp_path, text) == [
        f"spec.yaml:23:11: context key 'aws:TagKeys' {expected}",  # once for two cases
        f"spec.yaml:31:15: context key 'aws:TagKeys' {expected}",
    ]


def test_several_values_for_a_key_read_in_a_policy_variable(tmp_path: Path) -> None:
    """A policy variable takes one value ("You can't use a multivalued condition key as a
    variable"): a key given several values that a statement reads in one is refused, as the
    default or the missing value the engine would take for it is a guess."""
    text = dedent("""\
    policies:
      p:
        document:
          Version: "2012-10-17"
          Statement:
            - Sid: SameTeam
              Effect: Allow
              Action: ecr:GetAuthorizationToken
              Resource: "*"
              Condition: {StringEquals: {aws:PrincipalTag/team: "${aws:RequestTag/team, 'x'}"}}
    principals:
      ci: {arn: "arn:aws:iam::111122223333:role/r", policies: [p], tags: {team: x}}
    cases:
      - principal: ci
        action: ecr:GetAuthorizationToken
        context: {aws:RequestTag/team: [a, b]}
        expect: allow
      - principal: ci
        action: ecr:GetAuthorizationToken
        context: {aws:RequestTag/team: x}
        expect: allow
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:16:15: context key 'aws:RequestTag/team' has 2 values, but statement "
        "SameTeam of policy 'p' reads it in a policy variable, which takes one value (AWS: "
        '"You can\'t use a multivalued condition key as a variable"). Give '
        "aws:RequestTag/team one value here"
    ]


def test_several_values_are_fine_for_set_operators_and_untested_keys(tmp_path: Path) -> None:
    text = TAGGING.replace(
        "Condition: {StringEquals: {aws:TagKeys: [team, env]}}",
        "Condition: {ForAnyValue:StringEquals: {aws:TagKeys: [team, env]}, "
        "StringEquals: {aws:SourceVpc: vpc-1}}",
    ) + dedent("""\
    cases:
      - principal: ci
        resource: prod
        allow: ecr:TagResource
        context: {aws:TagKeys: [team, env], aws:SourceVpc: vpc-1, aws:CalledVia: [a, b]}
    """)
    spec = load(tmp_path, text)
    assert [c.context["aws:TagKeys"] for c in spec.checks] == [("team", "env")]


def test_a_policy_text_that_repeats_a_key_is_refused(tmp_path: Path) -> None:
    """JSON keeps the last of two equal keys (this Deny would have become an Allow); AWS
    rejects the document, and so does the loader, where the text is."""
    text = dedent("""\
    principals:
      ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [p]}
    policies:
      p:
        document: '{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Effect": "Allow", "Action": "ecr:*", "Resource": "*"}}'
    cases:
      - principal: ci
        deny: ecr:GetAuthorizationToken
    """)  # noqa: E501
    assert errors(tmp_path, text) == [
        "spec.yaml:5:15: the document text: the key 'Effect' appears twice in one JSON object; "
        'AWS rejects a policy that repeats an element (IAM policy grammar: "Individual '
        'elements must not contain multiple instances of the same key")'
    ]


USERID = """\
principals:
  ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [own]}
  build: {service: codebuild.amazonaws.com}
resources:
  prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod/app", policy: repo}
policies:
  own:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: Pull
          Effect: Allow
          Action: [ecr:BatchGetImage, ecr:GetAuthorizationToken]
          Resource: "*"
        - Sid: OwnPrefix
          Effect: Allow
          Action: ecr:PutImage
          Resource: "arn:aws:ecr:*:111122223333:repository/${aws:userid}/*"
        - Sid: NotThatSession
          Effect: Deny
          Action: ecr:DeleteRepository
          Resource: "*"
          Condition: {StringLike: {aws:userid: "*:breakglass"}}
  repo:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: Builds
          Effect: Allow
          Principal: {Service: codebuild.amazonaws.com}
          Action: ecr:BatchGetImage
          Condition: {StringEquals: {aws:PrincipalAccount: "111122223333"}}
"""


def test_a_key_aws_always_sets_but_the_tool_cannot_know_must_be_given(
    tmp_path: Path,
) -> None:
    """aws:userid of a role session is ROLE-ID:SESSION; answering as if it were missing (it
    never is) would be a guess, so a check whose statements read it is an error that says
    which key to give; the other checks of the file run (issue 10, item 10)."""
    text = USERID + dedent("""\
    cases:
      - principal: ci
        resource: prod
        allow: pull
      - principal: ci
        resource: prod
        deny: ecr:DeleteRepository
      - principal: ci
        resource: prod
        allow: ecr:PutImage
      - principal: build
        resource: prod
        allow: ecr:BatchGetImage
    """)
    role = (
        "which AWS puts in every request of 'ci' but whose value is the role's unique ID and "
        "the session name, which the tool cannot know; give it in this case's context "
        "(for example aws:userid: AROADBQP57FF2AEXAMPLE:session-name)"
    )
    spec = load(tmp_path, text)
    assert [(c.test_id, c.error) for c in spec.checks] == [
        ("case1[ci-prod-pull]", None),
        (
            "case2[ci-prod-ecr:DeleteRepository]",
            f"spec.yaml:37:5: statement NotThatSession of policy 'own' reads aws:userid, {role}",
        ),
        (
            "case3[ci-prod-ecr:PutImage]",
            f"spec.yaml:40:5: statement OwnPrefix of policy 'own' reads aws:userid, {role}",
        ),
        (
            "case4[build-prod-ecr:BatchGetImage]",
            "spec.yaml:43:5: statement Builds of policy 'repo' reads aws:PrincipalAccount, which "
            "AWS puts in every request of 'build' but whose value is not documented for service "
            "principals, which the tool cannot know; give it in this case's context (for "
            'example aws:PrincipalAccount: "111122223333")',
        ),
    ]


_PERIMETER = """\
principals:
  build: {service: codebuild.amazonaws.com}
resources:
  prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod/app", policy: repo}
policies:
  repo:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: Builds
          Effect: Allow
          Principal: {Service: codebuild.amazonaws.com}
          Action: ecr:BatchGetImage
        - Sid: Perimeter
          Effect: Deny
          Principal: "*"
          Action: ecr:BatchGetImage
          Condition:
            StringNotEqualsIfExists: {aws:PrincipalAccount: "111122223333"}
            BOOL
        - Sid: OnlyAdmins
          Effect: Deny
          Principal: {AWS: "arn:aws:iam::111122223333:role/admin"}
          Action: "ecr:*"
          Condition: {StringNotEquals: {aws:PrincipalAccount: "111122223333"}}
cases:
  - {principal: build, resource: prod, allow: ecr:BatchGetImage}
  - {principal: build, resource: prod, deny: ecr:PutImage}
"""


def test_an_unknowable_key_that_cannot_change_the_decision_is_no_error(tmp_path: Path) -> None:
    """A data perimeter reads aws:PrincipalAccount, but its BoolIfExists on
    aws:PrincipalIsAWSService is false for a service principal whatever the account, and a
    statement naming another principal cannot apply: no check needs the value."""
    bool_test = 'BoolIfExists: {aws:PrincipalIsAWSService: "false"}'
    spec = load(tmp_path, _PERIMETER.replace("BOOL", bool_test))
    assert [(c.test_id, c.error) for c in spec.checks] == [
        ("case1[build-prod-ecr:BatchGetImage]", None),
        ("case2[build-prod-ecr:PutImage]", None),
    ]
    assert checks.run_check(spec.checks[0])["decision"] == "allow"
    # without the BoolIfExists the account decides the pull: that check, and only it, is an
    # error (the statement of the other check names only the admin role)
    spec = load(tmp_path, _PERIMETER.replace("BOOL", 'Bool: {aws:SecureTransport: "true"}'))
    pull, push = spec.checks
    assert push.error is None
    assert pull.error == (
        "spec.yaml:27:5: statement Perimeter of policy 'repo' reads aws:PrincipalAccount, which "
        "AWS puts in every request of 'build' but whose value is not documented for service "
        "principals, which the tool cannot know; give it in this case's context (for example "
        'aws:PrincipalAccount: "111122223333")'
    )


_ALWAYS_SENT = """\
organization: {id: o-a1b2c3d4e5, management-account: "999999999999", accounts: ["111122223333"]}
policies:
  ecr-all: {document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ecr:*", Resource: "*"}]}}
  open: {document: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: "*", Action: "ecr:*"}]}}
  guards:
    document:
      Version: "2012-10-17"
      Statement:
        - {Sid: Revoked, Effect: Deny, Action: ecr:BatchGetImage, Resource: "*", Condition: {DateLessThan: {aws:TokenIssueTime: "2026-05-31T12:00:00Z"}}}
        - {Sid: NoMfa, Effect: Deny, Action: ecr:PutImage, Resource: "*", Condition: {Bool: {aws:MultiFactorAuthPresent: "false"}}}
        - {Sid: Sandbox, Effect: Deny, Action: ecr:DeleteRepository, Resource: "*", Condition: {"ForAnyValue:StringLike": {aws:PrincipalOrgPaths: "o-a1b2c3d4e5/*/ou-sandbox/*"}}}
        - {Sid: CliOnly, Effect: Deny, Action: ecr:TagResource, Resource: "*", Condition: {StringNotLike: {aws:UserAgent: "aws-cli/*"}}}
        - {Sid: Regions, Effect: Deny, Action: ecr:GetAuthorizationToken, Resource: "*", Condition: {StringNotEquals: {aws:RequestedRegion: us-east-1}}}
        - {Sid: Units, Effect: Deny, Action: ecr:UntagResource, Resource: "*", Condition: {"ForAnyValue:StringLike": {aws:ResourceOrgPaths: "o-a1b2c3d4e5/*/ou-prod/*"}}}
principals:
  ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [ecr-all, guards]}
  alice: {arn: "arn:aws:iam::444455556666:user/alice", policies: [ecr-all, guards]}
resources:
  prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod/app"}
  vendor: {arn: "arn:aws:ecr:us-east-1:777788889999:repository/vendor", policy: open}
"""  # noqa: E501


def test_keys_aws_always_sends_with_values_the_tool_cannot_know(tmp_path: Path) -> None:
    """AWS puts aws:TokenIssueTime and aws:MultiFactorAuthPresent in every request signed with
    temporary credentials (every role session), aws:PrincipalOrgPaths / aws:ResourceOrgPaths
    when the account is in an organization, aws:UserAgent and aws:RequestedRegion in every
    request: a check that a statement reading one of them may decide is an error naming the
    key to give, not an answer as if the key were missing ("AWS global condition context
    keys"). An IAM user outside the organization may sign with long-term access keys (no
    session keys) and is outside the organization: only its user agent is unknown."""
    cases = dedent("""\
    cases:
      - {principal: ci, resource: prod, allow: ecr:BatchGetImage}
      - {principal: ci, resource: prod, allow: ecr:PutImage}
      - {principal: ci, resource: prod, allow: ecr:DeleteRepository}
      - {principal: ci, resource: prod, allow: ecr:TagResource}
      - {principal: ci, allow: ecr:GetAuthorizationToken}
      - {principal: ci, resource: prod, allow: ecr:GetAuthorizationToken}
      - {principal: ci, resource: prod, allow: ecr:UntagResource}
      - {principal: alice, resource: vendor, allow: [ecr:BatchGetImage, ecr:PutImage, ecr:DeleteRepository, ecr:UntagResource]}
      - {principal: alice, resource: vendor, allow: ecr:TagResource}
      - principal: ci
        resource: prod
        allow: [ecr:BatchGetImage, ecr:PutImage, ecr:DeleteRepository, ecr:TagResource]
        context:
          aws:TokenIssueTime: "2026-06-01T08:00:00Z"
          aws:MultiFactorAuthPresent: true
          aws:PrincipalOrgPaths: o-a1b2c3d4e5/r-ab12/ou-prod/
          aws:UserAgent: aws-cli/2.15.0
      - {principal: ci, resource: prod, deny: ecr:BatchGetImage, context: {aws:TokenIssueTime: "2026-05-30T08:00:00Z"}}
    """)  # noqa: E501
    spec = load(tmp_path, _ALWAYS_SENT + cases)
    asked = "which the tool cannot know; give it in this case's context (for example"
    where = {
        "Revoked": ("aws:TokenIssueTime", "'ci'", "when the session's temporary credentials "
                    "were issued", "2026-05-31T12:00:00Z"),
        "NoMfa": ("aws:MultiFactorAuthPresent", "'ci'", "whether the session was created with "
                  "multi-factor authentication", '"false"'),
        "Sandbox": ("aws:PrincipalOrgPaths", "'ci'", "the path of its account's organizational "
                    "units", "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"),
        "CliOnly": ("aws:UserAgent", "'ci'", "the user agent of the client that sends it",
                    "aws-cli/2.15.0"),
        "Regions": ("aws:RequestedRegion", "'ci'", "the Region it is sent to (the case names "
                    "no repository)", "us-east-1"),
        "Units": ("aws:ResourceOrgPaths", "'ci'", "the path of the organizational units of "
                  "the account that owns the resource", "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/"),
    }  # fmt: skip

    def error(line: int, sid: str, who: str = "'ci'") -> str:
        key, _who, what, example = where[sid]
        return (
            f"spec.yaml:{line}:5: statement {sid} of policy 'guards' reads {key}, which AWS puts "
            f"in every request of {who} but whose value is {what}, {asked} {key}: {example})"
        )

    assert [(c.test_id, c.error) for c in spec.checks] == [
        ("case1[ci-prod-ecr:BatchGetImage]", error(22, "Revoked")),
        ("case2[ci-prod-ecr:PutImage]", error(23, "NoMfa")),
        ("case3[ci-prod-ecr:DeleteRepository]", error(24, "Sandbox")),
        ("case4[ci-prod-ecr:TagResource]", error(25, "CliOnly")),
        ("case5[ci-ecr:GetAuthorizationToken]", error(26, "Regions")),
        # with a repository the Region is the repository's
        ("case6[ci-prod-ecr:GetAuthorizationToken]", None),
        ("case7[ci-prod-ecr:UntagResource]", error(28, "Units")),
        ("case8[alice-vendor-ecr:BatchGetImage]", None),
        ("case8[alice-vendor-ecr:PutImage]", None),
        ("case8[alice-vendor-ecr:DeleteRepository]", None),
        ("case8[alice-vendor-ecr:UntagResource]", None),
        ("case9[alice-vendor-ecr:TagResource]", error(30, "CliOnly", "'alice'")),
        ("case10[ci-prod-ecr:BatchGetImage]", None),
        ("case10[ci-prod-ecr:PutImage]", None),
        ("case10[ci-prod-ecr:DeleteRepository]", None),
        ("case10[ci-prod-ecr:TagResource]", None),
        ("case11[ci-prod-ecr:BatchGetImage]", None),
    ]
    # given in the context, the key decides
    decided = [checks.run_check(c)["decision"] for c in spec.checks if c.error is None]
    assert decided == ["allow"] * 9 + ["explicit-deny"]


def test_given_in_the_context_the_key_decides(tmp_path: Path) -> None:
    text = USERID + dedent("""\
    cases:
      - principal: ci
        resource: prod
        action: ecr:DeleteRepository
        expect: explicit-deny
        context: {aws:userid: "AROADBQP57FF2AEXAMPLE:breakglass"}
      - principal: build
        resource: prod
        allow: ecr:BatchGetImage
        context: {aws:PrincipalAccount: "111122223333"}
    """)
    spec = load(tmp_path, text)
    assert [checks.run_check(c)["decision"] for c in spec.checks] == ["explicit-deny", "allow"]


def test_message_fixes_for_people(tmp_path: Path) -> None:
    """An operation misspelt points to the operation; a principal key that cannot be a role
    session name says how to name one."""
    text = dedent("""\
    principals:
      r: arn:aws:iam::111122223333:role/deploy
      ci: {arn: "arn:aws:iam::111122223333:role/ci", sesion: x}
    resources:
      prod: arn:aws:ecr:us-east-1:111122223333:repository/prod/app
    cases:
      - principal: ci
        resource: prod
        deny: [psuh, ecr:pull]
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:2:6: the principal's name 'r' is its role session name unless 'session' "
        "gives one, and a role session name has 2 to 64 letters, digits or the characters "
        "=,.@_-; write r: {arn: arn:aws:iam::111122223333:role/deploy, session: NAME}",
        "spec.yaml:3:50: unknown key 'sesion' in principal 'ci'; did you mean 'session'? "
        "Valid keys: arn, session, policies, boundary, session-policy, tags, service",
        "spec.yaml:9:12: unknown action 'psuh'; did you mean the operation 'push' (every "
        "action `docker push` needs: ecr:GetAuthorizationToken, "
        "ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, "
        "ecr:CompleteLayerUpload, ecr:PutImage, ecr:BatchGetImage)?",
        "spec.yaml:9:18: unknown action 'ecr:pull'; did you mean the operation 'pull' (every "
        "action `docker pull` needs: ecr:GetAuthorizationToken, ecr:BatchGetImage, "
        "ecr:GetDownloadUrlForLayer)?",
    ]


def test_an_unknown_key_without_a_near_miss_still_reads_as_a_sentence(tmp_path: Path) -> None:
    text = PRINCIPALS + "zzz: 1\ncases:\n  - {principal: ci, allow: ecr:GetAuthorizationToken}\n"
    [message] = errors(tmp_path, text)
    assert message.startswith("spec.yaml:6:1: unknown top-level key 'zzz'; valid keys: ")


def test_hostile_numbers_are_errors_with_a_location(tmp_path: Path) -> None:
    """Python refuses to convert an integer of more than 4,300 digits (ValueError), and an
    epoch date of thousands of digits: each is a located problem, never a traceback."""
    huge = "9" * 5000
    (tmp_path / "p.json").write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", '
        '"Resource": "*", "Condition": {"NumericLessThan": {"aws:EpochTime": ' + huge + "}}}]}"
    )
    text = dedent(f"""\
    principals:
      ci: {{arn: "arn:aws:iam::111122223333:role/ci", policies: [from-file, late]}}
    policies:
      from-file: {{file: p.json}}
      late:
        document:
          Version: "2012-10-17"
          Statement:
            - {{Effect: Allow, Action: "ecr:*", Resource: "*", Condition: {{DateLessThan: {{aws:CurrentTime: "{huge}"}}}}}}
    cases:
      - principal: ci
        allow: ecr:GetAuthorizationToken
    """)  # noqa: E501
    problems = errors(tmp_path, text)
    column = (tmp_path / "p.json").read_text().index(huge) + 1
    assert problems[0] == (
        f"p.json:1:{column}: invalid JSON: a number of 5,000 digits; numbers of at most 4,300 "
        "digits are read (quote it if it is meant as text)"
    )
    assert problems[1].startswith(
        "spec.yaml:9:86: Statement[0].Condition.DateLessThan.aws:CurrentTime: DateLessThan "
        "value '" + "9" * 60 + "'... (5,000 characters)"
    )
    assert problems[1].endswith("(identity policy 'late', attached at spec.yaml:2:72)")
    assert len(problems[1]) < 400
    assert len(problems) == 2


def test_a_huge_epoch_in_the_context_is_a_value_that_matches_no_date(tmp_path: Path) -> None:
    text = dedent(f"""\
    principals:
      ci: {{arn: "arn:aws:iam::111122223333:role/ci", policies: [until]}}
    policies:
      until:
        document:
          Version: "2012-10-17"
          Statement:
            - {{Effect: Allow, Action: "ecr:*", Resource: "*", Condition: {{DateLessThan: {{aws:EpochTime: "1900000000"}}}}}}
    cases:
      - principal: ci
        action: ecr:GetAuthorizationToken
        expect: implicit-deny
        context: {{aws:EpochTime: "{"9" * 5000}"}}
    """)  # noqa: E501
    spec = load(tmp_path, text)
    assert checks.run_check(spec.checks[0])["decision"] == "implicit-deny"


def test_only_yaml_files_can_be_included(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET_TOKEN=supersecret123\n")
    text = (
        "include: [.env, /etc/passwd]\n"
        + PRINCIPALS
        + dedent("""\
    cases:
      - principal: ci
        allow: ecr:GetAuthorizationToken
    """)
    )
    assert errors(tmp_path, text) == [
        "spec.yaml:1:11: cannot include '.env': an include file is a .yaml or .yml file of "
        "definitions",
        "spec.yaml:1:17: cannot include '/etc/passwd': an include file is a .yaml or .yml file "
        "of definitions",
    ]


def test_the_collection_rule_reads_a_long_line_without_a_colon_quickly(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text("A" + " " * 262_000 + "x\n")
    assert loader.looks_like_spec(path) is False  # used to take about a minute


def test_a_utf16_spec_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    text = PRINCIPALS + "cases:\n  - {principal: ci, allow: ecr:GetAuthorizationToken}\n"
    (tmp_path / "spec.yaml").write_bytes(text.encode("utf-16"))
    assert loader.looks_like_spec(tmp_path / "spec.yaml")
    spec = loader.load_spec(tmp_path / "spec.yaml", display_root=tmp_path)
    assert [c.test_id for c in spec.checks] == ["case1[ci-ecr:GetAuthorizationToken]"]


def test_several_values_are_fine_where_no_statement_of_the_actions_compares_one(
    tmp_path: Path,
) -> None:
    text = TAGGING + dedent("""\
    cases:
      - principal: ci
        resource: prod
        deny: ecr:DeleteRepository
        context: {aws:TagKeys: [team, owner]}
    """)
    spec = load(tmp_path, text)
    assert [c.action for c in spec.checks] == ["ecr:DeleteRepository"]


_REPEATED_POLICY = """\
    policies:
      repo:
        document:
          Version: "2012-10-17"
          Statement:
            - Sid: Pull
              Effect: Allow
              Principal: {AWS: "arn:aws:iam::111122223333:root"}
              Action: [ecr:BatchGetImage, ecr:GetDownloadUrlForLayer]
              Condition: {StringEquals: {aws:PrincipalTag/team: [platform, "${aws:username}"]}}
            - Effect: Deny
              Principal: "*"
              Action: "ecr:Delete*"
    resources:
      prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod/app", policy: repo}
    cases:
      - {principal: ci, resource: prod, expect: explicit-deny, action: ecr:DeleteRepository}
    """


def _same_statement(a: object, b: object) -> None:
    from dataclasses import fields

    for fld in fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, fld.name), getattr(b, fld.name)
        if fld.name == "conditions" and x is not None:
            assert type(x) is type(y) and x.single_valued() == y.single_valued()
        else:
            assert x == y, fld.name


def test_a_document_repeated_in_many_files_is_placed_like_a_fresh_compile(tmp_path: Path) -> None:
    """The loader compiles a document once per process; each copy keeps its own place."""
    from dataclasses import fields

    from runner.policy import compile_policy

    first = load(
        tmp_path / "a",
        "principals:\n  ci: arn:aws:iam::111122223333:role/ci\n" + dedent(_REPEATED_POLICY),
    )
    # the same document, three lines lower and in another file
    second = load(
        tmp_path / "b",
        "# one\n# two\n# three\n"
        "principals:\n  ci: arn:aws:iam::111122223333:role/ci\n" + dedent(_REPEATED_POLICY),
    )
    (a,) = [i.policy for i in first.policies]
    (b,) = [i.policy for i in second.policies]
    assert a is not b and (a.line, [s.line for s in a.statements]) == (6, [8, 13])
    assert (b.file, b.line, [s.line for s in b.statements]) == ("spec.yaml", 9, [11, 16])
    fresh = compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Pull",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Condition": {
                        "StringEquals": {"aws:PrincipalTag/team": ["platform", "${aws:username}"]}
                    },
                },
                {"Effect": "Deny", "Principal": "*", "Action": "ecr:Delete*"},
            ],
        },
        model.PolicyKind.RESOURCE,
        name="repo",
        file="spec.yaml",
        line=9,
        statement_lines=[11, 16],
    )
    for fld in fields(fresh):
        if fld.name == "statements":
            for x, y in zip(b.statements, fresh.statements, strict=True):
                _same_statement(x, y)
        elif fld.name == "by_action":
            assert {k: [s.index for s in v] for k, v in b.by_action.items()} == {
                k: [s.index for s in v] for k, v in fresh.by_action.items()
            }
            assert all(any(s is t for t in b.statements) for v in b.by_action.values() for s in v)
        else:
            assert getattr(b, fld.name) == getattr(fresh, fld.name), fld.name
    # and the decisions are those of the second file's own policy
    from runner import checks as run

    result = run.run_check(second.checks[0])
    (repo,) = [p for p in result["steps"][0]["explanation"]["policies"] if p["name"] == "repo"]
    assert result["passed"] and (repo["file"], repo["line"]) == ("spec.yaml", 9)
    assert [(s["index"], s["line"]) for s in repo["statements"]] == [(1, 16)]


def test_a_context_value_is_bounded_in_size(tmp_path: Path) -> None:
    """A megabyte of aws:UserAgent (a hostile input that made wildcard matching crawl) and a
    key with thousands of values are located errors."""
    values = ", ".join(["x"] * 1001)
    text = PRINCIPALS + dedent(f"""\
    context: {{aws:TagKeys: [{values}]}}
    cases:
      - principal: ci
        allow: ecr:GetAuthorizationToken
        context: {{aws:SourceIp: 10.0.0.1, aws:UserAgent: {"a" * 1_000_000}}}
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:6:24: this key has 1,001 values; at most 1,000 values of a context key are read",
        "spec.yaml:10:54: this context value is 1,000,000 characters long; values of at most "
        "8,192 characters are read",
    ]
    # the longest value accepted
    spec = load(
        tmp_path,
        PRINCIPALS
        + dedent(f"""\
    cases:
      - principal: ci
        allow: ecr:GetAuthorizationToken
        context: {{aws:UserAgent: {"a" * 8192}}}
    """),
    )
    assert len(spec.checks[0].context["aws:UserAgent"][0]) == 8192


def _include_chain(root: Path, depth: int, last: str) -> None:
    for i in range(depth):
        (root / f"_inc{i}.yaml").write_text(f"include: [_inc{i + 1}.yaml]\n")
    (root / f"_inc{depth}.yaml").write_text(last)


def test_an_include_chain_of_any_depth_is_read(tmp_path: Path) -> None:
    _include_chain(tmp_path, 2000, "principals:\n  ci: arn:aws:iam::111122223333:role/ci\n")
    spec = load(
        tmp_path,
        "include: [_inc0.yaml]\ncases:\n  - {principal: ci, deny: ecr:GetAuthorizationToken}\n",
    )
    assert [c.test_id for c in spec.checks] == ["case1[ci-ecr:GetAuthorizationToken]"]


def test_a_deep_include_chain_with_a_mistake_is_located_and_other_files_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from runner.cli import main

    _include_chain(tmp_path, 2000, "principals:\n  ci: arn:aws:iam::111122223333:role/ci\n  x")
    write(
        tmp_path,
        {
            "a.yaml": "include: [_inc0.yaml]\ncases:\n  - {principal: ci, deny: pull}\n",
            "b.yaml": PRINCIPALS + "cases:\n  - {principal: ci, deny: ecr:GetAuthorizationToken}\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "."]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "_inc2000.yaml:4:1: invalid YAML: could not find expected ':' (while scanning a simple "
        "key on line 3)"
    ]
    assert [json.loads(line)["file"] for line in out.splitlines()] == ["b.yaml"]


SECRET = "root:$6$Zx9TopSecretHash0123456789abcdef:19000:0:99999:7:::\n"


def test_files_outside_the_project_are_refused_without_being_quoted(tmp_path: Path) -> None:
    """A spec cannot make the tool read a file outside the project, through a symbolic link
    or a relative path, and so it never prints one (issue 10, item 3)."""
    outside = tmp_path / "outside"
    write(outside, {"shadow": SECRET, "policy.json": SECRET})
    project = tmp_path / "project"
    write(project, {"_org.yaml": "principals:\n  ci: arn:aws:iam::111122223333:role/ci\n"})
    (project / "_shared.yaml").symlink_to(outside / "shadow")
    (project / "repo.json").symlink_to(outside / "policy.json")
    text = """\
    include: [_org.yaml, _shared.yaml, ../outside/x.yaml]
    policies:
      repo: {file: repo.json}
    resources:
      prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod/app", policy: repo}
    cases:
      - {principal: ci, resource: prod, allow: pull}
    """
    where = f"it is outside the project {project.resolve().as_posix()} (symbolic links followed)"
    problems = errors(project, text)
    assert problems == [
        f"spec.yaml:1:22: cannot include '_shared.yaml': {where}; files outside the project "
        "are never read",
        f"spec.yaml:1:36: cannot include '../outside/x.yaml': {where}; files outside the "
        "project are never read",
    ]
    # the includes fixed, the policy file is refused the same way
    problems = errors(project, text.replace("_shared.yaml, ../outside/x.yaml", "_org.yaml"))
    assert problems == [
        f"spec.yaml:3:16: policy file 'repo.json': {where}; files outside the project are "
        "never read"
    ]
    assert not any("Secret" in p for p in problems)


def test_eval_reads_only_files_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from runner.cli import main

    write(tmp_path, {"shadow.yaml": SECRET, "specs/_org.yaml": "principals: {}\n"})
    (tmp_path / "specs" / "_link.yaml").symlink_to(tmp_path / "shadow.yaml")
    write(tmp_path, {"specs/spec.yaml": "include: [_link.yaml]\n" + PRINCIPALS + "cases: []\n"})
    monkeypatch.chdir(tmp_path / "specs")
    assert main(["eval", "spec.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "spec.yaml:1:11: cannot include '_link.yaml': it is outside the project "
        f"{(tmp_path / 'specs').resolve().as_posix()}"
    )
    assert "Secret" not in err


def test_messages_quote_only_an_excerpt_of_an_input(tmp_path: Path) -> None:
    long = "x" * 5000
    text = dedent(f"""\
    principals:
      ci: arn:aws:iam::111122223333:role/{long}!
      "!{long[:999]}": arn:aws:iam::111122223333:role/b
    cases: {long}
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:3:3: invalid principal name '!xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxx'... (1,000 characters): names use letters, digits, '-', '_' and '.' (they "
        "appear in test ids) and start with a letter or digit",
        "spec.yaml:2:7: not a principal ARN: 'arn:aws:iam::111122223333:role/xxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxx'... (5,032 characters); expected arn:aws:iam::ACCOUNT:user/NAME, "
        "arn:aws:iam::ACCOUNT:role/NAME, arn:aws:iam::ACCOUNT:root, "
        "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or "
        "arn:aws:sts::ACCOUNT:federated-user/NAME",
        "spec.yaml:4:8: expected a list of cases, got the text 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (5,000 characters)",
    ]


def test_a_one_character_role_principal_with_a_session_name(tmp_path: Path) -> None:
    """The principal's key is its session name only when 'session' gives none (item 14)."""
    text = """\
    principals:
      r: {arn: "arn:aws:iam::111122223333:role/deploy", session: build-7}
    cases:
      - {principal: r, deny: ecr:GetAuthorizationToken}
    """
    spec = load(tmp_path, text)
    p = spec.checks[0].principal
    assert (p.name, p.session_arn) == ("r", "arn:aws:sts::111122223333:assumed-role/deploy/build-7")
    assert spec.checks[0].test_id == "case1[r-ecr:GetAuthorizationToken]"
    assert errors(tmp_path, text.replace("build-7", "x")) == [
        "spec.yaml:2:62: invalid role session name 'x': a role session name has 2 to 64 "
        "letters, digits or the characters =,.@_-"
    ]


def test_json_policy_problems_are_located_where_the_yaml_reader_cannot_help(
    tmp_path: Path,
) -> None:
    """A lone surrogate escape is valid JSON that YAML refuses, so the places come from the
    JSON text; a 5,000-digit number and a comment are located and explained in our words
    (issue 10, items 5 and 16)."""
    (tmp_path / "id.json").write_text(
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n'
        '    {"Sid": "A", "Effect": "Allow",\n'
        '     "Action": "ecr:GetAuthorizationToken", "Resource": "*\\ud800"}\n  ]\n}\n'
    )
    text = """\
    principals:
      ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [idp, inline, text]}
    policies:
      idp: {file: id.json}
      inline:
        document: '{"Version": "2012-10-17", /* no */ "Statement": []}'
      text:
        document: '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": {"NumericLessThan": {"ecr:n": 1%s}}}]}'
    cases:
      - {principal: ci, allow: ecr:GetAuthorizationToken}
    """ % ("0" * 5000)  # noqa: E501
    problems = errors(tmp_path, text)
    assert problems == [
        "spec.yaml:6:15: the document text is not valid JSON: JSON has no comments; remove the "
        "comment (a YAML policy file may have # comments) (line 1, column 27 of the text)",
        "spec.yaml:8:15: the document text is not valid JSON: a number of 5,001 digits; numbers "
        "of at most 4,300 digits are read (quote it if it is meant as text) (line 1, column 140 "
        "of the text)",
        "id.json:5:45: Statement[0].Resource: '*\\ud800' contains '\\ud800' (U+D800); IAM policy "
        "documents may contain only tab, line feed, carriage return and the characters U+0020 "
        "to U+00FF (\"IAM and AWS STS quotas\") (identity policy 'idp', attached at "
        "spec.yaml:2:61)",
        "id.json:5:45: Statement[0].Resource: '*\\ud800' is not a resource ARN: expected \"*\" or "
        "arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (identity policy 'idp', attached at "
        "spec.yaml:2:61)",
    ]


def test_a_wildcard_with_a_resource_means_the_actions_on_the_repository(tmp_path: Path) -> None:
    """``ecr:*`` on a repository never checks DescribeRegistry or the other account-level
    actions against it; a named account-level action is still checked (issue 10, item 6)."""
    from runner import catalog

    spec = load(
        tmp_path,
        PRINCIPALS
        + "cases:\n"
        + "  - {principal: ci, resource: prod, deny: ['ecr:*']}\n"
        + "  - {principal: ci, resource: prod, deny: [ecr:DescribeRegistry]}\n",
    )
    wildcard = [c.action for c in spec.checks if c.case_index == 0]
    assert "ecr:BatchGetImage" in wildcard and "ecr:DeleteRepository" in wildcard
    assert not any(catalog.is_account_level(a) for a in wildcard)
    assert {a for a in catalog.ACTIONS if not catalog.is_account_level(a)} == set(wildcard)
    assert [c.action for c in spec.checks if c.case_index == 1] == ["ecr:DescribeRegistry"]
    assert errors(
        tmp_path,
        PRINCIPALS + "cases:\n  - {principal: ci, resource: prod, deny: ['ecr:DescribeReg*']}\n",
    ) == [
        "spec.yaml:7:44: 'ecr:DescribeReg*' matches only actions on the registry "
        "(ecr:DescribeRegistry), none on a repository; name them in a case without 'resource'"
    ]


def test_unknown_condition_keys_are_located_warnings(tmp_path: Path) -> None:
    """A misspelt aws: key is accepted by AWS and never matches: the spec loads, with a
    warning at the key, once however often the policy is attached (issue 10, item 9)."""
    (tmp_path / "repo.json").write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "ecr:*",
                        "Condition": {"StringNotEquals": {"aws:PrincipleOrgID": "o-a1b2c3d4e5"}},
                    }
                ],
            },
            indent=2,
        )
    )
    text = """\
    principals:
      ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [pull]}
      cd: {arn: "arn:aws:iam::111122223333:role/cd", policies: [pull]}
    policies:
      repo: {file: repo.json}
      pull:
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: ecr:BatchGetImage
              Resource: "arn:aws:ecr:us-east-1:111122223333:repository/${aws:usrname}"
    resources:
      prod: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/prod/app", policy: repo}
    cases:
      - {principal: [ci, cd], resource: prod, deny: ecr:BatchGetImage}
    """
    spec = load(tmp_path, text)
    assert list(spec.warnings) == [
        "spec.yaml:12:11: Statement[0].Resource: unknown condition key aws:usrname; did you mean "
        "aws:username? AWS accepts it, but no request carries it, so the policy variable "
        "${aws:usrname} has no value and this value matches nothing",
        "repo.json:10:11: Statement[0].Condition.StringNotEquals.aws:PrincipleOrgID: unknown "
        "condition key aws:PrincipleOrgID; did you mean aws:PrincipalOrgID? AWS accepts it, but "
        "no request carries it, so StringNotEquals on it is always true",
    ]


def test_a_case_may_name_principals_and_resources_by_arn(tmp_path: Path) -> None:
    """spec-format.md, "ARNs in cases": a defined one with that ARN is meant; otherwise a
    principal with nothing attached (a role ARN: a session named after the role) or a
    repository without a policy (issue 10, item 13)."""
    text = PRINCIPALS + dedent("""\
    cases:
      - principal: [arn:aws:iam::111122223333:role/ci, arn:aws:iam::222222222222:role/deployer]
        resource: [arn:aws:ecr:us-east-1:111122223333:repository/prod/app,
                   arn:aws:ecr:us-east-1:111122223333:repository/other]
        deny: ecr:BatchGetImage
      - principal: arn:aws:sts::111122223333:assumed-role/ci/ci
        deny: ecr:GetAuthorizationToken
    """)
    spec = load(tmp_path, text)
    ids = [c.test_id for c in spec.checks]
    assert ids == [
        "case1[ci-prod-ecr:BatchGetImage]",
        "case1[ci-arn-aws-ecr-us-east-1-111122223333-repository/other-ecr:BatchGetImage]",
        "case1[arn-aws-iam-222222222222-role/deployer-prod-ecr:BatchGetImage]",
        "case1[arn-aws-iam-222222222222-role/deployer-arn-aws-ecr-us-east-1-111122223333-"
        "repository/other-ecr:BatchGetImage]",
        "case2[ci-ecr:GetAuthorizationToken]",
    ]
    ci, deployer = spec.checks[0].principal, spec.checks[2].principal
    assert ci.name == "ci" and spec.checks[0].resource.name == "prod"  # type: ignore[union-attr]
    assert (deployer.name, deployer.session_arn, deployer.policies) == (
        "arn:aws:iam::222222222222:role/deployer",
        "arn:aws:sts::222222222222:assumed-role/deployer/deployer",
        (),
    )
    other = spec.checks[1].resource
    assert other is not None and (other.name, other.repository, other.policy) == (
        "arn:aws:ecr:us-east-1:111122223333:repository/other",
        "other",
        None,
    )
    assert spec.checks[-1].principal is ci
    assert (
        checks.run_check(spec.checks[2])["principal"] == "arn:aws:iam::222222222222:role/deployer"
    )


def test_an_arn_in_a_case_that_two_principals_have_or_that_is_malformed(tmp_path: Path) -> None:
    text = dedent("""\
    principals:
      a: {arn: "arn:aws:iam::111122223333:role/ci", session: one}
      b: {arn: "arn:aws:iam::111122223333:role/ci", session: two}
    cases:
      - {principal: "arn:aws:iam::111122223333:role/ci", deny: ecr:GetAuthorizationToken}
      - {principal: "arn:aws:iam::111122223333:rol/x", deny: ecr:GetAuthorizationToken}
      - {principal: a, resource: "arn:aws:ecr:us-east-1:1:repository/x", deny: pull}
    """)
    assert errors(tmp_path, text) == [
        "spec.yaml:5:17: 'arn:aws:iam::111122223333:role/ci' is the ARN of the principals a and "
        "b; name the one meant",
        "spec.yaml:6:17: not a principal ARN: 'arn:aws:iam::111122223333:rol/x'; expected "
        "arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:role/NAME, "
        "arn:aws:iam::ACCOUNT:root, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or "
        "arn:aws:sts::ACCOUNT:federated-user/NAME",
        "spec.yaml:7:30: not an ECR repository ARN: 'arn:aws:ecr:us-east-1:1:repository/x'; "
        "expected arn:aws:ecr:REGION:ACCOUNT:repository/NAME (lowercase name, / allowed)",
    ]


def test_a_spec_that_links_outside_the_project_is_refused_unread(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, {"shadow": SECRET})
    project = tmp_path / "project"
    project.mkdir()
    (project / "spec.yaml").symlink_to(outside / "shadow")
    with pytest.raises(SpecError) as exc:
        loader.load_spec(project / "spec.yaml", display_root=project)
    assert str(exc.value) == (
        f"spec.yaml: it is outside the project {project.resolve().as_posix()} (symbolic links "
        "followed); files outside the project are never read"
    )
    # named on its own from outside the project, a file is the user's choice and is read
    with pytest.raises(SpecError) as exc:
        loader.load_spec(outside / "shadow", display_root=project)
    assert "outside the project" not in str(exc.value)
