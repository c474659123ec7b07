public import DeployTemplate

/// Building groups from manifest `args` entries and from argv tokens. Catalog-free.
extension ArgGroup {
    /// Parses one manifest `args` entry into a group, or nil when the entry is not a flag
    /// (`8`, `-1`, empty): the caller reports that as `invalid-value`.
    ///
    /// - `--flag value`, `--flag=value`: the whole remainder is ONE value token, spaces and
    ///   JSON included (`--json-model-override-args {"a": 1}`); list flags are split by the
    ///   checker. A remainder wholly wrapped in `'…'` or `"…"` loses the quotes.
    /// - `--flag`: a presence flag, no values.
    /// - Offsets are in Unicode scalars from the start of `entry`.
    public static func parse(entry: String, origin: Int) -> ArgGroup? {
        var text = entry
        return text.withUTF8 { parse(utf8: $0, origin: origin) }
    }

    /// `parse(entry:origin:)` over the entry's UTF-8 (ASCII whitespace separates).
    private static func parse(utf8 b: UnsafeBufferPointer<UInt8>, origin: Int) -> ArgGroup? {
        var i = 0, end = b.count
        while i < end, isSpace(b[i]) { i += 1 }
        while end > i, isSpace(b[end - 1]) { end -= 1 }
        let flagStart = i
        while i < end, !isSpace(b[i]), b[i] != UInt8(ascii: "=") { i += 1 }
        let flagBytes = UnsafeBufferPointer(rebasing: b[flagStart..<i])
        guard isFlagToken(utf8: flagBytes) else { return nil }
        let flag = String(decoding: flagBytes, as: UTF8.self)
        func scalarOffset(_ byte: Int) -> Int {
            var n = 0
            for k in 0..<byte where b[k] & 0xC0 != 0x80 { n += 1 }
            return n
        }
        let ascii = !b.contains { $0 >= 0x80 }
        let flagOffset = ascii ? flagStart : scalarOffset(flagStart)
        if i >= end {
            return ArgGroup(flag: flag, values: [], origin: origin, flagOffset: flagOffset)
        }
        let attached = b[i] == UInt8(ascii: "=")
        var vs = i + 1, ve = end
        if !attached { while vs < ve, isSpace(b[vs]) { vs += 1 } }
        if ve - vs >= 2, b[vs] == b[ve - 1], b[vs] == UInt8(ascii: "'") || b[vs] == UInt8(ascii: "\""),
           !b[(vs + 1)..<(ve - 1)].contains(b[vs]) {
            vs += 1
            ve -= 1
        }
        let value = String(decoding: UnsafeBufferPointer(rebasing: b[vs..<ve]), as: UTF8.self)
        return ArgGroup(flag: flag, values: [value], attached: attached, origin: origin,
                        flagOffset: flagOffset, valueOffsets: [ascii ? vs : scalarOffset(vs)])
    }

    /// Groups argv tokens (a run-command template after word splitting): a token that
    /// `isFlagToken` starts a group and the following non-flag tokens are its values.
    /// Tokens before the first flag (the command, positionals) belong to no group.
    /// `--k=v` splits into flag and attached value. `origin` maps a token index to the
    /// caller's origin for the group that token starts.
    public static func group(tokens: [(text: String, offset: Int)], origin: (Int) -> Int) -> [ArgGroup] {
        var groups: [ArgGroup] = []
        for (n, tok) in tokens.enumerated() {
            if isFlagToken(tok.text) {
                let scalars = Array(tok.text.unicodeScalars)
                if let eq = scalars.firstIndex(of: "=") {
                    let flag = String(String.UnicodeScalarView(scalars[..<eq]))
                    let value = String(String.UnicodeScalarView(scalars[(eq + 1)...]))
                    groups.append(ArgGroup(flag: flag, values: [value], attached: true, origin: origin(n),
                                           flagOffset: tok.offset, valueOffsets: [tok.offset + eq + 1]))
                } else {
                    groups.append(ArgGroup(flag: tok.text, values: [], origin: origin(n), flagOffset: tok.offset))
                }
            } else if var last = groups.popLast() {
                last.values.append(tok.text)
                last.valueOffsets.append(tok.offset)
                groups.append(last)
            }
        }
        return groups
    }

    /// `group(tokens:origin:)` with one origin for every group (the caller renumbers them).
    public static func group(tokens: [(text: String, offset: Int)], origin: Int) -> [ArgGroup] {
        group(tokens: tokens, origin: { _ in origin })
    }

    /// `group(tokens:origin:)` over `ArgvSplitter` tokens.
    public static func group(tokens: [ArgToken], origin: (Int) -> Int) -> [ArgGroup] {
        group(tokens: tokens.map { (text: $0.text, offset: $0.offset) }, origin: origin)
    }

    /// True when a token starts a flag group: begins with `-`, is longer than `-`, is not
    /// `--` alone and is not a negative number (`-1`, `-0.5`, `-.5`, `-1e3`).
    public static func isFlagToken(_ token: String) -> Bool {
        var t = token
        return t.withUTF8 { isFlagToken(utf8: $0) }
    }

    static func isFlagToken(utf8 t: UnsafeBufferPointer<UInt8>) -> Bool {
        guard t.count > 1, t[0] == UInt8(ascii: "-") else { return false }
        if t.count == 2, t[1] == UInt8(ascii: "-") { return false }
        return !isNegativeNumber(utf8: t)
    }

    /// ASCII whitespace.
    @inline(__always)
    static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || (c >= 0x09 && c <= 0x0D)
    }

    /// True for `-<number>` as Python's argparse recognises negative numbers.
    static func isNegativeNumber(utf8 t: UnsafeBufferPointer<UInt8>) -> Bool {
        guard t.count > 1, t[0] == UInt8(ascii: "-") else { return false }
        var sawDigit = false, sawDot = false, sawExp = false
        var prev = UInt8(ascii: "-")
        for c in t.dropFirst() {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: ".") where !sawDot && !sawExp: sawDot = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                guard sawDigit, !sawExp else { return false }
                sawExp = true
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard prev == UInt8(ascii: "e") || prev == UInt8(ascii: "E") else { return false }
            default: return false
            }
            prev = c
        }
        return sawDigit && !(prev == UInt8(ascii: "e") || prev == UInt8(ascii: "E")
                             || prev == UInt8(ascii: "+") || prev == UInt8(ascii: "-"))
    }

    /// Splits a list value into elements like a shell would (quotes removed, `{{ … }}` kept
    /// whole); on a quoting error, falls back to whitespace splitting.
    public static func splitListValue(_ value: String) -> [String] {
        switch ArgvSplitter.split(value) {
        case .success(let toks): return toks.map(\.text)
        case .failure: return value.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        }
    }
}
