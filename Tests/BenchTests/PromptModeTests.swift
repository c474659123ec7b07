import Bench
import EngineSim
import Foundation
import Testing

/// Token-id prompts (exact input lengths), the text fallback when a server refuses them, and the
/// requested vs server-counted input tokens in the results.
@Suite struct PromptModeTests {
    private func simulator(_ configure: (inout SimSettings) -> Void = { _ in }) async throws -> SimServer {
        try await startSimulator(TimingModel(ttftBaseMs: 2, ttftPer1kInputMs: 0, decodeStepMs: 1, acceptLength: 1), configure)
    }

    /// A row of the text report (`{:<40} {}`).
    private func row(_ key: String, _ value: String) -> String {
        key.padding(toLength: 40, withPad: " ", startingAt: 0) + " " + value + "\n"
    }

    @Test func textFallbackWhenTheServerRefusesTokenIDs() async throws {
        let sim = try await simulator { $0.refuseTokenIDs = true }
        let c = simBenchConfig(sim.baseURL)
        let result = try await BenchRunner(config: c).run()
        await sim.shutdown()

        let m = result.metrics
        #expect(m.completed == 8 && m.failed == 0, "\(m.failureReasons)")
        let reason = try #require(result.promptMode.refusal, "\(result.promptMode)")
        #expect(reason.hasPrefix("HTTP 400") && reason.contains("'prompt' must be a string"), "\(reason)")
        // The text's length is the server's count of it, not the requested one; both are reported.
        let texts = RandomDataset.sample(numPrompts: 8, inputLength: 64, outputLength: 4, rangeRatio: 1, seed: c.seed)
        let counted = texts.map { SimTokens.count(text: $0.text) }
        #expect(m.requestedInput == 8 * 64)
        #expect(m.serverInput == counted.reduce(0, +))
        #expect(m.serverInput != m.requestedInput)
        #expect(m.totalInput == m.serverInput)
        #expect(result.outputs.map(\.serverPromptLength) == counted)

        let json = BenchReport.jsonObject(result, details: true)
        #expect(json["prompt_mode"] as? String == "text")
        #expect(json["token_ids_refused"] as? String == reason)
        #expect(json["total_input_tokens_requested"] as? Int == 8 * 64)
        #expect(json["total_input_tokens_server"] as? Int == counted.reduce(0, +))
        #expect(json["input_lens_requested"] as? [Int] == Array(repeating: 64, count: 8))
        #expect(json["input_lens_server"] as? [Int] == counted)
        let text = BenchReport.text(result)
        #expect(text.contains(row("Prompt mode:", "text (server refused token ids: \(reason))")), "\(text)")
        #expect(text.contains(row("Input tokens requested:", "512")), "\(text)")
        #expect(text.contains(row("Input tokens counted by server:", "\(counted.reduce(0, +))")), "\(text)")
    }

    @Test func tokenIDsOnAServerThatTakesThem() async throws {
        let sim = try await simulator()
        var c = simBenchConfig(sim.baseURL)
        c.warmupRequests = 0  // the probe alone decides
        let result = try await BenchRunner(config: c).run()
        await sim.shutdown()
        #expect(result.promptMode == .tokenIDs)
        #expect(result.metrics.serverInput == 8 * 64 && result.metrics.requestedInput == 8 * 64)
        let json = BenchReport.jsonObject(result, details: false)
        #expect(json["prompt_mode"] as? String == "token-ids")
        #expect(json["token_ids_refused"] is NSNull)
        #expect(json["input_lens_server"] == nil, "per-request arrays only with details")
        #expect(BenchReport.text(result).contains(row("Prompt mode:", "token-ids")))
    }

    /// A server that fails text as well (not ready: 503) has not refused token ids: no fallback, and
    /// the run reports the real failure.
    @Test func noFallbackWhenTextFailsToo() async throws {
        let sim = try await simulator { $0.neverReady = true }
        var c = simBenchConfig(sim.baseURL)
        c.warmupRequests = 0
        let result = try await BenchRunner(config: c).run()
        await sim.shutdown()
        #expect(result.promptMode == .tokenIDs)
        #expect(result.metrics.failed == 8)
        #expect(result.metrics.failureReasons.keys.allSatisfy { $0.hasPrefix("HTTP 503") }, "\(result.metrics.failureReasons)")
        #expect(BenchReport.jsonObject(result, details: false)["total_input_tokens_server"] is NSNull)
    }

    /// Chat messages and text datasets are text; there is nothing to refuse.
    @Test func chatIsText() async throws {
        let sim = try await simulator()
        let result = try await BenchRunner(config: simBenchConfig(sim.baseURL, backend: .openaiChat)).run()
        await sim.shutdown()
        #expect(result.promptMode == .text(refused: nil))
        #expect(result.promptMode.description == "text")
        #expect(result.metrics.completed == 8)
    }

    @Test func idsFitTheServersVocabulary() {
        let requests = RandomDataset.sample(numPrompts: 20, inputLength: 64, outputLength: 4, rangeRatio: 0, seed: 3)
        for r in requests {
            let tiny = RandomDataset.fit(r, vocabularySize: 507)  // llama.cpp's tiny test model
            #expect(tiny.tokenIDs.count == r.inputLength && tiny.inputLength == r.inputLength && tiny.text == r.text)
            #expect(tiny.tokenIDs.allSatisfy { (100..<507).contains($0) }, "\(tiny.tokenIDs)")
            #expect(RandomDataset.fit(r, vocabularySize: 507) == tiny)
            #expect(RandomDataset.fit(r, vocabularySize: 8).tokenIDs.allSatisfy { (4..<8).contains($0) })
            #expect(RandomDataset.fit(r, vocabularySize: 32_000) == r, "every drawn id is valid already")
            #expect(RandomDataset.fit(r, vocabularySize: 0) == r)
        }
        let long = RandomDataset.sample(numPrompts: 20, inputLength: 64, outputLength: 4, rangeRatio: 1, seed: 3)
        let all = long.flatMap { RandomDataset.fit($0, vocabularySize: 507).tokenIDs }
        #expect(Set(all).count > 350, "1,280 ids spread over the 407 allowed, not a few")
    }

    @Test func requestedAndServerCountedTotals() {
        func out(_ ok: Bool, _ requested: Int, _ server: Int?) -> RequestOutput {
            RequestOutput(success: ok, promptLength: server ?? requested, outputLength: 2, ttft: 0.1, latency: 0.2,
                          itl: [0.1], error: ok ? "" : "HTTP 500", requestedPromptLength: requested,
                          serverPromptLength: server)
        }
        let all = BenchMetrics(outputs: [out(true, 64, 70), out(true, 32, 40), out(false, 16, nil)], duration: 1)
        #expect(all.requestedInput == 96 && all.serverInput == 110 && all.totalInput == 110)
        let partial = BenchMetrics(outputs: [out(true, 64, 70), out(true, 32, nil)], duration: 1)
        #expect(partial.requestedInput == 96 && partial.serverInput == nil, "a sum over some requests is no total")
        #expect(BenchMetrics(outputs: [out(false, 8, nil)], duration: 1).serverInput == nil)
        #expect(RequestOutput(success: true, promptLength: 9, outputLength: 1, ttft: 0, latency: 0, itl: [], error: "")
            .requestedPromptLength == 9)
    }
}
