"""The import readers: what each source yields, and every refusal with its exact text and place.

Fixtures (tests/data/imports/<kind>/) are written by hand from the documented shapes; each
folder's README names the page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.spec.imports.authdetails import parse_authorization_details
from runner.spec.imports.cloudformation import parse_template
from runner.spec.imports.common import ImportResult, Settings
from runner.spec.imports.orgpolicy import parse_organization_policy
from runner.spec.imports.terraform import parse_plan

DATA = Path(__file__).parent / "data" / "imports"
ACCOUNT = Settings(account="111122223333")


def read(kind: str, name: str) -> str:
    return (DATA / kind / name).read_text("utf-8")


def problems(result: ImportResult) -> list[str]:
    return [str(p) for p in result.problems]


# -- Terraform ---------------------------------------------------------------------------------


def test_plan_principals_policies_boundary_and_tags() -> None:
    result = parse_plan("plan.json", read("terraform", "registry-plan.json"))
    assert problems(result) == []
    roles = {p.name: p for p in result.principals}
    ci = roles["ci"]
    assert ci.arn == "arn:aws:iam::111122223333:role/ci"
    # the attachment names a policy created in the same plan (its ARN unknown until apply),
    # linked through configuration references; the other one is an AWS managed policy
    assert [p.name for p in ci.policies] == ["ci-push", "AmazonEC2ContainerRegistryReadOnly"]
    assert ci.policies[1].aws_managed == "AmazonEC2ContainerRegistryReadOnly"
    assert ci.boundary is not None and ci.boundary.name == "developer-boundary"
    assert ci.tags == {"team": "platform"}
    assert str(ci.loc) == "plan.json:103:18"  # its address
    staging = roles["staging-deployer"]
    assert staging.arn == "arn:aws:iam::111122223333:role/deploy/staging-deployer"
    assert [p.name for p in staging.policies] == ["staging-deployer/staging-pull"]
    assert staging.boundary is None


def test_plan_repositories_in_a_module_keep_their_names() -> None:
    result = parse_plan("plan.json", read("terraform", "registry-plan.json"))
    repos = {r.name: r for r in result.repositories}
    assert sorted(repos) == ["prod/app", "prod/internal"]
    app = repos["prod/app"]
    assert app.arn == "arn:aws:ecr:us-east-1:111122223333:repository/prod/app"
    assert app.tags == {"env": "prod"}
    assert app.policy is not None
    assert app.policy.document["Statement"][0]["Sid"] == "StagingPulls"
    assert repos["prod/internal"].policy is None


def test_plan_policy_parts_are_located_inside_the_json_string() -> None:
    result = parse_plan("plan.json", read("terraform", "registry-plan.json"))
    ci = next(p for p in result.principals if p.name == "ci")
    push = ci.policies[0]
    # the document is a JSON string on one line of the plan: a statement is found in it
    line = read("terraform", "registry-plan.json").splitlines()[157]
    start = line.index('"{') + 1
    sid = line.index('\\"PushProduction') + 1
    assert str(push.loc) == f"plan.json:158:{start}"
    assert str(push.locate(("Statement", 1, "Sid"))) == f"plan.json:158:{sid}"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "unknown-policy.json",
            "unknown-policy.json:48:21: aws_iam_role_policy.app: policy is known only after "
            "apply, so the plan does not say what it will be; make it known at plan time (a "
            "literal, or a value of a resource this plan creates: its arn or name), or test "
            "the state after apply with an authorization-details import",
        ),
        (
            "not-shipped.json",
            "not-shipped.json:44:25: aws_iam_role_policy_attachment.admin: "
            "arn:aws:iam::aws:policy/AdministratorAccess is an AWS managed policy this tool "
            "does not ship; copy its document into `policies:` (from `aws iam "
            "get-policy-version` or the AWS managed policy reference) and attach it by that "
            "name",
        ),
        (
            "outside-policy.json",
            "outside-policy.json:44:25: aws_iam_role_policy_attachment.old: policy_arn "
            "arn:aws:iam::111122223333:policy/legacy-ecr is not a policy this plan creates or "
            "manages, so its document is unknown; add the policy to the configuration, or "
            "import the account with authorization-details",
        ),
        (
            "groups.json",
            "groups.json:46:21: aws_iam_user_group_membership.dev: group 'developers' is not in "
            "this plan, so its policies are unknown; add it to the configuration, or import the "
            "account with authorization-details",
        ),
        (
            "bad-policy-json.json",
            "bad-policy-json.json:45:68: aws_iam_role_policy.app: the policy is not valid "
            "JSON: Expecting value",
        ),
    ],
)
def test_plan_refusals(fixture: str, expected: str) -> None:
    assert problems(parse_plan(fixture, read("terraform", fixture), ACCOUNT)) == [expected]


def test_plan_user_gets_its_groups_policies() -> None:
    result = parse_plan("g.json", read("terraform", "groups-plan.json"), ACCOUNT)
    assert problems(result) == []
    [dev] = result.principals
    assert dev.arn == "arn:aws:iam::111122223333:user/dev"
    # the group's inline policy, and an attachment whose group is known through references
    assert [p.name for p in dev.policies] == [
        "group developers/pull",
        "AmazonEC2ContainerRegistryReadOnly",
    ]


def test_plan_without_an_account_asks_for_one() -> None:
    result = parse_plan("p.json", read("terraform", "not-shipped.json"))
    assert problems(result)[0] == (
        "p.json:6:18: aws_iam_role.app: its ARN needs the account, which this plan does not "
        "name (no data.aws_caller_identity); give `account:` in the import entry"
    )


def test_plan_that_is_not_a_plan() -> None:
    assert problems(parse_plan("x.json", '{"Version": "2012-10-17"}')) == [
        "x.json:1:1: not a Terraform plan: expected the JSON that `terraform show -json "
        "PLANFILE` prints (an object with format_version and resource_changes)"
    ]
    assert problems(parse_plan("x.json", '{"a": 1,\n "a": 2}')) == [
        "x.json:2:2: the key 'a' appears twice in one JSON object; each key may appear once"
    ]


def test_plan_deleted_resources_are_gone() -> None:
    plan = json.loads(read("terraform", "registry-plan.json"))
    for rc in plan["resource_changes"]:
        if rc["address"] == "aws_iam_role.staging_deployer":
            rc["change"]["actions"] = ["delete"]
            rc["change"]["after"] = None
    result = parse_plan("p.json", json.dumps(plan))
    assert [p.name for p in result.principals] == ["ci"]


def test_plan_scp_needs_an_attachment() -> None:
    plan = json.loads(read("terraform", "registry-plan.json"))
    content = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "ecr:DeleteRepository", "Resource": "*"}],
        }
    )
    plan["resource_changes"].append(
        {
            "address": "aws_organizations_policy.deny",
            "mode": "managed",
            "type": "aws_organizations_policy",
            "name": "deny",
            "change": {
                "actions": ["create"],
                "after": {
                    "name": "deny-delete",
                    "type": "SERVICE_CONTROL_POLICY",
                    "content": content,
                },
                "after_unknown": {"id": True, "arn": True},
            },
        }
    )
    alone = parse_plan("p.json", json.dumps(plan, indent=1))
    assert alone.organization_policies == ()
    assert [p.message for p in alone.warnings] == [
        "aws_organizations_policy.deny: not imported: no aws_organizations_policy_attachment "
        "of this plan attaches it"
    ]
    plan["resource_changes"].append(
        {
            "address": "aws_organizations_policy_attachment.deny",
            "mode": "managed",
            "type": "aws_organizations_policy_attachment",
            "name": "deny",
            "change": {
                "actions": ["create"],
                "after": {"target_id": "r-ab12"},
                "after_unknown": {"id": True, "policy_id": True},
            },
        }
    )
    plan["configuration"]["root_module"]["resources"].append(
        {
            "address": "aws_organizations_policy_attachment.deny",
            "mode": "managed",
            "type": "aws_organizations_policy_attachment",
            "name": "deny",
            "expressions": {
                "policy_id": {
                    "references": [
                        "aws_organizations_policy.deny.id",
                        "aws_organizations_policy.deny",
                    ]
                }
            },
        }
    )
    attached = parse_plan("p.json", json.dumps(plan, indent=1))
    assert [(o.kind.value, o.policy.name) for o in attached.organization_policies] == [
        ("scp", "deny-delete")
    ]
    # attached to one account (or an OU), the SCP reaches only some member accounts, which the
    # spec's organization cannot say: refused at the attachment's target, not applied to all
    plan["resource_changes"][-1]["change"]["after"]["target_id"] = "111122223333"
    to_account = parse_plan("p.json", json.dumps(plan, indent=1))
    assert to_account.organization_policies == ()
    assert [p.message for p in to_account.problems] == [
        "aws_organizations_policy_attachment.deny: attaches its policy to '111122223333', an "
        "organizational unit or an account; the tool applies SCPs and RCPs to every member "
        "account of the organization, so it imports only policies attached at the root "
        "(r-...); write this organization's policies in the spec's organization instead"
    ]


# -- get-account-authorization-details ---------------------------------------------------------


def test_snapshot_users_roles_groups_and_versions() -> None:
    result = parse_authorization_details("a.json", read("authorization-details", "account.json"))
    assert problems(result) == []
    assert result.closed_accounts == frozenset({"111122223333"})
    users = {p.name: p for p in result.principals}
    alice = users["alice"]
    # inline (URL-encoded), the group's inline (a JSON string) and its attached AWS policy
    assert [p.name for p in alice.policies] == [
        "alice/describe",
        "group developers/pull",
        "AmazonEC2ContainerRegistryReadOnly",
    ]
    assert alice.policies[0].document["Statement"][0]["Action"] == "ecr:DescribeRepositories"
    assert alice.policies[2].aws_managed == "AmazonEC2ContainerRegistryReadOnly"
    assert alice.tags == {"team": "web"}
    ci = users["ci"]
    assert ci.arn == "arn:aws:iam::111122223333:role/build/ci"
    # the default version (v2), not v1
    assert ci.policies[0].document["Statement"][0]["Sid"] == "Push"
    # AWS managed and listed in Policies: the snapshot's own document
    assert ci.policies[1].aws_managed is None
    assert ci.boundary is not None and ci.boundary.name == "ecr-only"
    # a URL-encoded document is located through its escapes
    assert str(ci.boundary.locate(("Statement", 0, "Effect"))) == "a.json:157:286"


def test_snapshot_refusals() -> None:
    snap = json.loads(read("authorization-details", "account.json"))
    snap["Policies"] = [p for p in snap["Policies"] if p["PolicyName"] != "ci-push"]
    snap["RoleDetailList"][0]["AttachedManagedPolicies"].append(
        {
            "PolicyName": "AdministratorAccess",
            "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
        }
    )
    snap["UserDetailList"][0]["GroupList"].append("admins")
    text = json.dumps(snap, indent=1)
    assert problems(parse_authorization_details("a.json", text)) == [
        "a.json:17:5: group 'admins' is not in GroupDetailList, so its policies are unknown; "
        "take the snapshot without --filter (or with Group)",
        "a.json:73:19: managed policy arn:aws:iam::111122223333:policy/ci-push is not in "
        "this snapshot's Policies, so its document is unknown; take the snapshot without "
        "--filter (or with LocalManagedPolicy)",
        "a.json:81:19: arn:aws:iam::aws:policy/AdministratorAccess is an AWS managed policy "
        "this tool does not ship; copy its document into `policies:` (from `aws iam "
        "get-policy-version` or the AWS managed policy reference) and attach it by that name "
        "(this snapshot does not list it in Policies: take the snapshot without --filter, or "
        "with AWSManagedPolicy)",
    ]


def test_snapshot_truncated_or_foreign() -> None:
    assert problems(
        parse_authorization_details("t.json", '{"RoleDetailList": [], "IsTruncated": true}')
    ) == [
        "t.json:1:39: this snapshot is truncated (IsTruncated is true): it does not list every "
        "principal; take it with the AWS CLI, which reads every page"
    ]
    assert problems(parse_authorization_details("t.json", '{"Policy": {}}')) == [
        "t.json:1:1: not `aws iam get-account-authorization-details` output: expected an "
        "object with UserDetailList, GroupDetailList, RoleDetailList and Policies"
    ]


def test_snapshot_bad_url_encoded_document_is_located() -> None:
    doc = '{"Version": "2012-10-17", "Statement": [}'
    encoded = doc.replace("{", "%7B").replace('"', "%22").replace(" ", "%20")
    text = json.dumps(
        {
            "RoleDetailList": [
                {
                    "RoleName": "r",
                    "Arn": "arn:aws:iam::111122223333:role/r",
                    "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": encoded}],
                }
            ]
        }
    )
    [message] = problems(parse_authorization_details("u.json", text))
    column = text.index(encoded) + encoded.index("%7D") + 1 if "%7D" in encoded else None
    assert message.startswith("u.json:1:")
    assert message.endswith("r/p: the document is not valid JSON: Expecting value")
    assert column is None  # the closing brace is never written: the error is at the "}"
    assert int(message.split(":")[2]) == text.index(encoded) + len(encoded)


# -- describe-policy ---------------------------------------------------------------------------


def test_describe_policy_reads_an_scp() -> None:
    result = parse_organization_policy("s.json", read("organization-policy", "deny-delete.json"))
    assert problems(result) == []
    [org] = result.organization_policies
    assert org.kind.value == "scp" and org.policy.name == "deny-ecr-delete"
    assert str(org.policy.locate(("Statement", 0, "Action"))) == "s.json:11:119"


def test_describe_policy_refuses_other_types() -> None:
    text = read("organization-policy", "deny-delete.json").replace(
        "SERVICE_CONTROL_POLICY", "TAG_POLICY"
    )
    assert problems(parse_organization_policy("s.json", text)) == [
        "s.json:8:21: policy deny-ecr-delete: Type 'TAG_POLICY' is not SERVICE_CONTROL_POLICY "
        "or RESOURCE_CONTROL_POLICY; only SCPs and RCPs decide requests"
    ]


# -- CloudFormation ----------------------------------------------------------------------------


def template(env: str) -> ImportResult:
    settings = Settings("111122223333", "us-east-1", {"Env": env})
    return parse_template("t.yaml", read("cloudformation", "registry.yaml"), settings)


def test_template_intrinsics_and_conditions() -> None:
    prod = template("prod")
    assert problems(prod) == []
    roles = {p.name: p for p in prod.principals}
    ci = roles["ci"]
    assert ci.arn == "arn:aws:iam::111122223333:role/build/ci"
    assert [p.name for p in ci.policies] == [
        "ci/token",
        "AmazonEC2ContainerRegistryReadOnly",
        "ci-push-prod",
    ]
    assert ci.boundary is not None and ci.boundary.name == "ecr-only"
    # the managed policy's Resource is !GetAtt AppRepository.Arn
    assert ci.policies[2].document["Statement"][0]["Resource"] == (
        "arn:aws:ecr:us-east-1:111122223333:repository/prod/app"
    )
    # unquoted Version: 2012-10-17 is the text CloudFormation reads
    assert ci.policies[0].document["Version"] == "2012-10-17"
    [repo] = prod.repositories
    assert repo.name == "prod/app"
    assert repo.tags == {"env": "prod", "owner": "platform"}
    assert repo.policy is not None
    condition = repo.policy.document["Statement"][1]["Condition"]
    assert condition == {"ArnNotEquals": {"aws:PrincipalArn": ci.arn}}
    assert repo.policy.document["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::444455556666:root"
    }
    assert str(repo.policy.locate(("Statement", 1, "Effect"))) == "t.yaml:42:21"
    auditor = roles["auditor"]
    assert [p.name for p in auditor.policies] == [
        "auditor/scan",
        "AmazonEC2ContainerRegistryReadOnly",
    ]


def test_template_condition_false_drops_the_boundary() -> None:
    staging = template("staging")
    ci = next(p for p in staging.principals if p.name == "ci")
    assert ci.boundary is None
    assert [r.name for r in staging.repositories] == ["staging/app"]


def cfn(text: str, settings: Settings | None = None) -> list[str]:
    return problems(
        parse_template("t.yaml", text, settings or Settings("111122223333", "us-east-1"))
    )


def test_template_refusals() -> None:
    assert cfn("Transform: AWS::Serverless-2016-10-31\nResources: {}\n") == [
        "t.yaml:1:1: a template with a Transform (macros, AWS::Serverless, ...) is rewritten by "
        "CloudFormation before it is deployed, so what it creates is not written here; import "
        "the processed template (`aws cloudformation get-template --template-stage Processed`)"
    ]
    assert cfn("Resources:\n  Maker:\n    Type: Custom::RoleMaker\n") == [
        "t.yaml:3:11: resource Maker is a custom resource (Custom::RoleMaker): what it creates "
        "is decided by its code at deploy time, not by the template"
    ]
    assert cfn("Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties: {Path: /}\n") == [
        "t.yaml:3:5: R has no RoleName: CloudFormation makes up its name when the stack is "
        "deployed; give RoleName in the template"
    ]
    assert cfn(
        "Resources:\n  R:\n    Type: AWS::ECR::Repository\n"
        "    Properties:\n      RepositoryName: !ImportValue shared-name\n"
    ) == [
        "t.yaml:5:23: Fn::ImportValue cannot be resolved without deploying the template "
        "(resolved here: Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split, Fn::If, "
        "Fn::FindInMap)"
    ]
    assert cfn(
        "Resources:\n  R:\n    Type: AWS::ECR::Repository\n"
        "    Properties:\n      RepositoryName: !Sub '${AWS::StackName}-app'\n"
    ) == ["t.yaml:5:23: AWS::StackName is known only when the stack is deployed"]
    no_region = Settings(account="111122223333")
    assert cfn(
        "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties: {RepositoryName: a}\n",
        no_region,
    ) == ["t.yaml:3:5: AWS::Region: give the region in the import entry (region:)"]
    assert cfn(
        "Parameters:\n  P: {Type: String}\nResources:\n  R:\n    Type: AWS::ECR::Repository\n"
        "    Properties: {RepositoryName: !Ref P}\n"
    ) == ["t.yaml:6:34: parameter P has no Default: give it in the import entry (parameters:)"]


def test_template_octal_account_is_read_as_cloudformation_reads_it() -> None:
    text = (
        "Resources:\n  Repo:\n    Type: AWS::ECR::Repository\n    Properties:\n"
        "      RepositoryName: app\n      RepositoryPolicyText:\n        Version: 2012-10-17\n"
        "        Statement:\n          - Effect: Allow\n"
        "            Principal: {AWS: 012345670123}\n"
        "            Action: ecr:BatchGetImage\n"
    )
    result = parse_template("t.yaml", text, Settings("111122223333", "us-east-1"))
    [repo] = result.repositories
    assert repo.policy is not None
    assert repo.policy.document["Statement"][0]["Principal"] == {"AWS": "1402433619"}
    assert [str(w) for w in result.warnings] == [
        "t.yaml:10:30: the unquoted 012345670123 is an octal number in YAML 1.1, which "
        "CloudFormation reads as 1402433619; quote it if it is an account ID"
    ]


def test_template_json_is_read_too() -> None:
    text = json.dumps(
        {
            "Resources": {
                "Repo": {
                    "Type": "AWS::ECR::Repository",
                    "Properties": {
                        "RepositoryName": {"Fn::Join": ["/", ["team", {"Ref": "AWS::Region"}]]},
                        "RepositoryPolicyText": json.dumps(
                            {"Version": "2012-10-17", "Statement": []}
                        ),
                    },
                }
            }
        },
        indent=2,
    )
    result = parse_template("t.json", text, Settings("111122223333", "eu-west-1"))
    assert problems(result) == []
    [repo] = result.repositories
    assert repo.name == "team/eu-west-1"
    assert repo.policy is not None and repo.policy.document == {
        "Version": "2012-10-17",
        "Statement": [],
    }


def test_the_json_template_reads_like_the_yaml_one() -> None:
    settings = Settings("111122223333", "us-east-1", {"Env": "prod"})
    from_json = parse_template("t.json", read("cloudformation", "registry.json"), settings)
    from_yaml = template("prod")
    assert problems(from_json) == []

    def shape(result: ImportResult) -> list[object]:
        return [
            (
                p.name,
                p.arn,
                [(x.name, x.document) for x in p.policies],
                p.boundary and p.boundary.name,
            )
            for p in result.principals
        ] + [(r.name, r.arn, r.tags, r.policy and r.policy.document) for r in result.repositories]

    assert shape(from_json) == shape(from_yaml)


def test_template_reference_to_a_resource_its_condition_leaves_out() -> None:
    text = read("cloudformation", "registry.yaml").replace(
        "        - arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly\n        - !Ref Push",
        "        - !Ref Boundary\n        - !Ref Push",
    )
    settings = Settings("111122223333", "us-east-1", {"Env": "staging"})
    assert problems(parse_template("t.yaml", text, settings)) == [
        "t.yaml:61:11: Boundary is not created (its condition IsProd is false), so nothing can "
        "refer to it"
    ]


def test_snapshot_of_another_account_than_the_entry_says() -> None:
    text = read("authorization-details", "account.json")
    assert problems(
        parse_authorization_details("a.json", text, Settings(account="444455556666"))
    ) == [
        "a.json:1:1: this snapshot holds principals of account 111122223333, not of "
        "444455556666 as the import entry says"
    ]
    empty = '{"UserDetailList": [], "RoleDetailList": [], "Policies": []}'
    assert problems(parse_authorization_details("e.json", empty)) == [
        "e.json:1:1: this snapshot names no user or role, so the account it describes is "
        "unknown; give `account:` in the import entry"
    ]
    closed = parse_authorization_details("e.json", empty, Settings(account="444455556666"))
    assert problems(closed) == [] and closed.closed_accounts == frozenset({"444455556666"})


def test_template_organization_policy_attached_at_the_root_only() -> None:
    def template(targets: str) -> str:
        return (
            "Resources:\n  Guard:\n    Type: AWS::Organizations::Policy\n    Properties:\n"
            "      Name: deny-delete\n      Type: SERVICE_CONTROL_POLICY\n"
            f"{targets}"
            "      Content:\n        Version: '2012-10-17'\n        Statement:\n"
            "          - {Effect: Deny, Action: 'ecr:DeleteRepository', Resource: '*'}\n"
        )

    settings = Settings("111122223333", "us-east-1")
    at_root = parse_template("t.yaml", template("      TargetIds: [r-ab12]\n"), settings)
    assert [(o.kind.value, o.policy.name) for o in at_root.organization_policies] == [
        ("scp", "deny-delete")
    ]
    # an OU (or one account) gets the policy, the other member accounts do not: the spec's
    # organization applies its SCPs to every member account, so this is refused
    assert cfn(template("      TargetIds: [r-ab12, ou-ab12-11111111]\n")) == [
        "t.yaml:7:18: Guard: TargetIds names 'ou-ab12-11111111', an organizational unit or an "
        "account; the tool applies SCPs and RCPs to every member account of the organization, "
        "so it imports only policies attached at the root (r-...); write this organization's "
        "policies in the spec's organization instead"
    ]
    unattached = parse_template("t.yaml", template(""), settings)
    assert unattached.organization_policies == ()
    assert [str(w) for w in unattached.warnings] == [
        "t.yaml:5:7: Guard: not imported: it has no TargetIds, so it is attached to nothing"
    ]
