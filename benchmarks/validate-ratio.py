#!/usr/bin/env python3
"""`dsdeploy validate` wall time against the libyaml floor's parse, interleaved in one process.

Usage: benchmarks/validate-ratio.py RUNS MANIFEST BINARY [BINARY ...]

Each round runs the C floor (benchmarks/out/libyaml_floor, built by benchmarks/validate.sh) once
and then each binary once, so every tool sees the same drift of a shared machine. Prints, per
binary, the median and the minimum wall ms and their ratios to the floor's median and minimum
parse ms. The minimum is the run least disturbed by other load; report both.

Place each binary in a folder of its own with its `dsdeploy_Engines.resources` beside it (as
`swift build` and an install leave it): a binary without it finds its catalogs through
`Bundle.main`, which lists the binary's folder, and in a crowded /tmp that listing cost 13 ms.
"""
import re
import statistics
import subprocess
import sys
import time

FLOOR = "benchmarks/out/libyaml_floor"


def main() -> None:
    runs, manifest, binaries = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    floor: list[float] = []
    wall: dict[str, list[float]] = {b: [] for b in binaries}
    for _ in range(runs):
        out = subprocess.run([FLOOR, manifest, "1"], capture_output=True, text=True, check=True).stdout
        floor.append(float(re.search(r"parse_ms=([\d.]+)", out).group(1)))
        for b in binaries:
            t = time.perf_counter()
            subprocess.run([b, "validate", manifest], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wall[b].append((time.perf_counter() - t) * 1000)
    fmed, fmin = statistics.median(floor), min(floor)
    print(f"floor parse ms: median {fmed:.2f}, min {fmin:.2f} ({runs} runs)")
    for b in binaries:
        med, low = statistics.median(wall[b]), min(wall[b])
        print(f"{b}: wall ms median {med:.1f}, min {low:.1f}; median/median {med / fmed:.2f}x, min/min {low / fmin:.2f}x")


if __name__ == "__main__":
    main()
