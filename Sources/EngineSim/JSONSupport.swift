import Engines

extension JSONValue {
    /// The member `key` of an object, nil otherwise.
    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The string, nil for other kinds.
    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The number as an integer when it is integral and in range, nil otherwise.
    var int: Int? {
        if case .number(let d) = self, d.rounded() == d, abs(d) < 9e15 { return Int(d) }
        return nil
    }

    /// The number, nil for other kinds.
    var double: Double? {
        if case .number(let d) = self { return d }
        return nil
    }

    /// The boolean, nil for other kinds.
    var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements of an array, nil for other kinds.
    var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The members of an object, nil for other kinds.
    var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// True for JSON null.
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A JSON number from an integer.
    static func int(_ i: Int) -> JSONValue { .number(Double(i)) }
}

extension FlagValue {
    /// The JSON form SGLang's `/server_info` uses for a parsed flag value.
    var serverInfoJSON: JSONValue {
        switch self {
        case .bool(let b): return .bool(b)
        case .int(let i): return .number(Double(i))
        case .float(let d): return .number(d)
        case .string(let s): return .string(s)
        case .json(let j): return j
        case .list(let l): return .array(l.map(\.serverInfoJSON))
        case .templated(let s): return .string(s)
        }
    }
}

/// An error body in the format SGLang's OpenAI layer returns.
func openAIError(_ message: String, status: Int, type: String = "BadRequestError") -> JSONValue {
    .object([
        "object": .string("error"),
        "message": .string(message),
        "type": .string(type),
        "param": .null,
        "code": .int(status),
    ])
}

/// A FastAPI-style `{"detail": ...}` body.
func detail(_ message: String) -> JSONValue {
    .object(["detail": .string(message)])
}
