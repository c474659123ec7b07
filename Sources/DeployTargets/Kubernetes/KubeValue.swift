/// A Kubernetes object as plain data: mappings keep the order they were built in, so the YAML and
/// JSON written from one are byte-stable (two renders of the same input are identical).
public indirect enum KubeValue: Sendable, Hashable {
    /// A string (written quoted whenever YAML could read it as anything else).
    case string(String)
    /// An integer.
    case int(Int)
    /// A boolean.
    case bool(Bool)
    /// A sequence.
    case list([KubeValue])
    /// A mapping, in the order written.
    case map([KubeField])

    /// The value at `key` of a mapping (tests and the CLI read objects back).
    public subscript(key: String) -> KubeValue? {
        guard case .map(let fields) = self else { return nil }
        return fields.first { $0.key == key }?.value
    }

    /// The string of a `.string`.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    /// A mapping of strings, sorted by key (labels, annotations, selectors).
    public static func sorted(_ m: [String: String]) -> KubeValue {
        .map(m.sorted { $0.key < $1.key }.map { KubeField($0.key, .string($0.value)) })
    }
}

/// One key of a mapping.
public struct KubeField: Sendable, Hashable {
    /// The key.
    public var key: String
    /// Its value.
    public var value: KubeValue

    /// Creates a field.
    public init(_ key: String, _ value: KubeValue) {
        self.key = key
        self.value = value
    }
}

extension KubeValue {
    /// Block-style YAML (two-space indent, lists at their key's indentation, as kubectl writes them).
    public var yaml: String {
        var out = ""
        KubeValue.writeYAML(self, indent: 0, into: &out, inList: false)
        return out
    }

    private static func writeYAML(_ v: KubeValue, indent: Int, into out: inout String, inList: Bool) {
        let pad = String(repeating: " ", count: indent)
        switch v {
        case .map(let fields):
            if fields.isEmpty { out += "{}\n"; return }
            for (i, f) in fields.enumerated() {
                if !(inList && i == 0) { out += pad }
                out += yamlString(f.key) + ":"
                writeChild(f.value, indent: indent, nestedMapIndent: indent + 2, into: &out)
            }
        case .list(let items):
            if items.isEmpty { out += "[]\n"; return }
            for (i, item) in items.enumerated() {
                if !(inList && i == 0) { out += pad }
                out += "- "
                switch item {
                case .map(let f) where !f.isEmpty: writeYAML(item, indent: indent + 2, into: &out, inList: true)
                case .list(let l) where !l.isEmpty: writeYAML(item, indent: indent + 2, into: &out, inList: true)
                default: out += scalar(item) + "\n"
                }
            }
        default:
            out += scalar(v) + "\n"
        }
    }

    /// A mapping's value: scalars and empty collections on the key's line, lists at the key's
    /// indentation, mappings two spaces in.
    private static func writeChild(_ v: KubeValue, indent: Int, nestedMapIndent: Int, into out: inout String) {
        switch v {
        case .map(let f) where !f.isEmpty:
            out += "\n"
            writeYAML(v, indent: nestedMapIndent, into: &out, inList: false)
        case .list(let l) where !l.isEmpty:
            out += "\n"
            writeYAML(v, indent: indent, into: &out, inList: false)
        case .map: out += " {}\n"
        case .list: out += " []\n"
        default: out += " " + scalar(v) + "\n"
        }
    }

    private static func scalar(_ v: KubeValue) -> String {
        switch v {
        case .string(let s): return yamlString(s)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .map: return "{}"
        case .list: return "[]"
        }
    }

    /// Words YAML 1.1 or 1.2 reads as something other than a string when plain.
    private static let reserved: Set<String> = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "",
    ]

    /// `s` plain when every YAML reader takes it for that very string, else double-quoted with JSON escapes.
    static func yamlString(_ s: String) -> String {
        if isPlainSafe(s) { return s }
        return jsonString(s)
    }

    private static func isPlainSafe(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, !reserved.contains(s.lowercased()) else { return false }
        // Letters first (never a number, a date, an indicator); then only characters without meaning to YAML.
        guard ("a"..."z").contains(first) || ("A"..."Z").contains(first) || first == "/" else { return false }
        for c in s.unicodeScalars {
            let ok = ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
                || c == "-" || c == "_" || c == "." || c == "/"
            if !ok { return false }
        }
        // `.inf`/`.nan` start with a dot (refused above); `e1`-style floats start with a digit (refused above).
        return true
    }

    /// A JSON string literal (also a valid YAML double-quoted scalar).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7F || (0x80...0x9F).contains(c.value) || c.value == 0x2028 || c.value == 0x2029
                    || c.value == 0xFEFF {
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    /// Pretty JSON in the same key order (two-space indent, trailing newline at the top level only).
    public var json: String {
        var out = ""
        KubeValue.writeJSON(self, indent: 0, into: &out)
        return out
    }

    private static func writeJSON(_ v: KubeValue, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent + 2)
        let close = String(repeating: " ", count: indent)
        switch v {
        case .map(let fields):
            if fields.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, f) in fields.enumerated() {
                out += pad + jsonString(f.key) + ": "
                writeJSON(f.value, indent: indent + 2, into: &out)
                out += i == fields.count - 1 ? "\n" : ",\n"
            }
            out += close + "}"
        case .list(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                writeJSON(item, indent: indent + 2, into: &out)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += close + "]"
        case .string(let s): out += jsonString(s)
        case .int(let i): out += String(i)
        case .bool(let b): out += b ? "true" : "false"
        }
    }
}
