"""Generators of benchmark corpora: valid spec files whose every check passes.

Each generator writes spec files (and their policies) into a fresh directory and returns the
number of checks it wrote, computed by construction. The benchmarks run the real tool on them
and fail loudly if a check does not pass, so a corpus can never silently measure errors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"

_CATALOG = json.loads((Path(__file__).parents[1] / "runner" / "data" / "ecr.json").read_text())
REPO_ACTIONS = [a["name"] for a in _CATALOG["actions"] if a["resource"] == "repository"]
#: Repository actions the matrix corpus's repository policy denies to untagged callers.
DENIED = [a for a in REPO_ACTIONS if a.startswith(("ecr:Delete", "ecr:BatchDelete"))] + [
    "ecr:SetRepositoryPolicy"
]
ALLOWED = [a for a in REPO_ACTIONS if a not in DENIED and a != "ecr:CreateRepository"]


def _fresh(out: Path) -> Path:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "pytest.ini").write_text("[pytest]\n")
    return out


def _yaml_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _matrix_policies() -> str:
    identity = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Auth",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
            {
                "Sid": "Repos",
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/bench/*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": REGION}},
            },
            {
                "Sid": "NoOtherRegions",
                "Effect": "Deny",
                "Action": "ecr:*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": [REGION, "eu-west-1"]}},
            },
        ],
    }
    repo = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PullFromOtherAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            },
            {
                "Sid": "OnlyPlatformDeletes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": DENIED,
                "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "platform"}},
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ecr:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    return (
        "policies:\n"
        f"  identity:\n    document: {json.dumps(identity)}\n"
        f"  repo:\n    document: {json.dumps(repo)}\n"
    )


def matrix(out: Path, *, principals: int, repos: int, actions: int, files: int) -> int:
    """``principals x repos x actions`` checks, the repositories spread over ``files`` specs.

    Every principal is a role session with an identity policy allowing ecr:* on the bench
    repositories; the repository policy explicitly denies deletes to callers without the
    ``team=platform`` tag, so the delete actions of the matrix are ``explicit-deny``.
    """
    if actions > len(ALLOWED) + len(DENIED):
        raise ValueError(f"at most {len(ALLOWED) + len(DENIED)} actions")
    out = _fresh(out)
    n_deny = min(len(DENIED), max(1, actions // 5))
    deny = DENIED[:n_deny]
    allow = ALLOWED[: actions - n_deny]
    names = [f"p{i:03d}" for i in range(principals)]
    head = _matrix_policies() + "principals:\n"
    for name in names:
        head += (
            f"  {name}:\n    arn: arn:aws:iam::{ACCOUNT}:role/svc-{name}\n"
            "    policies: [identity]\n"
        )
    (out / "_shared.yaml").write_text(head)
    per_file = [list(range(repos))[i::files] for i in range(files)]
    total = 0
    for f, repo_ids in enumerate(per_file):
        if not repo_ids:
            continue
        text = "include: [_shared.yaml]\nresources:\n"
        for r in repo_ids:
            text += (
                f"  r{r:03d}:\n    arn: arn:aws:ecr:{REGION}:{ACCOUNT}:repository/bench/r{r:03d}\n"
                "    policy: repo\n"
            )
        text += "cases:\n"
        text += (
            f"  - name: matrix\n    principal: {_yaml_list(names)}\n"
            f"    resource: {_yaml_list([f'r{r:03d}' for r in repo_ids])}\n"
            f"    allow: {_yaml_list(allow)}\n"
            f"    action: {_yaml_list(deny)}\n    expect: explicit-deny\n"
        )
        (out / f"spec_{f:04d}.yaml").write_text(text)
        total += principals * len(repo_ids) * (len(allow) + len(deny))
    return total


def many_files(out: Path, *, files: int, checks_per_file: int) -> int:
    """``files`` independent spec files, each with its own inline policies and
    ``checks_per_file`` checks (5 principals x 1 repository x actions)."""
    out = _fresh(out)
    per_principal, rest = divmod(checks_per_file, 5)
    if rest or per_principal > len(ALLOWED) + len(DENIED):
        raise ValueError("checks_per_file must be a multiple of 5 and at most 5 x 34")
    n_deny = min(len(DENIED), max(1, per_principal // 5))
    deny, allow = DENIED[:n_deny], ALLOWED[: per_principal - n_deny]
    policies = _matrix_policies()
    total = 0
    for f in range(files):
        names = [f"f{f}p{i}" for i in range(5)]
        text = f"description: generated spec {f}\n" + policies + "principals:\n"
        for name in names:
            text += (
                f"  {name}:\n    arn: arn:aws:iam::{ACCOUNT}:role/{name}\n"
                "    policies: [identity]\n"
            )
        text += (
            "resources:\n  repo:\n"
            f"    arn: arn:aws:ecr:{REGION}:{ACCOUNT}:repository/bench/f{f:04d}\n"
            "    policy: repo\n"
            "cases:\n"
            f"  - principal: {_yaml_list(names)}\n    resource: repo\n"
            f"    allow: {_yaml_list(allow)}\n    deny: {_yaml_list(deny)}\n"
        )
        (out / f"spec_{f:04d}.yaml").write_text(text)
        total += 5 * (len(allow) + len(deny))
    return total


def _heavy_policies(tag: int, statements: int) -> dict[str, list[dict[str, object]]]:
    """An identity policy, a permissions boundary, a repository policy and an SCP of about
    ``statements`` statements each. Every statement names every ECR action and matches the
    repository, so each one's conditions are evaluated for every action before the last
    statements decide: the worst case for the engine, as in a large organisation's policies
    written per team."""
    repo_arn = f"arn:aws:ecr:us-*:{ACCOUNT}:repository/heavy{tag}/*"

    def team_allows(prefix: str, resource: bool) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for i in range(statements - 1):
            stmt: dict[str, object] = {
                "Sid": f"{prefix}{i}",
                "Effect": "Allow",
                "Action": "ecr:*",
                "Condition": {
                    "IpAddress": {"aws:SourceIp": [f"10.{i % 250}.0.0/16", "203.0.113.0/24"]},
                    "StringLike": {"aws:RequestedRegion": "us-*"},
                    "StringEquals": {"aws:PrincipalTag/team": f"team{i}"},
                },
            }
            if resource:
                stmt["Resource"] = repo_arn
            out.append(stmt)
        return out

    ident = team_allows("Team", True)
    ident.append(
        {
            "Sid": "Platform",
            "Effect": "Allow",
            "Action": "ecr:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
        }
    )
    boundary = team_allows("Bound", True)
    boundary.append({"Sid": "BoundPlatform", "Effect": "Allow", "Action": "ecr:*", "Resource": "*"})
    repo = team_allows("Repo", False)
    for stmt in repo:
        stmt["Principal"] = {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}
    repo.append(
        {
            "Sid": "NoDeletes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": DENIED,
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/role": "admin"}},
        }
    )
    scp: list[dict[str, object]] = [
        {
            "Sid": f"Region{i}",
            "Effect": "Deny",
            "Action": "ecr:*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": f"xx-region-{i}"},
                "StringNotLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/break{i}-*"},
            },
        }
        for i in range(statements - statements // 25)  # 4 SCPs at the size limit for 100
    ]
    # AWS's size limits (characters without white space): a managed policy 6,144, an SCP
    # 5,120, a repository policy 10,240. About `statements` identity and SCP statements are
    # spread over as many policies as that takes (a role has up to 10 managed policies, an
    # account up to 5 SCPs); a boundary and a repository policy are one policy each, so they
    # keep what fits, ending with their decisive last statement.
    return {
        "identity": _packed(ident, 6_144),
        "boundary": _packed(boundary, 6_144, single=True),
        "repo": _packed(repo, 10_240, single=True),
        "scp": _packed(scp, 5_120),
    }


def _size(statements: list[dict[str, object]]) -> int:
    return len(
        json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))
    )


def _packed(
    statements: list[dict[str, object]], limit: int, *, single: bool = False
) -> list[dict[str, object]]:
    """Policy documents of at most ``limit`` characters holding ``statements`` in order; with
    ``single``, one document: the first statements that fit, then the last one."""
    if single:
        last, kept = statements[-1], []
        for stmt in statements[:-1]:
            if _size([*kept, stmt, last]) > limit:
                break
            kept.append(stmt)
        return [{"Version": "2012-10-17", "Statement": [*kept, last]}]
    docs: list[list[dict[str, object]]] = [[]]
    for stmt in statements:
        if docs[-1] and _size([*docs[-1], stmt]) > limit:
            docs.append([])
        docs[-1].append(stmt)
    return [{"Version": "2012-10-17", "Statement": d} for d in docs]


def heavy(
    out: Path,
    *,
    files: int,
    statements: int,
    principals: int,
    repos: int,
    operations_only: bool = False,
) -> int:
    """``files`` specs, each with its own identity policies, boundary, repository policy and
    SCPs (about ``statements`` identity and SCP statements with conditions, within AWS's
    policy size limits; see _heavy_policies), checking principals x repos x
    (pull, push and 18 single actions allowed; 5 delete actions explicitly denied), or with
    ``operations_only`` just pull and push (3 and 7 actions per check)."""
    out = _fresh(out)
    if operations_only:
        allow, deny = ["pull", "push"], []
    else:
        allow, deny = ["pull", "push", *ALLOWED[:18]], DENIED[:5]
    total = 0
    for f in range(files):
        names_of: dict[str, list[str]] = {}
        text = "policies:\n"
        for kind, docs in _heavy_policies(f, statements).items():
            for j, doc in enumerate(docs):
                name = f"{kind}{j}" if len(docs) > 1 else kind
                (out / f"{name}_{f:03d}.json").write_text(json.dumps(doc, indent=1))
                text += f"  {name}:\n    file: {name}_{f:03d}.json\n"
                names_of.setdefault(kind, []).append(name)
        names = [f"h{f}p{i}" for i in range(principals)]
        text += (
            'organization:\n  id: o-a1b2c3d4e5\n  management-account: "999999999999"\n'
            f'  accounts: ["{ACCOUNT}"]\n'
            f"  scps: {_yaml_list(['FullAWSAccess', *names_of['scp']])}\n"
            "context:\n  aws:SourceIp: 203.0.113.7\n"
            "principals:\n"
        )
        for name in names:
            text += (
                f"  {name}:\n    arn: arn:aws:iam::{ACCOUNT}:role/{name}\n"
                f"    policies: {_yaml_list(names_of['identity'])}\n    boundary: boundary\n"
                "    tags: {team: platform}\n"
            )
        text += "resources:\n"
        for r in range(repos):
            text += (
                f"  r{r}:\n    arn: arn:aws:ecr:{REGION}:{ACCOUNT}:repository/heavy{f}/r{r}\n"
                "    policy: repo\n"
            )
        text += (
            "cases:\n"
            f"  - principal: {_yaml_list(names)}\n"
            f"    resource: {_yaml_list([f'r{r}' for r in range(repos)])}\n"
            f"    allow: {_yaml_list(allow)}\n"
        )
        if deny:
            text += f"    action: {_yaml_list(deny)}\n    expect: explicit-deny\n"
        (out / f"spec_{f:03d}.yaml").write_text(text)
        total += principals * repos * (len(allow) + len(deny))
    return total
