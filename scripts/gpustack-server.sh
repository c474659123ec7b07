#!/usr/bin/env bash
# A private, real GPUStack 2.3.0 server for tests and for trying the gpustack target by hand.
#
#   scripts/gpustack-server.sh up DIR [--fake-worker]   start it; writes DIR/env
#   scripts/gpustack-server.sh down DIR                 stop everything it started, remove the netns
#   scripts/gpustack-server.sh exec DIR CMD [ARG...]    run CMD inside the server's network namespace
#   scripts/gpustack-server.sh gc                       remove what crashed runs left (see below)
#
# `up` creates a network namespace that has only loopback (name dsdeploy-gs-<random>), starts a
# private PostgreSQL in it (data under DIR/pg, trust auth), starts `gpustack start` in it with the
# offline flags (no DNS look-ups, --gateway-mode disabled, data under DIR/gpustack), waits for
# /readyz, and bootstraps it: admin password → a custom API key (Authorization: Bearer) → a cluster
# named `default`. With --fake-worker it also starts scripts/gpustack-fake-worker.py (control file
# DIR/fake-worker.json; GPUSTACK_FAKE_WORKER_GPUS fake CUDA GPUs, default 32: with the seed's
# --tp-size 8 and --mem-fraction-static 0.85 every replica takes 8 whole GPUs). Nothing listens
# outside the namespace: reach it with `exec` (or `ip netns exec $GPUSTACK_NETNS ...`). Every port
# is fixed inside the namespace, where nothing else can listen.
#
# DIR/env (KEY=VALUE, sourceable): GPUSTACK_NETNS, GPUSTACK_URL, GPUSTACK_API_KEY,
# GPUSTACK_ADMIN_USER, GPUSTACK_ADMIN_PASSWORD, GPUSTACK_CLUSTER, GPUSTACK_CLUSTER_ID, GPUSTACK_PID,
# GPUSTACK_PG_PID, GPUSTACK_FAKE_WORKER_PID, GPUSTACK_FAKE_WORKER_CONTROL, GPUSTACK_LOG, ...
#
# Crash safety: the namespace name is written to DIR/netns before it is created, so `down DIR` can
# always clean up. GPUSTACK_OWNER_PID=<pid> (the test process) marks a run as owned; `gc` (and
# every `up`) stops and removes dsdeploy-gs-* namespaces whose owner is dead or whose DIR is gone.
# Needs root (network namespaces; PostgreSQL runs as the `postgres` user).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
API_PORT=30080
PG_PORT=55432
WORKER_PORT=10150
REGISTRY=/run/dsdeploy-gpustack   # one file per namespace: its DIR and owner pid

say() { echo "gpustack-server: $*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

usage() { sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 64; }

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# Stops pid $1: SIGTERM, up to $2 seconds, then SIGKILL. gpustack SIGKILLs itself after a SIGTERM
# (status 137); that is normal.
stop_pid() {
  local pid=$1 wait=${2:-5} i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait * 10; i++)); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.1; done
}

# Kills whatever still runs in namespace $1, then deletes it.
remove_netns() {
  local ns=$1 pids
  [ -e "/run/netns/$ns" ] || { rm -f "$REGISTRY/$ns"; return 0; }
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    for _ in $(seq 50); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  ip netns delete "$ns" 2>/dev/null || true
  rm -f "$REGISTRY/$ns"
}

gc() {
  local f ns dir owner
  [ -d "$REGISTRY" ] || return 0
  for f in "$REGISTRY"/dsdeploy-gs-*; do
    [ -e "$f" ] || continue
    ns=$(basename "$f")
    dir=$(sed -n 's/^dir=//p' "$f")
    owner=$(sed -n 's/^owner=//p' "$f")
    if [ ! -d "$dir" ] || { [ -n "$owner" ] && ! alive "$owner"; }; then
      say "removing stale namespace $ns (dir $dir, owner ${owner:-none})"
      remove_netns "$ns"
    fi
  done
  # Namespaces of ours that lost their registry entry and have nothing running.
  for ns in $(ip netns list 2>/dev/null | awk '/^dsdeploy-gs-/ {print $1}'); do
    [ -e "$REGISTRY/$ns" ] && continue
    [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && { say "removing empty namespace $ns"; ip netns delete "$ns" || true; }
  done
}

in_ns() { ip netns exec "$NETNS" "$@"; }

# Starts CMD... in the background inside the namespace, in a session of its own, stdin from
# /dev/null, stdout and stderr to LOG, and every other inherited descriptor closed: a caller's pipe
# or socket (Foundation's Process watches one to see its child exit) must not stay open for the
# daemon's lifetime. The launcher writes the daemon's pid (it execs, so the pid stays) to PIDFILE;
# `daemon` waits for it and sets DAEMON_PID.
daemon() {
  local log=$1 pidfile=$2 i
  shift 2
  rm -f "$pidfile"
  ip netns exec "$NETNS" "$GPUSTACK_PYTHON" -c '
import os, signal, sys
os.setsid()
# A caller (e.g. a test runner thread) may block or ignore signals; exec keeps both.
signal.pthread_sigmask(signal.SIG_SETMASK, [])
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(sig, signal.SIG_DFL)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
os.dup2(out, 1)
os.dup2(out, 2)
os.closerange(3, 65536)
os.execvp(sys.argv[3], sys.argv[3:])' "$log" "$pidfile" "$@" &
  for ((i = 0; i < 300; i++)); do [ -s "$pidfile" ] && break; sleep 0.05; done
  [ -s "$pidfile" ] || die "could not start $1"
  DAEMON_PID=$(cat "$pidfile")
}

# Runs as the postgres user when root (PostgreSQL refuses to run as root); setpriv execs, so the
# pid of `ip netns exec ... setpriv ... postgres` is the postmaster's.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi
}

# curl inside the namespace: api METHOD PATH [JSON] (Bearer key), prints the body; fails on >= 400.
api() {
  local m=$1 p=$2 body=${3:-}
  local args=(-sS --fail-with-body --max-time 30 -X "$m" -H "Authorization: Bearer $API_KEY")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  in_ns curl "${args[@]}" "http://127.0.0.1:$API_PORT$p"
}

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

write_env() {
  local tmp=$DIR/env.tmp
  {
    echo "GPUSTACK_NETNS=$NETNS"
    echo "GPUSTACK_URL=http://127.0.0.1:$API_PORT"
    echo "GPUSTACK_API_KEY=${API_KEY:-}"
    echo "GPUSTACK_ADMIN_USER=admin"
    echo "GPUSTACK_ADMIN_PASSWORD=${ADMIN_PASSWORD:-}"
    echo "GPUSTACK_CLUSTER=default"
    echo "GPUSTACK_CLUSTER_ID=${CLUSTER_ID:-}"
    echo "GPUSTACK_PID=${GS_PID:-}"
    echo "GPUSTACK_PG_PID=${PG_PID:-}"
    echo "GPUSTACK_PG_PORT=$PG_PORT"
    echo "GPUSTACK_FAKE_WORKER_PID=${FW_PID:-}"
    echo "GPUSTACK_FAKE_WORKER_CONTROL=$DIR/fake-worker.json"
    echo "GPUSTACK_FAKE_WORKER_NAME=${FW_NAME:-}"
    echo "GPUSTACK_LOG=$DIR/logs/gpustack.log"
    echo "GPUSTACK_VENV=$GPUSTACK_VENV"
  } > "$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$DIR/env"
}

cmd_up() {
  local fake_worker=0 t0 t
  while (($#)); do
    case $1 in
      --fake-worker) fake_worker=1 ;;
      *) die "unknown option '$1'" ;;
    esac
    shift
  done
  [ "$(id -u)" -eq 0 ] || die "needs root (ip netns)"
  t0=$(now)
  [ -e "$DIR/netns" ] && { say "$DIR holds an earlier run; stopping it first"; cmd_down; }
  gc

  local paths
  paths=$("$ROOT/scripts/setup-gpustack.sh" --check) || exit 1
  eval "$paths"
  local catalog
  catalog=$(ls "$GPUSTACK_VENV"/lib/python3*/site-packages/gpustack/assets/model-catalog.yaml 2>/dev/null | head -n 1)
  [ -n "$catalog" ] || die "gpustack's bundled model-catalog.yaml not found in $GPUSTACK_VENV"

  mkdir -p "$DIR/logs"
  # PostgreSQL runs as `postgres`: it must be able to reach DIR.
  chmod 755 "$DIR"
  as_pg test -x "$DIR" || die "the postgres user cannot reach $DIR (a parent directory is not world-searchable); use a directory under /tmp"
  NETNS=dsdeploy-gs-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$NETNS" > "$DIR/netns"
  mkdir -p "$REGISTRY"
  printf 'dir=%s\nowner=%s\n' "$DIR" "${GPUSTACK_OWNER_PID:-}" > "$REGISTRY/$NETNS"
  ip netns add "$NETNS"
  in_ns ip link set lo up
  UP_DONE=0
  trap '[ "$UP_DONE" = 1 ] || { say "start-up failed; cleaning up (logs in $DIR/logs)"; cmd_down >/dev/null 2>&1 || true; }' EXIT

  # PostgreSQL: fresh cluster, trust auth, no fsync (throw-away data).
  t=$(now)
  rm -rf "$DIR/pg"
  mkdir -p "$DIR/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR/pg" "$DIR/logs"
  as_pg "$PG_BINDIR/initdb" -D "$DIR/pg/data" -U postgres -A trust -E UTF8 --no-sync >"$DIR/logs/initdb.log" 2>&1 ||
    { tail -n 20 "$DIR/logs/initdb.log" >&2; false; }
  daemon "$DIR/logs/postgres.log" "$DIR/postgres.pid" \
    $( [ "$(id -u)" -eq 0 ] && echo setpriv --reuid=postgres --regid=postgres --init-groups ) \
    "$PG_BINDIR/postgres" -D "$DIR/pg/data" -p "$PG_PORT" -k "$DIR/pg" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off
  PG_PID=$DAEMON_PID
  write_env
  local i
  for ((i = 0; i < 300; i++)); do
    in_ns "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    alive "$PG_PID" || { tail -n 20 "$DIR/logs/postgres.log" >&2; die "postgres exited"; }
    sleep 0.1
  done
  in_ns "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres gpustack
  say "postgres ready in $(since "$t") s (pid $PG_PID)"

  # GPUStack, offline: see docs/targets/gpustack.md ("Testing") for each flag.
  t=$(now)
  ADMIN_PASSWORD=Admin-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
  API_KEY=dsdeploy-test-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  daemon "$DIR/logs/gpustack.log" "$DIR/gpustack.pid" "$GPUSTACK_BIN" start \
    --data-dir "$DIR/gpustack" \
    --database-url "postgresql://postgres@127.0.0.1:$PG_PORT/gpustack?sslmode=disable" \
    --gateway-mode disabled \
    --disable-builtin-observability \
    --disable-update-check \
    --api-port "$API_PORT" \
    --advertise-address 127.0.0.1 \
    --bootstrap-password "$ADMIN_PASSWORD" \
    --system-default-container-registry registry.example.invalid \
    --ota-server-url http://127.0.0.1:9/ota \
    --model-catalog-file "$catalog"
  GS_PID=$DAEMON_PID
  write_env
  for ((i = 0; ; i++)); do
    in_ns curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$API_PORT/readyz" && break
    alive "$GS_PID" || { tail -n 30 "$DIR/logs/gpustack.log" >&2; die "gpustack exited during start-up"; }
    ((i < 1200)) || { tail -n 30 "$DIR/logs/gpustack.log" >&2; die "gpustack not ready after 300 s"; }
    sleep 0.25
  done
  say "gpustack ready in $(since "$t") s (pid $GS_PID)"

  # Bootstrap: a custom API key (Basic auth as admin), then the cluster `default`.
  t=$(now)
  in_ns curl -sS --fail-with-body --max-time 60 -u "admin:$ADMIN_PASSWORD" -H 'Content-Type: application/json' \
    --data-binary "{\"name\":\"dsdeploy-tests\",\"custom\":\"$API_KEY\"}" \
    "http://127.0.0.1:$API_PORT/v2/api-keys" >/dev/null
  CLUSTER_ID=$(api POST /v2/clusters '{"name":"default","description":"dsdeploy tests","provider":"Docker"}' | json_field id)
  write_env
  say "bootstrapped in $(since "$t") s (cluster default = $CLUSTER_ID)"

  if ((fake_worker)); then
    t=$(now)
    FW_NAME=fake-worker-0
    [ -f "$DIR/fake-worker.json" ] || echo '{"default": {"state": "running", "delaySeconds": 1}}' > "$DIR/fake-worker.json"
    daemon "$DIR/logs/fake-worker.log" "$DIR/fake-worker.pid" "$GPUSTACK_PYTHON" "$ROOT/scripts/gpustack-fake-worker.py" \
      --env "$DIR/env" --name "$FW_NAME" --port "$WORKER_PORT" --control "$DIR/fake-worker.json" \
      --gpus "${GPUSTACK_FAKE_WORKER_GPUS:-32}" \
      --ready-file "$DIR/fake-worker.ready"
    FW_PID=$DAEMON_PID
    write_env
    for ((i = 0; i < 600; i++)); do
      [ -f "$DIR/fake-worker.ready" ] && break
      alive "$FW_PID" || { tail -n 20 "$DIR/logs/fake-worker.log" >&2; die "fake worker exited"; }
      sleep 0.1
    done
    [ -f "$DIR/fake-worker.ready" ] || die "fake worker not ready after 60 s"
    say "fake worker $FW_NAME ready in $(since "$t") s (pid $FW_PID)"
  fi
  UP_DONE=1
  say "up in $(since "$t0") s: $DIR/env"
}

cmd_down() {
  local t0 pid
  t0=$(now)
  if [ -f "$DIR/env" ]; then
    # Values we wrote ourselves.
    # shellcheck disable=SC1091
    . "$DIR/env"
  fi
  NETNS=${GPUSTACK_NETNS:-$( [ -f "$DIR/netns" ] && cat "$DIR/netns" || true)}
  for pid in "${GPUSTACK_FAKE_WORKER_PID:-}" "${GPUSTACK_PID:-}"; do stop_pid "$pid" 5; done
  # PostgreSQL: SIGQUIT is its immediate shutdown (the data is thrown away).
  if alive "${GPUSTACK_PG_PID:-}"; then kill -QUIT "$GPUSTACK_PG_PID" 2>/dev/null || true; stop_pid "$GPUSTACK_PG_PID" 5; fi
  [ -n "$NETNS" ] && remove_netns "$NETNS"
  rm -f "$DIR/netns" "$DIR/env" "$DIR/fake-worker.ready"
  say "down in $(since "$t0") s"
}

cmd=${1:-}
case $cmd in
  up|down|exec)
    [ $# -ge 2 ] || usage
    mkdir -p "$2"
    DIR=$(cd "$2" && pwd)
    shift 2
    case $cmd in
      up) cmd_up "$@" ;;
      down) cmd_down ;;
      exec)
        [ -f "$DIR/env" ] || die "no server in $DIR (run up first)"
        NETNS=$(sed -n 's/^GPUSTACK_NETNS=//p' "$DIR/env")
        exec ip netns exec "$NETNS" "$@" ;;
    esac ;;
  gc) gc ;;
  *) usage ;;
esac
