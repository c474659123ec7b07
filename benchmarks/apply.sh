#!/usr/bin/env bash
# Converge N simulator replicas that each take D seconds to become ready; report the apply time as
# a multiple of D (aim: <= 1.2x) and the time of a no-op apply. Loopback only; cleans up after itself.
#   benchmarks/apply.sh [N=16] [D=5]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-16}
D=${2:-5}
BIN=$(realpath "${DSDEPLOY:-$ROOT/.build/release/dsdeploy}" 2>/dev/null || echo "$ROOT/.build/release/dsdeploy")
[ -x "$BIN" ] || BIN=$ROOT/.build/debug/dsdeploy
[ -x "$(dirname "$BIN")/dsdeploy-engine-sim" ] || { echo "build dsdeploy-engine-sim first (swift build)" >&2; exit 1; }
WORK=$(mktemp -d)
export DSDEPLOY_HOME=$WORK/state
trap '"$BIN" delete bench --auto-approve --grace 2 >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/templates"
cp "$ROOT/templates/sglang.yaml" "$WORK/templates/"
cat > "$WORK/bench.yaml" <<YAML
apiVersion: dsdeploy/v1
kind: Target
metadata: {name: local}
spec:
  type: local
  images: {lmsysorg/sglang:v0.5.23: [dsdeploy-engine-sim]}
---
apiVersion: dsdeploy/v1
kind: Deployment
metadata: {name: bench}
spec:
  model: {source: huggingface, id: example/model}
  backend: sglang
  backendVersion: "0.5.23"
  replicas: $N
  port: 32000
  readiness: {timeoutSeconds: 120}
  args: ["--mem-fraction-static 0.8"]
  env: {DSDEPLOY_SIM_START_DELAY: "$D"}
YAML
cd "$WORK"
now() { date +%s.%N; }
t0=$(now); "$BIN" apply bench.yaml --auto-approve >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }; t1=$(now)
"$BIN" apply bench.yaml --auto-approve >/dev/null 2>&1; t2=$(now)
"$BIN" plan bench.yaml >/dev/null 2>&1; t3=$(now)
ready=$("$BIN" status --output json | grep -c '"state" : "ready"' || true)
python3 - "$t0" "$t1" "$t2" "$t3" "$N" "$D" "$ready" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5]); n, d, ready = int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
apply = t1 - t0
print(f"replicas={n} ready={ready} start_delay={d:.1f}s")
print(f"first apply: {apply:.2f}s = {apply / d:.2f} x D   (aim <= 1.2 x D)")
print(f"no-op apply: {t2 - t1:.3f}s   plan: {t3 - t2:.3f}s")
PY
