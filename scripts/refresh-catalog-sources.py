#!/usr/bin/env python3
"""Copy the SGLang and vLLM argparse dumps that scripts/gen-catalogs.py reads into catalog-sources/,
keeping only the fields the generator reads.

usage: scripts/refresh-catalog-sources.py [REFERENCE_DIR] [OUT_DIR]
  REFERENCE_DIR  default ../shared/reference (the full extraction)
  OUT_DIR        default catalog-sources

Writes OUT_DIR/sglang/versions/sglang-<v>-server-args.json, OUT_DIR/vllm/versions/vllm-<v>-server-args.json,
OUT_DIR/sglang-router/sglang-router-<v>-args.json (the router's launch_router flags) and OUT_DIR/vllm/vllm-flag-history.json (only its `renamed_or_aliased` table). A flag's long `help`
is kept only where the generator can use it: on a deprecated flag (its deprecation note) or when it
names another flag (replacement candidates). Afterwards `make catalogs` must leave
Sources/Engines/Resources/catalogs unchanged (the EnginesTests regeneration test checks it).
Python 3.11 standard library only.
"""

from __future__ import annotations

import glob
import json
import os
import sys

TOP_KEYS = ("engine", "version", "parser", "flags", "speculative_algorithms")
PARSER_KEYS = ("allow_abbrev",)
FLAG_KEYS = ("name", "dest", "field", "aliases", "type", "element_type", "takes_value", "action", "nargs",
             "default", "choices", "deprecated", "help", "help_short", "negative_options", "valid_values",
             "valid_values_case_insensitive", "accepts_suffix", "json_shape", "also_accepts",
             "none_string_means_null", "dotted_keys")


def trim_flag(f: dict) -> dict:
    out = {k: f[k] for k in FLAG_KEYS if k in f}
    if not f.get("deprecated") and "--" not in (f.get("help") or ""):
        out.pop("help", None)
    return out


def trim_dump(d: dict) -> dict:
    out = {k: d[k] for k in TOP_KEYS if k in d}
    if isinstance(out.get("parser"), dict):
        out["parser"] = {k: v for k, v in out["parser"].items() if k in PARSER_KEYS}
    out["flags"] = [trim_flag(f) for f in d["flags"]]
    return out


def write(path: str, obj: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, sort_keys=True, indent=0, separators=(",", ":"), ensure_ascii=False)
        fh.write("\n")


def main(argv: list[str]) -> int:
    ref = argv[1] if len(argv) > 1 else "../shared/reference"
    out = argv[2] if len(argv) > 2 else "catalog-sources"
    count = 0
    for engine in ("sglang", "vllm"):
        target = os.path.join(out, engine, "versions")
        for old in glob.glob(os.path.join(target, f"{engine}-*-server-args.json")):
            os.remove(old)
        for path in sorted(glob.glob(os.path.join(ref, engine, "versions", f"{engine}-*-server-args.json"))):
            with open(path, encoding="utf-8") as fh:
                write(os.path.join(target, os.path.basename(path)), trim_dump(json.load(fh)))
            count += 1
    with open(os.path.join(ref, "vllm", "vllm-flag-history.json"), encoding="utf-8") as fh:
        history = json.load(fh)
    write(os.path.join(out, "vllm", "vllm-flag-history.json"),
          {"renamed_or_aliased": history.get("renamed_or_aliased") or {}})
    # sglang-router: its launch_router argparse dump (reference/sglang-router/router-args.json).
    with open(os.path.join(ref, "sglang-router", "router-args.json"), encoding="utf-8") as fh:
        router = json.load(fh)
    dump = trim_dump({"engine": "sglang-router", "version": router["version"], "parser": router.get("parser") or {},
                      "flags": router["flags"]})
    write(os.path.join(out, "sglang-router", f"sglang-router-{router['version']}-args.json"), dump)
    count += 1
    print(f"wrote {count} argparse dumps and the vLLM rename table to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
