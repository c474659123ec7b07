/// How a run's prompts went to the server (`prompt_mode` and `token_ids_refused` in results).
///
/// The random workload is token ids. Sent as ids (SGLang `/generate` `input_ids`, OpenAI
/// `/v1/completions` `prompt: [ids]`, which SGLang, vLLM and llama.cpp accept) every prompt is
/// exactly its requested length, with no tokenizer on the client. Text prompts are counted by the
/// server's tokenizer, so their length differs from the requested one.
public enum PromptMode: Sendable, Hashable, CustomStringConvertible {
    /// Token-id arrays: input lengths are exact.
    case tokenIDs
    /// Text. `refused` is why the server did not take the workload's token ids (its error); nil
    /// when the workload is text (sharegpt, prompts) or the API has no token-id form (`openai-chat`).
    case text(refused: String?)

    /// `token-ids` or `text`: the JSON `prompt_mode`.
    public var name: String {
        switch self {
        case .tokenIDs: "token-ids"
        case .text: "text"
        }
    }

    /// The server's reason for refusing token ids, when it did.
    public var refusal: String? {
        if case .text(let reason?) = self { return reason }
        return nil
    }

    /// `token-ids`, `text`, or `text (server refused token ids: REASON)`: the text report's line.
    public var description: String {
        refusal.map { "text (server refused token ids: \($0))" } ?? name
    }
}
