#!/bin/bash
# Peer benchmark: `dsdeploy bench` vs `python -m sglang.bench_serving` against the same
# dsdeploy-engine-sim at concurrency 1, 64 and 256, plus a decode-step sweep at 256.
# Reports client CPU seconds per 1,000 streamed tokens and how accurately each client measures
# TTFT/ITL. Not part of `make test`; run with `make bench-peer` or directly:
#
#   benchmarks/peer.sh            # full run (3 repeats), report to benchmarks/results/peer-<date>.md
#   REPEATS=1 SWEEP_STEPS=10,2 benchmarks/peer.sh   # quicker
#
# Needs: swift, python3 (3.10+), taskset, PyPI reachable for the first install only.
# Env: SCRATCH=.build (swift scratch path)  VENV=~/.cache/dsdeploy/bench-peer-sglang-0.5.9
#      REPEATS=3 SWEEP_REPEATS=3 SWEEP_STEPS=40,20,14,10,7,5 PORT=31900 OUT=benchmarks/results/peer-<date>.md
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${SCRATCH:-.build}
SGLANG_VERSION=0.5.9
REQS=benchmarks/peer/requirements-sglang-$SGLANG_VERSION.txt
VENV=${VENV:-$HOME/.cache/dsdeploy/bench-peer-sglang-$SGLANG_VERSION}
WORK=${WORK:-$ROOT/benchmarks/out/peer}
OUT=${OUT:-benchmarks/results/peer-$(date -u +%F).md}

echo "== release build ($SCRATCH)"
swift build -c release --scratch-path "$SCRATCH" --product dsdeploy
swift build -c release --scratch-path "$SCRATCH" --product dsdeploy-engine-sim
BIN=$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)

echo "== bench_serving venv ($VENV)"
STAMP="sglang==$SGLANG_VERSION $(sha256sum "$REQS" | cut -c1-16)"
if [ "$(cat "$VENV/.dsdeploy-stamp" 2>/dev/null)" != "$STAMP" ]; then
  t0=$(date +%s)
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # bench_serving imports few of sglang's dependencies: install sglang alone, then the pinned list.
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q --no-deps "sglang==$SGLANG_VERSION"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install -q --no-deps -r "$REQS"
  echo "$STAMP" > "$VENV/.dsdeploy-stamp"
  echo "installed in $(( $(date +%s) - t0 )) s"
fi

echo "== tokenizer (offline)"
mkdir -p "$WORK"
rm -rf "$WORK/runs"
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VENV/bin/python" benchmarks/peer/make_tokenizer.py "$WORK/tokenizer" 2>&1 \
  | grep -v "PyTorch\|TensorFlow\|have been found" || true

echo "== runs"
HEADER="- dsdeploy $(git rev-parse --short HEAD) (release), sglang==$SGLANG_VERSION bench_serving ($("$VENV/bin/python" --version 2>&1)), $(nproc) CPUs, $(uname -sr)"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy
python3 benchmarks/peer/peer.py --dsdeploy "$BIN/dsdeploy" --sim "$BIN/dsdeploy-engine-sim" \
  --python "$VENV/bin/python" --probe benchmarks/peer/bs_probe.py --tokenizer "$WORK/tokenizer" \
  --work "$WORK" --report "$OUT" --port "${PORT:-31900}" --repeats "${REPEATS:-3}" \
  --sweep-repeats "${SWEEP_REPEATS:-3}" --sweep-steps "${SWEEP_STEPS:-40,20,14,10,7,5}" --header "$HEADER"
