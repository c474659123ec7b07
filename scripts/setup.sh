#!/usr/bin/env bash
# Installs what dsdeploy needs to build, test and run its demo on a fresh Debian machine.
# Idempotent and quick when everything is already there. Needs root (or sudo) for apt-get.
set -euo pipefail

APT_PACKAGES=(libcurl4-openssl-dev libyaml-dev libsqlite3-dev git curl python3 python3-venv time openssl libssl-dev)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: swift 6.3 is required (https://swift.org/install)" >&2; exit 1; }
echo "setup: ok"
