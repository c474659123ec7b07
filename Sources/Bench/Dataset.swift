import Foundation

/// The workloads `bench` can send (`--dataset-name`).
public enum BenchDatasetName: String, Sendable, Hashable, CaseIterable {
    /// Random token ids of seeded lengths (bench_serving's `random-ids`; see `RandomDataset`).
    case random
    /// The same requests as `random`, under bench_serving's name for token-id prompts.
    case randomIDs = "random-ids"
    /// A ShareGPT-format JSON file (`--dataset-path`).
    case sharegpt
    /// Fixed prompts from a file: one prompt per line, or JSON lines when the name ends in `.jsonl`.
    case prompts
}

/// Which workload a run sends and where it comes from.
public struct BenchDataset: Sendable, Hashable {
    /// `--dataset-name`.
    public var name: BenchDatasetName
    /// `--dataset-path` (required for `sharegpt` and `prompts`).
    public var path: String?
    /// `--sharegpt-output-len`: output tokens of every ShareGPT request instead of the estimate
    /// from the reply turn (≥ 4, as bench_serving).
    public var sharegptOutputLength: Int?
    /// `--sharegpt-context-len`: ShareGPT requests whose estimated prompt + output tokens exceed it are dropped.
    public var sharegptContextLength: Int?
    /// `--prompts-output-len`: output tokens of `prompts` lines that do not carry their own `output_len`.
    public var promptsOutputLength: Int

    /// Creates a dataset choice (`random` by default).
    public init(name: BenchDatasetName = .random, path: String? = nil, sharegptOutputLength: Int? = nil,
                sharegptContextLength: Int? = nil, promptsOutputLength: Int = 256) {
        self.name = name
        self.path = path
        self.sharegptOutputLength = sharegptOutputLength
        self.sharegptContextLength = sharegptContextLength
        self.promptsOutputLength = promptsOutputLength
    }
}

/// A dataset file that cannot be used: names the file and, where known, the line and column or entry.
public struct DatasetError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The dataset file.
    public var path: String
    /// `line:column` or `entry N` inside the file, when the problem has a place.
    public var location: String?
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(path: String, location: String? = nil, message: String) {
        self.path = path
        self.location = location
        self.message = message
    }

    /// `path:location: message`, the way compilers print located problems.
    public var description: String { [path, location].compactMap(\.self).joined(separator: ":") + ": " + message }
}

/// Token estimates for text when no tokenizer is at hand.
public enum TokenEstimate {
    /// ⌈UTF-8 bytes ÷ 4⌉: about one token per four bytes of English text (BPE tokenizers of
    /// current models give 3.5–4.5). Used only to pick output lengths and to filter ShareGPT
    /// conversations; reported token counts come from the server.
    public static func tokens(_ text: String) -> Int { (text.utf8.count + 3) / 4 }
}

/// Builds the request list of a configuration.
public enum BenchWorkload {
    /// The requests `config` sends, in order. `random`/`random-ids` never fail; file datasets throw
    /// `DatasetError` for a missing, unreadable or garbled file, or when nothing usable is in it.
    public static func requests(for config: BenchConfig) throws(DatasetError) -> [BenchRequest] {
        let d = config.dataset
        switch d.name {
        case .random, .randomIDs:
            return RandomDataset.sample(numPrompts: config.numPrompts, inputLength: config.randomInputLength,
                                        outputLength: config.randomOutputLength,
                                        rangeRatio: config.randomRangeRatio, seed: config.seed)
        case .sharegpt:
            let path = try requirePath(d)
            let conversations = try ShareGPTDataset.load(path: path)
            return ShareGPTDataset.sample(conversations, numPrompts: config.numPrompts,
                                          fixedOutputLength: d.sharegptOutputLength,
                                          contextLength: d.sharegptContextLength, seed: config.seed)
        case .prompts:
            let path = try requirePath(d)
            let prompts = try PromptFileDataset.load(path: path, defaultOutputLength: d.promptsOutputLength)
            return PromptFileDataset.sample(prompts, numPrompts: config.numPrompts)
        }
    }

    private static func requirePath(_ d: BenchDataset) throws(DatasetError) -> String {
        guard let p = d.path, !p.isEmpty else {
            throw DatasetError(path: "--dataset-path", message: "dataset '\(d.name.rawValue)' needs --dataset-path FILE")
        }
        return p
    }

    /// The bytes of `path`, or a `DatasetError` saying why not.
    static func read(_ path: String) throws(DatasetError) -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DatasetError(path: path, message: "no such file")
        }
        guard !isDir.boolValue else { throw DatasetError(path: path, message: "is a directory, not a dataset file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(path: path, message: "cannot read the file (permission?)")
        }
        return data
    }

    /// `line:column` (1-based) of byte `offset` in `data`.
    static func lineColumn(_ data: Data, offset: Int) -> String {
        var line = 1, col = 1
        for b in data.prefix(max(offset, 0)) {
            if b == 0x0A { line += 1; col = 1 } else { col += 1 }
        }
        return "\(line):\(col)"
    }
}

/// A text request (no token ids): the prompt and the output tokens asked for.
extension BenchRequest {
    /// A text prompt of `estimatedInputLength` tokens asking for `outputLength` tokens.
    public init(text: String, estimatedInputLength: Int, outputLength: Int) {
        self.init(inputLength: estimatedInputLength, outputLength: outputLength, tokenIDs: [], text: text)
    }
}
