internal import CYaml
import DeployCore

/// Loads multi-document YAML into located `YAMLNode` trees, straight from libyaml events.
///
/// Iterative (explicit stack), never throws, never stops at the first semantic problem:
/// everything wrong is a located `Diagnostic`. A libyaml syntax error ends the stream
/// (libyaml cannot resume); the documents finished before it are returned. Input must be
/// UTF-8; a leading UTF-8 BOM is skipped.
public enum YAMLLoader {
    /// Parses `bytes` (the contents of `file`) into documents plus diagnostics.
    static func load(_ bytes: [UInt8], file: String) -> (documents: [YAMLDocument], diagnostics: [Diagnostic]) {
        bytes.withUnsafeBufferPointer { load($0, file: file) }
    }

    /// Parses a string (convenience for tests and small inputs).
    static func load(_ text: String, file: String) -> (documents: [YAMLDocument], diagnostics: [Diagnostic]) {
        load(Array(text.utf8), file: file)
    }

    /// Parses raw bytes; the buffer only has to stay valid for the duration of the call.
    static func load(_ raw: UnsafeBufferPointer<UInt8>, file: String)
        -> (documents: [YAMLDocument], diagnostics: [Diagnostic]) {
        let (chunks, diagnostics, inParts) = loadEach(raw, file: file) { $0 }
        var documents = Array(chunks.joined())
        if inParts {
            for i in documents.indices { documents[i].index = i }
        }
        return (documents, diagnostics)
    }

    /// Parses raw bytes and hands each finished document to `each`; the results come back in document
    /// order, in the chunks they were parsed in (a caller that walks them once takes each item out of
    /// its chunk instead of copying every item into one array). Large inputs are parsed in parts side
    /// by side (`YAMLParallel`): `each` may run on several threads at once, so it must not share
    /// mutable state.
    ///
    /// The result is the same as one pass over the whole input: parts are cut only where libyaml
    /// would start a document anyway, and when any part meets something whose meaning depends on
    /// what came before in the file (a directive, an alias: its budget is per file) or a syntax
    /// error (libyaml stops the stream there), the input is parsed again in one pass. `inParts`
    /// says which happened: parsed in parts, the `index` of a document `each` sees counts from 0
    /// within its part (no document is dropped there, so a caller can number them by position).
    static func loadEach<T: Sendable>(_ raw: UnsafeBufferPointer<UInt8>, file: String,
                                      threads: Int = Parallel.defaultThreads,
                                      _ each: @Sendable (YAMLDocument) -> T)
        -> (chunks: [[T]], diagnostics: [Diagnostic], inParts: Bool) {
        var input = raw
        if input.count >= 3, input[0] == 0xEF, input[1] == 0xBB, input[2] == 0xBF {
            input = UnsafeBufferPointer(rebasing: input[3...])
        }
        guard !input.isEmpty else { return ([], [], false) }
        if let parts = YAMLParallel.parts(of: input, threads: threads) {
            let shared = SharedBytes(input)
            var results: [Part<T>] = Parallel.map(parts.count, threads: threads) { i in
                let part = parts[i]
                // Locations hold the file's interned id, not the name: threads share no reference count.
                return parse(UnsafeBufferPointer(rebasing: shared.buffer[part.start..<part.end]), file: file,
                             lineBase: part.lineBase, aliasBudgetBytes: shared.buffer.count, speculative: true, each)
            }
            if results.allSatisfy(\.independent) {
                var chunks: [[T]] = [], diagnostics: [Diagnostic] = []
                chunks.reserveCapacity(results.count)
                for i in results.indices {  // moved out of each part, not copied
                    chunks.append(results[i].items)
                    diagnostics += results[i].diagnostics
                    results[i] = Part()
                }
                return (chunks, diagnostics, true)
            }
        }
        let whole = parse(input, file: file, lineBase: 0, aliasBudgetBytes: input.count, speculative: false, each)
        return ([whole.items], whole.diagnostics, false)
    }

    /// What one pass over (a part of) the input produced.
    struct Part<T: Sendable>: Sendable {
        var items: [T] = []
        var diagnostics: [Diagnostic] = []
        /// False when the part met a directive, an alias or a syntax error (see `loadEach`).
        var independent = true
    }

    /// One libyaml pass over `input`, whose first line is line `lineBase + 1` of the file.
    /// `speculative`: stop at the first directive or alias (the caller parses the whole input
    /// again); document indices then count from 0 within the part and are renumbered by the caller.
    private static func parse<T: Sendable>(_ input: UnsafeBufferPointer<UInt8>, file: String, lineBase: Int,
                                 aliasBudgetBytes: Int, speculative: Bool,
                                 _ each: (YAMLDocument) -> T) -> Part<T> {
        var part = Part<T>()
        guard let base = input.baseAddress, !input.isEmpty else { return part }
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer {
            parser.deallocate()
            event.deallocate()
        }
        var positions = YAMLPositions(file: file, bytes: input, lineBase: lineBase)
        guard yaml_parser_initialize(parser) == 1 else {
            part.diagnostics = [.error("yaml-syntax", "cannot initialise the YAML parser (out of memory)",
                                       at: positions.location(ofByte: 0))]
            part.independent = false
            return part
        }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_input_string(parser, base, input.count)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)

        var builder = YAMLTreeBuilder(inputSize: aliasBudgetBytes)
        var documentLocation = SourceLocation(fileID: positions.fileID, line: lineBase + 1, column: 1)
        var skipping = false
        var documentIndex = 0
        while true {
            guard yaml_parser_parse(parser, event) == 1 else {
                builder.diagnostics.append(syntaxError(parser, positions))
                part.independent = false
                break
            }
            defer { yaml_event_delete(event) }
            let type = event.pointee.type
            if type == YAML_STREAM_END_EVENT { break }
            if skipping, type != YAML_DOCUMENT_END_EVENT { continue }
            switch type {
            case YAML_SCALAR_EVENT:
                let scalar = makeScalar(event, &positions)
                builder.scalar(scalar, anchor: string(event.pointee.data.scalar.anchor))
            case YAML_SEQUENCE_START_EVENT:
                let data = event.pointee.data.sequence_start
                builder.open(mapping: false, at: positions.location(event.pointee.start_mark),
                             anchor: string(data.anchor))
            case YAML_MAPPING_START_EVENT:
                let data = event.pointee.data.mapping_start
                builder.open(mapping: true, at: positions.location(event.pointee.start_mark),
                             anchor: string(data.anchor))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                builder.close()
            case YAML_ALIAS_EVENT:
                if speculative {
                    part.independent = false
                    return part
                }
                let name = string(event.pointee.data.alias.anchor) ?? ""
                let length = positions.firstLineLength(from: event.pointee.start_mark,
                                                       to: event.pointee.end_mark)
                let outcome = builder.alias(name, at: positions.location(event.pointee.start_mark),
                                            length: length)
                if outcome == .overBudget { skipping = true }
            case YAML_DOCUMENT_START_EVENT:
                let data = event.pointee.data.document_start
                if speculative, data.version_directive != nil || data.tag_directives.start != data.tag_directives.end {
                    part.independent = false
                    return part
                }
                builder.beginDocument()
                documentLocation = positions.location(event.pointee.start_mark)
            case YAML_DOCUMENT_END_EVENT:
                if !skipping {
                    part.items.append(each(YAMLDocument(root: rootNode(builder.root?.node),
                                                        index: documentIndex, location: documentLocation)))
                }
                documentIndex += 1
                skipping = false
                builder.beginDocument()
            default:
                break
            }
        }
        part.diagnostics = builder.diagnostics
        return part
    }

    /// A C string from libyaml as a Swift string (nil stays nil).
    @inline(__always)
    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    /// A located scalar from a scalar event.
    private static func makeScalar(_ event: UnsafeMutablePointer<yaml_event_t>,
                                   _ positions: inout YAMLPositions) -> YAMLScalar {
        let data = event.pointee.data.scalar
        let start = event.pointee.start_mark, end = event.pointee.end_mark
        let value = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length),
                           as: UTF8.self)
        let style: YAMLScalarStyle
        switch data.style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: style = .literal
        case YAML_FOLDED_SCALAR_STYLE: style = .folded
        default: style = .plain
        }
        let quoted = style == .singleQuoted || style == .doubleQuoted
        return YAMLScalar(value: value, style: style, tag: string(data.tag),
                          location: positions.location(start), contentOffset: quoted ? 1 : 0,
                          length: positions.firstLineLength(from: start, to: end))
    }

    /// An empty document (`---` alone) has no root.
    private static func rootNode(_ node: YAMLNode?) -> YAMLNode? {
        if case .scalar(let s)? = node, s.style == .plain, s.tag == nil, s.value.isEmpty, s.length == 0 {
            return nil
        }
        return node
    }
}

extension YAMLLoader {
    /// The `yaml-syntax` diagnostic for the error libyaml stopped on, located at its problem.
    ///
    /// Reader errors (bad UTF-8, control characters) carry a byte offset, converted here;
    /// scanner and parser errors carry a mark; memory errors use the scanner's position.
    static func syntaxError(_ parser: UnsafeMutablePointer<yaml_parser_t>,
                            _ positions: YAMLPositions) -> Diagnostic {
        var positions = positions
        let p = parser.pointee
        let problem = p.problem.map { String(cString: $0) } ?? "unknown YAML error"
        let context = p.context.map { String(cString: $0) }
        switch p.error {
        case YAML_READER_ERROR:
            return readerError(problem: problem, offset: p.problem_offset, value: Int(p.problem_value),
                               positions)
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            let at = positions.location(p.problem_mark)
            var message = problem
            if let context { message += " (\(context))" }
            if problem.hasPrefix("found character that cannot start any token") {
                let byte = positions.byteOffset(ofCharacter: p.problem_mark.index)
                if byte < positions.bytes.count, positions.bytes[byte] == 0x09 {
                    message += "; tabs are not allowed in indentation, use spaces"
                }
            }
            var notes: [String] = []
            if let context, p.context_mark.index != p.problem_mark.index || p.context_mark.line != p.problem_mark.line {
                let c = positions.location(p.context_mark)
                notes.append("\(context) at line \(c.line), column \(c.column)")
            }
            let line = positions.line(at: p.problem_mark.index)
            if let entry = unquotedFlagEntry(line) {
                // Located at the entry, with the fix under it, rather than where libyaml gave up.
                var d = Diagnostic.error("yaml-syntax", message,
                                         at: SourceLocation(fileID: at.fileID, line: at.line, column: entry.column),
                                         length: entry.length, notes: [
                    "YAML reads ': ' in an unquoted list entry as a key and a value; quote the whole entry as one "
                        + "string (a value may keep its spaces: no shell quoting is needed)",
                ])
                d.fixIt = entry.fix
                return d
            }
            return .error("yaml-syntax", message, at: at, notes: notes)
        case YAML_MEMORY_ERROR:
            return .error("yaml-syntax", "out of memory while parsing YAML",
                          at: positions.location(p.mark))
        default:
            return .error("yaml-syntax", problem, at: positions.location(p.mark))
        }
    }

    /// A list entry holding a flag whose value has ': ' unquoted, which YAML cannot read as one
    /// string: a recipe's JSON value pasted as it is (`- --speculative-config '{"method": "mtp"}'`,
    /// vLLM's recipes). The entry's column and length (in characters) and the entry as one YAML
    /// string, without the shell quotes around its value.
    static func unquotedFlagEntry(_ line: String) -> (column: Int, length: Int, fix: String)? {
        let chars = Array(line.unicodeScalars)
        var i = 0
        while i < chars.count, chars[i] == " " { i += 1 }
        guard i + 1 < chars.count, chars[i] == "-", chars[i + 1] == " " else { return nil }
        i += 1
        while i < chars.count, chars[i] == " " { i += 1 }
        var end = chars.count
        while end > i, chars[end - 1] == " " { end -= 1 }
        let entry = String(String.UnicodeScalarView(chars[i..<end]))
        guard entry.hasPrefix("-"), entry.contains(": ") else { return nil }
        var text = entry
        // `--flag 'value'` / `--flag='value'`: the quotes were for a shell; dsdeploy takes the value as written.
        if let sep = entry.firstIndex(where: { $0 == " " || $0 == "=" }) {
            let value = entry[entry.index(after: sep)...]
            if value.count >= 2, value.first == "'", value.last == "'", !value.dropFirst().dropLast().contains("'") {
                text = String(entry[...sep]) + value.dropFirst().dropLast()
            }
        }
        return (i + 1, end - i, singleQuoted(text))
    }

    /// `text` as a single-quoted YAML scalar.
    static func singleQuoted(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
    }

    /// Reader errors: invalid UTF-8, forbidden control characters, oversized input.
    private static func readerError(problem: String, offset: Int, value: Int,
                                    _ positions: YAMLPositions) -> Diagnostic {
        let at = positions.location(ofByte: offset)
        var message = problem
        if problem.contains("UTF-8") {
            if offset < positions.bytes.count {
                message += " (byte 0x\(hex(Int(positions.bytes[offset]), digits: 2)))"
            }
            message += "; manifests must be UTF-8 text"
        } else if value >= 0 {
            message += " (U+\(hex(value, digits: 4)))"
        }
        return .error("yaml-syntax", message, at: at)
    }

    private static func hex(_ value: Int, digits: Int) -> String {
        let s = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }
}

/// The input, read by the parts' threads at once and never written while they run.
private struct SharedBytes: @unchecked Sendable {
    let buffer: UnsafeBufferPointer<UInt8>
    init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }
}
