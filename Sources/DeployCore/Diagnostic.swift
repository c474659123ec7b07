/// A position in a source file, 1-based, as editors and compilers print it.
public struct SourceLocation: Hashable, Sendable, Codable, Comparable {
    /// The file path as the user gave it (never resolved to an absolute path).
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode scalars of the line.
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// The location `offset` columns to the right on the same line.
    public func advanced(by offset: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column + offset)
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// How bad a diagnostic is. Errors make `validate` fail; warnings do not.
public enum Severity: String, Sendable, Codable, Hashable {
    case error
    case warning
    case note
}

/// One problem found in a manifest: a value with a stable id and a location, printed in one place.
public struct Diagnostic: Hashable, Sendable, Codable {
    /// error, warning or note.
    public var severity: Severity
    /// Stable identifier (`unknown-flag`, `yaml-syntax`, ...). Tools may rely on it.
    public var id: String
    /// One-line human message. Never contains a secret value.
    public var message: String
    /// Where the problem is; nil only for problems with no source (a missing file).
    public var location: SourceLocation?
    /// Number of columns the caret underline should span (at least 1).
    public var length: Int
    /// Extra lines printed under the caret (`note: ...`).
    public var notes: [String]
    /// Text that should replace the underlined span (`--tp` → `--tp-size`); nil when none.
    public var fixIt: String?

    /// Creates a diagnostic.
    public init(_ severity: Severity, _ id: String, _ message: String,
                at location: SourceLocation?, length: Int = 1, notes: [String] = []) {
        self.severity = severity
        self.id = id
        self.message = message
        self.location = location
        self.length = max(1, length)
        self.notes = notes
    }

    /// Shorthand for an error.
    public static func error(_ id: String, _ message: String, at location: SourceLocation?,
                             length: Int = 1, notes: [String] = []) -> Diagnostic {
        Diagnostic(.error, id, message, at: location, length: length, notes: notes)
    }

    /// Shorthand for a warning.
    public static func warning(_ id: String, _ message: String, at location: SourceLocation?,
                               length: Int = 1, notes: [String] = []) -> Diagnostic {
        Diagnostic(.warning, id, message, at: location, length: length, notes: notes)
    }
}

extension Array where Element == Diagnostic {
    /// True when at least one element is an error.
    public var hasErrors: Bool { contains { $0.severity == .error } }

    /// Sorted by file, line, column; problems without location first; stable otherwise.
    public func sortedByLocation() -> [Diagnostic] {
        enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case (nil, nil): return a.offset < b.offset
            case (nil, _): return true
            case (_, nil): return false
            case let (l?, r?): return l == r ? a.offset < b.offset : l < r
            }
        }.map(\.element)
    }
}
