import Engines
import CurlHTTP
import Testing
@testable import EngineSim

/// Chunk counts, and the timings a client measures: present, positive, and never earlier than the
/// model allows (a server cannot answer before its timers fire; 1 ms slack for clock granularity). How close they come to the model
/// (TTFT and gap errors at concurrency 1 and 32) is measured in benchmarks/timing.sh, not asserted.
@Suite struct StreamTimingTests {
    func settings(accept: Double, ttft: Double = 20, step: Double = 2) -> SimSettings {
        var s = SimSettings()
        s.timing = TimingModel(ttftBaseMs: ttft, ttftPer1kInputMs: 0, decodeStepMs: step, acceptLength: accept)
        return s
    }

    @Test(arguments: [1.0, 2.0, 2.5, 3.0])
    func chunkCountsFollowAcceptLength(accept: Double) async throws {
        let server = try await SimTest.start(settings(accept: accept))
        #expect(await SimTest.waitForStatus(server.baseURL + "/ready", 200))
        let multi = try CurlMulti()
        for maxTokens in [1, 10, 33] {
            let c = await captureStream(multi, .json(url: server.baseURL + "/v1/completions", json:
                #"{"prompt":"x","max_tokens":\#(maxTokens),"stream":true,"stream_options":{"include_usage":true}}"#))
            #expect(c.contentEvents.count == Int((Double(maxTokens) / accept).rounded(.up)))
            let texts = c.contentEvents.compactMap { SimTest.parse($0.event.data)?["choices"]?.array?.first?["text"]?.string }
            #expect(texts.joined() == SimTokens.text(0..<maxTokens))
            let n = await captureStream(multi, .json(url: server.baseURL + "/generate", json:
                #"{"text":"x","sampling_params":{"max_new_tokens":\#(maxTokens)},"stream":true}"#))
            #expect(n.contentEvents.count == Int((Double(maxTokens) / accept).rounded(.up)))
        }
        multi.shutdown()
        await server.shutdown()
    }

    @Test(arguments: [1, 32])
    func streamsCarryTimings(concurrency: Int) async throws {
        let step = 20.0, ttft = 200.0, tokens = 10
        let captures = try await stream(concurrency: concurrency, ttft: ttft, step: step, tokens: tokens)
        #expect(captures.count == concurrency)
        for c in captures {
            #expect(c.error == nil && c.status == 200)
            #expect(c.contentEvents.count == tokens)
            let measured = try #require(c.ttftMs)
            #expect(measured >= ttft - 1, "no first token before the modelled TTFT: \(measured) ms")
            #expect(c.gapsMs.count == tokens - 1)
            #expect(c.gapsMs.allSatisfy { $0 >= 0 })
            // The last token cannot come before TTFT plus its decode steps.
            let last = try #require(c.contentEvents.last).at.milliseconds(since: c.start)
            #expect(last >= ttft + Double(tokens - 1) * step - 1, "last token at \(last) ms")
        }
    }

    /// `concurrency` simultaneous streams of `tokens` tokens, over warm keep-alive connections.
    func stream(concurrency: Int, ttft: Double, step: Double, tokens: Int) async throws -> [StreamCapture] {
        let server = try await SimTest.start(settings(accept: 1, ttft: ttft, step: step))
        #expect(await SimTest.waitForStatus(server.baseURL + "/ready", 200))
        let multi = try CurlMulti()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask { _ = try? await multi.send(HTTPRequest(url: server.baseURL + "/health")) }
            }
        }
        let request = HTTPRequest.json(url: server.baseURL + "/v1/completions",
                                       json: #"{"prompt":"x","max_tokens":\#(tokens),"stream":true}"#)
        let captures = await withTaskGroup(of: StreamCapture.self) { group in
            for _ in 0..<concurrency { group.addTask { await captureStream(multi, request) } }
            var all: [StreamCapture] = []
            for await c in group { all.append(c) }
            return all
        }
        multi.shutdown()
        await server.shutdown()
        return captures
    }

    @Test func ttftGrowsWithInput() async throws {
        var s = settings(accept: 1, ttft: 50, step: 5)
        s.timing.ttftPer1kInputMs = 100
        let server = try await SimTest.start(s)
        #expect(await SimTest.waitForStatus(server.baseURL + "/ready", 200))
        let multi = try CurlMulti()
        let ids = (0..<2000).map(String.init).joined(separator: ",")  // 2000 tokens → 50 + 200 ms
        let c = await captureStream(multi, .json(url: server.baseURL + "/generate", json:
            #"{"input_ids":[\#(ids)],"sampling_params":{"max_new_tokens":2},"stream":true}"#))
        #expect(c.error == nil && c.contentEvents.count == 2)
        let measured = try #require(c.ttftMs)
        #expect(measured >= 250 - 1, "the input's share of TTFT was applied: \(measured) ms")
        multi.shutdown()
        await server.shutdown()
    }
}
