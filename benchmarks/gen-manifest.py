#!/usr/bin/env python3
"""Write a deterministic benchmark manifest: one Backend plus N Deployment documents.

Usage: gen-manifest.py N OUT

N=2000 gives about 1.5 MB. Values vary per deployment (names, model ids, sizes, ports,
optional extra flags and env vars) so the file is not one block repeated. The output is a
pure function of N: no randomness beyond a fixed-seed generator, no timestamps.
"""

import random
import sys

BACKEND = """\
apiVersion: dsdeploy/v1
kind: Backend
metadata: {name: sglang}
spec:
  engine: sglang
  versions:
    dspark:
      engineVersion: "0.5.23"
      image: swr.cn-north-4.myhuaweicloud.com/desaysv/gpustack/sglang-dspark:v1.0
      framework: cuda
      entrypoint: [sglang, serve]
      command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"
"""

MODELS = [
    ("modelscope", "deepseek-ai/DeepSeek-V4-Flash-DSpark"),
    ("modelscope", "Qwen/Qwen3-235B-A22B-Instruct"),
    ("huggingface", "meta-llama/Llama-4-Scout-17B-16E-Instruct"),
    ("modelscope", "moonshotai/Kimi-K2-Instruct"),
    ("huggingface", "zai-org/GLM-4.6"),
]
RUNNERS = ["flashinfer_mxfp4", "flashinfer_trtllm", "triton", "deep_gemm"]
ALGORITHMS = ["DSPARK", "EAGLE", "EAGLE3", "NEXTN"]
MIRRORS = [
    "https://mirrors.aliyun.com/pypi/simple/",
    "https://pypi.tuna.tsinghua.edu.cn/simple",
    "https://mirrors.cloud.tencent.com/pypi/simple",
]


def deployment(i: int, rng: random.Random) -> str:
    source, model = MODELS[i % len(MODELS)]
    gpus = rng.choice([1, 2, 4, 8, 8, 8])
    runner = rng.choice(RUNNERS)
    context = rng.choice([32768, 131072, 262144, 1000000])
    args = [
        f"--context-length {context}",
        "--trust-remote-code",
        f"--tp-size {gpus}",
        f"--ep-size {gpus}",
        f"--moe-runner-backend {runner}",
        f"--speculative-moe-runner-backend {runner}",
        f"--speculative-algorithm {rng.choice(ALGORITHMS)}",
        f"--speculative-eagle-topk {rng.choice([1, 2, 4])}",
        f"--speculative-num-steps {rng.choice([1, 2, 3])}",
        f"--mem-fraction-static 0.{rng.randint(70, 92)}",
        f"--cuda-graph-max-bs-decode {rng.choice([16, 32, 64])}",
        f"--max-running-requests {rng.choice([16, 32, 64, 128])}",
        "--disable-overlap-schedule",
    ]
    if i % 7 == 0:
        args.append(f"--chunked-prefill-size {rng.choice([4096, 8192])}")
    if i % 11 == 0:
        args.append("--enable-metrics")
    lines = [
        "apiVersion: dsdeploy/v1",
        "kind: Deployment",
        f"metadata: {{name: dspark-{i:04d}}}",
        "spec:",
        f"  model: {{source: {source}, id: {model}}}",
        "  backend: sglang",
        "  backendVersion: dspark",
        f"  replicas: {rng.choice([1, 1, 2, 3])}",
        f"  gpusPerReplica: {gpus}",
        "  args:",
    ]
    lines += [f"    - {a}" for a in args]
    lines.append("  env:")
    lines.append(f'    PYPI_PACKAGES_INSTALL: "-U distro -i {rng.choice(MIRRORS)}"')
    if i % 5 == 0:
        lines.append(f'    SGLANG_TORCH_PROFILER_DIR: "/tmp/profile-{i:04d}"')
    if i % 3 == 0:
        lines.append(f"    NCCL_DEBUG: {rng.choice(['INFO', 'WARN'])}")
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    rng = random.Random(20240611)
    parts = [BACKEND]
    for i in range(1, n + 1):
        parts.append("---\n" + deployment(i, rng))
    with open(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
