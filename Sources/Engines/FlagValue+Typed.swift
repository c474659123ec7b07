/// Conversions between catalog JSON and typed flag values.
extension FlagValue {
    /// A typed value from a catalog default (`1` for an int flag → `.int(1)`); nil for JSON null.
    public init?(json: JSONValue, type: FlagSpec.ValueType, element: FlagSpec.ValueType? = nil) {
        if case .null = json { return nil }
        switch (json, type) {
        case (.string(let s), .json): self = .string(s)  // a json-or-string flag's plain string
        case (_, .json): self = .json(json)
        case (.bool(let b), _): self = .bool(b)
        case (.number(let d), .float): self = .float(d)
        case (.number(let d), .string): self = .string(JSONValue.number(d).canonicalText)
        case (.number(let d), _):
            if d.rounded() == d, abs(d) < 9.2e18 { self = .int(Int64(d)) } else { self = .float(d) }
        case (.string(let s), _): self = .string(s)
        case (.array(let a), .list):
            let t = element ?? .string
            self = .list(a.compactMap { FlagValue(json: $0, type: t) })
        default: self = .json(json)
        }
    }

    /// The value as JSON (templated values as their text).
    public var jsonValue: JSONValue {
        switch self {
        case .bool(let b): return .bool(b)
        case .int(let i): return .number(Double(i))
        case .float(let d): return .number(d)
        case .string(let s): return .string(s)
        case .json(let j): return j
        case .list(let l): return .array(l.map(\.jsonValue))
        case .templated(let s): return .string(s)
        }
    }

    /// The integer, when this is an int (or an integral float).
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .float(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }

    /// The number as a Double, when this is numeric.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .float(let d): return d
        default: return nil
        }
    }

    /// The boolean, when this is a bool.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The string, when this is a plain string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// True for a value only known at render time.
    public var isTemplated: Bool {
        if case .templated = self { return true }
        return false
    }

    /// Argument tokens that reproduce this value on an engine command line (after the flag).
    public var argumentTokens: [String] {
        switch self {
        case .bool: return []
        case .list(let l): return l.map(\.description)
        default: return [description]
        }
    }
}
