"""Shards end to end: two ``--policy-shard`` runs merged give what one unsharded run gives."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner import results, sarif
from runner.shards import Shard, parse_shard, shard_of

DATA = Path(__file__).parent / "data" / "sarif"
TIME = "2026-12-01T00:00:00Z"

#: A spec of its own shard (1 of 2; tests/data/sarif's app.yaml is in shard 2): one check
#: passes, one fails.
STAGING = """\
principals:
  staging: arn:aws:iam::111122223333:user/staging
resources:
  app:
    arn: arn:aws:ecr:us-east-1:111122223333:repository/app
    policy: app-repo
policies:
  app-repo:
    file: policies/app-repo.json
cases:
  - name: staging pulls
    principal: staging
    resource: app
    action: ecr:BatchGetImage
    expect: allow
  - name: staging cannot tag
    principal: staging
    resource: app
    action: ecr:TagResource
    expect: explicit-deny
"""


def _pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "specs", "-p", "no:cacheprovider", "--no-policy-report",
         f"--policy-time={TIME}", *args],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on sharding: the checks, the errors, the policy inventory."""
    policies = data["policies"]
    return {
        "checks": sorted(data["checks"], key=lambda c: c["id"]),
        "errors": sorted(data["errors"], key=lambda e: json.dumps(e, sort_keys=True)),
        # a policy used by several spec files is one entry once merged
        "policies": sorted(
            {(p["file"], p["name"], p["kind"], json.dumps(p["statements"])) for p in policies}
        ),
        "evaluated_at": data["evaluated_at"],
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shards")
    shutil.copytree(DATA, root, dirs_exist_ok=True)
    (root / "specs" / "staging.yaml").write_text(STAGING, encoding="utf-8")
    # the data must really be split: both shards have spec files
    files = sorted(str(p.relative_to(root).as_posix()) for p in (root / "specs").glob("*.yaml"))
    assert {f: shard_of(f, 2) for f in files} == {
        "specs/app.yaml": 2,
        "specs/staging.yaml": 1,
        "specs/tagged.yaml": 1,
        "specs/typo.yaml": 1,
    }
    return root


def test_two_shards_merged_equal_the_unsharded_run(project: Path) -> None:
    whole = _pytest(project, "--policy-results=whole.json", "--policy-sarif=whole.sarif")
    assert whole.returncode == 1, whole.stdout
    shard_runs = [
        _pytest(project, f"--policy-shard={k}/2", f"--policy-results=shard-{k}.json")
        for k in (1, 2)
    ]
    assert [r.returncode for r in shard_runs] == [1, 1]
    assert "3 failed, 1 passed" in shard_runs[1].stdout.splitlines()[-1]
    merged = subprocess.run(
        [sys.executable, "-m", "runner", "report", "shard-1.json", "shard-2.json",
         "-o", "merged.html", "--sarif", "merged.sarif"],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    whole_results = results.load_results([project / "whole.json"])
    merged_results = results.load_results([project / "shard-1.json", project / "shard-2.json"])
    assert _comparable(merged_results) == _comparable(whole_results)
    # each shard has only its own files
    shard_1 = json.loads((project / "shard-1.json").read_text(encoding="utf-8"))
    assert {c["file"] for c in shard_1["checks"]} == {"specs/staging.yaml"}
    assert {e["file"] for e in shard_1["errors"]} == {"specs/tagged.yaml", "specs/typo.yaml"}
    # the SARIF files: the same log, byte for byte in content
    whole_log = json.loads((project / "whole.sarif").read_text(encoding="utf-8"))
    merged_log = json.loads((project / "merged.sarif").read_text(encoding="utf-8"))
    assert merged_log == whole_log
    assert len(whole_log["runs"][0]["results"]) == 6
    assert merged_log == sarif.to_sarif(whole_results)
    assert (project / "merged.html").is_file()


def test_a_shard_without_spec_files_exits_0_with_an_empty_results_file(
    project: Path, tmp_path: Path
) -> None:
    shutil.copytree(project, tmp_path, dirs_exist_ok=True)
    for name in ("staging.yaml", "tagged.yaml", "typo.yaml"):
        (tmp_path / "specs" / name).unlink()
    run = _pytest(tmp_path, "--policy-shard=1/2", "--policy-results=empty.json")
    assert run.returncode == 0, run.stdout + run.stderr
    empty = json.loads((tmp_path / "empty.json").read_text(encoding="utf-8"))
    assert empty["checks"] == [] and empty["errors"] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3/2", "the shard must be 1 to 2, got 3 in '3/2'"),
        ("0/2", "the shard must be 1 to 2, got 0 in '0/2'"),
        ("1/0", "the number of shards must be 1 to 256, got 0"),
        ("half", "expected K/N such as 1/3 (shard K of N), got 'half'"),
    ],
)
def test_bad_shard_options(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_shard(text)
    assert str(info.value) == message


def test_bad_shard_option_is_a_usage_error(project: Path) -> None:
    run = _pytest(project, "--policy-shard=3/2")
    assert run.returncode == 4
    assert "--policy-shard: the shard must be 1 to 2, got 3 in '3/2'" in run.stderr


def test_the_split_is_stable_and_covers_every_file() -> None:
    files = [f"specs/team-{i}/repo-{j}.yaml" for i in range(10) for j in range(10)]
    shards = [Shard(k, 4) for k in range(1, 5)]
    owners = [[s for s in shards if s.includes(f)] for f in files]
    assert all(len(o) == 1 for o in owners)  # each file in exactly one shard
    sizes = [sum(o[0] is s for o in owners) for s in shards]
    assert min(sizes) >= 15  # 100 files over 4 shards: none starved
    # the same answer for ./ and \\ spellings of the path, whatever else exists
    assert Shard(2, 4).includes("specs/team-1/repo-2.yaml") == Shard(2, 4).includes(
        "./specs\\team-1\\repo-2.yaml"
    )
    assert parse_shard(" 2 / 4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
