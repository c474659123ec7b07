#!/usr/bin/env bash
# Benchmark manifest loading: libyaml C floor vs PyYAML CSafeLoader vs dsdeploy.
#
# Usage: benchmarks/validate.sh [N] [RUNS]
#   N     Deployment documents in the generated manifest (default 2000, about 1.5 MB)
#   RUNS  processes per tool (default 7), run in interleaved rounds; medians are reported
# Env:    DSDEPLOY  path of the dsdeploy binary (default .build/release/dsdeploy)
#         validate runs twice: on the threads it picks (all processors, at most 8) and with
#                   DSDEPLOY_THREADS=1 ("1 thread"); "cpu ms" is user + system time of the process
#         DSDEPLOY_BEFORE  optional second dsdeploy binary (e.g. built from the base of a branch):
#                   measured in the same run as "dsdeploy validate (before)", for before/after tables
#         LOADER    path of dsdeploy-fuzz-loader (default .build/release/dsdeploy-fuzz-loader,
#                   built with `swift build -c release --product dsdeploy-fuzz-loader` if missing)
#
# Each tool runs RUNS times as a fresh process under /usr/bin/time (peak RSS, CPU; wall ms from the
# nanosecond clock around it). The
# tools that can time their own parse (C floor, PyYAML, the loader's --time mode) also print
# parse_ms, which excludes process start-up and reading the file; ratios use parse_ms where
# both sides have it and wall ms otherwise.
#
# Setup (Debian): apt-get install -y gcc libyaml-dev time python3 ; pip install PyYAML==6.0.3
set -euo pipefail
cd "$(dirname "$0")/.."

n="${1:-2000}"
runs="${2:-7}"
out=benchmarks/out
data=benchmarks/data
mkdir -p "$out" "$data"
manifest="$data/manifest-$n.yaml"
python3 benchmarks/gen-manifest.py "$n" "$manifest"
echo "manifest: $manifest ($(wc -c <"$manifest") bytes, $((n + 1)) documents), $runs runs per tool"

[ -x /usr/bin/time ] || { echo "error: /usr/bin/time missing (apt-get install -y time)"; exit 1; }
if [ ! -f /usr/include/yaml.h ]; then
    echo "error: libyaml headers missing (apt-get install -y libyaml-dev)"
    exit 1
fi
gcc -O2 -o "$out/libyaml_floor" benchmarks/libyaml_floor.c -lyaml

loader="${LOADER:-.build/release/dsdeploy-fuzz-loader}"
if [ ! -x "$loader" ]; then
    echo "building $loader ..."
    swift build -c release --product dsdeploy-fuzz-loader >/dev/null
fi
dsdeploy="${DSDEPLOY:-.build/release/dsdeploy}"

results="$out/results.tsv"
: >"$results"

# The tools run in rounds, each tool once per round (interleaved): on a shared machine the load
# drifts over a minute, and running one tool's runs back to back gave it its own share of the drift.
names=() cmds=()
tool() {
    names+=("$1"); shift
    cmds+=("$(printf '%q ' "$@")")
}

tool "libyaml C floor (events only)" "$out/libyaml_floor" "$manifest" 1
tool "PyYAML $(python3 -c 'import yaml; print(yaml.__version__)') CSafeLoader" \
    python3 benchmarks/pyyaml_load.py "$manifest" 1
tool "dsdeploy YAML loader (tree)" "$loader" --time 1 "$manifest"
if [ -n "${DSDEPLOY_BEFORE:-}" ]; then
    tool "dsdeploy validate (before)" "$DSDEPLOY_BEFORE" validate "$manifest"
fi
if [ -x "$dsdeploy" ]; then
    tool "dsdeploy validate" "$dsdeploy" validate "$manifest"
    tool "dsdeploy validate (1 thread)" env DSDEPLOY_THREADS=1 "$dsdeploy" validate "$manifest"
else
    echo "note: $dsdeploy not found (set DSDEPLOY=...); skipping 'dsdeploy validate'"
fi

# run_once I: runs tool I once; appends "parse_ms wall_ms rss_mb cpu_ms status" to its file.
run_once() {
    local i="$1" log="$out/run.log" tim="$out/run.time" t0 t1 status
    set +e
    t0=$(date +%s%N)
    eval "/usr/bin/time -f '%e %M %U %S' -o '$tim' ${cmds[$i]}" >"$log" 2>&1
    status=$?
    t1=$(date +%s%N)
    set -e
    local parse secs kb usr sys
    parse="$(sed -n 's/^parse_ms=//p' "$log" | tail -1)"
    read -r secs kb usr sys <"$tim" || true
    # Wall time from the nanosecond clock around the run (time's %e counts in 10 ms steps,
    # too coarse for a 100 ms run); it includes starting /usr/bin/time, ~1 ms, alike for every tool.
    awk -v p="${parse:--}" -v a="$t0" -v b="$t1" -v k="${kb:-0}" -v u="${usr:-0}" -v s="${sys:-0}" -v st="$status" \
        'BEGIN { printf "%s %.1f %.1f %.1f %s\n", p, (b - a) / 1e6, k / 1024, (u + s) * 1000, st }' >>"$out/tool-$i.runs"
}

for i in "${!names[@]}"; do : >"$out/tool-$i.runs"; done
for _ in $(seq "$runs"); do
    for i in "${!names[@]}"; do run_once "$i"; done
done
# Medians (and the fastest parse) per tool, one line each, in the order the tools were named.
for i in "${!names[@]}"; do
    python3 - "${names[$i]}" "$out/tool-$i.runs" >>"$results" <<'PY'
import statistics, sys
name, path = sys.argv[1:3]
rows = [line.split() for line in open(path) if line.strip()]
col = lambda k: [float(r[k]) for r in rows if r[k] != "-"]
med = lambda xs: statistics.median(xs) if xs else float("nan")
status = next((r[4] for r in rows if r[4] != "0"), "0")
print(f"{name}\t{med(col(0)):.2f}\t{med(col(1)):.1f}\t{med(col(2)):.1f}\t{status}\t{min(col(0), default=float('nan')):.2f}\t{med(col(3)):.1f}")
PY
done

python3 - "$results" <<'PY'
import math, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
rows = [(r[0], float(r[1]), float(r[2]), float(r[3]), r[4], float(r[5]), float(r[6])) for r in rows]
floor, py = rows[0], rows[1]

def ratio(row, base):
    if not math.isnan(row[1]) and not math.isnan(base[1]) and base[1] > 0:
        return f"{row[1] / base[1]:.2f}x parse"
    # /usr/bin/time counts in 10 ms steps: a small input's C floor can show 0 ms wall.
    return f"{row[2] / base[2]:.2f}x wall" if base[2] > 0 else "-"

def wall_vs_floor_parse(row):
    # The issue's yardstick: a tool's whole wall time against the bare libyaml parse.
    return f"{row[2] / floor[1]:.2f}x" if not math.isnan(floor[1]) and floor[1] > 0 else "-"

print(f"\n{'tool (medians)':<38} {'parse ms':>9} {'best':>8} {'wall ms':>9} {'cpu ms':>8} {'peak RSS MB':>12}  {'vs C floor':>14}  {'vs PyYAML':>14}  {'wall/floor parse':>16}  {'cpu/floor parse':>15}  exit")
for r in rows:
    parse = "-" if math.isnan(r[1]) else f"{r[1]:.2f}"
    best = "-" if math.isnan(r[5]) else f"{r[5]:.2f}"
    cpu_ratio = f"{r[6] / floor[1]:.2f}x" if floor[1] > 0 else "-"
    print(f"{r[0]:<38} {parse:>9} {best:>8} {r[2]:>9.1f} {r[6]:>8.1f} {r[3]:>12.1f}  {ratio(r, floor):>14}  {ratio(r, py):>14}  {wall_vs_floor_parse(r):>16}  {cpu_ratio:>15}  {r[4]}")
print("(best = fastest parse of the runs: the least disturbed by other load on the machine)")
PY
