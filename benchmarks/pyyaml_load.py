#!/usr/bin/env python3
"""PyYAML baseline: yaml.load_all(..., Loader=yaml.CSafeLoader) over a manifest.

Usage: pyyaml_load.py FILE [RUNS]

Reads FILE once, then parses it RUNS times (default 5) with the libyaml-backed CSafeLoader,
building full Python objects. Prints "parse_ms=X" (median) for benchmarks/validate.sh.
Pinned: PyYAML==6.0.3 (see benchmarks/requirements.txt).
"""

import statistics
import sys
import time

import yaml

PINNED = "6.0.3"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    if yaml.__version__ != PINNED:
        print(f"warning: PyYAML {yaml.__version__}, benchmarks are pinned to {PINNED}", file=sys.stderr)
    if not getattr(yaml, "__with_libyaml__", False):
        print("error: PyYAML was built without libyaml (no CSafeLoader)", file=sys.stderr)
        return 1
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    samples = []
    docs = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        docs = sum(1 for _ in yaml.load_all(data, Loader=yaml.CSafeLoader))
        samples.append((time.perf_counter() - t0) * 1000)
    print(f"documents={docs} runs={runs} min_ms={min(samples):.2f}")
    print(f"parse_ms={statistics.median(samples):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
