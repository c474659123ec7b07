/// Scalar value syntax as the engines' parsers accept it (Python `int()`/`float()`,
/// SGLang/vLLM `human_readable_int`, boolean words).
enum ValueParser {
    /// Python `int()`: surrounding whitespace, optional sign, digits with single `_`
    /// between digits, leading zeros allowed (`08` is 8).
    static func pythonInt(_ text: String) -> Int64? {
        var t = text
        return t.withUTF8 { b -> Int64? in
            var i = 0, end = b.count
            while i < end, ArgGroup.isSpace(b[i]) { i += 1 }
            while end > i, ArgGroup.isSpace(b[end - 1]) { end -= 1 }
            var negative = false
            if i < end, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                negative = b[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < end, b[i] != UInt8(ascii: "_"), b[end - 1] != UInt8(ascii: "_") else { return nil }
            var magnitude: UInt64 = 0
            var prevUnderscore = false
            for k in i..<end {
                let c = b[k]
                if c == UInt8(ascii: "_") {
                    if prevUnderscore { return nil }
                    prevUnderscore = true
                    continue
                }
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                prevUnderscore = false
                let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
                if o1 || o2 { return nil }
                magnitude = m2
            }
            if negative {
                if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
                return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : nil
            }
            return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
        }
    }

    /// Python `float()`: decimal or exponent forms (`.85`, `0.850`, `1e-3`, `1_0.5`), `inf`, `nan`.
    static func pythonFloat(_ text: String) -> Double? {
        var t = text
        let cleaned: String? = t.withUTF8 { b -> String? in
            var i = 0, end = b.count
            while i < end, ArgGroup.isSpace(b[i]) { i += 1 }
            while end > i, ArgGroup.isSpace(b[end - 1]) { end -= 1 }
            var out: [UInt8] = []
            out.reserveCapacity(end - i)
            if i < end, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { out.append(b[i]); i += 1 }
            let word = String(decoding: UnsafeBufferPointer(rebasing: b[i..<end]), as: UTF8.self).lowercased()
            if ["inf", "infinity", "nan"].contains(word) { return String(decoding: out, as: UTF8.self) + word }
            // digits ['.' digits] [e [sign] digits], '_' only between digits
            var digitsBefore = 0, digitsAfter = 0, k = i
            func digits(_ count: inout Int) -> Bool {
                while k < end {
                    let c = b[k]
                    if c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { out.append(c); count += 1; k += 1 }
                    else if c == UInt8(ascii: "_"), count > 0, k + 1 < end,
                            b[k + 1] >= UInt8(ascii: "0"), b[k + 1] <= UInt8(ascii: "9") { k += 1 }
                    else { break }
                }
                return true
            }
            _ = digits(&digitsBefore)
            if k < end, b[k] == UInt8(ascii: ".") { out.append(b[k]); k += 1; _ = digits(&digitsAfter) }
            guard digitsBefore + digitsAfter > 0 else { return nil }
            if k < end, b[k] == UInt8(ascii: "e") || b[k] == UInt8(ascii: "E") {
                out.append(UInt8(ascii: "e"))
                k += 1
                if k < end, b[k] == UInt8(ascii: "+") || b[k] == UInt8(ascii: "-") { out.append(b[k]); k += 1 }
                var expDigits = 0
                _ = digits(&expDigits)
                guard expDigits > 0 else { return nil }
            }
            guard k == end else { return nil }
            return String(decoding: out, as: UTF8.self)
        }
        return cleaned.flatMap { Double($0) }
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

extension String {
    /// True when the text contains `{{` (a template placeholder); a byte scan, no String search.
    var hasPlaceholder: Bool {
        // Over the contiguous bytes when there are (native and small strings): the checker asks this
        // of every flag and value, and walking the UTF8View costs about ten times more per byte.
        if let found = utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            guard bytes.count > 1 else { return false }
            for i in 1..<bytes.count where bytes[i] == UInt8(ascii: "{") && bytes[i - 1] == UInt8(ascii: "{") {
                return true
            }
            return false
        }) {
            return found
        }
        var prev: UInt8 = 0
        for c in utf8 {
            if c == UInt8(ascii: "{"), prev == UInt8(ascii: "{") { return true }
            prev = c
        }
        return false
    }
}
