/// One argv word of a command, with where it starts in the command.
public struct ArgToken: Sendable, Hashable {
    /// The word after quote removal (placeholders still unrendered).
    public var text: String
    /// Offset in Unicode scalars of the word's first character in the command (its opening
    /// quote, if it starts with one).
    public var offset: Int
    /// Source offset of each scalar of `text`; empty when `text` is a verbatim slice.
    var sourceMap: [Int]

    /// Creates a token whose text is a verbatim slice of the command at `offset`.
    public init(text: String, offset: Int) {
        self.text = text
        self.offset = offset
        self.sourceMap = []
    }

    init(text: String, offset: Int, sourceMap: [Int]) {
        self.text = text
        self.offset = offset
        self.sourceMap = sourceMap
    }

    /// The command offset of the scalar at `textOffset` in `text` (accounts for removed
    /// quotes and backslashes); use it to place carets for placeholders inside the token.
    public func sourceOffset(of textOffset: Int) -> Int {
        guard !sourceMap.isEmpty else { return offset + textOffset }
        if textOffset >= 0, textOffset < sourceMap.count { return sourceMap[textOffset] }
        return textOffset < 0 ? offset : (sourceMap.last ?? offset) + 1
    }
}

/// POSIX-shell-like word splitting with NO expansion of any kind.
///
/// Words are separated by spaces, tabs and newlines. `'…'` keeps everything literally;
/// `"…"` keeps everything literally except `\"`, `\\`, `\$`, `` \` `` and backslash-newline;
/// outside quotes a backslash quotes the next character and backslash-newline joins lines.
/// `$VAR`, `$(…)`, backticks, globs, `~`, `;`, `|`, `&`, `>` are ordinary characters: nothing
/// is ever run through a shell. A `{{ … }}` placeholder is kept whole even if it has inner
/// spaces, so `--port {{ port }}` is two words.
public enum ArgvSplitter {
    /// Splits `command` into words, or fails on an unterminated quote or trailing backslash.
    public static func split(_ command: String) -> Result<[ArgToken], TemplateError> {
        let s = Array(command.unicodeScalars)
        let n = s.count
        var tokens: [ArgToken] = []
        var word = String.UnicodeScalarView()
        var map: [Int] = []
        var inWord = false, verbatim = true, start = 0
        var i = 0

        func flush() {
            if inWord {
                tokens.append(ArgToken(text: String(word), offset: start, sourceMap: verbatim ? [] : map))
            }
            word = String.UnicodeScalarView()
            map.removeAll()
            inWord = false
            verbatim = true
        }
        func take(_ j: Int) {
            word.append(s[j])
            map.append(j)
        }

        while i < n {
            let c = s[i]
            if c == "\\", i + 1 < n, s[i + 1] == "\n" {
                verbatim = false
                i += 2
                continue
            }
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                flush()
                i += 1
                continue
            }
            if !inWord {
                inWord = true
                start = i
            }
            switch c {
            case "'":
                guard let close = s[(i + 1)...].firstIndex(of: "'") else {
                    return .failure(TemplateError(.unterminatedQuote, "unterminated single quote", offset: i))
                }
                for j in (i + 1)..<close { take(j) }
                verbatim = false
                i = close + 1
            case "\"":
                var j = i + 1
                while j < n, s[j] != "\"" {
                    if s[j] == "\\", j + 1 < n, "\"\\$`\n".unicodeScalars.contains(s[j + 1]) {
                        if s[j + 1] != "\n" { take(j + 1) }
                        j += 2
                    } else {
                        take(j)
                        j += 1
                    }
                }
                guard j < n else {
                    return .failure(TemplateError(.unterminatedQuote, "unterminated double quote", offset: i))
                }
                verbatim = false
                i = j + 1
            case "\\":
                guard i + 1 < n else {
                    return .failure(TemplateError(.danglingBackslash,
                        "backslash at the end of the command escapes nothing", offset: i))
                }
                take(i + 1)
                verbatim = false
                i += 2
            case "{" where i + 1 < n && s[i + 1] == "{":
                var k = i + 2
                while k + 1 < n, !(s[k] == "}" && s[k + 1] == "}") { k += 1 }
                let end = k + 1 < n ? k + 2 : i + 1
                for j in i..<end { take(j) }
                i = end
            default:
                take(i)
                i += 1
            }
        }
        flush()
        return .success(tokens)
    }
}

/// Renders a command template into argv without a shell.
///
/// The command is split into tokens first (`ArgvSplitter`), then each token's placeholders are
/// substituted, so a value containing spaces, quotes, `;`, `$(…)` or anything else stays
/// exactly one argv element and is never interpreted. Error offsets refer to `command`.
public func renderArgv(_ command: String, values: [String: String]) -> Result<[String], TemplateError> {
    let tokens: [ArgToken]
    switch ArgvSplitter.split(command) {
    case .success(let t): tokens = t
    case .failure(let e): return .failure(e)
    }
    var argv: [String] = []
    argv.reserveCapacity(tokens.count)
    for token in tokens {
        let template: Template
        do {
            template = try Template(parsing: token.text)
        } catch {
            var e = error
            e.offset = token.sourceOffset(of: e.offset)
            return .failure(e)
        }
        switch template.render(values) {
        case .success(let s):
            argv.append(s)
        case .failure(var e):
            e.offset = token.sourceOffset(of: e.offset)
            return .failure(e)
        }
    }
    return .success(argv)
}
