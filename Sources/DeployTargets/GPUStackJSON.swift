import Engines

/// Small accessors over `JSONValue` for GPUStack's REST bodies (objects are read, modified and
/// written back whole, so unknown fields survive a read–modify–write).
extension JSONValue {
    /// The member `key` of an object, or nil.
    subscript(gs key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The string, or nil (also for `null`).
    var gsString: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer value of a number, or nil.
    var gsInt: Int? {
        if case .number(let d) = self, d.rounded() == d, abs(d) < 1e15 { return Int(d) }
        return nil
    }

    /// The elements of an array (empty for anything else).
    var gsArray: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }

    /// The members of an object (empty for anything else).
    var gsObject: [String: JSONValue] {
        if case .object(let o) = self { return o }
        return [:]
    }

    /// True for `null`.
    var gsIsNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// An array of strings (non-strings are skipped).
    var gsStrings: [String] { gsArray.compactMap(\.gsString) }

    /// An object of string values (non-strings are skipped).
    var gsStringMap: [String: String] { gsObject.compactMapValues(\.gsString) }

    /// A JSON string array.
    static func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }

    /// A JSON object of strings.
    static func stringMap(_ m: [String: String]) -> JSONValue { .object(m.mapValues { .string($0) }) }

    /// The value with `key` set (self must be an object; anything else becomes one).
    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        var o = gsObject
        o[key] = value
        return .object(o)
    }
}
