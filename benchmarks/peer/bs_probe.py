#!/usr/bin/env python3
"""Runs `python -m sglang.bench_serving ARGS…` and records the CPU and wall time of its timed part.

    PEER_PROBE_OUT=probe.json python bs_probe.py ARGS…

bench_serving does its start-up (imports, tokenizer, dataset) and then one `asyncio.run(benchmark(…))`:
warm-up, the timed run, metrics and the printed table. This wrapper times every `asyncio.run` call
with getrusage(RUSAGE_SELF) (all threads of the process), so the peer report can show the client's
CPU with and without start-up. It changes nothing else.
"""
import asyncio
import json
import os
import resource
import runpy
import sys
import time

calls = []
_run = asyncio.run


def timed_run(main, *args, **kwargs):
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    try:
        return _run(main, *args, **kwargs)
    finally:
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        calls.append({"cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), "wall_s": t1 - t0})
        out = os.environ.get("PEER_PROBE_OUT")
        if out:
            with open(out, "w") as f:
                json.dump({"asyncio_run_calls": calls}, f)


asyncio.run = timed_run
sys.argv = ["sglang.bench_serving"] + sys.argv[1:]
runpy.run_module("sglang.bench_serving", run_name="__main__", alter_sys=True)
