"""The command line: python -m runner eval|explain|schema|report."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runner import __version__, checks
from runner import spec as loader
from runner.cli import main
from runner.results import policy_inventory
from runner.text import format_failure

EVAL_KEYS = {"file", "case", "principal", "action", "resource", "expected", "decision", "passed"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


WriteProject = Callable[..., None]


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_eval_prints_one_json_object_per_check_and_exits_0(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project)
    assert main(["eval", "specs"]) == 0
    captured = capsys.readouterr()
    rows = _lines(captured.out)
    assert len(rows) == 6
    assert all(EVAL_KEYS | {"id", "line", "steps"} <= set(r) for r in rows)
    first = rows[0]
    assert {k: first[k] for k in EVAL_KEYS} == {
        "file": "specs/app.yaml",
        "case": "ci pushes",
        "principal": "ci",
        "action": "push",
        "resource": "app",
        "expected": "allow",
        "decision": "allow",
        "passed": True,
    }
    assert captured.err == ""


def test_eval_exits_1_when_a_check_fails(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project, wrong=True)
    assert main(["eval", "specs/wrong.yaml"]) == 1
    rows = _lines(capsys.readouterr().out)
    assert [(r["case"], r["decision"], r["passed"]) for r in rows] == [
        ("auditor pushes", "implicit-deny", False),
        ("ci deletes", "explicit-deny", False),
        ("auditor looks", "allow", True),
    ]
    # a failed check shows each step's full explanation
    assert "policies" in rows[1]["steps"][0]["explanation"]  # type: ignore[index]


def test_eval_exits_2_on_a_spec_error_and_still_evaluates_the_rest(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project, wrong=True, typo=True)
    assert main(["eval", "specs"]) == 2
    captured = capsys.readouterr()
    assert len(_lines(captured.out)) == 9
    assert captured.err.splitlines() == [
        "specs/typo.yaml:3:1: unknown top-level key 'case'; did you mean 'cases'? Valid keys: "
        "description, include, import, policies, principals, resources, organization, "
        "closed-accounts, context, "
        "cases"
    ]


def test_eval_of_a_missing_path_is_a_message_not_a_traceback(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    assert main(["eval", "nowhere.yaml"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: nowhere.yaml: no such file or directory\n"


def test_eval_of_an_unreadable_path_says_why(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "a.yaml").symlink_to("b.yaml")
    (project / "b.yaml").symlink_to("a.yaml")
    long_name = "x" * 300 + ".yaml"
    assert main(["eval", "a.yaml", long_name]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: a.yaml: cannot be read: Too many levels of symbolic links",
        f"error: {long_name}: cannot be read: File name too long",
    ]


def test_explain_prints_the_case_for_a_person(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project, wrong=True)
    assert main(["explain", "specs/wrong.yaml", "--case", "2"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert (
        lines[0]
        == "specs/wrong.yaml::ci-deletes[ci-app-ecr:DeleteRepository]  (specs/wrong.yaml:7)"
    )
    assert lines[1] == "  FAIL: expected allow, got explicit-deny"
    assert "  ecr:DeleteRepository: explicit-deny" in lines
    assert (
        "    reason: explicitly denied by statement NoDeletes of repository policy app-repo"
        in lines
    )
    assert "    deciding gate: resource" in lines
    assert any(
        line.startswith("    repository policy app-repo (specs/policies/app-repo.json")
        for line in lines
    )
    assert any(line.startswith("      #1 NoDeletes Deny matched") for line in lines)
    assert lines[-1] == "0 of 1 check(s) passed"

    assert main(["explain", "specs/wrong.yaml", "--case", "auditor looks"]) == 0
    out = capsys.readouterr().out
    assert "  PASS: expected allow, got allow" in out
    assert "1 of 1 check(s) passed" in out


def test_explain_rejects_an_unknown_case(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project)
    assert main(["explain", "specs/app.yaml", "--case", "9"]) == 2
    assert "--case 9 is not one" in capsys.readouterr().err
    assert main(["explain", "specs/app.yaml", "--case", "ci pulls"]) == 2
    assert "has no case named 'ci pulls'" in capsys.readouterr().err
    # a digit that int() cannot read is a name, not a number (it was a traceback)
    assert main(["explain", "specs/app.yaml", "--case", "\u00b2"]) == 2
    assert "has no case named '\u00b2'" in capsys.readouterr().err


def test_explain_says_what_is_wrong_with_a_path_that_is_no_spec_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe.yaml")
    long_name = "a" * 300 + ".yaml"
    for spec, why in [
        (".", "a folder; explain takes one spec file"),
        ("pipe.yaml", "not a regular file"),
        ("missing.yaml", "no such file"),
        (long_name, "File name too long"),
        (f"{long_name}::case1[x]", "File name too long"),
    ]:
        assert main(["explain", spec, "--case", "1"]) == 2
        shown = spec.split("::")[0]
        assert capsys.readouterr().err == f"error: {shown}: {why}\n"


def test_schema_prints_the_packaged_json_schema(
    capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    shipped = json.loads((repo_root / "runner" / "data" / "spec.schema.json").read_text())
    assert printed == shipped


def test_a_package_imported_from_a_zip_file_reads_its_data(tmp_path: Path, repo_root: Path) -> None:
    # zipimport: the data files are not files on disk there (importlib.resources reads them)
    import zipfile

    archive = tmp_path / "runner.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((repo_root / "runner").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(repo_root).as_posix())
    (tmp_path / "spec.yaml").write_text(
        "principals:\n  ci: {arn: 'arn:aws:iam::111122223333:role/ci'}\n"
        "cases:\n  - {principal: ci, action: ecr:GetAuthorizationToken, expect: deny}\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {"PYTHONPATH": str(archive), "PATH": "/usr/bin:/bin"}
        cmd = [sys.executable, "-c", *args]
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)

    where = run("import runner; print(runner.__file__)")
    assert where.stdout.strip() == str(archive / "runner" / "__init__.py")
    schema = run("import sys; from runner.cli import main; sys.exit(main(['schema']))")
    assert (schema.returncode, schema.stderr) == (0, "")
    assert json.loads(schema.stdout) == json.loads(
        (repo_root / "runner" / "data" / "spec.schema.json").read_text()
    )
    evaluated = run("import sys; from runner.cli import main; sys.exit(main(['eval', '.']))")
    assert (evaluated.returncode, evaluated.stderr) == (0, "")
    assert json.loads(evaluated.stdout)["decision"] == "implicit-deny"


def test_report_subcommand_renders_results_files(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project, wrong=True)
    files, _ = loader.find_spec_files(["specs"])
    results = {
        "format": "policyspec-results/1",
        "checks": [
            run.to_result() for spec_run in checks.run_spec_files(files) for run in spec_run.runs
        ],
        "errors": [],
        "policies": policy_inventory(loader.load_spec("specs/app.yaml")),
    }
    (project / "results.json").write_text(json.dumps(results))
    assert main(["report", "results.json", "-o", "out/report.html"]) == 0
    html = (project / "out" / "report.html").read_text()
    assert "auditor-pushes" in html
    capsys.readouterr()
    assert main(["report", "missing.json", "-o", "x.html"]) == 2


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"pytest-policyspec {__version__}\n"
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_python_dash_m_runner_runs_the_cli(
    tmp_path: Path, write_project: WriteProject, repo_root: Path
) -> None:
    write_project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "eval", "specs"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(repo_root), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 6


def test_python_dash_m_runner_ends_at_once_with_everything_written(
    tmp_path: Path, repo_root: Path
) -> None:
    """The command ends with os._exit (no interpreter teardown): every line, every message on
    standard error, the results file and the exit status still arrive."""
    lines = [
        "policies:",
        "  p:",
        "    document:",
        "      Version: '2012-10-17'",
        "      Statement:",
    ]
    lines += ["        - {Effect: Allow, Action: 'ecr:*', Resource: '*'}", "principals:"]
    lines += [
        f"  p{i}: {{arn: 'arn:aws:iam::111122223333:role/r{i}', policies: [p]}}" for i in range(300)
    ]
    lines += ["cases:", "  - principal: [" + ", ".join(f"p{i}" for i in range(300)) + "]"]
    lines += ["    action: ecr:GetAuthorizationToken", "    expect: deny"]
    (tmp_path / "many.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "broken.yaml").write_text("cases: [\n")
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "eval", ".", "--results", "out.json"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(repo_root), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2  # the broken file is an error, and it outranks the failures
    out = proc.stdout.splitlines()
    assert len(out) == 300
    assert [json.loads(line)["outcome"] for line in out] == ["failed"] * 300
    assert proc.stderr.startswith("broken.yaml:2:1: ")
    written = json.loads((tmp_path / "out.json").read_text())
    assert len(written["checks"]) == 300
    # a reader that goes away early: no traceback, whatever was written before is kept
    head = subprocess.run(
        f"{shlex.quote(sys.executable)} -m runner eval many.yaml | head -n 1",
        shell=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert len(head.stdout.splitlines()) == 1
    assert "Traceback" not in head.stderr


def test_eval_time_pins_aws_current_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "timed.yaml"
    spec.write_text(
        "principals:\n  ci:\n    arn: arn:aws:iam::111122223333:role/ci\n    policies: [p]\n"
        "policies:\n  p:\n    document:\n      Version: '2012-10-17'\n      Statement:\n"
        "        - {Effect: Allow, Action: ecr:GetAuthorizationToken, Resource: '*',\n"
        "           Condition: {DateLessThan: {aws:CurrentTime: '2027-01-01T00:00:00Z'}}}\n"
        "cases:\n  - {principal: ci, action: ecr:GetAuthorizationToken, expect: allow}\n"
    )
    assert main(["eval", str(spec), "--time", "2026-12-31T23:59:59Z"]) == 0
    assert main(["eval", str(spec), "--time", "2027-01-01T00:00:00+00:00"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["decision"] for line in lines] == ["allow", "implicit-deny"]
    assert main(["eval", str(spec), "--time", "soon"]) == 2
    assert "'soon' is not a date and time; expected ISO 8601" in capsys.readouterr().err


def test_explain_and_errors_show_control_characters_escaped(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "hostile.yaml").write_text(
        "principals:\n  ci: arn:aws:iam::111122223333:user/ci\n"
        "cases:\n"
        '  - name: "red\\e[31m bell\\a"\n'
        "    principal: ci\n    action: ecr:GetAuthorizationToken\n    expect: allow\n"
        '    context: {aws:UserAgent: "cr\\r nul\\0 nel\\x85"}\n'
    )
    assert main(["explain", "hostile.yaml", "--case", "1"]) == 1
    out = capsys.readouterr().out
    assert "  context:   aws:UserAgent=cr\\x0d nul\\x00 nel\\x85" in out.splitlines()
    assert not any(ch in out for ch in "\x1b\x07\r\x00\x85")
    assert main(["eval", "no\x1b[2Jpe.yaml"]) == 2
    assert capsys.readouterr().err == "error: no\\x1b[2Jpe.yaml: no such file or directory\n"


def test_eval_a_check_that_cannot_be_decided_is_an_error_and_the_others_run(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    write_project: WriteProject,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_project(project)
    message = (
        "specs/app.yaml:24:5: the decision depends on aws:PrincipalAccount, which the case "
        "does not give; add it to the case's context, e.g. aws:PrincipalAccount: 111122223333"
    )
    warning = "specs/app.yaml:12:9: unknown condition key 'aws:PrincipleOrgID'"
    real = loader.load_spec

    def load(path: Path, **kwargs: object) -> object:
        spec = real(path, **kwargs)  # type: ignore[arg-type]
        checks_ = tuple(
            dataclasses.replace(c, error=message) if c.test_id == "ci-pushes[ci-app-push]" else c
            for c in spec.checks
        )
        return dataclasses.replace(spec, checks=checks_, warnings=(warning,))

    monkeypatch.setattr("runner.spec.load_spec", load)
    assert main(["eval", "specs"]) == 2
    captured = capsys.readouterr()
    rows = _lines(captured.out)
    assert len(rows) == 6
    assert {k: rows[0][k] for k in ("outcome", "message", "decision", "passed", "steps")} == {
        "outcome": "error",
        "message": message,
        "decision": None,
        "passed": False,
        "steps": [],
    }
    assert all(r["outcome"] == "passed" for r in rows[1:])
    assert captured.err.splitlines() == [
        "specs/app.yaml:12:9: warning: unknown condition key 'aws:PrincipleOrgID'",
        message,
    ]

    # explain shows the message in place of a decision
    assert main(["explain", "specs/app.yaml", "--case", "1"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        "specs/app.yaml::ci-pushes[ci-app-push]  (specs/app.yaml:24)",
        f"  ERROR: {message}",
    ]


def test_explain_takes_the_case_name_its_slug_a_test_id_or_a_node_id(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project, wrong=True)
    for case in ("auditor looks", "auditor-looks", "2"):
        assert main(["explain", "specs/app.yaml", "--case", case]) == 0
        out = capsys.readouterr().out
        assert out.count("  PASS: ") == 2 and out.endswith("\n2 of 2 check(s) passed\n")
    one = "auditor-looks[auditor-app-ecr:ListImages]"
    for argv in (
        ["explain", "specs/app.yaml", "--case", one],
        ["explain", f"specs/app.yaml::{one}"],
    ):
        assert main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == f"specs/app.yaml::{one}  (specs/app.yaml:28)"
        assert lines[-1] == "1 of 1 check(s) passed"
    assert main(["explain", "specs/wrong.yaml", "--case", "ci-deletes"]) == 1
    assert "  FAIL: expected allow, got explicit-deny" in capsys.readouterr().out


def test_explain_suggests_the_closest_case_or_check(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project)
    assert main(["explain", "specs/app.yaml", "--case", "ci-pushs"]) == 2
    assert capsys.readouterr().err == (
        "error: specs/app.yaml has no case named 'ci-pushs'; did you mean 'ci-pushes'? "
        "(cases: 'ci pushes', 'auditor looks', 'auditor cannot push', 'nobody deletes')\n"
    )
    assert (
        main(["explain", "specs/app.yaml", "--case", "auditor-looks[auditor-app-ListImages]"]) == 2
    )
    assert "did you mean 'auditor-looks[auditor-app-ecr:ListImages]'?" in capsys.readouterr().err


PULL_HALF_ALLOWED = """\
principals:
  ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [some-pull]}
resources:
  app: arn:aws:ecr:us-east-1:111122223333:repository/app
policies:
  some-pull:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: MostOfPull
          Effect: Allow
          Action: [ecr:GetAuthorizationToken, ecr:BatchGetImage]
          Resource: "*"
cases:
  - {name: ci pulls, principal: ci, resource: app, allow: pull}
"""


def test_explain_and_failure_text_list_the_failing_step_of_an_operation_first(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pull.yaml").write_text(PULL_HALF_ALLOWED)
    assert main(["explain", "pull.yaml", "--case", "ci-pulls"]) == 1
    steps = [
        line.strip() for line in capsys.readouterr().out.splitlines() if line.startswith("  ecr:")
    ]
    # pull is GetAuthorizationToken, BatchGetImage, GetDownloadUrlForLayer
    assert steps == [
        "ecr:GetDownloadUrlForLayer: implicit-deny",
        "ecr:GetAuthorizationToken: allow",
        "ecr:BatchGetImage: allow",
    ]
    [check] = loader.load_spec("pull.yaml").checks
    failure = format_failure(checks.run_check(check)).splitlines()
    start = failure.index("steps of pull:")
    assert [line.split(":")[0] + ":" + line.split(":")[1] for line in failure[start + 1 :]][:2] == [
        "  ecr:GetDownloadUrlForLayer",
        "  ecr:GetAuthorizationToken",
    ]


def test_eval_output_is_an_input_of_report(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project, wrong=True)
    assert main(["eval", "specs"]) == 1
    (project / "eval.jsonl").write_text(capsys.readouterr().out)
    assert main(["report", "eval.jsonl", "-o", "out/report.html"]) == 0
    assert capsys.readouterr().out == (
        "wrote out/report.html: 9 checks (2 failed or errored), 0 collection errors, "
        "from 1 results file(s)\n"
    )
    html = (project / "out" / "report.html").read_text()
    assert "ci-deletes[ci-app-ecr:DeleteRepository]" in html
    (project / "broken.jsonl").write_text('{"id": "a", "outcome": "passed"}\n{"id": \n')
    assert main(["report", "broken.jsonl", "-o", "x.html"]) == 2
    assert capsys.readouterr().err == (
        "error: broken.jsonl:2: not a JSON object; expected a results file written by "
        "--policy-results or eval --results, or the JSON lines eval prints\n"
    )


def test_eval_writes_a_results_file_for_report(
    project: Path, capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    write_project(project, wrong=True, typo=True)
    assert main(["eval", "specs", "--results", "out/r.json", "--time", "2027-01-01T00:00:00Z"]) == 2
    printed = _lines(capsys.readouterr().out)
    data = json.loads((project / "out" / "r.json").read_text())
    assert data["format"] == "policyspec-results/1"
    assert data["checks"] == printed  # the same check results eval prints
    assert data["evaluated_at"] == "2027-01-01T00:00:00Z"
    assert data["command"] == "python -m runner eval specs"
    assert data["project"] == project.name
    assert [(e["file"], e["line"], e["col"]) for e in data["errors"]] == [("specs/typo.yaml", 3, 1)]
    repo = [
        p for p in data["policies"] if p["name"] == "app-repo" and p["spec"] == "specs/app.yaml"
    ]
    assert [s["sid"] for s in repo[0]["statements"]] == ["AuditorsDescribe", "NoDeletes"]
    assert main(["report", "out/r.json", "-o", "out/report.html"]) == 0
    assert "9 checks (2 failed or errored), 1 collection errors" in capsys.readouterr().out
