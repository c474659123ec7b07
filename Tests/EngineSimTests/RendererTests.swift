import Engines
import Testing
@testable import EngineSim

@Suite struct RendererTests {
    func generation(_ api: Generation.API, maxTokens: Int) -> Generation {
        Generation(api: api, id: "cmpl-1", model: "m \"quoted\"", created: 1_700_000_000, promptTokens: 3,
                   maxTokens: maxTokens, stream: true, includeUsage: true, incremental: false)
    }

    @Test(arguments: [Generation.API.completions, .chat])
    func templatesMatchTheGeneralRenderer(api: Generation.API) throws {
        for maxTokens in [1, 2, 5] {
            let g = generation(api, maxTokens: maxTokens)
            let template = try #require(GenerationRenderer.ChunkTemplate(g))
            let sizes = TimingModel(ttftBaseMs: 0, ttftPer1kInputMs: 0, decodeStepMs: 0, acceptLength: 2)
                .chunkSizes(maxTokens: maxTokens)
            var at = 0
            for n in sizes {
                let range = at..<(at + n)
                let general = GenerationRenderer.sse(GenerationRenderer.chunk(g, tokens: range, elapsed: 0))
                #expect(template.render(range, maxTokens: maxTokens) == general)
                at += n
            }
        }
        #expect(GenerationRenderer.ChunkTemplate(generation(.native, maxTokens: 3)) == nil)
    }

    /// A native stream's events, rendered by extending the text and ids so far, are exactly the
    /// general renderer's, chunk sizes of 1 and 2 alike, also when a stream starts again; they parse
    /// as SGLang's members with the ids so far.
    @Test func nativeStreamsMatchTheGeneralRenderer() throws {
        for accept in [1.0, 2.0] {
            let g = generation(.native, maxTokens: 45)
            let sizes = TimingModel(ttftBaseMs: 0, ttftPer1kInputMs: 0, decodeStepMs: 0, acceptLength: accept)
                .chunkSizes(maxTokens: 45)
            var stream = GenerationRenderer.NativeStream()
            var at = 0
            for n in sizes {
                let range = at..<(at + n)
                let general = GenerationRenderer.event(g, tokens: range, elapsed: 0.25)
                #expect(stream.event(g, tokens: range, elapsed: 0.25) == general)
                #expect(general.hasPrefix("data: ") && general.hasSuffix("\n\n"))
                #expect(JSONValue.parse(Array(general.dropFirst(6).dropLast(2).utf8))
                    == GenerationRenderer.chunk(g, tokens: range, elapsed: 0.25))
                at += n
            }
            #expect(stream.event(g, tokens: 0..<1, elapsed: 0) == GenerationRenderer.event(g, tokens: 0..<1, elapsed: 0))
        }
        var stream = GenerationRenderer.NativeStream()
        let g = generation(.native, maxTokens: 3)
        _ = stream.event(g, tokens: 0..<1, elapsed: 0)
        let event = stream.event(g, tokens: 1..<2, elapsed: 0)
        let json = try #require(JSONValue.parse(Array(event.dropFirst(6).utf8)))
        #expect(json["text"] == .string("the quick"))
        #expect(json["output_ids"] == .array([.number(Double(SimTokens.id(0))), .number(Double(SimTokens.id(1)))]))
    }

    @Test func jsonParser() {
        #expect(JSONValue.parse(Array(#"{"a":[1,-2.5e1,true,false,null,"x\"\u00e9\ud83d\ude00\n"]}"#.utf8))
            == .object(["a": .array([.number(1), .number(-25), .bool(true), .bool(false), .null,
                                     .string("x\"é😀\n")])]))
        #expect(JSONValue.parse(Array(" [ ] ".utf8)) == .array([]))
        #expect(JSONValue.parse(Array("{}".utf8)) == .object([:]))
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "tru", "1 2", "\"a\u{1}\"", "{\"a\":1}x", "[\"\\q\"]", "nan"] {
            #expect(JSONValue.parse(Array(bad.utf8)) == nil, "\(bad)")
        }
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(JSONValue.parse(Array(deep.utf8)) == nil)  // nesting limit, no stack overflow
    }

    @Test func promptTokenCounting() {
        func tokens(_ api: Generation.API, _ body: String, ids: Bool = true) -> Int? {
            guard case .success(let g) = Generation.parse(api: api, body: Array(body.utf8), model: "m", id: "1",
                                                          created: 0, incrementalNative: false,
                                                          acceptsTokenIDs: ids) else { return nil }
            return g.promptTokens
        }
        #expect(tokens(.completions, #"{"prompt":"abcdefgh"}"#) == 2)
        #expect(tokens(.completions, #"{"prompt":[1,2,3]}"#) == 3)  // token ids: one token each, as vLLM/SGLang/llama.cpp
        #expect(tokens(.completions, #"{"prompt":[[1,2],[3]]}"#) == 3)
        #expect(tokens(.completions, #"{"prompt":[0,1.0]}"#) == 2)
        #expect(tokens(.completions, #"{"prompt":[1,2.5]}"#) == nil)  // not token ids
        #expect(tokens(.completions, #"{"prompt":[1,-2]}"#) == nil)
        #expect(tokens(.completions, #"{"prompt":[1,"a"]}"#) == nil)
        // A text-only server (DSDEPLOY_SIM_REFUSE_TOKEN_IDS) refuses ids, and only ids.
        #expect(tokens(.completions, #"{"prompt":[1,2,3]}"#, ids: false) == nil)
        #expect(tokens(.completions, #"{"prompt":[[1,2]]}"#, ids: false) == nil)
        #expect(tokens(.completions, #"{"prompt":["abcd","efgh"]}"#, ids: false) == 2)
        #expect(tokens(.native, #"{"input_ids":[5,6,7]}"#, ids: false) == 3)
        #expect(tokens(.completions, #"{"prompt":["abcd","efgh"]}"#) == 2)
        #expect(tokens(.native, #"{"text":"abc","input_ids":[5,6,7,8,9]}"#) == 5)  // input_ids win
        #expect(tokens(.chat, #"{"messages":[{"role":"user","content":[{"type":"text","text":"abcdefg"}]}]}"#) == 2)
        #expect(tokens(.completions, #"{"prompt":"x","max_tokens":-1}"#) == nil)
        #expect(tokens(.completions, #"{"prompt":{"a":1}}"#) == nil)
        #expect(tokens(.chat, #"{"messages":[]}"#) == nil)
    }
}
