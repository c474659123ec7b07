import Foundation

/// The hint for a request the server refused because it does not fit the model's context window.
///
/// Servers word it differently; the phrases matched come from their own messages:
/// - llama.cpp: `request (260 tokens) exceeds the available context size (256 tokens), try increasing it`
///   (its `exceed_context_size_error`, from the quickstart's tiny engine);
/// - SGLang: `The input (61709 tokens) is longer than the model's context length (40960 tokens).`
///   (github.com/QwenLM/Qwen3/issues/1321) and `Input length (160062 tokens) exceeds the maximum
///   allowed length (59862 tokens).` (github.com/sgl-project/sglang/issues/4048);
/// - vLLM: `This model's maximum context length is 16384 tokens. However, you requested 19591 tokens
///   (9591 in the messages, 10000 in the completion). …` (github.com/vllm-project/vllm/issues/20409).
public enum ContextHint {
    /// Whether `message` (a request's error) says the request does not fit the model's context.
    public static func matches(_ message: String) -> Bool {
        let m = message.lowercased()
        return m.contains("context length") || m.contains("context size") || m.contains("context window")
            || m.contains("exceeds the maximum allowed length")
    }

    /// The hint for the first of `messages` (a run's failure reasons) that is about the context, or nil.
    public static func text(forAny messages: some Sequence<String>, config: BenchConfig) -> String? {
        messages.lazy.compactMap { text(for: $0, config: config) }.first
    }

    /// `hint: …` naming the options that set the lengths of `config`'s workload, or nil when
    /// `message` is about something else.
    public static func text(for message: String, config: BenchConfig) -> String? {
        guard matches(message) else { return nil }
        let lengths: String
        switch config.dataset.name {
        case .random, .randomIDs:
            let drawn = config.randomRangeRatio < 1 ? " (lengths are drawn up to these)" : ""
            lengths = "--random-input-len \(config.randomInputLength) and --random-output-len \(config.randomOutputLength)\(drawn)"
        case .sharegpt:
            lengths = "--sharegpt-context-len (now \(config.dataset.sharegptContextLength.map(String.init) ?? "not set"))"
                + " or --sharegpt-output-len"
        case .prompts:
            lengths = "the prompts file or --prompts-output-len \(config.dataset.promptsOutputLength)"
        }
        return "hint: the model's context window is smaller than a request (prompt and output): shorten them with \(lengths), or serve a longer context"
    }
}
