# Sourced by the setup scripts of the tools the tests run from PyPI (setup-kubernetes-validate.sh,
# setup-sglang-router.sh, setup-gpustack.sh): one venv with exactly the versions in scripts/NAME-requirements.txt,
# kept outside the work tree under $DSDEPLOY_CACHE (default ~/.cache/dsdeploy) and keyed by the hash
# of that file and the Python version, so fresh clones on one machine share it. Pinned wheels are
# kept in a wheelhouse next to the venv, so a wiped venv comes back without the network.
# Idempotent: when the stamp matches, it only prints the paths (about 0 s). With --check it installs
# nothing and fails, naming the calling script, when something is missing. Prints KEY=VALUE lines on
# stdout (eval-able); progress goes to stderr. Needs root for apt-get (python3-venv, only where venv
# is missing).
#
#   pinned_venv NAME LABEL EXECUTABLE MODULE VAR [--check]
#     NAME        scripts/NAME-requirements.txt, $CACHE/NAME-KEY/venv, $CACHE/NAME-wheels
#     LABEL       what is installed, for the stamp and messages (`sglang-router 0.3.2`)
#     EXECUTABLE  the console script the venv must have (printed as VAR=…)
#     MODULE      a module that must import from the venv
#     VAR         printed: VAR=venv/bin/EXECUTABLE and VAR_PYTHON=venv/bin/python
#   PYTHON=…              the interpreter to build the venv from (default python3)
#   PINNED_VENV_FINISH=F  a function run as `F VENV` after installing, before the import check and
#                         the stamp (setup-gpustack.sh byte-compiles there)
pinned_venv() {
  local name=$1 label=$2 exe=$3 module=$4 var=$5 mode=${6:-}
  local root req cache wheels py pyver key out venv stamp stamp_text start
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  req=$root/scripts/$name-requirements.txt
  cache=${DSDEPLOY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dsdeploy}
  wheels=$cache/$name-wheels
  say() { echo "setup-$name: $*" >&2; }
  die() { say "error: $*"; exit 1; }

  py=${PYTHON:-python3}
  command -v "$py" >/dev/null || die "$py not found (on Debian: apt-get install python3 python3-venv)"
  pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  key=$( { cat "$req"; echo "python $pyver"; } | sha256sum | cut -c1-16)
  out=$cache/$name-$key
  venv=$out/venv
  stamp=$out/setup.stamp
  stamp_text="$label python $pyver"

  print_paths() {
    echo "$var=$venv/bin/$exe"
    echo "${var}_PYTHON=$venv/bin/python"
  }
  up_to_date() { [ -x "$venv/bin/$exe" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$stamp_text" ]; }

  if up_to_date; then print_paths; return 0; fi
  [ "$mode" = "--check" ] && die "$label is not installed: run scripts/setup-$name.sh"

  mkdir -p "$out"
  exec 9>"$out/setup.lock"
  flock 9
  if up_to_date; then print_paths; return 0; fi

  start=$(date +%s.%N)
  say "creating $venv (Python $pyver) from scripts/$name-requirements.txt"
  rm -rf "$venv" "$stamp"
  local pip
  if "$py" -c 'import sys, pip; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' 2>/dev/null; then
    "$py" -m venv --without-pip "$venv" 2>/dev/null || {
      [ "$(id -u)" -eq 0 ] && { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
      "$py" -m venv --without-pip "$venv"; }
    pip=("$py" -m pip --python "$venv/bin/python")
  else
    if ! "$py" -m venv "$venv" 2>/dev/null; then
      say "installing python3-venv and python3-pip (apt-get)"
      local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv python3-pip >/dev/null
      rm -rf "$venv"
      "$py" -m venv "$venv" || die "'$py -m venv' failed"
    fi
    pip=("$venv/bin/python" -m pip)
  fi
  pip+=(--quiet --disable-pip-version-check --no-input)
  # Every version is pinned in the file, so --no-deps installs exactly that set and nothing else.
  local install=(install --no-compile --no-deps --no-index --find-links "$wheels" -r "$req")
  if ! "${pip[@]}" "${install[@]}" 2>/dev/null; then
    say "downloading the pinned wheels into $wheels"
    mkdir -p "$wheels"
    "${pip[@]}" download --no-deps --only-binary=:all: --dest "$wheels" -r "$req"
    "${pip[@]}" "${install[@]}"
  fi
  [ -x "$venv/bin/$exe" ] || die "the $label wheels installed no $exe script in $venv/bin"
  [ -z "${PINNED_VENV_FINISH:-}" ] || "$PINNED_VENV_FINISH" "$venv"
  "$venv/bin/python" -c "import $module" || die "$module does not import from $venv"
  echo "$stamp_text" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
  say "done in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
  print_paths
}
