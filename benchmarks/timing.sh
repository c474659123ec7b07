#!/usr/bin/env bash
# Timings the test suite used to assert, measured here instead (DESIGN.md: timings belong in
# benchmarks/, never in a test). Each number is reported as a ratio against a reference taken in
# the same run, so a loaded machine shows up in the reference too.
#
#   benchmarks/timing.sh [PROMPTS=32]
#   Env: DSDEPLOY  the dsdeploy binary (default .build/release/dsdeploy, else .build/debug/dsdeploy);
#        dsdeploy-engine-sim must sit next to it.
#
# 1. Simulator stream timing (was EngineSimTests/StreamTimingTests and the BenchTests tolerances):
#    `dsdeploy bench` against `dsdeploy-engine-sim` configured with TTFT and decode step; the
#    reference is the configured model, so measured/configured = 1.00 is perfect.
#    Rows: concurrency 1 and 32 (sglang backend, accept length 1), accept length 2 (sglang splits a
#    chunk's gap over its tokens: ITL = step/2; openai-chat counts one ITL per chunk: ITL = step),
#    openai completions, and TTFT growing with input (base + per-1k-input).
# 2. Catalog load (was EnginesTests/CatalogStoreTests.loadTime): median wall time of
#    `dsdeploy flags sglang@0.5.23 --tp-size` (loads the index and one catalog) over the median of
#    `dsdeploy --version` (process start, no catalog).
# 3. Apply lock contention (was the "under 1 s" in DeployTargetsTests/ApplyLockTests): median wall
#    time of an `apply` refused because another process holds the lock, over the median of
#    `plan` on the same manifest (same load and validation work, no lock). About 1x means the
#    second apply fails fast instead of waiting.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROMPTS=${1:-32}
BIN=${DSDEPLOY:-$ROOT/.build/release/dsdeploy}
[ -x "$BIN" ] || BIN=$ROOT/.build/debug/dsdeploy
SIM=$(dirname "$BIN")/dsdeploy-engine-sim
[ -x "$BIN" ] && [ -x "$SIM" ] || { echo "build dsdeploy and dsdeploy-engine-sim first (swift build)" >&2; exit 1; }
WORK=$(mktemp -d)
SIM_PID=""
LOCK_PID=""
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
  [ -n "$LOCK_PID" ] && kill "$LOCK_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "binary: $BIN ($(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# median_ms CMD...: median wall milliseconds of 9 runs (exit status ignored).
median_ms() {
  python3 - "$@" <<'PY'
import subprocess, sys, time
xs = []
for _ in range(9):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    xs.append((time.perf_counter() - t) * 1000)
print(f"{sorted(xs)[len(xs) // 2]:.1f}")
PY
}

# sim TTFT STEP ACCEPT PER1K: starts the simulator, waits for readiness; sets SIM_URL.
sim() {
  [ -n "$SIM_PID" ] && { kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; }
  local port; port=$(free_port)
  DSDEPLOY_SIM_TTFT_BASE_MS=$1 DSDEPLOY_SIM_DECODE_STEP_MS=$2 DSDEPLOY_SIM_ACCEPT_LENGTH=$3 \
    DSDEPLOY_SIM_TTFT_PER_1K_INPUT_MS=$4 \
    "$SIM" --model-path sim/test-model --host 127.0.0.1 --port "$port" 2>"$WORK/sim.log" &
  SIM_PID=$!
  SIM_URL=http://127.0.0.1:$port
  for _ in $(seq 200); do
    curl -fs "$SIM_URL/ready" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "simulator did not become ready: $(tail -5 "$WORK/sim.log")" >&2; exit 1
}

# row NAME TTFT_EXPECTED ITL_EXPECTED BENCH_ARGS...: one bench run, printed as ratios.
row() {
  local name=$1 ttft=$2 itl=$3; shift 3
  "$BIN" bench --url "$SIM_URL" --model sim/test-model --num-prompts "$PROMPTS" --warmup-requests 2 \
    --random-range-ratio 1 --output json "$@" >"$WORK/bench.json"
  python3 - "$name" "$ttft" "$itl" "$WORK/bench.json" <<'PY'
import json, sys
name, ttft, itl, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
assert r["failed"] == 0, r.get("failure_reasons")
print(f"  {name:<34} TTFT median {r['median_ttft_ms']:7.1f} ms  p99 {r['p99_ttft_ms']:7.1f}  "
      f"x{r['median_ttft_ms'] / ttft:5.2f} (p99 x{r['p99_ttft_ms'] / ttft:4.2f})   "
      f"ITL mean {r['mean_itl_ms']:6.2f} ms  x{r['mean_itl_ms'] / itl:5.2f}")
PY
}

echo
echo "1. simulator timing, measured / configured (1.00 = exact)"
sim 200 20 1 0
row "c=1   accept 1 sglang"   200 20 --backend sglang --random-input-len 64 --random-output-len 10 --max-concurrency 1
row "c=32  accept 1 sglang"   200 20 --backend sglang --random-input-len 64 --random-output-len 10 --max-concurrency 32
sim 100 10 1 0
row "c=4   accept 1 openai"   100 10 --backend openai --random-input-len 64 --random-output-len 32 --max-concurrency 4
sim 100 10 2 0
row "c=4   accept 2 sglang"   100 5  --backend sglang --random-input-len 64 --random-output-len 32 --max-concurrency 4
row "c=4   accept 2 openai-chat" 100 10 --backend openai-chat --random-input-len 64 --random-output-len 32 --max-concurrency 4
sim 50 5 1 100
row "c=1   2000 input ids (50+200 ms)" 250 5 --backend sglang --dataset-name random-ids --random-input-len 2000 --random-output-len 2 --max-concurrency 1

echo
echo "2. catalog load"
base=$(median_ms "$BIN" --version)
flags=$(median_ms "$BIN" flags sglang@0.5.23 --tp-size)
python3 -c "import sys; b,f=map(float,sys.argv[1:]); print(f'  dsdeploy --version {b} ms; flags sglang@0.5.23 {f} ms: x{f/b:.2f} (catalog load about {f-b:.0f} ms)')" "$base" "$flags"

echo
echo "3. apply lock contention"
mkdir -p "$WORK/p/templates" "$WORK/state"
cp "$ROOT/templates/sglang.yaml" "$WORK/p/templates/"
cat >"$WORK/p/m.yaml" <<YAML
apiVersion: dsdeploy/v1
kind: Deployment
metadata: {name: lockbench}
spec:
  model: {source: huggingface, id: example/model}
  backend: sglang
  backendVersion: "0.5.23"
  port: $(free_port)
  args: ["--mem-fraction-static 0.8"]
YAML
export DSDEPLOY_HOME=$WORK/state
cd "$WORK/p"
plan=$(median_ms "$BIN" plan m.yaml)
python3 -c '
import fcntl, os, sys, time
f = open(sys.argv[1], "a+"); fcntl.flock(f, fcntl.LOCK_EX)
f.truncate(0); f.write("pid=%d\ncommand=timing.sh holder\nhost=h\nsince=2026-01-01T00:00:00Z\n" % os.getpid()); f.flush()
open(sys.argv[1] + ".held", "w").close(); time.sleep(600)' "$WORK/state/lock" &
LOCK_PID=$!
for _ in $(seq 100); do [ -e "$WORK/state/lock.held" ] && break; sleep 0.05; done
"$BIN" apply m.yaml --auto-approve >/dev/null 2>"$WORK/lock.err" && { echo "apply was not refused" >&2; exit 1; }
grep -q "another apply holds the lock" "$WORK/lock.err" || { cat "$WORK/lock.err" >&2; exit 1; }
refused=$(median_ms "$BIN" apply m.yaml --auto-approve)
python3 -c "import sys; p,r=map(float,sys.argv[1:]); print(f'  plan {p} ms; refused apply {r} ms: x{r/p:.2f}')" "$plan" "$refused"
