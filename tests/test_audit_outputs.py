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

import pytest

from runner.cli import main

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
