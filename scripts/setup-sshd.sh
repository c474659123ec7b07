#!/usr/bin/env bash
# OpenSSH's server for the docker target's ssh:// tests, which start sshd themselves in a network
# namespace of their own (a fake remote host). Installs openssh-server when missing; never starts
# the system's sshd (apt's policy-rc.d on CI keeps services down).
set -euo pipefail
if ! [ -x /usr/sbin/sshd ] || ! command -v ip >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup-sshd: installing openssh-server iproute2" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends openssh-server iproute2 >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends openssh-server iproute2 >/dev/null; }
fi
mkdir -p /run/sshd
