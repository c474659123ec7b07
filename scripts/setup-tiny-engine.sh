#!/usr/bin/env bash
# Sets up dsdeploy's tiny real llama.cpp engine (engines/tiny-llama/) under the repo root:
#   .dsdeploy-engines/tiny-llama/venv            python venv with engines/tiny-llama/requirements.txt
#   .dsdeploy-engines/tiny-llama/tiny-llama.gguf the random-weight test model (make_model.py)
# Needs python3 >= 3.11 with venv, and PyPI the first time.
# Wheel cache: pip's HTTP cache stays empty on this network (the mirror sends no Cache-Control or
# ETag headers, so pip never stores a download), so the pinned wheels are kept in a wheelhouse,
# $TINY_LLAMA_WHEELS (default ~/.cache/dsdeploy/tiny-llama-wheels, outside the work tree so fresh
# clones on the same machine share it), filled by `pip download` (which also uses pip's cache) and
# installed from with --no-index. A wiped venv then comes back in seconds, without the network.
# Idempotent: when the stamp file matches the requirements and the model script, it only prints the
# paths. Prints KEY=VALUE lines on stdout (eval-able); progress goes to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/engines/tiny-llama
OUT=$ROOT/.dsdeploy-engines/tiny-llama
VENV=$OUT/venv
MODEL=$OUT/tiny-llama.gguf
STAMP=$OUT/setup.stamp
PYTHON=${PYTHON:-python3}
WHEELS=${TINY_LLAMA_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/dsdeploy/tiny-llama-wheels}

say() { echo "setup-tiny-engine: $*" >&2; }

print_paths() {
  echo "TINY_LLAMA_VENV=$VENV"
  echo "TINY_LLAMA_PYTHON=$VENV/bin/python"
  echo "TINY_LLAMA_MODEL=$MODEL"
  echo "TINY_LLAMA_SERVER=$SRC/llama-server"
}

hash_of() { sha256sum "$1" | cut -d' ' -f1; }
want_stamp() {
  echo "requirements $(hash_of "$SRC/requirements.txt")"
  echo "model $(hash_of "$SRC/make_model.py")"
}

up_to_date() {
  [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ] && [ -s "$MODEL" ] &&
    [ "$(cat "$STAMP")" = "$(want_stamp)" ]
}

if up_to_date; then print_paths; exit 0; fi

mkdir -p "$OUT"
# One setup at a time (parallel test jobs may all call this).
exec 9>"$OUT/setup.lock"
flock 9
if up_to_date; then print_paths; exit 0; fi

start=$(date +%s.%N)
req_line=$(want_stamp | sed -n 1p)
if ! { [ -f "$STAMP" ] && grep -qxF "$req_line" "$STAMP" && [ -x "$VENV/bin/python" ]; }; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    { say "error: $PYTHON is $("$PYTHON" -V 2>&1); numpy 2.4 needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
  say "creating $VENV and installing engines/tiny-llama/requirements.txt"
  rm -rf "$VENV" "$STAMP"
  # A venv without pip, filled by the host's pip through --python (pip >= 22.3), skips ensurepip and
  # saves most of the venv's creation time; without such a pip, the venv gets its own.
  if "$PYTHON" -c 'import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' 2>/dev/null; then
    "$PYTHON" -m venv --without-pip "$VENV"
    PIP=("$PYTHON" -m pip --python "$VENV/bin/python")
  else
    "$PYTHON" -m venv "$VENV" ||
      { say "error: '$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)"; exit 1; }
    PIP=("$VENV/bin/python" -m pip)
  fi
  PIP+=(--quiet --disable-pip-version-check --no-input)
  INSTALL=(install --no-compile --no-index --find-links "$WHEELS" -r "$SRC/requirements.txt")
  if ! "${PIP[@]}" "${INSTALL[@]}" 2>/dev/null; then
    say "downloading the pinned wheels into $WHEELS"
    mkdir -p "$WHEELS"
    "${PIP[@]}" download --only-binary=:all: --dest "$WHEELS" -r "$SRC/requirements.txt"
    "${PIP[@]}" "${INSTALL[@]}"
  fi
fi

say "writing $MODEL"
"$VENV/bin/python" "$SRC/make_model.py" "$MODEL" >&2
want_stamp > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
say "done in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
print_paths
