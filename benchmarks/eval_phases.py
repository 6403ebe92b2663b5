"""Where `runner eval`'s time goes, inside one process: importing, loading, evaluating and
printing the 800 files of ``bench_scale.py eval``, against ``yaml.load`` of the same files.

    python benchmarks/eval_phases.py [--workdir DIR] [--repeat N]

Two measures, each the median of ``--repeat`` runs:

- the phases of one eval-like pass (as ``runner.cli`` runs it: load a file, evaluate its checks,
  build their JSON lines, write them to /dev/null), with the process's import of the runner;
- loading alone against ``yaml.load(text, Loader=yaml.CSafeLoader)``, alternated file by file
  in the same process, so that a slow spell of the machine falls on both.

Every check must pass, so a broken corpus cannot pass for a fast one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

#: One pass in a fresh process; prints the phase times as JSON.
_PASS = r"""
import time
t0 = time.perf_counter()
import gc, json, os, sys
gc.disable()
from pathlib import Path
from runner import checks, result_lines, spec as loader
import runner.cli, runner.engine
t1 = time.perf_counter()
encode = json.JSONEncoder(separators=(",", ":")).encode
lines = result_lines.PassedLines(encode, json.encoder.encode_basestring_ascii)
out = open(os.devnull, "w")
load = evaluate = write = 0.0
cwd = Path.cwd()
for path in sorted(cwd.glob("*.yaml")):
    a = time.perf_counter()
    spec = loader.load_spec(path, display_root=cwd)
    b = time.perf_counter()
    runs = [checks.evaluate_check(c) for c in spec.checks]
    c = time.perf_counter()
    if not all(r.passed for r in runs):
        sys.exit(f"{path}: a check did not pass")
    out.write("\n".join(r.passed_line(lines) for r in runs) + "\n")
    d = time.perf_counter()
    load += b - a
    evaluate += c - b
    write += d - c
print(json.dumps({"import": t1 - t0, "load": load, "evaluate": evaluate, "print": write}))
"""

#: Loading alone against yaml.load, file by file in one process; prints both totals as JSON.
_LOADING = r"""
import gc, json, time
gc.disable()
import yaml
from pathlib import Path
from runner import spec as loader
cwd = Path.cwd()
ours = floor = 0.0
for path in sorted(cwd.glob("*.yaml")):
    a = time.perf_counter()
    yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    b = time.perf_counter()
    loader.load_spec(path, display_root=cwd)
    c = time.perf_counter()
    floor += b - a
    ours += c - b
print(json.dumps({"yaml.load": floor, "load_spec": ours}))
"""


def _run(code: str, cwd: Path) -> dict[str, float]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode caches, as an installed package has
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark pass failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        spec = work / "many800"
        corpus.many_files(spec, files=800, checks_per_file=25)
        _run(_PASS, spec)  # bytecode caches written, files in the page cache
        phases = _medians([_run(_PASS, spec) for _ in range(args.repeat)])
        loading = _medians([_run(_LOADING, spec) for _ in range(args.repeat)])
    shown = ", ".join(f"{key} {seconds:.3f} s" for key, seconds in phases.items())
    print(f"eval's phases, in one process (medians of {args.repeat}): {shown}")
    floor, ours = loading["yaml.load"], loading["load_spec"]
    print(
        f"loading alone, alternated file by file with yaml.load: {ours:.3f} s vs {floor:.3f} s "
        f"= {ours / floor:.2f}x"
    )


if __name__ == "__main__":
    main()
