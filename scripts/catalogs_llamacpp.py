"""llama.cpp (`llama-server`) catalogs for scripts/gen-catalogs.py.

Reads catalog-sources/llama.cpp/llama.cpp-bNNNN.json (one per surveyed build, made by
scripts/extract-llamacpp-builds.py from llama.cpp's own argument table, common/arg.cpp) and
returns the compact catalogs, the history and the index entry.  Standard library only.

Mapping of llama.cpp's option kinds (common_arg handler signatures) to the compact format:
  flag        (void handler)             -> type bool, arity none
  bool        ({"--x"}, {"--no-x"})      -> type bool, arity none, neg [--no-x, ...]
  int         (int handler, std::stoi)   -> type int
  string      (string handler)           -> type string; int/float when the handler only
                                            converts with std::stoi/stof; choices when the
                                            handler accepts a closed set of literals
                                            (value == "x" ... else throw; is_truthy/is_falsey/
                                            is_autoy sets, e.g. -fa on|off|auto|1|0|-1...)
  string_pair (two values, FNAME SCALE)  -> type list, arity oneOrMore, elem string
An option whose handler only throws "the argument has been removed. ..." is emitted with
"removed" (the engine's message) and "replacements" (flags of that build the message names)
and keeps its type/arity so a validator can still consume its value.
"""

from __future__ import annotations

import glob
import json
import os
import re

ENGINE = "llama.cpp"
HELP_MAX = 80
_SIMPLE = re.compile(r"[A-Za-z0-9_.:/+-]{1,40}")


def _key(build: str) -> int:
    return int(build.lstrip("b"))


def _short(text: str | None, limit: int = HELP_MAX) -> str:
    first = (text or "").strip().split("\n")[0]
    t = " ".join(first.split())
    return t if len(t) <= limit else t[: limit - 1].rstrip() + "…"


def _default(rec: dict, typ: str, choices: list[str] | None):
    d = rec.get("default")
    if not isinstance(d, str):
        return None
    d = d.strip().strip("'\"")
    if typ == "bool":
        return {"enabled": True, "true": True, "disabled": False, "false": False}.get(d.lower())
    if typ == "int":
        return int(d) if re.fullmatch(r"-?\d+", d) else None
    if typ == "float":
        try:
            return float(d)
        except ValueError:
            return None
    if typ == "string":
        if choices:
            return d if d in choices else None
        return d if _SIMPLE.fullmatch(d) and d.lower() not in ("none", "unused", "empty") else None
    return None


def canonical(rec: dict) -> str:
    return (rec.get("long_names") or rec["names"])[0]


def compact(rec: dict) -> dict:
    name = canonical(rec)
    kind = rec["value_kind"]
    out: dict = {"name": name}
    choices = None
    if kind in ("flag", "bool"):
        typ, arity = "bool", "none"
    elif kind == "string_pair":
        typ, arity = "list", "oneOrMore"
        out["elem"] = "string"
    elif kind == "int":
        typ, arity = "int", "one"
    else:
        typ, arity = rec.get("number") or "string", "one"
        if rec.get("values"):
            # `--numa ""` is accepted by the engine; an empty choice is left out of the list
            typ, choices = "string", [v for v in rec["values"] if v != ""]
    out["type"], out["arity"] = typ, arity
    aliases = [n for n in rec["names"] if n != name]
    if aliases:
        out["aliases"] = aliases
    if rec.get("negative_names"):
        out["neg"] = list(rec["negative_names"])
    if choices:
        out["choices"] = choices
    if rec.get("appends") and arity != "none":
        out["repeat"] = True
    if rec.get("removed"):
        out["removed"] = rec["removed"]
        out["replacements"] = list(rec.get("replacements") or [])
    else:
        d = _default(rec, typ, choices)
        if d is not None:
            out["default"] = d
        if rec.get("deprecated"):
            out["dep"] = _short(rec.get("help"), 200)
    h = _short(rec.get("help"))
    if h.startswith("<"):  # help computed at run time (an unresolved C++ expression)
        h = ""
    if h:
        out["help"] = h
    return out


def load_sources(src_dir: str) -> dict[str, dict]:
    out = {}
    for path in glob.glob(os.path.join(src_dir, "llama.cpp-b*.json")):
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
        out[d["build"]] = d
    return out


def _spellings(rec: dict) -> list[str]:
    return list(rec["names"]) + list(rec.get("negative_names") or [])


def history(builds: list[str], data: dict[str, dict]) -> dict:
    """Per spelling (every long/short/negative name): first/last surveyed build where it is a
    valid option; removed_in = the next surveyed build (where it is gone or only throws)."""
    valid: dict[str, dict[str, dict]] = {}
    removed_by: dict[str, dict[str, dict]] = {}
    for b in builds:
        valid[b], removed_by[b] = {}, {}
        for rec in data[b]["flags"]:
            for s in _spellings(rec):
                (removed_by if rec.get("removed") else valid)[b][s] = rec
    present: dict[str, list[str]] = {}
    for b in builds:
        for s in valid[b]:
            present.setdefault(s, []).append(b)
    flags = {}
    for s, bs in sorted(present.items()):
        first, last = bs[0], bs[-1]
        removed = None if last == builds[-1] else builds[builds.index(last) + 1]
        if first == builds[0] and removed is None:
            continue
        rec: dict = {"first_seen": first, "last_seen": last}
        if removed:
            rec["removed_in"] = removed
            gone = removed_by[removed].get(s)
            if gone:
                rec["replacements"] = list(gone.get("replacements") or [])
                rec["note"] = gone["removed"]
            else:
                rec["replacements"] = _candidates(s, valid[last][s], valid[removed])
        flags[s] = rec
    return {"engine": ENGINE, "versions": builds, "approximate": True, "flags": flags}


def _candidates(name: str, old: dict, newer: dict[str, dict]) -> list[str]:
    """Options of the next build whose help names the removed spelling or that extend it,
    plus flags the removed option's own help points to (deprecation notes)."""
    out: list[str] = []
    if old.get("deprecated"):
        for m in re.findall(r"--[a-z0-9][a-z0-9-]*[a-z0-9]", old.get("help") or ""):
            if m != name and m in newer and canonical(newer[m]) not in out:
                out.append(canonical(newer[m]))
    if name.startswith("--"):
        for n in sorted(newer):
            if n.startswith(name + "-") and canonical(newer[n]) not in out:
                out.append(canonical(newer[n]))
        pat = re.compile(re.escape(name) + r"(?![a-z0-9-])")
        for n in sorted(newer):
            c = canonical(newer[n])
            if c not in out and pat.search(newer[n].get("help") or ""):
                out.append(c)
    return out


def generate(src_dir: str, catalog_fn) -> tuple[dict[str, dict], dict, list[str]]:
    """({version: catalog}, history, versions oldest first); catalog_fn is gen-catalogs'
    catalog(engine, version, flags, parser, spec_algos)."""
    data = load_sources(src_dir)
    builds = sorted(data, key=_key)
    cats = {}
    for b in builds:
        d = data[b]
        parser = {"allowAbbrev": False, "underscores": bool(d["parser"]["underscores"])}
        flags = [compact(rec) for rec in d["flags"]]
        # speculativeAlgorithms feeds the SGLang-style speculative rules; none for llama.cpp
        cats[b] = catalog_fn(ENGINE, b, flags, parser, [])
    return cats, history(builds, data), builds
