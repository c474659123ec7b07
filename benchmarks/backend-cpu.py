#!/usr/bin/env python3
"""Bench-client CPU per streamed token by API: `dsdeploy bench --backend openai` (/v1/completions,
each chunk carries only its new text) against `--backend sglang` (SGLang's native /generate, each
chunk repeating the text and token ids so far), for one or more dsdeploy binaries, against
dsdeploy-engine-sim. Client on CPU 0, simulator on CPU 1, a fresh simulator per run, runs
interleaved; CPU is the client's user + system time (os.wait4) per output token, whole process.

  python3 benchmarks/backend-cpu.py --sim SIM --dsdeploy LABEL=BINARY [--dsdeploy LABEL=BINARY ...]
      [--shape OUT,STEP_MS,CONCURRENCY,PROMPTS ...] [--backends openai,sglang] [--repeats 3]

Not part of `make test`; stdlib only. Prints a Markdown table of medians (user, system, total µs
per token, mean ITL).
"""
import argparse
import json
import os
import statistics
import subprocess
import time
import urllib.request

MODEL = "sim/bench-model"


def start_sim(binary, port, step_ms):
    env = dict(os.environ, DSDEPLOY_SIM_DECODE_STEP_MS=str(step_ms), DSDEPLOY_SIM_TTFT_BASE_MS="20",
               DSDEPLOY_SIM_TTFT_PER_1K_INPUT_MS="0", DSDEPLOY_SIM_ACCEPT_LENGTH="1")
    p = subprocess.Popen(["taskset", "-c", "1", binary, "--host", "127.0.0.1", "--port", str(port),
                          "--model-path", MODEL], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"simulator exited with {p.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("simulator not ready")


def run(binary, port, backend, out_len, concurrency, prompts):
    argv = ["taskset", "-c", "0", binary, "bench", "--url", f"http://127.0.0.1:{port}", "--backend", backend,
            "--model", MODEL, "--dataset-name", "random-ids", "--random-input-len", "32",
            "--random-output-len", str(out_len), "--random-range-ratio", "1", "--num-prompts", str(prompts),
            "--max-concurrency", str(concurrency), "--output", "json"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {status}")
    d = json.loads(out)
    tokens = d["total_output_tokens"]
    return ru.ru_utime / tokens * 1e6, ru.ru_stime / tokens * 1e6, d["mean_itl_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--dsdeploy", action="append", required=True, help="LABEL=BINARY")
    ap.add_argument("--shape", action="append", help="OUT_TOKENS,STEP_MS,CONCURRENCY,PROMPTS")
    ap.add_argument("--backends", default="openai,sglang")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--port", type=int, default=31985)
    a = ap.parse_args()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    binaries = [tuple(x.split("=", 1)) for x in a.dsdeploy]
    shapes = [tuple(int(v) for v in s.split(",")) for s in (a.shape or ["64,20,256,1024", "1024,5,16,32"])]
    configs = [(label, binary, backend) for label, binary in binaries for backend in a.backends.split(",")]
    print("| output tokens | step ms | concurrency | prompts | build | backend | user µs/token | system µs/token | total µs/token | mean ITL ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for out_len, step, concurrency, prompts in shapes:
        results = {c: [] for c in configs}
        for r in range(a.repeats):
            for c in (configs if r % 2 == 0 else configs[::-1]):
                sim = start_sim(a.sim, a.port, step)
                try:
                    results[c].append(run(c[1], a.port, c[2], out_len, concurrency, prompts))
                finally:
                    sim.terminate()
                    sim.wait()
        for (label, _, backend), v in results.items():
            user = statistics.median(x[0] for x in v)
            system = statistics.median(x[1] for x in v)
            total = statistics.median(x[0] + x[1] for x in v)
            itl = statistics.median(x[2] for x in v)
            print(f"| {out_len} | {step} | {concurrency} | {prompts} | {label} | {backend} | {user:.2f} | {system:.2f} | {total:.2f} | {itl:.3f} |")


if __name__ == "__main__":
    main()
