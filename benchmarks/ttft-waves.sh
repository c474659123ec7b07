#!/bin/bash
# TTFT per wave at --max-concurrency 256: where a client's TTFT inflation comes from.
#
#   benchmarks/ttft-waves.sh DSDEPLOY [DSDEPLOY...]
#
# Each binary runs `bench --backend openai --dataset-name random-ids` (32 prompt tokens, 1024
# prompts × 64 tokens, c=256: four waves of 256 streams that start and end together) against a fresh
# `DSDEPLOY_SIM_REPLAY=1 dsdeploy-engine-sim` (20 ms TTFT and decode step; client on CPU 0, source on
# CPU 1), REPEATS times, interleaved. Per run: the mean TTFT of each wave (from --out's per-request
# TTFTs), the source's mean first-chunk lateness (its log line), and the client's share: mean TTFT
# − 20 ms − that lateness. Env: SIM (default: this tree's release build), REPEATS=2, PORT=31995,
# WORK=benchmarks/out/ttft-waves.
set -euo pipefail
cd "$(dirname "$0")/.."
SIM=${SIM:-$(swift build -c release --show-bin-path)/dsdeploy-engine-sim}
REPEATS=${REPEATS:-2}
PORT=${PORT:-31995}
WORK=${WORK:-benchmarks/out/ttft-waves}
mkdir -p "$WORK"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy

echo "| client | run | mean TTFT ms | wave 1 | wave 2 | wave 3 | wave 4 | source first-chunk late ms | client share ms |"
echo "|---|---|---|---|---|---|---|---|---|"
for rep in $(seq "$REPEATS"); do
  for bin in "$@"; do
    DSDEPLOY_SIM_DECODE_STEP_MS=20 DSDEPLOY_SIM_TTFT_BASE_MS=20 DSDEPLOY_SIM_TTFT_PER_1K_INPUT_MS=0 \
      DSDEPLOY_SIM_ACCEPT_LENGTH=1 DSDEPLOY_SIM_REPLAY=1 \
      taskset -c 1 "$SIM" --host 127.0.0.1 --port "$PORT" --model-path sim/bench-model >"$WORK/sim.log" 2>&1 &
    sim=$!
    for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.05; done
    rm -f "$WORK/out.jsonl"
    taskset -c 0 "$bin" bench --url "http://127.0.0.1:$PORT" --backend openai --model sim/bench-model \
      --dataset-name random-ids --random-input-len 32 --random-output-len 64 --random-range-ratio 1 \
      --num-prompts 1024 --max-concurrency 256 --output json --out "$WORK/out.jsonl" >/dev/null
    kill "$sim"; wait "$sim" || true
    python3 - "$bin" "$rep" "$WORK/out.jsonl" "$WORK/sim.log" <<'EOF'
import json, statistics, sys
binary, rep, out, log = sys.argv[1:]
t = json.loads(open(out).read().splitlines()[-1])["ttfts"]
waves = [statistics.mean(t[w * 256:(w + 1) * 256]) * 1e3 for w in range(4)]
late = None
for line in open(log):
    if "first chunks:" in line:
        late = float(line.split("first chunks:")[1].split("lateness mean ")[1].split(" ms")[0])
mean = statistics.mean(t) * 1e3
share = f"{mean - 20 - late:.2f}" if late is not None else "—"
print(f"| {binary} | {rep} | {mean:.2f} | " + " | ".join(f"{w:.1f}" for w in waves)
      + f" | {late if late is not None else '—'} | {share} |")
EOF
  done
done
