import ArgumentParser
import Bench
import DeployFlows
import DeployKit
import DeployTargets
import Engines
import Foundation

/// `dsdeploy bench history DEPLOYMENT`: the gate results `apply --gate` kept, last run per revision.
struct BenchHistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show the benchmark gate results `apply --gate` kept for DEPLOYMENT: the last run per revision, newest first.",
        discussion: "Exit 0; 1 when the state has no gate result for DEPLOYMENT.")

    @Argument(help: "Deployment name.") var deployment: String
    @Flag(name: .long, help: "Every gate run, not only the last one per revision.") var all = false
    @Option(help: "text | json") var output: String = "text"

    /// One gate run of one revision.
    struct Run: Encodable {
        var revision: String
        var runID: String
        var recordedAt: Double
        var passed: Bool
        /// True when a ready replica runs this revision now.
        var serving: Bool
        var scenarios: [Row]
    }

    /// One scenario on one replica, with the full bench result.
    struct Row: Encodable {
        var scenario: String
        var replica: Int
        var passed: Bool
        var error: String?
        var gates: [GateVerdict]
        var result: JSONValue
    }

    @Option(name: .customLong("file"), help: "A manifest defining the Target whose gate history to show (repeatable); default: the local target.")
    var file: [String] = []

    func validate() throws {
        guard output == "text" || output == "json" else { throw ValidationError("--output must be text or json") }
    }

    func run() throws {
        let target = try TargetResolver.target(inFiles: file, options: try ManifestOptions.parse([]))
        let store = try StateStore(directory: TargetResolver.stateDirectory)
        let scope = GateRunner.scope(of: target)
        let rows = try store.gateRuns(projectID: scope, deployment: deployment)
        guard !rows.isEmpty else {
            throw fail("no gate result for '\(deployment)' of target '\(target.ref.name)' in \(TargetResolver.stateDirectory) "
                       + "(apply --gate records them)")
        }
        let serving = Set(((try? target.endpoints(of: deployment)) ?? []).filter(\.ready).compactMap(\.revision))
        var runs: [Run] = []
        for r in rows.reversed() {
            if let i = runs.firstIndex(where: { $0.runID == r.runID }) {
                runs[i].scenarios.insert(row(r), at: 0)
                continue
            }
            if !all, runs.contains(where: { $0.revision == r.revision }) { continue }
            runs.append(Run(revision: r.revision, runID: r.runID, recordedAt: r.recordedAt, passed: r.runPassed,
                            serving: serving.contains(r.revision), scenarios: [row(r)]))
        }
        if output == "json" {
            Output.stdout(Output.json(["deployment": AnyEncodable(deployment), "runs": AnyEncodable(runs)]))
            return
        }
        var table = [["REVISION", "WHEN", "RESULT", "SCENARIO", "REPLICA", "OUTPUT TOK/S", "MEDIAN TTFT MS", "FAILED GATES"]]
        let dateFormat = ISO8601DateFormatter()
        for run in runs {
            for (i, s) in run.scenarios.enumerated() {
                let f: (String) -> String = { k in
                    if case .object(let o) = s.result, case .number(let v)? = o[k] { return String(format: "%.2f", v) }
                    return "-"
                }
                let failedGates = s.error ?? s.gates.filter { !$0.passed }.map { "\($0.gate) (\($0.message))" }.joined(separator: "; ")
                table.append([i == 0 ? String(run.revision.prefix(12)) + (run.serving ? " *" : "") : "",
                              i == 0 ? dateFormat.string(from: Date(timeIntervalSince1970: run.recordedAt)) : "",
                              i == 0 ? (run.passed ? "passed" : "FAILED") : "",
                              s.scenario, String(s.replica), f("output_throughput"), f("median_ttft_ms"),
                              failedGates.isEmpty ? "-" : failedGates])
            }
        }
        Output.stdout(Status.format(table) + "(* serving now)\n")
    }

    func row(_ r: GateRunRecord) -> Row {
        let gates = (try? JSONDecoder().decode([GateVerdict].self, from: Data(r.verdictsJSON.utf8))) ?? []
        return Row(scenario: r.scenario, replica: r.replica, passed: r.passed, error: r.error, gates: gates,
                   result: JSONValue.parse(Array(r.metricsJSON.utf8)) ?? .object([:]))
    }
}

/// Type-erased Encodable for mixed dictionaries.
struct AnyEncodable: Encodable {
    let encodeBody: (any Encoder) throws -> Void

    init<T: Encodable>(_ value: T) { encodeBody = value.encode }

    func encode(to encoder: any Encoder) throws { try encodeBody(encoder) }
}
