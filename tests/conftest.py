"""Shared fixtures: a small spec project written into pytester's temporary directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

# Imported here, before any in-process pytester run: pytester forgets the modules a run
# imported, and PyYAML's C parser, which cannot be imported twice, would then go on making
# nodes of the first import's classes while a second import of yaml.nodes has new ones (the
# loader tells nodes apart by their exact class).
import yaml  # noqa: F401
from hypothesis import settings

pytest_plugins = ["pytester"]

# Property tests run on shared two-core machines: a slow example under load is not a failure
# (no per-example deadline), and CI runs the same examples every time (derandomize).
settings.register_profile("policyspec", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "policyspec")

REPO = Path(__file__).resolve().parent.parent

#: With the package installed, pytest loads the plugin through its ``pytest11`` entry point;
#: in a plain checkout the tests name it with ``-p``.
PLUGIN_ARGS: tuple[str, ...] = (
    ()
    if any(ep.name == "policyspec" for ep in entry_points(group="pytest11"))
    else ("-p", "runner.plugin")
)

APP_REPO_POLICY = """\
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AuditorsDescribe",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:user/auditor"},
      "Action": ["ecr:DescribeImages", "ecr:ListImages"]
    },
    {
      "Sid": "NoDeletes",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "ecr:DeleteRepository"
    }
  ]
}
"""

#: Every check in this spec passes (6 checks).
APP_SPEC = """\
description: CI pushes to app; the auditor only looks.
policies:
  app-repo:
    file: policies/app-repo.json
  ci-identity:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
                   "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                   "ecr:PutImage", "ecr:BatchGetImage", "ecr:DeleteRepository"]
          Resource: "*"
principals:
  ci:
    arn: arn:aws:iam::111122223333:role/ci
    policies: [ci-identity]
  auditor: arn:aws:iam::111122223333:user/auditor
resources:
  app:
    arn: arn:aws:ecr:us-east-1:111122223333:repository/app
    policy: app-repo
cases:
  - name: ci pushes
    principal: ci
    resource: app
    allow: [push]
  - name: auditor looks
    principal: auditor
    resource: app
    action: [ecr:DescribeImages, ecr:ListImages]
    expect: allow
  - name: auditor cannot push
    principal: auditor
    resource: app
    deny: [push, ecr:PutImage]
  - name: nobody deletes
    principal: ci
    resource: app
    action: ecr:DeleteRepository
    expect: explicit-deny
"""

#: Two of the three checks fail (line numbers matter to the tests).
WRONG_SPEC = """\
include: [_shared.yaml]
cases:
  - name: auditor pushes
    principal: auditor
    resource: app
    allow: [push]
  - name: ci deletes
    principal: ci
    resource: app
    action: ecr:DeleteRepository
    expect: allow
    context: {aws:SourceIp: 203.0.113.7}
  - name: auditor looks
    principal: auditor
    resource: app
    action: ecr:ListImages
    expect: allow
"""

SHARED_INCLUDE = APP_SPEC.split("cases:")[0].replace(
    "description: CI pushes to app; the auditor only looks.\n", ""
)

#: ``case:`` instead of ``cases:`` on line 3, column 1.
TYPO_SPEC = """\
description: a typo
principals: {auditor: "arn:aws:iam::111122223333:user/auditor"}
case:
  - principal: auditor
    action: ecr:GetAuthorizationToken
    expect: deny
"""


def _write_project(root: Path, *, wrong: bool = False, typo: bool = False) -> None:
    """Write ``specs/app.yaml`` and its policy; optionally ``wrong.yaml`` and ``typo.yaml``."""
    (root / "specs" / "policies").mkdir(parents=True, exist_ok=True)
    (root / "specs" / "policies" / "app-repo.json").write_text(APP_REPO_POLICY)
    (root / "specs" / "app.yaml").write_text(APP_SPEC)
    if wrong:
        (root / "specs" / "_shared.yaml").write_text(SHARED_INCLUDE)
        (root / "specs" / "wrong.yaml").write_text(WRONG_SPEC)
    if typo:
        (root / "specs" / "typo.yaml").write_text(TYPO_SPEC)


RunPytest = Callable[..., pytest.RunResult]
WriteProject = Callable[..., None]


@pytest.fixture
def write_project() -> WriteProject:
    """``write_project(root, wrong=False, typo=False)``: see :func:`_write_project`."""
    return _write_project


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def run_pytest(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> RunPytest:
    """``pytester.runpytest`` with the plugin enabled (``subprocess=True``: in a new
    interpreter); xdist workers and subprocesses can import ``runner``."""
    if PLUGIN_ARGS:  # not installed: let xdist workers import the checkout
        paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))

    def run(*args: str, subprocess: bool = False) -> pytest.RunResult:
        if subprocess:  # a fresh interpreter, through to its exit
            return pytester.runpytest_subprocess(*PLUGIN_ARGS, *args)
        return pytester.runpytest(*PLUGIN_ARGS, *args)

    return run
