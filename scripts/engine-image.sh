#!/usr/bin/env bash
# Registry-free engine images for the docker target's end-to-end tests, built from this machine's
# files and imported into a Docker Engine API (dockerd, or podman's compatible service) with curl
# alone (no docker/podman CLI):
#   scripts/engine-image.sh [--docker unix:///path/docker.sock] [--sim PATH] [--force] [sim|tiny-llama|sglang-router|all]
#     localhost/dsdeploy-engine-sim:dev   .build/debug/dsdeploy-engine-sim (or --sim PATH; built with
#         `swift build --product dsdeploy-engine-sim` when the default one is missing) at
#         /usr/local/bin/dsdeploy-engine-sim, with exactly the shared libraries ldd lists, at their paths,
#         and the SwiftPM resource bundles (*.resources) it names from beside it. Also
#         /usr/local/bin/sglang → the simulator, so a Backend's `entrypoint: [sglang, serve]` (the
#         seed's) runs it as SGLang: tag this image with the seed's image name and the seed runs as is.
#     localhost/dsdeploy-tiny-llama:dev   engines/tiny-llama/llama-server (also /usr/local/bin/llama-server)
#         with its venv's xllamacpp, the python interpreter at its own path (its RUNPATH is absolute)
#         with the stdlib (no test/idlelib/tkinter/ensurepip/lib2to3/site-packages), the ldd libraries of
#         every ELF file, /bin/sh (dash, readlink, dirname for the launcher's sh part), and the model
#         at /models/tiny-llama.gguf. The repo's layout is kept under /opt/dsdeploy (engines/tiny-llama/,
#         .dsdeploy-engines/tiny-llama/venv), so the launcher finds its venv by itself. No bind mount.
#         CMD: -m /models/tiny-llama.gguf -a tiny-llama --host 0.0.0.0 --port 8080.
#         Runs scripts/setup-tiny-engine.sh first (idempotent) for the venv and the model.
#     localhost/dsdeploy-sglang-router:dev   the real router: the venv of scripts/setup-sglang-router.sh
#         (sglang-router 0.3.2 and the pinned packages of scripts/sglang-router-requirements.txt) at
#         /opt/sglang-router/venv, with the python interpreter at its own path and its stdlib, packed
#         as for tiny-llama (the ldd libraries of the interpreter, lib-dynload's and the packages' .so
#         files). PATH starts with the venv's bin, so `python3 -m sglang_router.launch_router` (the
#         router's default entrypoint) runs it. ENTRYPOINT: that command. Runs the setup script first
#         (idempotent).
# The socket defaults to $DOCKER_HOST (unix://..., or tcp://... with $DOCKER_CERT_PATH for TLS).
# Every image: ENTRYPOINT the engine, ENV PATH, and the label dsdeploy.content-key, a sha256 over this
# script, the engine file's (and the model's) content, and the size and mtime of every other file
# copied. An image whose :dev tag carries the same key is kept (checked in 0.2 s for sim, 1 s for
# tiny-llama); --force rebuilds. A
# replaced image is deleted unless a container still uses it. Progress goes to stderr.
set -euo pipefail
ME=engine-image
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/engine-image.sh
say() { echo "$ME: $*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,5p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2; }

DOCKER=${DOCKER_HOST:-}
SIM=""
FORCE=""
WHAT=all
while [ $# -gt 0 ]; do
  case $1 in
    --docker) DOCKER=${2:?--docker URL}; shift 2 ;;
    --sim) SIM=${2:?--sim PATH}; shift 2 ;;
    --force) FORCE=1; shift ;;
    sim | tiny-llama | sglang-router | all) WHAT=$1; shift ;;
    -h | --help) usage ;;
    *) say "unknown argument $1"; usage ;;
  esac
done
[ -n "$DOCKER" ] || die "no Docker API: pass --docker unix:///path/docker.sock or set DOCKER_HOST"

CURL=(curl -sS --max-time 600)
case $DOCKER in
  unix://*) CURL+=(--unix-socket "${DOCKER#unix://}"); BASE=http://d ;;
  tcp://*)
    if [ -n "${DOCKER_CERT_PATH:-}" ]; then
      CURL+=(--cacert "$DOCKER_CERT_PATH/ca.pem" --cert "$DOCKER_CERT_PATH/cert.pem" --key "$DOCKER_CERT_PATH/key.pem")
      BASE=https://${DOCKER#tcp://}
    else
      BASE=http://${DOCKER#tcp://}
    fi ;;
  *) die "unsupported Docker API address $DOCKER (unix:// or tcp://)" ;;
esac
API=/v1.41 # dockerd 20.10 and podman 4.3 both speak it

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dsd-engine-image.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# api METHOD PATH [curl args...]: the body goes to $TMP/body; returns 1 on HTTP >= 400.
api() {
  local m=$1 p=$2 code
  shift 2
  code=$("${CURL[@]}" -o "$TMP/body" -w '%{http_code}' -X "$m" "$@" "$BASE$API$p") || return 1
  [ "$code" -lt 400 ]
}
urlenc() {
  local s=$1 i c out=""
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in [a-zA-Z0-9.~_-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac
  done
  printf '%s' "$out"
}

# The shared libraries ldd lists for ELF files, the dynamic loader included, one path a line.
deps() {
  local f out
  for f in "$@"; do
    out=$(ldd "$f" 2>/dev/null) || continue # not dynamic (ldd fails on static and non-ELF files)
    if grep -q 'not found' <<<"$out"; then die "ldd $f: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"; fi
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
  done | sort -u
}
is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

# The rootfs skeleton: the host's top-level links (/lib -> usr/lib on merged-/usr), /tmp, /etc.
skeleton() {
  local R=$1 d
  mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc,tmp,proc,sys,dev}
  chmod 1777 "$R/tmp"
  for d in bin sbin lib lib64; do
    if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$R/$d"; else mkdir -p "$R/$d"; fi
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$R/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
  mkdir -p "$R/root"
  chmod 700 "$R/root"
}
# put SRC DEST: the file's content (links followed) at DEST in the rootfs.
put() {
  local R=$1 src=$2 dst=$3
  mkdir -p "$R$(dirname "$dst")"
  cp -L --preserve=mode "$src" "$R$dst"
}
put_libs() { local R=$1 l; shift; for l in $(deps "$@"); do [ -e "$R$l" ] || put "$R" "$l" "$l"; done; }

key_of() { { sha256sum <"$SELF"; cat; } | sha256sum | cut -c1-64; }
stat_lines() { local f; for f in "$@"; do stat -L -c '%n %s %Y' "$f"; done; }

# build NAME KEY ROOTFS CHANGE...: import ROOTFS as localhost/NAME:dev unless that has KEY already.
current_key() {
  api GET "/images/localhost/$1:dev/json" 2>/dev/null || return 0
  grep -o '"dsdeploy.content-key": *"[0-9a-f]*"' "$TMP/body" | grep -o '[0-9a-f]\{64\}' || true
}
image_id() {
  api GET "/images/$1/json" 2>/dev/null || return 0
  grep -o '"Id": *"sha256:[0-9a-f]*"' "$TMP/body" | head -1 | grep -o 'sha256:[0-9a-f]*' || true
}
import() {
  local name=$1 key=$2 R=$3 t0 old new tmprepo q c
  shift 3
  t0=$(date +%s.%N)
  old=$(image_id "localhost/$name:dev")
  # Imported under a throwaway name, then tagged: podman 4.3 ignores `tag` (the image becomes :latest).
  tmprepo=localhost/dsdeploy-import-$$
  q="fromSrc=-&repo=$tmprepo&tag=latest"
  for c in "LABEL dsdeploy.content-key=$key" "LABEL dsdeploy.image=$name" "$@"; do q+="&changes=$(urlenc "$c")"; done
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$R" -cf "$TMP/rootfs.tar" .
  local size
  size=$(stat -c %s "$TMP/rootfs.tar")
  api POST "/images/create?$q" -H 'Content-Type: application/x-tar' -T "$TMP/rootfs.tar" ||
    die "import of $name failed: $(head -c 600 "$TMP/body")"
  rm -f "$TMP/rootfs.tar"
  # dockerd streams {"status":"sha256:..."}; podman also sends "id". Both leave a {"error":...} on failure.
  grep -q '"error"' "$TMP/body" && die "import of $name failed: $(head -c 600 "$TMP/body")"
  new=$(grep -o 'sha256:[0-9a-f]\{64\}' "$TMP/body" | tail -1)
  [ -n "$new" ] || die "import of $name: no image id in the answer: $(head -c 300 "$TMP/body")"
  api POST "/images/$new/tag?repo=localhost/$name&tag=dev" || die "tagging $new as localhost/$name:dev failed: $(cat "$TMP/body")"
  api DELETE "/images/$tmprepo:latest" 2>/dev/null || true # untag only: :dev keeps the image
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    api DELETE "/images/$old" 2>/dev/null || say "kept the previous image $old (in use?)"
  fi
  say "localhost/$name:dev = ${new:7:12} (rootfs tar $((size / 1024 / 1024)) MiB) imported in $(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
}

uptodate() { # NAME KEY
  [ -z "$FORCE" ] && [ "$(current_key "$1")" = "$2" ] && { say "localhost/$1:dev is up to date (${2:0:12})"; return 0; }
  return 1
}

image_sim() {
  local name=dsdeploy-engine-sim bin=$SIM key R
  if [ -z "$bin" ]; then
    bin=$ROOT/.build/debug/dsdeploy-engine-sim
    if ! [ -x "$bin" ]; then
      say "building dsdeploy-engine-sim"
      (cd "$ROOT" && flock /tmp/swift-build.lock swift build --product dsdeploy-engine-sim >&2)
    fi
  fi
  [ -x "$bin" ] || die "no engine simulator at $bin"
  local libs res=() r
  libs=$(deps "$bin")
  # SwiftPM resource bundles the binary loads from its own directory (dsdeploy_Engines.resources).
  for r in "$(dirname "$bin")"/*.resources; do
    [ -d "$r" ] && grep -qaF "$(basename "$r")" "$bin" && res+=("$r")
  done
  key=$( { echo "sim"; sha256sum <"$bin"; stat_lines $libs
    [ ${#res[@]} -eq 0 ] || find "${res[@]}" -type f -printf '%p %s %T@\n' | sort; } | key_of)
  uptodate "$name" "$key" && return 0
  R=$TMP/sim
  skeleton "$R"
  put "$R" "$bin" /usr/local/bin/dsdeploy-engine-sim
  for l in $libs; do put "$R" "$l" "$l"; done
  [ ${#res[@]} -eq 0 ] || cp -rL "${res[@]}" "$R/usr/local/bin/"
  ln -s dsdeploy-engine-sim "$R/usr/local/bin/sglang"
  import "$name" "$key" "$R" 'ENTRYPOINT ["/usr/local/bin/dsdeploy-engine-sim"]' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  rm -rf "$R"
}

# The interpreter behind a venv's python: PY, STDLIB, DYNLOAD, PYVER (globals).
py_info() {
  local info
  PY=$(readlink -f "$1/bin/python")
  info=$("$PY" -c 'import sys, sysconfig; print(sysconfig.get_path("stdlib")); print(sysconfig.get_config_var("DESTSHARED")); print("python%d.%d" % sys.version_info[:2])')
  STDLIB=$(sed -n 1p <<<"$info")
  DYNLOAD=$(sed -n 2p <<<"$info")
  PYVER=$(sed -n 3p <<<"$info")
}
# Extension modules of lib-dynload left out of the images.
EXCLUDE_DYN='_tkinter|_test|xxlimited|_xxtestfuzz|_ctypes_test|_curses'
# py_elves: the interpreter and lib-dynload's modules (the files whose ldd libraries go in).
py_elves() { echo "$PY"; ls "$DYNLOAD"/*.so | grep -Ev "/($EXCLUDE_DYN)"; }
# py_key_lines: the stdlib's files (name, size, mtime), for a content key.
py_key_lines() { find "$STDLIB" -path "$STDLIB/site-packages" -prune -o -type f -printf '%P %s %T@\n' | sort; }
# put_python R: the interpreter and its stdlib at their own paths (python's RUNPATH may be absolute,
# pyenv's is), without test/idlelib/tkinter/ensurepip/lib2to3/site-packages.
put_python() {
  local R=$1 d
  put "$R" "$PY" "$PY"
  local ex=(--exclude=__pycache__/*.opt-?.pyc --exclude=*.exe)
  for d in test idlelib tkinter turtledemo turtle.py ensurepip lib2to3 site-packages 'config-*' pydoc_data; do
    ex+=(--exclude="${STDLIB#/}/$d")
  done
  tar -C / "${ex[@]}" -cf - "${STDLIB#/}" | tar -C "$R" -xf -
  find "$R$DYNLOAD" -name '*.so' | grep -E "/($EXCLUDE_DYN)" | xargs -r rm -f
}
# put_venv R V: a venv at V in the image for the interpreter, with its bin/python links.
put_venv() {
  local R=$1 V=$2
  mkdir -p "$R$V/bin" "$R$V/lib/$PYVER/site-packages"
  printf 'home = %s\ninclude-system-site-packages = false\nversion = %s\n' "$(dirname "$PY")" \
    "$("$PY" -c 'import platform; print(platform.python_version())')" >"$R$V/pyvenv.cfg"
  ln -s "$PY" "$R$V/bin/python"
  ln -s python "$R$V/bin/python3"
  ln -s python "$R$V/bin/$PYVER"
}

image_router() {
  local name=dsdeploy-sglang-router key R paths venv site elves
  paths=$("$ROOT/scripts/setup-sglang-router.sh")
  venv=$(dirname "$(dirname "$(sed -n 's/^SGLANG_ROUTER_PYTHON=//p' <<<"$paths")")")
  [ -d "$venv" ] || die "no sglang-router venv at $venv"
  py_info "$venv"
  site=$venv/lib/$PYVER/site-packages
  elves=$( { py_elves; find "$site" -name '*.so*' -type f; })
  key=$( {
    echo "sglang-router"; sha256sum <"$ROOT/scripts/sglang-router-requirements.txt"; stat_lines $elves $(deps $elves)
    py_key_lines
    find "$site" -name __pycache__ -prune -o -type f -printf '%P %s %T@\n' | sort
  } | key_of)
  uptodate "$name" "$key" && return 0
  R=$TMP/router
  skeleton "$R"
  put_python "$R"
  put_libs "$R" $elves
  local V=/opt/sglang-router/venv
  put_venv "$R" "$V"
  tar -C "$site" --exclude=__pycache__ -cf - . | tar -C "$R$V/lib/$PYVER/site-packages" -xf -
  import "$name" "$key" "$R" "ENTRYPOINT [\"$V/bin/python3\", \"-m\", \"sglang_router.launch_router\"]" \
    "ENV PATH=$V/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  rm -rf "$R"
}

image_tiny() {
  local name=dsdeploy-tiny-llama key R paths venv py model launcher
  paths=$("$ROOT/scripts/setup-tiny-engine.sh")
  venv=$(sed -n 's/^TINY_LLAMA_VENV=//p' <<<"$paths")
  model=$(sed -n 's/^TINY_LLAMA_MODEL=//p' <<<"$paths")
  launcher=$(sed -n 's/^TINY_LLAMA_SERVER=//p' <<<"$paths")
  py=$(readlink -f "$venv/bin/python")
  local info stdlib dynload pyver
  info=$("$py" -c 'import sys, sysconfig; print(sysconfig.get_path("stdlib")); print(sysconfig.get_config_var("DESTSHARED")); print("python%d.%d" % sys.version_info[:2])')
  stdlib=$(sed -n 1p <<<"$info")
  dynload=$(sed -n 2p <<<"$info")
  pyver=$(sed -n 3p <<<"$info")
  local site=$venv/lib/$pyver/site-packages
  # The engine imports xllamacpp only (gguf and numpy write the model, which the image carries).
  local pkgs=("$site"/xllamacpp "$site"/xllamacpp-*.dist-info)
  local shell_tools=(/bin/dash /usr/bin/readlink /usr/bin/dirname)
  # Files whose shared libraries go in: the interpreter, lib-dynload's modules, the packages' .so files.
  local exclude_dyn='_tkinter|_test|xxlimited|_xxtestfuzz|_ctypes_test|_curses'
  local elves
  elves=$( { echo "$py"; ls "$dynload"/*.so | grep -Ev "/($exclude_dyn)"; find "${pkgs[@]}" -name '*.so*' -type f; printf '%s\n' "${shell_tools[@]}"; })
  key=$( {
    echo "tiny-llama"; sha256sum <"$launcher"; sha256sum <"$model"; stat_lines $elves $(deps $elves)
    find "$stdlib" -path "$stdlib/site-packages" -prune -o -type f -printf '%P %s %T@\n' | sort
    find "${pkgs[@]}" -type f -printf '%p %s %T@\n' | sort
  } | key_of)
  uptodate "$name" "$key" && return 0
  R=$TMP/tiny
  skeleton "$R"
  # The interpreter and its stdlib at their own paths (python's RUNPATH may be absolute, pyenv's is).
  put "$R" "$py" "$py"
  local ex=(--exclude=__pycache__/*.opt-?.pyc --exclude=*.exe)
  for d in test idlelib tkinter turtledemo turtle.py ensurepip lib2to3 site-packages 'config-*' pydoc_data; do
    ex+=(--exclude="${stdlib#/}/$d")
  done
  tar -C / "${ex[@]}" -cf - "${stdlib#/}" | tar -C "$R" -xf -
  find "$R$dynload" -name '*.so' | grep -E "/($exclude_dyn)" | xargs -r rm -f
  put_libs "$R" $elves
  # /bin/sh and the two tools llama-server's sh part uses.
  put "$R" /bin/dash /usr/bin/dash
  ln -sf dash "$R/usr/bin/sh"
  put "$R" /usr/bin/readlink /usr/bin/readlink
  put "$R" /usr/bin/dirname /usr/bin/dirname
  # The repo's layout under /opt/dsdeploy, so llama-server finds its venv without any variable.
  local O=/opt/dsdeploy V=/opt/dsdeploy/.dsdeploy-engines/tiny-llama/venv
  put "$R" "$launcher" $O/engines/tiny-llama/llama-server
  ln -s $O/engines/tiny-llama/llama-server "$R/usr/local/bin/llama-server"
  mkdir -p "$R$V/bin" "$R$V/lib/$pyver/site-packages"
  printf 'home = %s\ninclude-system-site-packages = false\nversion = %s\n' "$(dirname "$py")" \
    "$("$py" -c 'import platform; print(platform.python_version())')" >"$R$V/pyvenv.cfg"
  ln -s "$py" "$R$V/bin/python"
  ln -s python "$R$V/bin/python3"
  ln -s python "$R$V/bin/$pyver"
  cp -a "${pkgs[@]}" "$R$V/lib/$pyver/site-packages/"
  find "$R$V" -name __pycache__ -prune -exec rm -rf {} +
  put "$R" "$model" /models/tiny-llama.gguf
  import "$name" "$key" "$R" 'ENTRYPOINT ["/usr/local/bin/llama-server"]' \
    'CMD ["-m", "/models/tiny-llama.gguf", "-a", "tiny-llama", "--host", "0.0.0.0", "--port", "8080"]' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  rm -rf "$R"
}

api GET /_ping >/dev/null 2>&1 || die "no Docker API answers at $DOCKER"
case $WHAT in
  sim) image_sim ;;
  tiny-llama) image_tiny ;;
  sglang-router) image_router ;;
  all) image_sim; image_tiny; image_router ;;
esac
