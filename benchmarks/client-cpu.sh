#!/bin/bash
# Bench-client CPU: `dsdeploy bench`'s CPU per streamed token at concurrency 1 / 64 / 256 and the
# token rate it sustains on one core, with the load source's own CPU, against dsdeploy-engine-sim
# (SwiftNIO) and its replay mode (DSDEPLOY_SIM_REPLAY=1). Client on CPU 0, simulator on CPU 1.
# Not part of `make test`; run directly:
#
#   benchmarks/client-cpu.sh                                   # report to benchmarks/results/bench-client-<date>.md
#   DSDEPLOY_BEFORE=/path/to/old/dsdeploy benchmarks/client-cpu.sh   # also measure an older build, same run
#   REPEATS=1 RATE_STEPS=2.5,1.25 benchmarks/client-cpu.sh         # quicker
#   FLOOR=0 benchmarks/client-cpu.sh                           # without the floor client (benchmarks/floor-reader.c)
#   FLOOR_WAKE_US=0 benchmarks/client-cpu.sh                   # the floor client waking on every arrival
#   FLOOR_SRC=benchmarks/floor-uring.c benchmarks/client-cpu.sh  # the floor read through io_uring (Linux 6.1+)
#
# Needs: swift, python3, taskset, cc. Builds go through /tmp/swift-build.lock when it exists (shared machines).
# Env: SCRATCH=.build  SKIP_BUILD=1 (use the binaries already built)  REPEATS=3  MAIN=1:8,64:256,256:1024  SOURCES=nio,replay  RATE_STEPS=5,2.5,1.25,1
#      RATE_PROMPTS=768  RATE_OUTPUT_LEN=256  RATE_BATCH=1 (chunks per write of the replay source in the rate runs)
#      SHARED_STEPS=1 (every source steps all its streams together, as an engine's continuous batching does)
#      PORT=31960  OUT=benchmarks/results/bench-client-<date>.md
#      FLOOR_WAKE_US=4000 (the most time between the floor client's wake-ups, as bench's --wake-interval-us default)
#      FROM_RUNS=benchmarks/out/client-cpu (only write the report again from that run's runs.json, same options)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${SCRATCH:-.build}
WORK=${WORK:-$ROOT/benchmarks/out/client-cpu}
mkdir -p "$WORK"
OUT=${OUT:-benchmarks/results/bench-client-$(date -u +%F).md}
LOCK=()
[ -e /tmp/swift-build.lock ] && LOCK=(flock /tmp/swift-build.lock)

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== release build ($SCRATCH)"
  "${LOCK[@]}" swift build -c release --scratch-path "$SCRATCH" --product dsdeploy
  "${LOCK[@]}" swift build -c release --scratch-path "$SCRATCH" --product dsdeploy-engine-sim
fi
BIN=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)

# The floor client (benchmarks/floor-reader.c), built here with cc; FLOOR=0 leaves it out.
FLOORARGS=()
if [ "${FLOOR:-1}" != 0 ]; then
  FLOOR_SRC=${FLOOR_SRC:-benchmarks/floor-reader.c}
  cc -O2 -o "$WORK/floor-reader" "$FLOOR_SRC"
  FLOORARGS=(--floor "$WORK/floor-reader" --floor-source "$FLOOR_SRC" --floor-wake-us "${FLOOR_WAKE_US:-4000}")
fi

BEFORE=()
HEADER="- dsdeploy $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo '+changes') (release) as \`after\`"
if [ -n "${DSDEPLOY_BEFORE:-}" ]; then
  BEFORE=(--before "$DSDEPLOY_BEFORE" --before-label before)
  HEADER="$HEADER; \`before\` = $DSDEPLOY_BEFORE${DSDEPLOY_BEFORE_LABEL:+ ($DSDEPLOY_BEFORE_LABEL)}"
fi
HEADER="$HEADER; load source: $BIN/dsdeploy-engine-sim; $(nproc) CPUs, $(uname -sr), $(curl --version | head -1 | cut -d' ' -f1-2)"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy
rm -rf "$WORK/runs"
python3 benchmarks/client-cpu.py --dsdeploy "$BIN/dsdeploy" "${BEFORE[@]}" "${FLOORARGS[@]}" --sim "$BIN/dsdeploy-engine-sim" \
  --work "$WORK" --report "$OUT" --port "${PORT:-31960}" --repeats "${REPEATS:-3}" \
  --main "${MAIN:-1:8,64:256,256:1024}" --sources "${SOURCES:-nio,replay}" \
  --rate-steps "${RATE_STEPS:-5,2.5,1.25,1}" --rate-prompts "${RATE_PROMPTS:-768}" \
  --rate-output-len "${RATE_OUTPUT_LEN:-256}" --rate-batch "${RATE_BATCH:-1}" ${SHARED_STEPS:+--shared-steps} --header "$HEADER" \
  --command "${COMMAND_LINE:-benchmarks/client-cpu.sh}" ${FROM_RUNS:+--from-runs "$FROM_RUNS"}
