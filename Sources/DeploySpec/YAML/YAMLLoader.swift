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
        var input = raw
        if input.count >= 3, input[0] == 0xEF, input[1] == 0xBB, input[2] == 0xBF {
            input = UnsafeBufferPointer(rebasing: input[3...])
        }
        guard let base = input.baseAddress, !input.isEmpty else { return ([], []) }
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer {
            parser.deallocate()
            event.deallocate()
        }
        var positions = YAMLPositions(file: file, bytes: input)
        guard yaml_parser_initialize(parser) == 1 else {
            return ([], [.error("yaml-syntax", "cannot initialise the YAML parser (out of memory)",
                                at: positions.location(ofByte: 0))])
        }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_input_string(parser, base, input.count)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)

        var builder = YAMLTreeBuilder(inputSize: input.count)
        var documents: [YAMLDocument] = []
        var documentLocation = SourceLocation(file: file, line: 1, column: 1)
        var skipping = false
        var documentIndex = 0
        while true {
            guard yaml_parser_parse(parser, event) == 1 else {
                builder.diagnostics.append(syntaxError(parser, positions))
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
                let name = string(event.pointee.data.alias.anchor) ?? ""
                let length = positions.firstLineLength(from: event.pointee.start_mark,
                                                       to: event.pointee.end_mark)
                let outcome = builder.alias(name, at: positions.location(event.pointee.start_mark),
                                            length: length)
                if outcome == .overBudget { skipping = true }
            case YAML_DOCUMENT_START_EVENT:
                builder.beginDocument()
                documentLocation = positions.location(event.pointee.start_mark)
            case YAML_DOCUMENT_END_EVENT:
                if !skipping {
                    documents.append(YAMLDocument(root: rootNode(builder.root?.node),
                                                  index: documentIndex, location: documentLocation))
                }
                documentIndex += 1
                skipping = false
                builder.beginDocument()
            default:
                break
            }
        }
        return (documents, builder.diagnostics)
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
            return .error("yaml-syntax", message, at: at, notes: notes)
        case YAML_MEMORY_ERROR:
            return .error("yaml-syntax", "out of memory while parsing YAML",
                          at: positions.location(p.mark))
        default:
            return .error("yaml-syntax", problem, at: positions.location(p.mark))
        }
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
