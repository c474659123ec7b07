import CurlHTTP
import Testing
@testable import EngineSim

/// Chunk counts and measured timing against the configured model.
///
/// Tolerances (measured on a shared 2-core machine, debug build, client and server in one
/// process): TTFT within ±15 ms of 200 ms and inter-chunk gaps within ±10 ms of the step, for
/// every stream at concurrency 1 and 32; the mean gap within ±2 ms.
@Suite(.serialized) struct StreamTimingTests {
    static let ttftToleranceMs = 15.0
    static let gapToleranceMs = 10.0
    static let meanGapToleranceMs = 2.0

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
    func measuredTimingMatchesTheModel(concurrency: Int) async throws {
        let step = 20.0, ttft = 200.0, tokens = 10
        let server = try await SimTest.start(settings(accept: 1, ttft: ttft, step: step))
        #expect(await SimTest.waitForStatus(server.baseURL + "/ready", 200))
        let multi = try CurlMulti()
        // Warm up: open `concurrency` keep-alive connections first, so TTFT measures the model
        // and not connection set-up (which costs ~1-2 ms per connection in a debug build of NIO).
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency { group.addTask { _ = try? await multi.send(HTTPRequest(url: server.baseURL + "/health")) } }
        }
        let request = HTTPRequest.json(url: server.baseURL + "/v1/completions",
                                       json: #"{"prompt":"x","max_tokens":\#(tokens),"stream":true}"#)
        let captures = await withTaskGroup(of: StreamCapture.self) { group in
            for _ in 0..<concurrency { group.addTask { await captureStream(multi, request) } }
            var all: [StreamCapture] = []
            for await c in group { all.append(c) }
            return all
        }
        var worstTTFT = 0.0, worstGap = 0.0, gaps: [Double] = []
        for c in captures {
            #expect(c.error == nil && c.contentEvents.count == tokens)
            let t = try #require(c.ttftMs)
            worstTTFT = max(worstTTFT, abs(t - ttft))
            for g in c.gapsMs { worstGap = max(worstGap, abs(g - step)) }
            gaps += c.gapsMs
        }
        let meanGap = gaps.reduce(0, +) / Double(max(1, gaps.count))
        let ttfts = captures.compactMap(\.ttftMs).sorted()
        print("TTFT ms (sorted):", ttfts.map { ($0 * 10).rounded() / 10 })
        print("timing c=\(concurrency): worst |TTFT-\(ttft)| = \(worstTTFT) ms, worst |gap-\(step)| = \(worstGap) ms, mean gap \(meanGap) ms, server timer lateness \(server.worstTimerLatenessMs) ms")
        #expect(worstTTFT <= Self.ttftToleranceMs)
        #expect(worstGap <= Self.gapToleranceMs)
        #expect(abs(meanGap - step) <= Self.meanGapToleranceMs)
        multi.shutdown()
        await server.shutdown()
    }

    @Test func ttftGrowsWithInput() async throws {
        var s = settings(accept: 1, ttft: 50, step: 5)
        s.timing.ttftPer1kInputMs = 100
        let server = try await SimTest.start(s)
        #expect(await SimTest.waitForStatus(server.baseURL + "/ready", 200))
        let multi = try CurlMulti()
        let ids = (0..<2000).map(String.init).joined(separator: ",")  // 2000 tokens → 250 ms
        let c = await captureStream(multi, .json(url: server.baseURL + "/generate", json:
            #"{"input_ids":[\#(ids)],"sampling_params":{"max_new_tokens":2},"stream":true}"#))
        let t = try #require(c.ttftMs)
        #expect(abs(t - 250) <= Self.ttftToleranceMs)
        multi.shutdown()
        await server.shutdown()
    }
}
