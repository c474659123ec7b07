#!/usr/bin/env python3
"""Generate the compact engine flag catalogs that dsdeploy's Engines module loads.

usage: scripts/gen-catalogs.py [REFERENCE_DIR] [OUT_DIR]
  REFERENCE_DIR  default ../shared/reference (the extracted sglang/vllm argparse dumps)
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
        out["arity"] = "one"
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
# llama.cpp `llama-server` flags, hand-curated (there is no extracted catalog for it).
# Source: llama.cpp tools/server/README.md / common/arg.cpp as of build b6000 (2025-07);
# sampling defaults that moved between builds are left unset (null).  Row:
# (spellings, type, default, choices, help[, extras]) -- the first spelling is canonical;
# type "bool" is a presence flag; extras: neg=[...] (negative spellings), repeat=True.
LLAMA_CPP_VERSION = "b6000"
KV_TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"]
LLAMA_CPP_TABLE = [
    ("--model -m", "string", None, None, "model path to load"),
    ("--model-url -mu", "string", None, None, "model download url"),
    ("--hf-repo -hf -hfr", "string", None, None, "Hugging Face model repository"),
    ("--hf-file -hff", "string", None, None, "Hugging Face model file"),
    ("--hf-token -hft", "string", None, None, "Hugging Face access token"),
    ("--alias -a", "string", None, None, "model name alias used by the API"),
    ("--host", "string", "127.0.0.1", None, "IP address to listen on"),
    ("--port", "int", 8080, None, "port to listen on"),
    ("--path", "string", None, None, "path to serve static files from"),
    ("--api-prefix", "string", None, None, "prefix path the server serves from"),
    ("--api-key", "string", None, None, "API key(s), comma-separated"),
    ("--api-key-file", "string", None, None, "file with API keys"),
    ("--ssl-key-file", "string", None, None, "PEM-encoded SSL private key"),
    ("--ssl-cert-file", "string", None, None, "PEM-encoded SSL certificate"),
    ("--timeout -to", "int", 600, None, "server read/write timeout in seconds"),
    ("--threads-http", "int", -1, None, "threads used to process HTTP requests"),
    ("--threads -t", "int", -1, None, "CPU threads used during generation"),
    ("--threads-batch -tb", "int", None, None, "threads for batch and prompt processing"),
    ("--cpu-mask -C", "string", None, None, "CPU affinity mask"),
    ("--cpu-range -Cr", "string", None, None, "range of CPUs for affinity"),
    ("--cpu-strict", "int", 0, None, "strict CPU placement (0|1)"),
    ("--prio", "int", 0, None, "process/thread priority"),
    ("--poll", "int", 50, None, "polling level to wait for work (0-100)"),
    ("--ctx-size -c", "int", 4096, None, "size of the prompt context (0 = from model)"),
    ("--n-predict -n --predict", "int", -1, None, "tokens to predict (-1 = infinity)"),
    ("--batch-size -b", "int", 2048, None, "logical maximum batch size"),
    ("--ubatch-size -ub", "int", 512, None, "physical maximum batch size"),
    ("--keep", "int", 0, None, "tokens to keep from the initial prompt"),
    ("--parallel -np", "int", 1, None, "number of parallel sequences (server slots)"),
    ("--cont-batching -cb", "bool", True, None, "continuous batching",
     {"neg": ["--no-cont-batching", "-nocb"]}),
    ("--flash-attn -fa", "bool", False, None, "enable Flash Attention"),
    ("--swa-full", "bool", False, None, "use full-size SWA cache"),
    ("--no-perf", "bool", False, None, "disable internal performance timings"),
    ("--escape -e", "bool", True, None, "process escape sequences", {"neg": ["--no-escape"]}),
    ("--rope-scaling", "string", None, ["none", "linear", "yarn"], "RoPE frequency scaling method"),
    ("--rope-scale", "float", None, None, "RoPE context scaling factor"),
    ("--rope-freq-base", "float", None, None, "RoPE base frequency"),
    ("--rope-freq-scale", "float", None, None, "RoPE frequency scaling factor"),
    ("--yarn-orig-ctx", "int", 0, None, "YaRN: original context size of model"),
    ("--yarn-ext-factor", "float", None, None, "YaRN: extrapolation mix factor"),
    ("--yarn-attn-factor", "float", None, None, "YaRN: scale sqrt(t) or attention magnitude"),
    ("--yarn-beta-slow", "float", None, None, "YaRN: high correction dim or alpha"),
    ("--yarn-beta-fast", "float", None, None, "YaRN: low correction dim or beta"),
    ("--no-kv-offload -nkvo", "bool", False, None, "disable KV offload"),
    ("--no-repack -nr", "bool", False, None, "disable weight repacking"),
    ("--cache-type-k -ctk", "string", "f16", KV_TYPES, "KV cache data type for K"),
    ("--cache-type-v -ctv", "string", "f16", KV_TYPES, "KV cache data type for V"),
    ("--cache-type-k-draft -ctkd", "string", "f16", KV_TYPES, "draft model KV cache type for K"),
    ("--cache-type-v-draft -ctvd", "string", "f16", KV_TYPES, "draft model KV cache type for V"),
    ("--defrag-thold -dt", "float", 0.1, None, "KV cache defragmentation threshold"),
    ("--rpc", "string", None, None, "comma-separated list of RPC servers"),
    ("--mlock", "bool", False, None, "keep the model in RAM (no swapping)"),
    ("--no-mmap", "bool", False, None, "do not memory-map the model"),
    ("--numa", "string", None, ["distribute", "isolate", "numactl"], "NUMA optimizations"),
    ("--device -dev", "string", None, None, "comma-separated devices to offload to"),
    ("--override-tensor -ot", "string", None, None, "override tensor buffer type"),
    ("--n-gpu-layers -ngl --gpu-layers", "int", -1, None, "max. number of layers in VRAM"),
    ("--split-mode -sm", "string", "layer", ["none", "layer", "row"], "how to split across GPUs"),
    ("--tensor-split -ts", "string", None, None, "fraction offloaded to each GPU, e.g. 3,1"),
    ("--main-gpu -mg", "int", 0, None, "the GPU for the model (split-mode none)"),
    ("--check-tensors", "bool", False, None, "check model tensor data for invalid values"),
    ("--override-kv", "string", None, None, "override model metadata", {"repeat": True}),
    ("--no-op-offload", "bool", False, None, "disable offloading host tensor operations"),
    ("--lora", "string", None, None, "path to LoRA adapter", {"repeat": True}),
    ("--lora-scaled", "list", None, None, "LoRA adapter with scaling: FNAME SCALE",
     {"repeat": True, "arity": "oneOrMore"}),
    ("--lora-init-without-apply", "bool", False, None, "load LoRA adapters without applying"),
    ("--control-vector", "string", None, None, "add a control vector", {"repeat": True}),
    ("--log-disable", "bool", False, None, "disable logging"),
    ("--log-file", "string", None, None, "log to file"),
    ("--log-colors", "bool", False, None, "colored logging"),
    ("--log-prefix", "bool", False, None, "prefix in log messages"),
    ("--log-timestamps", "bool", False, None, "timestamps in log messages"),
    ("--verbose -v --log-verbose", "bool", False, None, "log all messages"),
    ("--verbosity -lv --log-verbosity", "int", None, None, "verbosity threshold"),
    ("--offline", "bool", False, None, "offline mode: use the cache only"),
    ("--seed -s", "int", -1, None, "RNG seed (-1 = random)"),
    ("--samplers", "string", None, None, "samplers used for generation, ';'-separated"),
    ("--sampling-seq --sampler-seq", "string", None, None, "simplified sampler sequence"),
    ("--ignore-eos", "bool", False, None, "ignore end of stream token"),
    ("--temp", "float", 0.8, None, "temperature"),
    ("--top-k", "int", 40, None, "top-k sampling"),
    ("--top-p", "float", None, None, "top-p sampling"),
    ("--min-p", "float", None, None, "min-p sampling"),
    ("--typical", "float", None, None, "locally typical sampling, parameter p"),
    ("--repeat-last-n", "int", 64, None, "last n tokens to consider for penalize"),
    ("--repeat-penalty", "float", 1.0, None, "penalize repeat sequence of tokens"),
    ("--presence-penalty", "float", 0.0, None, "repeat alpha presence penalty"),
    ("--frequency-penalty", "float", 0.0, None, "repeat alpha frequency penalty"),
    ("--mirostat", "int", 0, None, "use Mirostat sampling (0, 1, 2)"),
    ("--logit-bias -l", "string", None, None, "TOKEN_ID(+/-)BIAS", {"repeat": True}),
    ("--grammar", "string", None, None, "BNF-like grammar to constrain generations"),
    ("--grammar-file", "string", None, None, "file to read grammar from"),
    ("--json-schema -j", "string", None, None, "JSON schema to constrain generations"),
    ("--context-shift", "bool", None, None, "context shift on infinite generation",
     {"neg": ["--no-context-shift"]}),
    ("--reverse-prompt -r", "string", None, None, "halt generation at PROMPT", {"repeat": True}),
    ("--special -sp", "bool", False, None, "special tokens output enabled"),
    ("--no-warmup", "bool", False, None, "skip warming up the model with an empty run"),
    ("--spm-infill", "bool", False, None, "Suffix/Prefix/Middle pattern for infill"),
    ("--pooling", "string", None, ["none", "mean", "cls", "last", "rank"], "pooling type for embeddings"),
    ("--mmproj -mm", "string", None, None, "path to a multimodal projector file"),
    ("--mmproj-url -mmu", "string", None, None, "URL to a multimodal projector file"),
    ("--no-mmproj", "bool", False, None, "do not load a multimodal projector"),
    ("--no-mmproj-offload", "bool", False, None, "do not offload the multimodal projector"),
    ("--no-webui", "bool", False, None, "disable the Web UI"),
    ("--embedding --embeddings", "bool", False, None, "restrict to the embedding use case"),
    ("--reranking --rerank", "bool", False, None, "enable the reranking endpoint"),
    ("--chat-template-kwargs", "json", None, None, "extra params for the jinja template parser"),
    ("--cache-reuse", "int", 0, None, "min chunk size to reuse from the cache via KV shifting"),
    ("--metrics", "bool", False, None, "enable the prometheus metrics endpoint"),
    ("--props", "bool", False, None, "enable changing global properties via POST /props"),
    ("--slots", "bool", None, None, "expose the slots monitoring endpoint", {"neg": ["--no-slots"]}),
    ("--slot-save-path", "string", None, None, "path to save slot kv cache"),
    ("--slot-prompt-similarity -sps", "float", 0.5, None, "prompt similarity to reuse a slot"),
    ("--jinja", "bool", False, None, "use the jinja template engine for chat"),
    ("--reasoning-format", "string", None, ["none", "deepseek", "deepseek-legacy", "auto"],
     "how thought tags are returned"),
    ("--reasoning-budget", "int", -1, None, "thinking budget (-1 unrestricted, 0 disabled)"),
    ("--chat-template", "string", None, None, "custom jinja chat template"),
    ("--chat-template-file", "string", None, None, "custom jinja chat template file"),
    ("--no-prefill-assistant", "bool", False, None, "do not prefill the last assistant message"),
    ("--model-draft -md", "string", None, None, "draft model for speculative decoding"),
    ("--draft-max --draft --draft-n", "int", 16, None, "tokens to draft for speculative decoding"),
    ("--draft-min --draft-n-min", "int", 0, None, "minimum draft tokens"),
    ("--draft-p-min", "float", 0.8, None, "minimum speculative decoding probability"),
    ("--ctx-size-draft -cd", "int", None, None, "prompt context size of the draft model"),
    ("--device-draft -devd", "string", None, None, "devices for the draft model"),
    ("--n-gpu-layers-draft -ngld --gpu-layers-draft", "int", None, None, "draft layers in VRAM"),
    ("--model-vocoder -mv", "string", None, None, "vocoder model for audio generation"),
    ("--tts-use-guide-tokens", "bool", False, None, "use guide tokens for TTS"),
]


def llama_cpp_flags() -> list[dict]:
    out = []
    for row in LLAMA_CPP_TABLE:
        spellings, typ, default, choices, help_text = row[:5]
        extra = row[5] if len(row) > 5 else {}
        names = spellings.split()
        f: dict = {"name": names[0], "type": typ,
                   "arity": extra.get("arity", "none" if typ == "bool" else "one")}
        if names[1:]:
            f["aliases"] = names[1:]
        if extra.get("neg"):
            f["neg"] = extra["neg"]
        if typ == "list":
            f["elem"] = "string"
        if choices:
            f["choices"] = choices
        if default is not None:
            f["default"] = default
        if extra.get("repeat"):
            f["repeat"] = True
        f["help"] = help_text
        out.append(f)
    return out


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
    ref = argv[1] if len(argv) > 1 else "../shared/reference"
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

    # vLLM: FlexibleArgumentParser (--a_b == --a-b, -O<n> -> --optimization-level).
    vraw = {}
    for name in ("vllm-server-args.json", "vllm-0.11.0-server-args.json"):
        d = load(os.path.join(ref, "vllm", name))
        vraw[d["version"]] = d
    vl_versions = sorted(vraw, key=version_key)
    for v in vl_versions:
        d = vraw[v]
        names = {f["name"] for f in d["flags"]}
        parser = {"allowAbbrev": bool(d.get("parser", {}).get("allow_abbrev", True)),
                  "underscores": True}
        if "--optimization-level" in names:
            parser["dashO"] = "--optimization-level"
        flags = [compact_flag(f, "vllm") for f in d["flags"] if f["name"].startswith("-")]
        total += write(out_dir, f"vllm-{v}.json", catalog("vllm", v, flags, parser, None))
    index["vllm"] = vl_versions
    vl_cats = {v: {f["name"]: f for f in vraw[v]["flags"] if f["name"].startswith("-")}
               for v in vl_versions}
    total += write(out_dir, "vllm-history.json", history("vllm", vl_versions, vl_cats, True))

    # llama.cpp: hand-curated table (below); its own parser, no abbreviations.
    parser = {"allowAbbrev": False, "underscores": True}
    total += write(out_dir, f"llama.cpp-{LLAMA_CPP_VERSION}.json",
                   catalog("llama.cpp", LLAMA_CPP_VERSION, llama_cpp_flags(), parser, None))
    index["llama.cpp"] = [LLAMA_CPP_VERSION]

    total += write(out_dir, "index.json", {"engines": index, "format": 1})
    print(f"wrote {sum(len(v) for v in index.values())} catalogs to {out_dir} ({total} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
