"""Universal checks in spec files: the example specs pass, the leaky one fails with its
witness (decided again as an ordinary check), and every bad value of a class,
``closed-accounts`` or ``only`` is an error at its place."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runner import spec as loader
from runner.cli import main
from runner.engine.universal import replay
from runner.engine.universal_run import question_of
from runner.errors import SpecError

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "universal"


def _rows(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_the_universal_example_spec_passes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["eval", "specs/universal-registry.yaml"]) == 0
    rows = _rows(capsys.readouterr().out)
    universal = [r for r in rows if "universal" in r]
    by_case = {(r["case"], r["principal"], r["resource"], r["action"]) for r in universal}
    assert (
        "nothing outside the organization pulls from prod",
        "outsiders",
        "app",
        "pull",
    ) in by_case
    assert ("only CI pushes to prod", "anyone", "app", "push") in by_case
    assert (
        "every role of the organization can pull the base images",
        "org-roles",
        "base",
        "pull",
    ) in by_case
    only_ci = [r for r in rows if r["case"] == "only CI pushes to prod"]
    assert {(r["principal"], r["expected"], r["decision"]) for r in only_ci} == {
        ("ci", "allow", "allow"),
        ("anyone", "deny", "deny"),
    }
    assert all(r["passed"] and "witness" not in r for r in rows)


def test_the_leaky_perimeter_fails_with_a_witness_that_the_engine_confirms(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(DATA / "leaky-perimeter.yaml", tmp_path / "leaky-perimeter.yaml")
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "leaky-perimeter.yaml"]) == 1
    (row,) = _rows(capsys.readouterr().out)
    assert row["principal"] == "outsiders"
    assert row["decision"] == "allow" and row["passed"] is False
    witness = row["witness"]
    assert witness["principal"].startswith("arn:aws:iam::") and witness["name"] is None
    assert witness["tags"] == {} and witness["context"] == {}
    assert "StringEqualsIfExists holds when aws:PrincipalOrgID is absent" in row["witness_summary"]
    spec = loader.load_spec(tmp_path / "leaky-perimeter.yaml")
    (check,) = spec.checks
    decisions = replay(question_of(check), witness)
    assert [d.decision for d in decisions] == [s["decision"] for s in row["steps"]]


def test_explain_prints_the_witness_and_the_classes_considered(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(DATA / "leaky-perimeter.yaml", tmp_path / "leaky-perimeter.yaml")
    monkeypatch.chdir(tmp_path)
    assert main(["explain", "leaky-perimeter.yaml", "--case", "1"]) == 1
    out = capsys.readouterr().out
    assert "universal check over every caller outside the organization" in out
    assert "callers considered: " in out and "anonymous (unsigned) requests" in out
    assert "witness: an unmodelled IAM user arn:aws:iam::" in out


BAD = """\
organization: {{id: o-a1b2c3d4e5, accounts: ["111122223333"]}}
closed-accounts: {closed}
principals:
  ci: arn:aws:iam::111122223333:role/ci
  cls:
    anyone: {body}
resources:
  app: arn:aws:ecr:us-east-1:111122223333:repository/app
cases:
  - principal: cls
    resource: app
    deny: [pull]
"""


@pytest.mark.parametrize(
    ("closed", "body", "message"),
    [
        (
            '["111122223333"]',
            "{organisation: inside}",
            "bad.yaml:6:14: unknown condition 'organisation' in class 'cls'; did you mean "
            "'organization'? Valid keys: organization, account, type, except",
        ),
        (
            '["111122223333"]',
            "{organization: within}",
            "bad.yaml:6:28: expected inside or outside, got the text 'within'",
        ),
        (
            '["111122223333"]',
            "{type: robot}",
            "bad.yaml:6:20: unknown caller type 'robot'; expected user, role, root, federated, "
            "service or anonymous; did you mean 'root'?",
        ),
        (
            '["111122223333"]',
            "{except: [cd]}",
            "bad.yaml:6:23: unknown principal 'cd'; defined principals: ci",
        ),
        (
            '["111122223333"]',
            "{account: 1234}",
            "bad.yaml:6:23: expected an account ID (12 digits), got the number 1234",
        ),
        (
            "[12345]",
            "{}",
            "bad.yaml:2:19: expected an account ID (12 digits), got the number 12345",
        ),
    ],
)
def test_bad_class_values_are_located(tmp_path: Path, closed: str, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD.format(closed=closed, body=body))
    with pytest.raises(SpecError) as info:
        loader.load_spec(path)
    assert message in str(info.value)


def test_anyone_is_a_reserved_principal_name(tmp_path: Path) -> None:
    path = tmp_path / "reserved.yaml"
    path.write_text(
        "principals:\n  anyone: arn:aws:iam::111122223333:role/ci\n"
        "resources:\n  app: arn:aws:ecr:us-east-1:111122223333:repository/app\n"
        "cases:\n  - {principal: anyone, resource: app, deny: [pull]}\n"
    )
    with pytest.raises(SpecError) as info:
        loader.load_spec(path)
    assert "2:3: 'anyone' is a reserved principal name (every possible caller)" in str(info.value)


def test_universal_checks_have_stable_ids() -> None:
    spec = loader.load_spec(REPO / "specs" / "universal-registry.yaml")
    ids = [c.test_id for c in spec.checks if c.universal is not None]
    assert ids[:3] == [
        "nothing-outside-the-organization-pulls-from-prod[outsiders-base-pull]",
        "nothing-outside-the-organization-pulls-from-prod[outsiders-app-pull]",
        "only-ci-pushes-to-prod[anyone-app-push]",
    ]
    only = [c for c in spec.checks if c.case == "only CI pushes to prod"]
    assert [(c.principal.name, c.expected, c.universal is None) for c in only] == [
        ("ci", "allow", True),
        ("anyone", "deny", False),
    ]
    assert only[1].universal is not None
    assert only[1].universal.caller_class.excluded == frozenset({"ci"})
    assert only[1].universal.closed_accounts == frozenset({"111122223333"})


ONLY = """\
principals:
  ci: arn:aws:iam::111122223333:role/ci
  everyone:
    anyone: {{}}
resources:
  app: arn:aws:ecr:us-east-1:111122223333:repository/app
cases:
  - {case}
"""


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "{resource: app, action: [push], only: [ci], expect: allow}",
            "bad.yaml:8:49: a case with 'only' takes no 'expect': 'only' names the principals "
            "that are allowed the case's 'action', and no other caller is",
        ),
        ("{action: [push], only: [ci]}", "bad.yaml:8:5: a case with 'only' needs 'resource'"),
        (
            "{resource: app, action: [push], only: [everyone]}",
            "bad.yaml:8:44: 'everyone' is a class of callers; 'only' names principals",
        ),
        (
            "{resource: app, action: [push], only: [cd]}",
            "bad.yaml:8:44: unknown principal 'cd'; defined principals: ci, everyone",
        ),
    ],
)
def test_bad_only_cases_are_located(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(ONLY.format(case=case))
    with pytest.raises(SpecError) as info:
        loader.load_spec(path)
    assert message in str(info.value)


def test_a_check_that_cannot_be_decided_is_an_error_at_its_case(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vars.yaml").write_text(
        "policies:\n"
        "  repo:\n"
        "    document:\n"
        "      Version: '2012-10-17'\n"
        "      Statement:\n"
        "        - Sid: SameTeam\n"
        "          Effect: Allow\n"
        "          Principal: '*'\n"
        "          Action: ecr:BatchGetImage\n"
        "          Condition:\n"
        "            StringEquals: {aws:SourceVpce: '${aws:PrincipalTag/team}'}\n"
        "resources:\n"
        "  app: {arn: 'arn:aws:ecr:us-east-1:111122223333:repository/app', policy: repo}\n"
        "cases:\n"
        "  - {principal: anyone, resource: app, deny: [ecr:BatchGetImage]}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "vars.yaml"]) == 2
    (row,) = _rows(capsys.readouterr().out)
    assert row["outcome"] == "error" and row["passed"] is False
    assert row["message"].startswith(
        "vars.yaml:15:5: cannot decide exactly: the policy variable ${aws:PrincipalTag/team} "
        "in statement SameTeam of repository policy repo (vars.yaml:6) reads a key that ranges"
    )


def test_the_report_and_the_results_file_carry_the_witness(tmp_path: Path) -> None:
    shutil.copy(DATA / "leaky-perimeter.yaml", tmp_path / "leaky-perimeter.yaml")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--policy-report=r.html",
            "--policy-results=r.json",
            "leaky-perimeter.yaml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "witness: an unmodelled IAM user arn:aws:iam::" in done.stdout
    (check,) = json.loads((tmp_path / "r.json").read_text())["checks"]
    assert check["principal"] == "outsiders" and check["witness"]["name"] is None
    assert (
        "StringEqualsIfExists holds when aws:PrincipalOrgID is absent" in check["witness_summary"]
    )
    page = (tmp_path / "r.html").read_text()
    assert "witness_summary" in page and "outsiders" in page
