import Engines

/// Builds the JSON bodies and SSE chunks of a generation in each API's format.
enum GenerationRenderer {
    /// The usage object (`prompt_tokens`, `completion_tokens`, `total_tokens`).
    static func usage(_ g: Generation, completion: Int) -> JSONValue {
        .object([
            "prompt_tokens": .int(g.promptTokens),
            "completion_tokens": .int(completion),
            "total_tokens": .int(g.promptTokens + completion),
        ])
    }

    /// SGLang's `meta_info` for the native API.
    static func metaInfo(_ g: Generation, completion: Int, finished: Bool, elapsed: Double) -> JSONValue {
        .object([
            "id": .string(g.id),
            "prompt_tokens": .int(g.promptTokens),
            "completion_tokens": .int(completion),
            "cached_tokens": .int(0),
            "finish_reason": finished
                ? .object(["type": .string("length"), "length": .int(g.maxTokens)]) : .null,
            "e2e_latency": .number((elapsed * 1e6).rounded() / 1e6),
        ])
    }

    /// One streamed chunk carrying tokens `tokens` (the last chunk when `tokens.upperBound == maxTokens`).
    static func chunk(_ g: Generation, tokens: Range<Int>, elapsed: Double) -> JSONValue {
        let finished = tokens.upperBound >= g.maxTokens
        let text = SimTokens.text(tokens)
        let finish: JSONValue = finished ? .string("length") : .null
        switch g.api {
        case .completions:
            return envelope(g, object: "text_completion", choices: [.object([
                "index": .int(0), "text": .string(text), "logprobs": .null,
                "finish_reason": finish, "matched_stop": .null,
            ])], usage: .null)
        case .chat:
            var delta: [String: JSONValue] = ["content": .string(text)]
            if tokens.lowerBound == 0 { delta["role"] = .string("assistant") }
            return envelope(g, object: "chat.completion.chunk", choices: [.object([
                "index": .int(0), "delta": .object(delta), "logprobs": .null,
                "finish_reason": finish, "matched_stop": .null,
            ])], usage: .null)
        case .native:
            let shown = g.incremental ? text : SimTokens.text(0..<tokens.upperBound)
            return .object([
                "text": .string(shown),
                "meta_info": metaInfo(g, completion: tokens.upperBound, finished: finished, elapsed: elapsed),
            ])
        }
    }

    /// The OpenAI final chunk with `usage` and no choices (sent when `include_usage` is set).
    static func usageChunk(_ g: Generation) -> JSONValue {
        envelope(g, object: g.api == .chat ? "chat.completion.chunk" : "text_completion", choices: [],
                 usage: usage(g, completion: g.maxTokens))
    }

    /// The whole response of a non-streaming request.
    static func full(_ g: Generation, elapsed: Double) -> JSONValue {
        let text = SimTokens.text(0..<g.maxTokens)
        let finish: JSONValue = .string("length")
        switch g.api {
        case .completions:
            return envelope(g, object: "text_completion", choices: [.object([
                "index": .int(0), "text": .string(text), "logprobs": .null,
                "finish_reason": finish, "matched_stop": .null,
            ])], usage: usage(g, completion: g.maxTokens))
        case .chat:
            return envelope(g, object: "chat.completion", choices: [.object([
                "index": .int(0),
                "message": .object(["role": .string("assistant"), "content": .string(text),
                                    "reasoning_content": .null, "tool_calls": .null]),
                "logprobs": .null, "finish_reason": finish, "matched_stop": .null,
            ])], usage: usage(g, completion: g.maxTokens))
        case .native:
            return .object([
                "text": .string(text),
                "meta_info": metaInfo(g, completion: g.maxTokens, finished: true, elapsed: elapsed),
            ])
        }
    }

    private static func envelope(_ g: Generation, object: String, choices: [JSONValue],
                                 usage: JSONValue) -> JSONValue {
        .object([
            "id": .string(g.id),
            "object": .string(object),
            "created": .int(g.created),
            "model": .string(g.model),
            "choices": .array(choices),
            "usage": usage,
        ])
    }

    /// `data: <json>\n\n`.
    static func sse(_ value: JSONValue) -> String { "data: " + value.canonicalText + "\n\n" }

    /// The stream terminator `data: [DONE]\n\n`.
    static let done = "data: [DONE]\n\n"
}
