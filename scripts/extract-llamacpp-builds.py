#!/usr/bin/env python3
"""Re-create catalog-sources/llama.cpp/ (per-build llama-server flag data) from the
llama.cpp sources vendored by llama-cpp-python sdists.  Documented, not run by CI:
`make catalogs` only reads the committed JSON files.  Needs network (PyPI) and the team's
static extractor (shared/reference/tools/extract_llamacpp.py); no compiler.

usage: scripts/extract-llamacpp-builds.py [--work DIR] [--extractor PATH] [--out DIR]

For each build in BUILDS:
  1. pip download --no-deps --no-binary llama-cpp-python llama-cpp-python==X   (sdist)
  2. unpack vendor/llama.cpp (common/, include/llama.h, ggml/include/ggml.h,
     src/llama-chat.cpp) and the submodule's git dir (commit, date, subject via git log)
  3. run extract_llamacpp.py on it (every add_opt(common_arg(...)) record, --all-out) and
     decide llama-server membership here (server_options): set_examples/set_excludes
     arguments evaluated, variables included (`mmproj_examples`), add_opt's filter and
     `if (ex == ...)` branches applied; run-time guards (`if (llama_supports_rpc())`) are
     recorded as runtime_condition.  Unevaluable constructs stop the run.
  4. post-process what the extractor does not record, reading each option's handler
     (the lambda, last argument of common_arg) in common/arg.cpp:
       - removed:      the handler only throws "the argument has been removed. ..."
                       (arg_removed(...) or a literal throw) -> message + replacement flags
       - values:       literal values the handler accepts (value == "x", is_truthy/is_falsey/
                       is_autoy, whose literal sets are read from arg.cpp)
       - number:       "int" / "float" when a string handler converts with std::sto*
       - repeat:       the handler appends (push_back / emplace_back / insert)
       - parser facts: does common_params_parse_ex map '_' to '-' in "--" options (line)
  5. write llama.cpp-bNNNN.json (indent 1, sorted keys) and SOURCES.md

DERIVED builds (no sdist carries that llama.cpp revision) are written from a surveyed base
build plus a documented override of individual options; see SOURCES.md.

The build numbers (bNNNN) are NOT in the sdists (shallow submodule): each was matched to its
commit from public evidence, recorded in BUILDS[...]["evidence"].
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# sdist -> llama.cpp build.  commit: the vendored submodule HEAD (checked on extraction).
BUILDS = [
    {"build": "b5763", "sdist": "0.3.10", "commit": "8846aace4934ad29651ea61b8c7e3f6b0556e3d2",
     "evidence": "ggml-org/llama.cpp issue #14406 (2025-06-26) prints `version: 5763 (8846aace)`"},
    {"build": "b5897", "sdist": "0.3.13", "commit": "bdca38376f7e8dd928defe01ce6a16218a64b040",
     "evidence": "ggml-org/llama.cpp issue #14689 prints `version: 5897 (bdca3837)` from the "
                 "`full-intel-b5897` Docker image"},
    {"build": "b5904", "sdist": "0.3.14", "commit": "79e0b68c178656bb0632cb8602d2940b755077f8",
     "evidence": "a public llama-bench log prints `build: 79e0b68c (5904)` (llama-bench's "
                 "`build: <commit> (<build number>)` footer)"},
    {"build": "b6110", "sdist": "0.3.15", "commit": "9a96389544a08fd829fccda28142ce2066017fde",
     "evidence": "a public llama-bench log prints `build: 9a963895 (6110)`"},
    {"build": "b6325", "derived_from": "0.3.16", "commit": "4227c9be4268ac844921b90f31595f81236bd317",
     "evidence": "DERIVED, not extracted from b6325's arg.cpp: no sdist vendors a revision "
                 "between b6303 and b6341.  Table = llama-cpp-python 0.3.16's arg.cpp (commit "
                 "4227c9be, 2025-08-14, build number not established; after b6110) with the "
                 "-fa/--flash-attn change of ggml-org/llama.cpp PR #15434 \"llama: use FA + max. "
                 "GPU layers by default\" (merged 2025-08-30; first tag b6325 by `git describe "
                 "--contains` in a public llama.cpp history note).  Bounds from primary sources: "
                 "mostlygeek/llama-swap issue #283 (b6303 accepts bare `--flash-attn`; b6341 prints "
                 "`-fa, --flash-attn FA  set Flash Attention use ('on', 'off', or 'auto', default: "
                 "'auto')` and rejects a bare flag); the pre-#15746 handler text (`value == \"on\" || "
                 "value == \"enabled\"`) is quoted in ggml-org/llama.cpp PR #15746; WasmEdge PR #4343 "
                 "(bump to b6343) lists on/enabled, off/disabled, auto.  Options added between "
                 "4227c9be and b6325 are missing from this table.",
     "override": {
         "--flash-attn": {
             "value_kind": "string", "takes_value": True, "boolean": False, "value_hint": "FA",
             "choices_from_hint": None, "values": ["on", "enabled", "off", "disabled", "auto"],
             "help": "set Flash Attention use ('on', 'off', or 'auto', default: 'auto')",
             "default": "auto", "source": "ggml-org/llama.cpp PR #15434 (see evidence)"}}},
    {"build": "b8643", "sdist": "0.3.20", "commit": "f49e9178767d557a522618b16ce8694f9ddac628",
     "evidence": "a public llama-bench log prints `build: f49e91787 (8643)`"},
    {"build": "b8942", "sdist": "0.3.21", "commit": "f53577432541bb9edc1588c4ef45c66bf07e4468",
     "evidence": "a public deployment note: \"llama-server is version 8942 at upstream commit "
                 "f53577432541bb9edc1588c4ef45c66bf07e4468\""},
    {"build": "b9665", "sdist": "0.3.30", "commit": "e3a74b2990",
     "evidence": "public logs print `version: 9665 (e3a74b299)`"},
    {"build": "b9837", "sdist": "0.3.32", "commit": "b3fed31b99f9bd37725833674252bccb429bb183",
     "evidence": "public test data: llama-server /props `build_info: b9837-b3fed31b9`; "
                 "\"llama.cpp `9837 (b3fed31b9)`\""},
    {"build": "b9874", "sdist": "0.3.33", "commit": "78d2f524682d9fee790a6460c93d018dafeb5229",
     "evidence": "public run notes: \"llama-server: build 9874, commit 78d2f524682d...\" via "
                 "llama-cpp-python 0.3.33"},
    {"build": "b9976", "sdist": "0.3.34", "commit": "e3546c7948e3af463d0b401e6421d5a4c2faf565",
     "evidence": "public benchmark notes: \"llama.cpp build 9976 `e3546c794`\""},
    {"build": "b10453", "sdist": "0.3.35", "commit": "4df29be4f4c3673f428170fda944a5b19f743bb8",
     "evidence": "public benchmark script: \"Pin: llama.cpp b10453 (4df29be4)\""},
    {"build": "b11312", "sdist": "0.3.36", "commit": "0c1e57098bba43ac29e6e3b677cdceebdd22334f",
     "evidence": "public notes: \"llama.cpp b11312, commit 0c1e57098bba...\"; engine tag "
                 "`b11312-0c1e57098`; shared/reference/llamacpp (same commit, no build number)"},
]

MEMBERS = ("common/", "include/llama.h", "ggml/include/ggml.h", "src/llama-chat.cpp")
FLAG_RE = re.compile(r"--[a-z0-9*][a-z0-9*-]*[a-z0-9*]")


def load_extractor(path: str):
    spec = importlib.util.spec_from_file_location("extract_llamacpp", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fetch(sdist: str, work: str) -> str:
    """Download + unpack one sdist; returns the vendored llama.cpp dir."""
    tgz = os.path.join(work, f"llama_cpp_python-{sdist}.tar.gz")
    if not os.path.exists(tgz):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                        "llama-cpp-python", "-d", work, f"llama-cpp-python=={sdist}"], check=True)
    dest = os.path.join(work, sdist)
    top = f"llama_cpp_python-{sdist}/"
    if not os.path.exists(os.path.join(dest, ".done")):
        with tarfile.open(tgz) as tf:
            keep = []
            for m in tf.getmembers():
                rel = m.name[len(top):] if m.name.startswith(top) else m.name
                if rel.startswith(".git/modules/vendor/llama.cpp/") or any(
                        rel.startswith("vendor/llama.cpp/" + p) for p in MEMBERS):
                    m.name = rel
                    keep.append(m)
            tf.extractall(dest, members=keep, filter="data")
        open(os.path.join(dest, ".done"), "w").close()
    return dest


def git_head(dest: str) -> dict:
    gd = os.path.join(dest, ".git", "modules", "vendor", "llama.cpp")
    out = subprocess.run(["git", "--git-dir", gd, "-c", "core.worktree=/tmp", "log", "-1",
                          "--format=%H%n%cI%n%s"], capture_output=True, text=True, check=True)
    h, date, subject = out.stdout.strip().split("\n", 2)
    return {"commit": h, "date": date, "subject": subject}


def handlers(ex, src_raw: str) -> dict[int, str]:
    """line of each add_opt(common_arg(...)) -> its handler lambda text."""
    src = ex.strip_comments(src_raw)
    out = {}
    for start, end, inner in ex.find_calls(src, "add_opt"):
        m = re.match(r"\s*common_arg\s*\(", inner)
        if not m:
            continue
        o = start + src[start:].index("(") + 1
        o = src.index("(", src.index("common_arg", o))
        c = ex.match_close(src, o)
        args = ex.split_top(src[o + 1:c])
        h = args[-1] if args and args[-1].lstrip().startswith("[") else ""
        out[ex.line_of(src_raw, start)] = h
    return out


def truthy_sets(src: str) -> dict[str, list[str]]:
    out = {}
    for fn in ("is_truthy", "is_falsey", "is_autoy"):
        m = re.search(r"bool\s+(?:common_arg_utils::)?" + fn + r"\s*\([^)]*\)\s*\{([^}]*)\}", src)
        if m:
            out[fn] = re.findall(r'value\s*==\s*"([^"]*)"', m.group(1))
    return out


def removed_message(ex, src: str, handler: str) -> str | None:
    m = re.search(r"\barg_removed\s*\(", handler)
    if m:
        o = m.end() - 1
        arg = handler[o + 1:ex.match_close(handler, o)]
        pre = re.search(r'arg_removed\s*\([^)]*\)\s*\{\s*throw\s+std::\w+\s*\(\s*("(?:[^"\\]|\\.)*")', src)
        prefix = ex.c_string_literals(pre.group(1)) if pre else ""
        return (prefix or "") + (ex.c_string_literals(arg) or arg.strip())
    m = re.search(r"\bthrow\s+std::\w+\s*\(", handler)
    if m and not re.search(r"\bif\s*\(", handler[:m.start()]):
        o = m.end() - 1
        arg = handler[o + 1:ex.match_close(handler, o)]
        lits = re.findall(r'"((?:[^"\\]|\\.)*)"', arg)
        msg = "".join(lits)
        if re.search(r"\bremoved\b|no longer|deprecated", msg, re.I):
            return msg
    return None


def lookup_values(ex, body: str, src: str, common_dir: str) -> list[str]:
    """Values accepted by a `x_from_str(value)` / `x_from_name(value)` lookup that throws on
    anything else: kv_cache_type_from_str walks arg.cpp's kv_cache_types table (ggml type
    names); other lookups compare against literals (common/*.cpp)."""
    m = re.search(r"\b(\w+_from_(?:str|name))\s*\(\s*value\s*\)", body)
    if not m:
        return []
    fn = m.group(1)
    if fn == "kv_cache_type_from_str":
        t = re.search(r"kv_cache_types\s*=\s*\{([^}]*)\}", ex.strip_comments(src))
        return [x.strip().replace("GGML_TYPE_", "").lower() for x in t.group(1).split(",")
                if x.strip()] if t else []
    for path in sorted(glob.glob(os.path.join(common_dir, "*.cpp"))):
        text = ex.strip_comments(open(path, encoding="utf-8").read())
        d = re.search(r"\b" + fn + r"\s*\(\s*const\s+std::string\s*&\s*(\w+)\s*\)\s*\{", text)
        if d:
            fbody = text[d.end() - 1:ex.match_close(text, d.end() - 1)]
            if "throw" in fbody:
                return list(dict.fromkeys(re.findall(r"\b" + d.group(1) + r'\s*==\s*"([^"]*)"', fbody)))
    return []


def post_process(ex, rec: dict, handler: str, src: str, sets: dict, common_dir: str) -> None:
    body = handler[handler.find("{"):] if "{" in handler else ""
    msg = removed_message(ex, src, handler)
    if msg:
        rec["removed"] = " ".join(msg.split())
    vals: list[str] = []
    for fn, vs in sets.items():
        if re.search(r"\b" + fn + r"\s*\(\s*value\s*\)", body):
            vals += [v for v in vs if v not in vals]
    if rec["value_kind"] == "string" and not vals:
        # value == "x" chains: only when every branch compares to a literal and the final
        # `else` throws (a closed set).  A throw elsewhere (e.g. -mmdev: `if (value == "none")
        # {...; return;}` then a device lookup that throws on other errors) is not a closed set.
        lits = re.findall(r'\bvalue\s*==\s*"([^"]*)"', body)
        if lits and re.search(r"\belse\s*\{\s*throw\b", body):
            vals = list(dict.fromkeys(lits))
    if not vals:
        vals = lookup_values(ex, body, src, common_dir)
    if vals and rec["takes_value"]:
        rec["values"] = vals
    if rec["value_kind"] == "string" and not re.search(r'\bvalue\s*==\s*"', body):
        if re.search(r"std::sto(f|d|ld)\s*\(\s*value\s*\)", body) and "," not in (rec.get("value_hint") or ""):
            rec["number"] = "float"
        elif re.search(r"std::sto(i|l|ll|ul|ull)\s*\(\s*value\s*\)", body) and not vals:
            rec["number"] = "int"
    if re.search(r"\.(push_back|emplace_back|insert)\s*\(", body):
        rec["appends"] = True


def parser_facts(src: str) -> dict:
    out = {"underscores": False, "underscores_source": None}
    for i, line in enumerate(src.split("\n"), 1):
        if re.search(r"std::replace\s*\(\s*arg\.begin\(\)\s*,\s*arg\.end\(\)\s*,\s*'_'\s*,\s*'-'\s*\)", line):
            out["underscores"] = True
            out["underscores_source"] = f"common/arg.cpp:{i}"
            break
    return out


# ---------------------------------------------------------------- example membership
#
# The extractor decides "is this option registered for llama-server?" from the literal
# `.set_examples({...})` / `.set_excludes({...})` brace lists only.  An argument that is a
# variable (`.set_examples(mmproj_examples)`, mmproj_examples being a file-scope
# `std::initializer_list<enum llama_example>`) is mis-read and the option silently drops out
# (-mm/--mmproj, --mmproj-url, --mmproj-offload, --image-min-tokens, ... were missing).
# Membership is therefore re-evaluated here for every add_opt(common_arg(...)) call of the
# file: set_examples/set_excludes arguments are evaluated (brace lists, or variables whose
# definitions in arg.cpp are brace lists of LLAMA_EXAMPLE_* constants), then add_opt's own
# filter condition (the lambda in common_params_parser_init) is evaluated for
# LLAMA_EXAMPLE_SERVER, and `if (ex == ...) {} else {}` branches are applied.  Anything that
# cannot be evaluated (other argument expressions, an unknown filter, a preprocessor
# conditional inside common_params_parser_init) stops the run instead of guessing.

TARGET = "LLAMA_EXAMPLE_SERVER"
_EX_VAR_RE = re.compile(
    r"(?:\bstatic\s+|\bconst\s+|\bconstexpr\s+|\binline\s+)*"
    r"(?:std::(?:initializer_list|set|unordered_set|vector)\s*<\s*(?:const\s+)?(?:enum\s+)?llama_example\s*>"
    r"|std::array\s*<\s*(?:enum\s+)?llama_example\s*,\s*\w+\s*>)"
    r"\s*(?:const\s+)?(\w+)\s*=?\s*\{")


def example_vars(ex, src: str) -> dict[str, list[str]]:
    """{name: [LLAMA_EXAMPLE_*]} for every llama_example collection variable of arg.cpp."""
    out = {}
    for m in _EX_VAR_RE.finditer(src):
        o = m.end() - 1
        items = [x.strip() for x in ex.split_top(src[o + 1:ex.match_close(src, o)]) if x.strip()]
        bad = [x for x in items if not re.fullmatch(r"LLAMA_EXAMPLE_\w+", x)]
        if bad:
            raise SystemExit(f"arg.cpp:{ex.line_of(src, m.start())}: llama_example variable "
                             f"{m.group(1)} has elements that are not LLAMA_EXAMPLE_* constants: {bad}")
        if m.group(1) in out and out[m.group(1)] != items:
            raise SystemExit(f"llama_example variable {m.group(1)} defined twice with different values")
        out[m.group(1)] = items
    return out


def eval_examples(ex, arg: str, evars: dict, where: str) -> list[str]:
    """Value of a set_examples/set_excludes argument."""
    a = " ".join(arg.split())
    a = re.sub(r"^std::(?:initializer_list|set|vector)\s*<\s*(?:enum\s+)?llama_example\s*>\s*", "", a)
    if a.startswith("{") and a.endswith("}"):
        items = [x.strip() for x in ex.split_top(a[1:-1]) if x.strip()]
        if all(re.fullmatch(r"LLAMA_EXAMPLE_\w+", x) for x in items):
            return items
    elif a in evars:
        return list(evars[a])
    raise SystemExit(f"{where}: cannot evaluate example list argument {a!r}")


def add_opt_filter(ex, src: str, b0: int, b1: int):
    """Evaluator of add_opt's registration filter (the lambda's `if (...)` condition) as a
    function (examples, excludes) -> bool for the TARGET example.  Only the shapes made of
    arg.in_example(X), arg.is_exclude(X), `ex`, LLAMA_EXAMPLE_* constants, local
    `const bool v = <expr>;` and && || ! == != ( ) are accepted."""
    m = re.search(r"\bauto\s+add_opt\s*=\s*\[[^\]]*\]\s*\(\s*common_arg\s+arg\s*\)\s*\{", src[b0:b1])
    if not m:
        raise SystemExit("add_opt lambda not found in common_params_parser_init")
    o = b0 + m.end() - 1
    body = src[o + 1:ex.match_close(src, o)]
    im = re.search(r"\bif\s*\(", body)
    if not im or "push_back" not in body[im.end():]:
        raise SystemExit("add_opt lambda: no `if (...) push_back` filter")
    cond = body[im.end():ex.match_close(body, im.end() - 1)]
    local = {lm.group(1): lm.group(2) for lm in
             re.finditer(r"\bconst\s+bool\s+(\w+)\s*=\s*([^;]+);", body[:im.start()])}

    def to_py(expr: str, examples, excludes) -> str:
        toks = re.findall(r"arg\.(?:in_example|is_exclude)\s*\(\s*\w+\s*\)|&&|\|\||!=|==|!|\(|\)|\w+|\S",
                          expr)
        out = []
        for t in toks:
            c = re.fullmatch(r"arg\.(in_example|is_exclude)\s*\(\s*(\w+)\s*\)", t)
            if c:
                e = TARGET if c.group(2) == "ex" else c.group(2)
                out.append(str(e in (examples if c.group(1) == "in_example" else excludes)))
            elif t in ("&&", "||", "!", "==", "!=", "(", ")"):
                out.append({"&&": " and ", "||": " or ", "!": " not "}.get(t, t))
            elif t == "ex":
                out.append(repr(TARGET))
            elif re.fullmatch(r"LLAMA_EXAMPLE_\w+", t):
                out.append(repr(t))
            elif t in local:
                out.append("(" + to_py(local[t], examples, excludes) + ")")
            elif t in ("true", "false"):
                out.append(str(t == "true"))
            else:
                raise SystemExit(f"add_opt filter: cannot evaluate {t!r} in {' '.join(cond.split())!r}")
        return "".join(out)

    def keep(examples: list[str], excludes: list[str]) -> bool:
        return bool(eval(to_py(cond, examples, excludes), {"__builtins__": {}}, {}))

    keep.text = " ".join(cond.split())
    return keep


def runtime_conditions(ex, src: str, b0: int, b1: int) -> list[tuple[int, int, str]]:
    """[(open, close, condition)] of `if (...) { add_opt(...) }` blocks of
    common_params_parser_init whose condition does not involve `ex` (those are
    the extractor's registration_condition): run-time conditions such as
    llama_supports_rpc(), recorded on the options they guard."""
    out = []
    for m in re.finditer(r"\bif\s*\(", src[b0:b1]):
        co = b0 + m.end() - 1
        cc = ex.match_close(src, co)
        cond = " ".join(src[co + 1:cc].split())
        bm = re.match(r"\s*\{", src[cc + 1:])
        if not bm or re.search(r"\bex\b", cond):
            continue
        o = cc + 1 + bm.end() - 1
        c = ex.match_close(src, o)
        if re.search(r"\badd_opt\s*\(", src[o:c]):
            out.append((o, c, cond))
    return out


def server_options(ex, src_raw: str, all_opts: list[dict]) -> tuple[list[dict], dict]:
    """The llama-server options of arg.cpp with example membership evaluated (see above).
    all_opts: the extractor's record of every add_opt call (--all-out), in file order."""
    src = ex.strip_comments(src_raw)
    init = re.search(r"common_params_context\s+common_params_parser_init\s*\(", src)
    b0 = src.index("{", ex.match_close(src, init.end() - 1))
    b1 = ex.match_close(src, b0)
    pp = [ex.line_of(src_raw, b0 + m.start()) for m in re.finditer(r"^[ \t]*#\s*(?:if|ifdef|ifndef|elif|else)\b",
                                                                     src[b0:b1], re.M)]
    if pp:
        raise SystemExit(f"preprocessor conditionals inside common_params_parser_init (lines {pp}): "
                         "option registration depends on the build configuration")
    evars = example_vars(ex, src)
    keep = add_opt_filter(ex, src, b0, b1)
    rconds = runtime_conditions(ex, src, b0, b1)
    by_line = {o["line"]: o for o in all_opts}
    calls = []
    for start, end, inner in ex.find_calls(src[:b1 + 1], "add_opt"):
        if start < b0 or not re.match(r"\s*common_arg\s*\(", inner):
            continue
        o = src.index("(", src.index("common_arg", start + len("add_opt")))
        chain = src[ex.match_close(src, o) + 1:end]
        line = ex.line_of(src_raw, start)
        examples, excludes = ["LLAMA_EXAMPLE_COMMON"], []
        for m in re.finditer(r"\.\s*set_(examples|excludes)\s*\(", chain):
            co = m.end() - 1
            val = eval_examples(ex, chain[co + 1:ex.match_close(chain, co)], evars, f"common/arg.cpp:{line}")
            if m.group(1) == "examples":
                examples = val
            else:
                excludes = val
        if line not in by_line:
            raise SystemExit(f"common/arg.cpp:{line}: add_opt call missing from the extractor's output")
        calls.append((start, line, examples, excludes))
    if len(calls) != len(all_opts):
        raise SystemExit(f"{len(calls)} add_opt calls in arg.cpp, extractor saw {len(all_opts)}")
    server = []
    for start, line, examples, excludes in calls:
        o = dict(by_line[line])
        if o.get("registration_condition") and not ex.cond_holds(o["registration_condition"], TARGET):
            continue
        if "preset_only" in (o.get("attributes") or []) or not keep(examples, excludes):
            continue
        o["examples"], o["excludes"] = examples, excludes or None
        o["runtime_condition"] = " && ".join(c for (a, b, c) in rconds if a < start < b) or None
        server.append(o)
    seen = {}
    for o in server:  # a later duplicate name is rejected by llama.cpp at parse time
        for n in o["names"]:
            if n in seen:
                o.setdefault("duplicate_of_line", seen[n])
            seen[n] = o["line"]
    facts = {"filter": keep.text, "example_variables": evars}
    return server, facts


KEEP = ("names", "short_names", "long_names", "negative_names", "value_hint", "value_hint_2",
        "value_kind", "takes_value", "boolean", "choices_from_hint", "env", "env_negative", "help",
        "default", "deprecated", "attributes", "source")


def extract(args, ex, b: dict) -> dict:
    dest = fetch(b.get("sdist") or b["derived_from"], args.work)
    head = git_head(dest)
    if not head["commit"].startswith(b["commit"]):
        raise SystemExit(f"{b['build']}: sdist vendors {head['commit']}, expected {b['commit']}")
    llama = os.path.join(dest, "vendor", "llama.cpp")
    raw = os.path.join(args.work, f"raw-{b['build']}.json")
    raw_all = os.path.join(args.work, f"raw-all-{b['build']}.json")
    subprocess.run([sys.executable, args.extractor, "--llama-dir", llama, "--out", raw,
                    "--all-out", raw_all, "--commit", head["commit"]], check=True)
    data = json.load(open(raw, encoding="utf-8"))
    src = open(os.path.join(llama, "common", "arg.cpp"), encoding="utf-8").read()
    # example membership evaluated here, not taken from the extractor's server list
    server, facts = server_options(ex, src, json.load(open(raw_all, encoding="utf-8")))
    theirs = {o["line"] for o in data["flags"]}
    ours = {o["line"] for o in server}
    for o in server:
        if o["line"] not in theirs:
            print(f"{b['build']}: + {'/'.join(o['names'])} (common/arg.cpp:{o['line']}, "
                  f"examples {o['examples']})", file=sys.stderr)
    for o in data["flags"]:
        if o["line"] not in ours:
            print(f"{b['build']}: - {'/'.join(o['names'])} (common/arg.cpp:{o['line']})", file=sys.stderr)
    hs = handlers(ex, src)
    sets = truthy_sets(src)
    flags = []
    for o in server:
        if o.get("duplicate_of_line"):
            continue
        rec = {k: o.get(k) for k in KEEP}
        rec["source"] = f"common/arg.cpp:{o['line']}"
        if o.get("runtime_condition"):
            rec["runtime_condition"] = o["runtime_condition"]
        post_process(ex, rec, hs.get(o["line"], ""), src, sets, os.path.join(llama, "common"))
        flags.append(rec)
    names = {n for f in flags if not f.get("removed") for n in f["names"] + (f["negative_names"] or [])}
    for f in flags:
        if f.get("removed"):
            reps = []
            for m in FLAG_RE.findall(f["removed"]):
                hits = sorted(n for n in names if fnmatch.fnmatchcase(n, m)) if "*" in m else \
                    ([m] if m in names else [])
                reps += [h for h in hits if h not in reps]
            f["replacements"] = reps
    out = {"engine": "llama.cpp", "binary": "llama-server", "build": b["build"],
           "commit": head["commit"], "commit_date": head["date"], "commit_subject": head["subject"],
           "sdist": f"llama-cpp-python=={b.get('sdist') or b['derived_from']}",
           "build_evidence": b["evidence"], "parser": parser_facts(src),
           "bool_values": sets, "membership": facts,
           "extractor": "shared/reference/tools/extract_llamacpp.py + scripts/extract-llamacpp-builds.py",
           "flags": flags}
    if b.get("derived_from"):
        out["derived"] = True
        out["sdist"] += " (base table; see build_evidence)"
        for f in flags:
            ov = b["override"].get(f["long_names"][0] if f["long_names"] else f["names"][0])
            if ov:
                f.update(ov)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/llamacpp-sdists", help="download/unpack scratch dir")
    ap.add_argument("--extractor", default=os.path.join(ROOT, "..", "shared", "reference", "tools",
                                                        "extract_llamacpp.py"))
    ap.add_argument("--out", default=os.path.join(ROOT, "catalog-sources", "llama.cpp"))
    ap.add_argument("--only", nargs="*", help="builds to (re)extract, e.g. b9837")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    ex = load_extractor(a.extractor)
    rows = []
    for b in BUILDS:
        path = os.path.join(a.out, f"llama.cpp-{b['build']}.json")
        if not a.only or b["build"] in a.only:
            d = extract(a, ex, b)
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(d, fh, indent=1, sort_keys=True, ensure_ascii=False)
                fh.write("\n")
            print(f"{b['build']}: {len(d['flags'])} options "
                  f"({sum(1 for f in d['flags'] if f.get('removed'))} removed)", file=sys.stderr)
        d = json.load(open(path, encoding="utf-8"))
        rows.append(d)
    write_sources(a.out, rows)
    return 0


def write_sources(out: str, rows: list[dict]) -> None:
    lines = ["# llama.cpp `llama-server` flag sources", "",
             "One JSON per surveyed build, made by `scripts/extract-llamacpp-builds.py` (static parse of",
             "`common/arg.cpp` with `shared/reference/tools/extract_llamacpp.py`, plus handler analysis).",
             "`make catalogs` (`scripts/catalogs_llamacpp.py`) reads only these files.", "",
             "Which options `llama-server` registers is evaluated by the project script, not taken from",
             "the extractor: `.set_examples(...)`/`.set_excludes(...)` arguments are evaluated (brace",
             "lists, or `std::initializer_list<enum llama_example>` variables such as `mmproj_examples`,",
             "resolved from their definitions in the same arg.cpp), then add_opt's own filter and the",
             "`if (ex == ...)` branches are applied for LLAMA_EXAMPLE_SERVER (each JSON's `membership`",
             "records the filter and the variables used).  The derived b6325 table goes through the same",
             "evaluation (on 0.3.16's arg.cpp) before its `-fa` record is replaced.", "",
             "| build | commit | commit date | source | options | removed | evidence for the build number |",
             "|---|---|---|---|---|---|---|"]
    for d in rows:
        ev = d["build_evidence"].replace("|", "\\|")
        lines.append(f"| {d['build']}{' (derived)' if d.get('derived') else ''} | `{d['commit'][:10]}` "
                     f"| {d['commit_date'][:10]} | {d['sdist']} | {len(d['flags'])} "
                     f"| {sum(1 for f in d['flags'] if f.get('removed'))} | {ev} |")
    lines += ["", "Not surveyed (build number not established from public evidence): llama-cpp-python",
              "0.3.8 (`7841fc72`, 2025-03-12), 0.3.9 (`8733e0cf`, 2025-05-08), 0.3.16 (`4227c9be`,",
              "2025-08-14; used as the base of the derived b6325 table), 0.3.17/0.3.18 (`49bfddec`,",
              "2026-03-22), 0.3.19 (`c0159f9c`, 2026-03-25).", ""]
    with open(os.path.join(out, "SOURCES.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
