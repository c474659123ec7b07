#!/usr/bin/env bash
# smoke-tiny-engine.sh PORT
# Starts the tiny llama.cpp engine (engines/tiny-llama/llama-server) on 127.0.0.1:PORT with real
# llama-server flags, waits for /health, checks /v1/models, a streamed /v1/completions (SSE ending
# with `data: [DONE]`) and /props against the flags, then stops it with SIGTERM and checks that it
# exits 0. Exits non-zero on any failure (and prints the engine's log). Loopback only.
# Runs scripts/setup-tiny-engine.sh first (a no-op when already set up).
set -euo pipefail

PORT=${1:?usage: smoke-tiny-engine.sh PORT}
[[ $PORT =~ ^[0-9]+$ ]] || { echo "smoke: PORT must be a number" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
URL=http://127.0.0.1:$PORT
ALIAS=tiny-llama

eval "$("$ROOT/scripts/setup-tiny-engine.sh")"

LOG=$(mktemp "${TMPDIR:-/tmp}/tiny-engine-$PORT.XXXXXX.log")
PID=
fail() {
  echo "smoke: FAIL: $*" >&2
  echo "----- engine log ($LOG) -----" >&2
  tail -n 40 "$LOG" >&2 || true
  exit 1
}
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }

if curl -s -o /dev/null -m 1 "$URL/health"; then fail "something already answers on $URL"; fi

t0=$(now)
"$TINY_LLAMA_SERVER" -m "$TINY_LLAMA_MODEL" --host 127.0.0.1 --port "$PORT" -a "$ALIAS" -c 512 -np 2 \
  >"$LOG" 2>&1 </dev/null &
PID=$!

ready=
for _ in $(seq 300); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' -m 1 "$URL/health")" = 200 ]; then ready=1; break; fi
  kill -0 "$PID" 2>/dev/null || fail "the engine exited before it was ready"
  sleep 0.1
done
[ -n "$ready" ] || fail "/health not 200 after 30 s"
ready_s=$(since "$t0")
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status")

# /v1/models: the alias is the model id
curl -sSf -m 5 "$URL/v1/models" | python3 -c '
import json, sys
d = json.load(sys.stdin)
ids = [m["id"] for m in d["data"]]
assert ids == [sys.argv[1]], f"/v1/models ids {ids}"
' "$ALIAS" || fail "/v1/models"

# streamed completion: SSE data lines, the last one [DONE]
SSE=$(curl -sSf -N -m 30 "$URL/v1/completions" -H 'Content-Type: application/json' \
  -d "{\"model\":\"$ALIAS\",\"prompt\":\"hello world\",\"max_tokens\":8,\"temperature\":0,\"stream\":true}") ||
  fail "POST /v1/completions"
TEXT=$(python3 -c '
import json, sys
events = [l[len("data:"):].strip() for l in sys.stdin.read().splitlines() if l.startswith("data:")]
assert events and events[-1] == "[DONE]", f"stream does not end with data: [DONE]: {events[-1:]}"
chunks = [json.loads(e) for e in events[:-1]]
assert chunks, "no data chunks before [DONE]"
text = "".join(c["choices"][0].get("text", "") for c in chunks if c.get("choices"))
assert chunks[-1].get("usage", {}).get("completion_tokens") == 8, "usage.completion_tokens != max_tokens"
print(f"{len(chunks)} chunks, text={text!r}")
' <<<"$SSE") || fail "streamed /v1/completions: $SSE"

# /props shows the flags: -c 512 over -np 2 slots = 256 per slot, -a, -m
curl -sSf -m 5 "$URL/props" | python3 -c '
import json, sys
d = json.load(sys.stdin)
got = (d["default_generation_settings"]["n_ctx"], d["total_slots"], d["model_alias"], d["model_path"])
want = (256, 2, sys.argv[1], sys.argv[2])
assert got == want, f"/props (n_ctx per slot, total_slots, model_alias, model_path) = {got}, want {want}"
' "$ALIAS" "$TINY_LLAMA_MODEL" || fail "/props"

t1=$(now)
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
stop_s=$(since "$t1")
PID=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
curl -s -o /dev/null -m 1 "$URL/health" && fail "still answering after exit"

echo "smoke OK: port $PORT, ready ${ready_s} s, RSS $((rss_kb / 1024)) MiB, stream $TEXT, SIGTERM exit 0 in ${stop_s} s"
rm -f "$LOG"
