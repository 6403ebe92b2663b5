"""A federated user's checks that a repository policy statement naming an IAM user of its
account may decide: AWS applies such a statement to the federated user sessions that user
creates ("Session policies"; "Permissions for GetFederationToken"), and a spec cannot say which
IAM user created a federated user's session, so such a check is an error, never a guess.
The file's other checks run."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from runner import checks
from tests.test_loader import errors, load

SPEC = """\
policies:
  repo:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: BobPulls
          Effect: Allow
          Principal: {AWS: arn:aws:iam::111122223333:user/bob}
          Action: [ecr:BatchGetImage, ecr:GetDownloadUrlForLayer]
        - Sid: NotFromOutside
          Effect: Deny
          Principal: {AWS: arn:aws:iam::111122223333:user/mallory}
          Action: ecr:DeleteRepository
          Condition: {StringEquals: {aws:SourceVpc: vpc-1}}
        - Sid: EveryoneLists
          Effect: Allow
          Principal: {AWS: [arn:aws:iam::111122223333:user/bob, "*"]}
          Action: ecr:DescribeImages
  session:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: ecr:GetAuthorizationToken
          Resource: "*"
principals:
  carol:
    arn: arn:aws:sts::111122223333:federated-user/carol
    session-policy: session
  other-carol:
    arn: arn:aws:sts::444455556666:federated-user/carol
    session-policy: session
  bob: arn:aws:iam::111122223333:user/bob
resources:
  app:
    arn: arn:aws:ecr:us-east-1:111122223333:repository/app
    policy: repo
"""

UNDECIDED = (
    "spec.yaml:{line}:5: statement {sid} of policy 'repo' names the IAM user "
    "arn:aws:iam::111122223333:user/{user} in its Principal, which AWS applies to the "
    "federated user sessions that user creates (GetFederationToken); the spec does not say "
    "which IAM user created the session of 'carol' "
    "(arn:aws:sts::111122223333:federated-user/carol), so the tool cannot decide this check. "
    "Name the federated user (arn:aws:sts::111122223333:federated-user/carol) in the statement "
    "as well, or check the IAM user itself"
)


def test_a_statement_naming_an_iam_user_leaves_a_federated_users_check_undecided(
    tmp_path: Path,
) -> None:
    spec = load(
        tmp_path,
        SPEC
        + dedent("""\
        cases:
          - principal: carol
            resource: app
            deny: [pull, ecr:PutImage]
          - principal: carol
            resource: app
            deny: ecr:DeleteRepository
            context: {aws:SourceVpc: vpc-1}
          - principal: carol
            resource: app
            deny: ecr:DeleteRepository
            context: {aws:SourceVpc: vpc-2}
          - principal: carol
            resource: app
            allow: ecr:DescribeImages
          - principal: [bob, other-carol]
            resource: app
            allow: ecr:BatchGetImage
            deny: ecr:PutImage
        """),
    )
    got = {c.test_id: c.error for c in spec.checks}
    assert got == {
        # pull's first step is decided by BobPulls, which may name carol's creator
        "case1[carol-app-pull]": UNDECIDED.format(line=39, sid="BobPulls", user="bob"),
        "case1[carol-app-ecr:PutImage]": None,  # no statement about it names a user
        # a Deny naming a user: if mallory created carol's session, it applies
        "case2[carol-app-ecr:DeleteRepository]": UNDECIDED.format(
            line=42, sid="NotFromOutside", user="mallory"
        ),
        # its condition cannot hold in this context: settled whoever created the session
        "case3[carol-app-ecr:DeleteRepository]": None,
        # "*" names carol herself: the statement applies whoever created the session
        "case4[carol-app-ecr:DescribeImages]": None,
        # the IAM user itself, and a federated user of another account, are decided
        "case5[bob-app-ecr:BatchGetImage]": None,
        "case5[bob-app-ecr:PutImage]": None,
        "case5[other-carol-app-ecr:BatchGetImage]": None,
        "case5[other-carol-app-ecr:PutImage]": None,
    }
    runs = {c.test_id: checks.evaluate_check(c) for c in spec.checks}
    assert runs["case1[carol-app-pull]"].to_result()["outcome"] == "error"
    assert runs["case5[bob-app-ecr:BatchGetImage]"].passed
    assert runs["case5[other-carol-app-ecr:BatchGetImage]"].decision == "implicit-deny"


def test_naming_the_federated_user_too_decides_the_check(tmp_path: Path) -> None:
    text = SPEC.replace(
        "Principal: {AWS: arn:aws:iam::111122223333:user/bob}",
        "Principal: {AWS: [arn:aws:iam::111122223333:user/bob, "
        "arn:aws:sts::111122223333:federated-user/carol]}",
    ) + dedent("""\
        cases:
          - principal: carol
            resource: app
            allow: ecr:BatchGetImage
        """)
    (check,) = load(tmp_path, text).checks
    assert check.error is None
    assert checks.evaluate_check(check).passed


# ---------------------------------------------------------------------------------------------
# A session ARN of a role named as a service-linked role


def test_a_session_arn_of_a_service_linked_roles_name_is_refused(tmp_path: Path) -> None:
    """An assumed-role ARN drops the role's path, and only the path (/aws-service-role/) tells
    a service-linked role, which SCPs and RCPs do not restrict: taking it at path / would
    answer an SCP's deny wrongly, so the spec must give the role's ARN."""
    text = dedent("""\
        principals:
          replication: arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForECRReplication/r1
          exact:
            arn: arn:aws:iam::111122223333:role/aws-service-role/ecr.amazonaws.com/AWSServiceRoleFor
            session: r1
        resources:
          app: arn:aws:ecr:us-east-1:111122223333:repository/app
        cases:
          - principal: replication
            resource: app
            deny: pull
          - principal: arn:aws:sts::111122223333:assumed-role/awsservicerolefortest/s1
            resource: app
            deny: pull
        """)
    assert errors(tmp_path, text) == [
        "spec.yaml:2:16: arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForECRReplication/r1"
        " is a session of AWSServiceRoleForECRReplication, named as a service-linked role is; a "
        "session ARN does not carry the role's path, and SCPs and RCPs do not restrict a "
        "service-linked role (path /aws-service-role/SERVICE/), so the tool cannot tell which "
        "role this is: give the role's ARN and the session, {arn: arn:aws:iam::111122223333:"
        "role/aws-service-role/SERVICE/AWSServiceRoleForECRReplication, session: r1} "
        "(role/AWSServiceRoleForECRReplication for a role at path /)",
        "spec.yaml:12:16: arn:aws:sts::111122223333:assumed-role/awsservicerolefortest/s1 is a "
        "session of awsservicerolefortest, named as a service-linked role is; a session ARN "
        "does not carry the role's path, and SCPs and RCPs do not restrict a service-linked "
        "role (path /aws-service-role/SERVICE/), so the tool cannot tell which role this is: "
        "give the role's ARN and the session, {arn: arn:aws:iam::111122223333:role/"
        "aws-service-role/SERVICE/awsservicerolefortest, session: s1} "
        "(role/awsservicerolefortest for a role at path /)",
    ]
    # any other role's session ARN is that session of the role at path /
    spec = load(
        tmp_path,
        dedent("""\
            resources:
              app: arn:aws:ecr:us-east-1:111122223333:repository/app
            cases:
              - principal: arn:aws:sts::111122223333:assumed-role/ci/s1
                resource: app
                deny: pull
            """),
    )
    (check,) = spec.checks
    assert check.principal.arn == "arn:aws:iam::111122223333:role/ci"
    assert check.principal.session_arn == "arn:aws:sts::111122223333:assumed-role/ci/s1"


def test_a_key_the_context_gives_settles_a_statement_naming_an_iam_user(tmp_path: Path) -> None:
    """aws:TokenIssueTime is unknowable until the case gives it; once given, a condition on it
    that cannot hold settles the statement, whoever created the session."""
    text = dedent("""\
        policies:
          repo:
            document:
              Version: "2012-10-17"
              Statement:
                - Sid: BobPullsLater
                  Effect: Allow
                  Principal: {AWS: arn:aws:iam::111122223333:user/bob}
                  Action: ecr:BatchGetImage
                  Condition: {DateGreaterThan: {aws:TokenIssueTime: "2030-01-01T00:00:00Z"}}
        principals:
          carol: arn:aws:sts::111122223333:federated-user/carol
        resources:
          app: {arn: "arn:aws:ecr:us-east-1:111122223333:repository/app", policy: repo}
        cases:
          - principal: carol
            resource: app
            deny: ecr:BatchGetImage
            context: {aws:TokenIssueTime: "2026-01-01T00:00:00Z"}
          - principal: carol
            resource: app
            deny: ecr:BatchGetImage
            context: {aws:TokenIssueTime: "2031-01-01T00:00:00Z"}
        """)
    first, second = load(tmp_path, text).checks
    assert first.error is None
    assert checks.evaluate_check(first).passed
    assert second.error is not None
    assert second.error.startswith(
        "spec.yaml:20:5: statement BobPullsLater of policy 'repo' names the IAM user "
        "arn:aws:iam::111122223333:user/bob in its Principal"
    )
