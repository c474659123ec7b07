import Bench
import Foundation
import Testing

/// `StreamChunk.scan` must read exactly what the JSONSerialization-based code read before it.
@Suite struct StreamChunkTests {
    /// The reference: the fields as Foundation's parser sees them (the old code path).
    private func reference(_ text: String, _ backend: BenchBackend) -> StreamChunk? {
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return nil }
        var c = StreamChunk()
        c.hasError = obj["error"] != nil
        func textFlag(_ v: Any?) -> Bool? {
            guard let v, !(v is NSNull) else { return nil }
            return (v as? String).map { !$0.isEmpty }
        }
        func counts(_ v: Any?) {
            guard let o = v as? [String: Any] else { return }
            c.completionTokens = (o["completion_tokens"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
            c.promptTokens = (o["prompt_tokens"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
        }
        switch backend {
        case .sglang:
            c.hasText = textFlag(obj["text"])
            counts(obj["meta_info"])
        case .openai, .openaiChat:
            counts(obj["usage"])
            if let first = (obj["choices"] as? [Any])?.first as? [String: Any] {
                c.hasText = backend == .openai ? textFlag(first["text"])
                    : textFlag((first["delta"] as? [String: Any])?["content"])
            }
        }
        return c
    }

    private func scan(_ text: String, _ backend: BenchBackend) -> StreamChunk? {
        var t = text
        return t.withUTF8 { StreamChunk.scan($0, backend: backend) }
    }

    @Test func agreesWithFoundation() {
        let cases: [(String, BenchBackend)] = [
            (#"{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null}]}"#, .openai),
            (#"{"choices":[{"index":0,"text":"","finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":64,"total_tokens":76}}"#, .openai),
            (#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5.0}}"#, .openai),
            (#"{"choices":[{"text":"a\"b\\c\u00e9\ud83d\ude00\n"},{"text":""}]}"#, .openai),
            (#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#, .openaiChat),
            (#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#, .openaiChat),
            (#"{"choices":[{"delta":{"content":""}}]}"#, .openaiChat),
            (#"{"choices":[{"delta":"odd"}]}"#, .openaiChat),
            (#"{"text":"The quick","meta_info":{"id":"x","prompt_tokens":64,"completion_tokens":2,"cached_tokens":0,"spec":[1,2,{"a":[]}]}}"#, .sglang),
            (#"{"text":"","meta_info":{"completion_tokens":-0}}"#, .sglang),
            (#"{"error":{"message":"bad","code":400}}"#, .openai),
            (#"{"error":"plain"}"#, .sglang),
            (#"  {"nested":{"deep":[[[{"x":1e-3}]]]},"choices":[{"text":"x"}]}  "#, .openai),
            (#"{"choices":[{"text":"x"}],"t":true,"f":false,"n":null,"num":-12.5E+3}"#, .openai),
            (#"{"usage":{"completion_tokens":"7"}}"#, .openai),
        ]
        for (text, backend) in cases {
            let r = reference(text, backend)
            #expect(r != nil, "\(text)")
            #expect(scan(text, backend) == r, "\(text)")
        }
    }

    @Test func rejectsWhatFoundationRejects() {
        let bad = [
            "", "[DONE]", "[1,2]", "\"text\"", "{", "{\"a\":}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":1.}",
            "{\"a\":tru}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":\"unterminated}", "{\"a\":1} x",
            "{\"choices\":[{\"text\":\"x\"}]", "{\"a\":\"tab\there\"}", "{\"a\":-}", "{\"a\":1e}",
        ]
        for text in bad {
            #expect(reference(text, .openai) == nil, "Foundation accepts \(text)")
            #expect(scan(text, .openai) == nil, "\(text)")
        }
        // Deep nesting is refused rather than recursing without bound.
        let deep = "{\"a\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}"
        #expect(scan(deep, .openai) == nil)
    }
}
