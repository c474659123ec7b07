import DeployCore

/// A path into one deployment, as overlays, `--set` and `--values` write it: `replicas`,
/// `model.revision`, `labels.env`, `env.NAME`, `container.ulimits.nofile`, an engine flag
/// (`--context-length` or `args.--context-length`), or the whole `args` list.
///
/// Parsed against the deployment schema, so an unknown field is found (with a did-you-mean) before
/// anything changes, and the value is typed like the field it sets.
enum DeploymentPath {
    /// A key path under the document's `spec` or `metadata` (labels), with the schema of its value.
    case field(root: Root, keys: [String], type: SchemaType, required: Bool)
    /// One engine flag of the deployment's `args`, matched by canonical name through the catalog.
    case flag(Located<String>)
    /// The whole `args` list.
    case args

    /// Which mapping of the document a field path lives in.
    enum Root: String { case spec, metadata }

    /// The path as people read it (`replicas`, `labels.env`, `--tp-size`).
    var display: String {
        switch self {
        case .field(_, let keys, _, _): return keys.joined(separator: ".")
        case .flag(let f): return f.value
        case .args: return "args"
        }
    }

    /// Parses `path` (its text located at `at`) relative to a deployment; `owner` names it in messages.
    static func parse(_ path: Located<String>, owner: String) -> Result<DeploymentPath, PathError> {
        let text = path.value
        if text.hasPrefix("-") { return flag(text, at: path.location, owner: owner) }
        let (head, rest) = split(text)
        if head == "args" {
            guard let rest else { return .success(.args) }
            return flag(rest, at: path.location.advanced(by: head.count + 1), owner: owner)
        }
        if head == "labels" {
            guard let rest, !rest.isEmpty else {
                return .success(.field(root: .metadata, keys: ["labels"], type: .map(.scalar), required: false))
            }
            return .success(.field(root: .metadata, keys: ["labels", rest], type: .scalar, required: false))
        }
        var schema = ManifestSchema.deploymentSpec
        var keys: [String] = []
        var offset = 0
        var remaining = text
        while true {
            let (segment, rest) = split(remaining)
            guard let field = schema.field(segment) else {
                let candidates = schema.fields.map(\.name) + (keys.isEmpty ? ["labels"] : [])
                let hint = Suggest.didYouMean(segment, in: candidates)
                let owner = keys.isEmpty ? owner : "'\(keys.joined(separator: "."))' of \(owner)"
                var notes = hint.isEmpty ? ["known fields: \(candidates.joined(separator: ", "))"] : []
                if keys.isEmpty, hint.isEmpty, segment.contains("-") {
                    notes.append("an engine flag is written with its dashes: '--\(segment)' or 'args.--\(segment)'")
                }
                return .failure(PathError(.error("unknown-key", "unknown field '\(segment)' in \(owner)\(hint)",
                                       at: path.location.advanced(by: offset), length: max(1, segment.count), notes: notes)))
            }
            keys.append(segment)
            guard let rest else { return .success(.field(root: .spec, keys: keys, type: field.type, required: field.required)) }
            switch field.type {
            case .object(let sub):
                schema = sub
                offset += segment.count + 1
                remaining = rest
            case .map(let value) where !rest.isEmpty:
                return .success(.field(root: .spec, keys: keys + [rest], type: value, required: false))
            default:
                return .failure(PathError(.error("unknown-key",
                    "'\(keys.joined(separator: "."))' of \(owner) is \(field.type.expected), not a mapping: it has no field '\(rest)'",
                    at: path.location.advanced(by: offset + segment.count + 1), length: max(1, rest.count))))
            }
        }
    }

    /// A flag path: it must look like a flag (the catalog decides later whether the engine has it).
    static func flag(_ text: String, at location: SourceLocation, owner: String) -> Result<DeploymentPath, PathError> {
        guard text.hasPrefix("-"), text.count > 1, !text.contains(" "), !text.contains("=") else {
            return .failure(PathError(.error("invalid-value", "'\(text)' is not an engine flag; write it with its dashes, e.g. 'args.--tp-size'",
                                   at: location, length: max(1, text.count))))
        }
        return .success(.flag(Located(text, at: location, length: text.count)))
    }

    /// The first dot-separated segment and the rest (nil when there is no dot).
    static func split(_ s: String) -> (String, String?) {
        guard let dot = s.firstIndex(of: ".") else { return (s, nil) }
        return (String(s[..<dot]), String(s[s.index(after: dot)...]))
    }
}

/// A path that does not name anything in a deployment, as the diagnostic to report.
struct PathError: Error {
    var diagnostic: Diagnostic
    init(_ diagnostic: Diagnostic) { self.diagnostic = diagnostic }
}
