/// YAML 1.2 core-schema resolution of scalars.
///
/// - Plain untagged scalars: `null`/`Null`/`NULL`/`~`/empty → null; `true`/`True`/`TRUE`
///   (and false) → bool; `[-+]?[0-9]+`, `0x[0-9a-fA-F]+`, `0o[0-7]+` → int (an int that does
///   not fit Int64 becomes a float); decimal floats with optional exponent, `[-+]?.inf`,
///   `.nan` (each in the three spellings) → float; anything else → string.
/// - Quoted and block scalars without a tag → string.
/// - Explicit tags: `!!str`, `!` → string; `!!int`, `!!float`, `!!bool`, `!!null` → that type
///   when the text is valid for it, else string (the schema layer then reports the type);
///   unknown tags → string.
extension YAMLScalar {
    /// The scalar's value under the YAML 1.2 core schema (see the extension's doc).
    var resolved: Resolved {
        guard let tag else {
            return style == .plain ? Self.resolvePlain(value) : .string(value)
        }
        let core = Self.resolvePlain(value)
        switch tag {
        case "tag:yaml.org,2002:int":
            if case .int = core { return core }
        case "tag:yaml.org,2002:float":
            switch core {
            case .float: return core
            case .int(let i): return .float(Double(i))
            default: break
            }
        case "tag:yaml.org,2002:bool":
            if case .bool = core { return core }
        case "tag:yaml.org,2002:null":
            if case .null = core { return core }
        default:
            break
        }
        return .string(value)
    }

    /// True when the scalar resolves to null (cheap check used for mapping keys).
    var isNull: Bool {
        if let tag { return tag == "tag:yaml.org,2002:null" && Self.isNullText(value) }
        return style == .plain && Self.isNullText(value)
    }

    private static func isNullText(_ s: String) -> Bool {
        switch s.utf8.count {
        case 0: return true
        case 1: return s == "~"
        case 4: return s == "null" || s == "Null" || s == "NULL"
        default: return false
        }
    }

    /// Core-schema resolution of plain text.
    static func resolvePlain(_ s: String) -> Resolved {
        guard let first = s.utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"):
            return isNullText(s) ? .null : .string(s)
        case UInt8(ascii: "t"), UInt8(ascii: "T"):
            return s == "true" || s == "True" || s == "TRUE" ? .bool(true) : .string(s)
        case UInt8(ascii: "f"), UInt8(ascii: "F"):
            return s == "false" || s == "False" || s == "FALSE" ? .bool(false) : .string(s)
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."):
            return resolveNumber(s) ?? .string(s)
        default:
            return .string(s)
        }
    }

    private static func resolveNumber(_ s: String) -> Resolved? {
        // Reads the string's own bytes where it has them (no array copy per scalar).
        if let resolved = s.utf8.withContiguousStorageIfAvailable({ resolveNumber(s, bytes: $0) }) {
            return resolved
        }
        return resolveNumber(s, bytes: Array(s.utf8))
    }

    private static func resolveNumber<Bytes: RandomAccessCollection>(_ s: String, bytes: Bytes) -> Resolved?
        where Bytes.Element == UInt8, Bytes.Index == Int {
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0") {
            let digits = String(decoding: bytes[2...], as: UTF8.self)
            if bytes[1] == UInt8(ascii: "x"), bytes[2...].allSatisfy(\.isHexDigit) {
                return Int64(digits, radix: 16).map(Resolved.int)
                    ?? UInt64(digits, radix: 16).map { .float(Double($0)) } ?? .float(.infinity)
            }
            if bytes[1] == UInt8(ascii: "o"), bytes[2...].allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) {
                return Int64(digits, radix: 8).map(Resolved.int)
                    ?? UInt64(digits, radix: 8).map { .float(Double($0)) } ?? .float(.infinity)
            }
        }
        var i = 0
        let signed = bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+")
        if signed { i = 1 }
        // `.inf` and `.nan` spellings are 4 bytes: only then is the rest worth a string.
        if bytes.count - i == 4, bytes[i] == UInt8(ascii: ".") {
            let rest = String(decoding: bytes[i...], as: UTF8.self)
            if rest == ".inf" || rest == ".Inf" || rest == ".INF" {
                return .float(bytes[0] == UInt8(ascii: "-") ? -.infinity : .infinity)
            }
            if !signed, rest == ".nan" || rest == ".NaN" || rest == ".NAN" { return .float(.nan) }
        }
        let intStart = i
        while i < bytes.count, bytes[i].isDigit { i += 1 }
        let intDigits = i - intStart
        if i == bytes.count {
            guard intDigits > 0 else { return nil }
            return Int64(s).map(Resolved.int) ?? Double(s).map(Resolved.float)
        }
        var fracDigits = 0
        if bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, bytes[i].isDigit { i += 1; fracDigits += 1 }
        }
        guard intDigits > 0 || fracDigits > 0 else { return nil }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            let expStart = i
            while i < bytes.count, bytes[i].isDigit { i += 1 }
            guard i > expStart else { return nil }
        }
        guard i == bytes.count else { return nil }
        return Double(s).map(Resolved.float)
    }
}

extension UInt8 {
    fileprivate var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    fileprivate var isHexDigit: Bool {
        isDigit || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66)
    }
}
