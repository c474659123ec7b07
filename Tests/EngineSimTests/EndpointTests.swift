import CurlHTTP
import Engines
import Testing
@testable import EngineSim

@Suite struct EndpointTests {
    let client = HTTPClient()

    @Test func infoEndpoints() async throws {
        var settings = SimSettings()
        settings.argOverride = ["tp_size": .number(2), "served_model_name": .string("renamed")]
        let server = try await SimTest.start(settings, argv: ["--model-path", "org/m", "--tp-size", "8",
                                                               "--chunked-prefill-size", "4096"])
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/ready", 200))
        #expect(try client.get(base + "/health").status == 200)
        #expect(try client.get(base + "/health_generate").status == 200)

        let info = try #require(SimTest.json(try client.get(base + "/server_info")))
        #expect(info["chunked_prefill_size"] == .number(4096))       // given flag
        #expect(info["tp_size"] == .number(2))                      // ARG_OVERRIDE wins over the flag
        #expect(info["model_path"] == .string("org/m"))
        #expect(info["trust_remote_code"] == .bool(false))          // catalog default
        #expect(info["version"] == .string(SimSettings.defaultVersion))
        #expect(info["internal_states"]?.array?.first?["avg_spec_accept_length"] == .number(1))
        #expect(SimTest.json(try client.get(base + "/get_server_info")) == info)

        let models = try #require(SimTest.json(try client.get(base + "/v1/models")))
        #expect(models["object"] == .string("list"))
        #expect(models["data"]?.array?.first?["id"] == .string("renamed"))

        let flush = try client.send(HTTPRequest(method: "POST", url: base + "/flush_cache"))
        #expect(flush.status == 200 && flush.text.hasPrefix("Cache flushed."))
        #expect(try client.get(base + "/nope").status == 404)
        #expect(try client.send(HTTPRequest(method: "DELETE", url: base + "/health")).status == 405)
        await server.shutdown()
    }

    @Test func nonStreamingGenerations() async throws {
        let server = try await SimTest.start()
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/ready", 200))

        let completion = try client.postJSON(base + "/v1/completions", json: #"{"prompt":"abcdefgh","max_tokens":3}"#)
        let c = try #require(SimTest.json(completion))
        #expect(c["choices"]?.array?.first?["text"] == .string("the quick brown"))
        #expect(c["usage"]?["prompt_tokens"] == .number(2) && c["usage"]?["completion_tokens"] == .number(3))

        let chat = try client.postJSON(base + "/v1/chat/completions", json:
            #"{"messages":[{"role":"user","content":"hi there"}],"max_tokens":2}"#)
        let m = try #require(SimTest.json(chat))
        #expect(m["object"] == .string("chat.completion"))
        #expect(m["choices"]?.array?.first?["message"]?["content"] == .string("the quick"))
        #expect(m["model"] == .string("sim/test-model"))

        let native = try client.postJSON(base + "/generate", json:
            #"{"input_ids":[1,2,3,4,5],"sampling_params":{"max_new_tokens":4,"ignore_eos":true}}"#)
        let n = try #require(SimTest.json(native))
        #expect(n["text"] == .string("the quick brown fox"))
        #expect(n["meta_info"]?["prompt_tokens"] == .number(5) && n["meta_info"]?["completion_tokens"] == .number(4))

        let bad = try client.postJSON(base + "/v1/completions", json: "{not json")
        #expect(bad.status == 400)
        let noPrompt = try client.postJSON(base + "/v1/completions", json: "{}")
        #expect(noPrompt.status == 400 && noPrompt.text.contains("prompt"))
        await server.shutdown()
    }

    /// `prompt` as token ids on `/v1/completions`, counted one token per id in `usage` (vLLM, SGLang
    /// and llama.cpp accept them); `DSDEPLOY_SIM_REFUSE_TOKEN_IDS=1` makes a text-only server.
    @Test func tokenIDPrompts() async throws {
        let server = try await SimTest.start()
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/ready", 200))
        let ids = try client.postJSON(base + "/v1/completions", json: #"{"prompt":[11,12,13,14,15,16,17],"max_tokens":2}"#)
        #expect(ids.status == 200)
        #expect(SimTest.json(ids)?["usage"]?["prompt_tokens"] == .number(7))
        let bad = try client.postJSON(base + "/v1/completions", json: #"{"prompt":[1,0.5],"max_tokens":2}"#)
        #expect(bad.status == 400 && bad.text.contains("token ids"), "\(bad.text)")
        await server.shutdown()

        var settings = SimSettings()
        settings.refuseTokenIDs = true
        let textOnly = try await SimTest.start(settings)
        let url = textOnly.baseURL
        #expect(await SimTest.waitForStatus(url + "/ready", 200))
        let refused = try client.postJSON(url + "/v1/completions", json: #"{"prompt":[11,12,13],"max_tokens":2}"#)
        #expect(refused.status == 400 && refused.text.contains("'prompt' must be a string or a list of strings"),
                "\(refused.text)")
        let text = try client.postJSON(url + "/v1/completions", json: #"{"prompt":"abcdefgh","max_tokens":2}"#)
        #expect(text.status == 200 && SimTest.json(text)?["usage"]?["prompt_tokens"] == .number(2))
        let native = try client.postJSON(url + "/generate", json: #"{"input_ids":[1,2,3],"sampling_params":{"max_new_tokens":2}}"#)
        #expect(native.status == 200, "SGLang's /generate always takes input_ids")
        await textOnly.shutdown()
    }

    @Test func streamingFormats() async throws {
        let server = try await SimTest.start()
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/ready", 200))
        let multi = try CurlMulti()

        let comp = await captureStream(multi, .json(url: base + "/v1/completions", json:
            #"{"prompt":"x","max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}"#))
        #expect(comp.status == 200 && comp.events.last?.event.isDone == true)
        let texts = comp.contentEvents.compactMap { SimTest.parse($0.event.data)?["choices"]?.array?.first?["text"]?.string }
        #expect(texts == ["the", " quick", " brown", " fox"])
        let usage = SimTest.parse(comp.events[comp.events.count - 2].event.data)?["usage"]
        #expect(usage?["completion_tokens"] == .number(4) && usage?["prompt_tokens"] == .number(1))

        let chat = await captureStream(multi, .json(url: base + "/v1/chat/completions", json:
            #"{"messages":[{"role":"user","content":"x"}],"max_tokens":3,"stream":true}"#))
        let deltas = chat.contentEvents.compactMap { SimTest.parse($0.event.data)?["choices"]?.array?.first?["delta"] }
        #expect(deltas.map { $0["content"]?.string ?? "" }.joined() == "the quick brown")
        #expect(deltas.first?["role"] == .string("assistant"))
        #expect(chat.events.count == 4)  // 3 content chunks + [DONE], no usage without include_usage

        let native = await captureStream(multi, .json(url: base + "/generate", json:
            #"{"text":"x","sampling_params":{"max_new_tokens":3},"stream":true}"#))
        let cumulative = native.contentEvents.compactMap { SimTest.parse($0.event.data)?["text"]?.string }
        #expect(cumulative == ["the", "the quick", "the quick brown"])
        // As SGLang's tokenizer manager builds each chunk: text, output_ids (so far), meta_info.
        let ids = native.contentEvents.compactMap { SimTest.parse($0.event.data)?["output_ids"]?.array?.count }
        #expect(ids == [1, 2, 3])
        #expect(native.contentEvents.allSatisfy {
            $0.event.data.hasPrefix(#"{"text":"#) && $0.event.data.contains(#"],"meta_info":{"#)
        }, "\(native.contentEvents.map(\.event.data))")
        let last = SimTest.parse(native.contentEvents.last?.event.data ?? "")?["meta_info"]
        #expect(last?["completion_tokens"] == .number(3))
        #expect(native.events.last?.event.isDone == true)
        multi.shutdown()
        await server.shutdown()
    }

    @Test func apiKeyIsRequiredExceptOnHealth() async throws {
        let server = try await SimTest.start(argv: ["--model-path", "m", "--api-key", "k-123"])
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/health", 200))
        #expect(try client.get(base + "/v1/models").status == 401)
        let authed = try client.send(HTTPRequest(url: base + "/v1/models").withBearerToken("k-123"))
        #expect(authed.status == 200)
        await server.shutdown()
    }
}

extension SimTest {
    /// Parses JSON text.
    static func parse(_ text: String) -> JSONValue? {
        json(HTTPResponse(status: 200, headers: [], body: Array(text.utf8)))
    }
}
