#!/usr/bin/env bash
# `make demo`: deploy the quickstart (two replicas of a real llama.cpp server) on this machine,
# show it serving, then show the manifest tooling on the seed's DSpark manifests.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/debug/dsdeploy}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; local rc=$?; echo "(exit $rc)"; return 0; }

scripts/setup-tiny-engine.sh >/dev/null || { echo "demo: engine setup failed" >&2; exit 1; }

step "$BIN" validate manifests/quickstart.yaml
step "$BIN" apply manifests/quickstart.yaml --auto-approve
step "$BIN" status

printf '\n\033[1m$ curl -N http://127.0.0.1:18180/v1/completions (streamed)\033[0m\n'
curl -sN http://127.0.0.1:18180/v1/completions -H 'Content-Type: application/json' \
  -d '{"model":"tiny-llama","prompt":"hello world","max_tokens":12,"temperature":0,"stream":true}' | head -c 4000
echo

step "$BIN" apply manifests/quickstart.yaml --auto-approve      # unchanged: nothing restarts

echo
echo "# The seed's DSpark deployment: validate, render, and what DSpark changes against the MTP baseline."
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

echo
echo "The quickstart keeps serving on 127.0.0.1:18180 and :18181."
echo "Rehearse the seed's rollout on the SGLang simulator: $BIN apply manifests/dspark.yaml manifests/targets/simulator.yaml"
echo "Stop everything: $BIN delete manifests/quickstart.yaml --auto-approve"
