public import Foundation

/// Fixed prompts from a file (`--dataset-name prompts`).
///
/// A file whose name ends in `.jsonl` holds one JSON object per line:
/// `{"prompt": "…", "output_len": 128}` (`output_len` optional). Any other file holds one prompt
/// per line. Blank lines are skipped in both; prompts are sent in file order, repeated from the top
/// until `--num-prompts` requests are made.
public enum PromptFileDataset {
    /// One prompt and the output tokens it asks for.
    public struct Prompt: Sendable, Hashable {
        /// The prompt text.
        public var text: String
        /// Output tokens (`max_tokens` / `max_new_tokens`).
        public var outputLength: Int

        /// Creates a prompt.
        public init(text: String, outputLength: Int) {
            self.text = text
            self.outputLength = outputLength
        }
    }

    /// Reads and parses `path`.
    public static func load(path: String, defaultOutputLength: Int) throws(DatasetError) -> [Prompt] {
        try parse(BenchWorkload.read(path), path: path, jsonLines: path.hasSuffix(".jsonl"),
                  defaultOutputLength: defaultOutputLength)
    }

    /// Parses a prompts file; throws for invalid UTF-8, a bad JSON line (with its line number), or
    /// a file without any prompt.
    public static func parse(_ data: Data, path: String, jsonLines: Bool, defaultOutputLength: Int) throws(DatasetError) -> [Prompt] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError(path: path, message: "not UTF-8 text")
        }
        var out: [Prompt] = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift: split on both line ends.
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.allSatisfy(\.isWhitespace) { continue }
            guard jsonLines else {
                out.append(Prompt(text: String(line), outputLength: defaultOutputLength))
                continue
            }
            let at = "\(lineNumber)"
            struct Line: Decodable {
                var prompt: String
                var output_len: Int?
            }
            let decoded: Line
            do { decoded = try JSONDecoder().decode(Line.self, from: Data(line.utf8)) } catch {
                throw DatasetError(path: path, location: at, message: lineProblem(error))
            }
            let prompt = decoded.prompt
            guard !prompt.isEmpty else {
                throw DatasetError(path: path, location: at, message: "\"prompt\" must be a non-empty string")
            }
            let outputLength = decoded.output_len ?? defaultOutputLength
            guard outputLength >= 1 else {
                throw DatasetError(path: path, location: at, message: "\"output_len\" must be a positive integer")
            }
            out.append(Prompt(text: prompt, outputLength: outputLength))
        }
        guard !out.isEmpty else { throw DatasetError(path: path, message: "no prompts in the file") }
        return out
    }

    /// What is wrong with one JSON line, in the file's terms.
    static func lineProblem(_ error: any Error) -> String {
        let shape = "expected an object {\"prompt\": \"…\", \"output_len\": N}"
        guard let e = error as? DecodingError else { return "invalid JSON: \(error)" }
        switch e {
        case .keyNotFound(let key, _): return "missing \"\(key.stringValue)\"; \(shape)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            guard let key = c.codingPath.last?.stringValue else { return shape }
            return key == "output_len" ? "\"output_len\" must be a positive integer" : "\"\(key)\" must be a string"
        case .dataCorrupted(let c):
            let debug = ((c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String) ?? c.debugDescription
            return "invalid JSON: \(debug)"
        @unknown default: return "invalid JSON: \(e)"
        }
    }

    /// `numPrompts` requests: the prompts in order, repeated from the top.
    public static func sample(_ prompts: [Prompt], numPrompts: Int) -> [BenchRequest] {
        guard !prompts.isEmpty else { return [] }
        return (0..<max(numPrompts, 0)).map { i in
            let p = prompts[i % prompts.count]
            return BenchRequest(text: p.text, estimatedInputLength: TokenEstimate.tokens(p.text), outputLength: p.outputLength)
        }
    }
}
