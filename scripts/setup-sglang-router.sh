#!/usr/bin/env bash
# Installs the real SGLang PD router the simulator's prefill/decode tests route through
# (Tests/EngineSimTests/PDTests.swift): a venv with sglang-router==0.3.2 (a Rust binary in a Python
# wheel; console scripts smg and sglang-router) and exactly the versions in
# scripts/sglang-router-requirements.txt, kept outside the work tree under $DSDEPLOY_CACHE
# (default ~/.cache/dsdeploy) and keyed by the hash of that file and the Python version, so fresh
# clones on one machine share it. Pinned wheels are kept in a wheelhouse next to the venv, so a
# wiped venv comes back without the network.
# Idempotent: when the stamp matches, it only prints the paths (about 0 s). With --check it
# installs nothing and fails, naming this script, when something is missing.
# Prints KEY=VALUE lines on stdout (eval-able): SGLANG_ROUTER (the smg executable) and
# SGLANG_ROUTER_PYTHON; progress goes to stderr. Needs root for apt-get (python3-venv, only where
# venv is missing).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQ=$ROOT/scripts/sglang-router-requirements.txt
CACHE=${DSDEPLOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dsdeploy}
WHEELS=$CACHE/sglang-router-wheels

say() { echo "setup-sglang-router: $*" >&2; }
die() { say "error: $*"; exit 1; }

PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || die "$PY not found (on Debian: apt-get install python3 python3-venv)"
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
KEY=$( { cat "$REQ"; echo "python $PYVER"; } | sha256sum | cut -c1-16)
OUT=$CACHE/sglang-router-$KEY
VENV=$OUT/venv
STAMP=$OUT/setup.stamp
STAMP_TEXT="sglang-router 0.3.2 python $PYVER"

print_paths() {
  echo "SGLANG_ROUTER=$VENV/bin/smg"
  echo "SGLANG_ROUTER_PYTHON=$VENV/bin/python"
}
up_to_date() { [ -x "$VENV/bin/smg" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$STAMP_TEXT" ]; }

if up_to_date; then print_paths; exit 0; fi
[ "${1:-}" = "--check" ] && die "sglang-router 0.3.2 is not installed: run scripts/setup-sglang-router.sh"

mkdir -p "$OUT"
exec 9>"$OUT/setup.lock"
flock 9
if up_to_date; then print_paths; exit 0; fi

start=$(date +%s.%N)
say "creating $VENV (Python $PYVER) from scripts/sglang-router-requirements.txt"
rm -rf "$VENV" "$STAMP"
if "$PY" -c 'import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' 2>/dev/null; then
  "$PY" -m venv --without-pip "$VENV" 2>/dev/null || {
    [ "$(id -u)" -eq 0 ] && { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
    "$PY" -m venv --without-pip "$VENV"; }
  PIP=("$PY" -m pip --python "$VENV/bin/python")
else
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    say "installing python3-venv and python3-pip (apt-get)"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv python3-pip >/dev/null
    rm -rf "$VENV"
    "$PY" -m venv "$VENV" || die "'$PY -m venv' failed"
  fi
  PIP=("$VENV/bin/python" -m pip)
fi
PIP+=(--quiet --disable-pip-version-check --no-input)
# Every version is pinned in the file, so --no-deps installs exactly that set and nothing else.
INSTALL=(install --no-compile --no-deps --no-index --find-links "$WHEELS" -r "$REQ")
if ! "${PIP[@]}" "${INSTALL[@]}" 2>/dev/null; then
  say "downloading the pinned wheels into $WHEELS"
  mkdir -p "$WHEELS"
  "${PIP[@]}" download --no-deps --only-binary=:all: --dest "$WHEELS" -r "$REQ"
  "${PIP[@]}" "${INSTALL[@]}"
fi
[ -x "$VENV/bin/smg" ] || die "the sglang-router wheel installed no smg script in $VENV/bin"
"$VENV/bin/python" -c 'import sglang_router.launch_router' || die "sglang_router does not import from $VENV"
echo "$STAMP_TEXT" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
say "done in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
print_paths
