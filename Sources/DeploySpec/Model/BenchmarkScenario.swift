public import DeployCore

/// One benchmark scenario of a deployment's `spec.benchmarks.scenarios`: a bench_serving random
/// workload and the gates `dsdeploy apply --gate` checks its result against.
///
/// Not part of the revision: changing a scenario or a gate never restarts a replica.
public struct BenchmarkScenario: Sendable, Hashable, Codable {
    /// Unique name within the deployment (`1k-1k-c1`); results are kept and compared under it.
    public var name: String
    /// `--random-input-len`.
    public var inputLen: Int
    /// `--random-output-len`.
    public var outputLen: Int
    /// `--num-prompts` (default 10).
    public var numPrompts: Int = 10
    /// `--max-concurrency` (nil: unlimited; default 1).
    public var maxConcurrency: Int? = 1
    /// `--request-rate` in requests/s; `.infinity` (`inf`, the default) sends all at once.
    public var requestRate: Double = .infinity
    /// `--random-range-ratio` (default 1.0: exact lengths).
    public var rangeRatio: Double = 1.0
    /// The API: `sglang` (`/generate`), `openai` (`/v1/completions`), `openai-chat` (default: `sglang`
    /// for SGLang deployments, `openai` for others; nil when not written).
    public var api: String?
    /// `--warmup-requests` (default 1).
    public var warmup: Int = 1
    /// `--seed` (default 1).
    public var seed: Int = 1
    /// Failed requests the scenario tolerates (default 0: any failed request fails it).
    public var maxFailedRequests: Int = 0
    /// Per-request timeout in seconds (default 600).
    public var requestTimeoutSeconds: Int = 600
    /// Gates, parsed (invalid ones are reported by validation and left out).
    public var gates: [GateExpression] = []

    /// Creates a scenario with the defaults above.
    public init(name: String, inputLen: Int, outputLen: Int) {
        self.name = name
        self.inputLen = inputLen
        self.outputLen = outputLen
    }

    /// Fingerprint of the workload (everything but the name, gates and failure allowance):
    /// "previous" results are only compared when it is equal, so redefining a scenario under the
    /// same name does not compare unlike things.
    public var workloadKey: String {
        let rate = requestRate.isFinite ? GateExpression.format(requestRate) : "inf"
        return "in=\(inputLen) out=\(outputLen) n=\(numPrompts) c=\(maxConcurrency.map(String.init) ?? "-") "
            + "rate=\(rate) ratio=\(GateExpression.format(rangeRatio)) api=\(api ?? "default") seed=\(seed)"
    }
}

/// Where a scenario's values were written (for diagnostics).
public struct BenchmarkScenarioSource: Sendable {
    /// The scenario's `name` value.
    public var name: Located<String>?
    /// Where the scenario mapping starts.
    public var location: SourceLocation
    /// `requestRate` as written (a number or `inf`).
    public var requestRate: Located<String>?
    /// `gates` entries as written.
    public var gates: [Located<String>]
}
