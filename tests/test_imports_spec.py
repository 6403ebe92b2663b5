"""``import:`` in spec files and AWS managed policies named in specs: what a loaded spec holds,
the decisions its checks get, and every refusal with its exact text and place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.checks import evaluate_check
from runner.errors import SpecError
from runner.model import Spec
from runner.spec import load_spec

DATA = Path(__file__).parent / "data" / "imports"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def load(root: Path, name: str = "spec.yaml") -> Spec:
    return load_spec(root / name, display_root=root)


def errors(root: Path, name: str = "spec.yaml") -> list[str]:
    with pytest.raises(SpecError) as exc:
        load(root, name)
    return [str(p) for p in exc.value.problems]


def decisions(spec: Spec) -> dict[str, str]:
    return {c.test_id: str(evaluate_check(c).decision) for c in spec.checks}


def copy(root: Path, kind: str, name: str, target: str) -> None:
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / kind / name, root / target)


PLAN_SPEC = """\
import:
  - terraform-plan: infra/plan.json
cases:
  - principal: ci
    resource: prod/app
    action: [ecr:PutImage, ecr:BatchGetImage, ecr:DeleteRepository]
    expect: allow
"""


def test_a_plan_import_gives_principals_and_resources(tmp_path: Path) -> None:
    copy(tmp_path, "terraform", "registry-plan.json", "infra/plan.json")
    write(tmp_path, {"spec.yaml": PLAN_SPEC})
    spec = load(tmp_path)
    assert decisions(spec) == {
        "case1[ci-prod/app-ecr:PutImage]": "allow",
        "case1[ci-prod/app-ecr:BatchGetImage]": "allow",
        # the developer boundary (created in the same plan) denies deletion
        "case1[ci-prod/app-ecr:DeleteRepository]": "explicit-deny",
    }
    names = {p.name for p in spec.policies}
    assert {"ci-push", "developer-boundary", "AmazonEC2ContainerRegistryReadOnly"} <= names
    assert spec.closed_accounts == frozenset()


def test_names_defined_twice_name_both_places(tmp_path: Path) -> None:
    copy(tmp_path, "terraform", "registry-plan.json", "infra/plan.json")
    copy(tmp_path, "terraform", "registry-plan.json", "infra/copy.json")
    write(
        tmp_path,
        {
            "spec.yaml": PLAN_SPEC.replace(
                "  - terraform-plan: infra/plan.json\n",
                "  - terraform-plan: infra/plan.json\n  - terraform-plan: infra/copy.json\n",
            ),
            "one.yaml": "principals:\n  ci: arn:aws:iam::111122223333:role/other\n" + PLAN_SPEC,
        },
    )
    twice = errors(tmp_path)
    assert twice[0] == (
        "infra/copy.json:103:18: principal 'ci' is defined twice: by terraform-plan "
        "infra/copy.json (infra/copy.json:103:18) and by terraform-plan infra/plan.json "
        "(infra/plan.json:103:18)"
    )
    assert (
        "infra/copy.json:14:18: resource 'prod/app' is defined twice: by terraform-plan "
        "infra/copy.json (infra/copy.json:14:18) and by terraform-plan infra/plan.json "
        "(infra/plan.json:14:18)"
    ) in twice
    assert len(twice) == 4  # ci, staging-deployer, prod/app, prod/internal
    assert errors(tmp_path, "one.yaml") == [
        "one.yaml:2:3: principal 'ci' is defined twice: here and by the import of "
        "terraform-plan infra/plan.json (infra/plan.json:103:18)"
    ]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "  - terraform-plan: infra/none.json\n",
            "spec.yaml:2:21: cannot import infra/none.json: no such file",
        ),
        (
            "  - terraform: infra/plan.json\n",
            "spec.yaml:2:5: an import names one source: 'terraform-plan: FILE', "
            "'cloudformation: FILE', 'authorization-details: FILE', 'organization-policy: FILE'; "
            "did you mean 'terraform-plan' for 'terraform'?",
        ),
        (
            "  - terraform-plan: infra/plan.json\n    regoin: us-east-1\n",
            "spec.yaml:3:5: unknown key 'regoin' in an import; did you mean 'region'? Valid "
            "keys: account, region, parameters",
        ),
        (
            "  - terraform-plan: infra/plan.json\n    parameters: {Env: prod}\n",
            "spec.yaml:3:5: 'parameters' is for CloudFormation templates only",
        ),
    ],
)
def test_import_entry_mistakes(tmp_path: Path, entry: str, expected: str) -> None:
    copy(tmp_path, "terraform", "registry-plan.json", "infra/plan.json")
    write(
        tmp_path,
        {
            "spec.yaml": "import:\n" + entry + "cases:\n  - principal: x\n    "
            "action: ecr:PutImage\n    expect: allow\n"
        },
    )
    assert errors(tmp_path)[0] == expected


def test_problems_inside_an_imported_file_are_reported_there(tmp_path: Path) -> None:
    copy(tmp_path, "terraform", "not-shipped.json", "infra/plan.json")
    write(
        tmp_path,
        {
            "spec.yaml": "import:\n  - terraform-plan: infra/plan.json\n    account: "
            '"111122223333"\ncases:\n  - principal: app\n    action: ecr:GetAuthorizationToken\n'
            "    expect: allow\n"
        },
    )
    assert errors(tmp_path) == [
        "infra/plan.json:44:25: aws_iam_role_policy_attachment.admin: "
        "arn:aws:iam::aws:policy/AdministratorAccess is an AWS managed policy this tool does "
        "not ship; copy its document into `policies:` (from `aws iam get-policy-version` or "
        "the AWS managed policy reference) and attach it by that name",
        "spec.yaml:5:16: unknown principal 'app'; no principals are defined",
    ]


def test_an_invalid_imported_policy_is_located_in_the_plan(tmp_path: Path) -> None:
    plan = json.loads((DATA / "terraform" / "registry-plan.json").read_text())
    for rc in plan["resource_changes"]:
        if rc["address"] == "aws_iam_policy.ci_push":
            rc["change"]["after"]["policy"] = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ecr:PushImage", "Resource": "*"}],
                }
            )
    write(tmp_path, {"infra/plan.json": json.dumps(plan, indent=1), "spec.yaml": PLAN_SPEC})
    [message] = errors(tmp_path)
    text = (tmp_path / "infra/plan.json").read_text().splitlines()
    line = next(i for i, t in enumerate(text) if "ecr:PushImage" in t)
    col = text[line].index('\\"ecr:PushImage') + 1
    assert message == (
        f"infra/plan.json:{line + 1}:{col}: Statement[0].Action: unknown Amazon ECR action "
        "'ecr:PushImage'; did you mean ecr:PutImage? (identity policy 'ci-push' of role ci)"
    )


def test_a_snapshot_closes_its_account(tmp_path: Path) -> None:
    copy(tmp_path, "authorization-details", "account.json", "snap.json")
    write(
        tmp_path,
        {
            "spec.yaml": "import:\n  - authorization-details: snap.json\ncases:\n"
            "  - principal: [alice, ci]\n    action: ecr:GetAuthorizationToken\n"
            "    expect: allow\n"
        },
    )
    spec = load(tmp_path)
    assert spec.closed_accounts == frozenset({"111122223333"})
    assert set(decisions(spec).values()) == {"allow"}


def test_an_organization_policy_joins_the_scps(tmp_path: Path) -> None:
    copy(tmp_path, "organization-policy", "deny-delete.json", "scp.json")
    body = (
        "principals:\n  admin:\n    arn: arn:aws:iam::111122223333:user/admin\n"
        "    policies: [AmazonEC2ContainerRegistryFullAccess]\n"
        "resources:\n  app: arn:aws:ecr:us-east-1:111122223333:repository/app\n"
        "cases:\n  - principal: admin\n    resource: app\n    action: ecr:DeleteRepository\n"
        "    expect: explicit-deny\n"
    )
    org = 'organization:\n  accounts: ["111122223333"]\n'
    write(
        tmp_path,
        {
            "spec.yaml": "import:\n  - organization-policy: scp.json\n" + org + body,
            "alone.yaml": "import:\n  - organization-policy: scp.json\n" + body,
        },
    )
    assert list(decisions(load(tmp_path)).values()) == ["explicit-deny"]
    assert errors(tmp_path, "alone.yaml") == [
        "alone.yaml:2:5: this import holds SCPs or RCPs, which apply to the accounts of an "
        "organization: define 'organization' with its accounts"
    ]


def test_a_template_import_with_parameters(tmp_path: Path) -> None:
    copy(tmp_path, "cloudformation", "registry.yaml", "cfn/registry.template.yaml")
    write(
        tmp_path,
        {
            "spec.yaml": "import:\n  - cloudformation: cfn/registry.template.yaml\n"
            '    account: "111122223333"\n    region: us-east-1\n    parameters: {Env: prod}\n'
            "cases:\n  - principal: ci\n    resource: prod/app\n"
            "    action: [ecr:PutImage, ecr:DeleteRepository]\n    expect: allow\n"
        },
    )
    assert decisions(load(tmp_path)) == {
        "case1[ci-prod/app-ecr:PutImage]": "allow",
        # ci has ReadOnly, the push policy and a token policy: nothing deletes
        "case1[ci-prod/app-ecr:DeleteRepository]": "implicit-deny",
    }


# -- AWS managed policies named in a spec --------------------------------------------------------

MANAGED = """\
principals:
  reader:
    arn: arn:aws:iam::111122223333:role/reader
    policies: [{ref}]
resources:
  app: arn:aws:ecr:us-east-1:111122223333:repository/app
cases:
  - principal: reader
    resource: app
    action: [ecr:BatchGetImage, ecr:PutImage]
    expect: allow
"""


@pytest.mark.parametrize(
    "ref",
    [
        "AmazonEC2ContainerRegistryReadOnly",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    ],
)
def test_managed_policy_by_name_or_arn(tmp_path: Path, ref: str) -> None:
    write(tmp_path, {"spec.yaml": MANAGED.format(ref=ref)})
    assert decisions(load(tmp_path)) == {
        "case1[reader-app-ecr:BatchGetImage]": "allow",
        "case1[reader-app-ecr:PutImage]": "implicit-deny",
    }


def test_managed_policy_refusals(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "spec.yaml": MANAGED.format(ref="arn:aws:iam::aws:policy/AdministratorAccess"),
            "repo.yaml": MANAGED.format(ref="AmazonEC2ContainerRegistryReadOnly").replace(
                "  app: arn:aws:ecr:us-east-1:111122223333:repository/app\n",
                "  app:\n    arn: arn:aws:ecr:us-east-1:111122223333:repository/app\n"
                "    policy: AmazonEC2ContainerRegistryReadOnly\n",
            ),
        },
    )
    assert errors(tmp_path) == [
        "spec.yaml:4:16: arn:aws:iam::aws:policy/AdministratorAccess is an AWS managed policy "
        "this tool does not ship; copy its document into `policies:` (from `aws iam "
        "get-policy-version` or the AWS managed policy reference) and attach it by that name"
    ]
    assert errors(tmp_path, "repo.yaml") == [
        "repo.yaml:8:13: AmazonEC2ContainerRegistryReadOnly is an AWS managed policy: it is "
        "attached to users and roles (as an identity policy or a permissions boundary), not "
        "as a repository policy"
    ]


def test_an_include_file_can_import_relative_to_itself(tmp_path: Path) -> None:
    copy(tmp_path, "authorization-details", "account.json", "shared/snap.json")
    write(
        tmp_path,
        {
            "shared/_account.yaml": "import:\n  - authorization-details: snap.json\n",
            "spec.yaml": "include: [shared/_account.yaml]\ncases:\n  - principal: alice\n"
            "    action: ecr:GetAuthorizationToken\n    expect: allow\n",
        },
    )
    spec = load(tmp_path)
    assert spec.closed_accounts == frozenset({"111122223333"})
    assert list(decisions(spec).values()) == ["allow"]


def test_a_closed_account_makes_an_only_check_provable(tmp_path: Path) -> None:
    copy(tmp_path, "authorization-details", "account.json", "snap.json")
    # the account's root user always exists (a snapshot never lists it): it is named too
    root = "  account-root: arn:aws:iam::111122223333:root\n"
    only = (
        "resources:\n  app: arn:aws:ecr:us-east-1:111122223333:repository/prod/app\n"
        "cases:\n  - resource: app\n    action: [ecr:PutImage]\n"
        "    only: [ci, account-root]\n"
    )
    write(
        tmp_path,
        {
            "closed.yaml": "import:\n  - authorization-details: snap.json\n"
            "principals:\n" + root + only,
            # the same role, written by hand: its account is not closed
            "open.yaml": "principals:\n  ci:\n    arn: arn:aws:iam::111122223333:role/build/ci\n"
            "    policies: [AmazonEC2ContainerRegistryPowerUser]\n" + root + only,
        },
    )

    def universal(name: str) -> bool:
        [check] = [c for c in load(tmp_path, name).checks if c.universal is not None]
        return evaluate_check(check).passed

    assert universal("closed.yaml") is True
    # an unmodelled role of 111122223333 whose identity policy allows ecr:PutImage
    assert universal("open.yaml") is False


def test_an_imported_role_named_anyone_is_refused(tmp_path: Path) -> None:
    snap = json.loads((DATA / "authorization-details" / "account.json").read_text())
    snap["RoleDetailList"][0]["RoleName"] = "anyone"
    snap["RoleDetailList"][0]["Arn"] = "arn:aws:iam::111122223333:role/build/anyone"
    write(
        tmp_path,
        {
            "snap.json": json.dumps(snap, indent=1),
            "spec.yaml": "import:\n  - authorization-details: snap.json\ncases:\n"
            "  - principal: alice\n    action: ecr:GetAuthorizationToken\n    expect: allow\n",
        },
    )
    lines = (tmp_path / "snap.json").read_text().splitlines()
    line = next(i for i, t in enumerate(lines) if '"RoleName": "anyone"' in t)
    col = lines[line].index('"anyone"') + 1
    assert errors(tmp_path) == [
        f"snap.json:{line + 1}:{col}: this principal is named 'anyone', which is the reserved "
        "principal name of every possible caller, so a case cannot name it; a spec cannot "
        "import it"
    ]


def test_import_files_outside_the_project_are_refused_unread(tmp_path: Path) -> None:
    """As includes and policy files (issue 10, item 3): an import through a symbolic link or a
    relative path out of the project is refused, and nothing of the file is quoted."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:TopSecret:/root:/bin/bash\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "plan.json").symlink_to(outside / "passwd")
    (project / "spec.yaml").write_text(
        "import:\n  - terraform-plan: plan.json\n  - authorization-details: ../outside/passwd\n"
        "cases:\n  - {principal: arn:aws:iam::111122223333:user/a, action: "
        "ecr:GetAuthorizationToken, expect: deny}\n"
    )
    where = f"it is outside the project {project.resolve().as_posix()} (symbolic links followed)"
    problems = errors(project)
    assert problems == [
        f"spec.yaml:2:21: cannot import 'plan.json': {where}; files outside the project are "
        "never read",
        f"spec.yaml:3:28: cannot import '../outside/passwd': {where}; files outside the "
        "project are never read",
    ]
    assert not any("TopSecret" in p for p in problems)
