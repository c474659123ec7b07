#!/usr/bin/env bash
# Installs what the GPUStack end-to-end tests need (docs/targets/gpustack.md, "Testing"):
#   - a venv with gpustack==2.3.0 and exactly the versions in scripts/gpustack-requirements.txt,
#     byte-compiled once (scripts/lib/pinned-venv.sh: kept outside the work tree under
#     $DSDEPLOY_CACHE, default ~/.cache/dsdeploy, keyed by the hash of that file and the Python
#     version, with a wheelhouse next to it so a wiped venv comes back without the network);
#   - PostgreSQL's server binaries (initdb, pg_ctl, postgres), from Debian's `postgresql` where missing;
#   - iproute2 (`ip netns`), util-linux (`runuser`, `flock`) and curl.
# Idempotent: when the stamp matches, it only prints the paths (about 0 s). With --check it
# installs nothing and fails, naming this script, when something is missing.
# Prints KEY=VALUE lines on stdout (eval-able): GPUSTACK_VENV, GPUSTACK_BIN, GPUSTACK_PYTHON,
# PG_BINDIR; progress goes to stderr. Needs root for apt-get.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQ=$ROOT/scripts/gpustack-requirements.txt

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
grep -qx 'gpustack==2.3.0' "$REQ" || die "scripts/gpustack-requirements.txt does not pin gpustack==2.3.0"

# Byte-compile once, after installing: the server imports about 8 s of modules at every start, and
# with PYTHONDONTWRITEBYTECODE set (or a read-only venv) nothing would ever be cached.
byte_compile() {
  say "byte-compiling"
  "$1/bin/python" -m compileall -q -j 0 "$1/lib" >/dev/null 2>&1 || true
}

# The venv, its cache, its wheelhouse and its checks: scripts/lib/pinned-venv.sh.
. "$ROOT/scripts/lib/pinned-venv.sh"
paths=$(PYTHON=$PY PINNED_VENV_FINISH=byte_compile pinned_venv gpustack "gpustack 2.3.0 (compiled)" gpustack gpustack \
          GPUSTACK_BIN "$@") || exit 1
eval "$paths"
echo "GPUSTACK_VENV=$(dirname "$(dirname "$GPUSTACK_BIN")")"
echo "GPUSTACK_BIN=$GPUSTACK_BIN"
echo "GPUSTACK_PYTHON=$GPUSTACK_BIN_PYTHON"
echo "PG_BINDIR=$PG_BINDIR"
