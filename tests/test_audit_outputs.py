"""Findings 9, 10, 12 and 13 of the hostile-input audit: output files (pipes, symbolic links,
character devices, directories, the run's own inputs), the ``report`` command on malformed
results files, and the run's instant (years before 1000, a time without a zone).

Nothing under /dev is ever a target here: a character device is reached only through a
symbolic link in ``tmp_path`` to /dev/null (replacing that link is what the old code did).
"""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from runner import results as results_format
from runner.cli import main
from runner.engine import parse_instant

REPO = Path(__file__).resolve().parents[1]
RunPytest = Callable[..., pytest.RunResult]  # the fixtures of conftest.py
WriteProject = Callable[..., None]

#: One passing check, at any instant.
OK_SPEC = """\
principals:
  u: {arn: "arn:aws:iam::111122223333:user/u", policies: [p]}
policies:
  p:
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ecr:*", Resource: "*"}]}
cases:
  - principal: u
    action: ecr:GetAuthorizationToken
    expect: allow
"""

#: Allowed only before 2027-06-01 (finding 13).
TIMED_SPEC = """\
principals:
  u: {arn: "arn:aws:iam::111122223333:user/u", policies: [p]}
policies:
  p:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: "ecr:*"
          Resource: "*"
          Condition: {DateLessThan: {aws:CurrentTime: "2027-06-01T00:00:00Z"}}
cases:
  - principal: u
    action: ecr:GetAuthorizationToken
    expect: allow
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working folder, with ``ok.yaml`` in it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.yaml").write_text(OK_SPEC, encoding="utf-8")
    return tmp_path


class FifoReader:
    """A named pipe at ``path`` with its reading end open in this process (so that a writer
    does not wait), drained by a thread; ``data`` is what was written to it."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.chunks: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)

    def __enter__(self) -> FifoReader:
        self.thread.start()
        return self

    def _drain(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                continue
            if chunk:
                self.chunks.append(chunk)
            elif self.done.is_set():  # no writer left and nothing more in the pipe
                return
            else:
                time.sleep(0.01)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.done.set()
        self.thread.join(10)
        os.close(self.fd)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def _is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(os.lstat(path).st_mode)


# ---------------------------------------------------------------------------------------------
# 9. Pipes, symbolic links and devices are written to, not replaced


def test_eval_writes_sarif_and_results_into_named_pipes(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FifoReader(here / "pipe.sarif") as sarif, FifoReader(here / "pipe.json") as res:
        status = main(["eval", "--sarif", "pipe.sarif", "--results", "pipe.json", "ok.yaml"])
    assert status == 0, capsys.readouterr().err
    assert _is_fifo(here / "pipe.sarif") and _is_fifo(here / "pipe.json")
    assert json.loads(sarif.data)["version"] == "2.1.0"
    assert [c["outcome"] for c in json.loads(res.data)["checks"]] == ["passed"]
    assert sorted(p.name for p in here.iterdir()) == ["ok.yaml", "pipe.json", "pipe.sarif"]


def test_a_symbolic_link_stays_and_the_file_it_points_to_is_written(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "out").mkdir()
    (here / "out" / "target.json").write_text("old\n", encoding="utf-8")
    (here / "link.json").symlink_to("out/target.json")
    (here / "dangling.sarif").symlink_to("out/new.sarif")  # nothing there yet
    status = main(["eval", "--results", "link.json", "--sarif", "dangling.sarif", "ok.yaml"])
    assert status == 0, capsys.readouterr().err
    assert os.readlink(here / "link.json") == "out/target.json"
    assert os.readlink(here / "dangling.sarif") == "out/new.sarif"
    written = json.loads((here / "out" / "target.json").read_text(encoding="utf-8"))
    assert written["format"] == "policyspec-results/1"
    assert json.loads((here / "out" / "new.sarif").read_text(encoding="utf-8"))["runs"]
    assert sorted(p.name for p in (here / "out").iterdir()) == ["new.sarif", "target.json"]


def test_a_link_to_a_character_device_is_written_through(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "null.sarif").symlink_to(os.devnull)
    assert main(["eval", "--sarif", "null.sarif", "ok.yaml"]) == 0, capsys.readouterr().err
    assert os.readlink(here / "null.sarif") == os.devnull
    assert stat.S_ISCHR(os.stat(here / "null.sarif").st_mode)


def test_report_writes_into_a_pipe(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--results", "r.json", "ok.yaml"]) == 0
    with FifoReader(here / "report.html") as page, FifoReader(here / "r.sarif") as log:
        status = main(["report", "r.json", "-o", "report.html", "--sarif", "r.sarif"])
    assert status == 0, capsys.readouterr().err
    assert _is_fifo(here / "report.html") and _is_fifo(here / "r.sarif")
    assert page.data.startswith(b"<!DOCTYPE html>") and page.data.rstrip().endswith(b"</html>")
    assert json.loads(log.data)["version"] == "2.1.0"


def test_an_output_that_is_standard_output_follows_what_was_printed(here: Path) -> None:
    """``eval --sarif out.txt > out.txt`` (what ``--sarif /dev/stdout`` is when standard
    output is a file): the JSON lines stay, the SARIF log comes after them."""
    with open(here / "out.txt", "wb") as out:
        done = subprocess.run(
            [sys.executable, "-m", "runner", "eval", "--sarif", "out.txt", "ok.yaml"],
            cwd=here,
            stdout=out,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            check=False,
        )
    assert done.returncode == 0
    text = (here / "out.txt").read_text(encoding="utf-8")
    first, rest = text.split("\n", 1)
    assert json.loads(first)["outcome"] == "passed"
    assert json.loads(rest)["version"] == "2.1.0"


@pytest.mark.parametrize("option", ["--sarif", "--results"])
def test_eval_refuses_to_write_over_one_of_its_spec_files(
    here: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    (here / "same.yaml").symlink_to("ok.yaml")
    for target in ("ok.yaml", "same.yaml"):
        assert main(["eval", option, target, "ok.yaml"]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"error: cannot write {target}: it is an input of this run, not an output; "
            "name another path\n"
        )
    assert (here / "ok.yaml").read_text(encoding="utf-8") == OK_SPEC
    assert os.readlink(here / "same.yaml") == "ok.yaml"


def test_report_refuses_to_write_over_its_results_file(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--results", "r.json", "ok.yaml"]) == 0
    before = (here / "r.json").read_bytes()
    capsys.readouterr()
    assert main(["report", "r.json", "-o", "r.json"]) == 2
    assert capsys.readouterr().err == (
        "error: cannot write r.json: it is an input of this run, not an output; name another path\n"
    )
    assert main(["report", "r.json", "-o", "r.html", "--sarif", "r.json"]) == 2
    assert (here / "r.json").read_bytes() == before


def test_eval_of_a_file_named_twice_runs_it_once(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A results file holds each check once (its validation refuses a repeated id)."""
    (here / "sub").mkdir()
    status = main(["eval", "--results", "r.json", "ok.yaml", "./ok.yaml", "sub/../ok.yaml"])
    assert status == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    written = json.loads((here / "r.json").read_text(encoding="utf-8"))
    assert len(written["checks"]) == 1


def test_pytest_writes_into_a_pipe_and_through_a_link_and_refuses_a_spec(
    pytester: pytest.Pytester, run_pytest: RunPytest, write_project: WriteProject
) -> None:
    write_project(pytester.path)
    root = pytester.path
    (root / "reports").mkdir()
    (root / "reports" / "real.html").write_text("old\n", encoding="utf-8")
    (root / "report.html").symlink_to("reports/real.html")
    with FifoReader(root / "results.json") as pipe:
        result = run_pytest("--policy-results=results.json", "--policy-report=report.html")
    result.assert_outcomes(passed=6)
    assert _is_fifo(root / "results.json")
    assert json.loads(pipe.data)["format"] == "policyspec-results/1"
    assert os.readlink(root / "report.html") == "reports/real.html"
    assert (root / "reports" / "real.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")

    spec = (root / "specs" / "app.yaml").read_text(encoding="utf-8")
    result = run_pytest("--policy-sarif=specs/app.yaml", "--no-policy-report")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"*policyspec: error: cannot write {root / 'specs' / 'app.yaml'}: it is an input of "
            "this run, not an output; name another path"
        ]
    )
    assert (root / "specs" / "app.yaml").read_text(encoding="utf-8") == spec


# ---------------------------------------------------------------------------------------------
# 10. A directory (or an empty name) as an output


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["eval", "--results", ".", "ok.yaml"], "."),
        (["eval", "--sarif", ".", "ok.yaml"], "."),
        (["eval", "--results", "", "ok.yaml"], "."),
        (["report", "r.json", "-o", "."], "."),
    ],
)
def test_a_directory_as_an_output_is_an_error_naming_it(
    here: Path, capsys: pytest.CaptureFixture[str], args: list[str], shown: str
) -> None:
    (here / "sub").mkdir()
    assert main(["eval", "--results", "r.json", "ok.yaml"]) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"error: cannot write {shown}: Is a directory"
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# 12. Malformed results files


def _results_file(here: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["eval", "--results", "good.json", "ok.yaml"]) == 0
    capsys.readouterr()
    data: dict[str, Any] = json.loads((here / "good.json").read_text(encoding="utf-8"))
    return data


CHECK_ID = "ok.yaml::case1[u-ecr:GetAuthorizationToken]"


def _bad_duration(r: dict[str, Any]) -> None:
    r["duration"] = float("inf")


def _bad_exception(r: dict[str, Any]) -> None:
    r["checks"][0]["exception"] = {"reason": 1}


def _bad_line(r: dict[str, Any]) -> None:
    r["checks"][0]["line"] = "x"


def _bad_decision(r: dict[str, Any]) -> None:
    r["checks"][0]["decision"] = "maybe"


def _bad_decisive(r: dict[str, Any]) -> None:
    r["checks"][0]["steps"][0]["explanation"]["decisive"] = [{"policy": 1}]


def _xfail_alone(r: dict[str, Any]) -> None:
    r["checks"][0]["outcome"] = "xfail"


def _twice(r: dict[str, Any]) -> None:
    r["checks"].append(dict(r["checks"][0]))


def _bad_statement(r: dict[str, Any]) -> None:
    r["policies"][0]["statements"] = [{"index": [0]}]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_bad_duration, '"duration" is Infinity, expected a finite number of seconds, 0 or more'),
        (
            _bad_exception,
            f'checks[0] ({CHECK_ID}): exception: "status" is null, expected one of accepted, '
            "expired, unneeded, ignored",
        ),
        (_bad_line, f'checks[0] ({CHECK_ID}): "line" is "x", expected an integer or null'),
        (
            _bad_decision,
            f'checks[0] ({CHECK_ID}): "decision" is "maybe", expected null or one of allow, '
            "deny, explicit-deny, implicit-deny",
        ),
        (
            _bad_decisive,
            f'checks[0] ({CHECK_ID}): steps[0]: explanation.decisive[0] is {{"policy": 1}}, '
            'expected an object with "policy" (text), "file" (text or null) and "index" '
            "(an integer)",
        ),
        (
            _xfail_alone,
            f'checks[0] ({CHECK_ID}): "outcome" is "xfail" without an accepted "exception"; '
            "only a known exception makes a failure expected",
        ),
        (
            _twice,
            f'checks[1] ({CHECK_ID}): "id" is also that of checks[0]; each check is listed once',
        ),
        (
            _bad_statement,
            'policies[0] (p): statements[0] is {"index": [0]}, expected an object with an "index"',
        ),
    ],
    ids=lambda v: getattr(v, "__name__", "message"),
)
def test_report_refuses_a_malformed_results_file_naming_the_field(
    here: Path,
    capsys: pytest.CaptureFixture[str],
    spoil: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    data = _results_file(here, capsys)
    spoil(data)
    (here / "r.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["report", "r.json", "-o", "r.html"]) == 2
    assert capsys.readouterr().err == f"error: r.json: {message}\n"
    assert not (here / "r.html").exists()


def test_an_expected_failure_needs_its_accepted_exception(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _results_file(here, capsys)
    check = data["checks"][0]
    check["outcome"] = "xfail"
    check["exception"] = {"reason": "migration", "status": "expired"}
    (here / "r.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["report", "r.json", "-o", "r.html"]) == 2
    assert capsys.readouterr().err == (
        f'error: r.json: checks[0] ({CHECK_ID}): exception: "note" is null, expected text\n'
    )
    check["exception"] = {
        "reason": "migration",
        "until": "2027-03-31",
        "ticket": None,
        "status": "accepted",
        "file": "ok.yaml",
        "line": 9,
        "col": 5,
        "note": "known exception until 2027-03-31: migration",
    }
    results_format.validate_results(data)
    (here / "r.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["report", "r.json", "-o", "r.html"]) == 0
    assert "known exception until 2027-03-31: migration" in (here / "r.html").read_text()


# ---------------------------------------------------------------------------------------------
# 13. The run's instant


def test_year_one_is_before_2027(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "t.yaml").write_text(TIMED_SPEC, encoding="utf-8")
    status = main(["eval", "--time", "0001-01-01T00:00:00Z", "--results", "r.json", "t.yaml"])
    assert status == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "allow"
    written = json.loads((here / "r.json").read_text(encoding="utf-8"))
    assert written["evaluated_at"] == "0001-01-01T00:00:00Z"
    assert main(["explain", "t.yaml", "--case", "1", "--time", "0001-01-01"]) == 0
    assert (
        "DateLessThan aws:CurrentTime: expected 2027-06-01T00:00:00Z, actual "
        "0001-01-01T00:00:00Z -> true"
    ) in capsys.readouterr().out
    assert main(["eval", "--time", "2027-06-01T00:00:00Z", "t.yaml"]) == 1


def test_pytest_policy_time_in_year_one(pytester: pytest.Pytester, run_pytest: RunPytest) -> None:
    pytester.makefile(".yaml", timed=TIMED_SPEC)
    result = run_pytest("--policy-time=0001-01-01T00:00:00Z", "--policy-results=r.json")
    result.assert_outcomes(passed=1)
    written = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert written["evaluated_at"] == "0001-01-01T00:00:00Z"


def test_a_date_and_a_time_without_zone_are_both_utc() -> None:
    midnight = parse_instant("2027-01-01T00:00:00Z")
    assert parse_instant("2027-01-01") == midnight
    assert parse_instant("2027-01-01T00:00:00") == midnight
    assert parse_instant("2027-01-01T02:00:00+02:00") == midnight


def test_an_instant_past_the_years_a_date_holds_is_an_error(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--time", "0001-01-01T00:00:00+01:00", "ok.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "python -m runner eval: error: argument --time: '0001-01-01T00:00:00+01:00' is outside "
        "the years 1 to 9999 in UTC; expected ISO 8601 such as 2027-01-01T00:00:00Z"
    )


def test_the_time_options_say_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "a time without Z or an offset is UTC, a date alone its midnight UTC" in help_text
