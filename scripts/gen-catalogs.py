#!/usr/bin/env python3
"""Generate the compact engine flag catalogs that dsdeploy's Engines module loads.

usage: scripts/gen-catalogs.py [REFERENCE_DIR] [OUT_DIR]
  REFERENCE_DIR  default catalog-sources (the sglang/vllm argparse dumps, trimmed copies of
                 ../shared/reference made by scripts/refresh-catalog-sources.py)
  OUT_DIR        default Sources/Engines/Resources/catalogs

Writes one compact JSON per engine version (sglang-<v>.json, vllm-<v>.json,
llama.cpp-<v>.json), index.json (engine -> versions, oldest first) and
<engine>-history.json (flags added/removed across the surveyed versions, with
replacement candidates).  Output is deterministic: sorted keys, flags sorted by name,
no timestamps.  Python 3.11 standard library only.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys

HELP_MAX = 80           # characters of help_short kept per flag
DEFAULT_MAX = 200       # JSON defaults longer than this are dropped (huge config dicts)

# SGLang flags typed `str` by argparse that SGLang parses as JSON after argparse.
JSON_STRING_FLAGS = {"sglang": {"--json-model-override-args", "--cuda-graph-config"}}

# Values an engine accepts that its argparse dump does not list (flag -> extra values).
EXTRA_VALID_VALUES = {
    # vLLM: 'Use "auto" or None for automatic selection.' (help text of --attention-backend)
    "vllm": {"--attention-backend": ["auto"]},
}

# Well-known removals whose replacement is not derivable from the data (or needs a note).
CURATED_REPLACEMENTS = {
    "sglang": {
        "--cuda-graph-max-bs": (
            ["--cuda-graph-max-bs-decode", "--cuda-graph-max-bs-prefill"],
            "it was an alias of --cuda-graph-max-bs-decode; per phase it can also be set "
            "with --cuda-graph-config '{\"decode\":{\"max_bs\":N}}'"),
        "--cuda-graph-bs": (
            ["--cuda-graph-bs-decode", "--cuda-graph-bs-prefill"],
            "it was an alias of --cuda-graph-bs-decode"),
        "--collect-tokens-histogram": (
            [], "token histograms are collected automatically when --enable-metrics is set"),
        "--enable-nan-detection": (
            [], "set SGLANG_SPEC_NAN_DETECTION=1 and SGLANG_SPEC_OOB_DETECTION=1 instead"),
    },
}

FLAG_RE = re.compile(r"--[a-z0-9][a-z0-9-]*[a-z0-9]")
ARITY = {None: "one", "?": "optional", "+": "oneOrMore", "*": "zeroOrMore"}


def version_key(v: str):
    """Numeric sort key: 0.5.10.post1 > 0.5.10 > 0.5.9; b6000 -> (6000,)."""
    nums, post = [], 0
    for part in v.split("."):
        if part.isdigit():
            nums.append(int(part))
        elif part.startswith("post") and part[4:].isdigit():
            post = int(part[4:])
        elif part.startswith("b") and part[1:].isdigit():
            nums.append(int(part[1:]))
        else:
            m = re.match(r"(\d+)", part)
            nums.append(int(m.group(1)) if m else 0)
    return tuple(nums), post


def short_text(text: str | None, limit: int) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= limit else t[: limit - 1].rstrip() + "…"


def deprecation_message(f: dict) -> str:
    """The sentences of the help that say what to use instead (or that it is deprecated)."""
    text = " ".join((f.get("help") or "").split())
    parts = re.split(r"(?<=[.!?])\s+", text)
    keep = [p for p in parts if re.search(r"deprecat|instead|\buse\b|remov|alias", p, re.I)]
    msg = " ".join(keep[:2]) if keep else (f.get("help_short") or "")
    msg = msg.strip() or "deprecated"
    return short_text(msg, 200)


def value_type(f: dict, engine: str) -> tuple[str, bool]:
    """(catalog type, json-or-string)"""
    if not f["takes_value"]:
        return "bool", False
    t = f["type"]
    if f["name"] in JSON_STRING_FLAGS.get(engine, ()):
        return "json", False
    if t == "json_or_str":
        return "json", True
    if t in ("str", "csv", "const"):
        return "string", False
    return t, False


def compact_flag(f: dict, engine: str) -> dict:
    name = f["name"]
    typ, json_or_str = value_type(f, engine)
    out: dict = {"name": name, "type": typ,
                 "arity": "none" if not f["takes_value"] else ARITY.get(f["nargs"], "one")}
    if f.get("action") == "append":
        out["repeat"] = True
        # sglang-router's `--prefill URL [BOOTSTRAP_PORT]` is append with nargs '+': each use takes one or more.
        out["arity"] = "oneOrMore" if f.get("nargs") == "+" else "one"
    if f["aliases"]:
        out["aliases"] = list(f["aliases"])
    if f.get("negative_options"):
        out["neg"] = list(f["negative_options"])
    if typ == "list" and f.get("element_type"):
        out["elem"] = {"str": "string"}.get(f["element_type"], f["element_type"])
    if f.get("choices"):
        out["choices"] = [str(c) for c in f["choices"]]
    valid = list(f.get("valid_values") or [])
    valid += [v for v in EXTRA_VALID_VALUES.get(engine, {}).get(name, []) if v not in valid]
    if valid:
        out["valid"] = valid
        if f.get("valid_values_case_insensitive"):
            out["ci"] = True
    if f.get("deprecated"):
        out["dep"] = deprecation_message(f)
    default = f.get("default")
    if name in JSON_STRING_FLAGS.get(engine, ()) and isinstance(default, str):
        try:
            default = json.loads(default)
        except ValueError:
            default = None
    if default is not None and len(json.dumps(default)) <= DEFAULT_MAX:
        out["default"] = default
    suffix = f.get("accepts_suffix") or ""
    if suffix:
        out["suffix"] = "vllm" if suffix.startswith("lowercase") else "si-iec"
    if f.get("json_shape"):
        out["shape"] = f["json_shape"]
    if json_or_str:
        out["jsonOrString"] = True
    if f.get("also_accepts"):
        out["also"] = [str(v) for v in f["also_accepts"]]
    if f.get("none_string_means_null"):
        out["noneNull"] = True
    if f.get("dotted_keys"):
        out["dotted"] = True
    field = f.get("field") or f.get("dest")
    if field and field != name.lstrip("-").replace("-", "_"):
        out["field"] = field
    help_text = short_text(f.get("help_short"), HELP_MAX)
    if help_text:
        out["help"] = help_text
    return out


def catalog(engine: str, version: str, flags: list[dict], parser: dict, spec_algos) -> dict:
    for f in flags:  # the loader assumes these arities when the key is absent
        if f["arity"] == ("none" if f["type"] == "bool" else "one"):
            del f["arity"]
    return {"engine": engine, "version": version, "parser": parser,
            "speculativeAlgorithms": list(spec_algos or []),
            "flags": sorted(flags, key=lambda x: x["name"])}


def replacement_candidates(name: str, last: dict, newer: dict) -> list[str]:
    """Flags of the newer catalog that the removed flag's help names, that extend the
    removed name (--x -> --x-decode), or whose help names the removed flag."""
    out: list[str] = []
    old = last.get(name) or {}
    # Only a deprecation notice says "use --x instead"; other help text merely mentions flags.
    for m in FLAG_RE.findall(old.get("help") or "") if old.get("deprecated") else []:
        if m != name and m in newer and m not in out:
            out.append(m)
    for n in sorted(newer):
        if n.startswith(name + "-") and n not in out:
            out.append(n)
    pat = re.compile(re.escape(name) + r"(?![a-z0-9-])")
    for n in sorted(newer):
        if n != name and n not in out and pat.search(newer[n].get("help") or ""):
            out.append(n)
    return out


def history(engine: str, versions: list[str], cats: dict, approximate: bool) -> dict:
    """Flags whose presence differs across the surveyed versions."""
    present: dict[str, list[str]] = {}
    for v in versions:
        for n in cats[v]:
            present.setdefault(n, []).append(v)
    curated = CURATED_REPLACEMENTS.get(engine, {})
    flags = {}
    for n, vs in sorted(present.items()):
        first, last = vs[0], vs[-1]
        removed = None if last == versions[-1] else versions[versions.index(last) + 1]
        if first == versions[0] and removed is None:
            continue
        rec: dict = {"first_seen": first, "last_seen": last}
        if removed:
            rec["removed_in"] = removed
            reps = replacement_candidates(n, cats[last], cats[removed])
            note = deprecation_message(cats[last][n]) if cats[last][n].get("deprecated") else ""
            if n in curated:
                reps, note = list(curated[n][0]), curated[n][1]
            rec["replacements"] = reps
            if note:
                rec["note"] = note
        flags[n] = rec
    return {"engine": engine, "versions": versions, "approximate": approximate, "flags": flags}


# ---------------------------------------------------------------------------------------
# vLLM: one argparse dump per surveyed release (reference/vllm/versions/), plus the facts of
# vLLM's FlexibleArgumentParser, which rewrites the arguments before argparse sees them.
# Sources (wheel file:line per version): docs/engines/vllm.md.

# Every vLLM release on PyPI from 0.11.0 to 0.34.0 (`pip index versions vllm`), oldest first.
# The survey has the newest patch of each minor except 0.11 (0.11.0; 0.11.1 and 0.11.2 exist),
# so a history boundary is exact only where no unsurveyed release lies inside it.
VLLM_RELEASES = (
    "0.11.0 0.11.1 0.11.2 0.12.0 0.13.0 0.14.0 0.14.1 0.15.0 0.15.1 0.16.0 0.17.0 0.17.1 "
    "0.18.0 0.18.1 0.19.0 0.19.1 0.20.0 0.20.1 0.20.2 0.21.0 0.22.0 0.22.1 0.23.0 0.24.0 "
    "0.25.0 0.25.1 0.26.0 0.27.0 0.27.1 0.28.0 0.29.0 0.30.0 0.31.0 0.32.0 0.33.0 0.34.0").split()

# FlexibleArgumentParser.parse_args, per surveyed version: (first version, changed keys); a
# None value drops the key.  Keys (catalog "parser" object):
#   underscores   --a_b == --a-b: only the name between "--" and the first "." or "=" (never the
#                 dotted key path, never the value, never single-dash options)
#   dotted        "any": every option token with a "." in its name (long or short, any flag)
#                 becomes <name> '<JSON object>'; only flags whose type takes a JSON object
#                 (per-flag "dotted") accept the result
#   dottedShort   short aliases take dotted keys the same way (-cc.mode 3, -sc.method mtp)
#   dottedAppend  --x.key+ a,b appends the comma-split strings to a list
#   dottedSuffix  a dotted value that is not JSON is tried as a human-readable int (1k, 80g)
#                 before falling back to the string
#   dashO         -O<v>, -O=<v> and -O <0-3> set this flag to <v> ...
#   dashOKey      ... or, when set, the key <dashOKey> of it (0.11: --compilation-config.level)
#   dashODot      -O.<key> addresses this flag's key (0.11: -O is its alias; 0.12: rewritten to
#                 -cc.<key> with a deprecation warning); absent: -O.<key> v is an error (it turns
#                 into --optimization-level .<key> and a stray argument)
#   modelFlag     `vllm serve --model M`: "error" (0.11 raises; --model=M slips through) or
#                 "positional" (moved to the positional model with a deprecation warning)
VLLM_PARSER_CHANGES = [
    ("0.11.0", {"underscores": True, "dotted": "any", "dottedShort": True, "dottedAppend": True,
                "dashO": "--compilation-config", "dashOKey": "level",
                "dashODot": "--compilation-config", "modelFlag": "error"}),
    ("0.12.0", {"dashO": "--optimization-level", "dashOKey": None, "modelFlag": "positional"}),
    ("0.13.0", {"dashODot": None}),
    ("0.20.2", {"dottedSuffix": True}),
]


# Removed vLLM flags whose replacement the help text does not name: (replacements, note).
# The config keys were checked against the 0.12.0 defaults of the replacement flag.
VLLM_CURATED = {
    **{f"--guided-decoding-{k}": (["--structured-outputs-config"],
                                  f"set --structured-outputs-config.{k.replace('-', '_')} instead")
       for k in ("backend", "disable-additional-properties", "disable-any-whitespace",
                 "disable-fallback")},
    **{f"--{k}": (["--eplb-config"], f"set --eplb-config.{k[5:].replace('-', '_')} instead")
       for k in ("eplb-window-size", "eplb-step-interval", "eplb-log-balancedness")},
    "--num-redundant-experts": (["--eplb-config"], "set --eplb-config.num_redundant_experts instead"),
    "--override-pooler-config": (["--pooler-config"], "renamed to --pooler-config"),
    "--task": (["--runner", "--convert"],
               "pooling models: --runner pooling, plus --convert embed|classify|reward to adapt a "
               "generative model (the hint vLLM 0.29+ prints for --task)"),
}


def vllm_parser(version: str, d: dict) -> dict:
    rules: dict = {"allowAbbrev": bool(d.get("parser", {}).get("allow_abbrev", True))}
    for since, change in VLLM_PARSER_CHANGES:
        if version_key(version) >= version_key(since):
            rules.update(change)
    rules = {k: v for k, v in rules.items() if v is not None}
    names = {f["name"] for f in d["flags"]}
    for key in ("dashO", "dashODot"):  # the rewrite targets must exist in this version
        if key in rules and rules[key] not in names:
            raise SystemExit(f"vllm {version}: parser {key} target {rules[key]} is not a flag")
    return rules


def vllm_flag(f: dict) -> dict:
    """compact_flag, with `dotted` on every flag whose value is a JSON object: the parser's
    dotted-key rewrite is type-blind, so --speculative-config.method (not a config dataclass,
    no `dotted_keys` in the dump) works as well as --compilation-config.mode."""
    out = compact_flag(f, "vllm")
    if out["type"] == "json" and not isinstance(f.get("default"), list):
        out["dotted"] = True
    return out


def vllm_history(versions: list[str], cats: dict, flag_history: dict) -> dict:
    h = history("vllm", versions, cats, True)
    rel = VLLM_RELEASES

    def neighbour(v: str, step: int):
        i = rel.index(v) + step if v in rel else -1
        return rel[i] if 0 <= i < len(rel) else None

    for name, rec in h["flags"].items():
        # Exact when the boundary is two adjacent PyPI releases (the top-level approximate stays
        # true: most boundaries have an unsurveyed X.0 or patch release inside).
        exact = True
        if rec["first_seen"] != versions[0]:
            exact &= neighbour(rec["first_seen"], -1) == versions[versions.index(rec["first_seen"]) - 1]
        if "removed_in" in rec:
            exact &= neighbour(rec["last_seen"], +1) == rec["removed_in"]
        if exact:
            rec["approximate"] = False
        if name in VLLM_CURATED and "removed_in" in rec:
            rec["replacements"], rec["note"] = list(VLLM_CURATED[name][0]), VLLM_CURATED[name][1]
    # A canonical name that disappeared and came back as another flag's alias/negative form.
    for name, info in sorted((flag_history.get("renamed_or_aliased") or {}).items()):
        rec = h["flags"].get(name)
        back = sorted(info.get("still_accepted_as_alias_of") or {}, key=version_key)
        if not rec or "removed_in" not in rec or not back:
            continue
        target = info["still_accepted_as_alias_of"][back[0]]
        spec = cats[back[0]].get(target) or {}
        form = "negative form" if name in (spec.get("negative_options") or []) else "alias"
        note = f"{back[0]} and later accept {name} again, as the {form} of {target}"
        if form == "negative form" and spec.get("default") is False:
            note = f"drop it ({target} is off by default); " + note
        rec["replacements"] = [r for r in rec.get("replacements", []) if r != target]
        rec["note"] = note
    return h


def vllm_catalogs(ref: str, out_dir: str, index: dict) -> int:
    total = 0
    raw = {}
    for path in glob.glob(os.path.join(ref, "vllm", "versions", "vllm-*-server-args.json")):
        d = load(path)
        raw[d["version"]] = d
    versions = sorted(raw, key=version_key)
    for v in versions:
        d = raw[v]
        flags = [vllm_flag(f) for f in d["flags"] if f["name"].startswith("-")]
        total += write(out_dir, f"vllm-{v}.json", catalog("vllm", v, flags, vllm_parser(v, d), None))
    index["vllm"] = versions
    cats = {v: {f["name"]: f for f in raw[v]["flags"] if f["name"].startswith("-")} for v in versions}
    fh_path = os.path.join(ref, "vllm", "vllm-flag-history.json")
    flag_history = load(fh_path) if os.path.exists(fh_path) else {}
    total += write(out_dir, "vllm-history.json", vllm_history(versions, cats, flag_history))
    return total


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write(out_dir: str, name: str, obj: dict) -> int:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    data = text.encode("utf-8")
    with open(os.path.join(out_dir, name), "wb") as fh:
        fh.write(data)
    return len(data)


def main(argv: list[str]) -> int:
    ref = argv[1] if len(argv) > 1 else "catalog-sources"
    out_dir = argv[2] if len(argv) > 2 else "Sources/Engines/Resources/catalogs"
    os.makedirs(out_dir, exist_ok=True)
    index: dict[str, list[str]] = {}
    total = 0

    # SGLang: one argparse dump per surveyed version.
    raw = {}
    for path in glob.glob(os.path.join(ref, "sglang", "versions", "sglang-*-server-args.json")):
        d = load(path)
        raw[d["version"]] = d
    sg_versions = sorted(raw, key=version_key)
    for v in sg_versions:
        d = raw[v]
        parser = {"allowAbbrev": bool(d.get("parser", {}).get("allow_abbrev", True)),
                  "underscores": False}
        flags = [compact_flag(f, "sglang") for f in d["flags"] if f["name"].startswith("-")]
        total += write(out_dir, f"sglang-{v}.json",
                       catalog("sglang", v, flags, parser, d.get("speculative_algorithms")))
    index["sglang"] = sg_versions
    sg_cats = {v: {f["name"]: f for f in raw[v]["flags"]} for v in sg_versions}
    total += write(out_dir, "sglang-history.json", history("sglang", sg_versions, sg_cats, False))

    # vLLM: every surveyed release, FlexibleArgumentParser facts per version (see vllm_catalogs).
    total += vllm_catalogs(ref, out_dir, index)

    # llama.cpp: one catalog per surveyed build, from catalog-sources/llama.cpp/ (extracted
    # from common/arg.cpp by scripts/extract-llamacpp-builds.py); see scripts/catalogs_llamacpp.py.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import catalogs_llamacpp
    lc_src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "catalog-sources", "llama.cpp")
    lc_cats, lc_history, lc_versions = catalogs_llamacpp.generate(lc_src, catalog)
    for v in lc_versions:
        total += write(out_dir, f"llama.cpp-{v}.json", lc_cats[v])
    total += write(out_dir, "llama.cpp-history.json", lc_history)
    index["llama.cpp"] = lc_versions

    # sglang-router: the router's `launch_router` flags per surveyed release (argparse in the wheel's
    # router_args.py, extracted by reference/tools/extract_sglang_router.py).
    rt_raw = {}
    for path in glob.glob(os.path.join(ref, "sglang-router", "sglang-router-*-args.json")):
        d = load(path)
        rt_raw[d["version"]] = d
    rt_versions = sorted(rt_raw, key=version_key)
    for v in rt_versions:
        d = rt_raw[v]
        parser = {"allowAbbrev": bool(d.get("parser", {}).get("allow_abbrev", True)), "underscores": False}
        flags = [compact_flag(f, "sglang-router") for f in d["flags"] if f["name"].startswith("-")]
        total += write(out_dir, f"sglang-router-{v}.json", catalog("sglang-router", v, flags, parser, []))
    index["sglang-router"] = rt_versions

    total += write(out_dir, "index.json", {"engines": index, "format": 1})
    print(f"wrote {sum(len(v) for v in index.values())} catalogs to {out_dir} ({total} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
