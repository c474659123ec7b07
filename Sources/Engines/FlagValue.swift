/// A typed engine-flag value in canonical form: numbers as numbers, JSON structurally.
///
/// Two spellings of the same value (`0.85` and `.85`, `8` and `08`, `{"a":1}` and `{ "a": 1 }`)
/// compare equal once canonicalised. The canonical text (`description`) is what plans and diffs print.
public enum FlagValue: Hashable, Sendable, Codable, CustomStringConvertible {
    /// A presence or boolean flag (`--x` → true, `--no-x` → false).
    case bool(Bool)
    /// An integer (suffixes like `1M` already expanded where the flag accepts them).
    case int(Int64)
    /// A floating-point number.
    case float(Double)
    /// A string; for case-insensitive choices, already normalised to the catalog's spelling.
    case string(String)
    /// A JSON document, compared structurally.
    case json(JSONValue)
    /// A list value (nargs `+` / `*`), in order.
    case list([FlagValue])
    /// The value contains a `{{placeholder}}` that is only known at render time; kept verbatim.
    case templated(String)

    /// Canonical text: what plans, diffs and JSON output print.
    public var description: String {
        switch self {
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .float(let d):
            if d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) + ".0" }
            return String(d)
        case .string(let s): return s
        case .json(let j): return j.canonicalText
        case .list(let l): return l.map(\.description).joined(separator: " ")
        case .templated(let s): return s
        }
    }
}

/// A JSON value with structural equality (object key order does not matter).
public enum JSONValue: Hashable, Sendable, Codable {
    /// `null`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A number (integers included).
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object (key order not significant).
    case object([String: JSONValue])

    /// Compact JSON text with object keys sorted; equal values give equal text.
    public var canonicalText: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d):
            if d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) }
            return String(d)
        case .string(let s): return JSONValue.quote(s)
        case .array(let a): return "[" + a.map(\.canonicalText).joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.sorted { $0.key < $1.key }.map { JSONValue.quote($0.key) + ":" + $0.value.canonicalText }
                .joined(separator: ",") + "}"
        }
    }

    /// JSON string literal with the escapes JSON requires.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// Encodes as the JSON value itself.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
