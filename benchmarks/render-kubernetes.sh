#!/usr/bin/env bash
# `render --format kubernetes` on the 2,000-deployment benchmark manifest, against `validate` on the
# same files (render = validate + rendering), and how many of the rendered objects pass
# kubernetes-validate --strict.
#
#   benchmarks/render-kubernetes.sh [N=2000] [RUNS=5]
#   Env: DSDEPLOY  the dsdeploy binary (default .build/release/dsdeploy, else .build/debug/dsdeploy)
#        SKIP_SCHEMA=1  skip the kubernetes-validate pass (about 70 s for 4,000 objects)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-2000}
RUNS=${2:-5}
BIN=${DSDEPLOY:-$ROOT/.build/release/dsdeploy}
[ -x "$BIN" ] || BIN=$ROOT/.build/debug/dsdeploy
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 "$ROOT/benchmarks/gen-manifest.py" "$N" "$WORK/manifest.yaml"
TARGET=$ROOT/manifests/targets/cluster.yaml
echo "binary: $BIN ($(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "manifest: $N deployments, $(wc -c <"$WORK/manifest.yaml") bytes, target $TARGET"

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

v=$(for _ in $(seq "$RUNS"); do ms "$BIN" validate "$WORK/manifest.yaml" "$TARGET"; done | median)
r=$(for _ in $(seq "$RUNS"); do ms "$BIN" render "$WORK/manifest.yaml" "$TARGET" --format kubernetes; done | median)
"$BIN" render "$WORK/manifest.yaml" "$TARGET" --format kubernetes >"$WORK/objects.yaml" 2>/dev/null
a=$(sha256sum <"$WORK/objects.yaml")
b=$("$BIN" render "$WORK/manifest.yaml" "$TARGET" --format kubernetes 2>/dev/null | sha256sum)
objects=$(grep -c '^kind: ' "$WORK/objects.yaml")
echo "validate:                  ${v} ms (median of $RUNS)"
echo "render --format kubernetes: ${r} ms (median of $RUNS), $objects objects, $(wc -c <"$WORK/objects.yaml") bytes"
awk -v r="$r" -v v="$v" 'BEGIN { printf "render / validate:         %.2fx\n", r / v }'
[ "$a" = "$b" ] && echo "byte-stable:               two renders identical" || { echo "byte-stable: NO, two renders differ"; exit 1; }
if [ "${SKIP_SCHEMA:-}" != 1 ]; then
  eval "$("$ROOT/scripts/setup-kubernetes-validate.sh")"
  "$KUBERNETES_VALIDATE" --strict -k 1.37.0 "$WORK/objects.yaml" >"$WORK/kv.out" 2>&1 || true
  echo "kubernetes-validate 1.37.0 --strict: $(grep -c ' passed for resource ' "$WORK/kv.out") of $objects objects pass, $(grep -c 'did not validate' "$WORK/kv.out" || true) fail"
fi
