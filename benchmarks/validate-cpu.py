#!/usr/bin/env python3
"""Interleaved A/B of `dsdeploy validate FILE`: wall, user and system time, and minor page faults.

    benchmarks/validate-cpu.py ROUNDS FILE BINARY[@VAR=VALUE,...] BINARY[@...] ...

Each round runs every variant once, in order (os.posix_spawn, then wait4 for the child's rusage), so
the machine's slow moments fall on all of them alike. A variant may set environment variables after
an `@` (`dsdeploy@GLIBC_TUNABLES=glibc.malloc.hugetlb=1`). Prints the median and minimum wall time and
the median user time, system time and faults per variant. Keep each binary in a folder of its own
with `dsdeploy_Engines.resources` beside it (see README.md).
"""
import os
import statistics
import sys
import time


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, path = int(sys.argv[1]), sys.argv[2]
    variants = []
    for spec in sys.argv[3:]:
        binary, _, assignments = spec.partition("@")
        env = dict(os.environ)
        for kv in filter(None, assignments.split(",")):
            key, _, value = kv.partition("=")
            env[key] = value
        variants.append((spec, binary, env))
    results = {spec: [] for spec, _, _ in variants}
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _ in range(rounds):
        for spec, binary, env in variants:
            start = time.monotonic_ns()
            pid = os.posix_spawn(binary, [binary, "validate", path], env,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
            _, _, usage = os.wait4(pid, 0)
            wall = (time.monotonic_ns() - start) / 1e6
            results[spec].append((wall, usage.ru_utime * 1e3, usage.ru_stime * 1e3, usage.ru_minflt))
    for spec, rows in results.items():
        median = lambda i: statistics.median(r[i] for r in rows)
        print(f"{spec}: wall median {median(0):.1f} min {min(r[0] for r in rows):.1f} ms | "
              f"user {median(1):.1f} sys {median(2):.1f} ms | faults {median(3):.0f} ({rounds} rounds)")


if __name__ == "__main__":
    main()
