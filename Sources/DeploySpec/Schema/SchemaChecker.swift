import DeployCore
import Foundation

/// Where a node is, as the dotted path diagnostics name (`spec.args[3]`, `spec.env.NAME`): its
/// parent's path and the step to it, joined only when a diagnostic or a nested collection needs the
/// text (most values are fine, and building every path cost more than checking the values).
struct SchemaPath {
    enum Step {
        /// The parent's path itself.
        case whole
        /// A key of an object: `parent.key`, or `key` at the top.
        case field(String)
        /// A key of a free-form map: `parent.key`.
        case mapKey(String)
        /// An item of a list: `parent[i]`.
        case index(Int)
    }

    let parent: String
    let step: Step

    init(_ parent: String, _ step: Step = .whole) {
        self.parent = parent
        self.step = step
    }

    var text: String {
        switch step {
        case .whole: return parent
        case .field(let key): return parent.isEmpty ? key : "\(parent).\(key)"
        case .mapKey(let key): return "\(parent).\(key)"
        case .index(let i): return "\(parent)[\(i)]"
        }
    }
}

/// Walks a YAML node against a schema and collects every structural problem.
struct SchemaChecker {
    var diagnostics: [Diagnostic] = []

    mutating func check(_ node: YAMLNode, as type: SchemaType, path: String) {
        check(node, as: type, at: SchemaPath(path))
    }

    mutating func check(_ node: YAMLNode, as type: SchemaType, at path: SchemaPath) {
        switch type {
        case .string(let pattern):
            guard case .scalar(let s) = node, s.isStringLike else { return typeError(node, type, path) }
            if let pattern, !PatternCache.matches(s.value, pattern) {
                // A pattern that is only an escaped literal (`\{\{version\}\}`) is said as one.
                let literal = pattern.filter { $0 != "\\" }
                let rule = pattern.contains("\\") && !literal.contains(where: "^$[]()*+?|.".contains)
                    ? "must contain '\(literal)'" : "must match \(pattern)"
                diagnostics.append(.error("invalid-value", "'\(s.value)' is not a valid value for '\(path.text)' (\(rule))",
                                          at: s.location, length: s.length))
            }
        case .integer(let min, let max):
            guard case .scalar(let s) = node, case .int(let v) = s.resolved else { return typeError(node, type, path) }
            if let min, v < min {
                diagnostics.append(.error("invalid-value", "'\(path.text)' must be at least \(min), got \(v)", at: s.location, length: s.length))
            }
            if let max, v > max {
                diagnostics.append(.error("invalid-value", "'\(path.text)' must be at most \(max), got \(v)", at: s.location, length: s.length))
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
                    diagnostics.append(.error("invalid-value", "'\(path.text)' must be at least \(min), got \(s.value)", at: s.location, length: s.length))
                }
                if let max, !(value <= max) {
                    diagnostics.append(.error("invalid-value", "'\(path.text)' must be at most \(max), got \(s.value)", at: s.location, length: s.length))
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
                    "'\(s.value)' is not a valid value for '\(path.text)'\(hint)",
                    at: s.location, length: s.length,
                    notes: ["expected one of: \(values.joined(separator: ", "))"]))
            }
        case .scalar:
            guard case .scalar(let s) = node else { return typeError(node, type, path) }
            if case .null = s.resolved { return typeError(node, type, path) }
        case .list(let element):
            guard case .sequence(let seq) = node else { return typeError(node, type, path) }
            let parent = path.text
            for i in seq.items.indices { check(seq.items[i], as: element, at: SchemaPath(parent, .index(i))) }
        case .stringOrList:
            if case .sequence = node { check(node, as: .list(.string()), at: path) }
            else { check(node, as: .string(), at: path) }
        case .gpuIDs:
            if case .sequence = node { return check(node, as: .list(.integer(min: 0)), at: path) }
            guard case .scalar(let s) = node, case .int = s.resolved else { return typeError(node, type, path) }
            check(node, as: .integer(min: 0), at: path)
        case .map(let value):
            guard case .mapping(let m) = node else { return typeError(node, type, path) }
            let parent = path.text
            for i in m.pairs.indices {
                guard m.hasScalarKey(i) else { continue }
                check(m.pairs[i].value, as: value, at: SchemaPath(parent, .mapKey(m.keys[i])))
            }
        case .object(let schema):
            checkObject(node, schema, path: path.text)
        case .envValue:
            switch node {
            case .scalar(let s):
                if case .null = s.resolved { typeError(node, type, path) }
            case .mapping:
                checkObject(node, EnvSchema.value, path: path.text)
            case .sequence:
                typeError(node, type, path)
            }
        case .any:
            return
        }
    }

    mutating func checkObject(_ node: YAMLNode, _ schema: ObjectSchema, path: String) {
        guard case .mapping(let m) = node else { return typeError(node, .object(schema), SchemaPath(path)) }
        // The keys given: known fields by index (the first 64), anything else by name.
        var seenFields: UInt64 = 0
        var seenOthers: [String] = []
        for i in m.pairs.indices {
            guard m.hasScalarKey(i) else { continue }
            let key = m.keys[i]
            guard let f = schema.fieldIndex(key) else {
                seenOthers.append(key)
                guard case .scalar(let ks) = m.pairs[i].key else { continue }
                let hint = Suggest.didYouMean(key, in: schema.fields.map(\.name))
                diagnostics.append(.error("unknown-key", "unknown key '\(key)' in \(schema.name)\(hint)",
                                          at: ks.location, length: ks.length,
                                          notes: hint.isEmpty ? ["known keys: \(schema.fields.map(\.name).joined(separator: ", "))"] : []))
                continue
            }
            if f < 64 { seenFields |= 1 << UInt64(f) } else { seenOthers.append(key) }
            check(m.pairs[i].value, as: schema.fields[f].type, at: SchemaPath(path, .field(key)))
        }
        func seen(_ name: String) -> Bool {
            if let f = schema.fieldIndex(name), f < 64 { return seenFields & (1 << UInt64(f)) != 0 }
            return seenOthers.contains(name)
        }
        for name in schema.requiredFields where !seen(name) {
            let where_ = path.isEmpty ? schema.name : "'\(path)'"
            // What the key is, from the schema (as `dsdeploy schema` shows it).
            let doc = schema.fieldIndex(name).map { schema.fields[$0].doc } ?? ""
            diagnostics.append(.error("missing-key", "missing required key '\(name)' in \(where_)", at: m.location,
                                      notes: doc.isEmpty ? [] : ["\(name): \(doc)"]))
        }
        for group in schema.exclusive {
            let given = group.filter(seen)
            if given.count > 1 {
                diagnostics.append(.error("flag-conflict", "keys \(given.map { "'\($0)'" }.joined(separator: " and ")) cannot be used together in \(schema.name)", at: m.location))
            }
        }
    }

    mutating func typeError(_ node: YAMLNode, _ type: SchemaType, _ path: String) {
        typeError(node, type, SchemaPath(path))
    }

    mutating func typeError(_ node: YAMLNode, _ type: SchemaType, _ path: SchemaPath) {
        let length: Int
        if case .scalar(let s) = node { length = s.length } else { length = 1 }
        var d = Diagnostic.error("invalid-type", "'\(path.text)' must be \(type.expected), got \(node.kindDescription)",
                                 at: node.location, length: length)
        // `- --speculative-config: '{"method": "mtp"}'`: a flag and its value that YAML read as a key
        // and value. Say so, and give the entry as one string.
        if case .string = type, case .mapping(let m) = node, m.pairs.count == 1,
           case .scalar(let key) = m.pairs[0].key, key.value.hasPrefix("-"), case .scalar(let value) = m.pairs[0].value {
            // `--flag: value` (a colon typed after the flag) or `--flag {"a": 1}` (a value's own ': ').
            let own = key.value.contains(" ") || key.value.contains("=")
            let entry = value.value.isEmpty ? key.value : key.value + (own ? ": " : " ") + value.value
            d.notes = ["YAML read this entry as a key ('\(key.value)') and a value; write the flag and its value as one string"]
            d.fixIt = YAMLLoader.singleQuoted(entry)
        }
        diagnostics.append(d)
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
        // `resolved` is null exactly when `isNull` holds (untagged or `!!null`, null text), so the
        // full resolution (a number parse for '--flag 8') is not needed to answer this.
        return !isNull
    }
}

/// Compiled schema patterns, shared (compiling a regex per value dominated validation time).
enum PatternCache {
    nonisolated(unsafe) private static var cache: [String: NSRegularExpression] = [:]
    private static let lock = NSLock()

    static func matches(_ value: String, _ pattern: String) -> Bool {
        // The two patterns every document uses, matched without ICU (a regex match cost ~8k
        // instructions, compiling one ~8M; `PatternCacheTests` checks they agree with the regex).
        if pattern == ManifestSchema.namePattern { return isName(value) }
        if pattern == ManifestSchema.envNamePattern { return isEnvName(value) }
        return regexMatches(value, pattern)
    }

    /// `^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`, where `$` is the end of the value (ICU's `$` also
    /// accepted a final line break: `name: |` gave "dspark\n", which no engine or target accepts).
    static func isName(_ value: String) -> Bool {
        let b = value.utf8
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard let first = b.first, let last = b.last, b.count <= 63, alnum(first), alnum(last) else { return false }
        return b.allSatisfy { alnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    /// `^[A-Za-z_][A-Za-z0-9_]*$` (`$`: the end of the value, as for names)
    static func isEnvName(_ value: String) -> Bool {
        var first = true
        for c in value.utf8 {
            let letter = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
            if !(letter || (!first && c >= 0x30 && c <= 0x39)) { return false }
            first = false
        }
        return !first
    }

    /// Any other pattern, through a compiled `NSRegularExpression`.
    static func regexMatches(_ value: String, _ pattern: String) -> Bool {
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
