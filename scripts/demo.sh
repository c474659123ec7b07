#!/usr/bin/env bash
# The demo: validate, render and diff the seed's manifests (the local target comes next).
set -uo pipefail
BIN=${1:-.build/debug/dsdeploy}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; echo "(exit $?)"; }

step "$BIN" validate manifests/dspark.yaml manifests/dsv4f.yaml
step "$BIN" render manifests/dspark.yaml
step "$BIN" diff manifests/dsv4f.yaml manifests/dspark.yaml
step "$BIN" diff manifests/dspark.yaml manifests/dspark-sglang-0.5.23.yaml

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e 's/engineVersion: "0.5.19"/engineVersion: "0.5.23"/' manifests/backends/sglang-dspark.yaml > "$tmp/sglang-dspark.yaml"
sed -e "s|backends/sglang-dspark.yaml|$tmp/sglang-dspark.yaml|" -e 's/--tp-size 8/--tp-szie 8/' \
    -e 's/--mem-fraction-static 0.85/--mem-fraction-static high/' manifests/dspark.yaml > "$tmp/dspark-broken.yaml"
echo
echo "# The same manifest on SGLang 0.5.23, with a typo and a bad value: every problem in one run."
step "$BIN" validate "$tmp/dspark-broken.yaml"
exit 0
