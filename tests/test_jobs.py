"""``runner eval --jobs``: spec files evaluated in forked processes give the same output as in
one; a worker that fails is said; the parent leaving early leaves no worker behind.

Forking happens only in a process without other threads (runner/forked.py), and a pytest-xdist
worker has some: every test that needs a fork runs its code in a fresh interpreter.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runner import forked
from runner.cli import main


def _python(
    code: str, repo_root: Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _python_bytes(code: str, repo_root: Path) -> subprocess.CompletedProcess[bytes]:
    env = {"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin"}
    env["PYTHONIOENCODING"] = "utf-8:surrogateescape"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        check=False,
        timeout=120,
    )


# ---------------------------------------------------------------------------------------------
# Splitting the files


@pytest.mark.parametrize(
    ("weights", "parts", "expected"),
    [
        ([1] * 10, 3, [range(0, 4), range(4, 8), range(8, 10)]),
        ([1] * 4, 2, [range(0, 2), range(2, 4)]),
        ([100, 1, 1], 2, [range(0, 1), range(1, 3)]),
        ([1, 1, 100], 2, [range(0, 2), range(2, 3)]),  # the big file alone, not with the rest
        ([1, 100, 1, 1], 3, [range(0, 1), range(1, 2), range(2, 4)]),
        ([5, 5], 8, [range(0, 1), range(1, 2)]),  # no more parts than files
        ([0, 0, 0], 3, [range(0, 1), range(1, 2), range(2, 3)]),  # empty files count as 1
        ([100, 1, 1, 1], 3, [range(0, 1), range(1, 4)]),  # a third part would not help
        ([7], 4, [range(0, 1)]),
        ([], 2, []),
        ([3, 3, 3], 1, [range(0, 3)]),
    ],
)
def test_split_gives_consecutive_parts_of_the_smallest_largest_weight(
    weights: list[int], parts: int, expected: list[range]
) -> None:
    assert forked.split(weights, parts) == expected


def _best(sizes: list[int], parts: int) -> int:
    """The smallest largest part of any cut of ``sizes`` into at most ``parts`` pieces."""
    if parts == 1 or len(sizes) == 1:
        return sum(sizes)
    return (
        min(max(sum(sizes[:i]), _best(sizes[i:], parts - 1)) for i in range(1, len(sizes) + 1))
        if len(sizes) > 1
        else sum(sizes)
    )


def test_split_covers_every_file_once_and_is_as_even_as_can_be() -> None:
    for count in range(1, 9):
        for parts in range(1, 6):
            weights = [(i * 7919) % 13 for i in range(count)]
            got = forked.split(weights, parts)
            assert [i for r in got for i in r] == list(range(count))
            assert all(len(r) for r in got)
            assert len(got) <= min(parts, count)
            sizes = [max(1, w) for w in weights]
            largest = max(sum(sizes[i] for i in r) for r in got)
            assert largest == _best(sizes, min(parts, count))


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000\n", 1), ("x\n", None)],
)
def test_the_cgroup_quota_counts_its_cpus_rounded_up(
    tmp_path: Path, cpu_max: str, expected: int | None
) -> None:
    (tmp_path / "cgroup").write_text("0::/ci/job\n")
    (tmp_path / "fs" / "ci" / "job").mkdir(parents=True)
    (tmp_path / "fs" / "ci" / "job" / "cpu.max").write_text(cpu_max)
    assert forked._cgroup_quota(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == expected
    assert forked._cgroup_quota(str(tmp_path / "none"), str(tmp_path / "fs")) is None


# ---------------------------------------------------------------------------------------------
# run_parts, in a fresh interpreter

_WORK = """
import json, os, signal, sys, threading, time
from runner import forked

PARENT = os.getpid()

def work(part, out, err):
    for item in part:
        out.write(f"out {item} caf\\u00e9\\n")
        err.write(f"err {item}\\n")
    return os.getpid(), list(part)
"""


def test_run_parts_forks_and_keeps_the_order_of_each_stream(repo_root: Path) -> None:
    proc = _python(
        _WORK
        + """
values = forked.run_parts(list(range(10)), 3, lambda item: 1, work, sys.stdout, sys.stderr)
sys.stdout.flush()
print(json.dumps(values), os.getpid(), file=sys.stderr)
""",
        repo_root,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "".join(f"out {i} caf\u00e9\n" for i in range(10))
    *err_lines, last = proc.stderr.splitlines()
    assert err_lines == [f"err {i}" for i in range(10)]
    values_text, parent = last.rsplit(" ", 1)
    values = json.loads(values_text)
    assert [part for _pid, part in values] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    pids = [pid for pid, _part in values]
    assert pids[0] == int(parent)  # the first part runs in the parent
    assert len(set(pids)) == 3


def test_run_parts_keeps_how_the_two_streams_interleave(repo_root: Path) -> None:
    """Written to one terminal, a worker's lines and messages come in the order it wrote them,
    not all its lines and then all its messages."""
    code = (
        _WORK
        + """
class Tape:
    def __init__(self, name, log):
        self.name, self.log = name, log
    def write(self, text):
        if self.log and self.log[-1][0] == self.name:
            self.log[-1][1] += text
        else:
            self.log.append([self.name, text])
        return len(text)
    def flush(self):
        pass
log = []
def chatty(part, out, err):
    for item in part:
        out.write(f"line {item}\\n")
        print(f"warning {item}", file=err)
        out.write(f"line {item}b\\n")
    return None
forked.run_parts(list(range(6)), JOBS, lambda item: 1, chatty, Tape("out", log), Tape("err", log))
print(json.dumps(log))
"""
    )
    one = _python(code.replace("JOBS", "1"), repo_root)
    many = _python(code.replace("JOBS", "3"), repo_root)
    assert one.returncode == many.returncode == 0, many.stderr
    assert json.loads(many.stdout) == json.loads(one.stdout)
    expected = [["out", "line 0\n"]]
    for i in range(6):
        expected.append(["err", f"warning {i}\n"])
        expected.append(["out", f"line {i}b\n" + (f"line {i + 1}\n" if i < 5 else "")])
    assert json.loads(one.stdout) == expected


def test_run_parts_writes_exactly_the_text_the_work_wrote(repo_root: Path) -> None:
    """Non-ASCII text and a lone surrogate reach the parent's streams as they would in one
    process (the streams' own error handlers apply there, once)."""
    code = """
import sys
from runner import forked
def work(part, out, err):
    for item in part:
        out.write(f"{item} \\u00e9 \\udce9 \\U0001f600\\n")
        err.write(f"{item} \\udcff\\n")
forked.run_parts(list(range(6)), JOBS, lambda item: 1, work, sys.stdout, sys.stderr)
"""
    one = _python_bytes(code.replace("JOBS", "1"), repo_root)
    many = _python_bytes(code.replace("JOBS", "3"), repo_root)
    assert one.returncode == many.returncode == 0, many.stderr
    assert one.stdout.splitlines()[0] == "0 \u00e9 ".encode() + b"\xe9 " + "\U0001f600".encode()
    assert many.stdout == one.stdout
    # standard error's own handler is backslashreplace, whatever PYTHONIOENCODING says
    assert many.stderr == one.stderr == b"".join(b"%d \\udcff\n" % i for i in range(6))


def test_a_part_whose_work_raises_runs_again_here_and_raises_as_in_one_process(
    repo_root: Path,
) -> None:
    code = (
        _WORK
        + """
def failing(part, out, err):
    for item in part:
        if item == 7:
            raise ValueError("boom at 7")
        out.write(f"out {item}\\n")
try:
    forked.run_parts(list(range(10)), JOBS, lambda item: 1, failing, sys.stdout, sys.stderr)
except ValueError as exc:
    print("raised here:", exc, os.getpid() == PARENT)
"""
    )
    one = _python(code.replace("JOBS", "1"), repo_root)
    many = _python(code.replace("JOBS", "3"), repo_root)
    assert one.returncode == many.returncode == 0, many.stderr
    assert many.stdout == one.stdout
    assert one.stdout.splitlines() == [
        *(f"out {i}" for i in range(7)),
        "raised here: boom at 7 True",
    ]


def test_a_part_whose_worker_dies_or_cannot_send_its_value_runs_again_here(
    repo_root: Path,
) -> None:
    code = (
        _WORK
        + """
def unlucky(part, out, err):
    value = work(part, out, err)
    if os.getpid() != PARENT and 4 in part:
        os.kill(os.getpid(), signal.SIGKILL)  # the worker of 4..7 dies
    if os.getpid() != PARENT and 8 in part:
        return lambda: None  # and the worker of 8, 9 returns what pickle refuses
    return os.getpid(), list(part)
values = forked.run_parts(list(range(10)), JOBS, lambda item: 1, unlucky, sys.stdout, sys.stderr)
print([pid == PARENT for pid, _part in values], [part for _pid, part in values])
"""
    )
    many = _python(code.replace("JOBS", "3"), repo_root)
    assert many.returncode == 0, many.stderr
    assert many.stdout.splitlines() == [
        *(f"out {i} caf\u00e9" for i in range(10)),
        "[True, True, True] [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]",
    ]
    assert many.stderr.splitlines() == [f"err {i}" for i in range(10)]


def test_the_parent_leaving_early_leaves_no_worker_behind(repo_root: Path, tmp_path: Path) -> None:
    proc = _python(
        _WORK
        + f"""
from pathlib import Path
pids = Path({str(tmp_path)!r})
def slow(part, out, err):
    if 0 in part:  # the parent's part: wait until both workers have started, then fail
        while len(list(pids.iterdir())) < 2:
            time.sleep(0.01)
        raise RuntimeError("the parent fails")
    (pids / str(os.getpid())).write_text("")
    time.sleep(600)
try:
    forked.run_parts(list(range(3)), 3, lambda item: 1, slow, sys.stdout, sys.stderr)
except RuntimeError as exc:
    print(exc)
for pid in pids.iterdir():
    try:
        os.kill(int(pid.name), 0)
        print("alive", pid.name)
    except ProcessLookupError:
        print("gone")
""",
        repo_root,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["the parent fails", "gone", "gone"]


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_parent_killed_by_a_signal_takes_its_workers_with_it(
    repo_root: Path, tmp_path: Path
) -> None:
    code = (
        _WORK
        + f"""
from pathlib import Path
pids = Path({str(tmp_path)!r})
def slow(part, out, err):
    (pids / str(os.getpid())).write_text("")
    time.sleep(600)
forked.run_parts(list(range(3)), 3, lambda item: 1, slow, sys.stdout, sys.stderr)
"""
    )
    env = {"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin"}
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        workers = [int(p.name) for p in tmp_path.iterdir() if int(p.name) != parent.pid]
        assert len(workers) == 2
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=60)
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(_running(pid) for pid in workers)
    finally:
        parent.kill()
        parent.wait()


@pytest.mark.parametrize(
    "setup",
    [
        "stop = threading.Event(); threading.Thread(target=stop.wait, daemon=True).start()",
        # a thread that threading does not know of (nor threading.active_count())
        "import _thread; _thread.start_new_thread(time.sleep, (600,)); time.sleep(0.05)",
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)",  # children could not be waited for
    ],
)
def test_no_fork_where_a_fork_is_not_safe(repo_root: Path, setup: str) -> None:
    proc = _python(
        _WORK
        + setup
        + """
values = forked.run_parts(list(range(6)), 3, lambda item: 1, work, sys.stdout, sys.stderr)
print({pid for pid, _part in values} == {os.getpid()}, [part for _pid, part in values])
""",
        repo_root,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "True [[0, 1, 2, 3, 4, 5]]"


def test_parts_a_fork_fails_for_run_in_the_parent(repo_root: Path) -> None:
    proc = _python(
        _WORK
        + """
def no_fork():
    raise BlockingIOError(11, "Resource temporarily unavailable")
os.fork = no_fork
values = forked.run_parts(list(range(6)), 3, lambda item: 1, work, sys.stdout, sys.stderr)
print({pid for pid, _part in values} == {os.getpid()}, [part for _pid, part in values])
""",
        repo_root,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        *(f"out {i} caf\u00e9" for i in range(6)),
        "True [[0, 1], [2, 3], [4, 5]]",
    ]


# ---------------------------------------------------------------------------------------------
# runner eval --jobs


def _corpus(root: Path, repo_root: Path) -> Path:
    """The example specs and the test data (spec errors, warnings, failures, known
    exceptions) in one folder, with a file whose case name is not ASCII and whose check
    fails."""
    shutil.copytree(repo_root / "specs", root / "specs")
    shutil.copytree(repo_root / "tests" / "data", root / "data")
    (root / "specs" / "zz-caf\u00e9.yaml").write_text(
        "policies:\n  p:\n    document:\n      Version: '2012-10-17'\n      Statement:\n"
        "        - {Effect: Allow, Action: 'ecr:*', Resource: '*'}\n"
        "principals:\n  role: {arn: 'arn:aws:iam::111122223333:role/r', policies: [p]}\n"
        "cases:\n  - {name: caf\u00e9, principal: role, action: ecr:GetAuthorizationToken,"
        " expect: deny}\n",
        encoding="utf-8",
    )
    return root


def _eval(
    root: Path, repo_root: Path, *args: str, limit_files: int | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "runner", "eval", "specs", "data", "--time", "2026-12-01", *args]
    env = {"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    if limit_files is not None:  # files the command writes (its workers' ones) up to this size
        cmd = ["sh", "-c", f'ulimit -f {limit_files // 512} && exec "$@"', "sh", *cmd]
        # a bytecode cache written under the limit would be cut short, and break later imports
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        cmd,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _written(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    del data["generated"], data["duration"]
    return data


def test_eval_in_several_processes_gives_what_one_gives(tmp_path: Path, repo_root: Path) -> None:
    root = _corpus(tmp_path, repo_root)
    runs = {}
    for jobs in ("1", "2", "5", "auto"):
        proc = _eval(
            root, repo_root, "-j", jobs, "--results", f"r{jobs}.json", "--sarif", f"s{jobs}.sarif"
        )
        runs[jobs] = proc
        assert proc.returncode == 2  # the test data has spec errors
    one = runs["1"]
    assert len(one.stdout.splitlines()) > 250
    assert '"case":"caf\\u00e9"' in one.stdout  # JSON lines are ASCII
    assert one.stderr.count("\n") >= 4
    for jobs in ("2", "5", "auto"):
        assert runs[jobs].stdout == one.stdout
        assert runs[jobs].stderr == one.stderr
        assert _written(root / f"r{jobs}.json") == _written(root / "r1.json")
        assert (root / f"s{jobs}.sarif").read_bytes() == (root / "s1.sarif").read_bytes()
    # the same as the fast path without a results file or SARIF, and with annotations
    plain = [_eval(root, repo_root, "-j", jobs) for jobs in ("1", "3")]
    assert plain[0].stdout == plain[1].stdout == one.stdout
    assert plain[0].stderr == plain[1].stderr


def test_eval_whose_workers_cannot_write_gives_what_one_process_gives(
    tmp_path: Path, repo_root: Path
) -> None:
    """A full disk under TMPDIR, or a file size limit: a worker that cannot write its output
    has its files evaluated again by the command's own process."""
    root = _corpus(tmp_path, repo_root)
    one = _eval(root, repo_root, "-j", "1", limit_files=4096)
    many = _eval(root, repo_root, "-j", "3", limit_files=4096)
    assert len(one.stdout) > 3 * 4096  # each worker's part is more than the limit
    assert (many.returncode, many.stdout, many.stderr) == (one.returncode, one.stdout, one.stderr)


def test_eval_with_few_open_files_left_gives_what_one_process_gives(
    tmp_path: Path, repo_root: Path
) -> None:
    """Workers hold one open file each in the command's process: it starts no more of them
    than leave it the files it reads itself."""
    sys.path.insert(0, str(repo_root / "benchmarks"))
    try:
        import corpus
    finally:
        sys.path.pop(0)
    corpus.many_files(tmp_path / "specs", files=120, checks_per_file=25)
    root = tmp_path
    cmd = [sys.executable, "-m", "runner", "eval", "specs", "--time", "2026-12-01"]
    runs = [
        subprocess.run(
            ["sh", "-c", 'ulimit -n 100 && exec "$@"', "sh", *cmd, "-j", jobs],
            cwd=root,
            env={"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        for jobs in ("1", "120")
    ]
    assert runs[0].stderr == ""
    assert len(runs[0].stdout.splitlines()) == 3000
    assert [(r.returncode, r.stdout, r.stderr) for r in runs[1:]] == [
        (runs[0].returncode, runs[0].stdout, runs[0].stderr)
    ]


def test_eval_forks_jobs_minus_one_workers(tmp_path: Path, repo_root: Path) -> None:
    """The figure of --jobs is real: the command forks (one part runs in the parent)."""
    root = _corpus(tmp_path, repo_root)
    proc = _python(
        """
import os, sys
forks = []
real = os.fork
def counting():
    forks.append(1)
    return real()
os.fork = counting
from runner.cli import main
status = main(["eval", "specs", "--time", "2026-12-01", "-j", "3"])
sys.stdout.flush()
print(status, len(forks), file=sys.stderr)
""",
        repo_root,
        cwd=root,
    )
    assert proc.stderr.splitlines()[-1] == "1 2", proc.stderr  # the café check fails
    serial = subprocess.run(
        [sys.executable, "-m", "runner", "eval", "specs", "--time", "2026-12-01", "-j", "1"],
        cwd=root,
        env={"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert serial.returncode == 1
    assert proc.stdout == serial.stdout


def test_eval_in_several_processes_stops_quietly_when_the_reader_goes(
    tmp_path: Path, repo_root: Path
) -> None:
    root = _corpus(tmp_path, repo_root)
    head = subprocess.run(
        f"{shlex.quote(sys.executable)} -m runner eval specs -j 3 | head -n 1",
        shell=True,
        cwd=root,
        env={"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert len(head.stdout.splitlines()) == 1
    assert head.stderr == ""


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "\u00b2"])
def test_jobs_must_be_a_whole_number_or_auto(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "specs", "--jobs", value]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m runner eval: error: argument -j/--jobs: expected a whole number from 1, "
        f"or auto; got {value!r}"
    )
