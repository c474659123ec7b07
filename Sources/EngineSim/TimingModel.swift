/// The simulator's latency model: when each streamed chunk of a generation is due.
///
/// First chunk at TTFT = `ttftBaseMs + ttftPer1kInputMs × promptTokens / 1000` after the request
/// arrived; then one decode step every `decodeStepMs`. Every step — the first included — is one
/// chunk carrying `acceptLength` tokens on average (speculative decoding). A fractional accept
/// length alternates floor and ceil so that after `k` steps exactly `floor(k × acceptLength)` tokens
/// were emitted; `maxTokens` therefore takes `ceil(maxTokens / acceptLength)` chunks.
public struct TimingModel: Hashable, Sendable {
    /// Fixed part of time-to-first-token, in milliseconds.
    public var ttftBaseMs: Double
    /// Extra time-to-first-token per 1000 prompt tokens, in milliseconds.
    public var ttftPer1kInputMs: Double
    /// Time between decode steps (chunks), in milliseconds.
    public var decodeStepMs: Double
    /// Mean tokens emitted per decode step (≥ 1; fractional allowed).
    public var acceptLength: Double
    /// Decode steps shared by every running stream, as in an engine's continuous batching
    /// (`DSDEPLOY_SIM_SHARED_STEPS=1`): one forward pass per step produces the next token of every
    /// request in the batch, and their chunks leave together. A stream's first chunk then waits for
    /// the first step boundary at or after arrival + TTFT (steps fall on whole multiples of
    /// `decodeStepMs` of the process's monotonic clock); off (the default), each stream steps from its
    /// own arrival.
    public var sharedSteps = false

    /// The defaults: 10 ms TTFT, no per-input cost, 2 ms per step, 1 token per step.
    public static let defaults = TimingModel(ttftBaseMs: 10, ttftPer1kInputMs: 0, decodeStepMs: 2, acceptLength: 1)

    /// Creates a timing model.
    public init(ttftBaseMs: Double, ttftPer1kInputMs: Double, decodeStepMs: Double, acceptLength: Double) {
        self.ttftBaseMs = ttftBaseMs
        self.ttftPer1kInputMs = ttftPer1kInputMs
        self.decodeStepMs = decodeStepMs
        self.acceptLength = acceptLength
    }

    /// Time to first token for a prompt of `promptTokens` tokens, in milliseconds.
    public func ttftMs(promptTokens: Int) -> Double {
        max(0, ttftBaseMs + ttftPer1kInputMs * Double(promptTokens) / 1000)
    }

    /// Tokens emitted after `steps` decode steps (before capping at max tokens).
    public func tokens(afterSteps steps: Int) -> Int {
        guard steps > 0 else { return 0 }
        // The epsilon keeps 3 × 0.1-style products from landing just below an integer.
        return Int((Double(steps) * acceptLength + 1e-9).rounded(.down))
    }

    /// Tokens in each chunk of a `maxTokens` generation, in order (sums to `maxTokens`).
    public func chunkSizes(maxTokens: Int) -> [Int] {
        guard maxTokens > 0 else { return [] }
        var sizes: [Int] = []
        var emitted = 0
        var step = 0
        // acceptLength ≥ 1 guarantees progress; the bound is a backstop for bad input.
        while emitted < maxTokens, step <= maxTokens {
            step += 1
            let next = min(maxTokens, tokens(afterSteps: step))
            if next > emitted {
                sizes.append(next - emitted)
                emitted = next
            }
        }
        return sizes
    }

    /// Milliseconds after arrival when chunk `index` (0-based) is due (before `boundaryWaitNs`).
    public func chunkOffsetMs(index: Int, promptTokens: Int) -> Double {
        ttftMs(promptTokens: promptTokens) + Double(index) * decodeStepMs
    }

    /// Nanoseconds a stream that arrived at `arrivalNs` (monotonic clock) waits, after its TTFT, for
    /// the engine's next step boundary: 0 unless `sharedSteps`. Chunk `i` is then due at
    /// `arrivalNs + boundaryWaitNs + chunkOffsetMs(i)`, so every stream's chunks fall on the same grid.
    public func boundaryWaitNs(arrivalNs: UInt64, promptTokens: Int) -> UInt64 {
        guard sharedSteps else { return 0 }
        let step = UInt64(max(0, decodeStepMs * 1_000_000).rounded())
        guard step > 0 else { return 0 }
        let ready = arrivalNs &+ UInt64(max(0, ttftMs(promptTokens: promptTokens) * 1_000_000))
        let past = ready % step
        return past == 0 ? 0 : step - past
    }
}

/// Deterministic stand-ins for tokenisation and generated text.
public enum SimTokens {
    /// Approximate prompt tokens of a text: one token per 4 UTF-8 bytes, rounded up (0 for "").
    public static func count(text: String) -> Int {
        (text.utf8.count + 3) / 4
    }

    private static let words = [
        "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while",
        "seven", "silver", "engines", "hum", "in", "steady", "rhythm", "and", "data", "flows",
    ]

    /// How many distinct words the generated text cycles through.
    static var wordCount: Int { words.count }

    /// Text of generated token `index`: a filler word, space-separated from the previous one.
    public static func token(_ index: Int) -> String {
        let word = words[index % words.count]
        return index == 0 ? word : " " + word
    }

    /// The id of generated token `index` (5–6 digits, as a real vocabulary's ids mostly are).
    public static func id(_ index: Int) -> Int { 10_000 + (index &* 7_919) % 140_000 }

    /// Text of tokens `range`, concatenated.
    public static func text(_ range: Range<Int>) -> String {
        var s = ""
        for i in range { s += token(i) }
        return s
    }
}
