import Engines

extension JSONValue {
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
