#!/bin/bash
# Bench-client instruction counts (callgrind, user space): `dsdeploy bench` against the replay load
# source, per request and per streamed token, for one or more dsdeploy binaries. Instruction counts
# are stable on a noisy shared machine where CPU seconds are not.
#
#   benchmarks/client-instructions.sh DSDEPLOY [DSDEPLOY...]
#
# Each binary is copied and `strip -g`ed (valgrind 3.19 cannot read the release binaries' DWARF 5),
# then run under `valgrind --tool=callgrind` three times: 256 prompts × 2 tokens, 512 prompts × 2
# tokens and 256 prompts × 64 tokens, all at --max-concurrency 64,
# --warmup-requests 0, 32 prompt tokens (token ids), against a fresh
# `DSDEPLOY_SIM_REPLAY=1 dsdeploy-engine-sim` (1 ms TTFT and decode step) pinned to CPU 1.
# per request = (512×2 − 256×2) / 256 (start-up, warm-up and the connections opened before the
# clock cancel out; the per-prompt dataset generation stays in); per token = (256×64 − 256×2) / (256 × 62).
# Env: SIM (default: this tree's release dsdeploy-engine-sim), PORT=31990, WORK=benchmarks/out/client-instructions
set -euo pipefail
cd "$(dirname "$0")/.."
SIM=${SIM:-$(swift build -c release --show-bin-path)/dsdeploy-engine-sim}
PORT=${PORT:-31990}
WORK=${WORK:-benchmarks/out/client-instructions}
mkdir -p "$WORK"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy

DSDEPLOY_SIM_DECODE_STEP_MS=1 DSDEPLOY_SIM_TTFT_BASE_MS=1 DSDEPLOY_SIM_TTFT_PER_1K_INPUT_MS=0 \
  DSDEPLOY_SIM_ACCEPT_LENGTH=1 DSDEPLOY_SIM_REPLAY=1 \
  taskset -c 1 "$SIM" --host 127.0.0.1 --port "$PORT" --model-path sim/bench-model >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null; wait $SIM_PID 2>/dev/null || true' EXIT
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.05; done

count() {  # BINARY PROMPTS TOKENS → instructions
  local out="$WORK/cg.$(basename "$1").$2.$3"
  taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out" "$1" bench --url "http://127.0.0.1:$PORT" \
    --backend openai --model sim/bench-model --dataset-name random-ids --random-input-len 32 \
    --random-output-len "$3" --random-range-ratio 1 --num-prompts "$2" --max-concurrency 64 \
    --warmup-requests 0 --output json >"$out.json" 2>"$out.log"
  grep -q '"completed" *: *'"$2" "$out.json" || { echo "run $1 $2×$3 did not complete" >&2; exit 1; }
  sed -n 's/^summary: //p' "$out"
}

echo "| binary | 256×2 Ir | 512×2 Ir | 256×64 Ir | per request | per token |"
echo "|---|---|---|---|---|---|"
n=0
for bin in "$@"; do
  n=$((n + 1))
  copy="$WORK/dsdeploy-$n"
  cp "$bin" "$copy"
  strip -g "$copy"
  a=$(count "$copy" 256 2); b=$(count "$copy" 512 2); c=$(count "$copy" 256 64)
  python3 -c "
a, b, c = $a, $b, $c
print(f'| $bin | {a/1e6:.1f} M | {b/1e6:.1f} M | {c/1e6:.1f} M | {(b-a)/256/1e3:.0f} k | {(c-a)/(256*62)/1e3:.2f} k |')"
done
