import Synchronization
/// A position in a source file, 1-based, as editors and compilers print it.
public struct SourceLocation: Hashable, Sendable, Codable, Comparable {
    /// The file, interned (`SourceFiles`): a location is plain data, so copying one (every YAML
    /// node, located value and diagnostic carries one) retains nothing. Equal paths share one id.
    public private(set) var fileID: UInt32
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode scalars of the line.
    public var column: Int

    /// The file path as the user gave it (never resolved to an absolute path).
    public var file: String {
        get { SourceFiles.name(fileID) }
        set { fileID = SourceFiles.id(newValue) }
    }

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.init(fileID: SourceFiles.id(file), line: line, column: column)
    }

    /// Creates a location in a file already interned (`SourceFiles.id`): what a parser making a
    /// location per node uses, without a lookup each.
    public init(fileID: UInt32, line: Int, column: Int) {
        self.fileID = fileID
        self.line = line
        self.column = column
    }

    /// The location `offset` columns to the right on the same line.
    public func advanced(by offset: Int) -> SourceLocation {
        SourceLocation(fileID: fileID, line: line, column: column + offset)
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        if lhs.fileID != rhs.fileID { return lhs.file < rhs.file }
        return (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    private enum CodingKeys: String, CodingKey { case file, line, column }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(file: try c.decode(String.self, forKey: .file), line: try c.decode(Int.self, forKey: .line),
                  column: try c.decode(Int.self, forKey: .column))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(line, forKey: .line)
        try c.encode(column, forKey: .column)
    }
}

/// The file names locations point into, interned once per process: id → name and name → id.
/// A process reads a handful of files, so the table only grows by a few entries.
public enum SourceFiles {
    private struct Table {
        var ids: [String: UInt32] = [:]
        var names: [String] = []
    }
    private static let table = Mutex(Table())

    /// The id of `name`, adding it on first use.
    public static func id(_ name: String) -> UInt32 {
        table.withLock { t in
            if let id = t.ids[name] { return id }
            let id = UInt32(t.names.count)
            t.names.append(name)
            t.ids[name] = id
            return id
        }
    }

    /// The name of an id from `id(_:)`.
    public static func name(_ id: UInt32) -> String {
        table.withLock { $0.names[Int(id)] }
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
