"""Universal checks against realistic repositories: the time of one check.

Each generated setup is one registry account in an organization: a repository policy of ten
statements with conditions (organization, VPC endpoint, principal ARN patterns, tags, IP
ranges, dates, secure transport), five defined principals with their identity policies, a
permissions boundary, two SCPs (FullAWSAccess and one with conditions) and an RCP. Each
setup gets ten universal checks (classes, actions and operations, expectations); the
constants (accounts, names, endpoints, ranges) differ from setup to setup.

    python benchmarks/bench_universal.py [--setups 60] [--cold]

``--cold`` empties the cache of string cells before every check (the first check of a
setup pays for its enumeration of callers; the others reuse it). Prints the median, the 90th
percentile and the slowest check, and how many passed, failed and were undecidable.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner import catalog  # noqa: E402
from runner.engine import universal_strings  # noqa: E402
from runner.engine.universal import (  # noqa: E402
    CallerClass,
    CallerKind,
    Membership,
    Question,
    Undecidable,
    decide,
)
from runner.model import (  # noqa: E402
    Expectation,
    Organization,
    PolicyKind,
    Principal,
    principal_from_arn,
    repository,
    service_principal,
)
from runner.policy import FULL_AWS_ACCESS, CompiledPolicy, compile_policy  # noqa: E402

PULL = list(catalog.OPERATIONS["pull"][1:])
PUSH = list(catalog.OPERATIONS["push"][1:])


def _pol(kind: PolicyKind, name: str, statements: list[dict[str, Any]]) -> CompiledPolicy:
    return compile_policy(
        {"Version": "2012-10-17", "Statement": statements}, kind, name=name, file=f"{name}.json"
    )


def _account(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(12))


def setup(rng: random.Random) -> tuple[list[Question], dict[str, Any]]:
    prod, staging, mgmt, partner = (_account(rng) for _ in range(4))
    org_id = "o-" + "".join(rng.choice("abcdefghij0123456789") for _ in range(10))
    vpce = f"vpce-{rng.randrange(16**8):08x}"
    net = f"203.0.{rng.randrange(256)}.0/24"
    team = rng.choice(["platform", "data", "ml", "web"])
    repo_name = rng.choice(["prod/app", "prod/api", "base/python", "shared/base"])
    repo_arn = f"arn:aws:ecr:us-east-1:{prod}:repository/{repo_name}"
    ci_arn = f"arn:aws:iam::{prod}:role/ci-{rng.choice(['build', 'deploy', 'release'])}"
    admin_arn = f"arn:aws:iam::{prod}:role/admin"
    repo_policy = _pol(
        PolicyKind.RESOURCE,
        "repo",
        [
            {
                "Sid": "OrgPulls",
                "Effect": "Allow",
                "Principal": "*",
                "Action": PULL,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
            },
            {"Sid": "CiPushes", "Effect": "Allow", "Principal": {"AWS": ci_arn}, "Action": PUSH},
            {
                "Sid": "OnlyThroughTheEndpoint",
                "Effect": "Deny",
                "Principal": "*",
                "Action": PUSH,
                "Condition": {
                    "StringNotEqualsIfExists": {"aws:SourceVpce": vpce},
                    "ArnNotLike": {"aws:PrincipalArn": ci_arn},
                },
            },
            {
                "Sid": "StagingDeployers",
                "Effect": "Allow",
                "Principal": {"AWS": staging},
                "Action": PULL,
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{staging}:role/deploy-*"}
                },
            },
            {
                "Sid": "NoDeletes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["ecr:DeleteRepository", "ecr:BatchDeleteImage"],
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": admin_arn}},
            },
            {
                "Sid": "BuildService",
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": PULL,
                "Condition": {"StringEquals": {"aws:SourceAccount": prod}},
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ecr:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "TeamDescribes",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["ecr:DescribeImages", "ecr:ListImages"],
                "Condition": {
                    "StringEquals": {"aws:PrincipalTag/team": team, "aws:PrincipalOrgID": org_id}
                },
            },
            {
                "Sid": "Sunset",
                "Effect": "Deny",
                "Principal": "*",
                "Action": PULL,
                "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2031-01-01T00:00:00Z"}},
            },
            {
                "Sid": "PartnerOffice",
                "Effect": "Allow",
                "Principal": {"AWS": partner},
                "Action": PULL,
                "Condition": {"IpAddress": {"aws:SourceIp": net}},
            },
        ],
    )
    res = repository("repo", repo_arn, policy=repo_policy, tags={"env": "prod"})
    all_ecr = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
    boundary = _pol(
        PolicyKind.BOUNDARY,
        "dev-boundary",
        [
            {"Effect": "Allow", "Action": ["ecr:Describe*", "ecr:List*", *PULL], "Resource": "*"},
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        ],
    )
    defined: dict[str, Principal] = {
        "ci": principal_from_arn(
            "ci",
            ci_arn,
            policies=[
                _pol(
                    PolicyKind.IDENTITY,
                    "ci-id",
                    [
                        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                        {
                            "Effect": "Allow",
                            "Action": PUSH,
                            "Resource": f"arn:aws:ecr:*:{prod}:repository/*",
                        },
                    ],
                )
            ],
        ),
        "admin": principal_from_arn(
            "admin", admin_arn, policies=[_pol(PolicyKind.IDENTITY, "admin-id", [all_ecr])]
        ),
        "dev": principal_from_arn(
            "dev",
            f"arn:aws:iam::{prod}:user/dev",
            policies=[_pol(PolicyKind.IDENTITY, "dev-id", [all_ecr])],
            boundary=boundary,
            tags={"team": team},
        ),
        "deployer": principal_from_arn(
            "deployer",
            f"arn:aws:iam::{staging}:role/deploy-app",
            policies=[
                _pol(
                    PolicyKind.IDENTITY,
                    "deployer-id",
                    [{"Effect": "Allow", "Action": list(catalog.OPERATIONS["pull"]), "Resource": "*"}],
                )
            ],
        ),
        "build": service_principal("build", "codebuild.amazonaws.com"),
    }
    scp = _pol(
        PolicyKind.SCP,
        "guardrails",
        [
            {
                "Sid": "Regions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}
                },
            },
            {
                "Sid": "NoRepoDeletes",
                "Effect": "Deny",
                "Action": "ecr:DeleteRepository",
                "Resource": "*",
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}},
            },
        ],
    )
    rcp = _pol(
        PolicyKind.RCP,
        "perimeter",
        [
            {
                "Sid": "OrgOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": {
                    "StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                },
            }
        ],
    )
    org = Organization(org_id, mgmt, frozenset({prod, staging}), (FULL_AWS_ACCESS, scp), (rcp,))
    plans: list[tuple[CallerClass, str, Expectation]] = [
        (CallerClass("outsiders", organization=Membership.OUTSIDE), "pull", Expectation.DENY),
        (CallerClass("all-but-ci", excluded=frozenset({"ci"})), "push", Expectation.DENY),
        (
            CallerClass(
                "org-roles", organization=Membership.INSIDE, kinds=frozenset({CallerKind.ROLE})
            ),
            "pull",
            Expectation.ALLOW,
        ),
        (CallerClass("public", kinds=frozenset({CallerKind.ANONYMOUS})), "pull", Expectation.DENY),
        (CallerClass("anyone"), "ecr:DeleteRepository", Expectation.DENY),
        (
            CallerClass("not-admin", excluded=frozenset({"admin"})),
            "ecr:BatchDeleteImage",
            Expectation.EXPLICIT_DENY,
        ),
        (CallerClass("staging", accounts=frozenset({staging})), "ecr:PutImage", Expectation.DENY),
        (
            CallerClass("services", kinds=frozenset({CallerKind.SERVICE})),
            "ecr:BatchGetImage",
            Expectation.DENY,
        ),
        (
            CallerClass(
                "prod-users", accounts=frozenset({prod}), kinds=frozenset({CallerKind.USER})
            ),
            "ecr:DescribeImages",
            Expectation.DENY,
        ),
        (
            CallerClass("outsiders", organization=Membership.OUTSIDE),
            "ecr:ListImages",
            Expectation.IMPLICIT_DENY,
        ),
    ]
    questions = []
    for cls, action, expected in plans:
        steps = catalog.OPERATIONS.get(action, (action,))
        questions.append(
            Question(cls, defined, res, action, tuple(steps), expected, {}, org, frozenset({prod}))
        )
    return questions, {"prod": prod}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", type=int, default=60)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    times: list[float] = []
    outcomes = {"passed": 0, "failed": 0, "undecidable": 0}
    evaluated = 0
    for _ in range(args.setups):
        questions, _info = setup(rng)
        for q in questions:
            if args.cold:
                universal_strings._CELLS_CACHE.clear()
            start = time.perf_counter()
            try:
                result = decide(q)
            except Undecidable:
                outcomes["undecidable"] += 1
            else:
                outcomes["passed" if result.passed else "failed"] += 1
                evaluated += result.evaluated
            times.append(time.perf_counter() - start)
    times.sort()
    ms = [t * 1000 for t in times]
    print(f"universal checks: {len(ms)} ({outcomes}), {evaluated} engine decisions")
    print(
        f"median {statistics.median(ms):.1f} ms, p90 {ms[int(len(ms) * 0.9)]:.1f} ms, "
        f"slowest {ms[-1]:.1f} ms, total {sum(ms) / 1000:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
