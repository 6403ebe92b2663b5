"""The import readers under hostile input (the bad-input audit): each refusal with its exact
text and place, and the other spec files still running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_imports_spec import errors, load, write  # the same spec-loading helpers

from runner.checks import evaluate_check
from runner.spec.imports.authdetails import parse_authorization_details
from runner.spec.imports.cloudformation import parse_template
from runner.spec.imports.common import Settings
from runner.spec.imports.terraform import parse_plan

SPEC_TAIL = """\
cases:
  - principal: arn:aws:iam::111122223333:user/nobody
    action: ecr:GetAuthorizationToken
    expect: implicit-deny
"""


# -- import files that are not regular files, or whose names the system refuses (items 8, 11)


@pytest.mark.parametrize(
    "source",
    ["terraform-plan", "cloudformation", "authorization-details", "organization-policy"],
)
def test_an_import_file_that_is_a_fifo_is_refused_unread(tmp_path: Path, source: str) -> None:
    os.mkfifo(tmp_path / "plan.json")  # reading it would block for ever: no writer
    write(tmp_path, {"spec.yaml": f"import:\n  - {source}: plan.json\n" + SPEC_TAIL})
    col = len(f"  - {source}: ") + 1
    assert errors(tmp_path) == [f"spec.yaml:2:{col}: cannot import plan.json: not a regular file"]


def test_an_import_name_too_long_for_the_system_is_located(tmp_path: Path) -> None:
    long = "a" * 300 + ".json"
    write(tmp_path, {"spec.yaml": f"import:\n  - terraform-plan: {long}\n" + SPEC_TAIL})
    assert errors(tmp_path) == [
        f"spec.yaml:2:21: cannot import {'a' * 60!r}... (305 characters): File name too long"
    ]


# -- CloudFormation parameters (item 2)

TEMPLATE = """\
Parameters:
  Env: {Type: String, AllowedValues: [prod, staging], Default: staging}
  Count: {Type: Number, Default: 3, MinValue: 1, MaxValue: 5}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Repo:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: app
      RepositoryPolicyText:
        Version: "2012-10-17"
        Statement:
          - !If
            - IsProd
            - {Effect: Deny, Principal: "*", Action: ecr:PutImage}
            - !Ref AWS::NoValue
          - {Effect: Allow, Principal: {AWS: "arn:aws:iam::444455556666:root"}, Action: "ecr:*"}
"""

CFN_CASE = """\
cases:
  - principal: arn:aws:iam::444455556666:role/anyone-there
    resource: app
    action: ecr:PutImage
    expect: explicit-deny
"""


def cfn_spec(parameters: str) -> str:
    return (
        'import:\n  - cloudformation: cfn.yaml\n    account: "111122223333"\n'
        f"    region: us-east-1\n    parameters: {parameters}\n" + CFN_CASE
    )


def test_a_misspelt_template_parameter_is_an_error_not_the_default(tmp_path: Path) -> None:
    write(tmp_path, {"cfn.yaml": TEMPLATE, "spec.yaml": cfn_spec("{env: prod}")})
    assert errors(tmp_path)[0] == (
        "spec.yaml:5:18: unknown template parameter 'env'; did you mean 'Env'? parameters of "
        "cfn.yaml: Env, Count"
    )
    write(tmp_path, {"spec.yaml": cfn_spec("{Env: prod}")})
    spec = load(tmp_path)  # spelt right: prod's Deny is in the repository policy
    assert [str(evaluate_check(c).decision) for c in spec.checks] == ["explicit-deny"]


def test_a_parameter_of_a_template_without_parameters(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"cfn.yaml": "Resources: {}\n", "spec.yaml": cfn_spec("{Env: prod}")},
    )
    assert errors(tmp_path)[0] == (
        "spec.yaml:5:18: unknown template parameter 'Env': cfn.yaml has no Parameters"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "{Env: production}",
            "spec.yaml:5:23: 'production' is not one of the AllowedValues of Env (prod, "
            "staging); CloudFormation refuses the stack",
        ),
        (
            "{Count: many}",
            "spec.yaml:5:25: 'many' is not a number, as parameter Count of Type Number needs; "
            "CloudFormation refuses the stack",
        ),
        (
            "{Count: 9}",
            "spec.yaml:5:25: '9' is more than the MaxValue 5 of Count; CloudFormation refuses "
            "the stack",
        ),
        (  # Arabic-Indic three: a digit to float() and to \\d, not to CloudFormation
            "{Count: \u0663}",
            "spec.yaml:5:25: '\u0663' is not a number, as parameter Count of Type Number "
            "needs; CloudFormation refuses the stack",
        ),
        (
            '{Count: "3\\n"}',
            "spec.yaml:5:25: '3\\n' is not a number, as parameter Count of Type Number needs; "
            "CloudFormation refuses the stack",
        ),
        (
            "{Count: 0}",
            "spec.yaml:5:25: '0' is less than the MinValue 1 of Count; CloudFormation refuses "
            "the stack",
        ),
    ],
)
def test_a_parameter_value_cloudformation_refuses(
    tmp_path: Path, given: str, expected: str
) -> None:
    write(tmp_path, {"cfn.yaml": TEMPLATE, "spec.yaml": cfn_spec(given)})
    assert errors(tmp_path)[0] == expected


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (
            "P: {Type: String, AllowedValues: [a, b], Default: c}",
            "the Default 'c' is not one of the AllowedValues of P (a, b); "
            "CloudFormation refuses the stack unless the import entry gives P (parameters:)",
        ),
        (
            "P: {Type: Number, Default: abc}",
            "the Default 'abc' is not a number, as parameter P of Type Number "
            "needs; CloudFormation refuses the stack unless the import entry gives P "
            "(parameters:)",
        ),
        (
            "P: {Type: String, MaxLength: 2, Default: abc}",
            "the Default 'abc' is longer than the MaxLength 2 of P; "
            "CloudFormation refuses the stack unless the import entry gives P (parameters:)",
        ),
        (
            "P: {Type: CommaDelimitedList, AllowedValues: [a, b], Default: 'a,c'}",
            "the Default 'c' is not one of the AllowedValues of P (a, b); "
            "CloudFormation refuses the stack unless the import entry gives P (parameters:)",
        ),
    ],
)
def test_a_default_cloudformation_refuses_is_an_error_in_the_template(
    param: str, expected: str
) -> None:
    text = f"Parameters:\n  {param}\nResources: {{}}\n"
    result = parse_template("t.yaml", text, Settings(account="111122223333"))
    col = len("  ") + param.index("Default: ") + len("Default: ") + 1  # the Default's value
    assert [str(p) for p in result.problems] == [f"t.yaml:2:{col}: {expected}"]


def test_a_given_value_replaces_a_bad_default_and_good_values_pass() -> None:
    text = "Parameters:\n  P: {Type: Number, AllowedValues: [1, 2], Default: 7}\nResources: {}\n"
    result = parse_template("t.yaml", text, Settings(parameters={"P": "2"}))
    assert result.problems == () and result.entry_problems == ()


# -- tag keys that differ only in case (item 1)


def test_plan_tags_that_differ_only_in_case_are_an_error() -> None:
    plan = (
        '{"format_version": "1.2", "resource_changes": [{"address": "aws_iam_role.x", '
        '"mode": "managed", "type": "aws_iam_role", "name": "x", "change": {"actions": '
        '["create"], "before": null,\n"after": {"name": "r", "tags": {"Team": "a",\n'
        '"team": "b"}}, "after_unknown": {}}}]}'
    )
    result = parse_plan("plan.json", plan, Settings(account="111122223333"))
    assert [str(p) for p in result.problems] == [
        "plan.json:3:9: aws_iam_role.x: tag key 'team' is given twice (also 'Team' on line 2); "
        "condition keys ignore case (aws:PrincipalTag/..., aws:ResourceTag/...), "
        "so no policy can tell these tags apart"
    ]
    assert result.principals == ()


def test_snapshot_tags_that_differ_only_in_case_are_an_error() -> None:
    snapshot = (
        '{"UserDetailList": [{"UserName": "u", "Arn": "arn:aws:iam::111122223333:user/u",\n'
        '"Tags": [{"Key": "Team", "Value": "a"},\n{"Key": "team", "Value": "b"}]}]}'
    )
    assert [str(p) for p in parse_authorization_details("ad.json", snapshot).problems] == [
        "ad.json:3:9: tag key 'team' is given twice (also 'Team' on line 2); "
        "condition keys ignore case (aws:PrincipalTag/..., aws:ResourceTag/...), "
        "so no policy can tell these tags apart"
    ]


def test_template_tags_that_differ_only_in_case_are_an_error() -> None:
    template = (
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: r\n"
        "      Tags:\n        - {Key: Team, Value: a}\n        - {Key: team, Value: b}\n"
    )
    result = parse_template("t.yaml", template, Settings(account="111122223333"))
    assert [str(p) for p in result.problems] == [
        "t.yaml:8:17: tag key 'team' is given twice (also 'Team' on line 7); "
        "condition keys ignore case (aws:PrincipalTag/..., aws:ResourceTag/...), "
        "so no policy can tell these tags apart"
    ]


# -- an imported SCP or RCP with a predefined name (item 5)


@pytest.mark.parametrize(
    ("name", "ptype", "advice"),
    [
        (
            "FullAWSAccess",
            "SERVICE_CONTROL_POLICY",
            "this SCP is named 'FullAWSAccess', a predefined policy name; an import cannot "
            "define it (AWS's FullAWSAccess is predefined: name it in the organization's scps "
            "instead of importing it; another policy needs another name)",
        ),
        (
            "RCPFullAWSAccess",
            "RESOURCE_CONTROL_POLICY",
            "this RCP is named 'RCPFullAWSAccess', a predefined policy name; an import cannot "
            "define it (AWS's RCPFullAWSAccess is predefined and always attached: do not "
            "import it; another policy needs another name)",
        ),
    ],
)
def test_an_imported_organization_policy_cannot_take_a_predefined_name(
    tmp_path: Path, name: str, ptype: str, advice: str
) -> None:
    content = '{\\"Version\\": \\"2012-10-17\\", \\"Statement\\": [{\\"Effect\\": \\"Deny\\", '
    content += '\\"Principal\\": \\"*\\", \\"Action\\": \\"*\\", \\"Resource\\": \\"*\\"}]}'
    op = (
        f'{{"Policy": {{"PolicySummary": {{"Name": "{name}", "Type": "{ptype}"}},\n'
        f'  "Content": "{content}"}}}}'
    )
    write(
        tmp_path,
        {
            "op.json": op,
            "spec.yaml": 'organization:\n  id: o-a1b2c3d4e5\n  accounts: ["111122223333"]\n'
            "  scps: [FullAWSAccess]\nimport:\n  - organization-policy: op.json\n" + SPEC_TAIL,
        },
    )
    assert errors(tmp_path) == [f"op.json:2:14: {advice}"]


# -- Terraform plans: what the plan does not hold, and changes it cannot mean (item 6)


def plan_of(*changes: str) -> str:
    """A plan whose resource_changes are ``changes``, one a line (line 2 onwards)."""
    return '{"format_version": "1.2", "resource_changes": [\n' + ",\n".join(changes) + "\n]}"


def change(address: str, actions: str, after: str) -> str:
    rtype, name = address.split(".")
    return (
        f'{{"address": "{address}", "mode": "managed", "type": "{rtype}", "name": "{name}", '
        f'"change": {{"actions": {actions}, "before": null, "after": {after}, '
        '"after_unknown": {}}}'
    )


POLICY = '"{\\"Version\\": \\"2012-10-17\\", \\"Statement\\": [{\\"Effect\\": \\"Allow\\", '
POLICY += '\\"Action\\": \\"ecr:*\\", \\"Resource\\": \\"*\\"}]}"'


def plan_problems(text: str) -> list[str]:
    return [
        str(p) for p in parse_plan("plan.json", text, Settings(account="111122223333")).problems
    ]


@pytest.mark.parametrize(
    ("resource", "after", "word", "name"),
    [
        (
            "aws_iam_role_policy.x",
            f'{{"role": "ghost", "name": "p", "policy": {POLICY}}}',
            "role",
            "ghost",
        ),
        (
            "aws_iam_role_policy_attachment.x",
            '{"role": "ghost", "policy_arn": '
            '"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"}',
            "role",
            "ghost",
        ),
        (
            "aws_iam_user_policy.x",
            f'{{"user": "nobody", "name": "p", "policy": {POLICY}}}',
            "user",
            "nobody",
        ),
        (
            "aws_iam_policy_attachment.x",
            '{"name": "a", "roles": ["ghost"], "policy_arn": '
            '"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"}',
            "role",
            "ghost",
        ),
        (
            "aws_iam_user_group_membership.x",
            '{"user": "nobody", "groups": ["g"]}',
            "user",
            "nobody",
        ),
    ],
)
def test_plan_policy_for_a_principal_not_in_the_plan_is_an_error(
    resource: str, after: str, word: str, name: str
) -> None:
    text = plan_of(change(resource, '["create"]', after))
    [problem] = plan_problems(text)
    assert problem.split(": ", 1)[1] == (
        f"{resource}: {word} {name!r} is not in this plan, so the {word} and its other "
        f"policies are unknown; add the {word} to the configuration, or import the account "
        "with authorization-details"
    )
    line, col = (int(x) for x in problem.split(":")[1:3])
    assert line == 2 and text.splitlines()[1][col - 1 :].startswith(f'"{name}"')


AFTER = '"after": '


def col_of(text: str, part: str, skip: str = "") -> int:
    """The column of ``part`` (after ``skip``) on line 2 of ``text``."""
    line = text.splitlines()[1]
    return line.index(skip + part) + len(skip) + 1


def test_plan_change_actions_it_cannot_mean_are_refused() -> None:
    role = '{"name": "r"}'
    weird = plan_of(change("aws_iam_role.x", '["frobnicate"]', role))
    assert plan_problems(weird) == [
        f"plan.json:2:{col_of(weird, '[')}: aws_iam_role.x: unknown change actions "
        '["frobnicate"]; `terraform show -json` writes ["no-op"], ["create"], ["read"], '
        '["update"], ["delete"], ["delete", "create"] or ["create", "delete"]'
    ]
    empty = plan_of(change("aws_iam_role.x", '["create"]', "null"))
    at = col_of(empty, "null", skip=AFTER)
    assert plan_problems(empty) == [
        f"plan.json:2:{at}: "
        'aws_iam_role.x: change.after is null, but the actions ["create"] leave an object, '
        "whose values `terraform show -json` writes there"
    ]
    forgotten = plan_of(change("aws_iam_role.x", '["forget"]', "null"))
    assert plan_problems(forgotten) == [
        f"plan.json:2:{col_of(forgotten, '[')}: aws_iam_role.x: the plan forgets this object "
        "(a `removed` block with destroy = false): it stays in the account as it is, outside "
        "the plan, so the plan does not say what it holds after apply; import the account "
        "with authorization-details"
    ]
    # a deletion leaves nothing, and a replacement leaves the new object
    assert plan_problems(plan_of(change("aws_iam_role.x", '["delete"]', "null"))) == []
    replaced = parse_plan(
        "plan.json",
        plan_of(change("aws_iam_role.x", '["delete", "create"]', role)),
        Settings(account="111122223333"),
    )
    assert [p.name for p in replaced.principals] == ["r"]


# -- authorization-details: which version is the default, and whose ARN (item 6)

VERSION = (
    '{{"VersionId": "{vid}", "IsDefaultVersion": {default}, "Document": {{"Version": '
    '"2012-10-17", "Statement": [{{"Effect": "{effect}", "Action": "ecr:*", "Resource": "*"}}]}}}}'
)


def snapshot_with(versions: list[str], default_id: str = "v1", arn_name: str = "u") -> str:
    return (
        '{"UserDetailList": [{"UserName": "u",\n"Arn": "arn:aws:iam::111122223333:user/'
        + arn_name
        + '",\n"AttachedManagedPolicies": [{"PolicyName": "x", "PolicyArn": '
        '"arn:aws:iam::111122223333:policy/x"}]}],\n"Policies": [{"PolicyName": "x", "Arn": '
        '"arn:aws:iam::111122223333:policy/x",\n"DefaultVersionId": "'
        + default_id
        + '", "PolicyVersionList": [\n'
        + ",\n".join(versions)
        + "]}]}"
    )


def snapshot_problems(text: str) -> list[str]:
    return [str(p) for p in parse_authorization_details("ad.json", text).problems]


def test_snapshot_policy_with_two_default_versions_is_an_error() -> None:
    allow = VERSION.format(vid="v1", default="true", effect="Allow")
    deny = VERSION.format(vid="v2", default="true", effect="Deny")
    assert snapshot_problems(snapshot_with([allow, deny])) == [
        "ad.json:7:41: policy x: two versions of PolicyVersionList ('v1' and 'v2') have "
        "IsDefaultVersion true, but a policy has one default version, so the document AWS "
        "applies is unknown"
    ]


def test_snapshot_default_version_id_must_name_the_default_version() -> None:
    v1 = VERSION.format(vid="v1", default="true", effect="Allow")
    v2 = VERSION.format(vid="v2", default="false", effect="Deny")
    assert snapshot_problems(snapshot_with([v1, v2], default_id="v3")) == [
        "ad.json:5:21: policy x: DefaultVersionId 'v3' names no version of PolicyVersionList, "
        "so the document AWS applies is unknown"
    ]
    assert snapshot_problems(snapshot_with([v1, v2], default_id="v2")) == [
        "ad.json:5:21: policy x: DefaultVersionId 'v2' is not the version with "
        "IsDefaultVersion true ('v1'), so the document AWS applies is unknown"
    ]
    assert snapshot_problems(snapshot_with([v1, v2])) == []


def test_snapshot_user_whose_arn_names_another_user_is_an_error() -> None:
    v1 = VERSION.format(vid="v1", default="true", effect="Allow")
    assert snapshot_problems(snapshot_with([v1], arn_name="other")) == [
        "ad.json:2:8: the Arn arn:aws:iam::111122223333:user/other does not name the user 'u' "
        "of UserName: the ARN of an IAM user is arn:aws:iam::ACCOUNT:user/[PATH/]u"
    ]
    with_path = snapshot_with([v1], arn_name="team/u")
    assert snapshot_problems(with_path) == []


# -- AWS managed policies named without their ARN (item 16)

UNSHIPPED = (
    " is an AWS managed policy this tool does not ship; copy its document into `policies:` "
    "(from `aws iam get-policy-version` or the AWS managed policy reference) under a name of "
    "its own and attach it by that name"
)


@pytest.mark.parametrize(
    ("reference", "name", "expected"),
    [
        (
            "policies: [AdministratorAccess]",
            "AdministratorAccess",
            "AdministratorAccess" + UNSHIPPED,
        ),
        ("boundary: PowerUserAccess", "PowerUserAccess", "PowerUserAccess" + UNSHIPPED),
        ("policies: [ReadOnlyAccess]", "ReadOnlyAccess", "ReadOnlyAccess" + UNSHIPPED),
        (
            "policies: [AmazonEC2ContainerRegistryReadonly]",
            "AmazonEC2ContainerRegistryReadonly",
            "unknown policy 'AmazonEC2ContainerRegistryReadonly'; did you mean the AWS managed "
            "policy AmazonEC2ContainerRegistryReadOnly? (policy names are case-sensitive)",
        ),
        (
            "policies: [AmazonEC2ContainerRegistryPowerUsr]",
            "AmazonEC2ContainerRegistryPowerUsr",
            "unknown policy 'AmazonEC2ContainerRegistryPowerUsr'; did you mean the AWS managed "
            "policy AmazonEC2ContainerRegistryPowerUser?",
        ),
    ],
)
def test_an_aws_managed_policy_by_name_that_is_not_shipped_says_so(
    tmp_path: Path, reference: str, name: str, expected: str
) -> None:
    line = f"    {reference}"
    write(
        tmp_path,
        {
            "spec.yaml": "principals:\n  u:\n    arn: arn:aws:iam::111122223333:user/u\n"
            + line
            + "\n"
            + SPEC_TAIL
        },
    )
    assert errors(tmp_path) == [f"spec.yaml:4:{line.index(name) + 1}: {expected}"]


# -- a long chain of CloudFormation conditions (item 14)


def test_a_long_condition_chain_is_located_in_the_template() -> None:
    chain = "".join(f"  C{i}: !Not [!Condition C{i + 1}]\n" for i in range(3000))
    text = (
        "Conditions:\n" + chain + "  C3000: !Equals [a, a]\nResources:\n  R:\n"
        "    Type: AWS::ECR::Repository\n    Condition: C0\n    Properties: {RepositoryName: r}\n"
    )
    result = parse_template("t.yaml", text, Settings(account="111122223333", region="us-east-1"))
    # line 1 is Conditions:, C99 (line 101) refers to C100, the 101st condition of the chain
    col = len("  C99: !Not [") + 1
    assert [str(p) for p in result.problems] == [
        f"t.yaml:101:{col}: condition C100: conditions that refer to each other (Condition, "
        "Fn::If) go more than 100 deep here; the tool reads chains of at most 100"
    ]

    # a chain of 100 is read (C0 is the 99th negation of true: R is not created)
    short = "".join(f"  C{i}: !Not [!Condition C{i + 1}]\n" for i in range(99))
    text = text.replace(chain, short).replace("C3000: !Equals", "C99: !Equals")
    result = parse_template("t.yaml", text, Settings(account="111122223333", region="us-east-1"))
    assert result.problems == () and result.repositories == ()


# -- messages about imports that misled (item 19)


def test_a_bad_account_in_an_import_entry_says_12_digits_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"spec.yaml": 'import:\n  - terraform-plan: p.json\n    account: "1111"\n' + SPEC_TAIL},
    )
    assert errors(tmp_path) == [
        "spec.yaml:3:14: expected an account id (12 digits, quoted), got the text '1111'"
    ]


def test_the_same_file_imported_twice_says_so_once(tmp_path: Path) -> None:
    plan = plan_of(change("aws_iam_role.x", '["create"]', '{"name": "r"}'))
    entry = '  - terraform-plan: p.json\n    account: "111122223333"\n'
    write(tmp_path, {"p.json": plan, "spec.yaml": "import:\n" + entry + entry + SPEC_TAIL})
    assert errors(tmp_path) == [
        "spec.yaml:4:21: p.json is imported twice (also at spec.yaml:2:21, with the same "
        "settings); import it once"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            '!Select ["x", [a, b]]',
            "t.yaml:5:32: Fn::Select: the index 'x' is not a whole number from 0",
        ),
        (  # a digit that int() cannot read: was a traceback
            '!Select ["\u00b2", [a, b]]',
            "t.yaml:5:32: Fn::Select: the index '\u00b2' is not a whole number from 0",
        ),
        (
            "!Select [5, [a]]",
            "t.yaml:5:23: Fn::Select: the index 5 is past the end of the list (1 value)",
        ),
        (
            '{"Fn::Sub": [a, b, c]}',
            "t.yaml:5:23: Fn::Sub takes a string, or [a string, {NAME: value, ...}]",
        ),
    ],
)
def test_template_function_arguments_say_what_is_wrong(value: str, expected: str) -> None:
    text = (
        "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties:\n"
        f"      RepositoryName: {value}\n"
    )
    result = parse_template("t.yaml", text, Settings(account="111122223333", region="us-east-1"))
    assert [str(p) for p in result.problems] == [expected]


def test_a_region_no_arn_can_hold_is_refused_in_an_import_entry(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "cfn.yaml": "Resources: {}\n",
            "spec.yaml": "import:\n  - cloudformation: cfn.yaml\n    region: moon-1\n" + SPEC_TAIL,
        },
    )
    assert errors(tmp_path) == ["spec.yaml:3:13: expected a region such as us-east-1, got 'moon-1'"]


def test_a_parameter_read_from_ssm_at_deploy_time_is_not_its_name() -> None:
    text = (
        "Parameters:\n  Name: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /ci/role}\n"
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n"
        "      RoleName: !Ref Name\n      AssumeRolePolicyDocument: {}\n"
    )
    result = parse_template("t.yaml", text, Settings(account="111122223333"))
    assert [str(p) for p in result.problems] == [
        "t.yaml:7:17: parameter Name is of Type AWS::SSM::Parameter::Value<String>: it stands "
        "for the value of the SSM parameter '/ci/role', which is known only when the stack is "
        "deployed"
    ]


def test_plan_policy_whose_role_is_not_a_name_says_so() -> None:
    text = plan_of(change("aws_iam_role_policy.x", '["create"]', '{"role": 7, "policy": "{}"}'))
    assert plan_problems(text) == [
        f"plan.json:2:{col_of(text, '7')}: aws_iam_role_policy.x: expected a role name here"
    ]


def test_a_length_limit_of_digits_int_cannot_read_is_not_a_limit() -> None:
    """'²' is a digit to str.isdigit but not a number to int(): such a MinLength was a
    traceback; like any bound that is not a whole number, it limits nothing."""
    text = (
        'Parameters:\n  P: {Type: String, Default: ab, MinLength: "\u00b2", MaxLength: 1}\n'
        "Resources: {}\n"
    )
    result = parse_template("t.yaml", text, Settings(account="111122223333"))
    assert [str(p) for p in result.problems] == [
        "t.yaml:2:30: the Default 'ab' is longer than the MaxLength 1 of P; CloudFormation "
        "refuses the stack unless the import entry gives P (parameters:)"
    ]
