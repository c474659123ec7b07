internal import CYaml
import DeployCore

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

    /// Entry point for fuzzing only (libFuzzer's `LLVMFuzzerTestOneInput` and the corpus
    /// replayer): loads `data` as a manifest named `fuzz.yaml` and returns the number of
    /// documents plus diagnostics, or -1 when a diagnostic lacks a valid location (a bug the
    /// harness turns into a crash). Not a stable API.
    public static func fuzzEntry(_ data: UnsafeRawBufferPointer) -> Int {
        let result = load(data.assumingMemoryBound(to: UInt8.self), file: "fuzz.yaml")
        for d in result.diagnostics {
            guard let at = d.location, at.line >= 1, at.column >= 1 else { return -1 }
        }
        return result.documents.count + result.diagnostics.count
    }

    /// Entry point for benchmarks only (`dsdeploy-fuzz-loader --time`): loads `data` and
    /// returns how long loading took and, separately, how long freeing the trees took.
    /// Not a stable API.
    public static func benchmarkEntry(_ data: UnsafeRawBufferPointer)
        -> (load: Duration, free: Duration, count: Int) {
        let clock = ContinuousClock()
        let start = clock.now
        var result: (documents: [YAMLDocument], diagnostics: [Diagnostic])? =
            load(data.assumingMemoryBound(to: UInt8.self), file: "bench.yaml")
        let loaded = clock.now
        let count = (result?.documents.count ?? 0) + (result?.diagnostics.count ?? 0)
        result = nil
        return (loaded - start, clock.now - loaded, count + (result == nil ? 0 : 1))
    }
}
