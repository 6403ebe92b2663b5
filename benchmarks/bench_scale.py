"""Speed at scale (issue 5): pytest-policyspec against pytest's own floor, in the same run.

    python benchmarks/bench_scale.py all     # every target below
    python benchmarks/bench_scale.py pytest  # 1, 5: plugin vs bare no-op plugin; report cost
    python benchmarks/bench_scale.py eval    # 2: `runner eval` of 800 files vs yaml.load of them
    python benchmarks/bench_scale.py xdist   # 3: -n 2 vs -n 0 on heavy policies
    python benchmarks/bench_scale.py memory  # 4: peak RSS for 100,000 checks

Every timing is the median of --repeat runs of a fresh process; figures are printed as ratios
against a baseline measured in the same run, since these machines are noisy. Each run must
pass every check (exit 0), so a broken corpus cannot pass for a fast one. Corpora are written
under --workdir (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402


def _plugin_installed() -> bool:
    return any(ep.name == "policyspec" for ep in importlib.metadata.entry_points(group="pytest11"))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")])
    env.pop("PYTEST_ADDOPTS", None)
    # an installed package has its bytecode caches (pip writes them); without them every run
    # would compile the modules it imports again (the first, untimed run of each command
    # writes them for a checkout)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


#: pytest arguments for the bare no-op plugin (benchmarks/baseline_plugin.py) instead of ours
_BASELINE = ("-p", "no:policyspec", "-p", "baseline_plugin")


def _ours() -> list[str]:
    return [] if _plugin_installed() else ["-p", "runner.plugin"]


#: Plugins of the development environment that a user's ``pip install .`` does not bring
#: (hypothesis's costs 0.7 s per run at the end, imports included): left out, so the figures
#: are those of a user's environment.
_UNRELATED = ("-p", "no:hypothesispytest")


def _pytest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *_UNRELATED, *args]


def _one_core(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", "0", *cmd] if shutil.which("taskset") else cmd


#: CPU seconds (user + system) of the last command :func:`_run` ran
_last_cpu = [0.0]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: Sequence[str], cwd: Path) -> tuple[float, str]:
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        list(cmd), cwd=cwd, env=_env(), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    _last_cpu[0] = _children_cpu() - cpu
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise SystemExit(f"benchmark run failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return elapsed, proc.stdout


def _median(cmd: Sequence[str], cwd: Path, repeat: int) -> float:
    return statistics.median(_run(cmd, cwd)[0] for _ in range(repeat))


def _median_pair(a: Sequence[str], b: Sequence[str], cwd: Path, repeat: int) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, run in turns (a, b, a, b, ...): a slow spell of
    the machine then falls on both sides of the ratio instead of on one of them."""
    wall, _cpu = _median_pair_cpu(a, b, cwd, repeat)
    return wall


def _median_pair_cpu(
    a: Sequence[str], b: Sequence[str], cwd: Path, repeat: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """:func:`_median_pair`'s medians of wall seconds, and the medians of the CPU seconds
    (user + system) of the same runs."""
    (wall_a, wall_b), (cpu_a, cpu_b) = _medians_in_turns([a, b], cwd, repeat)
    return (wall_a, wall_b), (cpu_a, cpu_b)


def _medians_in_turns(
    cmds: Sequence[Sequence[str]], cwd: Path, repeat: int
) -> tuple[list[float], list[float]]:
    """The medians of wall seconds and of CPU seconds (user + system) of each of ``cmds``, run
    in turns (the first, the second, ..., the first again, ...)."""
    times: list[list[float]] = [[] for _ in cmds]
    cpus: list[list[float]] = [[] for _ in cmds]
    for _ in range(repeat):
        for n, cmd in enumerate(cmds):
            times[n].append(_run(cmd, cwd)[0])
            cpus[n].append(_last_cpu[0])
    med = statistics.median
    return [med(t) for t in times], [med(c) for c in cpus]


def _expect_count(out: str, count: int) -> None:
    if f"{count} passed" not in out:
        raise SystemExit(f"expected '{count} passed' in pytest output:\n{out[-2000:]}")


def _row(target: str, figure: str, goal: str, ok: bool, command: str) -> None:
    print(f"| {target} | {figure} | {goal} | {'met' if ok else 'NOT MET'} | `{command}` |")


def bench_pytest(work: Path, repeat: int) -> None:
    spec = work / "matrix10k"
    n = corpus.matrix(spec, principals=20, repos=20, actions=25, files=20)
    base_cmd = _pytest_cmd(*_BASELINE, ".")
    ours_cmd = _pytest_cmd(*_ours(), "--no-policy-report", ".")
    _expect_count(_run(base_cmd, spec)[1], n)
    _expect_count(_run(ours_cmd, spec)[1], n)
    base, ours = _median_pair(base_cmd, ours_cmd, spec, repeat)
    _row(
        "1. pytest, 10,000 checks vs bare no-op plugin",
        f"{ours:.2f} s vs {base:.2f} s = {ours / base:.2f}x",
        "<= 1.3x",
        ours / base <= 1.3,
        "bench_scale.py pytest",
    )

    spec20 = work / "matrix20k"
    n20 = corpus.matrix(spec20, principals=20, repos=40, actions=25, files=40)
    report = work / "report.html"
    no_rep = _pytest_cmd(*_ours(), "--no-policy-report", ".")
    with_rep = _pytest_cmd(*_ours(), f"--policy-report={report}", ".")
    _expect_count(_run(with_rep, spec20)[1], n20)
    t_no, t_rep = _median_pair(no_rep, with_rep, spec20, repeat)
    size = report.stat().st_size / 1e6
    _row(
        "5. report at 20,000 checks",
        f"+{(t_rep / t_no - 1) * 100:.0f}% ({t_rep:.2f} s vs {t_no:.2f} s), {size:.1f} MB",
        "<= +15%, <= 20 MB",
        t_rep / t_no <= 1.15 and size <= 20,
        "bench_scale.py pytest",
    )


#: The floor for `runner eval`: the same files merely loaded by PyYAML's C loader, in a
#: process of its own.
_YAML_LOAD = (
    "import pathlib, yaml\n"
    "for p in sorted(pathlib.Path('.').glob('*.yaml')):\n"
    "    yaml.load(p.read_text(), Loader=yaml.CSafeLoader)\n"
)


def bench_eval(work: Path, repeat: int) -> None:
    spec = work / "many800"
    n = corpus.many_files(spec, files=800, checks_per_file=25)
    eval_cmd = [sys.executable, "-m", "runner", "eval", "."]
    one_core = _one_core([*eval_cmd, "--jobs", "1"])
    every_core = [*eval_cmd, "--jobs", "auto"]
    for cmd in (one_core, every_core):
        _elapsed, out = _run(cmd, spec)
        lines = out.count("\n")
        if lines != n:
            raise SystemExit(f"eval printed {lines} checks, expected {n}")
    load = _one_core([sys.executable, "-c", _YAML_LOAD])
    (t_load, t, t_all), (c_load, c, c_all) = _medians_in_turns(
        [load, one_core, every_core], spec, repeat
    )
    startup = _median(_one_core([sys.executable, "-c", "import runner.engine"]), spec, repeat)
    _row(
        f"2. eval, {n:,} checks in 800 files, one core, vs yaml.load of the same files",
        f"{t:.2f} s vs {t_load:.2f} s = {t / t_load:.2f}x (in CPU seconds {c:.2f} vs "
        f"{c_load:.2f} = {c / c_load:.2f}x; interpreter + import {startup:.2f} s)",
        "<= 1.6x",
        t / t_load <= 1.6,
        "bench_scale.py eval",
    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    _row(
        f"2b. the same eval with --jobs auto ({cores} cores) vs the same yaml.load (one core)",
        f"{t_all:.2f} s vs {t_load:.2f} s = {t_all / t_load:.2f}x (in CPU seconds {c_all:.2f} "
        f"vs {c_load:.2f} = {c_all / c_load:.2f}x; 1 core: {t:.2f} s, {t / t_all:.2f}x as long)",
        "<= 1.6x",
        t_all / t_load <= 1.6,
        "bench_scale.py eval",
    )


def _xdist_pair(
    spec: Path, n: int, repeat: int, plugin: Sequence[str] | None = None
) -> tuple[float, float]:
    """Median seconds at -n 0 and -n 2 (ours by default, or the given plugin arguments),
    after one run of each has shown all n checks passing."""
    args = list(plugin) if plugin is not None else [*_ours(), "--no-policy-report"]
    serial = _pytest_cmd(*args, "-n", "0", ".")
    par = _pytest_cmd(*args, "-n", "2", ".")
    _expect_count(_run(serial, spec)[1], n)
    _expect_count(_run(par, spec)[1], n)
    return _median_pair(serial, par, spec, repeat)


def _cpu_by_process(spec: Path, workers: str) -> dict[str, float]:
    """CPU seconds (user + sys) of each process of one run, by benchmarks/cpu_probe.py."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "cpu.txt"
        cmd = _pytest_cmd(*_ours(), "-p", "cpu_probe", "--no-policy-report", "-n", workers, ".")
        os.environ["POLICYSPEC_CPU_PROBE"] = str(probe)
        try:
            _run(cmd, spec)
        finally:
            del os.environ["POLICYSPEC_CPU_PROBE"]
        out: dict[str, float] = {}
        for line in probe.read_text().splitlines():
            name, user, system = line.split()
            out[name] = float(user) + float(system)
        return out


def bench_xdist(work: Path, repeat: int) -> None:
    ops = work / "heavy-ops"
    n = corpus.heavy(ops, files=8, statements=100, principals=20, repos=25, operations_only=True)
    t0, t2 = _xdist_pair(ops, n, repeat)
    _row(
        f"3. -n 2 vs -n 0: {n:,} pull/push checks, 8 specs x 11 policies (255 statements)",
        f"{t0 / t2:.2f}x faster ({t2:.2f} s vs {t0:.2f} s, {t0 / n * 1e3:.1f} ms per check)",
        ">= 1.5x",
        t0 / t2 >= 1.5,
        "bench_scale.py xdist",
    )
    serial_cpu = _cpu_by_process(ops, "0")
    par_cpu = _cpu_by_process(ops, "2")
    workers = sorted(v for k, v in par_cpu.items() if k != "main")
    _info(
        "CPU seconds per process (user + sys, one run each)",
        f"-n 0: {serial_cpu['main']:.1f} s; -n 2: controller {par_cpu['main']:.1f} s, workers "
        f"{' and '.join(f'{w:.1f} s' for w in workers)}",
    )
    mixed = work / "heavy-mixed"
    n = corpus.heavy(mixed, files=8, statements=100, principals=10, repos=10)
    t0, t2 = _xdist_pair(mixed, n, repeat)
    _info(
        f"same policies, {n:,} checks of single actions and operations",
        _versus(t0, t2, n, ".1f"),
    )
    light = work / "matrix10k"
    n = corpus.matrix(light, principals=20, repos=20, actions=25, files=20)
    t0, t2 = _xdist_pair(light, n, repeat)
    _info(
        f"light policies, {n:,} checks",
        _versus(t0, t2, n, ".2f"),
    )
    base0, base2 = _xdist_pair(light, n, repeat, plugin=_BASELINE)
    _info(
        f"bare no-op plugin, {n:,} items",
        f"-n 2 is {base0 / base2:.2f}x of -n 0 ({base2:.2f} s vs {base0:.2f} s): xdist's own "
        "cost per item",
    )


def _versus(t0: float, t2: float, n: int, ms: str) -> str:
    """-n 2 against -n 0, with the serial time per check in milliseconds (format ``ms``)."""
    per_check = f"{t0 / n * 1e3:{ms}} ms per check"
    return f"-n 2 is {t0 / t2:.2f}x of -n 0 ({t2:.2f} s vs {t0:.2f} s, {per_check})"


def _info(what: str, figure: str) -> None:
    """A row that informs the xdist figure, under it, with no goal of its own."""
    print(f"|   {what} | {figure} | (information) | | `bench_scale.py xdist` |")


def _peak_rss_mb(cmd: Sequence[str], cwd: Path) -> float:
    """Peak resident memory of one child process tree, in MB (run in a fresh interpreter so
    RUSAGE_CHILDREN holds just this command)."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(r.returncode)\n"
    )
    _t, out = _run([sys.executable, "-c", probe, *cmd], cwd)
    return int(out.split()[-1]) / 1024  # Linux reports KiB


def bench_memory(work: Path, repeat: int) -> None:
    del repeat
    spec = work / "matrix100k"
    n = corpus.matrix(spec, principals=50, repos=80, actions=25, files=80)
    eval_mb = _peak_rss_mb([sys.executable, "-m", "runner", "eval", ".", "--jobs", "1"], spec)
    # the largest of the processes of --jobs auto (RUSAGE_CHILDREN gives the largest one's)
    eval_jobs_mb = _peak_rss_mb([sys.executable, "-m", "runner", "eval", "."], spec)
    pytest_mb = _peak_rss_mb(_pytest_cmd(*_ours(), "--no-policy-report", "."), spec)
    base_mb = _peak_rss_mb(_pytest_cmd(*_BASELINE, "."), spec)
    _row(
        f"4. peak memory, {n:,} checks",
        f"pytest {pytest_mb:.0f} MB (bare no-op plugin {base_mb:.0f} MB); eval {eval_mb:.0f} MB "
        f"(--jobs auto: {eval_jobs_mb:.0f} MB in its largest process)",
        "<= 1 GB",
        max(pytest_mb, eval_mb) <= 1024,
        "bench_scale.py memory",
    )
    report_mb = _peak_rss_mb(
        _pytest_cmd(*_ours(), f"--policy-report={work / 'r100k.html'}", "."), spec
    )
    print(
        f"|   with the HTML report | pytest {report_mb:.0f} MB | <= 1 GB | "
        f"{'met' if report_mb <= 1024 else 'NOT MET'} | `bench_scale.py memory` |"
    )


BENCHES = {"pytest": bench_pytest, "eval": bench_eval, "xdist": bench_xdist, "memory": bench_memory}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", choices=[*BENCHES, "all"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="policyspec-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, plugin "
        f"{'installed' if _plugin_installed() else 'via -p runner.plugin'}, corpora in {work}"
    )
    print(
        f"max RSS of this process so far: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB\n"
    )
    print("| target | figure | goal | | command |\n|---|---|---|---|---|")
    for name in BENCHES if args.which == "all" else [args.which]:
        BENCHES[name](work, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
