import Bench
import CurlHTTP
import EngineSim
import Engines
import Foundation
import XCTest

final class BenchTests: XCTestCase {
    // MARK: pure math

    func testPercentilesMatchNumPy() {
        let xs: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        XCTAssertEqual(Statistics.percentile(xs, 50), 5.5, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile(xs, 90), 9.1, accuracy: 1e-12)   // np.percentile(range(1,11), 90)
        XCTAssertEqual(Statistics.percentile(xs, 99), 9.91, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile(xs, 0), 1)
        XCTAssertEqual(Statistics.percentile(xs, 100), 10)
        XCTAssertEqual(Statistics.percentile([7, 3, 5], 25), 4, accuracy: 1e-12)  // unsorted input
        XCTAssertEqual(Statistics.percentile([], 99), 0)
        XCTAssertEqual(Statistics.percentile([42], 99), 42)
        XCTAssertEqual(Statistics.std([2, 4, 4, 4, 5, 5, 7, 9]), 2, accuracy: 1e-12)  // population std
        XCTAssertEqual(Statistics.mean([]), 0)
    }

    func testMetricsFollowBenchServing() {
        let ok = RequestOutput(success: true, promptLength: 10, outputLength: 5, ttft: 0.1, latency: 0.5,
                               itl: [0.1, 0.1, 0.1, 0.1], error: "")
        let one = RequestOutput(success: true, promptLength: 10, outputLength: 1, ttft: 0.2, latency: 0.2,
                                itl: [], error: "")
        let bad = RequestOutput(success: false, promptLength: 10, outputLength: 0, ttft: 0, latency: 0, itl: [],
                                error: "HTTP 500")
        let m = BenchMetrics(outputs: [ok, one, bad, bad], duration: 2)
        XCTAssertEqual(m.completed, 2)
        XCTAssertEqual(m.failed, 2)
        XCTAssertEqual(m.failureReasons, ["HTTP 500": 2])
        XCTAssertEqual(m.totalInput, 20)
        XCTAssertEqual(m.totalOutput, 6)
        XCTAssertEqual(m.requestThroughput, 1, accuracy: 1e-12)
        XCTAssertEqual(m.outputThroughput, 3, accuracy: 1e-12)
        XCTAssertEqual(m.totalThroughput, 13, accuracy: 1e-12)
        XCTAssertEqual(m.concurrency, 0.35, accuracy: 1e-12)
        XCTAssertEqual(m.tpot.mean, 100, accuracy: 1e-9)  // only output > 1 counts: (0.5-0.1)/4
        XCTAssertEqual(m.ttft.mean, 150, accuracy: 1e-9)
        XCTAssertEqual(m.itl.p99, 100, accuracy: 1e-9)
        XCTAssertEqual(m.e2e.max, 500, accuracy: 1e-9)
    }

    func testRandomDatasetIsDeterministicAndInRange() {
        let a = RandomDataset.sample(numPrompts: 50, inputLength: 100, outputLength: 40, rangeRatio: 0.5, seed: 7)
        let b = RandomDataset.sample(numPrompts: 50, inputLength: 100, outputLength: 40, rangeRatio: 0.5, seed: 7)
        let c = RandomDataset.sample(numPrompts: 50, inputLength: 100, outputLength: 40, rangeRatio: 0.5, seed: 8)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        for r in a {
            XCTAssertTrue((50...100).contains(r.inputLength))
            XCTAssertTrue((20...40).contains(r.outputLength))
            XCTAssertEqual(r.tokenIDs.count, r.inputLength)
        }
        let fixed = RandomDataset.sample(numPrompts: 5, inputLength: 16, outputLength: 8, rangeRatio: 1, seed: 1)
        XCTAssertEqual(fixed.map(\.outputLength), [8, 8, 8, 8, 8])
    }

    func testPoissonScheduleRate() {
        let rate = 20.0
        let t = ArrivalSchedule.offsets(count: 200, rate: rate, seed: 42)
        XCTAssertEqual(t.first, 0)
        XCTAssertEqual(t, t.sorted())
        let measured = Double(t.count - 1) / (t.last ?? 1)
        XCTAssertEqual(measured, rate, accuracy: rate * 0.2)
        XCTAssertEqual(t, ArrivalSchedule.offsets(count: 200, rate: rate, seed: 42))
        XCTAssertNotEqual(t, ArrivalSchedule.offsets(count: 200, rate: rate, seed: 43))
        XCTAssertEqual(ArrivalSchedule.offsets(count: 3, rate: .infinity, seed: 1), [0, 0, 0])
    }

    // MARK: against the in-process simulator

    private func simulator(acceptLength: Double) async throws -> SimServer {
        let catalog = try CatalogStore.catalog(.sglang, version: SimSettings.defaultVersion)
        guard case .launch(let launch, _) = SimArguments.parse(
            ["--host", "127.0.0.1", "--port", "0", "--model-path", "sim/test-model"], catalog: catalog) else {
            throw BenchError("simulator argv did not parse")
        }
        var settings = SimSettings()
        settings.timing = TimingModel(ttftBaseMs: 100, ttftPer1kInputMs: 0, decodeStepMs: 10, acceptLength: acceptLength)
        return try await SimServer.start(launch: launch, settings: settings, log: .silent, threads: 2)
    }

    private func measure(backend: BenchBackend, acceptLength: Double, expectedITLMs: Double) async throws {
        let sim = try await simulator(acceptLength: acceptLength)
        var config = BenchConfig(baseURL: sim.baseURL)
        config.backend = backend
        config.numPrompts = 12
        config.randomInputLength = 64
        config.randomOutputLength = 32
        config.randomRangeRatio = 1
        config.maxConcurrency = 4
        config.warmupRequests = 1
        config.model = "sim/test-model"
        let result = try await BenchRunner(config: config).run()
        await sim.shutdown()
        let m = result.metrics
        print("[\(backend.rawValue) accept=\(acceptLength)] TTFT mean \(m.ttft.mean) ms, ITL mean \(m.itl.mean) ms, "
              + "TPOT mean \(m.tpot.mean) ms, E2E mean \(m.e2e.mean) ms, accept \(result.acceptLength ?? -1)")
        XCTAssertEqual(m.completed, 12, "\(m.failureReasons)")
        XCTAssertEqual(m.failed, 0)
        XCTAssertEqual(m.totalOutput, 12 * 32)
        XCTAssertEqual(result.outputs.map(\.outputLength), Array(repeating: 32, count: 12))
        if backend == .sglang {
            XCTAssertEqual(m.totalInput, 12 * 64)  // input_ids: exactly the ids sent
        } else {
            // Text prompts: the server's usage.prompt_tokens (the simulator counts UTF-8 bytes / 4).
            let prompts = RandomDataset.sample(numPrompts: 12, inputLength: 64, outputLength: 32, rangeRatio: 1, seed: 42)
            XCTAssertEqual(m.totalInput, prompts.map { SimTokens.count(text: $0.text) }.reduce(0, +))
        }
        XCTAssertEqual(m.ttft.mean, 100, accuracy: 15)
        XCTAssertEqual(m.itl.mean, expectedITLMs, accuracy: 3)
        if backend == .sglang { XCTAssertEqual(result.acceptLength ?? 0, acceptLength, accuracy: 0.01) }
    }

    func testSGLangAcceptLength1() async throws {
        try await measure(backend: .sglang, acceptLength: 1, expectedITLMs: 10)
    }

    /// bench_serving's sglang backend splits a chunk's gap over its tokens: 10 ms / 2 tokens.
    func testSGLangAcceptLength2() async throws {
        try await measure(backend: .sglang, acceptLength: 2, expectedITLMs: 5)
    }

    func testOpenAICompletions() async throws {
        try await measure(backend: .openai, acceptLength: 1, expectedITLMs: 10)
    }

    /// bench_serving's OpenAI backends count one ITL per chunk: the full 10 ms step.
    func testOpenAIChatAcceptLength2() async throws {
        try await measure(backend: .openaiChat, acceptLength: 2, expectedITLMs: 10)
    }

    func testFailuresAreCountedAgainstStoppedPort() async throws {
        let sim = try await simulator(acceptLength: 1)
        let url = sim.baseURL
        await sim.shutdown()
        var config = BenchConfig(baseURL: url)
        config.numPrompts = 5
        config.randomInputLength = 8
        config.randomOutputLength = 4
        config.warmupRequests = 0
        let result = try await BenchRunner(config: config).run()
        XCTAssertEqual(result.metrics.completed, 0)
        XCTAssertEqual(result.metrics.failed, 5)
        XCTAssertEqual(result.outputs.count, 5)
        XCTAssertEqual(result.metrics.failureReasons.values.reduce(0, +), 5)
        XCTAssertTrue(result.metrics.failureReasons.keys.allSatisfy { $0.contains("connection") }, "\(result.metrics.failureReasons)")
        // With a warm-up the run refuses to start and says why.
        config.warmupRequests = 1
        do {
            _ = try await BenchRunner(config: config).run()
            XCTFail("expected the warm-up to fail")
        } catch let e as BenchError {
            XCTAssertTrue(e.description.contains("warm-up"))
        }
    }
}
