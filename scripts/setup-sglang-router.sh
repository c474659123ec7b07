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
# The venv, its cache and its checks: scripts/lib/pinned-venv.sh.
. "$(dirname "${BASH_SOURCE[0]}")/lib/pinned-venv.sh"
pinned_venv sglang-router "sglang-router 0.3.2" smg sglang_router.launch_router SGLANG_ROUTER "$@"
