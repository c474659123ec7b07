public import Foundation

/// ShareGPT-format conversations (bench_serving's `--dataset-name sharegpt`).
///
/// The file is one JSON array; each entry an object with `conversations` (or `conversation`): a list
/// of turns `{"from": "human"|"gpt"|…, "value": "…"}`. The prompt is the first turn whose `from`
/// is `human` or `user` (or that has no `from`); the reply is the turn right after it. In ShareGPT
/// files that is turns 0 and 1, exactly what bench_serving takes.
public enum ShareGPTDataset {
    /// One usable conversation: the prompt and the reply whose length sets the output tokens.
    public struct Conversation: Sendable, Hashable {
        /// The first human turn.
        public var prompt: String
        /// The turn after it.
        public var reply: String

        /// Creates a conversation.
        public init(prompt: String, reply: String) {
            self.prompt = prompt
            self.reply = reply
        }
    }

    /// Reads and parses `path`.
    public static func load(path: String) throws(DatasetError) -> [Conversation] {
        try parse(BenchWorkload.read(path), path: path)
    }

    /// Parses a ShareGPT file's bytes; entries with fewer than two turns (or no human turn followed by
    /// another turn) are skipped, like bench_serving. Throws for JSON that does not parse (with its
    /// line:column), a top level that is not an array, or an entry or turn of the wrong shape (with
    /// its entry index).
    public static func parse(_ data: Data, path: String) throws(DatasetError) -> [Conversation] {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw jsonError(error, data: data, path: path)
        }
        guard let entries = root as? [Any] else {
            throw DatasetError(path: path, message: "not a ShareGPT file: the top level must be a JSON array of "
                               + "{\"conversations\": [{\"from\", \"value\"}, …]} objects")
        }
        var out: [Conversation] = []
        out.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() {
            let at = "entry \(i)"
            guard let obj = entry as? [String: Any] else {
                throw DatasetError(path: path, location: at, message: "expected an object with \"conversations\"")
            }
            guard let rawTurns = obj["conversations"] ?? obj["conversation"] else {
                throw DatasetError(path: path, location: at, message: "missing \"conversations\"")
            }
            guard let turns = rawTurns as? [Any] else {
                throw DatasetError(path: path, location: at, message: "\"conversations\" must be an array of turns")
            }
            var parsed: [(from: String?, value: String)] = []
            for (j, t) in turns.enumerated() {
                guard let turn = t as? [String: Any], let value = turn["value"] as? String else {
                    throw DatasetError(path: path, location: "\(at), turn \(j)",
                                       message: "a turn must be an object with a string \"value\"")
                }
                parsed.append((turn["from"] as? String, value))
            }
            guard parsed.count >= 2,
                  let h = parsed.firstIndex(where: { $0.from == nil || $0.from == "human" || $0.from == "user" }),
                  h + 1 < parsed.count else { continue }
            out.append(Conversation(prompt: parsed[h].value, reply: parsed[h + 1].value))
        }
        return out
    }

    /// bench_serving's sampling: shuffle (seeded Fisher–Yates on SplitMix64), then walk the list and
    /// keep conversations until `numPrompts`, dropping those with fewer than 2 prompt or output
    /// tokens and, with `contextLength`, those whose prompt + output tokens exceed it. Token counts
    /// are `TokenEstimate`s; output tokens are `fixedOutputLength` when given. Returns fewer than
    /// `numPrompts` requests when the file has too few usable conversations (as bench_serving).
    public static func sample(_ conversations: [Conversation], numPrompts: Int, fixedOutputLength: Int?,
                              contextLength: Int?, seed: UInt64) -> [BenchRequest] {
        var order = conversations
        var rng = SeededRandom(seed: seed ^ 0x5AA2_E6B7)
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(in: 0...i)) }
        }
        var out: [BenchRequest] = []
        for c in order {
            if out.count >= numPrompts { break }
            let promptLength = TokenEstimate.tokens(c.prompt)
            let outputLength = fixedOutputLength ?? TokenEstimate.tokens(c.reply)
            if promptLength < 2 || outputLength < 2 { continue }
            if let contextLength, contextLength > 0, promptLength + outputLength > contextLength { continue }
            out.append(BenchRequest(text: c.prompt, estimatedInputLength: promptLength, outputLength: outputLength))
        }
        return out
    }

    /// A JSON syntax error with the line:column Foundation points at ("around character N").
    static func jsonError(_ error: any Error, data: Data, path: String) -> DatasetError {
        let debug = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
        if data.isEmpty { return DatasetError(path: path, message: "empty file, expected a JSON array") }
        var location: String?
        if let r = debug.range(of: "character "),
           let n = Int(debug[r.upperBound...].prefix(while: { $0.isNumber })) {
            location = BenchWorkload.lineColumn(data, offset: n)
        } else if debug.lowercased().contains("end of file") {
            location = BenchWorkload.lineColumn(data, offset: data.count)
        }
        return DatasetError(path: path, location: location, message: "invalid JSON: \(debug)")
    }
}
