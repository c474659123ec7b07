public import DeployCore
import Foundation

/// Prints diagnostics the way compilers do: `file:line:col: error: message [id]`, source line, caret.
public struct DiagnosticPrinter: Sendable {
    /// Source text by file path, for the quoted line.
    public var sources: [String: SourceText]
    /// Use ANSI colours.
    public var color: Bool

    /// Creates a printer.
    public init(sources: [String: SourceText], color: Bool = false) {
        self.sources = sources
        self.color = color
    }

    /// Text for all diagnostics, followed by a summary line.
    public func render(_ diagnostics: [Diagnostic]) -> String {
        // Each file's line table once; then the diagnostics in runs side by side when there are
        // many (a large fleet's validate prints hundreds of warnings), joined in order.
        var tables: [String: LineTable] = [:]
        for d in diagnostics {
            if let file = d.location?.file, tables[file] == nil, let text = sources[file] { tables[file] = LineTable(text.bytes) }
        }
        let threads = diagnostics.count >= 128 ? Parallel.defaultThreads : 1
        let runs = threads > 1 ? min(diagnostics.count, threads * 4) : 1
        let printer = self, lineTables = tables
        let parts = Parallel.map(runs, threads: threads) { run -> String in
            let range = (diagnostics.count * run / runs)..<(diagnostics.count * (run + 1) / runs)
            var out = ""
            for d in diagnostics[range] { printer.render(d, tables: lineTables, into: &out) }
            return out
        }
        return parts.joined()
    }

    /// One diagnostic: header, quoted line, caret, fix-it, notes.
    func render(_ d: Diagnostic, tables: [String: LineTable], into out: inout String) {
        out += header(d) + "\n"
        if let loc = d.location, let text = sources[loc.file], let lines = tables[loc.file] {
            if loc.line >= 1, loc.line <= lines.count {
                var line = lines.line(loc.line - 1, of: text.bytes)
                // Without a CR byte there is nothing to replace (Foundation's search costs more than the rest).
                if line.utf8.contains(0x0D) { line = line.replacingOccurrences(of: "\r", with: "") }
                let shown = printable(line)
                out += shown + "\n"
                // Spaces under the text before the column, tabs kept so the caret lines up.
                let scalars = shown.unicodeScalars
                let total = scalars.count
                let head = scalars.prefix(max(0, min(loc.column - 1, total)))
                let pad = head.contains("\t")
                    ? String(String.UnicodeScalarView(head.map { $0 == "\t" ? "\t" : " " }))
                    : Self.repeated(UInt8(ascii: " "), head.count)
                let width = max(1, min(d.length, max(1, total - (loc.column - 1))))
                let caret = "^" + Self.repeated(UInt8(ascii: "~"), width - 1)
                out += pad + (color ? "\u{1B}[32m\(caret)\u{1B}[0m" : caret) + "\n"
                // The replacement under the caret, as compilers print a fix-it.
                if let fix = d.fixIt { out += pad + (color ? "\u{1B}[32m\(fix)\u{1B}[0m" : fix) + "\n" }
            }
        }
        for n in d.notes { out += "  note: \(n)\n" }
    }

    /// `count` copies of an ASCII byte, written straight into a new string (`String(repeating:count:)`
    /// with a one-character string cost about 3,800 instructions a call).
    static func repeated(_ byte: UInt8, _ count: Int) -> String {
        guard count > 0 else { return "" }
        return String(unsafeUninitializedCapacity: count) { buffer in
            buffer.initialize(repeating: byte)
            return count
        }
    }

    /// `error: N errors, M warnings` style summary, or nil when there is nothing.
    public static func summary(_ diagnostics: [Diagnostic]) -> String? {
        let e = diagnostics.filter { $0.severity == .error }.count
        let w = diagnostics.filter { $0.severity == .warning }.count
        if e == 0 && w == 0 { return nil }
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        return "\(plural(e, "error")), \(plural(w, "warning"))"
    }

    func header(_ d: Diagnostic) -> String {
        let loc = d.location.map { "\($0.file):\($0.line):\($0.column): " } ?? "dsdeploy: "
        var sev = d.severity.rawValue
        if color {
            let code = d.severity == .error ? "31" : (d.severity == .warning ? "35" : "36")
            sev = "\u{1B}[1;\(code)m\(sev)\u{1B}[0m"
        }
        return "\(loc)\(sev): \(d.message) [\(d.id)]"
    }

    /// Replaces control characters (binary junk) so the terminal is safe.
    func printable(_ s: String) -> String {
        // Control characters are single bytes in UTF-8: a line without one is returned as it is.
        if !s.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.map { u in
            (u.value < 0x20 && u != "\t") || u.value == 0x7F ? "\u{FFFD}" : u
        }))
    }
}

/// Where each line of a source text starts and ends, in bytes, found by one byte scan. Lines are
/// cut at every LF and a CRLF's CR is left out, as locations count lines (`YAMLPositions`: CRLF is
/// one break; a lone CR, NEL, LS or PS is none, as in editors). A line is decoded on its own, with
/// invalid UTF-8 repaired as decoding the whole text would (a line break is never inside a sequence).
struct LineTable: Sendable {
    /// Offset of the first byte of each line, and of the separator ending it (or the text's end).
    private var starts: [Int] = [0]
    private var ends: [Int] = []

    init(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress else {
                ends.append(0)
                return
            }
            var i = 0
            // memchr to each LF, then a look at the byte before it.
            while i < bytes.count, let hit = memchr(base + i, 0x0A, bytes.count - i) {
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                ends.append(at > i && bytes[at - 1] == 0x0D ? at - 1 : at)
                starts.append(at + 1)
                i = at + 1
            }
            ends.append(bytes.count)
        }
    }

    /// Number of lines (separators + 1).
    var count: Int { starts.count }

    /// The text of line `index` (0-based) of `bytes`, the text this table was built from.
    func line(_ index: Int, of bytes: [UInt8]) -> String {
        String(decoding: bytes[starts[index]..<ends[index]], as: UTF8.self)
    }
}

/// The `--output json` shape of diagnostics.
public struct DiagnosticsJSON: Codable, Sendable {
    /// One diagnostic as JSON.
    public struct Item: Codable, Sendable {
        public var severity: String
        public var id: String
        public var message: String
        public var file: String?
        public var line: Int?
        public var column: Int?
        public var notes: [String]
        /// The replacement for the located span, when there is one.
        public var fixIt: String?
    }
    /// Every diagnostic, sorted by location.
    public var diagnostics: [Item]
    /// True when there are no errors.
    public var valid: Bool

    /// Builds the JSON shape.
    public init(_ ds: [Diagnostic]) {
        diagnostics = ds.map {
            Item(severity: $0.severity.rawValue, id: $0.id, message: $0.message, file: $0.location?.file,
                 line: $0.location?.line, column: $0.location?.column, notes: $0.notes, fixIt: $0.fixIt)
        }
        valid = !ds.hasErrors
    }
}
