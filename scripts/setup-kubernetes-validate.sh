#!/usr/bin/env bash
# Installs what the Kubernetes rendering tests need (docs/targets/kubernetes.md, "Testing"): a venv
# with kubernetes-validate==1.37.0 and exactly the versions in
# scripts/kubernetes-validate-requirements.txt, kept outside the work tree under $DSDEPLOY_CACHE
# (default ~/.cache/dsdeploy) and keyed by the hash of that file and the Python version, so fresh
# clones on one machine share it. Pinned wheels are kept in a wheelhouse next to the venv, so a
# wiped venv comes back without the network.
# Idempotent: when the stamp matches, it only prints the paths (about 0 s). With --check it
# installs nothing and fails, naming this script, when something is missing.
# Prints KEY=VALUE lines on stdout (eval-able); progress goes to stderr. Needs root for apt-get
# (python3-venv, only where venv is missing).
set -euo pipefail
# The venv, its cache and its checks: scripts/lib/pinned-venv.sh.
. "$(dirname "${BASH_SOURCE[0]}")/lib/pinned-venv.sh"
pinned_venv kubernetes-validate "kubernetes-validate 1.37.0" kubernetes-validate kubernetes_validate KUBERNETES_VALIDATE "$@"
