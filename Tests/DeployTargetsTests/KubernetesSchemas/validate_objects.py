"""Validates rendered Kubernetes objects strictly (no unknown fields), offline, with the pinned venv
of scripts/setup-kubernetes-validate.sh:

- core and apps objects (Deployment, Service, ...): kubernetes-validate's bundled OpenAPI schemas
  for --kubernetes-version, strict variant;
- LeaderWorkerSet (leaderworkerset.x-k8s.io/v1): the top level against the published CRD schema
  excerpt (--crd, leaderworkerset.x-k8s.io_leaderworkersets.excerpt.yaml beside this file), made
  strict: every object schema that lists `properties` gets `additionalProperties: false`, and
  `format: int32`/`int64` are range-checked; the two pod templates, cut from the excerpt, are each
  wrapped in a core `v1 PodTemplate` (with the LeaderWorkerSet's metadata) and validated like any
  core object: the CRD's template schema is generated from that same PodTemplateSpec type.

An object of any other kind, or of a kind without a schema, fails (kubernetes-validate's CLI only
warns). Prints one line per object (`INFO FILE passed for resource KIND/NAME ...` or
`ERROR FILE did not validate for resource KIND/NAME ...: PATH: MESSAGE`, as kubernetes-validate
does) and a last line `objects: N passed, M failed`; exits 1 when any failed.

usage: python validate_objects.py --crd EXCERPT --kubernetes-version 1.37.0 FILE...
"""
import argparse
import copy
import sys

import jsonschema
import yaml
from kubernetes_validate import utils as kv

CUT = "x-dsdeploy-cut"
TEMPLATES = ("leaderTemplate", "workerTemplate")


def strict(node):
    """The CRD schema as a strict JSON schema: the cut templates accept any object (checked
    separately), every object with `properties` refuses others."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    if CUT in node:
        return {"type": "object"}
    out = {k: strict(v) for k, v in node.items()}
    if "properties" in node and "additionalProperties" not in node \
            and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def crd_validator(path):
    docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    crd = docs[0]
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = strict(version["schema"]["openAPIV3Schema"])
    formats = jsonschema.FormatChecker()
    formats.checks("int32")(lambda v: not isinstance(v, int) or -2**31 <= v < 2**31)
    formats.checks("int64")(lambda v: not isinstance(v, int) or -2**63 <= v < 2**63)
    return jsonschema.Draft202012Validator(schema, format_checker=formats)


def name_of(obj):
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return "%s/%s" % (str(obj.get("kind", "?")).lower(), meta.get("name", "?"))


def path_text(path):
    return ".".join(str(p) for p in path)


def lws_errors(obj, validator, version):
    errors = ["%s: %s" % (path_text(e.absolute_path), e.message)
              for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]
    lwt = obj.get("spec", {}).get("leaderWorkerTemplate", {}) if isinstance(obj.get("spec"), dict) else {}
    for key in TEMPLATES:
        if key not in lwt:
            continue
        wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": copy.deepcopy(obj.get("metadata", {})),
                   "template": lwt[key]}
        try:
            kv.validate(wrapped, version, strict=True)
        except kv.ValidationError as e:
            inner = list(e.path)
            if inner[:1] == ["template"]:
                inner = ["spec", "leaderWorkerTemplate", key] + inner[1:]
            errors.append("%s: %s (as core v1 PodTemplate, Kubernetes %s strict)" % (path_text(inner), e.message, e.version))
    return errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crd", required=True)
    ap.add_argument("--kubernetes-version", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    lws = crd_validator(args.crd)
    passed = failed = 0
    for f in args.files:
        for obj in (d for d in yaml.safe_load_all(open(f, encoding="utf-8")) if d):
            kind = name_of(obj)
            if obj.get("apiVersion") == "leaderworkerset.x-k8s.io/v1" and obj.get("kind") == "LeaderWorkerSet":
                errors = lws_errors(obj, lws, args.kubernetes_version)
                against = "the LeaderWorkerSet CRD excerpt (strict) and, for its pod templates, version %s" % \
                    kv.major_minor(args.kubernetes_version)
            else:
                errors, against = [], "version %s" % kv.major_minor(args.kubernetes_version)
                try:
                    kv.validate(obj, args.kubernetes_version, strict=True)
                except kv.ValidationError as e:
                    errors.append("%s: %s" % (path_text(e.path), e.message))
                except kv.SchemaNotFoundError as e:
                    errors.append(": " + e.message)
            if errors:
                failed += 1
                for e in errors:
                    print("ERROR %s did not validate for resource %s against %s: %s" % (f, kind, against, e))
            else:
                passed += 1
                print("INFO %s passed for resource %s against %s" % (f, kind, against))
    print("objects: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
