"""Importing a large account stays under a second (issue 12).

Generates, in a temporary folder, a ``terraform show -json`` plan and an ``aws iam
get-account-authorization-details`` snapshot of one account with 500 roles and 200
repositories (each role with an inline policy, a customer managed policy created in the same
plan and attached through a reference, and an AWS managed policy; each repository with tags and
a repository policy), and times, best of ``--repeat`` runs in this process:

- ``json.loads`` of the same file: the floor, what reading the JSON alone costs;
- the reader alone (``parse_plan`` / ``parse_authorization_details``): values, places and
  links;
- a whole spec load that imports the file (every policy validated and compiled, principals and
  repositories built), with the import cache cleared before each run.

Run: ``python benchmarks/bench_imports.py`` (``--roles``, ``--repos``, ``--repeat``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.spec import load_spec
from runner.spec.imports import entries
from runner.spec.imports.authdetails import parse_authorization_details
from runner.spec.imports.common import ImportResult
from runner.spec.imports.terraform import parse_plan
from runner.speed import collector_paused

ACCOUNT = "111122223333"
Reader = Callable[[str, str], ImportResult]
PUSH = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
]


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _role_policy(i: int) -> dict[str, Any]:
    return _doc(
        {"Sid": "Token", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "Push",
            "Effect": "Allow",
            "Action": PUSH,
            "Resource": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team{i % 20}/*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": f"team{i % 20}"}},
        },
    )


def _repo_policy(j: int) -> dict[str, Any]:
    return _doc(
        {
            "Sid": "Pull",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        },
        {
            "Sid": "OnlyTeamPushes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": PUSH[1:],
            "Condition": {
                "ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/team{j % 20}-*"}
            },
        },
    )


def _change(
    address: str, rtype: str, name: str, after: dict[str, Any], unknown: dict[str, Any]
) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "index": None,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": unknown},
    }


def make_plan(roles: int, repos: int) -> dict[str, Any]:
    changes: list[dict[str, Any]] = []
    config: list[dict[str, Any]] = []
    for i in range(roles):
        role, pol = f"role{i}", f"pol{i}"
        changes.append(
            _change(
                f"aws_iam_role.{role}",
                "aws_iam_role",
                role,
                {
                    "name": f"team{i % 20}-svc{i}",
                    "path": "/",
                    "tags": {"team": f"team{i % 20}"},
                    "tags_all": {"team": f"team{i % 20}"},
                    "inline_policy": [
                        {
                            "name": "token",
                            "policy": json.dumps(
                                _doc(
                                    {
                                        "Effect": "Allow",
                                        "Action": "ecr:GetAuthorizationToken",
                                        "Resource": "*",
                                    }
                                )
                            ),
                        }
                    ],
                },
                {"arn": True, "id": True, "managed_policy_arns": True, "inline_policy": [{}]},
            )
        )
        changes.append(
            _change(
                f"aws_iam_policy.{pol}",
                "aws_iam_policy",
                pol,
                {"name": f"push-{i}", "path": "/", "policy": json.dumps(_role_policy(i))},
                {"arn": True, "id": True, "policy_id": True},
            )
        )
        for suffix, arn_after, arn_unknown in (
            ("own", {}, {"policy_arn": True}),
            (
                "ro",
                {"policy_arn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"},
                {},
            ),
        ):
            name = f"{role}_{suffix}"
            changes.append(
                _change(
                    f"aws_iam_role_policy_attachment.{name}",
                    "aws_iam_role_policy_attachment",
                    name,
                    {"role": f"team{i % 20}-svc{i}", **arn_after},
                    {"id": True, **arn_unknown},
                )
            )
        config.append(
            {
                "address": f"aws_iam_role_policy_attachment.{role}_own",
                "mode": "managed",
                "type": "aws_iam_role_policy_attachment",
                "name": f"{role}_own",
                "provider_config_key": "aws",
                "expressions": {
                    "role": {"references": [f"aws_iam_role.{role}.name", f"aws_iam_role.{role}"]},
                    "policy_arn": {
                        "references": [f"aws_iam_policy.{pol}.arn", f"aws_iam_policy.{pol}"]
                    },
                },
            }
        )
    for j in range(repos):
        repo = f"repo{j}"
        changes.append(
            _change(
                f"aws_ecr_repository.{repo}",
                "aws_ecr_repository",
                repo,
                {
                    "name": f"team{j % 20}/app{j}",
                    "tags": {"team": f"team{j % 20}"},
                    "tags_all": {"team": f"team{j % 20}"},
                },
                {"arn": True, "id": True, "repository_url": True, "registry_id": True},
            )
        )
        changes.append(
            _change(
                f"aws_ecr_repository_policy.{repo}",
                "aws_ecr_repository_policy",
                repo,
                {"repository": f"team{j % 20}/app{j}", "policy": json.dumps(_repo_policy(j))},
                {"id": True, "registry_id": True},
            )
        )
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "resource_changes": changes,
        "prior_state": {
            "values": {
                "root_module": {
                    "resources": [
                        {
                            "address": "data.aws_caller_identity.current",
                            "mode": "data",
                            "type": "aws_caller_identity",
                            "name": "current",
                            "values": {"account_id": ACCOUNT},
                        }
                    ]
                }
            }
        },
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}}
            },
            "root_module": {"resources": config},
        },
    }


def make_snapshot(roles: int) -> dict[str, Any]:
    role_list = []
    policies = []
    for i in range(roles):
        arn = f"arn:aws:iam::{ACCOUNT}:policy/push-{i}"
        role_list.append(
            {
                "Path": "/",
                "RoleName": f"team{i % 20}-svc{i}",
                "Arn": f"arn:aws:iam::{ACCOUNT}:role/team{i % 20}-svc{i}",
                "RolePolicyList": [
                    {
                        "PolicyName": "token",
                        "PolicyDocument": _doc(
                            {
                                "Effect": "Allow",
                                "Action": "ecr:GetAuthorizationToken",
                                "Resource": "*",
                            }
                        ),
                    }
                ],
                "AttachedManagedPolicies": [
                    {"PolicyName": f"push-{i}", "PolicyArn": arn},
                    {
                        "PolicyName": "AmazonEC2ContainerRegistryReadOnly",
                        "PolicyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                    },
                ],
                "Tags": [{"Key": "team", "Value": f"team{i % 20}"}],
            }
        )
        policies.append(
            {
                "PolicyName": f"push-{i}",
                "Arn": arn,
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {"Document": _role_policy(i), "VersionId": "v1", "IsDefaultVersion": True}
                ],
            }
        )
    return {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": role_list,
        "Policies": policies,
        "IsTruncated": False,
    }


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=500)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = {
            "terraform-plan": ("plan.json", make_plan(args.roles, args.repos), parse_plan),
            "authorization-details": (
                "snapshot.json",
                make_snapshot(args.roles),
                parse_authorization_details,
            ),
        }
        print(f"{args.roles} roles, {args.repos} repositories; best of {args.repeat} runs")
        head = ("import", "size", "json.loads", "reader", "spec load", "x loads")
        print(f"{head[0]:24} {head[1]:>8} {head[2]:>11} {head[3]:>9} {head[4]:>10} {head[5]:>8}")
        for kind, (name, data, reader) in files.items():
            text = json.dumps(data, indent=2)
            (root / name).write_text(text)
            spec = root / f"{kind}.yaml"
            case = "team0-svc0"
            spec.write_text(
                f"import:\n  - {kind}: {name}\ncases:\n  - principal: {case}\n"
                "    action: ecr:GetAuthorizationToken\n    expect: allow\n"
            )

            def load(spec: Path = spec) -> object:
                entries._results.clear()
                return load_spec(spec, display_root=root)

            load()  # once, so that imports and caches of the tool itself are warm

            def parse(text: str = text, reader: Reader = reader, name: str = name) -> object:
                with collector_paused():  # as the spec loader reads
                    return reader(name, text)

            floor = best(lambda text=text: json.loads(text), args.repeat)
            alone = best(parse, args.repeat)
            whole = best(load, args.repeat)
            size = f"{len(text) / 1e6:.1f}MB"
            print(
                f"{kind:24} {size:>8} {floor * 1000:>9.0f}ms {alone * 1000:>7.0f}ms "
                f"{whole * 1000:>8.0f}ms {whole / floor:>7.1f}x"
            )


if __name__ == "__main__":
    main()
