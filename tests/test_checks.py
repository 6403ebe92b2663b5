"""checks.py: expectation semantics, operation decisions, result dicts and failure text."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from runner import checks, results
from runner import spec as loader
from runner.text import format_explanation, format_failure, terminal_safe


@pytest.mark.parametrize(
    ("decisions", "combined"),
    [
        (["allow"], "allow"),
        (["allow", "allow", "allow"], "allow"),
        (["allow", "implicit-deny", "allow"], "implicit-deny"),
        (["implicit-deny", "explicit-deny", "allow"], "explicit-deny"),
        (["explicit-deny"], "explicit-deny"),
    ],
)
def test_an_operation_is_allowed_only_when_every_step_is(
    decisions: list[str], combined: str
) -> None:
    assert checks.combine(decisions) == combined


@pytest.mark.parametrize(
    ("expected", "decision", "met"),
    [
        ("allow", "allow", True),
        ("allow", "implicit-deny", False),
        ("allow", "explicit-deny", False),
        ("deny", "allow", False),
        ("deny", "implicit-deny", True),
        ("deny", "explicit-deny", True),
        ("explicit-deny", "explicit-deny", True),
        ("explicit-deny", "implicit-deny", False),
        ("implicit-deny", "implicit-deny", True),
        ("implicit-deny", "explicit-deny", False),
        ("implicit-deny", "allow", False),
    ],
)
def test_expectations(expected: str, decision: str, met: bool) -> None:
    assert checks.expectation_met(expected, decision) is met


def test_unknown_expectation_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown expectation 'allowed'"):
        checks.expectation_met("allowed", "allow")


@pytest.fixture
def project(tmp_path: Path, write_project: Callable[..., None]) -> Path:
    write_project(tmp_path, wrong=True)
    return tmp_path


def _runs(project: Path, name: str) -> dict[str, checks.CheckRun]:
    spec = loader.load_spec(project / "specs" / name, display_root=project)
    return {c.test_id: checks.evaluate_check(c) for c in spec.checks}


def test_run_check_gives_plain_results_with_full_explanations(project: Path) -> None:
    spec = loader.load_spec(project / "specs" / "app.yaml", display_root=project)
    push = next(c for c in spec.checks if c.test_id == "ci-pushes[ci-app-push]")
    result = checks.run_check(push)
    assert json.loads(json.dumps(result)) == result  # plain built-in types only
    assert result["id"] == "specs/app.yaml::ci-pushes[ci-app-push]"
    assert (result["file"], result["line"], result["case"], result["case_index"]) == (
        "specs/app.yaml",
        push.loc.line,
        "ci pushes",
        0,
    )
    assert result["principal_arn"] == "arn:aws:sts::111122223333:assumed-role/ci/ci"
    assert result["resource_arn"] == "arn:aws:ecr:us-east-1:111122223333:repository/app"
    assert (result["expected"], result["decision"], result["passed"], result["outcome"]) == (
        "allow",
        "allow",
        True,
        "passed",
    )
    assert [s["action"] for s in result["steps"]] == [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
    ]
    assert all(s["decision"] == "allow" for s in result["steps"])
    assert {"gates", "policies", "request"} <= set(result["steps"][0]["explanation"])


def test_passing_checks_carry_compact_explanations_failing_ones_full(project: Path) -> None:
    runs = _runs(project, "wrong.yaml")
    passed = runs["auditor-looks[auditor-app-ecr:ListImages]"].to_result()
    failed = runs["ci-deletes[ci-app-ecr:DeleteRepository]"].to_result()
    assert passed["passed"] and not failed["passed"]
    assert set(passed["steps"][0]["explanation"]) == set(results.COMPACT_KEYS)
    assert passed["steps"][0]["explanation"]["decisive"][0]["sid"] == "AuditorsDescribe"
    assert {"policies", "gates"} <= set(failed["steps"][0]["explanation"])
    # the compact form agrees with the full one on what it keeps
    full = runs["auditor-looks[auditor-app-ecr:ListImages]"].to_result(explain=True)
    for key in results.COMPACT_KEYS:
        assert passed["steps"][0]["explanation"][key] == full["steps"][0]["explanation"][key]


def test_an_operation_fails_on_one_denied_step(project: Path) -> None:
    runs = _runs(project, "app.yaml")
    cannot_push = runs["auditor-cannot-push[auditor-app-push]"]
    assert cannot_push.decision == "implicit-deny" and cannot_push.passed
    denies = _runs(project, "wrong.yaml")["auditor-pushes[auditor-app-push]"]
    assert not denies.passed
    assert denies.decision == "implicit-deny"


def test_failure_text_names_the_decisive_statement(project: Path) -> None:
    run = _runs(project, "wrong.yaml")["ci-deletes[ci-app-ecr:DeleteRepository]"]
    text = format_failure(run.to_result(explain=True))
    assert text.splitlines() == [
        "expected allow, got explicit-deny",
        "case:      ci deletes (specs/wrong.yaml:7)",
        "principal: ci (arn:aws:sts::111122223333:assumed-role/ci/ci)",
        "action:    ecr:DeleteRepository",
        "resource:  app (arn:aws:ecr:us-east-1:111122223333:repository/app)",
        "context:   aws:SourceIp=203.0.113.7",
        "reason:    explicitly denied by statement NoDeletes of repository policy app-repo",
        "gate:      resource",
        "decisive statements:",
        "  Deny statement NoDeletes (#1) of repository policy app-repo, "
        "specs/policies/app-repo.json:10",
    ]


def test_spec_files_run_one_by_one_and_errors_do_not_stop_the_others(project: Path) -> None:
    (project / "specs" / "broken.yaml").write_text("cases: [{principal: nobody}]\n")
    files, problems = loader.find_spec_files([project / "specs"])
    assert problems == []
    assert [f.name for f in files] == ["app.yaml", "broken.yaml", "wrong.yaml"]
    runs = list(checks.run_spec_files(files, display_root=project))
    assert [len(r.runs) for r in runs] == [6, 0, 3]
    assert runs[1].error is not None and runs[0].error is None
    assert str(runs[1].error).startswith("specs/broken.yaml:1:")


def test_missing_paths_and_include_files_are_problems(project: Path) -> None:
    files, problems = loader.find_spec_files(
        [project / "nope.yaml", project / "specs" / "_shared.yaml"]
    )
    assert files == []
    assert [p.message for p in problems] == [
        f"{project / 'nope.yaml'}: no such file or directory",
        f"{project / 'specs' / '_shared.yaml'}: an include file (name starts with _) is not a spec",
    ]


def test_the_explanation_says_why_a_policy_takes_no_part(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "principals:\n"
        "  dev: arn:aws:iam::111122223333:user/dev\n"
        "resources:\n"
        "  app: {arn: 'arn:aws:ecr:us-east-1:111122223333:repository/app', policy: repo}\n"
        "policies:\n"
        "  repo:\n"
        "    document:\n"
        "      Version: '2012-10-17'\n"
        "      Statement:\n"
        "        - {Effect: Allow, Principal: {AWS: 'arn:aws:iam::111122223333:user/dev'},"
        " Action: 'ecr:CreateRepository'}\n"
        "cases:\n"
        "  - {principal: dev, resource: app, allow: ecr:CreateRepository}\n"
    )
    spec = loader.load_spec(tmp_path / "s.yaml", display_root=tmp_path)
    text = format_explanation(checks.run_check(spec.checks[0]))
    assert (
        "    gate resource: implicit-deny (ecr:CreateRepository creates the repository: it has "
        "no repository policy yet)"
    ) in text.splitlines()
    assert (
        "      (takes no part: ecr:CreateRepository creates the repository: its repository "
        "policy does not exist yet)"
    ) in text.splitlines()
    assert "not for this action" not in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, tabs\tand\nlines", "plain text, tabs\tand\nlines"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("bell\x07 cr\r nul\x00 del\x7f", "bell\\x07 cr\\x0d nul\\x00 del\\x7f"),
        ("c1 \x85 \x9b", "c1 \\x85 \\x9b"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("bidi \u202e override \u2066", "bidi \\u202e override \\u2066"),
        ("caf\u00e9 \u2713", "caf\u00e9 \u2713"),
    ],
)
def test_terminal_text_escapes_control_characters(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


def test_the_explanation_shows_values_and_an_absent_key_for_a_person(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "principals:\n"
        "  dev: {arn: 'arn:aws:iam::111122223333:user/dev', policies: [p]}\n"
        "policies:\n"
        "  p:\n"
        "    document:\n"
        "      Version: '2012-10-17'\n"
        "      Statement:\n"
        "        - Effect: Allow\n"
        "          Action: ecr:GetAuthorizationToken\n"
        "          Resource: '*'\n"
        "          Condition:\n"
        "            StringEquals: {aws:PrincipalOrgID: o-a1b2c3d4e5}\n"
        "            IpAddress: {aws:SourceIp: [203.0.113.0/24, 198.51.100.0/24]}\n"
        "cases:\n"
        "  - principal: dev\n"
        "    action: ecr:GetAuthorizationToken\n"
        "    expect: deny\n"
        "    context: {aws:SourceIp: 203.0.113.7}\n"
    )
    spec = loader.load_spec(tmp_path / "s.yaml", display_root=tmp_path)
    lines = format_explanation(checks.run_check(spec.checks[0])).splitlines()
    assert (
        "        StringEquals aws:PrincipalOrgID: expected o-a1b2c3d4e5, actual (absent) -> false"
        in lines
    )
    assert (
        "        IpAddress aws:SourceIp: expected [203.0.113.0/24, 198.51.100.0/24], "
        "actual 203.0.113.7 -> true"
    ) in lines
    assert not any("None" in line or "['" in line for line in lines)


def test_an_account_level_action_named_with_a_repository_is_not_shown_on_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.yaml").write_text(
        "principals:\n"
        "  ops: arn:aws:iam::111122223333:user/ops\n"
        "resources:\n"
        "  app: arn:aws:ecr:us-east-1:111122223333:repository/app\n"
        "cases:\n"
        "  - {principal: ops, resource: app, action: ecr:DescribeRegistry, expect: allow}\n"
    )
    spec = loader.load_spec(tmp_path / "s.yaml", display_root=tmp_path)
    lines = format_failure(checks.run_check(spec.checks[0])).splitlines()
    assert "resource:  * (account-level: the caller's own registry, not repository app)" in lines
    assert not any(line.startswith("resource:  app") for line in lines)
