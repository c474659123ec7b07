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
