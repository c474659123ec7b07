import Engines
import CurlHTTP
import Testing
@testable import EngineSim

/// Chunk counts and measured timing against the configured model (TTFT 200 ms, step 20 ms).
///
/// Tolerances, measured on the shared 2-core dev machine (load average 5-9 from parallel builds),
/// client (CurlMulti) and server (NIO) in one test process:
/// - concurrency 1: every TTFT within ±15 ms, every inter-chunk gap within ±10 ms, mean gap ±2 ms.
/// - concurrency 32, release build: the same bounds hold (worst seen +12 ms TTFT, ±11 ms gap).
/// - concurrency 32, debug build: the 32 simultaneous requests queue for ~0.5-1.5 ms each in
///   debug NIO before they are read, so TTFT median ≤ +30 ms and worst ≤ +80 ms; gaps p90 ±10 ms,
///   mean ±2 ms (the server's own timers stay within a few ms of their deadlines).
/// A run is retried up to 3 times: one scheduler stall on a loaded machine is not a simulator bug.
@Suite(.serialized) struct StreamTimingTests {
    struct Bounds {
        var medianTTFT: Double, worstTTFT: Double, p90Gap: Double, worstGap: Double, meanGap: Double
    }

    static func bounds(concurrency: Int) -> Bounds {
        #if DEBUG
        if concurrency > 1 { return Bounds(medianTTFT: 30, worstTTFT: 80, p90Gap: 10, worstGap: 25, meanGap: 2) }
        #endif
        return Bounds(medianTTFT: 15, worstTTFT: 15, p90Gap: 10, worstGap: 10, meanGap: 2)
    }

    /// Errors against the model, in milliseconds.
    struct Stats: CustomStringConvertible {
        var medianTTFT = 0.0, worstTTFT = 0.0, p90Gap = 0.0, worstGap = 0.0, meanGap = 0.0, lateness = 0.0

        func within(_ b: Bounds) -> Bool {
            medianTTFT <= b.medianTTFT && worstTTFT <= b.worstTTFT && p90Gap <= b.p90Gap
                && worstGap <= b.worstGap && meanGap <= b.meanGap
        }

        var description: String {
            func f(_ x: Double) -> String { String((x * 10).rounded() / 10) }
            return "TTFT err median \(f(medianTTFT)) worst \(f(worstTTFT)); gap err p90 \(f(p90Gap)) "
                + "worst \(f(worstGap)) mean \(f(meanGap)); server timer lateness \(f(lateness)) ms"
        }
    }

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
        let bounds = Self.bounds(concurrency: concurrency)
        var attempts: [Stats] = []
        for _ in 0..<3 {
            let stats = try await measure(concurrency: concurrency)
            attempts.append(stats)
            print("timing c=\(concurrency) attempt \(attempts.count): \(stats)")
            if stats.within(bounds) { break }
        }
        #expect(attempts.last?.within(bounds) == true, "c=\(concurrency): \(attempts)")
    }

    /// One run: `concurrency` simultaneous streams of 10 tokens at TTFT 200 ms, step 20 ms.
    func measure(concurrency: Int) async throws -> Stats {
        let step = 20.0, ttft = 200.0, tokens = 10
        let server = try await SimTest.start(settings(accept: 1, ttft: ttft, step: step))
        #expect(await SimTest.waitForStatus(server.baseURL + "/ready", 200))
        let multi = try CurlMulti()
        // Warm up: open `concurrency` keep-alive connections first, so TTFT measures the model
        // and not connection set-up.
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
        let lateness = server.worstTimerLatenessMs
        await server.shutdown()
        for c in captures { #expect(c.error == nil && c.contentEvents.count == tokens) }
        let ttftErrors = captures.compactMap(\.ttftMs).map { abs($0 - ttft) }.sorted()
        let gaps = captures.flatMap(\.gapsMs)
        let gapErrors = gaps.map { abs($0 - step) }.sorted()
        func quantile(_ xs: [Double], _ q: Double) -> Double {
            xs.isEmpty ? .infinity : xs[min(xs.count - 1, Int(Double(xs.count - 1) * q))]
        }
        return Stats(medianTTFT: quantile(ttftErrors, 0.5), worstTTFT: ttftErrors.last ?? .infinity,
                     p90Gap: quantile(gapErrors, 0.9), worstGap: gapErrors.last ?? .infinity,
                     meanGap: abs(gaps.reduce(0, +) / Double(max(1, gaps.count)) - step), lateness: lateness)
    }

    @Test func ttftGrowsWithInput() async throws {
        var s = settings(accept: 1, ttft: 50, step: 5)
        s.timing.ttftPer1kInputMs = 100
        let server = try await SimTest.start(s)
        #expect(await SimTest.waitForStatus(server.baseURL + "/ready", 200))
        let multi = try CurlMulti()
        _ = try? await multi.send(HTTPRequest(url: server.baseURL + "/health"))  // warm connection
        let ids = (0..<2000).map(String.init).joined(separator: ",")  // 2000 tokens → 50 + 200 ms
        var errors: [Double] = []
        for _ in 0..<3 {  // best of 3, as above
            let c = await captureStream(multi, .json(url: server.baseURL + "/generate", json:
                #"{"input_ids":[\#(ids)],"sampling_params":{"max_new_tokens":2},"stream":true}"#))
            errors.append(abs((c.ttftMs ?? .infinity) - 250))
            if errors.last ?? .infinity <= Self.bounds(concurrency: 1).worstTTFT { break }
        }
        #expect(errors.last ?? .infinity <= Self.bounds(concurrency: 1).worstTTFT, "TTFT errors \(errors)")
        multi.shutdown()
        await server.shutdown()
    }
}
