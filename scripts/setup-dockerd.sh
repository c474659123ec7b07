#!/usr/bin/env bash
# A private Docker Engine (dockerd) for the docker target's tests; several can run at once, each in
# its own network namespace, without the system's docker (never started here) or each other.
#   scripts/setup-dockerd.sh              install docker.io (dockerd, containerd, runc), openssl,
#                                         curl, docker-registry and apache2-utils (htpasswd) when
#                                         missing (apt, --no-install-recommends)
#   scripts/setup-dockerd.sh serve DIR [--netns NS [--bridge]] [--tls ADDR:PORT]
#       Start dockerd and a containerd of its own, all their state under DIR (keep DIR short, e.g.
#       /tmp/dsd-dk1: unix socket paths must stay under 108 bytes); API on unix://DIR/docker.sock.
#       --netns NS: in network namespace NS (made by the caller: ip netns add NS), entered with
#         `nsenter --net`. Host-network containers then live in NS.
#       --bridge (needs --netns): docker's default bridge, iptables and -p port publishing, all inside
#         NS (NS's own iptables and ip_forward; the root namespace is left alone). Without it:
#         --bridge=none, no iptables, no ip_forward change; containers get host networking (NS's) or
#         none, and -p is ignored.
#       --tls ADDR:PORT: also tcp://ADDR:PORT with --tlsverify; a CA, a server cert (SAN IP:ADDR) and
#         a client cert are generated into DIR/tls: ca.pem, cert.pem, key.pem (the client's, named as
#         Docker names them: DOCKER_CERT_PATH=DIR/tls), server-cert.pem, server-key.pem.
#       Prints dockerd's PID once _ping answers; on failure prints the log's tail and exits 1.
#   scripts/setup-dockerd.sh stop DIR
#       Kill DIR's containers (SIGKILL), stop dockerd (SIGTERM, SIGKILL after 10 s), then its
#       containerd and shims, unmount what is left under DIR, remove DIR. Safe to repeat.
# Nothing outside DIR is written except containerd's shim sockets in /run/containerd/s/ (named by a
# hash of DIR's containerd socket; they go with the shims) and container cgroups (cgroupfs /docker/ID).
set -euo pipefail
ME=setup-dockerd
say() { echo "$ME: $*" >&2; }
die() { say "$*"; exit 1; }

install() {
  command -v dockerd >/dev/null && command -v containerd >/dev/null && command -v runc >/dev/null &&
    command -v openssl >/dev/null && command -v curl >/dev/null && command -v docker-registry >/dev/null &&
    command -v htpasswd >/dev/null && return 0
  # docker-registry and htpasswd (apache2-utils): a private registry with a login, for the pull tests.
  local SUDO="" pkgs="docker.io openssl curl docker-registry apache2-utils" rc_added=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # Never let the install start the system's docker/containerd services.
  if ! [ -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    rc_added=1
  fi
  say "installing $pkgs"
  local rc=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $pkgs >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $pkgs >/dev/null; } || rc=$?
  [ -n "$rc_added" ] && $SUDO rm -f /usr/sbin/policy-rc.d
  return $rc
}

gen_tls() { # DIR/tls ADDR
  local T=$1 ADDR=$2
  [ -s "$T/ca.pem" ] && [ -s "$T/server-cert.pem" ] && [ -s "$T/cert.pem" ] && return 0
  mkdir -p "$T"
  (
    cd "$T"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=dsdeploy-test-ca" \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$ADDR" -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$ADDR" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=dsdeploy-test-client" -keyout key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 \
      -extfile client.ext -out cert.pem 2>/dev/null
    rm -f server.csr client.csr server.ext client.ext ca.srl
    chmod 644 ca.pem cert.pem server-cert.pem
  )
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
alive() { local p; for p in "$@"; do if pid_alive "$p"; then printf '%s ' "$p"; fi; done; }

# PIDs of processes whose command line names DIR (its containerd and the shims, which carry
# -address DIR/containerd/containerd.sock).
pids_naming() {
  local D=$1 p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "$D/" || continue
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in dockerd | containerd | containerd-shim* | runc) echo "$p" ;; esac
  done
  return 0
}

# PIDs in the cgroups of DIR's containers (cgroupfs: <controller>/docker/<id>, v1 or v2).
container_pids() {
  local D=$1 c id
  [ -d "$D/data/containers" ] || return 0
  for c in "$D"/data/containers/*/; do
    [ -d "$c" ] || continue
    id=$(basename "$c")
    cat /sys/fs/cgroup/*/docker/"$id"/cgroup.procs /sys/fs/cgroup/docker/"$id"/cgroup.procs 2>/dev/null || true
  done | sort -u
}

# Ends DIR's processes and unmounts what is left under DIR; keeps DIR.
stop_procs() {
  local D=$1 pid="" i left
  # Containers first, with SIGKILL: they are throwaway, and dockerd would give each its stop timeout
  # (10 s for an engine that ignores SIGTERM as PID 1).
  left=$(container_pids "$D" | tr '\n' ' ')
  if [ -n "$left" ]; then kill -KILL $left 2>/dev/null || true; fi
  [ -s "$D/dockerd.pid" ] && pid=$(cat "$D/dockerd.pid")
  if pid_alive "$pid" && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then say "dockerd $pid ignored SIGTERM for 10 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  # containerd (ours, started with DIR's config), then shims and container processes still left.
  left=$(pids_naming "$D" | tr '\n' ' ')
  if [ -n "$left" ]; then
    kill -TERM $left 2>/dev/null || true
    for i in $(seq 50); do
      left=$(alive $left)
      [ -z "$left" ] && break
      sleep 0.1
    done
    if [ -n "$left" ]; then kill -KILL $left 2>/dev/null || true; fi
  fi
  left=$(container_pids "$D" | tr '\n' ' ')
  if [ -n "$left" ]; then kill -KILL $left 2>/dev/null || true; fi
  # Mounts left under DIR (the nsfs at exec/netns/default, overlays of containers), deepest first.
  local m
  for i in 1 2 3; do
    m=$(awk -v d="$D" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
    [ -z "$m" ] && break
    for mp in $m; do umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true; done
  done
}

stop() {
  local D=${1:?usage: $ME stop DIR}
  [ -e "$D" ] || return 0
  D=$(cd "$D" && pwd -P)
  stop_procs "$D"
  rm -rf "$D" 2>/dev/null || { sleep 0.5; rm -rf "$D"; }
}

serve() {
  local D=${1:?usage: $ME serve DIR [--netns NS [--bridge]] [--tls ADDR:PORT]}
  shift
  local NS="" TLS="" BRIDGE=""
  while [ $# -gt 0 ]; do
    case $1 in
      --netns) NS=${2:?--netns NS}; shift 2 ;;
      --bridge) BRIDGE=1; shift ;;
      --tls) TLS=${2:?--tls ADDR:PORT}; shift 2 ;;
      *) die "unknown argument $1" ;;
    esac
  done
  # A bridge writes iptables rules and sets ip_forward: only ever in a namespace of its own.
  [ -z "$BRIDGE" ] || [ -n "$NS" ] || die "--bridge needs --netns (it would change this namespace's iptables)"
  install
  mkdir -p "$D"
  D=$(cd "$D" && pwd -P)
  # The longest socket: containerd's ttrpc one (a unix socket path holds at most 107 bytes).
  [ ${#D} -le 70 ] || die "DIR is too long for unix sockets (${#D} > 70 bytes): $D"
  [ -s "$D/dockerd.pid" ] && pid_alive "$(cat "$D/dockerd.pid")" && die "a dockerd already runs from $D (pid $(cat "$D/dockerd.pid"))"
  local C=$D/containerd
  mkdir -p "$D/data" "$D/exec" "$C"
  # containerd of our own (dockerd would use the system's if /run/containerd/containerd.sock exists,
  # and its shims would then run in the root network namespace).
  cat >"$C/config.toml" <<EOF
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$C/containerd.sock"
[ttrpc]
  address = "$C/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
EOF
  # never /etc/docker/daemon.json nor /etc/docker/key.json (dockerd 20.10 writes its trust key there)
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$D" >"$D/daemon.json"
  local args=(--config-file "$D/daemon.json" --containerd "$C/containerd.sock"
    --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" -H "unix://$D/docker.sock"
    --shutdown-timeout 5)
  if [ -n "$BRIDGE" ]; then
    args+=(--iptables=true --ip6tables=false --ip-masq=true --userland-proxy=false)
  else
    args+=(--iptables=false --ip6tables=false --bridge=none --ip-masq=false --ip-forward=false --userland-proxy=false)
  fi
  if [ -n "$TLS" ]; then
    local ADDR=${TLS%:*}
    gen_tls "$D/tls" "$ADDR"
    args+=(-H "tcp://$TLS" --tlsverify --tlscacert "$D/tls/ca.pem" --tlscert "$D/tls/server-cert.pem"
      --tlskey "$D/tls/server-key.pem")
  fi
  local pre=()
  # nsenter, not `ip netns exec`: that one also unshares the mount namespace and remounts /sys, which
  # hides /sys/fs/cgroup/* (dockerd: "Devices cgroup isn't mounted"). With nsenter only the network
  # namespace changes, and the daemon's mounts stay visible (and unmountable) from here.
  if [ -n "$NS" ]; then
    [ -e "/run/netns/$NS" ] || die "no network namespace $NS (ip netns add $NS)"
    pre=(nsenter "--net=/run/netns/$NS")
  fi
  # One detached session: containerd in the background, dockerd in the foreground (its PID is the
  # session's, written to dockerd.pid by dockerd itself). Both see the same namespaces.
  rm -f "$D/docker.sock" "$D/dockerd.pid"
  setsid "${pre[@]}" sh -c '
    containerd --config "$1/config.toml" >"$1/containerd.log" 2>&1 &
    for i in $(seq 100); do [ -S "$1/containerd.sock" ] && break; sleep 0.1; done
    shift; exec "$@"' sh "$C" dockerd "${args[@]}" >"$D/dockerd.log" 2>&1 </dev/null &
  local spid=$! i
  for i in $(seq 300); do
    if curl -sf --max-time 2 --unix-socket "$D/docker.sock" http://d/_ping >/dev/null 2>&1; then
      echo "$(cat "$D/dockerd.pid")"
      return 0
    fi
    pid_alive "$spid" || break
    sleep 0.1
  done
  say "dockerd did not answer on $D/docker.sock; $D/dockerd.log ends with:"
  tail -n 20 "$D/dockerd.log" >&2 || true
  tail -n 5 "$C/containerd.log" >&2 2>/dev/null || true
  stop_procs "$D" || true # keeps the logs; `stop DIR` removes DIR
  return 1
}

case ${1:-} in
  "") install ;;
  serve) shift; serve "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: $ME [serve DIR [--netns NS [--bridge]] [--tls ADDR:PORT] | stop DIR]" ;;
esac
