import Engines

/// GPUStack-specific conveniences over `JSONValue`'s accessors for REST bodies (objects are read,
/// modified and written back whole, so unknown fields survive a read–modify–write).
extension JSONValue {
    /// The elements of an array (empty for anything else).
    var elements: [JSONValue] { array ?? [] }

    /// The members of an object (empty for anything else).
    var members: [String: JSONValue] { object ?? [:] }

    /// An array of strings (non-strings are skipped).
    var strings: [String] { elements.compactMap(\.string) }

    /// An object of string values (non-strings are skipped).
    var stringMap: [String: String] { members.compactMapValues(\.string) }

    /// A JSON string array.
    static func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }

    /// A JSON object of strings.
    static func stringMap(_ m: [String: String]) -> JSONValue { .object(m.mapValues { .string($0) }) }

    /// The value with `key` set (self must be an object; anything else becomes one).
    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        var o = members
        o[key] = value
        return .object(o)
    }
}
