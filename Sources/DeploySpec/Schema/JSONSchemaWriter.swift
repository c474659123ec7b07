import Foundation

/// Writes the manifest schema as JSON Schema (draft 2020-12) for editors.
public enum JSONSchemaWriter {
    /// The schema document, pretty-printed with sorted keys; a Target's `spec` is one of the
    /// registered types' schemas.
    public static func manifestSchema(targetTypes: TargetTypes) -> String {
        var defs: [String: Any] = [:]
        func object(_ o: ObjectSchema) -> [String: Any] {
            if defs[o.title] == nil {
                defs[o.title] = [:]  // placeholder against recursion
                var props: [String: Any] = [:]
                for f in o.fields {
                    var p = type(f.type)
                    p["description"] = f.doc
                    props[f.name] = p
                }
                var d: [String: Any] = ["type": "object", "additionalProperties": false, "properties": props]
                let req = o.fields.filter(\.required).map(\.name)
                if !req.isEmpty { d["required"] = req }
                for g in o.exclusive {
                    d["not"] = ["required": g]
                }
                defs[o.title] = d
            }
            return ["$ref": "#/$defs/\(o.title)"]
        }
        func type(_ t: SchemaType) -> [String: Any] {
            switch t {
            case .string(let pattern):
                var d: [String: Any] = ["type": ["string", "number"]]
                if let pattern { d = ["type": "string", "pattern": pattern] }
                return d
            case .integer(let min, let max):
                var d: [String: Any] = ["type": "integer"]
                if let min { d["minimum"] = min }
                if let max { d["maximum"] = max }
                return d
            case .number(let min, let max):
                var d: [String: Any] = ["type": "number"]
                if let min { d["minimum"] = min }
                if let max { d["maximum"] = max }
                return d
            case .boolean: return ["type": "boolean"]
            case .enumeration(let v): return ["enum": v]
            case .scalar: return ["type": ["string", "number", "boolean"]]
            case .list(let e): return ["type": "array", "items": type(e)]
            case .stringOrList: return ["anyOf": [["type": "string"], ["type": "array", "items": ["type": "string"]]]]
            case .gpuIDs:
                let id: [String: Any] = ["type": "integer", "minimum": 0]
                return ["anyOf": [id, ["type": "array", "items": id]]]
            case .map(let v): return ["type": "object", "additionalProperties": type(v)]
            case .object(let o): return object(o)
            case .envValue: return ["anyOf": [["type": ["string", "number", "boolean"]], object(EnvSchema.value)]]
            case .any: return [:]
            }
        }
        func document(kind: String, spec: ObjectSchema) -> [String: Any] {
            [
                "type": "object", "additionalProperties": false,
                "required": ManifestSchema.documentKeys,
                "properties": [
                    "apiVersion": ["const": ManifestSchema.apiVersion],
                    "kind": ["const": kind],
                    "metadata": object(ManifestSchema.metadata),
                    "spec": object(spec),
                ],
            ]
        }
        var docs = ManifestSchema.kinds.compactMap { k in ManifestSchema.spec(forKind: k).map { document(kind: k, spec: $0) } }
        for t in targetTypes.schemas {
            let spec = t.specSchema(types: targetTypes.names)
            var doc = document(kind: "Target", spec: spec)
            var props = doc["properties"] as? [String: Any] ?? [:]
            // This type's document: `type` is exactly this type.
            if var specDef = defs[spec.title] as? [String: Any], var p = specDef["properties"] as? [String: Any] {
                p["type"] = ["const": t.type, "description": t.summary]
                specDef["properties"] = p
                defs[spec.title] = specDef
            }
            props["spec"] = ["$ref": "#/$defs/\(spec.title)"]
            doc["properties"] = props
            docs.append(doc)
        }
        let root: [String: Any] = [
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://dsdeploy.dev/schema/dsdeploy-v1.json",
            "title": "dsdeploy/v1 manifest document",
            "description": "One document of a dsdeploy manifest (multi-document YAML: each document is one of these).",
            "oneOf": docs,
            "$defs": defs,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
