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
        let s = Array(entry.unicodeScalars)
        var i = 0
        while i < s.count, s[i].properties.isWhitespace { i += 1 }
        var end = s.count
        while end > i, s[end - 1].properties.isWhitespace { end -= 1 }
        let flagStart = i
        while i < end, !s[i].properties.isWhitespace, s[i] != "=" { i += 1 }
        let flag = String(String.UnicodeScalarView(s[flagStart..<i]))
        guard isFlagToken(flag) else { return nil }
        if i >= end {
            return ArgGroup(flag: flag, values: [], origin: origin, flagOffset: flagStart)
        }
        let attached = s[i] == "="
        var v = i + 1
        if !attached { while v < end, s[v].properties.isWhitespace { v += 1 } }
        var (vs, ve) = (v, end)
        if ve - vs >= 2, s[vs] == s[ve - 1], s[vs] == "'" || s[vs] == "\"",
           !s[(vs + 1)..<(ve - 1)].contains(s[vs]) {
            vs += 1
            ve -= 1
        }
        let value = String(String.UnicodeScalarView(s[vs..<ve]))
        return ArgGroup(flag: flag, values: [value], attached: attached, origin: origin,
                        flagOffset: flagStart, valueOffsets: [vs])
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

    /// `group(tokens:origin:)` over `ArgvSplitter` tokens.
    public static func group(tokens: [ArgToken], origin: (Int) -> Int) -> [ArgGroup] {
        group(tokens: tokens.map { (text: $0.text, offset: $0.offset) }, origin: origin)
    }

    /// True when a token starts a flag group: begins with `-`, is longer than `-`, is not
    /// `--` alone and is not a negative number (`-1`, `-0.5`, `-.5`, `-1e3`).
    public static func isFlagToken(_ token: String) -> Bool {
        guard token.hasPrefix("-"), token.count > 1, token != "--" else { return false }
        return !isNegativeNumber(token)
    }

    /// True for `-<number>` as Python's argparse recognises negative numbers.
    static func isNegativeNumber(_ token: String) -> Bool {
        let body = token.dropFirst()
        guard token.hasPrefix("-"), !body.isEmpty else { return false }
        var sawDigit = false, sawDot = false, sawExp = false
        var prev: Character = "-"
        for c in body {
            if c.isASCII, c.isNumber { sawDigit = true }
            else if c == ".", !sawDot, !sawExp { sawDot = true }
            else if c == "e" || c == "E", sawDigit, !sawExp { sawExp = true }
            else if (c == "+" || c == "-"), prev == "e" || prev == "E" { }
            else { return false }
            prev = c
        }
        return sawDigit && !(prev == "e" || prev == "E" || prev == "+" || prev == "-")
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
