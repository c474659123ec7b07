import Engines

/// One parsed generation request (OpenAI completions or chat, or SGLang's native /generate).
struct Generation: Sendable {
    /// Which API the request came through; decides the response format.
    enum API: Sendable { case completions, chat, native }

    var api: API
    var id: String
    var model: String
    var created: Int
    var promptTokens: Int
    var maxTokens: Int
    var stream: Bool
    /// OpenAI `stream_options.include_usage`: a final chunk with `usage` before `[DONE]`.
    var includeUsage: Bool
    /// Native API: each chunk carries only the new text (`--incremental-streaming-output`).
    var incremental: Bool
    /// PD prefill server: the room whose KV is published in the bootstrap server when the first
    /// (and only) token is due.
    var publishRoom: UInt64?
    /// PD decode server: the prompt was prefilled elsewhere and its first token came with the KV,
    /// so chunk `i` is due `i × decodeStep` after the KV arrived (no TTFT of its own).
    var prefilled = false

    /// Largest generation the simulator accepts in one request.
    static let maxTokensLimit = 1 << 20

    /// Parses a request body. Errors are the message for a 400 response.
    /// `acceptsTokenIDs` false refuses a completions `prompt` of token ids (a text-only server).
    static func parse(api: API, body: [UInt8], model: String, id: String, created: Int,
                      incrementalNative: Bool, acceptsTokenIDs: Bool = true) -> Result<Generation, GenerationError> {
        guard let json = JSONValue.parse(body), json.object != nil else {
            return .failure(GenerationError("request body must be a JSON object"))
        }
        var g = Generation(api: api, id: id, model: json["model"]?.string ?? model, created: created,
                           promptTokens: 0, maxTokens: 16, stream: json["stream"]?.bool ?? false,
                           includeUsage: false, incremental: incrementalNative)
        let requested: JSONValue?
        switch api {
        case .completions:
            guard let prompt = json["prompt"] else { return .failure(GenerationError("'prompt' is required")) }
            if !acceptsTokenIDs, containsTokenIDs(prompt) {
                return .failure(GenerationError("'prompt' must be a string or a list of strings"))
            }
            guard let n = promptTokens(prompt) else {
                return .failure(GenerationError("'prompt' must be a string, a list of strings or token ids"))
            }
            g.promptTokens = n
            requested = json["max_tokens"]
        case .chat:
            guard let messages = json["messages"]?.array, !messages.isEmpty else {
                return .failure(GenerationError("'messages' must be a non-empty list"))
            }
            g.promptTokens = SimTokens.count(text: messages.map(messageText).joined(separator: "\n"))
            g.maxTokens = 128
            requested = json["max_completion_tokens"].flatMap { $0.isNull ? nil : $0 } ?? json["max_tokens"]
        case .native:
            if let ids = json["input_ids"]?.array {
                g.promptTokens = ids.count
            } else if let text = json["text"] {
                guard let n = promptTokens(text) else { return .failure(GenerationError("'text' must be a string")) }
                g.promptTokens = n
            } else {
                return .failure(GenerationError("either 'text' or 'input_ids' is required"))
            }
            g.maxTokens = 128
            requested = json["sampling_params"]?["max_new_tokens"]
        }
        if let requested, !requested.isNull {
            guard let n = requested.int, n >= 0, n <= maxTokensLimit else {
                return .failure(GenerationError("max tokens must be an integer between 0 and \(maxTokensLimit)"))
            }
            g.maxTokens = n
        }
        if api != .native, let include = json["stream_options"]?["include_usage"]?.bool {
            g.includeUsage = include
        }
        return .success(g)
    }

    /// Tokens of a prompt value: a string (≈ bytes/4), a list of token ids (each one token, as vLLM,
    /// SGLang and llama.cpp count them), or a list of either (summed). Token ids are non-negative
    /// integers; a list with numbers that are not is invalid.
    private static func promptTokens(_ value: JSONValue) -> Int? {
        switch value {
        case .string(let s): return SimTokens.count(text: s)
        case .array(let items):
            if items.contains(where: { $0.double != nil }) { return tokenIDs(value) }
            var total = 0
            for item in items {
                guard let n = promptTokens(item) else { return nil }
                total += n
            }
            return total
        default: return nil
        }
    }

    /// The number of ids in a list of non-negative integers; nil for anything else.
    private static func tokenIDs(_ value: JSONValue) -> Int? {
        guard let items = value.array, items.allSatisfy({ ($0.int ?? -1) >= 0 }) else { return nil }
        return items.count
    }

    /// Whether a prompt value holds token ids (a list of numbers, or a list of such lists).
    private static func containsTokenIDs(_ value: JSONValue) -> Bool {
        guard let items = value.array else { return false }
        return items.contains { $0.double != nil || containsTokenIDs($0) }
    }

    /// The text of a chat message: string content, or the `text` parts of a content list.
    private static func messageText(_ message: JSONValue) -> String {
        switch message["content"] {
        case .string(let s)?: return s
        case .array(let parts)?: return parts.compactMap { $0["text"]?.string }.joined(separator: " ")
        default: return ""
        }
    }
}

/// Why a generation request was rejected (becomes a 400 response).
struct GenerationError: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}
