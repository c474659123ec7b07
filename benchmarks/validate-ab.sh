#!/usr/bin/env bash
# A/B: `dsdeploy validate` of two binaries on the same inputs, interleaved, in one script.
#
# Usage: benchmarks/validate-ab.sh OLD_BINARY NEW_BINARY [N] [RUNS]
#   N     deployments in the generated manifest (default 2000); RUNS per binary and input (default 9)
# Inputs: the generated N-deployment manifest (all SGLang 0.5.23) and manifests/dspark.yaml
# (start-up: the seed manifest, one catalog). Prints medians of wall ms and peak RSS and the
# NEW/OLD ratio. Build the old binary from a worktree, e.g.
#   git worktree add /tmp/base REV && (cd /tmp/base && swift build -c release --product dsdeploy --static-swift-stdlib)
set -euo pipefail
cd "$(dirname "$0")/.."
old="$1"; new="$2"; n="${3:-2000}"; runs="${4:-9}"
data=benchmarks/data; mkdir -p "$data"
manifest="$data/manifest-$n.yaml"
python3 benchmarks/gen-manifest.py "$n" "$manifest"
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time missing (apt-get install -y time)"; exit 1; }

declare -A wall rss
one() {  # one BIN INPUT -> "ms kb"
    local t; t=$(mktemp)
    /usr/bin/time -f "%e %M" -o "$t" "$1" validate "$2" >/dev/null 2>&1 || true
    awk '{ printf "%.1f %d\n", $1 * 1000, $2 }' "$t"; rm -f "$t"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for input in "$manifest" manifests/dspark.yaml; do
    : >/tmp/ab-old; : >/tmp/ab-new
    for _ in $(seq "$runs"); do
        one "$old" "$input" >>/tmp/ab-old
        one "$new" "$input" >>/tmp/ab-new
    done
    om=$(cut -d' ' -f1 /tmp/ab-old | median); nm=$(cut -d' ' -f1 /tmp/ab-new | median)
    orss=$(cut -d' ' -f2 /tmp/ab-old | median); nrss=$(cut -d' ' -f2 /tmp/ab-new | median)
    printf '%s: old %s ms %s KB | new %s ms %s KB | wall ratio new/old %s, RSS ratio %s\n' \
        "$(basename "$input")" "$om" "$orss" "$nm" "$nrss" \
        "$(awk -v a="$nm" -v b="$om" 'BEGIN { printf "%.3f", a / b }')" \
        "$(awk -v a="$nrss" -v b="$orss" 'BEGIN { printf "%.3f", a / b }')"
done
