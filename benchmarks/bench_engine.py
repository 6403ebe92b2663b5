"""Engine throughput: compile a realistic policy set once, then evaluate many decisions.

Run from the repository root:

    /work/venv/bin/python benchmarks/bench_engine.py [--decisions 20000] [--profile]

The corpus: an identity policy, a permissions boundary, a repository policy and an SCP (plus
FullAWSAccess), about five statements each, most with conditions; principals in the same
account, across accounts, with and without the boundary, users, a service principal; pull,
push, delete and account-level actions; three repositories; varied source IPs and tags.
Prints median and p95 microseconds per decision on one core, decisions per second, and the
cost of ``Decision.to_dict()`` relative to ``evaluate()``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runner import catalog, engine, model
from runner import policy as validate
from runner.model import PolicyKind

A, B, C = "111122223333", "444455556666", "777788889999"
NOW = dt.datetime(2026, 11, 30, 4, 10, tzinfo=dt.UTC)

IDENTITY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Token", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "Pull",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:Describe*"],
            "Resource": "arn:aws:ecr:*:*:repository/*",
        },
        {
            "Sid": "PushOwnTeam",
            "Effect": "Allow",
            "Action": ["ecr:Put*", "ecr:*LayerUpload", "ecr:UploadLayerPart", "ecr:Batch*"],
            "Resource": f"arn:aws:ecr:us-east-1:{A}:repository/${{aws:PrincipalTag/team}}/*",
        },
        {
            "Sid": "OfficeOnly",
            "Effect": "Deny",
            "Action": "ecr:*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
        },
        {
            "Sid": "NoDelete",
            "Effect": "Deny",
            "Action": "ecr:Delete*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/role": "admin"}},
        },
    ],
}
BOUNDARY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Ecr", "Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
        {"Sid": "Logs", "Effect": "Allow", "Action": "logs:*", "Resource": "*"},
        {
            "Sid": "NoRegistry",
            "Effect": "Deny",
            "Action": ["ecr:PutRegistryPolicy", "ecr:DeleteRegistryPolicy"],
            "Resource": "*",
        },
        {
            "Sid": "Regions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
        },
        {
            "Sid": "Tagged",
            "Effect": "Deny",
            "Action": "ecr:PutImage",
            "Resource": "*",
            "Condition": {"Null": {"aws:PrincipalTag/team": "true"}},
        },
    ],
}
REPOSITORY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CrossAccountPull",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        },
        {
            "Sid": "OrgPull",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        },
        {
            "Sid": "CodeBuild",
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {"StringEquals": {"aws:SourceAccount": A}},
        },
        {
            "Sid": "CiPush",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{A}:role/ci"},
            "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart"],
        },
        {
            "Sid": "DenyDelete",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["ecr:DeleteRepository", "ecr:BatchDeleteImage"],
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/admin*"}},
        },
    ],
}
SCP = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Regions",
            "Effect": "Deny",
            "NotAction": ["iam:*", "sts:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
        },
        {
            "Sid": "NoRegistryPolicy",
            "Effect": "Deny",
            "Action": "ecr:PutRegistryPolicy",
            "Resource": "*",
            "Condition": {"StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}},
        },
        {
            "Sid": "Tls",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "ProtectProd",
            "Effect": "Deny",
            "Action": "ecr:SetRepositoryPolicy",
            "Resource": f"arn:aws:ecr:*:{A}:repository/prod/*",
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/role": "admin"}},
        },
        {"Sid": "Rest", "Effect": "Allow", "Action": "*", "Resource": "*"},
    ],
}


def corpus(n: int, seed: int = 7) -> list[model.Request]:
    """``n`` varied requests against the compiled policy set."""
    identity = validate.compile_policy(IDENTITY, PolicyKind.IDENTITY, name="identity")
    boundary = validate.compile_policy(BOUNDARY, PolicyKind.BOUNDARY, name="boundary")
    repo_policy = validate.compile_policy(REPOSITORY, PolicyKind.RESOURCE, name="repo")
    scp = validate.compile_policy(SCP, PolicyKind.SCP, name="guardrails")
    org = model.Organization(
        id="o-a1b2c3d4e5",
        management_account="999999999999",
        accounts=frozenset({A, B}),
        scps=(validate.FULL_AWS_ACCESS, scp),
    )
    principals = [
        model.principal_from_arn(
            "ci", f"arn:aws:iam::{A}:role/ci", policies=[identity], tags={"team": "platform"}
        ),
        model.principal_from_arn(
            "dev",
            f"arn:aws:iam::{A}:role/dev",
            session="alice",
            policies=[identity],
            boundary=boundary,
            tags={"team": "apps"},
        ),
        model.principal_from_arn(
            "admin", f"arn:aws:iam::{A}:role/admin", policies=[identity], tags={"role": "admin"}
        ),
        model.principal_from_arn("alice", f"arn:aws:iam::{A}:user/alice", policies=[identity]),
        model.principal_from_arn("puller", f"arn:aws:iam::{B}:role/puller", policies=[identity]),
        model.principal_from_arn("partner", f"arn:aws:iam::{C}:role/partner", policies=[identity]),
        model.service_principal("codebuild", "codebuild.amazonaws.com"),
    ]
    resources = [
        model.repository(
            "prod",
            f"arn:aws:ecr:us-east-1:{A}:repository/prod/app",
            policy=repo_policy,
            tags={"env": "prod"},
        ),
        model.repository(
            "platform", f"arn:aws:ecr:us-east-1:{A}:repository/platform/tools", policy=repo_policy
        ),
        model.repository("eu", f"arn:aws:ecr:eu-west-1:{A}:repository/apps/web"),
        model.repository("ap", f"arn:aws:ecr:ap-south-1:{A}:repository/apps/web"),
    ]
    actions = [
        *catalog.OPERATIONS["pull"],
        *catalog.OPERATIONS["push"],
        "ecr:DeleteRepository",
        "ecr:DescribeImages",
        "ecr:SetRepositoryPolicy",
        "ecr:PutRegistryPolicy",
    ]
    contexts: list[dict[str, list[str]]] = [
        {"aws:SourceIp": ["203.0.113.7"]},
        {"aws:SourceIp": ["2001:db8::5"]},
        {"aws:SourceIp": ["198.51.100.1"]},
        {"aws:SourceIp": ["203.0.113.9"], "aws:SourceAccount": [A]},
        {},
    ]
    rng = random.Random(seed)
    return [
        model.Request(
            principal=rng.choice(principals),
            action=rng.choice(actions),
            resource=rng.choice(resources),
            context=rng.choice(contexts),
            organization=org,
        )
        for _ in range(n)
    ]


def measure(requests: list[model.Request]) -> tuple[list[float], list[engine.Decision]]:
    clock = time.perf_counter_ns
    evaluate = engine.evaluate
    timings: list[float] = []
    decisions: list[engine.Decision] = []
    for request in requests:
        start = clock()
        decision = evaluate(request, now=NOW)
        timings.append((clock() - start) / 1000)
        decisions.append(decision)
    return timings, decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    args = parser.parse_args()

    requests = corpus(args.decisions)
    measure(requests[:2000])  # warm caches (regexes of variables, interned strings)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        measure(requests)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    timings, decisions = measure(requests)
    timings.sort()
    median = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95)]
    total = sum(timings)
    outcomes = {k: sum(d.decision == k for d in decisions) for k in engine_outcomes()}

    sample = decisions[:2000]
    start = time.perf_counter_ns()
    for d in sample:
        d.to_dict()
    explain_us = (time.perf_counter_ns() - start) / 1000 / len(sample)
    evaluate_us = statistics.mean(timings)

    mix = ", ".join(f"{k} {v}" for k, v in outcomes.items())
    print(f"decisions:            {len(requests)} ({mix})")
    print(f"evaluate() median:    {median:.1f} us per decision")
    print(f"evaluate() p95:       {p95:.1f} us per decision")
    print(f"throughput:           {len(requests) / (total / 1e6):,.0f} decisions/s (one core)")
    print(f"to_dict() mean:       {explain_us:.1f} us ({explain_us / evaluate_us:.1f}x evaluate())")
    print(f"target (median <= 20 us): {'met' if median <= 20 else 'NOT met'}")


def engine_outcomes() -> tuple[str, ...]:
    return ("allow", "explicit-deny", "implicit-deny")


if __name__ == "__main__":
    main()
