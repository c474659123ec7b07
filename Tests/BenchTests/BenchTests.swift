@testable import Bench
import CurlHTTP
import EngineSim
import Engines
import Foundation
import Testing
import TestSupport

@Suite struct BenchTests {
    // MARK: pure math

    @Test func percentilesMatchNumPy() {
        let xs: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        #expect(abs((Statistics.percentile(xs, 50)) - 5.5) <= 1e-12)
        #expect(abs((Statistics.percentile(xs, 90)) - 9.1) <= 1e-12)   // np.percentile(range(1,11), 90)
        #expect(abs((Statistics.percentile(xs, 99)) - 9.91) <= 1e-12)
        #expect(Statistics.percentile(xs, 0) == 1)
        #expect(Statistics.percentile(xs, 100) == 10)
        #expect(abs((Statistics.percentile([7, 3, 5], 25)) - 4) <= 1e-12)  // unsorted input
        #expect(Statistics.percentile([], 99) == 0)
        #expect(Statistics.percentile([42], 99) == 42)
        #expect(abs((Statistics.std([2, 4, 4, 4, 5, 5, 7, 9])) - 2) <= 1e-12)  // population std
        #expect(Statistics.mean([]) == 0)
    }

    /// The percentiles behind the latency summaries, found by selection, are exactly those of the
    /// sorted sample: latencies, duplicates, negatives and zeros, infinities, any length.
    @Test func selectedPercentilesEqualSortedOnes() {
        var g = SeededRandom(seed: 7)  // a failure replays from its seed
        let specials: [Double] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, 1, -1]
        let ps: [Double] = [0, 1, 25, 50, 90, 95, 99, 99.9, 100]
        for n in [0, 1, 2, 3, 15, 16, 17, 100, 1000, 70_000] {
            for kind in 0..<4 {
                let xs: [Double] = (0..<n).map { i in
                    switch kind {
                    case 0: Double.random(in: 0.016..<0.031, using: &g)  // latencies in seconds
                    case 1: Double(Int.random(in: -3...3, using: &g))  // many duplicates
                    case 2: i % 3 == 0 ? specials[Int.random(in: 0..<specials.count, using: &g)] : Double(i)
                    default: Double(n - i)  // descending
                    }
                }
                let sorted = xs.sorted()
                let want = ps.map { Statistics.percentile(sorted: sorted, $0) }
                let got = Statistics.percentiles(xs, ps)
                #expect(zip(got, want).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "n = \(n), kind \(kind): \(got) vs \(want)")
                let backwards = Statistics.percentiles(xs, ps.reversed())
                #expect(zip(backwards, want.reversed()).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "reversed, n = \(n), kind \(kind)")
            }
        }
    }

    @Test func metricsFollowBenchServing() {
        let ok = RequestOutput(success: true, promptLength: 10, outputLength: 5, ttft: 0.1, latency: 0.5,
                               itl: [0.1, 0.1, 0.1, 0.1], error: "")
        let one = RequestOutput(success: true, promptLength: 10, outputLength: 1, ttft: 0.2, latency: 0.2,
                                itl: [], error: "")
        let bad = RequestOutput(success: false, promptLength: 10, outputLength: 0, ttft: 0, latency: 0, itl: [],
                                error: "HTTP 500")
        let m = BenchMetrics(outputs: [ok, one, bad, bad], duration: 2)
        #expect(m.completed == 2)
        #expect(m.failed == 2)
        #expect(m.failureReasons == ["HTTP 500": 2])
        #expect(m.totalInput == 20)
        #expect(m.totalOutput == 6)
        #expect(abs(m.requestThroughput - 1) <= 1e-12)
        #expect(abs(m.outputThroughput - 3) <= 1e-12)
        #expect(abs(m.totalThroughput - 13) <= 1e-12)
        #expect(abs(m.concurrency - 0.35) <= 1e-12)
        #expect(abs(m.tpot.mean - 100) <= 1e-9)  // only output > 1 counts: (0.5-0.1)/4
        #expect(abs(m.ttft.mean - 150) <= 1e-9)
        #expect(abs(m.itl.p99 - 100) <= 1e-9)
        #expect(abs(m.e2e.max - 500) <= 1e-9)
    }

    @Test func randomDatasetIsDeterministicAndInRange() {
        let a = RandomDataset.sample(numPrompts: 50, inputLength: 100, outputLength: 40, rangeRatio: 0.5, seed: 7)
        let b = RandomDataset.sample(numPrompts: 50, inputLength: 100, outputLength: 40, rangeRatio: 0.5, seed: 7)
        let c = RandomDataset.sample(numPrompts: 50, inputLength: 100, outputLength: 40, rangeRatio: 0.5, seed: 8)
        #expect(a == b)
        #expect(a != c)
        for r in a {
            #expect((50...100).contains(r.inputLength))
            #expect((20...40).contains(r.outputLength))
            #expect(r.tokenIDs.count == r.inputLength)
        }
        let fixed = RandomDataset.sample(numPrompts: 5, inputLength: 16, outputLength: 8, rangeRatio: 1, seed: 1)
        #expect(fixed.map(\.outputLength) == [8, 8, 8, 8, 8])
    }

    @Test func poissonScheduleRate() {
        let rate = 20.0
        let t = ArrivalSchedule.offsets(count: 200, rate: rate, seed: 42)
        #expect(t.first == 0)
        #expect(t == t.sorted())
        let measured = Double(t.count - 1) / (t.last ?? 1)
        #expect(abs(measured - rate) <= rate * 0.2)
        #expect(t == ArrivalSchedule.offsets(count: 200, rate: rate, seed: 42))
        #expect(t != ArrivalSchedule.offsets(count: 200, rate: rate, seed: 43))
        #expect(ArrivalSchedule.offsets(count: 3, rate: .infinity, seed: 1) == [0, 0, 0])
    }

    // MARK: against the in-process simulator

    private func simulator(acceptLength: Double) async throws -> SimServer {
        try await startSimulator(TimingModel(ttftBaseMs: 100, ttftPer1kInputMs: 0, decodeStepMs: 10, acceptLength: acceptLength))
    }

    private func measure(backend: BenchBackend, acceptLength: Double, direct: Bool = true) async throws {
        let sim = try await simulator(acceptLength: acceptLength)
        var config = simBenchConfig(sim.baseURL, backend: backend)
        config.directHTTP1 = direct
        config.numPrompts = 12
        config.randomOutputLength = 32
        config.warmupRequests = 1
        let result = try await BenchRunner(config: config).run()
        await sim.shutdown()
        let m = result.metrics
        print("[\(backend.rawValue) accept=\(acceptLength)] TTFT mean \(m.ttft.mean) ms, ITL mean \(m.itl.mean) ms, "
              + "TPOT mean \(m.tpot.mean) ms, E2E mean \(m.e2e.mean) ms, accept \(result.acceptLength ?? -1)")
        #expect(m.completed == 12, "\(m.failureReasons)")
        #expect(m.failed == 0)
        #expect(m.totalOutput == 12 * 32)
        #expect(result.outputs.map(\.outputLength) == Array(repeating: 32, count: 12))
        #expect(m.requestedInput == 12 * 64)
        if backend.takesTokenIDs {
            // input_ids / prompt: [ids]: exactly the ids sent, and the server counts as many.
            #expect(result.promptMode == .tokenIDs)
            #expect(m.totalInput == 12 * 64)
            #expect(m.serverInput == 12 * 64)
            #expect(result.outputs.map(\.serverPromptLength) == Array(repeating: 64, count: 12))
        } else {
            // Chat is text: the server's usage.prompt_tokens (the simulator counts UTF-8 bytes / 4).
            #expect(result.promptMode == .text(refused: nil))
            let prompts = RandomDataset.sample(numPrompts: 12, inputLength: 64, outputLength: 32, rangeRatio: 1, seed: 42)
            let counted = prompts.map { SimTokens.count(text: $0.text) }.reduce(0, +)
            #expect(m.totalInput == counted)
            #expect(m.serverInput == counted)
        }
        // Timings are computed and positive; the simulator never answers before its modelled TTFT
        // (100 ms; 1 ms slack for clock granularity). How close they come to the model is measured in benchmarks/timing.sh.
        #expect(m.ttft.mean >= 99)
        #expect(m.itl.mean > 0)
        #expect(m.tpot.mean > 0)
        #expect(m.e2e.mean >= m.ttft.mean)
        if backend == .sglang { #expect(abs((result.acceptLength ?? 0) - acceptLength) <= 0.01) }
    }

    /// Both readers: dsdeploy's own on libcurl's connections (the default) and libcurl's transfer
    /// (`--libcurl-reads`) measure the same stream alike.
    @Test(arguments: [true, false]) func sglangAcceptLength1(direct: Bool) async throws {
        try await measure(backend: .sglang, acceptLength: 1, direct: direct)
    }

    /// bench_serving's sglang backend splits a chunk's gap over its tokens (ITL 10 ms / 2 tokens;
    /// measured in benchmarks/timing.sh).
    @Test func sglangAcceptLength2() async throws {
        try await measure(backend: .sglang, acceptLength: 2)
    }

    @Test(arguments: [true, false]) func openAICompletions(direct: Bool) async throws {
        try await measure(backend: .openai, acceptLength: 1, direct: direct)
    }

    /// bench_serving's OpenAI backends count one ITL per chunk (the full 10 ms step; measured in
    /// benchmarks/timing.sh).
    @Test func openAIChatAcceptLength2() async throws {
        try await measure(backend: .openaiChat, acceptLength: 2)
    }

    /// `--connection-per-request`: every request (warm-up included) asks for a new connection, as
    /// bench_serving's session per request does, and the run still completes (CurlMultiTests shows
    /// libcurl then opens one connection per request).
    /// What every chunk touches lies in the accumulator's first `hotBytes`, which it hands to the
    /// loop to prefetch, with the previous chunk's bytes once there is one and the head of `itl`.
    @Test func anAccumulatorNamesTheMemoryAChunkTouches() {
        let acc = StreamAccumulator(backend: .openai,
                                    request: BenchRequest(inputLength: 1, outputLength: 4, tokenIDs: [], text: "x"),
                                    sentTokenIDs: false, start: .now())
        let base = UInt(bitPattern: Unmanaged.passUnretained(acc).toOpaque())
        let last = withUnsafeMutablePointer(to: &acc.serverPrompt) { Int(UInt(bitPattern: $0) - base) }
        // `pace` (8 bytes) follows `serverPrompt`.
        #expect(last + MemoryLayout<Int?>.stride + 8 <= StreamAccumulator.hotBytes)
        #expect(StreamAccumulator.hotBytes <= 6 * 64, "a few lines, not the whole object")

        let before = acc.hotMemory
        #expect(before.first?.baseAddress == UnsafeRawPointer(bitPattern: base) && before.first?.count == StreamAccumulator.hotBytes)
        #expect(before.count == 2, "no chunk yet: the object and the head of itl")
        acc.status = 200
        let json = #"{"choices":[{"index":0,"text":"a"}]}"#
        Array("data: \(json)\n\n".utf8).withUnsafeBytes { acc.feed($0, at: .now()) }
        let after = acc.hotMemory
        #expect(after.contains { Array($0) == Array(json.utf8) }, "the previous chunk's bytes")
        #expect(after.count == 4)
    }

    @Test func connectionPerRequest() async throws {
        let sim = try await simulator(acceptLength: 1)
        var config = simBenchConfig(sim.baseURL)
        config.numPrompts = 6
        config.randomInputLength = 16
        config.maxConcurrency = 3
        let probe = BenchRequest(inputLength: 1, outputLength: 1, tokenIDs: [], text: "x")
        #expect(try BenchRunner(config: config).httpRequest(probe, tokenIDs: false).0.freshConnection == false)
        config.connectionPerRequest = true
        let runner = try BenchRunner(config: config)
        #expect(runner.httpRequest(probe, tokenIDs: false).0.freshConnection)
        let result = try await runner.run()
        await sim.shutdown()
        #expect(result.metrics.completed == 6, "\(result.metrics.failureReasons)")
    }

    /// The timed loop (on the transfer thread) keeps at most `maxConcurrency` requests in flight:
    /// then the latencies add up to at most that many times the run's duration. With a finite
    /// request rate (Poisson arrivals handed to the loop one by one) every request still runs.
    @Test func concurrencyLimitAndPoissonArrivals() async throws {
        let sim = try await simulator(acceptLength: 1)
        var config = simBenchConfig(sim.baseURL)
        config.randomInputLength = 16
        config.randomOutputLength = 8
        config.maxConcurrency = 2
        config.warmupRequests = 0
        let limited = try await BenchRunner(config: config).run()
        #expect(limited.metrics.completed == 8, "\(limited.metrics.failureReasons)")
        let busy = limited.outputs.map(\.latency).reduce(0, +)
        #expect(busy <= 2 * limited.metrics.duration * 1.01, "latencies \(busy) s over \(limited.metrics.duration) s")
        config.maxConcurrency = 3
        config.requestRate = 40
        let poisson = try await BenchRunner(config: config).run()
        await sim.shutdown()
        #expect(poisson.metrics.completed == 8, "\(poisson.metrics.failureReasons)")
        #expect(poisson.outputs.allSatisfy { $0.success && $0.outputLength == 8 })
        // The last arrival is at its Poisson offset or later.
        let last = ArrivalSchedule.offsets(count: 8, rate: 40, seed: config.seed).last ?? 0
        #expect(poisson.metrics.duration >= last)
    }

    @Test func failuresAreCountedAgainstStoppedPort() async throws {
        let closed = try RefusingPort()
        defer { withExtendedLifetime(closed) {} }
        var config = BenchConfig(baseURL: "http://127.0.0.1:\(closed.port)")
        config.numPrompts = 5
        config.randomInputLength = 8
        config.randomOutputLength = 4
        config.warmupRequests = 0
        let result = try await BenchRunner(config: config).run()
        #expect(result.metrics.completed == 0)
        #expect(result.metrics.failed == 5)
        #expect(result.outputs.count == 5)
        #expect(result.metrics.failureReasons.values.reduce(0, +) == 5)
        #expect(result.metrics.failureReasons.keys.allSatisfy { $0.contains("connection") }, "\(result.metrics.failureReasons)")
        #expect(result.promptMode == .tokenIDs, "no answer is no refusal")
        #expect(result.metrics.serverInput == nil)
        // With a warm-up the run refuses to start and says why.
        config.warmupRequests = 1
        do {
            _ = try await BenchRunner(config: config).run()
            Issue.record("expected the warm-up to fail")
        } catch let e as BenchError {
            #expect(e.description.contains("warm-up"))
        }
    }
}

/// The in-process simulator of `sim/test-model` (SGLang's flags) with `timing`; `configure` sets the rest.
func startSimulator(_ timing: TimingModel, _ configure: (inout SimSettings) -> Void = { _ in }) async throws -> SimServer {
    let catalog = try CatalogStore.catalog(.sglang, version: SimSettings.defaultVersion)
    guard case .launch(let launch, _) = SimArguments.parse(
        ["--host", "127.0.0.1", "--port", "0", "--model-path", "sim/test-model"], catalog: catalog) else {
        throw BenchError("simulator argv did not parse")
    }
    var settings = SimSettings()
    settings.timing = timing
    configure(&settings)
    return try await SimServer.start(launch: launch, settings: settings, log: .silent, threads: 2)
}

/// A small run against the simulator's test model: 8 prompts of 64 random input tokens and 4 output
/// tokens, at most 4 in flight; tests change what they measure.
func simBenchConfig(_ url: String, backend: BenchBackend = .openai) -> BenchConfig {
    var c = BenchConfig(baseURL: url)
    c.backend = backend
    c.numPrompts = 8
    c.randomInputLength = 64
    c.randomOutputLength = 4
    c.randomRangeRatio = 1
    c.maxConcurrency = 4
    c.model = "sim/test-model"
    return c
}
