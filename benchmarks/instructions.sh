#!/bin/bash
# CPU instructions (valgrind callgrind) of `python -m runner eval` against the plain
# `yaml.load(text, Loader=yaml.CSafeLoader)` of the same files: a figure the machine's noise
# does not move (bench_scale.py eval gives the wall-time ratio, the target's own measure).
#
#     bash benchmarks/instructions.sh [CORPUS]   # default: bench_scale.py's many800 in /tmp/bs
#
# Needs valgrind; the corpus is written by `python benchmarks/bench_scale.py eval --workdir /tmp/bs`.
set -euo pipefail
dir=${1:-/tmp/bs/many800}
py=$(python -c "import sys; print(sys.executable)")  # the interpreter itself, not a shim
unset PYTHONDONTWRITEBYTECODE
"$py" -c "import runner.cli" >/dev/null  # bytecode caches written, as an installed package has them
cd "$dir"
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
        | grep -o "Collected : [0-9]*" | grep -o "[0-9]*"
}
load=$(count "$py" -c "import pathlib, yaml
for p in sorted(pathlib.Path('.').glob('*.yaml')):
    yaml.load(p.read_text(), Loader=yaml.CSafeLoader)")
ev=$(count "$py" -m runner eval .)
"$py" -c "print(f'eval {$ev / 1e9:.2f} G vs yaml.load {$load / 1e9:.2f} G instructions = {$ev / $load:.2f}x')"
