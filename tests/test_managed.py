"""The shipped AWS managed policies: lookup by name and ARN, refusals, and decisions."""

from __future__ import annotations

import pytest

from runner.engine import evaluate
from runner.model import PolicyKind, Request, principal_from_arn, repository
from runner.policy import managed

REPO = "arn:aws:ecr:us-east-1:111122223333:repository/prod/app"


def decide(policy_name: str, action: str) -> str:
    policy = managed.compiled(policy_name, PolicyKind.IDENTITY)
    who = principal_from_arn("ci", "arn:aws:iam::111122223333:role/ci", policies=[policy])
    return str(evaluate(Request(who, action, repository("app", REPO))).decision)


def test_every_shipped_policy_cites_its_page_and_version() -> None:
    for policy in managed.shipped().values():
        assert policy.source.startswith("https://docs.aws.amazon.com/")
        assert policy.version and policy.edited
        managed.compiled(policy.name, PolicyKind.IDENTITY)
        managed.compiled(policy.name, PolicyKind.BOUNDARY)


def test_lookup_by_name_and_by_arn() -> None:
    by_name = managed.lookup("AmazonEC2ContainerRegistryReadOnly")
    by_arn = managed.lookup("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
    assert by_name is not None and by_name is by_arn
    assert by_name.arn == "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
    role = managed.lookup(
        "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"
    )
    assert role is not None and role.path == "/service-role/"


def test_a_plain_name_that_is_not_shipped_is_not_a_managed_policy() -> None:
    assert managed.lookup("my-policy") is None


def test_an_arn_that_is_not_shipped_is_refused() -> None:
    with pytest.raises(managed.NotShipped) as exc:
        managed.lookup("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly")
    assert str(exc.value) == (
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly is an AWS managed policy "
        "this tool does not ship (did you mean "
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly?); copy its document into "
        "`policies:` (from `aws iam get-policy-version` or the AWS managed policy reference) "
        "and attach it by that name"
    )


def test_a_shipped_policy_under_the_wrong_path_is_refused() -> None:
    with pytest.raises(managed.NotShipped) as exc:
        managed.lookup("arn:aws:iam::aws:policy/AWSAppRunnerServicePolicyForECRAccess")
    assert str(exc.value) == (
        "arn:aws:iam::aws:policy/AWSAppRunnerServicePolicyForECRAccess is not the ARN of the "
        "AWS managed policy AWSAppRunnerServicePolicyForECRAccess: its ARN is "
        "arn:aws:iam::aws:policy/service-role/AWSAppRunnerServicePolicyForECRAccess"
    )


@pytest.mark.parametrize(
    ("policy", "action", "decision"),
    [
        ("AmazonEC2ContainerRegistryReadOnly", "ecr:BatchGetImage", "allow"),
        ("AmazonEC2ContainerRegistryReadOnly", "ecr:PutImage", "implicit-deny"),
        ("AmazonEC2ContainerRegistryPowerUser", "ecr:PutImage", "allow"),
        ("AmazonEC2ContainerRegistryPowerUser", "ecr:DeleteRepository", "implicit-deny"),
        ("AmazonEC2ContainerRegistryPowerUser", "ecr:SetRepositoryPolicy", "implicit-deny"),
        ("AmazonEC2ContainerRegistryFullAccess", "ecr:DeleteRepository", "allow"),
        ("AWSAppRunnerServicePolicyForECRAccess", "ecr:DescribeImages", "allow"),
        ("AWSAppRunnerServicePolicyForECRAccess", "ecr:ListImages", "implicit-deny"),
    ],
)
def test_shipped_policies_decide_as_written(policy: str, action: str, decision: str) -> None:
    assert decide(policy, action) == decision


def test_other_services_statements_never_match_ecr() -> None:
    full = managed.compiled("AmazonEC2ContainerRegistryFullAccess", PolicyKind.IDENTITY)
    assert len(full.statements) == 2
    assert full.statements[1].action.covered(frozenset({"ecr:PutImage"})) == frozenset()
