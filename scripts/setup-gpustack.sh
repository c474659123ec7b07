#!/usr/bin/env bash
# Installs what the GPUStack end-to-end tests need (docs/targets/gpustack.md, "Testing"):
#   - a venv with gpustack==2.3.0 and exactly the versions in scripts/gpustack-requirements.txt,
#     kept outside the work tree under $DSDEPLOY_CACHE (default ~/.cache/dsdeploy) and keyed by the
#     hash of that file and the Python version, so fresh clones on one machine share it;
#   - PostgreSQL's server binaries (initdb, pg_ctl, postgres), from Debian's `postgresql` where missing;
#   - iproute2 (`ip netns`), util-linux (`runuser`, `flock`) and curl.
# Pinned wheels are kept in a wheelhouse next to the venv (pip's own HTTP cache stays empty on this
# network, see setup-tiny-engine.sh), so a wiped venv comes back without the network.
# Idempotent: when the stamp matches, it only prints the paths (about 0 s). With --check it
# installs nothing and fails, naming this script, when something is missing.
# Prints KEY=VALUE lines on stdout (eval-able); progress goes to stderr. Needs root for apt-get.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQ=$ROOT/scripts/gpustack-requirements.txt
CACHE=${DSDEPLOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dsdeploy}
WHEELS=$CACHE/gpustack-wheels

say() { echo "setup-gpustack: $*" >&2; }
die() { say "error: $*"; exit 1; }

apt_install() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing $* (apt-get)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# PostgreSQL's server binaries. Debian keeps them in /usr/lib/postgresql/<major>/bin (not on PATH);
# other images put initdb/pg_ctl on PATH. Prefer PATH, then pg_config's bindir, then the newest
# Debian major. Prints the directory.
find_pg_bindir() {
  local d
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    d=$(dirname "$(readlink -f "$(command -v initdb)")")
    [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  fi
  if command -v pg_config >/dev/null; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  return 1
}

ensure_system_tools() {
  local pkgs=()
  command -v ip >/dev/null || pkgs+=(iproute2)
  command -v curl >/dev/null || pkgs+=(curl)
  { command -v runuser >/dev/null && command -v flock >/dev/null; } || pkgs+=(util-linux)
  if ! find_pg_bindir >/dev/null; then
    # Only the binaries are needed: keep Debian's package from creating and starting a system-wide
    # cluster on port 5432 (the tests start their own, privately).
    if [ -d /etc/postgresql-common ] || [ "$(id -u)" -eq 0 ]; then
      mkdir -p /etc/postgresql-common/createcluster.d 2>/dev/null &&
        echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/dsdeploy-no-main-cluster.conf ||
        true
    fi
    pkgs+=(postgresql)
  fi
  ((${#pkgs[@]} == 0)) || apt_install "${pkgs[@]}"
  find_pg_bindir >/dev/null || die "PostgreSQL's initdb/pg_ctl/postgres not found after installing postgresql"
}

# gpustack 2.3.0 supports Python >=3.10,<3.13.
pick_python() {
  local p
  for p in "${PYTHON:-}" python3 python3.12 python3.11 python3.10; do
    [ -n "$p" ] || continue
    command -v "$p" >/dev/null || continue
    "$p" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 13)))' 2>/dev/null && { echo "$p"; return 0; }
  done
  return 1
}

if [ "${1:-}" = "--check" ]; then
  for t in ip curl runuser setpriv flock; do command -v "$t" >/dev/null || die "$t is missing: run scripts/setup-gpustack.sh"; done
  find_pg_bindir >/dev/null || die "PostgreSQL's server binaries are missing: run scripts/setup-gpustack.sh"
else
  ensure_system_tools
fi
PG_BINDIR=$(find_pg_bindir)

PY=$(pick_python) || die "gpustack 2.3.0 needs Python 3.10-3.12 (set PYTHON=...)"
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
KEY=$( { cat "$REQ"; echo "python $PYVER"; } | sha256sum | cut -c1-16)
OUT=$CACHE/gpustack-$KEY
VENV=$OUT/venv
STAMP=$OUT/setup.stamp

print_paths() {
  echo "GPUSTACK_VENV=$VENV"
  echo "GPUSTACK_BIN=$VENV/bin/gpustack"
  echo "GPUSTACK_PYTHON=$VENV/bin/python"
  echo "PG_BINDIR=$PG_BINDIR"
}

STAMP_TEXT="gpustack 2.3.0 python $PYVER compiled"
up_to_date() { [ -x "$VENV/bin/gpustack" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$STAMP_TEXT" ]; }

if up_to_date; then print_paths; exit 0; fi
# --check: report, never install (the test harness uses it so a missing install fails fast).
[ "${1:-}" = "--check" ] && die "GPUStack 2.3.0 is not installed (or not for this requirements file): run scripts/setup-gpustack.sh"

mkdir -p "$OUT"
exec 9>"$OUT/setup.lock"
flock 9
if up_to_date; then print_paths; exit 0; fi

start=$(date +%s.%N)
INSTALLED_TEXT="gpustack 2.3.0 python $PYVER"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$INSTALLED_TEXT" ] || [ ! -x "$VENV/bin/gpustack" ]; then
  say "creating $VENV (Python $PYVER) from scripts/gpustack-requirements.txt"
  rm -rf "$VENV" "$STAMP"
  # A venv without pip, filled by the host's pip through --python (pip >= 22.3), skips ensurepip.
  if "$PY" -c 'import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' 2>/dev/null; then
    "$PY" -m venv --without-pip "$VENV"
    PIP=("$PY" -m pip --python "$VENV/bin/python")
  else
    "$PY" -m venv "$VENV" || die "'$PY -m venv' failed (on Debian: apt-get install python3-venv)"
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
  echo "$INSTALLED_TEXT" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
fi
grep -qx 'gpustack==2.3.0' "$REQ" || die "scripts/gpustack-requirements.txt does not pin gpustack==2.3.0"
# Byte-compile once here: the server imports about 8 s of modules at every start, and with
# PYTHONDONTWRITEBYTECODE set (or a read-only venv) nothing would ever be cached.
say "byte-compiling"
"$VENV/bin/python" -m compileall -q -j 0 "$VENV/lib" >/dev/null 2>&1 || true
"$VENV/bin/python" -c 'import gpustack' 2>/dev/null || die "gpustack does not import from $VENV"
echo "$STAMP_TEXT" > "$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
say "done in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
print_paths
