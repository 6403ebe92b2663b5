#!/bin/bash
# CPU instructions and level-1 data and instruction cache misses (valgrind cachegrind, which
# simulates the caches) of `python -m runner eval` against the plain
# `yaml.load(text, Loader=yaml.CSafeLoader)` of the same files: figures the machine's noise does
# not move (bench_scale.py eval gives the wall-time ratio, the target's own measure). The misses
# tell why the wall ratio is above the instruction ratio: an access that misses the level-1
# cache waits for a slower one.
#
#     bash benchmarks/instructions.sh [CORPUS]   # default: bench_scale.py's many800 in /tmp/bs
#
# Needs valgrind; the corpus is written by `python benchmarks/bench_scale.py eval --workdir /tmp/bs`.
# Both commands run at once (one per core); about a minute for the 800 files.
set -euo pipefail
dir=${1:-/tmp/bs/many800}
py=$(python -c "import sys; print(sys.executable)")  # the interpreter itself, not a shim
unset PYTHONDONTWRITEBYTECODE
"$py" -c "import runner.cli" >/dev/null  # bytecode caches written, as an installed package has them
cd "$dir"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {  # NAME COMMAND...: "instructions misses" of the command into $out/NAME
    local name=$1
    shift
    valgrind --tool=cachegrind --cache-sim=yes --cachegrind-out-file=/dev/null "$@" \
        2>"$out/$name.log" >/dev/null
    local refs misses imisses
    refs=$(grep -o "I   refs: *[0-9,]*" "$out/$name.log" | grep -o "[0-9,]*$" | tr -d ,)
    misses=$(grep -o "D1  misses: *[0-9,]*" "$out/$name.log" | grep -o "[0-9,]*$" | tr -d ,)
    imisses=$(grep -o "I1  misses: *[0-9,]*" "$out/$name.log" | grep -o "[0-9,]*$" | tr -d ,)
    echo "$refs $misses $imisses" >"$out/$name"
}
count load "$py" -c "import pathlib, yaml
for p in sorted(pathlib.Path('.').glob('*.yaml')):
    yaml.load(p.read_text(), Loader=yaml.CSafeLoader)" &
count eval "$py" -m runner eval . &
wait
read -r load_i load_m load_im <"$out/load"
read -r ev_i ev_m ev_im <"$out/eval"
"$py" -c "
print(f'instructions: eval {$ev_i / 1e9:.2f} G vs yaml.load {$load_i / 1e9:.2f} G = {$ev_i / $load_i:.2f}x')
print(f'L1 data misses: eval {$ev_m / 1e6:.1f} M vs yaml.load {$load_m / 1e6:.1f} M = {$ev_m / $load_m:.2f}x')
print(f'L1 instruction misses: eval {$ev_im / 1e6:.1f} M vs yaml.load {$load_im / 1e6:.1f} M = {$ev_im / $load_im:.2f}x')"
