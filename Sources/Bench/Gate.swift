public import DeployCore
import Foundation

/// What one gate concluded about one measured scenario.
public struct GateVerdict: Sendable, Codable, Hashable {
    /// The gate in canonical form (`output_throughput >= 0.95 * previous`); the implicit failure
    /// gate reads `failed <= N`.
    public var gate: String
    /// The metric compared.
    public var metric: String
    /// The measured value (nil when it could not be measured).
    public var measured: Double?
    /// The threshold compared against (nil when there is no previous result to scale).
    public var threshold: Double?
    /// The previous revision's value for `previous` gates, when there is one.
    public var previous: Double?
    /// Whether the gate holds.
    public var passed: Bool
    /// For people: `measured 101.3 >= threshold 95.2 (0.95 × previous 100.2)`, or why it failed or passed without comparing.
    public var message: String

    /// Creates a verdict.
    public init(gate: String, metric: String, measured: Double?, threshold: Double?, previous: Double?,
                passed: Bool, message: String) {
        self.gate = gate
        self.metric = metric
        self.measured = measured
        self.threshold = threshold
        self.previous = previous
        self.passed = passed
        self.message = message
    }
}

/// The gate-relevant numbers of one benchmark run: every gate metric that was measured, and why
/// the others were not.
public struct GateMeasurements: Sendable, Hashable {
    /// Metric name → value (bench JSON field names).
    public var values: [String: Double]
    /// Metric name → why it has no meaningful value (no successful request, no TPOT sample, …).
    public var unmeasured: [String: String]

    /// Creates measurements.
    public init(values: [String: Double], unmeasured: [String: String] = [:]) {
        self.values = values
        self.unmeasured = unmeasured
    }

    /// The measurements of a finished run: the numeric fields of `BenchReport.jsonObject`; latency
    /// and throughput metrics count as unmeasured when no request succeeded (their 0 would pass a
    /// `<=` gate), TPOT without a request of more than one output token, ITL without samples, and
    /// `accept_length` when the server does not report it.
    public init(result: BenchResult) {
        var values: [String: Double] = [:]
        for (k, v) in BenchReport.jsonObject(result, details: false) where GateExpression.metricNames.contains(k) {
            if let n = GateMeasurements.number(v) { values[k] = n }
        }
        var unmeasured: [String: String] = [:]
        let ok = result.outputs.filter(\.success)
        for name in GateExpression.metricNames {
            if ["duration", "completed", "failed"].contains(name) { continue }
            if ok.isEmpty { unmeasured[name] = "no request succeeded"; continue }
            if name.contains("_tpot_"), !ok.contains(where: { $0.outputLength > 1 }) {
                unmeasured[name] = "no request produced more than one token"
            } else if name.contains("_itl_"), !ok.contains(where: { !$0.itl.isEmpty }) {
                unmeasured[name] = "no inter-token latency sample"
            } else if name == "accept_length", result.acceptLength == nil {
                unmeasured[name] = "the server does not report an accept length"
            }
        }
        for k in unmeasured.keys { values[k] = nil }
        self.init(values: values, unmeasured: unmeasured)
    }

    /// A JSON-ish number (Double, Int or NSNumber; not a Bool) as a Double.
    public static func number(_ v: Any) -> Double? {
        if v is Bool { return nil }
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        if let n = v as? NSNumber { return n.doubleValue }
        return nil
    }
}

/// The verdict on one scenario run against one endpoint.
public struct ScenarioVerdict: Sendable, Codable, Hashable {
    /// True when the benchmark ran and every gate (including the failed-requests gate) holds.
    public var passed: Bool
    /// One verdict per gate, the failed-requests gate first.
    public var gates: [GateVerdict]
    /// Why the benchmark could not run at all (then `passed` is false and `gates` is empty).
    public var error: String?

    /// Creates a verdict.
    public init(passed: Bool, gates: [GateVerdict], error: String? = nil) {
        self.passed = passed
        self.gates = gates
        self.error = error
    }

    /// The verdict for a benchmark that could not run (warm-up failed, endpoint down).
    public static func notRun(_ reason: String) -> ScenarioVerdict {
        ScenarioVerdict(passed: false, gates: [], error: reason)
    }
}

/// Evaluates gates against measurements. Pure.
public enum GateEvaluator {
    /// Evaluates `gates` plus the implicit `failed <= maxFailedRequests`.
    ///
    /// `previous` is what the deployment's last passing gated revision measured for the same
    /// scenario (nil when there is none: `previous` gates then pass and say so). A metric that was
    /// not measured, or is NaN, fails its gate with the reason.
    public static func evaluate(_ gates: [GateExpression], measurements m: GateMeasurements,
                                previous: [String: Double]?, maxFailedRequests: Int) -> ScenarioVerdict {
        var verdicts: [GateVerdict] = []
        let failed = m.values["failed"] ?? .nan
        let failOK = failed.isFinite && failed <= Double(maxFailedRequests)
        verdicts.append(GateVerdict(
            gate: "failed <= \(maxFailedRequests)", metric: "failed", measured: failed.isNaN ? nil : failed,
            threshold: Double(maxFailedRequests), previous: nil, passed: failOK,
            message: failed.isNaN ? "the number of failed requests is unknown"
                : "\(fmt(failed)) failed request\(failed == 1 ? "" : "s")"
                    + (failOK ? "" : ", more than maxFailedRequests \(maxFailedRequests)")))
        for g in gates { verdicts.append(evaluate(g, m, previous: previous)) }
        return ScenarioVerdict(passed: verdicts.allSatisfy(\.passed), gates: verdicts)
    }

    static func evaluate(_ g: GateExpression, _ m: GateMeasurements, previous: [String: Double]?) -> GateVerdict {
        let text = g.description
        func verdict(_ measured: Double?, _ threshold: Double?, _ prev: Double?, _ passed: Bool, _ msg: String) -> GateVerdict {
            GateVerdict(gate: text, metric: g.metric, measured: measured, threshold: threshold, previous: prev,
                        passed: passed, message: msg)
        }
        guard let measured = m.values[g.metric], !measured.isNaN else {
            let why = m.unmeasured[g.metric] ?? (m.values[g.metric] == nil ? "not reported" : "not a number")
            return verdict(nil, nil, nil, false, "\(g.metric) was not measured: \(why)")
        }
        let threshold: Double
        var prev: Double?
        var note = ""
        switch g.bound {
        case .absolute(let v):
            threshold = v
        case .previous(let factor):
            guard let previous else {
                return verdict(measured, nil, nil, true,
                               "measured \(fmt(measured)); no previous passing gated revision to compare with: passes")
            }
            guard let p = previous[g.metric], p.isFinite else {
                return verdict(measured, nil, nil, true,
                               "measured \(fmt(measured)); the previous result has no \(g.metric): passes")
            }
            prev = p
            threshold = factor * p
            note = " (\(factor == 1 ? "" : "\(GateExpression.format(factor)) × ")previous \(fmt(p)))"
        }
        let ok = g.comparison.holds(measured, threshold)
        return verdict(measured, threshold, prev, ok,
                       "measured \(fmt(measured)) \(ok ? "" : "not ")\(g.comparison.rawValue) threshold \(fmt(threshold))\(note)")
    }

    /// Combines the per-replica results of one earlier passing run into one value per metric
    /// (the median over replicas; with one replica, its value).
    public static func previousValues(_ runs: [[String: Double]]) -> [String: Double]? {
        guard !runs.isEmpty else { return nil }
        var out: [String: Double] = [:]
        for key in Set(runs.flatMap(\.keys)) {
            let xs = runs.compactMap { $0[key] }.filter(\.isFinite)
            if !xs.isEmpty { out[key] = Statistics.median(xs) }
        }
        return out
    }

    /// Two decimals, or an integer without decimals.
    static func fmt(_ v: Double) -> String {
        v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.2f", v)
    }
}
