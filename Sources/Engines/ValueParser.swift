/// Scalar value syntax as the engines' parsers accept it (Python `int()`/`float()`,
/// SGLang/vLLM `human_readable_int`, boolean words).
enum ValueParser {
    /// Python `int()`: surrounding whitespace, optional sign, digits with single `_`
    /// between digits, leading zeros allowed (`08` is 8).
    static func pythonInt(_ text: String) -> Int64? {
        let t = text.trimmingWhitespace()
        var body = Substring(t)
        var negative = false
        if let f = body.first, f == "+" || f == "-" { negative = f == "-"; body = body.dropFirst() }
        guard let digits = digitsWithUnderscores(body) else { return nil }
        guard let magnitude = UInt64(digits), magnitude <= UInt64(Int64.max) + (negative ? 1 : 0) else {
            return nil
        }
        return negative ? (magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
                        : Int64(magnitude)
    }

    /// Python `float()`: decimal or exponent forms (`.85`, `0.850`, `1e-3`, `1_0.5`), `inf`, `nan`.
    static func pythonFloat(_ text: String) -> Double? {
        let t = text.trimmingWhitespace()
        var body = Substring(t)
        var sign = ""
        if let f = body.first, f == "+" || f == "-" { sign = f == "-" ? "-" : ""; body = body.dropFirst() }
        switch body.lowercased() {
        case "inf", "infinity": return sign == "-" ? -.infinity : .infinity
        case "nan": return .nan
        default: break
        }
        var mantissa = body, exponent: Substring = ""
        if let e = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = body[..<e]
            exponent = body[body.index(after: e)...]
            if let f = exponent.first, f == "+" || f == "-" { exponent = exponent.dropFirst() }
            guard digitsWithUnderscores(exponent) != nil else { return nil }
        }
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let intPart = parts[0], fracPart = parts.count > 1 ? parts[1] : ""
        guard !(intPart.isEmpty && fracPart.isEmpty) else { return nil }
        if !intPart.isEmpty, digitsWithUnderscores(intPart) == nil { return nil }
        if !fracPart.isEmpty, digitsWithUnderscores(fracPart) == nil { return nil }
        return Double(sign + t.drop { $0 == "+" || $0 == "-" || $0.isWhitespace }
            .filter { $0 != "_" })
    }

    /// Boolean words an engine's `bool`-typed value accepts.
    static func bool(_ text: String) -> Bool? {
        switch text.trimmingWhitespace().lowercased() {
        case "true", "1", "yes", "on", "y", "t": return true
        case "false", "0", "no", "off", "n", "f": return false
        default: return nil
        }
    }

    /// An int with the engine's human-readable suffixes, or a message saying why not.
    static func humanReadableInt(_ text: String, style: FlagSpec.SuffixStyle) -> Result<Int64, Problem> {
        if let i = pythonInt(text) { return .success(i) }
        let t = text.trimmingWhitespace()
        let numberEnd = t.firstIndex { !($0.isASCII && ($0.isNumber || $0 == ".")) } ?? t.endIndex
        let number = t[..<numberEnd], suffix = String(t[numberEnd...])
        let isDecimal = number.contains(".")
        let wellFormed = !number.isEmpty && number.first != "." && number.last != "."
            && number.filter({ $0 == "." }).count <= 1
        let table: [String: (Double, Bool)]  // multiplier, decimals allowed
        switch style {
        case .siIEC:
            table = ["k": (1e3, true), "M": (1e6, true), "G": (1e9, true), "T": (1e12, true),
                     "Ki": (1024, false), "Mi": (1_048_576, false), "Gi": (1_073_741_824, false),
                     "Ti": (1_099_511_627_776, false)]
        case .vllm:
            table = ["k": (1e3, true), "m": (1e6, true), "g": (1e9, true), "t": (1e12, true),
                     "K": (1024, false), "M": (1_048_576, false), "G": (1_073_741_824, false),
                     "T": (1_099_511_627_776, false)]
        }
        let rule = style == .siIEC
            ? "suffixes are case-sensitive: k, M, G, T (×1000ⁿ, decimals allowed) and Ki, Mi, Gi, Ti (×1024ⁿ)"
            : "suffixes: k, m, g, t (×1000ⁿ, decimals allowed) and K, M, G, T (×1024ⁿ)"
        guard wellFormed, let (mult, decimals) = table[suffix], let n = Double(number) else {
            return .failure(Problem(message: "not an integer", notes: [rule]))
        }
        if isDecimal && !decimals {
            return .failure(Problem(message: "decimals are not allowed with the binary suffix '\(suffix)'",
                                    notes: [rule]))
        }
        let v = (n * mult).rounded(.towardZero)
        guard v.isFinite, abs(v) < 9.2e18 else { return .failure(Problem(message: "out of range", notes: [])) }
        return .success(Int64(v))
    }

    /// A parse problem: message plus notes.
    struct Problem: Error, Hashable {
        var message: String
        var notes: [String]
    }

    /// The digits of `s` with `_` removed, when `s` is digits with single underscores between them.
    private static func digitsWithUnderscores(_ s: Substring) -> String? {
        guard let first = s.first, let last = s.last, first != "_", last != "_" else { return nil }
        var out = ""
        var prevUnderscore = false
        for c in s {
            if c == "_" {
                if prevUnderscore { return nil }
                prevUnderscore = true
            } else if c.isASCII, c.isNumber {
                out.append(c)
                prevUnderscore = false
            } else {
                return nil
            }
        }
        return out
    }
}

extension String {
    /// The string without leading and trailing whitespace.
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[start...end])
    }
}
