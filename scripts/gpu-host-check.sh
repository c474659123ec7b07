#!/usr/bin/env bash
# The local target's GPU placement against a real nvidia-smi, on a machine with an NVIDIA GPU and
# PyTorch (CI has no GPU; this is run by hand, e.g. on a lent H100 host):
#
#   scripts/gpu-host-check.sh BIN_DIR
#
# BIN_DIR holds dsdeploy, dsdeploy-supervisor and dsdeploy-engine-sim (a `make release`-style static
# build). The engine is the simulator behind a small Python wrapper that first takes 1 GiB on the GPU
# it is given, so nvidia-smi lists the replica's own process as real engines appear. It checks:
#   1. an idle GPU 0 is planned for a 1-GPU replica;
#   2. while another program (python3 holding 1 GiB) runs on GPU 0, plan refuses and names its pid;
#   3. once it is gone, apply starts the replica on GPU 0 with CUDA_VISIBLE_DEVICES=0 and
#      CUDA_DEVICE_ORDER=PCI_BUS_ID, nvidia-smi lists the engine there, a second plan has no
#      changes (the replica's own GPU stays its own), and status shows GPU 0 (text and JSON);
#   4. a second replica does not fit: plan names GPU 0's count;
#   5. delete stops it and nvidia-smi lists no process.
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
W=$(mktemp -d /tmp/dsdeploy-gpu-check.XXXXXX)
export PATH="$BIN:$PATH" DSDEPLOY_HOME="$W/.dsdeploy" NO_COLOR=1
cd "$W"
fail() { echo "FAIL: $*"; exit 1; }
apps() { nvidia-smi --query-compute-apps=gpu_uuid,pid,process_name,used_memory --format=csv,noheader,nounits; }

cat > gpu-engine.py <<'EOF'
# Takes 1 GiB on the GPU CUDA_VISIBLE_DEVICES names, then runs the engine given as arguments and
# passes its exit status on (SIGTERM is forwarded).
import signal, subprocess, sys, torch
x = torch.empty(1 << 28, dtype=torch.float32, device="cuda")
p = subprocess.Popen(sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *a: p.terminate())
sys.exit(p.wait())
EOF

write() {
cat > m.yaml <<EOF
apiVersion: dsdeploy/v1
kind: Target
metadata: {name: local}
spec:
  type: local
  images:
    lmsysorg/sglang:v0.5.23: [python3, $W/gpu-engine.py, dsdeploy-engine-sim]
---
apiVersion: dsdeploy/v1
kind: Deployment
metadata: {name: gpu-check}
spec:
  model: {source: huggingface, id: Qwen/Qwen3-8B}
  backend: sglang
  backendVersion: "0.5.23"
  replicas: $1
  gpusPerReplica: 1
  port: 30123
  readiness: {timeoutSeconds: 120}
EOF
}

echo "== nvidia-smi"
nvidia-smi --query-gpu=index,uuid,name,memory.used --format=csv,noheader
echo "== 1. idle: plan"
write 1
dsdeploy plan m.yaml --output json > plan.json
grep -q '"gpu_ids" : "0"' plan.json || { cat plan.json; fail "not planned on GPU 0"; }
echo "planned on GPU 0"

echo "== 2. another program on GPU 0: plan"
python3 -c 'import torch, time; x = torch.empty(1 << 28, device="cuda"); time.sleep(300)' &
HOLDER=$!
for _ in $(seq 1 120); do apps | grep -q " $HOLDER," && break; sleep 0.5; done
apps
set +e; dsdeploy plan m.yaml > plan2.txt 2>&1; rc=$?; set -e
cat plan2.txt
[ "$rc" = 1 ] || fail "plan exit $rc, expected 1"
grep -q "GPU 0 runs pid $HOLDER (python3)" plan2.txt || fail "the holder is not named"
kill $HOLDER; wait $HOLDER 2>/dev/null || true
for _ in $(seq 1 120); do apps | grep -q " $HOLDER," || break; sleep 0.5; done

echo "== 3. apply"
dsdeploy apply m.yaml --auto-approve
PID=$(dsdeploy status --output json | python3 -c 'import json,sys; print(json.load(sys.stdin)["replicas"][0]["pid"])')
tr '\0' '\n' < /proc/$PID/environ | grep -E '^CUDA_' | sort | tee env.txt
grep -qx 'CUDA_VISIBLE_DEVICES=0' env.txt || fail "CUDA_VISIBLE_DEVICES"
grep -qx 'CUDA_DEVICE_ORDER=PCI_BUS_ID' env.txt || fail "CUDA_DEVICE_ORDER"
for _ in $(seq 1 120); do apps | grep -q " $PID," && break; sleep 0.5; done
apps
apps | grep -q " $PID," || fail "nvidia-smi does not list the engine ($PID)"
set +e; dsdeploy plan m.yaml --detailed-exitcode; rc=$?; set -e
[ "$rc" = 0 ] || fail "plan with the replica running: exit $rc, expected 0 (no changes)"
dsdeploy status | tee status.txt
head -1 status.txt | grep -q GPUS || fail "status has no GPUS column"
dsdeploy status --output json | python3 -c 'import json,sys; r=json.load(sys.stdin)["replicas"][0]; sys.exit(0 if r.get("gpus") == [0] else 1)' \
  || fail "status JSON: gpus is not [0]"

echo "== 4. a second replica"
write 2
set +e; dsdeploy plan m.yaml > plan4.txt 2>&1; rc=$?; set -e
cat plan4.txt
[ "$rc" = 1 ] && grep -q "needs 1 GPU for a replica; no host has one (local: 0 of 1 free)" plan4.txt || fail "a second replica should not fit (exit $rc)"

echo "== 5. delete"
dsdeploy delete gpu-check --auto-approve
for _ in $(seq 1 60); do [ -z "$(apps)" ] && break; sleep 0.5; done
[ -z "$(apps)" ] || { apps; fail "a process is left on the GPU"; }
echo "PASS: local GPU placement against the real nvidia-smi"
rm -rf "$W"
