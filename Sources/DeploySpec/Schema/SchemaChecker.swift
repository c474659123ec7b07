import DeployCore
import Foundation

/// Walks a YAML node against a schema and collects every structural problem.
struct SchemaChecker {
    var diagnostics: [Diagnostic] = []

    mutating func check(_ node: YAMLNode, as type: SchemaType, path: String) {
        switch type {
        case .string(let pattern):
            guard case .scalar(let s) = node, s.isStringLike else { return typeError(node, type, path) }
            if let pattern, !PatternCache.matches(s.value, pattern) {
                diagnostics.append(.error("invalid-value", "'\(s.value)' is not a valid value for '\(path)' (must match \(pattern))",
                                          at: s.location, length: s.length))
            }
        case .integer(let min, let max):
            guard case .scalar(let s) = node, case .int(let v) = s.resolved else { return typeError(node, type, path) }
            if let min, v < min {
                diagnostics.append(.error("invalid-value", "'\(path)' must be at least \(min), got \(v)", at: s.location, length: s.length))
            }
            if let max, v > max {
                diagnostics.append(.error("invalid-value", "'\(path)' must be at most \(max), got \(v)", at: s.location, length: s.length))
            }
        case .number(let min, let max):
            let value: Double
            switch node {
            case .scalar(let s) where s.style == .plain:
                switch s.resolved {
                case .int(let v): value = Double(v)
                case .float(let v): value = v
                default: return typeError(node, type, path)
                }
                if let min, !(value >= min) {
                    diagnostics.append(.error("invalid-value", "'\(path)' must be at least \(min), got \(s.value)", at: s.location, length: s.length))
                }
                if let max, !(value <= max) {
                    diagnostics.append(.error("invalid-value", "'\(path)' must be at most \(max), got \(s.value)", at: s.location, length: s.length))
                }
            default: return typeError(node, type, path)
            }
        case .boolean:
            guard case .scalar(let s) = node, case .bool = s.resolved else { return typeError(node, type, path) }
        case .enumeration(let values):
            guard case .scalar(let s) = node, s.isStringLike else { return typeError(node, type, path) }
            if !values.contains(s.value) {
                let hint = Suggest.didYouMean(s.value, in: values)
                diagnostics.append(.error("invalid-value",
                    "'\(s.value)' is not a valid value for '\(path)'\(hint)",
                    at: s.location, length: s.length,
                    notes: ["expected one of: \(values.joined(separator: ", "))"]))
            }
        case .scalar:
            guard case .scalar(let s) = node else { return typeError(node, type, path) }
            if case .null = s.resolved { return typeError(node, type, path) }
        case .list(let element):
            guard case .sequence(let seq) = node else { return typeError(node, type, path) }
            for (i, item) in seq.items.enumerated() { check(item, as: element, path: "\(path)[\(i)]") }
        case .stringOrList:
            if case .sequence = node { check(node, as: .list(.string()), path: path) }
            else { check(node, as: .string(), path: path) }
        case .map(let value):
            guard case .mapping(let m) = node else { return typeError(node, type, path) }
            for (k, v) in m.pairs {
                guard case .scalar(let ks) = k else { continue }
                check(v, as: value, path: "\(path).\(ks.value)")
            }
        case .object(let schema):
            checkObject(node, schema, path: path)
        case .envValue:
            switch node {
            case .scalar(let s):
                if case .null = s.resolved { typeError(node, type, path) }
            case .mapping:
                checkObject(node, EnvSchema.value, path: path)
            case .sequence:
                typeError(node, type, path)
            }
        case .any:
            return
        }
    }

    mutating func checkObject(_ node: YAMLNode, _ schema: ObjectSchema, path: String) {
        guard case .mapping(let m) = node else { return typeError(node, .object(schema), path) }
        var seen: Set<String> = []
        for (k, v) in m.pairs {
            guard case .scalar(let ks) = k else { continue }
            let key = ks.value
            seen.insert(key)
            let sub = path.isEmpty ? key : "\(path).\(key)"
            guard let field = schema.field(key) else {
                let hint = Suggest.didYouMean(key, in: schema.fields.map(\.name))
                diagnostics.append(.error("unknown-key", "unknown key '\(key)' in \(schema.name)\(hint)",
                                          at: ks.location, length: ks.length,
                                          notes: hint.isEmpty ? ["known keys: \(schema.fields.map(\.name).joined(separator: ", "))"] : []))
                continue
            }
            check(v, as: field.type, path: sub)
        }
        for field in schema.fields where field.required && !seen.contains(field.name) {
            let where_ = path.isEmpty ? schema.name : "'\(path)'"
            diagnostics.append(.error("missing-key", "missing required key '\(field.name)' in \(where_)", at: m.location))
        }
        for group in schema.exclusive {
            let given = group.filter(seen.contains)
            if given.count > 1 {
                diagnostics.append(.error("flag-conflict", "keys \(given.map { "'\($0)'" }.joined(separator: " and ")) cannot be used together in \(schema.name)", at: m.location))
            }
        }
    }

    mutating func typeError(_ node: YAMLNode, _ type: SchemaType, _ path: String) {
        let length: Int
        if case .scalar(let s) = node { length = s.length } else { length = 1 }
        diagnostics.append(.error("invalid-type", "'\(path)' must be \(type.expected), got \(node.kindDescription)",
                                  at: node.location, length: length))
    }
}

/// Schema of a structured env value.
enum EnvSchema {
    static let valueFrom = ObjectSchema("ValueFrom", exclusive: [["env", "file"]], [
        FieldSchema("env", .string(pattern: ManifestSchema.envNamePattern), "Take the value from this variable of dsdeploy's own environment."),
        FieldSchema("file", .string(), "Take the value from this file (trailing newline removed); relative to the manifest."),
    ])
    static let value = ObjectSchema("EnvValue", exclusive: [["value", "valueFrom"]], [
        FieldSchema("value", .scalar, "A literal value."),
        FieldSchema("valueFrom", .object(valueFrom), "Where the value comes from at render/apply time."),
        FieldSchema("secret", .boolean, "Redact the value everywhere (`***`); `valueFrom` values are secret unless `secret: false`."),
    ])
}

extension YAMLScalar {
    /// True for anything a string field accepts (quoted, block, or plain non-null).
    var isStringLike: Bool {
        if style != .plain { return true }
        if case .null = resolved { return false }
        return true
    }
}

/// Compiled schema patterns, shared (compiling a regex per value dominated validation time).
enum PatternCache {
    nonisolated(unsafe) private static var cache: [String: NSRegularExpression] = [:]
    private static let lock = NSLock()

    static func matches(_ value: String, _ pattern: String) -> Bool {
        let re: NSRegularExpression? = lock.withLock {
            if let r = cache[pattern] { return r }
            let r = try? NSRegularExpression(pattern: pattern)
            cache[pattern] = r
            return r
        }
        guard let re else { return false }
        return re.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }
}
