@testable import Bench
import DeployCore
import EngineSim
import Foundation
import Testing

/// The client's own CPU use: measured from `getrusage`, reported in the text and JSON results,
/// with a note when the client kept a core busy.
@Suite struct ClientCPUTests {
    /// `ProcessCPU` counts this thread's work: 50 ms of spinning (by the thread's own CPU clock)
    /// moves it by about that much.
    @Test func processCPUCountsTheWorkOfItsThreads() {
        func threadCPU() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
        let before = ProcessCPU.seconds(), start = threadCPU()
        while threadCPU() - start < 0.05 {}  // reading the clock is the work
        let spent = ProcessCPU.seconds() - before
        // getrusage counts in microseconds; the process may have done other work meanwhile.
        #expect(spent >= 0.049, "\(spent) s of process CPU for 50 ms of this thread's")
    }

    private func result(_ cpu: ClientCPU?) -> BenchResult {
        let outs = [RequestOutput(success: true, promptLength: 4, outputLength: 3, ttft: 0.01, latency: 0.05,
                                  itl: [0.02, 0.02], error: "")]
        var r = BenchResult(config: BenchConfig(baseURL: "http://127.0.0.1:1"),
                            metrics: BenchMetrics(outputs: outs, duration: 2), outputs: outs, acceptLength: nil)
        r.clientCPU = cpu
        return r
    }

    @Test func theReportsCarryIt() throws {
        let calm = result(ClientCPU(seconds: 0.5, timedRun: 0.4, timedRunWall: 2))
        let json = BenchReport.jsonObject(calm, details: false)
        #expect(json["client_cpu_s"] as? Double == 0.5)
        #expect(json["client_cpu_timed_run_s"] as? Double == 0.4)
        #expect(json["client_busy"] as? Double == 0.2)
        let text = BenchReport.text(calm)
        #expect(text.contains("Client CPU (s):".padding(toLength: 40, withPad: " ", startingAt: 0) + " 0.500\n"), "\(text)")
        #expect(text.contains("Client busy in the timed run:".padding(toLength: 40, withPad: " ", startingAt: 0) + " 20 % of a core\n"), "\(text)")
        #expect(!text.contains("Note:"), "\(text)")

        let busy = BenchReport.text(result(ClientCPU(seconds: 2, timedRun: 1.9, timedRunWall: 2)))
        #expect(busy.contains("Note: the client kept a core 95 % busy: its own delays may be in these times"), "\(busy)")

        // A result without the measure (read back from an older file, say): null, and no rows.
        let none = result(nil)
        #expect(BenchReport.jsonObject(none, details: false)["client_busy"] is NSNull)
        #expect(!BenchReport.text(none).contains("Client CPU"))
    }

    /// A real run measures it: the whole (probe, warm-up, run, metrics) covers the timed run, and
    /// the timed run's wall time is the benchmark duration. (The simulator runs in this process
    /// here, so the figures include its work.)
    @Test func aRunMeasuresIt() async throws {
        let sim = try await startSimulator(TimingModel(ttftBaseMs: 2, ttftPer1kInputMs: 0, decodeStepMs: 1, acceptLength: 1))
        let result = try await BenchRunner(config: simBenchConfig(sim.baseURL)).run()
        await sim.shutdown()
        let cpu = try #require(result.clientCPU)
        #expect(cpu.seconds > 0 && cpu.timedRun > 0 && cpu.timedRun <= cpu.seconds, "\(cpu)")
        #expect(cpu.timedRunWall == result.metrics.duration)
        #expect(abs(cpu.busy - cpu.timedRun / result.metrics.duration) < 1e-12)
    }
}
