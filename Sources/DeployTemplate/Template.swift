/// A strict `{{name}}` template: literal text plus named placeholders, nothing else.
///
/// Syntax: `{{name}}` or `{{ name }}` (spaces only inside the braces), where `name` matches
/// `[A-Za-z_][A-Za-z0-9_]*`. Every `{{` must open a valid placeholder; a lone `{` or any `}`
/// is literal. There are no filters, defaults, escapes or shell expansions: `$VAR`, `$(…)`,
/// backticks and `~` are ordinary text. Offsets are counted in Unicode scalars.
public struct Template: Sendable, Hashable {
    /// One piece of a parsed template.
    enum Segment: Sendable, Hashable {
        case literal(String)
        case placeholder(name: String, offset: Int)
    }

    /// The text the template was parsed from.
    public let text: String
    let segments: [Segment]
    /// The placeholders in order: name, offset of the opening `{{`, and length of the whole
    /// placeholder (`{{ name }}`), both in Unicode scalars of `text`.
    public let placeholders: [(name: String, offset: Int, length: Int)]

    /// Parses `text`; throws for an unclosed `{{` or an invalid placeholder name.
    public init(parsing text: String) throws(TemplateError) {
        let scalars = Array(text.unicodeScalars)
        var segments: [Segment] = []
        var placeholders: [(name: String, offset: Int, length: Int)] = []
        var literal = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            guard scalars[i] == "{", i + 1 < scalars.count, scalars[i + 1] == "{" else {
                literal.append(scalars[i])
                i += 1
                continue
            }
            let open = i
            var close = i + 2
            while close + 1 < scalars.count, !(scalars[close] == "}" && scalars[close + 1] == "}") {
                close += 1
            }
            guard close + 1 < scalars.count else {
                throw TemplateError(.unclosedPlaceholder, "unclosed '{{' (expected '}}')", offset: open)
            }
            var s = open + 2, e = close
            while s < e, scalars[s] == " " { s += 1 }
            while e > s, scalars[e - 1] == " " { e -= 1 }
            let name = String(String.UnicodeScalarView(scalars[s..<e]))
            guard Self.isValidName(scalars[s..<e]) else {
                let shown = String(String.UnicodeScalarView(scalars[open...(close + 1)]))
                let why = name.isEmpty ? "empty placeholder" : "invalid placeholder name '\(name)'"
                throw TemplateError(.invalidName,
                    "\(why) in '\(shown)'; names are letters, digits and '_' (not starting with a digit)",
                    offset: open, name: name)
            }
            if !literal.isEmpty {
                segments.append(.literal(String(literal)))
                literal = String.UnicodeScalarView()
            }
            segments.append(.placeholder(name: name, offset: open))
            placeholders.append((name: name, offset: open, length: close + 2 - open))
            i = close + 2
        }
        if !literal.isEmpty { segments.append(.literal(String(literal))) }
        self.text = text
        self.segments = segments
        self.placeholders = placeholders
    }

    /// The distinct placeholder names, in order of first use.
    public var names: [String] {
        var seen = Set<String>()
        return placeholders.map(\.name).filter { seen.insert($0).inserted }
    }

    /// Substitutes every placeholder; fails on the first name missing from `values`.
    ///
    /// Values are inserted verbatim: nothing in them is interpreted.
    public func render(_ values: [String: String]) -> Result<String, TemplateError> {
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let s):
                out += s
            case .placeholder(let name, let offset):
                guard let value = values[name] else {
                    return .failure(TemplateError(.unknownVariable,
                        "undefined template variable '\(name)'", offset: offset, name: name))
                }
                out += value
            }
        }
        return .success(out)
    }

    static func isValidName(_ name: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// Templates are equal when parsed from the same text.
    public static func == (a: Template, b: Template) -> Bool { a.text == b.text }
    /// Hashes the source text.
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// Why a template or command could not be parsed, split or rendered.
///
/// `offset` is in Unicode scalars of the text that was being processed (for `renderArgv`,
/// of the whole command), so callers can point a caret at it.
public struct TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of problem.
    public enum Kind: String, Sendable, Hashable {
        /// `{{` without a matching `}}`.
        case unclosedPlaceholder
        /// `{{ … }}` whose content is not a valid name.
        case invalidName
        /// A placeholder whose name has no value at render time.
        case unknownVariable
        /// `'` or `"` without its closing quote.
        case unterminatedQuote
        /// A `\` with nothing after it.
        case danglingBackslash
    }

    /// The class of problem.
    public var kind: Kind
    /// One-line human message.
    public var message: String
    /// Where the problem starts, in Unicode scalars.
    public var offset: Int
    /// The placeholder name involved, for `invalidName` and `unknownVariable`.
    public var name: String?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, offset: Int, name: String? = nil) {
        self.kind = kind
        self.message = message
        self.offset = offset
        self.name = name
    }

    /// "MESSAGE (at offset N)".
    public var description: String { "\(message) (at offset \(offset))" }
}
