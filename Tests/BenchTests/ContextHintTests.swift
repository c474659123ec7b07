import Bench
import Testing

/// The hint for requests that do not fit the model's context, on the servers' own words.
@Suite struct ContextHintTests {
    @Test func theServersWordsAreRecognised() {
        // llama.cpp (the quickstart's tiny engine), SGLang (QwenLM/Qwen3#1321, sgl-project/sglang#4048),
        // vLLM (vllm-project/vllm#20409): see ContextHint.
        let refused = [
            #"HTTP 400: {"error":{"code":400,"message":"request (260 tokens) exceeds the available context size (256 tokens), try increasing it","type":"exceed_context_size_error"}}"#,
            #"HTTP 400: {"object":"error","message":"The input (61709 tokens) is longer than the model's context length (40960 tokens).","type":"BadRequestError","param":null,"code":400}"#,
            "HTTP 400: Input length (160062 tokens) exceeds the maximum allowed length (59862 tokens).",
            #"HTTP 400: {"object":"error","message":"This model's maximum context length is 16384 tokens. However, you requested 19591 tokens (9591 in the messages, 10000 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError"}"#,
        ]
        for m in refused { #expect(ContextHint.matches(m), "\(m)") }
        for m in ["HTTP 503: not ready", "connection failed: Connection refused", "HTTP 404", "stream ended without any token"] {
            #expect(!ContextHint.matches(m), "\(m)")
        }
    }

    @Test func itNamesTheOptionsOfTheWorkload() throws {
        let m = "The input (300 tokens) is longer than the model's context length (256 tokens)."
        var c = BenchConfig(baseURL: "http://127.0.0.1:1")
        c.randomInputLength = 300
        c.randomOutputLength = 8
        c.randomRangeRatio = 1
        #expect(ContextHint.text(for: m, config: c) == "hint: the model's context window is smaller than a request (prompt and "
                + "output): shorten them with --random-input-len 300 and --random-output-len 8, or serve a longer context")
        c.randomRangeRatio = 0
        #expect(try #require(ContextHint.text(for: m, config: c)).contains("--random-output-len 8 (lengths are drawn up to these)"))
        c.dataset = BenchDataset(name: .sharegpt, path: "sg.json", sharegptContextLength: 4096)
        #expect(try #require(ContextHint.text(for: m, config: c)).contains("--sharegpt-context-len (now 4096) or --sharegpt-output-len"))
        c.dataset = BenchDataset(name: .prompts, path: "p.txt", promptsOutputLength: 128)
        #expect(try #require(ContextHint.text(for: m, config: c)).contains("the prompts file or --prompts-output-len 128"))
        #expect(ContextHint.text(for: "HTTP 503: not ready", config: c) == nil)
    }
}
