public import Bench
import DeployCore
public import DeployKit
public import DeploySpec
public import DeployTargets
import Engines
import Foundation

/// When `apply` benchmarks deployments.
public enum GateMode: Sendable {
    /// `--gate`: deployments whose rollout started new instances, or whose revision was never gated.
    case changed
    /// `--gate-always`: every deployment with benchmarks, even when its rollout was a no-op.
    case always
}

/// The gate results of one apply (the `gate` object of `apply --output json`).
public struct GateReport: Encodable, Sendable {
    /// One entry per deployment of the manifests.
    public var deployments: [DeploymentGate]
    /// True when no deployment failed its gate.
    public var passed: Bool

    init(deployments: [DeploymentGate]) {
        self.deployments = deployments
        passed = deployments.allSatisfy { $0.result != .failed }
    }
}

/// The gate of one deployment.
public struct DeploymentGate: Encodable, Sendable {
    /// How a deployment's gate ended.
    public enum Result: String, Encodable, Sendable {
        /// Every gate holds.
        case passed
        /// A gate failed (or no replica could be benchmarked).
        case failed
        /// Not benchmarked (no benchmarks, no new instances ...).
        case skipped
    }

    /// Deployment name.
    public var deployment: String
    /// The revision benchmarked.
    public var revision: String
    /// Passed, failed or skipped.
    public var result: Result
    /// Why it was skipped, or what the failure did (reverted / left running).
    public var message: String
    /// One entry per scenario and replica.
    public var scenarios: [ScenarioGate]
    /// What returning to the previous revision did, when the gate failed.
    public var revert: GateRevert?
}

/// One scenario on one replica.
public struct ScenarioGate: Encodable, Sendable {
    /// Scenario name.
    public var scenario: String
    /// Replica benchmarked.
    public var replica: Int
    /// Its endpoint.
    public var endpoint: String
    /// True when every gate of the scenario holds.
    public var passed: Bool
    /// Why the benchmark could not run.
    public var error: String?
    /// The revision whose result `previous` refers to (nil when there is none).
    public var previousRevision: String?
    /// Each gate's verdict.
    public var gates: [GateVerdict]
    /// The measured gate metrics (bench JSON field names).
    public var metrics: [String: Double]
}

/// Runs the `benchmarks:` scenarios of deployments after a rollout on any target that can
/// (`TargetCapabilities.gates`): benchmarks the ready replicas of the new revision through
/// `Target.endpoints`, records each run in the local state, and returns a deployment that failed
/// through `Target.revert`.
public struct GateRunner: Sendable {
    let target: any Target
    let store: StateStore
    /// Whose gate history this is: the local target's project, or `type/name` of another target.
    let scope: String
    let mode: GateMode
    /// Progress lines (plain text, one per step; works without a terminal).
    let progress: @Sendable (String) -> Void
    let onEvent: @Sendable (ApplyEvent) -> Void

    /// Creates a runner; the gate history lives in `store` (the local state directory's).
    public init(target: any Target, store: StateStore, mode: GateMode, progress: @escaping @Sendable (String) -> Void,
                onEvent: @escaping @Sendable (ApplyEvent) -> Void) {
        self.target = target
        self.store = store
        scope = GateRunner.scope(of: target)
        self.mode = mode
        self.progress = progress
        self.onEvent = onEvent
    }

    /// Whose gate history a target's runs are: the local target's project, or `type/name`.
    public static func scope(of target: any Target) -> String {
        target.ref.type == "local" ? "default" : "\(target.ref.type)/\(target.ref.name)"
    }

    /// Gates every deployment of `input` after the apply that produced `report` (nil: no changes).
    public func run(plan: Plan, input: PlanInput, report: ApplyReport?) -> GateReport {
        let rolled = report.map { ApplyExecutor.rolledOut(plan, $0) } ?? []
        let failed = Set(report?.failedDeployments ?? [])
        var out: [DeploymentGate] = []
        for r in input.deployments {
            let d = r.deployment
            let revision = plan.changes.first { $0.deployment == d.name && $0.revision != nil }?.revision ?? ""
            func skip(_ why: String) {
                out.append(DeploymentGate(deployment: d.name, revision: revision, result: .skipped, message: why,
                                          scenarios: [], revert: nil))
            }
            if d.benchmarks.isEmpty { skip("no benchmarks declared"); continue }
            if d.replicas == 0 { skip("no replicas to benchmark"); continue }
            if failed.contains(d.name) { skip("the rollout failed"); continue }
            // A disaggregated deployment is gated through its router (where its benchmarks are) when
            // any of its parts rolled out, and a failed gate returns every part that did.
            let parts = d.pd.map { pd in input.deployments.filter { $0.deployment.pd?.group == pd.group }.map(\.deployment.name) } ?? [d.name]
            let rolledParts = parts.filter(rolled.contains)
            if mode == .changed, rolledParts.isEmpty,
               (try? store.wasGated(projectID: scope, deployment: d.name, revision: revision)) ?? true {
                skip("no new instances in this apply, and this revision was gated before (--gate-always benchmarks anyway)")
                continue
            }
            out.append(gate(r, revision: revision, plan: plan, input: input, rolledOut: rolledParts))
        }
        return GateReport(deployments: out)
    }

    /// `rolledOut`: the deployments this apply rolled out that the gate answers for (the deployment
    /// itself; for a disaggregated deployment's router, each of its parts that rolled out).
    func gate(_ r: ResolvedDeployment, revision: String, plan: Plan, input: PlanInput, rolledOut: [String]) -> DeploymentGate {
        let d = r.deployment
        let replicas = ((try? target.endpoints(of: d.name)) ?? [])
            .filter { $0.ready && $0.revision == revision }
            .sorted { $0.replica < $1.replica }
        guard !replicas.isEmpty else {
            return DeploymentGate(deployment: d.name, revision: revision, result: .failed,
                                  message: "no ready replica of revision \(revision.prefix(12)) to benchmark",
                                  scenarios: [], revert: nil)
        }
        var results: [ScenarioGate] = []
        var rows: [GateRunRecord] = []
        var stopped = false
        for s in d.benchmarks where !stopped {
            let prev = (try? store.previousGateResult(projectID: scope, deployment: d.name,
                                                             scenario: s.name, workloadKey: s.workloadKey,
                                                             excludingRevision: revision)) ?? []
            let previous = GateEvaluator.previousValues(prev.map { GateRunner.numbers($0.metricsJSON) })
            for inst in replicas where !stopped {
                let endpoint = inst.url
                let id = "\(inst.deployment)/\(inst.replica)"
                progress("\(id): gate \(s.name): \(s.numPrompts) requests, \(s.inputLen)/\(s.outputLen) tokens, "
                         + "concurrency \(s.maxConcurrency.map(String.init) ?? "unlimited")\n")
                let (verdict, json, measured) = measure(s, endpoint: endpoint, engine: r.backend.engine.rawValue,
                                                        model: inst.model ?? d.servedModelName, previous: previous,
                                                        label: "\(id): gate \(s.name)")
                let failedGates = verdict.gates.filter { !$0.passed }
                progress("\(id): gate \(s.name): " + (verdict.passed ? "passed" : "FAILED: "
                    + (verdict.error ?? failedGates.map { "\($0.gate) — \($0.message)" }.joined(separator: "; "))) + "\n")
                results.append(ScenarioGate(scenario: s.name, replica: inst.replica, endpoint: endpoint,
                                            passed: verdict.passed, error: verdict.error,
                                            previousRevision: prev.first?.revision, gates: verdict.gates,
                                            metrics: measured))
                rows.append(GateRunRecord(runID: "", deployment: d.name, revision: revision, scenario: s.name,
                                          workloadKey: s.workloadKey, replica: inst.replica, passed: verdict.passed,
                                          runPassed: false, metricsJSON: json,
                                          verdictsJSON: GateRunner.encode(verdict.gates), error: verdict.error,
                                          recordedAt: Date().timeIntervalSince1970))
                if !verdict.passed { stopped = true }
            }
        }
        let passed = results.allSatisfy(\.passed)
        let runID = UUID().uuidString.lowercased()
        rows = rows.map { var x = $0; x.runID = runID; x.runPassed = passed; return x }
        var message = passed ? "every gate holds" : ""
        do { try store.recordGateRun(rows, projectID: scope) } catch {
            message += (message.isEmpty ? "" : "; ") + "could not record the result: \(error)"
        }
        guard !passed else {
            return DeploymentGate(deployment: d.name, revision: revision, result: .passed, message: message,
                                  scenarios: results, revert: nil)
        }
        let first = results.first { !$0.passed }
        let reason = first.map { g in
            "\(g.scenario) on replica \(g.replica): " + (g.error ?? g.gates.filter { !$0.passed }.map(\.gate).joined(separator: ", "))
        } ?? "gate failed"
        guard !rolledOut.isEmpty else {
            return DeploymentGate(deployment: d.name, revision: revision, result: .failed,
                                  message: "the revision already ran before this apply: nothing to revert, left running",
                                  scenarios: results, revert: nil)
        }
        var revert = GateRevert(outcomes: [], succeeded: true, note: nil)
        var notes: [String] = []
        for part in rolledOut {
            let one = target.revert(part, in: plan, input, reason: reason, events: onEvent)
            revert.outcomes += one.outcomes
            revert.succeeded = revert.succeeded && (one.succeeded || one.note != nil)
            if let note = one.note { notes.append(note) }
        }
        if notes.count == rolledOut.count, !notes.isEmpty { revert.note = notes.joined(separator: "; ") }
        if let note = revert.note {
            message = note
        } else if revert.succeeded {
            message = "returned to the previous revision"
        } else {
            message = "returning to the previous revision failed: "
                + revert.outcomes.filter { $0.result == .failed }.map { "\($0.id): \($0.message)" }.joined(separator: "; ")
        }
        return DeploymentGate(deployment: d.name, revision: revision, result: .failed, message: message,
                              scenarios: results, revert: revert.note == nil ? revert : nil)
    }

    /// Runs one scenario against one endpoint and evaluates its gates: the verdict, the bench
    /// result JSON (what the state keeps), and the measured gate metrics.
    func measure(_ s: BenchmarkScenario, endpoint: String, engine: String, model: String,
                 previous: [String: Double]?, label: String) -> (ScenarioVerdict, String, [String: Double]) {
        let config = GateRunner.config(s, endpoint: endpoint, engine: engine, model: model)
        let result: BenchResult
        do {
            result = try BenchBlocking.run(config, progress: RunProgress(label: label, write: progress).report)
        } catch {
            return (.notRun("the benchmark could not run: \(error)"), "{}", [:])
        }
        let m = GateMeasurements(result: result)
        let verdict = GateEvaluator.evaluate(s.gates, measurements: m, previous: previous,
                                             maxFailedRequests: s.maxFailedRequests)
        return (verdict, BenchReport.json(result, details: false, compact: true), m.values)
    }

    /// The bench configuration of a declared scenario (shared by `apply --gate` and `bench --scenario`).
    public static func config(_ s: BenchmarkScenario, endpoint: String, engine: String, model: String) -> BenchConfig {
        var config = BenchConfig(baseURL: endpoint)
        config.backend = BenchBackend(rawValue: s.api ?? (engine == "sglang" || engine == "sglang-router" ? "sglang" : "openai")) ?? .sglang
        config.numPrompts = s.numPrompts
        config.randomInputLength = s.inputLen
        config.randomOutputLength = s.outputLen
        config.randomRangeRatio = s.rangeRatio
        config.maxConcurrency = s.maxConcurrency
        config.requestRate = s.requestRate
        config.seed = UInt64(max(s.seed, 0))
        config.warmupRequests = s.warmup
        config.model = model
        config.requestTimeout = Double(s.requestTimeoutSeconds)
        return config
    }

    /// The numeric fields of a stored bench result.
    static func numbers(_ json: String) -> [String: Double] {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return [:] }
        var out: [String: Double] = [:]
        for (k, v) in o where GateExpression.metricNames.contains(k) {
            if let n = GateMeasurements.number(v) { out[k] = n }
        }
        return out
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return (try? enc.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }
}

/// Runs a benchmark from synchronous code (the commands are synchronous) and waits.
public enum BenchBlocking {
    /// Runs `config` (with `requests`, else generated ones) and waits for the result.
    public static func run(_ config: BenchConfig, requests: [BenchRequest]? = nil,
                    progress: (@Sendable (Int, Int, Int) -> Void)? = nil) throws -> BenchResult {
        final class Box: @unchecked Sendable { var value: Result<BenchResult, any Error>? }
        let box = Box()
        let finished = DispatchSemaphore(value: 0)
        let runner = try BenchRunner(config: config)
        Task {
            do { box.value = .success(try await runner.run(requests: requests, progress: progress)) } catch {
                box.value = .failure(error)
            }
            finished.signal()
        }
        finished.wait()
        guard let value = box.value else { throw BenchError("benchmark did not finish") }
        return try value.get()
    }
}

/// A progress line for a long scenario at most every 10 s (plain lines: works without a terminal).
public final class RunProgress: @unchecked Sendable {
    let label: String
    let write: (String) -> Void
    private let lock = NSLock()
    private var last = Date()

    /// Creates a reporter writing `label: …` lines.
    public init(label: String, write: @escaping (String) -> Void) {
        self.label = label
        self.write = write
    }

    /// Called by the runner after each request.
    public func report(done: Int, failed: Int, total: Int) {
        let due: Bool = lock.withLock {
            guard done < total, Date().timeIntervalSince(last) >= 10 else { return false }
            last = Date()
            return true
        }
        if due { write("\(label): \(done)/\(total) requests done, \(failed) failed\n") }
    }
}

/// Text form of a gate report.
public enum GateReportText {
    /// The text.
    public static func render(_ g: GateReport) -> String {
        guard !g.deployments.isEmpty else { return "" }
        var out = "\nGates:\n"
        for d in g.deployments {
            let mark = d.result == .passed ? "✔" : (d.result == .failed ? "✘" : "-")
            out += "  \(mark) \(d.deployment) revision \(d.revision.prefix(12)): \(d.result == .failed ? "FAILED" : d.result.rawValue)"
                + " — \(d.message)\n"
            for s in d.scenarios {
                out += "      \(s.scenario) on \(d.deployment)/\(s.replica): \(s.passed ? "passed" : "FAILED")"
                    + (s.error.map { " — \($0)" } ?? "") + "\n"
                for v in s.gates {
                    out += "        \(v.passed ? "✔" : "✘") \(v.gate): \(v.message)\n"
                }
            }
        }
        if !g.passed {
            out += "Gate FAILED for \(g.deployments.filter { $0.result == .failed }.map(\.deployment).joined(separator: ", ")).\n"
        }
        return out
    }
}
