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

    /// One streamed chunk carrying tokens `tokens` (the last chunk when `tokens.upperBound == maxTokens`),
    /// as a JSON value: an OpenAI event's content, and the meaning a native event has (`event`
    /// writes that one's members in SGLang's order; a test checks they parse to this).
    static func chunk(_ g: Generation, tokens: Range<Int>, elapsed: Double) -> JSONValue {
        let finished = tokens.upperBound >= g.maxTokens
        guard g.api == .native else {
            return openAIChunk(g, text: SimTokens.text(tokens), first: tokens.lowerBound == 0, finished: finished)
        }
        let shown = g.incremental ? tokens : 0..<tokens.upperBound
        return .object([
            "text": .string(SimTokens.text(shown)),
            "output_ids": .array(shown.map { .int(SimTokens.id($0)) }),
            "meta_info": metaInfo(g, completion: tokens.upperBound, finished: finished, elapsed: elapsed),
        ])
    }

    /// A native stream's text and ids so far, rendered once and extended chunk by chunk, so a
    /// stream of n tokens costs O(n) to render rather than O(n²) (a long response would otherwise
    /// make the simulator's timers run late). Gives exactly `event(g, tokens:, elapsed:)`.
    struct NativeStream {
        private var text = ""  // escaped, without quotes
        private var ids = ""
        private var upTo = 0

        /// The SSE event for tokens `tokens` (the chunks of one stream, in order).
        mutating func event(_ g: Generation, tokens: Range<Int>, elapsed: Double) -> String {
            guard g.api == .native, !g.incremental else {
                return GenerationRenderer.event(g, tokens: tokens, elapsed: elapsed)
            }
            if tokens.lowerBound != upTo {  // not the next chunk: start again
                text = ""
                ids = ""
                upTo = 0
            }
            for i in upTo..<tokens.upperBound {
                text += JSONValue.quote(SimTokens.token(i)).dropFirst().dropLast()
                if i > 0 { ids += "," }
                ids += String(SimTokens.id(i))
            }
            upTo = tokens.upperBound
            let meta = GenerationRenderer.metaInfo(g, completion: tokens.upperBound,
                                                   finished: tokens.upperBound >= g.maxTokens, elapsed: elapsed)
            return "data: {\"text\":\"" + text + "\",\"output_ids\":[" + ids + "],\"meta_info\":"
                + meta.canonicalText + "}\n\n"
        }
    }

    /// The SSE event of `chunk(g, tokens:, elapsed:)`. A native chunk's members come in SGLang's
    /// order (`text`, `output_ids`, `meta_info`: its tokenizer manager builds the dict so and
    /// serves it unsorted), each stream chunk repeating the text and ids so far unless the server
    /// runs with `--incremental-streaming-output`; OpenAI chunks keep sorted keys.
    static func event(_ g: Generation, tokens: Range<Int>, elapsed: Double) -> String {
        guard g.api == .native else { return sse(chunk(g, tokens: tokens, elapsed: elapsed)) }
        let shown = g.incremental ? tokens : 0..<tokens.upperBound
        var ids = ""
        for i in shown { ids += (i == shown.lowerBound ? "" : ",") + String(SimTokens.id(i)) }
        let meta = metaInfo(g, completion: tokens.upperBound, finished: tokens.upperBound >= g.maxTokens, elapsed: elapsed)
        return "data: {\"text\":" + JSONValue.quote(SimTokens.text(shown)) + ",\"output_ids\":[" + ids
            + "],\"meta_info\":" + meta.canonicalText + "}\n\n"
    }

    /// A completions or chat stream chunk with `text`; the first chat chunk carries the role.
    static func openAIChunk(_ g: Generation, text: String, first: Bool, finished: Bool) -> JSONValue {
        let finish: JSONValue = finished ? .string("length") : .null
        if g.api == .chat {
            var delta: [String: JSONValue] = ["content": .string(text)]
            if first { delta["role"] = .string("assistant") }
            return envelope(g, object: "chat.completion.chunk", choices: [.object([
                "index": .int(0), "delta": .object(delta), "logprobs": .null,
                "finish_reason": finish, "matched_stop": .null,
            ])], usage: .null)
        }
        return envelope(g, object: "text_completion", choices: [.object([
            "index": .int(0), "text": .string(text), "logprobs": .null,
            "finish_reason": finish, "matched_stop": .null,
        ])], usage: .null)
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
                "output_ids": .array((0..<g.maxTokens).map { .int(SimTokens.id($0)) }),
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

    /// Pre-rendered SSE text around a chunk's token text, so a stream's chunks are string
    /// concatenation instead of a JSON tree built and sorted per chunk. The text is byte-for-byte
    /// what `sse(chunk(...))` gives (keys in sorted order); a test checks that.
    struct ChunkTemplate {
        private var parts: [(prefix: String, suffix: String)] = []  // index: (first ? 1 : 0) + (last ? 2 : 0)

        /// Templates for an OpenAI-format generation (nil for the native API, whose chunks vary more).
        init?(_ g: Generation) {
            guard g.api != .native else { return nil }
            let tail = ",\"created\":\(g.created),\"id\":\(JSONValue.quote(g.id)),\"model\":\(JSONValue.quote(g.model)),"
                + "\"object\":\"\(g.api == .chat ? "chat.completion.chunk" : "text_completion")\",\"usage\":null}\n\n"
            for index in 0..<4 {
                let first = index & 1 != 0
                let finish = index & 2 != 0 ? "\"length\"" : "null"
                if g.api == .chat {
                    parts.append(("data: {\"choices\":[{\"delta\":{\"content\":",
                                  (first ? ",\"role\":\"assistant\"}" : "}") + ",\"finish_reason\":\(finish),\"index\":0,"
                                    + "\"logprobs\":null,\"matched_stop\":null}]" + tail))
                } else {
                    parts.append(("data: {\"choices\":[{\"finish_reason\":\(finish),\"index\":0,\"logprobs\":null,"
                                    + "\"matched_stop\":null,\"text\":", "}]" + tail))
                }
            }
        }

        /// The SSE event for tokens `range` of the generation.
        func render(_ range: Range<Int>, maxTokens: Int) -> String {
            let index = (range.lowerBound == 0 ? 1 : 0) + (range.upperBound >= maxTokens ? 2 : 0)
            return parts[index].prefix + JSONValue.quote(SimTokens.text(range)) + parts[index].suffix
        }
    }

    /// `data: <json>\n\n`.
    static func sse(_ value: JSONValue) -> String { "data: " + value.canonicalText + "\n\n" }

    /// The stream terminator `data: [DONE]\n\n`.
    static let done = "data: [DONE]\n\n"
}
