/// A small strict JSON parser producing `JSONValue` (RFC 8259; no comments, no NaN).
///
/// Used for the bundled catalogs (faster than `Codable` for these files, and it keeps
/// booleans and numbers apart, which `JSONSerialization` does not on Linux) and for
/// JSON-typed flag values.
struct JSONReader {
    /// A parse failure with the scalar offset where it happened.
    struct Failure: Error, Sendable {
        var message: String
        var offset: Int
    }

    private let bytes: [UInt8]
    private(set) var pos = 0
    private var depth = 0

    /// Parses one JSON document; trailing non-space bytes are an error.
    static func parse(_ text: String) throws(Failure) -> JSONValue {
        try parse(bytes: Array(text.utf8))
    }

    /// Parses one JSON document from UTF-8 bytes.
    static func parse(bytes: [UInt8]) throws(Failure) -> JSONValue {
        var reader = JSONReader(bytes: bytes)
        reader.skipSpace()
        let value = try reader.value()
        reader.skipSpace()
        if reader.pos != bytes.count { throw reader.fail("unexpected text after the JSON value") }
        return value
    }

    /// A cursor at the start of `bytes` (for the pull API below).
    init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: - Pull API (used to decode catalogs without building intermediate dictionaries)

    /// Consumes `{`.
    mutating func beginObject() throws(Failure) {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "{") else { throw fail("expected an object") }
        pos += 1
        first = true
    }

    /// The next key of the current object (consuming its `:`), or nil after the closing `}`.
    mutating func nextKey() throws(Failure) -> String? {
        guard try more(close: UInt8(ascii: "}")) else { return nil }
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        let key = try string()
        skipSpace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
        pos += 1
        skipSpace()
        return key
    }

    /// Consumes `[`.
    mutating func beginArray() throws(Failure) {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "[") else { throw fail("expected an array") }
        pos += 1
        first = true
    }

    /// True when the current array has another element (positioned at it).
    mutating func nextElement() throws(Failure) -> Bool {
        try more(close: UInt8(ascii: "]"))
    }

    /// Reads a string value.
    mutating func readString() throws(Failure) -> String {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        return try string()
    }

    /// Reads an array of strings.
    mutating func readStringArray() throws(Failure) -> [String] {
        try beginArray()
        var out: [String] = []
        while try nextElement() { out.append(try readString()) }
        first = false
        return out
    }

    /// Reads any value.
    mutating func readValue() throws(Failure) -> JSONValue {
        skipSpace()
        let v = try value()
        first = false
        return v
    }

    /// Shared by `nextKey`/`nextElement`: skips `,` between members; false at the closer.
    private mutating func more(close: UInt8) throws(Failure) -> Bool {
        skipSpace()
        guard pos < bytes.count else { throw fail("unexpected end of JSON") }
        if bytes[pos] == close { pos += 1; first = false; return false }
        if !first {
            guard bytes[pos] == UInt8(ascii: ",") else { throw fail("expected ','") }
            pos += 1
            skipSpace()
        }
        first = false
        return true
    }

    private var first = true

    private func fail(_ message: String) -> Failure {
        // Report the position in Unicode scalars, not bytes.
        let scalars = bytes[..<min(pos, bytes.count)].reduce(0) { $1 & 0xC0 == 0x80 ? $0 : $0 + 1 }
        return Failure(message: message, offset: scalars)
    }

    private mutating func skipSpace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private mutating func value() throws(Failure) -> JSONValue {
        guard pos < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw fail("invalid literal") }
        let ok = word.withUTF8Buffer { w in (0..<n).allSatisfy { bytes[pos + $0] == w[$0] } }
        guard ok else { throw fail("invalid literal") }
        pos += n
    }

    private mutating func object() throws(Failure) -> JSONValue {
        depth += 1
        guard depth < 512 else { throw fail("JSON nested too deeply") }
        defer { depth -= 1 }
        pos += 1
        var out: [String: JSONValue] = [:]
        skipSpace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(out) }
        while true {
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try string()
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            pos += 1
            skipSpace()
            out[key] = try value()
            skipSpace()
            guard pos < bytes.count else { throw fail("unterminated object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(out) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array() throws(Failure) -> JSONValue {
        depth += 1
        guard depth < 512 else { throw fail("JSON nested too deeply") }
        defer { depth -= 1 }
        pos += 1
        var out: [JSONValue] = []
        skipSpace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(out) }
        while true {
            skipSpace()
            out.append(try value())
            skipSpace()
            guard pos < bytes.count else { throw fail("unterminated array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(out) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func number() throws(Failure) -> Double {
        let start = pos
        func digits(_ r: inout Int) -> Int {
            let s = r
            while r < bytes.count, bytes[r] >= 0x30, bytes[r] <= 0x39 { r += 1 }
            return r - s
        }
        var r = pos
        if r < bytes.count, bytes[r] == UInt8(ascii: "-") { r += 1 }
        let intStart = r
        guard digits(&r) > 0 else { throw fail("invalid value") }
        if bytes[intStart] == 0x30, r - intStart > 1 { throw fail("leading zeros are not allowed in JSON") }
        if r < bytes.count, bytes[r] == UInt8(ascii: ".") {
            r += 1
            guard digits(&r) > 0 else { throw fail("invalid number") }
        }
        if r < bytes.count, bytes[r] == UInt8(ascii: "e") || bytes[r] == UInt8(ascii: "E") {
            r += 1
            if r < bytes.count, bytes[r] == UInt8(ascii: "+") || bytes[r] == UInt8(ascii: "-") { r += 1 }
            guard digits(&r) > 0 else { throw fail("invalid number") }
        }
        pos = r
        guard let d = Double(String(decoding: bytes[start..<r], as: UTF8.self)) else {
            throw fail("invalid number")
        }
        return d
    }

    private mutating func string() throws(Failure) -> String {
        pos += 1
        let start = pos
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: bytes[start..<pos], as: UTF8.self)
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") { return try escapedString(from: start) }
            if b < 0x20 { throw fail("control character in string") }
            pos += 1
        }
        throw fail("unterminated string")
    }

    private mutating func escapedString(from start: Int) throws(Failure) -> String {
        var out = Array(bytes[start..<pos])
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; return String(decoding: out, as: UTF8.self) }
            if b < 0x20 { throw fail("control character in string") }
            guard b == UInt8(ascii: "\\") else { out.append(b); pos += 1; continue }
            guard pos + 1 < bytes.count else { break }
            let e = bytes[pos + 1]
            pos += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), pos + 1 < bytes.count,
                   bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid surrogate pair") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw fail("invalid escape in string")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("invalid \\u escape") }
        var v: UInt32 = 0
        for b in bytes[pos..<pos + 4] {
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x41...0x46: d = b - 0x41 + 10
            case 0x61...0x66: d = b - 0x61 + 10
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
        }
        pos += 4
        return v
    }
}

/// Typed access to parsed JSON (shared by the simulator, config read-back and the GPUStack client).
extension JSONValue {
    /// The member `key` of an object, nil otherwise.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The string, nil for other kinds.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The number as an integer when it is integral and in range, nil otherwise.
    public var int: Int? {
        if case .number(let d) = self, d.rounded() == d, abs(d) < 9e15 { return Int(d) }
        return nil
    }

    /// The number, nil for other kinds.
    public var double: Double? {
        if case .number(let d) = self { return d }
        return nil
    }

    /// The boolean, nil for other kinds.
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements of an array, nil for other kinds.
    public var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The members of an object, nil for other kinds.
    public var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// True for JSON null.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension JSONValue {
    /// Parses one strict JSON document from UTF-8 bytes; nil when the bytes are not valid JSON.
    public static func parse(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONReader.parse(bytes: bytes)
    }
}
