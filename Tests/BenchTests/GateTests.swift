@testable import Bench
import DeployCore
import Foundation
import Testing

/// Gate syntax and evaluation: pure, no network.
@Suite struct GateTests {
    func parse(_ s: String) -> GateExpression? { try? GateExpression.parse(s).get() }
    func error(_ s: String) -> GateExpression.ParseError? {
        if case .failure(let e) = GateExpression.parse(s) { return e }
        return nil
    }

    @Test func parsesAbsoluteAndRelativeForms() {
        #expect(parse("median_ttft_ms <= 200") == GateExpression(metric: "median_ttft_ms", comparison: .atMost, bound: .absolute(200)))
        #expect(parse("output_throughput >= 0.95 * previous")
                == GateExpression(metric: "output_throughput", comparison: .atLeast, bound: .previous(factor: 0.95)))
        #expect(parse("output_throughput>=0.95*previous")?.bound == .previous(factor: 0.95))
        #expect(parse("p99_itl_ms < previous * 1.1")?.bound == .previous(factor: 1.1))
        #expect(parse("accept_length > previous")?.bound == .previous(factor: 1))
        #expect(parse("mean_e2e_latency_ms < 1e4")?.bound == .absolute(10_000))
        #expect(parse("failed <= 0")?.comparison == .atMost)
        #expect(parse("output_throughput >= 0.95 * previous")?.description == "output_throughput >= 0.95 * previous")
        #expect(parse("median_ttft_ms <= 200.0")?.description == "median_ttft_ms <= 200")
    }

    @Test func unknownMetricSuggestsAndPointsAtTheName() throws {
        let e = try #require(error("  median_ttf_ms <= 200"))
        #expect(e.id == "unknown-metric")
        #expect(e.offset == 2 && e.length == 13)
        #expect(e.message.contains("did you mean 'median_ttft_ms'"), "\(e.message)")
        // Workload parameters are not measurements.
        #expect(error("num_prompts >= 10")?.id == "unknown-metric")
    }

    @Test func syntaxErrorsAreLocated() throws {
        let eq = try #require(error("median_ttft_ms == 200"))
        #expect(eq.id == "invalid-value" && eq.offset == 15, "\(eq)")
        let unit = try #require(error("median_ttft_ms <= 200ms"))
        #expect(unit.offset == 18 && unit.message.contains("without a unit"), "\(unit.message)")
        let prev = try #require(error("output_throughput >= 0.95 * previos"))
        #expect(prev.offset == 28, "\(prev)")
        let typo = try #require(error("output_throughput >= previus"))
        #expect(typo.offset == 21 && typo.message.contains("did you mean 'previous'"), "\(typo.message)")
        let trailing = try #require(error("output_throughput >= 10 tok/s"))
        #expect(trailing.offset == 24, "\(trailing)")
        #expect(error("")?.offset == 0)
        #expect(error("output_throughput >= -1 * previous") != nil, "a factor must be positive")
    }

    func measured(_ values: [String: Double], unmeasured: [String: String] = [:]) -> GateMeasurements {
        GateMeasurements(values: values.merging(["failed": 0, "completed": 10]) { a, _ in a }, unmeasured: unmeasured)
    }

    @Test func absoluteComparisons() throws {
        let gates = ["median_ttft_ms <= 200", "output_throughput > 100"].compactMap(parse)
        let ok = GateEvaluator.evaluate(gates, measurements: measured(["median_ttft_ms": 200, "output_throughput": 100.5]),
                                        previous: nil, maxFailedRequests: 0)
        #expect(ok.passed)
        #expect(ok.gates.count == 3, "the failed-requests gate comes first")
        #expect(ok.gates[0].gate == "failed <= 0")
        let bad = GateEvaluator.evaluate(gates, measurements: measured(["median_ttft_ms": 200.01, "output_throughput": 100]),
                                         previous: nil, maxFailedRequests: 0)
        #expect(!bad.passed)
        #expect(bad.gates.filter { !$0.passed }.map(\.metric) == ["median_ttft_ms", "output_throughput"])
        let v = bad.gates[1]
        #expect(v.measured == 200.01 && v.threshold == 200)
        #expect(v.message.contains("measured 200.01 not <= threshold 200"), "\(v.message)")
    }

    @Test func previousRelativeGates() throws {
        let g = try #require(parse("output_throughput >= 0.95 * previous"))
        let pass = GateEvaluator.evaluate([g], measurements: measured(["output_throughput": 96]),
                                          previous: ["output_throughput": 100], maxFailedRequests: 0)
        #expect(pass.passed)
        #expect(abs((pass.gates[1].threshold ?? 0) - 95) < 1e-9 && pass.gates[1].previous == 100)
        #expect(pass.gates[1].message.contains("0.95 × previous 100"), "\(pass.gates[1].message)")
        let fail = GateEvaluator.evaluate([g], measurements: measured(["output_throughput": 94.9]),
                                          previous: ["output_throughput": 100], maxFailedRequests: 0)
        #expect(!fail.passed)
    }

    @Test func missingPreviousPassesAndSaysSo() throws {
        let g = try #require(parse("output_throughput >= 0.95 * previous"))
        let none = GateEvaluator.evaluate([g], measurements: measured(["output_throughput": 1]), previous: nil,
                                          maxFailedRequests: 0)
        #expect(none.passed)
        #expect(none.gates[1].threshold == nil)
        #expect(none.gates[1].message.contains("no previous"), "\(none.gates[1].message)")
        let g2 = try #require(parse("accept_length >= previous"))
        let lacks = GateEvaluator.evaluate([g2], measurements: measured(["accept_length": 3]),
                                           previous: ["output_throughput": 100], maxFailedRequests: 0)
        #expect(lacks.passed && lacks.gates[1].message.contains("has no accept_length"))
    }

    @Test func unmeasuredOrNaNFails() throws {
        let g = try #require(parse("median_ttft_ms <= 200"))
        let nan = GateEvaluator.evaluate([g], measurements: measured(["median_ttft_ms": .nan]), previous: nil,
                                         maxFailedRequests: 0)
        #expect(!nan.passed && nan.gates[1].message.contains("not a number"))
        let none = GateEvaluator.evaluate([g], measurements: measured([:], unmeasured: ["median_ttft_ms": "no request succeeded"]),
                                          previous: nil, maxFailedRequests: 0)
        #expect(!none.passed && none.gates[1].message.contains("no request succeeded"))
        // A previous value that is NaN cannot scale a threshold: it counts as absent.
        let p = try #require(parse("median_ttft_ms <= 1.1 * previous"))
        let prevNaN = GateEvaluator.evaluate([p], measurements: measured(["median_ttft_ms": 5]),
                                             previous: ["median_ttft_ms": .nan], maxFailedRequests: 0)
        #expect(prevNaN.passed && prevNaN.gates[1].threshold == nil)
    }

    @Test func failedRequestsFailUnlessAllowed() {
        let m = GateMeasurements(values: ["failed": 2, "completed": 8, "output_throughput": 50])
        #expect(!GateEvaluator.evaluate([], measurements: m, previous: nil, maxFailedRequests: 0).passed)
        #expect(!GateEvaluator.evaluate([], measurements: m, previous: nil, maxFailedRequests: 1).passed)
        let allowed = GateEvaluator.evaluate([], measurements: m, previous: nil, maxFailedRequests: 2)
        #expect(allowed.passed)
        #expect(allowed.gates[0].message == "2 failed requests")
    }

    @Test func measurementsFromAResult() {
        func out(_ ok: Bool, _ n: Int, itl: [Double] = []) -> RequestOutput {
            RequestOutput(success: ok, promptLength: 4, outputLength: n, ttft: 0.01, latency: 0.05, itl: itl,
                          error: ok ? "" : "HTTP 500")
        }
        let cfg = BenchConfig(baseURL: "http://127.0.0.1:1")
        let allFailed = [out(false, 0), out(false, 0)]
        let r = BenchResult(config: cfg, metrics: BenchMetrics(outputs: allFailed, duration: 1), outputs: allFailed,
                            acceptLength: nil)
        let m = GateMeasurements(result: r)
        #expect(m.values["failed"] == 2)
        #expect(m.values["median_ttft_ms"] == nil && m.unmeasured["median_ttft_ms"] == "no request succeeded",
                "an all-failed run must not pass a latency gate with its 0")
        let single = [out(true, 1)]
        let r1 = BenchResult(config: cfg, metrics: BenchMetrics(outputs: single, duration: 1), outputs: single,
                             acceptLength: 2.5)
        let m1 = GateMeasurements(result: r1)
        #expect(abs((m1.values["median_ttft_ms"] ?? 0) - 10) < 1e-9)
        #expect(m1.values["accept_length"] == 2.5)
        #expect(m1.unmeasured["mean_tpot_ms"] != nil && m1.unmeasured["p99_itl_ms"] != nil)
    }

    @Test func metricNamesAreTheBenchJSONFields() {
        let cfg = BenchConfig(baseURL: "http://127.0.0.1:1")
        let outs = [RequestOutput(success: true, promptLength: 4, outputLength: 3, ttft: 0.01, latency: 0.05,
                                  itl: [0.02, 0.02], error: "")]
        let json = BenchReport.jsonObject(BenchResult(config: cfg, metrics: BenchMetrics(outputs: outs, duration: 1),
                                                      outputs: outs, acceptLength: 1), details: false)
        for name in GateExpression.metricNames {
            #expect(json[name].flatMap(GateMeasurements.number) != nil, "\(name) is a numeric field of bench --output json")
        }
    }

    @Test func previousIsTheMedianOverReplicas() {
        #expect(GateEvaluator.previousValues([]) == nil)
        let v = GateEvaluator.previousValues([["output_throughput": 100], ["output_throughput": 90],
                                              ["output_throughput": 200, "accept_length": 3]])
        #expect(v?["output_throughput"] == 100)
        #expect(v?["accept_length"] == 3)
    }
}
