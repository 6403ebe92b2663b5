"""The pytest plugin as a user sees it: collection, ids, failures, errors, xdist, the report."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

RunPytest = Callable[..., pytest.RunResult]
WriteProject = Callable[..., None]

APP_IDS = [
    "specs/app.yaml::ci-pushes[ci-app-push]",
    "specs/app.yaml::auditor-looks[auditor-app-ecr:DescribeImages]",
    "specs/app.yaml::auditor-looks[auditor-app-ecr:ListImages]",
    "specs/app.yaml::auditor-cannot-push[auditor-app-push]",
    "specs/app.yaml::auditor-cannot-push[auditor-app-ecr:PutImage]",
    "specs/app.yaml::nobody-deletes[ci-app-ecr:DeleteRepository]",
]
WRONG_FAILED = [
    "specs/wrong.yaml::auditor-pushes[auditor-app-push]",
    "specs/wrong.yaml::ci-deletes[ci-app-ecr:DeleteRepository]",
]

UNRELATED = {
    "docker-compose.yml": "services:\n  web:\n    image: nginx:1.27\n    ports: ['80:80']\n",
    "mkdocs.yml": "site_name: Docs\nnav:\n  - Home: index.md\n"
    "markdown_extensions:\n  - pymdownx.emoji:\n"
    "      emoji_index: !!python/name:material.extensions.emoji.twemoji\n",
    ".github/workflows/ci.yml": "name: ci\non: [push]\njobs:\n  test:\n"
    "    runs-on: ubuntu-latest\n    steps:\n      - run: pytest\n",
    "cloudformation/ecr.yaml": "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n"
    "  Repo:\n    Type: AWS::ECR::Repository\n    Properties:\n"
    "      RepositoryName: !Ref RepoName\n      RepositoryPolicyText: !Sub '${AWS::AccountId}'\n",
    "k8s/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n",
    "config/empty.yaml": "",
    "config/list.yaml": "- a\n- b\n",
}


def _collected_ids(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line and " " not in line]


def test_only_spec_files_are_collected_among_unrelated_yaml(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path)
    for name, text in UNRELATED.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    collected = run_pytest("--collect-only", "-q")
    assert _collected_ids(collected) == APP_IDS
    assert "error" not in collected.stdout.str().lower()

    result = run_pytest()
    result.assert_outcomes(passed=6)
    assert result.ret == 0


def test_a_yaml_file_named_on_the_command_line_is_always_a_spec(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    pytester.path.joinpath("docker-compose.yml").write_text(UNRELATED["docker-compose.yml"])
    result = run_pytest("docker-compose.yml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["docker-compose.yml:1:1: unknown top-level key 'services'*"])


def test_a_spec_error_is_a_collection_error_without_traceback_and_others_still_run(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path, typo=True)
    result = run_pytest()
    result.assert_outcomes(passed=6, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "specs/typo.yaml:3:1: unknown top-level key 'case'; did you mean 'cases'?" in out, out
    assert "Traceback" not in out
    assert "runner/" not in out and "SpecError" not in out
    result.stdout.fnmatch_lines(["ERROR specs/typo.yaml*"])


def test_ids_select_single_checks_with_k(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path)
    result = run_pytest("-v", "-k", "auditor and PutImage")
    result.assert_outcomes(passed=1, deselected=5)
    result.stdout.fnmatch_lines(["*auditor-cannot-push[[]auditor-app-ecr:PutImage[]] PASSED*"])


def test_failed_checks_rerun_alone_with_lf(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path, wrong=True)
    first = run_pytest()
    first.assert_outcomes(passed=7, failed=2)
    again = run_pytest("--lf", "-v")
    again.assert_outcomes(failed=2, passed=0)
    for node_id in WRONG_FAILED:
        assert f"{node_id} FAILED" in again.stdout.str()


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_junitxml_names_each_check(
    pytester: pytest.Pytester,
    run_pytest: RunPytest,
    write_project: WriteProject,
    workers: list[str],
) -> None:
    write_project(pytester.path, wrong=True)
    # xunit1 records file/line; with -n 2 the passing checks' reports travel in the plugin's
    # compact form, the failing ones in pytest's own
    run_pytest(*workers, "--junitxml=junit.xml", "-o", "junit_family=xunit1")
    tree = ET.parse(pytester.path / "junit.xml")
    cases = {tc.get("name"): tc for tc in tree.iter("testcase")}
    assert set(cases) == {i.split("::")[1] for i in APP_IDS} | {
        "auditor-pushes[auditor-app-push]",
        "ci-deletes[ci-app-ecr:DeleteRepository]",
        "auditor-looks[auditor-app-ecr:ListImages]",
    }
    failed = {name for name, tc in cases.items() if tc.find("failure") is not None}
    assert failed == {"auditor-pushes[auditor-app-push]", "ci-deletes[ci-app-ecr:DeleteRepository]"}
    deletes = cases["ci-deletes[ci-app-ecr:DeleteRepository]"]
    assert deletes.get("file") == "specs/wrong.yaml"
    assert deletes.get("line") == "6"  # the case's line (7), 0-based as pytest reports it
    message = deletes.find("failure").get("message")  # type: ignore[union-attr]
    assert message is not None and "expected allow, got explicit-deny" in message
    pushes = cases["ci-pushes[ci-app-push]"]
    assert (pushes.get("file"), pushes.get("line")) == ("specs/app.yaml", "23")  # line 24
    assert pushes.find("failure") is None and pushes.find("error") is None


def test_failure_output_explains_the_decision(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path, wrong=True)
    result = run_pytest()
    result.stdout.fnmatch_lines(
        [
            "*ci ecr:DeleteRepository on app: expect allow*",
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
    )
    result.stdout.fnmatch_lines(
        [
            "expected allow, got implicit-deny",
            "case:      auditor pushes (specs/wrong.yaml:3)",
            "principal: auditor (arn:aws:iam::111122223333:user/auditor)",
            "action:    push (ecr:GetAuthorizationToken, *, ecr:PutImage, ecr:BatchGetImage)",
            "steps of push:",
            "  ecr:GetAuthorizationToken: implicit-deny [[]identity[]]: *",
            "  ecr:PutImage: implicit-deny [[]identity[]]: *",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def _results(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def test_results_file_holds_checks_errors_and_policies(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path, wrong=True, typo=True)
    result = run_pytest("--policy-results=out/results.json")
    result.stdout.fnmatch_lines(
        ["policy report: reports/policy-report.html; policy results: out/results.json"]
    )
    data = _results(pytester.path / "out" / "results.json")
    assert data["format"] == "policyspec-results/1"
    checks = data["checks"]
    assert isinstance(checks, list)
    by_id = {c["id"]: c for c in checks}
    assert set(by_id) >= set(APP_IDS) | set(WRONG_FAILED)
    assert len(by_id) == 9
    assert {c["outcome"] for c in checks} == {"passed", "failed"}
    deletes = by_id[WRONG_FAILED[1]]
    assert (deletes["expected"], deletes["decision"], deletes["passed"]) == (
        "allow",
        "explicit-deny",
        False,
    )
    assert deletes["context"] == {"aws:SourceIp": ["203.0.113.7"]}
    [step] = deletes["steps"]
    assert step["explanation"]["decisive"][0]["sid"] == "NoDeletes"
    push = by_id[APP_IDS[0]]
    assert [s["action"] for s in push["steps"]][-2:] == ["ecr:PutImage", "ecr:BatchGetImage"]
    assert push["principal_arn"] == "arn:aws:sts::111122223333:assumed-role/ci/ci"
    assert data["errors"] == [
        {
            "file": "specs/typo.yaml",
            "line": 3,
            "col": 1,
            "message": "unknown top-level key 'case'; did you mean 'cases'? Valid keys: "
            "description, include, import, policies, principals, resources, organization, "
            "closed-accounts, context, "
            "cases",
        }
    ]
    policies = data["policies"]
    assert isinstance(policies, list)
    repo = [p for p in policies if p["name"] == "app-repo" and p["spec"] == "specs/app.yaml"]
    assert repo and repo[0]["file"] == "specs/policies/app-repo.json"
    assert [(s["index"], s["sid"]) for s in repo[0]["statements"]] == [
        (0, "AuditorsDescribe"),
        (1, "NoDeletes"),
    ]
    assert (pytester.path / "reports" / "policy-report.html").is_file()


WRITE_LOG = """
import os
import runner.report

_real = runner.report.write_report

def _logged(results, path):
    with open(os.path.join(os.path.dirname(__file__), "writes.log"), "a") as log:
        log.write(f"{os.getpid()} {path}\\n")
    _real(results, path)

runner.report.write_report = _logged
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_controller_writes_one_report(
    pytester: pytest.Pytester,
    run_pytest: RunPytest,
    write_project: WriteProject,
    workers: list[str],
) -> None:
    import os

    write_project(pytester.path, wrong=True, typo=True)
    pytester.makeconftest(WRITE_LOG)
    result = run_pytest(*workers, "--policy-results=results.json", "--policy-report=r/x.html")
    result.assert_outcomes(passed=7, failed=2, errors=1)
    writes = (pytester.path / "writes.log").read_text().splitlines()
    assert writes == [f"{os.getpid()} {pytester.path / 'r' / 'x.html'}"]
    html = (pytester.path / "r" / "x.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    data = _results(pytester.path / "results.json")
    checks = data["checks"]
    assert isinstance(checks, list) and len(checks) == 9
    assert len(data["errors"]) == 1  # type: ignore[arg-type]
    assert {p["name"] for p in data["policies"]} >= {"app-repo", "ci-identity"}  # type: ignore[attr-defined]


def test_same_outcomes_with_xdist(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path, wrong=True)
    serial = run_pytest("--policy-results=serial.json", "--no-policy-report")
    parallel = run_pytest("-n", "2", "--policy-results=parallel.json", "--no-policy-report")
    serial.assert_outcomes(passed=7, failed=2)
    parallel.assert_outcomes(passed=7, failed=2)

    def outcomes(name: str) -> dict[str, tuple[str, str]]:
        checks = _results(pytester.path / name)["checks"]
        assert isinstance(checks, list)
        return {c["id"]: (c["decision"], c["outcome"]) for c in checks}

    assert outcomes("serial.json") == outcomes("parallel.json")
    assert not (pytester.path / "reports").exists()


def test_xdist_keeps_a_spec_file_on_one_worker(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path, wrong=True)
    result = run_pytest("-n", "2", "-v", "--no-policy-report")
    workers: dict[str, set[str]] = {}
    for line in result.outlines:
        m = re.match(r"\[(gw\d+)\] .*(PASSED|FAILED) (specs/\w+\.yaml)::", line)
        if m:
            workers.setdefault(m[3], set()).add(m[1])
    assert set(workers) == {"specs/app.yaml", "specs/wrong.yaml"}
    assert all(len(w) == 1 for w in workers.values()), workers


def test_no_report_without_spec_checks_or_when_disabled(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    run_pytest().assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()

    write_project(pytester.path)
    result = run_pytest("--no-policy-report")
    result.assert_outcomes(passed=7)
    assert not (pytester.path / "reports").exists()
    assert "policy report" not in result.stdout.str()


def test_default_report_goes_under_the_rootdir(
    pytester: pytest.Pytester,
    run_pytest: RunPytest,
    write_project: WriteProject,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_project(pytester.path)
    pytester.makeini("[pytest]\n")
    monkeypatch.chdir(pytester.path / "specs")
    result = run_pytest("app.yaml")
    result.assert_outcomes(passed=6)
    assert (pytester.path / "reports" / "policy-report.html").is_file()
    assert not (pytester.path / "specs" / "reports").exists()


def test_an_unwritable_report_path_is_reported_and_fails_the_run(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path)
    pytester.path.joinpath("blocker").write_text("a file, not a folder")
    result = run_pytest("--policy-report=blocker/report.html")
    result.assert_outcomes(passed=6)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["policyspec: error: cannot write */blocker/report.html: *"])
    assert "Traceback" not in result.stdout.str()


def test_same_report_data_with_and_without_xdist(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    from runner import report

    write_project(pytester.path, wrong=True, typo=True)
    at = "--policy-time=2026-11-30T04:10:00Z"
    run_pytest(at, "--policy-results=serial.json", "--no-policy-report")
    run_pytest(at, "-n", "2", "--policy-results=parallel.json", "--no-policy-report")
    serial = _results(pytester.path / "serial.json")
    parallel = _results(pytester.path / "parallel.json")
    for data in (serial, parallel):  # what differs between any two runs
        data["generated"], data["duration"], data["command"] = "T", 0.0, "pytest"

    def by_id(data: dict[str, object]) -> dict[str, object]:
        checks = data["checks"]
        assert isinstance(checks, list)
        return {c["id"]: c for c in checks}

    assert by_id(serial) == by_id(parallel)
    assert serial["errors"] == parallel["errors"]
    assert report.render_report(serial) == report.render_report(parallel)


TIMED_SPEC = """\
principals:
  ci:
    arn: arn:aws:iam::111122223333:role/ci
    policies: [until-2027]
policies:
  until-2027:
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: TemporaryPush
          Effect: Allow
          Action: ecr:GetAuthorizationToken
          Resource: "*"
          Condition: {DateLessThan: {aws:CurrentTime: "2027-01-01T00:00:00Z"}}
cases:
  - principal: ci
    action: ecr:GetAuthorizationToken
    expect: allow
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_policy_time_pins_aws_current_time(
    pytester: pytest.Pytester, run_pytest: RunPytest, workers: list[str]
) -> None:
    pytester.makefile(".yaml", timed=TIMED_SPEC)
    before = run_pytest(*workers, "--policy-time=2026-12-31T23:59:59Z", "--no-policy-report")
    before.assert_outcomes(passed=1)
    after = run_pytest(*workers, "--policy-time=2027-01-01", "--no-policy-report")
    after.assert_outcomes(failed=1)
    after.stdout.fnmatch_lines(["expected allow, got implicit-deny"])


def test_policy_time_without_zone_is_utc(pytester: pytest.Pytester, run_pytest: RunPytest) -> None:
    # as a date alone is (its midnight UTC), and as a policy's date conditions read one
    pytester.makefile(".yaml", timed=TIMED_SPEC)
    run_pytest("--policy-time=2026-12-31T23:59:59", "--no-policy-report").assert_outcomes(passed=1)
    run_pytest("--policy-time=2027-01-01T00:00:00", "--no-policy-report").assert_outcomes(failed=1)


def test_an_error_outside_the_decision_is_recorded_with_its_message(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path)
    pytester.makeconftest(
        "def pytest_runtest_setup(item):\n"
        "    if item.name.startswith('auditor'):\n"
        "        raise RuntimeError('the audit log is offline')\n"
    )
    result = run_pytest("--policy-results=results.json", "--no-policy-report")
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] >= 1
    checks = _results(pytester.path / "results.json")["checks"]
    assert isinstance(checks, list)
    errored = [c for c in checks if c["outcome"] == "error"]
    assert errored and all(
        c["message"] == "setup failed: RuntimeError: the audit log is offline" for c in errored
    )
    assert all(c["principal"] == "auditor" for c in errored)


def test_the_report_says_as_of_when_checks_were_evaluated(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path)
    run_pytest(
        "--policy-time=2027-03-01T12:00:00Z", "--policy-results=r.json", "--policy-report=r.html"
    )
    assert _results(pytester.path / "r.json")["evaluated_at"] == "2027-03-01T12:00:00Z"
    html = (pytester.path / "r.html").read_text()
    assert "Evaluated as of <time>2027-03-01T12:00:00Z</time> (aws:CurrentTime)" in html


def _report(**changes: object) -> pytest.TestReport:
    fields: dict[str, object] = {
        "nodeid": "specs/app.yaml::ci-pushes[ci-app-push]",
        "location": ("specs/app.yaml", 23, "ci push on app: expect allow"),
        "keywords": {"ci-pushes[ci-app-push]": 1, "app.yaml": 1, "specs": 1},
        "outcome": "passed",
        "longrepr": None,
        "when": "call",
        "sections": [],
        "duration": 0.0015,
        "start": 1796018297.5702,
        "stop": 1796018297.5717,
        "user_properties": [],
        "policyspec": {"id": "specs/app.yaml::ci-pushes[ci-app-push]", "decision": "allow"},
    }
    fields.update(changes)
    return pytest.TestReport(**fields)  # type: ignore[arg-type]


def _over_the_wire(data: dict[str, object]) -> dict[str, object]:
    """What xdist does to a report's data: add its fields, go through execnet's serializer."""
    from execnet.gateway_base import dumps_internal, loads_internal

    data = {**data, "item_index": 7, "worker_id": "gw1", "testrun_uid": "0123abcd"}
    loaded = loads_internal(dumps_internal(data))
    assert isinstance(loaded, dict)
    return loaded


def test_a_passing_checks_report_crosses_to_the_controller_unchanged() -> None:
    from types import SimpleNamespace

    from _pytest import reports as pytest_reports

    from runner import plugin

    worker = SimpleNamespace(workerinput={"workerid": "gw1"})
    for when in ("setup", "call", "teardown"):
        report = _report(when=when)
        compact = plugin.pytest_report_to_serializable(worker, report)  # type: ignore[arg-type]
        assert compact is not None and set(compact) == {"policyspec/report"}
        ours = plugin.pytest_report_from_serializable(worker, _over_the_wire(compact))  # type: ignore[arg-type]
        standard = pytest_reports.pytest_report_to_serializable(report)
        assert standard is not None
        theirs = pytest_reports.pytest_report_from_serializable(_over_the_wire(standard))
        assert ours is not None and theirs is not None
        assert type(ours) is type(theirs) is pytest.TestReport
        assert vars(ours) == vars(theirs)
        assert (ours.nodeid, ours.location, ours.passed) == (report.nodeid, report.location, True)
        assert ours.policyspec == report.policyspec  # type: ignore[attr-defined]
        assert ours.worker_id == "gw1"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "changes",
    [
        {"outcome": "failed", "longrepr": "expected allow, got explicit-deny"},
        {"outcome": "skipped", "longrepr": ("specs/app.yaml", 23, "Skipped: no")},
        {"sections": [("Captured stdout call", "hello\n")]},
        {"user_properties": [("owner", "security")]},
        {"nodeid": "tests/test_app.py::test_ok", "location": ("tests/test_app.py", 1, "test_ok")},
    ],
    ids=["failed", "skipped", "captured-output", "user-properties", "not-a-spec"],
)
def test_other_reports_keep_pytests_own_form(changes: dict[str, object]) -> None:
    from types import SimpleNamespace

    from runner import plugin

    worker = SimpleNamespace(workerinput={"workerid": "gw1"})
    report = _report(**changes)
    assert plugin.pytest_report_to_serializable(worker, report) is None  # type: ignore[arg-type]
    assert plugin.pytest_report_from_serializable(worker, {"nodeid": report.nodeid}) is None  # type: ignore[arg-type]


def test_the_controller_serializes_reports_in_pytests_own_form() -> None:
    """Other users of the hook (pytest-reportlog writes it to a file) see pytest's form."""
    from types import SimpleNamespace

    from runner import plugin

    controller = SimpleNamespace()
    assert plugin.pytest_report_to_serializable(controller, _report()) is None  # type: ignore[arg-type]


def _many_checks_spec() -> str:
    """60 principals x the 35 repository actions: 2,100 checks, enough for the plugin to keep
    the collected checks away from the cyclic garbage collector (2,000)."""
    from runner import catalog

    actions = sorted(a for a, info in catalog.ACTIONS.items() if info.resource == "repository")
    assert len(actions) == 35
    names = [f"p{i}" for i in range(60)]
    lines = ["principals:"]
    arn = "arn:aws:iam::111122223333:role"
    lines += [f"  {n}: {{arn: '{arn}/{n}', policies: [all]}}" for n in names]
    lines += [
        "policies:",
        "  all:",
        "    document:",
        '      Version: "2012-10-17"',
        "      Statement: [{Effect: Allow, Action: 'ecr:*', Resource: '*'}]",
        "resources:",
        "  app: arn:aws:ecr:us-east-1:111122223333:repository/app",
        "cases:",
        f"  - principal: [{', '.join(names)}]",
        "    resource: app",
        f"    action: [{', '.join(actions)}]",
        "    expect: allow",
    ]
    return "\n".join(lines) + "\n"


def test_an_in_process_run_gives_its_objects_back_to_the_garbage_collector(
    pytester: pytest.Pytester, run_pytest: RunPytest
) -> None:
    import gc

    pytester.makefile(".yaml", many=_many_checks_spec())
    result = run_pytest("--no-policy-report")
    result.assert_outcomes(passed=2100)
    assert gc.get_freeze_count() == 0


#: A garbage cycle with a finalizer, made after pytest's own last garbage collections and with
#: the automatic collector off: only a collection at interpreter exit finalizes it.
LATE_CYCLE_CONFTEST = """\
import gc
from pathlib import Path

def pytest_configure(config):
    here = Path.cwd()

    def late_cycle():
        class Cycle:
            def __del__(self):
                (here / "finalized.txt").write_text("yes")
        c = Cycle()
        c.me = c
        del c
        gc.disable()

    config.add_cleanup(late_cycle)
"""


def test_garbage_left_at_exit_is_still_finalized_after_a_large_run(
    pytester: pytest.Pytester, run_pytest: RunPytest
) -> None:
    """The plugin spares the interpreter's shutdown its walks over the checks still alive, but
    garbage cycles left at exit still run their finalizers."""
    pytester.makefile(".yaml", many=_many_checks_spec())
    pytester.makeconftest(LATE_CYCLE_CONFTEST)
    result = run_pytest("--no-policy-report", subprocess=True)
    result.assert_outcomes(passed=2100)
    assert (pytester.path / "finalized.txt").read_text() == "yes"


#: A case name and a context value with terminal control characters: ESC (a colour and a
#: window title), BEL, CR, NUL and a C1 control (NEL).
HOSTILE_TERMINAL_SPEC = """\
principals:
  ci: arn:aws:iam::111122223333:user/ci
cases:
  - name: "red\\e[31m bell\\a cr\\r nul\\0"
    principal: ci
    action: ecr:GetAuthorizationToken
    expect: allow
    context: {aws:UserAgent: "x\\x85\\e]0;title\\a"}
"""

RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_failure_text_shows_control_characters_escaped(
    pytester: pytest.Pytester, run_pytest: RunPytest
) -> None:
    pytester.makefile(".yaml", hostile=HOSTILE_TERMINAL_SPEC)
    result = run_pytest("--no-policy-report")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert RAW_CONTROLS.search(out) is None, repr(out)
    result.stdout.fnmatch_lines(
        [
            "case:      red\\x1b[[]31m bell\\x07 cr\\x0d nul\\x00 (hostile.yaml:4)",
            "context:   aws:UserAgent=x\\x85\\x1b]0;title\\x07",
        ]
    )


def test_collection_errors_show_control_characters_escaped(
    pytester: pytest.Pytester, run_pytest: RunPytest
) -> None:
    # a NUL and an ANSI escape in an include path, which the message names twice
    pytester.makefile(".yaml", broken='include: ["a\\0b\\e[2J.yaml"]\ncases: []\n')
    result = run_pytest("broken.yaml", "--no-policy-report")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert RAW_CONTROLS.search(out) is None, repr(out)
    assert "a\\x00b\\x1b[2J.yaml" in out


#: As the loader reports them: a check that cannot be decided (``Check.error``) and a spec
#: warning. The conftest gives them to ``specs/app.yaml`` and undoes it afterwards.
UNDECIDABLE = (
    "specs/app.yaml:24:5: the decision depends on aws:PrincipalAccount, which the case does "
    "not give; add it to the case's context, e.g. aws:PrincipalAccount: 111122223333"
)
WARNING = (
    "specs/app.yaml:12:9: unknown condition key 'aws:PrincipleOrgID'; did you mean "
    "'aws:PrincipalOrgID'?"
)
ERROR_AND_WARNING_CONFTEST = f"""
import dataclasses
import runner.spec

_real = runner.spec.load_spec

def _load(path, **kwargs):
    spec = _real(path, **kwargs)
    if not str(path).endswith("app.yaml"):
        return spec
    checks = tuple(
        dataclasses.replace(c, error={UNDECIDABLE!r}) if c.test_id == "ci-pushes[ci-app-push]"
        else c
        for c in spec.checks
    )
    return dataclasses.replace(spec, checks=checks, warnings=({WARNING!r},))

def pytest_configure(config):
    runner.spec.load_spec = _load

def pytest_unconfigure(config):
    runner.spec.load_spec = _real
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_check_that_cannot_be_decided_is_an_error_and_warnings_are_pytest_warnings(
    pytester: pytest.Pytester,
    run_pytest: RunPytest,
    write_project: WriteProject,
    workers: list[str],
) -> None:
    write_project(pytester.path)
    pytester.makeconftest(ERROR_AND_WARNING_CONFTEST)
    result = run_pytest(*workers, "-rE", "--policy-results=r.json", "--no-policy-report")
    result.assert_outcomes(passed=5, errors=1)
    assert result.stdout.str().count("PolicySpecWarning") == 1
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of*",
            UNDECIDABLE,
            "*PolicySpecWarning: " + WARNING,
            "ERROR specs/app.yaml::ci-pushes[[]ci-app-push[]] - CannotDecide: specs/app.yaml:2*",
        ]
    )
    data = _results(pytester.path / "r.json")
    checks = data["checks"]
    assert isinstance(checks, list)
    [errored] = [c for c in checks if c["outcome"] == "error"]
    assert (errored["id"], errored["message"], errored["decision"], errored["passed"]) == (
        "specs/app.yaml::ci-pushes[ci-app-push]",
        UNDECIDABLE,
        None,
        False,
    )
    assert data["warnings"] == [
        {
            "file": "specs/app.yaml",
            "line": 12,
            "col": 9,
            "message": WARNING.split(": ", 1)[1],
        }
    ]


def test_failure_text_ends_with_the_explain_command_for_the_check(
    pytester: pytest.Pytester,
    run_pytest: RunPytest,
    write_project: WriteProject,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_project(pytester.path, wrong=True)
    result = run_pytest("--policy-time=2026-11-30T04:10:00Z", "--no-policy-report")
    command = (
        "python -m runner explain specs/wrong.yaml --case "
        "'ci-deletes[ci-app-ecr:DeleteRepository]' --time 2026-11-30T04:10:00+00:00"
    )
    result.stdout.fnmatch_lines(
        [
            "  Deny statement NoDeletes (#1) of repository policy app-repo, "
            "specs/policies/app-repo.json:10",
            f"explain:   {command}",
        ]
    )
    # the command works as printed, from where pytest ran
    from runner.cli import main

    monkeypatch.chdir(pytester.path)
    capsys.readouterr()  # what the pytest run printed
    argv = shlex.split(command)[3:]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        "specs/wrong.yaml::ci-deletes[ci-app-ecr:DeleteRepository]  (specs/wrong.yaml:7)\n"
        "  FAIL: expected allow, got explicit-deny\n"
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_partial_run_says_what_it_left_out(
    pytester: pytest.Pytester,
    run_pytest: RunPytest,
    write_project: WriteProject,
    workers: list[str],
) -> None:
    write_project(pytester.path)
    result = run_pytest(
        *workers, "-k", "auditor and PutImage", "--policy-results=r.json", "--policy-report=r.html"
    )
    result.assert_outcomes(passed=1, deselected=0 if workers else 5)
    data = _results(pytester.path / "r.json")
    assert data["selection"] == {
        "deselected": 5,
        "deselected_by_file": {"specs/app.yaml": 5},
        "how": ["-k 'auditor and PutImage'"],
    }
    assert data["project"] == pytester.path.name
    html = (pytester.path / "r.html").read_text()
    assert "A partial run: 5 checks deselected (-k &#39;auditor and PutImage&#39;)." in html
    assert "never decided a check" in html and "<b>0</b> of 0 statements" in html
    assert "Add a case that relies on each of them" not in html


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_spec_file_left_out_entirely_is_counted(
    pytester: pytest.Pytester,
    run_pytest: RunPytest,
    write_project: WriteProject,
    workers: list[str],
) -> None:
    """A file none of whose checks run sends no report of its own; its checks are still
    counted as deselected (pytest's own count), also under xdist."""
    write_project(pytester.path, wrong=True)
    result = run_pytest(*workers, "-k", "ci-deletes", "--policy-results=r.json")
    result.assert_outcomes(failed=1, deselected=0 if workers else 8)
    assert _results(pytester.path / "r.json")["selection"] == {
        "deselected": 8,
        "deselected_by_file": {"specs/app.yaml": 6, "specs/wrong.yaml": 2},
        "how": ["-k ci-deletes"],
    }


def test_a_last_failed_run_says_so(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path, wrong=True)
    run_pytest("--no-policy-report")
    # pytest collects only the checks that failed (and not app.yaml at all)
    again = run_pytest("--lf", "--policy-results=r.json", "--no-policy-report")
    again.assert_outcomes(failed=2)
    selection = _results(pytester.path / "r.json")["selection"]
    assert selection == {
        "deselected": 1,
        "deselected_by_file": {"specs/wrong.yaml": 1},
        "how": ["--lf"],
    }


def test_an_account_level_action_is_reported_on_the_registry(
    pytester: pytest.Pytester, run_pytest: RunPytest
) -> None:
    pytester.makefile(
        ".yaml",
        registry="principals:\n  ops: arn:aws:iam::111122223333:user/ops\n"
        "resources:\n  app: arn:aws:ecr:us-east-1:111122223333:repository/app\n"
        "cases:\n"
        "  - {principal: ops, resource: app, action: ecr:DescribeRegistry, expect: allow}\n",
    )
    result = run_pytest("--no-policy-report")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ops ecr:DescribeRegistry on the registry: expect allow _*",
            "resource:  * (account-level: the caller's own registry, not repository app)",
        ]
    )
    assert "on app" not in result.stdout.str()


CLOCK_TEST = """\
from runner import PolicyKind, compile_policy, evaluate, principal_from_arn
from runner.model import Request


def test_the_engine_clock_is_the_runs_instant():
    # no spec file in this run: the engine's clock is still the run's --policy-time
    statement = {
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
    }
    policy = compile_policy(
        {"Version": "2012-10-17", "Statement": [statement]},
        PolicyKind.IDENTITY,
        name="until-2027",
    )
    who = principal_from_arn("ci", "arn:aws:iam::111122223333:role/ci", policies=[policy])
    decision = evaluate(Request(who, "ecr:GetAuthorizationToken", None))
    assert decision.decision == EXPECTED
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
@pytest.mark.parametrize(
    ("at", "expected"),
    [("2026-12-31T23:59:59Z", "allow"), ("2027-01-01", "implicit-deny")],
    ids=["before", "after"],
)
def test_policy_time_is_the_engine_clock_of_python_tests_too(
    pytester: pytest.Pytester, run_pytest: RunPytest, workers: list[str], at: str, expected: str
) -> None:
    pytester.makepyfile(test_clock=CLOCK_TEST.replace("EXPECTED", repr(expected)))
    result = run_pytest(*workers, f"--policy-time={at}", "--no-policy-report")
    result.assert_outcomes(passed=1)


INNER_RUN_TEST = """\
import pytest


def test_an_inner_pytest_run(tmp_path):
    (tmp_path / "test_inner.py").write_text("def test_inner():\\n    pass\\n")
    assert pytest.main(["-q", "-p", "no:cacheprovider", str(tmp_path / "test_inner.py")]) == 0
"""

LATE_SPEC = """\
policies:
  after-2029:
    document:
      Version: "2012-10-17"
      Statement:
        Effect: Allow
        Action: ecr:GetAuthorizationToken
        Resource: "*"
        Condition: {DateGreaterThan: {aws:CurrentTime: "2029-12-31T00:00:00Z"}}
principals:
  ci: {arn: "arn:aws:iam::111122223333:role/ci", policies: [after-2029]}
cases:
  - {principal: ci, action: ecr:GetAuthorizationToken, expect: allow}
"""


@pytest.mark.parametrize("workers", [["-n", "0"], ["-n", "1"]], ids=["serial", "one-worker"])
def test_an_inner_pytest_run_leaves_the_outer_runs_instant(
    pytester: pytest.Pytester, run_pytest: RunPytest, workers: list[str]
) -> None:
    # the Python test runs first (file order), then the spec: still at --policy-time
    pytester.makepyfile(test_a_inner=INNER_RUN_TEST)
    pytester.makefile(".yaml", z_late=LATE_SPEC)
    result = run_pytest(*workers, "--policy-time=2030-01-01T00:00:00Z", "--no-policy-report")
    result.assert_outcomes(passed=2)
