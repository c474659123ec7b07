#!/bin/bash
# Two dsdeploy builds, interleaved rounds: the CPU of `dsdeploy bench` (whole process, perf stat
# task-clock) against a fresh replay-mode simulator per run, client on CPU 0 and simulator on CPU 1.
# The rounds alternate which build goes first; the report is the median of each and how often B
# was the lower. For changes too small for this machine's run-to-run noise (±10 %) to show in a
# single pair of runs. Not part of `make test`; run directly:
#
#   benchmarks/ab-rounds.sh OLD_BIN NEW_BIN                      # 12 rounds, c=256, 1024 prompts x 64 tokens
#   OUTPUT_LEN=2 PROMPTS=6144 benchmarks/ab-rounds.sh OLD NEW    # the per-request part (2 tokens each)
#
# Needs: perf (task-clock), taskset, curl, a release dsdeploy-engine-sim (SIM=; default the one
# next to NEW_BIN). Env: ROUNDS=12 CONCURRENCY=256 PROMPTS=1024 INPUT_LEN=32 OUTPUT_LEN=64
# STEP_MS=20 PORT=31990 MALLOC=1 (also count malloc calls per run: needs the uprobe
# probe_libc:malloc, `perf probe -x <libc> malloc`, as root; each probed call costs a trap, so the
# times of such a run are not the builds' own: compare its counts, and time without it).
set -euo pipefail
A=${1:?usage: ab-rounds.sh OLD_BIN NEW_BIN}
B=${2:?usage: ab-rounds.sh OLD_BIN NEW_BIN}
SIM=${SIM:-$(dirname "$B")/dsdeploy-engine-sim}
ROUNDS=${ROUNDS:-12}
PORT=${PORT:-31990}
[ -x "$SIM" ] || { echo "ab-rounds.sh: no simulator at $SIM (set SIM=)" >&2; exit 2; }
EVENTS=task-clock
[ "${MALLOC:-0}" = 1 ] && EVENTS=task-clock,probe_libc:malloc

one() {  # BIN PORT -> "ms mallocs"
  DSDEPLOY_SIM_DECODE_STEP_MS=${STEP_MS:-20} DSDEPLOY_SIM_TTFT_BASE_MS=20 DSDEPLOY_SIM_TTFT_PER_1K_INPUT_MS=0 \
    DSDEPLOY_SIM_ACCEPT_LENGTH=1 DSDEPLOY_SIM_REPLAY=1 \
    taskset -c 1 "$SIM" --host 127.0.0.1 --port "$2" --model-path sim-model >/dev/null 2>&1 &
  local sim=$!
  for _ in $(seq 100); do curl -s -o /dev/null "127.0.0.1:$2/health" && break; sleep 0.1; done
  local out rc=0
  out=$(taskset -c 0 perf stat -x, -e "$EVENTS" "$1" bench --url "http://127.0.0.1:$2" --backend openai \
          --model sim-model --dataset-name random-ids --random-input-len "${INPUT_LEN:-32}" \
          --random-output-len "${OUTPUT_LEN:-64}" --random-range-ratio 1 --num-prompts "${PROMPTS:-1024}" \
          --max-concurrency "${CONCURRENCY:-256}" --warmup-requests 1 --output json 2>&1 >/dev/null) || rc=$?
  kill "$sim"; wait "$sim" 2>/dev/null || true
  if [ "$rc" != 0 ]; then echo "ab-rounds.sh: $1 bench exited $rc:" >&2; echo "$out" >&2; exit 1; fi
  local ms mallocs
  ms=$(echo "$out" | grep task-clock | cut -d, -f1)
  mallocs=$(echo "$out" | grep 'probe_libc:malloc' | cut -d, -f1)
  echo "$ms ${mallocs:--}"
}

echo "A: $A"; echo "B: $B"
echo "c=${CONCURRENCY:-256}, ${PROMPTS:-1024} prompts x ${OUTPUT_LEN:-64} tokens, ${ROUNDS} rounds (task-clock ms, mallocs)"
RA=(); RB=()
for i in $(seq "$ROUNDS"); do
  if (( i % 2 )); then a=$(one "$A" "$PORT"); b=$(one "$B" $((PORT + 1)))
  else b=$(one "$B" $((PORT + 1))); a=$(one "$A" "$PORT"); fi
  echo "round $i: A $a  B $b"
  RA+=("${a%% *}"); RB+=("${b%% *}")
done
python3 - "${RA[*]}" "${RB[*]}" <<'EOF'
import statistics as s, sys
a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
print(f"median A {s.median(a):.1f} ms, B {s.median(b):.1f} ms, B/A {s.median(b) / s.median(a):.3f}; "
      f"B lower in {sum(y < x for x, y in zip(a, b))} of {len(a)} rounds")
EOF
