import DeployCore
import Foundation

/// A small deterministic PRNG (SplitMix64) so a seed always gives the same workload (and a test's
/// random input the same cases).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var core: SplitMix64

    /// Creates a generator from `seed` (its sequence is fixed: a seed names a workload).
    public init(seed: UInt64) { core = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 { core.next() }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A uniform integer in `range` (inclusive).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % span)
    }
}

/// One benchmark request of the `random` dataset.
public struct BenchRequest: Sendable, Hashable {
    /// Prompt tokens requested (the token ids sent, or the target size of the text prompt).
    public var inputLength: Int
    /// Output tokens requested (`max_new_tokens` / `max_tokens`, EOS ignored).
    public var outputLength: Int
    /// Prompt as token ids (SGLang `/generate` `input_ids`, OpenAI completions `prompt`); empty for
    /// text datasets.
    public var tokenIDs: [Int]
    /// Prompt as text (chat, text datasets, and servers that refuse token ids).
    public var text: String
}

/// The `random` dataset of bench_serving: lengths drawn uniformly from
/// `[max(Int(len × ratio), 1), len]` (input) and `[Int(len × ratio), len]` (output), all input
/// lengths first, then all output lengths, then the prompt contents.
public enum RandomDataset {
    /// The range token ids are drawn from: valid in every tokenizer of a served LLM (32,000 tokens or
    /// more); `fit(_:vocabularySize:)` folds them into a smaller vocabulary the server reports.
    public static let idRange = 100...30_099

    private static let vocabulary = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
        "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    ]

    /// Builds `numPrompts` requests deterministically from `seed`.
    /// Output lengths are clamped to at least 1 (bench_serving can draw 0 when the ratio is 0).
    public static func sample(numPrompts: Int, inputLength: Int, outputLength: Int, rangeRatio: Double,
                              seed: UInt64) -> [BenchRequest] {
        var rng = SeededRandom(seed: seed)
        let inLow = min(max(Int(Double(inputLength) * rangeRatio), 1), max(inputLength, 1))
        let outLow = min(max(Int(Double(outputLength) * rangeRatio), 1), max(outputLength, 1))
        let ins = (0..<max(numPrompts, 0)).map { _ in rng.int(in: inLow...max(inputLength, 1)) }
        let outs = (0..<max(numPrompts, 0)).map { _ in rng.int(in: outLow...max(outputLength, 1)) }
        let words = vocabulary.map { Array($0.utf8) }
        var text: [UInt8] = []
        return zip(ins, outs).map { input, output in
            let ids = (0..<input).map { _ in rng.int(in: idRange) }
            // The words of the ids, space-separated (one copy per word: this runs once per prompt).
            text.removeAll(keepingCapacity: true)
            for (k, id) in ids.enumerated() {
                if k > 0 { text.append(0x20) }
                text.append(contentsOf: words[id % words.count])
            }
            return BenchRequest(inputLength: input, outputLength: output, tokenIDs: ids,
                                text: String(decoding: text, as: UTF8.self))
        }
    }

    /// `request` with its token ids valid in a vocabulary of `vocabularySize` tokens: unchanged when
    /// `idRange` fits; else every id is folded into `[min(100, size / 2), size)` (deterministically,
    /// so a seed still gives one workload per vocabulary). Lengths and text are unchanged.
    public static func fit(_ request: BenchRequest, vocabularySize: Int) -> BenchRequest {
        guard vocabularySize > 0, vocabularySize <= idRange.upperBound else { return request }
        let low = min(idRange.lowerBound, vocabularySize / 2)
        let span = vocabularySize - low
        var r = request
        r.tokenIDs = request.tokenIDs.map { low + (($0 - idRange.lowerBound) % span + span) % span }
        return r
    }
}

/// Request arrival times like bench_serving's `get_request`: the first request at 0, then gaps
/// drawn from an exponential distribution with mean `1 / rate` (a Poisson process).
public enum ArrivalSchedule {
    /// Arrival offsets in seconds from the benchmark start; all 0 when `rate` is infinite or ≤ 0.
    public static func offsets(count: Int, rate: Double, seed: UInt64) -> [Double] {
        guard count > 0 else { return [] }
        guard rate.isFinite, rate > 0 else { return Array(repeating: 0, count: count) }
        var rng = SeededRandom(seed: seed ^ 0x5EED_A881_7A1E)
        var t = 0.0
        var out: [Double] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            out.append(t)
            t += -log(1 - rng.unit()) / rate
        }
        return out
    }
}
