"""Compare the flags engines/tiny-llama/llama-server accepts with dsdeploy's llama.cpp catalog.

    python3 engines/tiny-llama/check_flags.py [CATALOG.json]

Default catalog: Sources/Engines/Resources/catalogs/llama.cpp-b6000.json. Standard library only.
For every option of the wrapper it checks that each spelling exists in the catalog and selects
the same catalog flag, that the arity matches (catalog `bool` = no value, anything else = one
value), that the value type matches (int/float/string), and that a catalog negative spelling
(`--no-slots`) is the negation of the positive one. It also lists, as notes, catalog spellings of
an accepted flag that the wrapper lacks and defaults that differ. Exit status 1 on any error.
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CATALOG = os.path.join(ROOT, "Sources/Engines/Resources/catalogs/llama.cpp-b6000.json")


def load_wrapper():
    path = os.path.join(HERE, "llama-server")
    loader = importlib.machinery.SourceFileLoader("tiny_llama_server", path)
    spec = importlib.util.spec_from_loader("tiny_llama_server", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def value_kind(action):
    if action.nargs == 0:
        return "bool"
    return {int: "int", float: "float", None: "string", str: "string"}.get(action.type, repr(action.type))


def main():
    catalog_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_CATALOG
    with open(catalog_path, encoding="utf-8") as f:
        catalog = json.load(f)
    spelling = {}  # spelling -> (flag, positive?)
    for flag in catalog["flags"]:
        for s in [flag["name"], *flag.get("aliases", [])]:
            spelling[s] = (flag, True)
        for s in flag.get("neg", []):
            spelling[s] = (flag, False)

    parser = load_wrapper().build_parser()
    errors, notes = [], []
    by_flag = {}  # catalog name -> {positive: action, negative: action}
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._HelpAction):  # noqa: SLF001 - -h/--help is not a deploy flag
            continue
        names = set()
        for s in action.option_strings:
            if s not in spelling:
                errors.append(f"{s}: not in the catalog")
                continue
            flag, positive = spelling[s]
            names.add(flag["name"])
            by_flag.setdefault(flag["name"], {})[positive] = action
            want = "bool" if flag["type"] == "bool" else flag["type"]
            got = value_kind(action)
            if want != got:
                errors.append(f"{s}: the catalog says {want}, the wrapper takes {got}")
        if len(names) > 1:
            errors.append(f"{'/'.join(action.option_strings)}: spellings of different catalog flags {sorted(names)}")
        for name in names:
            flag = spelling[name][0]
            if by_flag[name].get(True) is not action:
                continue  # the negative side: its spellings were checked above
            missing = [s for s in [flag["name"], *flag.get("aliases", [])] if s not in action.option_strings]
            if missing:
                notes.append(f"{name}: catalog spellings the wrapper does not take: {missing}")
            if "default" in flag and action.default is not None and action.nargs != 0:
                if action.default != flag["default"]:
                    notes.append(f"{name}: default {action.default!r} here, {flag['default']!r} in the catalog")

    for name, sides in by_flag.items():
        if True in sides and False in sides:
            pos, neg = sides[True], sides[False]
            if pos.dest != neg.dest or pos.const == neg.const:
                errors.append(f"{name}: the negative spelling does not negate the positive one")
    accepted = sorted(by_flag)
    print(f"{len(accepted)} catalog flags accepted by llama-server: {' '.join(accepted)}")
    for n in notes:
        print(f"note: {n}")
    for e in errors:
        print(f"error: {e}")
    print(f"{'FAIL' if errors else 'OK'}: {len(errors)} mismatches against {os.path.relpath(catalog_path, ROOT)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
