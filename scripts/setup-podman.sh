#!/usr/bin/env bash
# A Docker-compatible engine for the docker target's tests: podman's Docker API on a unix socket.
#   scripts/setup-podman.sh                install podman (apt) and build the registry-free test image
#   scripts/setup-podman.sh serve SOCKET   also start `podman system service` on SOCKET; prints its PID
#                                          (the tests start the service themselves, see DockerE2ETests)
# The image, localhost/dsd-busybox:test, is a static busybox (sh, readlink, sleep ...) imported from a
# tarball: nothing is pulled. Tests run engines in it with read-only bind mounts of what they need.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=$HERE/podman/containers.conf
export DEBIAN_FRONTEND=noninteractive

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! [ -x /bin/busybox ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup-podman: installing podman runc busybox-static" >&2
  $SUDO apt-get install -y -q podman runc busybox-static >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -q podman runc busybox-static >/dev/null; }
fi
if ! podman image exists localhost/dsd-busybox:test; then
  R=$(mktemp -d)
  mkdir -p "$R"/{bin,etc,tmp,proc,sys,dev}
  cp /bin/busybox "$R/bin/busybox"
  for a in sh echo cat sleep ls env readlink dirname id ps true false kill wget; do ln -sf busybox "$R/bin/$a"; done
  tar -C "$R" -cf "$R.tar" .
  # podman 4.3 ignores the tag of an import: tag it afterwards.
  podman import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$R.tar" localhost/dsd-busybox:import >/dev/null
  podman tag localhost/dsd-busybox:import localhost/dsd-busybox:test
  rm -rf "$R" "$R.tar"
fi
[ "${1:-}" = serve ] || exit 0
SOCK=${2:?usage: setup-podman.sh serve SOCKET}
rm -f "$SOCK"
setsid podman system service --time=0 "unix://$SOCK" >"$SOCK.log" 2>&1 </dev/null &
PID=$!
for _ in $(seq 100); do
  if curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null; then echo "$PID"; exit 0; fi
  sleep 0.1
done
echo "setup-podman: the podman service did not answer on $SOCK (log: $SOCK.log)" >&2
kill "$PID" 2>/dev/null || true
exit 1
