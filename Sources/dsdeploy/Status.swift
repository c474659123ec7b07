import ArgumentParser
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// `dsdeploy status [NAME]`
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every replica in the state: revision, state, endpoint, GPUs, uptime, drift.",
        discussion: "Exit 0; 1 when NAME is not in the state.")

    @Argument(help: "Only this deployment.")
    var name: String?

    @Option(name: [.customShort("f"), .long], help: "A manifest defining the Target to ask (repeatable); default: the local target.")
    var file: [String] = []

    @OptionGroup var options: ManifestOptions

    func run() throws {
        let target = try TargetResolver.target(inFiles: file, options: options)
        var rows: [ReplicaStatus]
        do { rows = try target.status(name.map { [$0] }) } catch { throw fail(error.message) }
        if let name, rows.isEmpty { throw fail("no deployment '\(name)' on target '\(target.ref.name)'" + Status.where_(target)) }
        rows.sort { ($0.deployment, $0.replica ?? -1) < ($1.deployment, $1.replica ?? -1) }
        switch options.output {
        case .json: Output.stdout(Output.json(StatusOutput(target: target.ref, replicas: rows)))
        case .text:
            if rows.isEmpty { Output.stdout("Nothing deployed on target '\(target.ref.name)'\(Status.where_(target)).\n"); return }
            let now = Date().timeIntervalSince1970
            var table = [["REPLICA", "REVISION", "STATE", "ENDPOINT", "HOST", "GPUS", "UPTIME", "PID", "DETAIL"]]
            func ids(_ g: [Int]?) -> String { g.map { $0.map(String.init).joined(separator: ",") } ?? "-" }
            for r in rows {
                let state = r.state.rawValue + (r.exitStatus.map { " (\($0))" } ?? "")
                let uptime = (r.state == .ready || r.state == .starting || r.state == .drifted) ? r.startedAt.map { Status.duration(now - $0) } : nil
                var detail = !r.drift.isEmpty
                    ? r.drift.map { "\($0.flag)=\($0.after ?? "unset") (want \($0.before ?? "unset"))" }.joined(separator: "; ")
                    : ((r.message ?? "").replacingOccurrences(of: "\n", with: " ") + (r.restarts.map { $0 > 0 ? " (\($0) restarts)" : "" } ?? ""))
                if let nodes = r.details["nodes"] { detail = "\(nodes) nodes" + (detail.isEmpty ? "" : "; " + detail) }
                if let pd = r.details["pd"] { detail = pd + (detail.isEmpty ? "" : "; " + detail) }
                if let service = r.details["service"] { detail += (detail.isEmpty ? "" : "; ") + service }
                table.append([r.replica.map { "\(r.deployment)/\($0)" } ?? r.deployment, r.revision.map { String($0.prefix(12)) } ?? "-",
                              state, r.endpoint ?? "-", r.host ?? "-", ids(r.gpus), uptime ?? "-", r.pid.map(String.init) ?? "-",
                              detail.isEmpty ? "-" : detail])
                // Each node of a multi-node group under its row (the group's state is theirs).
                if let n = r.details["nodes"].flatMap(Int.init), n > 1 {
                    for rank in 0..<n {
                        guard let node = r.details["node_\(rank)"] else { continue }
                        let words = node.split(separator: " ", maxSplits: 1).map(String.init)
                        // `HOST URL (what)` on a fleet, `URL (what)` on one host.
                        let onHost = !(words.first ?? "").hasPrefix("http")
                        let rest = onHost ? (words.count > 1 ? words[1] : "") : node
                        let parts = rest.split(separator: " ", maxSplits: 1).map(String.init)
                        table.append(["  node \(rank)", "", "", parts.first ?? "-", onHost ? words[0] : (r.host ?? "-"),
                                      r.details["node_\(rank)_gpus"] ?? "", "", "",
                                      parts.count > 1 ? parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "()")) : "-"])
                    }
                }
            }
            Output.stdout(Status.format(table))
            for r in rows where !r.lastLog.isEmpty {
                Output.stdout("\n\(r.deployment)/\(r.replica ?? 0) last log lines:\n" + r.lastLog.map { "  \($0)\n" }.joined())
            }
        }
    }

    /// ` in STATE_DIR` for the local target, the target's detail otherwise.
    static func where_(_ t: any Target) -> String {
        t.ref.type == "local" ? " in \(TargetResolver.stateDirectory)" : (t.ref.detail.isEmpty ? "" : " (\(t.ref.detail))")
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s)
        if t < 60 { return "\(t)s" }
        if t < 3600 { return "\(t / 60)m\(t % 60)s" }
        return "\(t / 3600)h\(t % 3600 / 60)m"
    }

    static func format(_ rows: [[String]]) -> String {
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count + 2) }.joined()
        }.joined(separator: "\n") + "\n"
    }
}

/// `dsdeploy logs NAME [--replica N] [--node N] [-f] [--tail N]`
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print (or follow) a replica's engine log.")

    @Argument(help: "Deployment name.")
    var name: String

    @Option(name: .long, help: "Replica index.")
    var replica = 0

    @Option(name: .long, help: "Node of a multi-node replica (0: rank 0, the replica's own log).")
    var node = 0

    @Flag(name: [.short, .customLong("follow")], help: "Keep printing new lines until interrupted.")
    var follow = false

    @Option(name: .long, help: "Lines from the end to print first.")
    var tail = 50

    @Option(name: .customLong("file"), help: "A manifest defining the Target to read from (repeatable); default: the local target.")
    var file: [String] = []

    func run() throws {
        let target = try TargetResolver.target(inFiles: file, options: try ManifestOptions.parse([]))
        if follow { try target.requireCapabilityOrFail(.followLogs, for: "logs -f") }
        do {
            try target.logs(name, replica: replica, node: node, tail: tail, follow: follow) { text in
                Output.stdout(text)
                return true
            }
        } catch { throw fail(error.message) }
    }
}

/// `dsdeploy delete FILE|NAME`
struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Stop every replica of the deployments in FILE (or of deployment NAME): SIGTERM, grace, SIGKILL.")

    @Argument(help: "A manifest file or a deployment name.")
    var what: String

    @Flag(name: .long, help: "Delete without asking.")
    var autoApprove = false

    @Option(name: .long, help: "Seconds between SIGTERM and SIGKILL.")
    var grace = 10.0

    @Option(name: [.customShort("f"), .long], help: "A manifest defining the Target to delete from (repeatable); default: FILE's target, else local.")
    var file: [String] = []

    @OptionGroup var options: ManifestOptions

    func run() throws {
        var names: Set<String> = [what]
        var files = file
        let isFile = FileManager.default.fileExists(atPath: what)
        if isFile {
            let r = ManifestPipeline.validate([what], options: options)
            // What runs: a disaggregated deployment is its router, prefill and decode deployments.
            names = Set(r.manifest.deployments.map(\.name) + r.deployments.map(\.deployment.name))
            if files.isEmpty { files = [what] }
        } else {
            // A disaggregated deployment by name: its prefill and decode servers go with its router.
            names.formUnion(PDRole.allCases.filter { $0 != .router }.map { "\(what)-\($0.rawValue)" })
        }
        let lock = try TargetResolver.lock()
        defer { lock.release() }
        let target = try TargetResolver.target(inFiles: files, options: options)
        let targetLock = try TargetResolver.lock(target)
        defer { targetLock?.release() }
        var victims: [ReplicaStatus]
        do { victims = try target.status(names) } catch { throw fail(error.message) }
        if !isFile {
            // Only parts that say they belong to NAME (a deployment merely named NAME-decode stays).
            victims = victims.filter { $0.deployment == what || $0.details["pd"]?.hasSuffix(" of \(what)") == true }
        }
        if victims.isEmpty {
            Output.stdout("Nothing to delete: \(names.sorted().joined(separator: ", ")) not deployed on target '\(target.ref.name)'.\n")
            return
        }
        for v in victims {
            let unit = v.replica.map { "\(v.deployment)/\($0)" } ?? v.deployment
            var where_ = ""
            if let instance = v.instance { where_ = " (\(instance)" + (v.endpoint.map { ", \($0)" } ?? "") + ")" }
            Output.stdout("  - delete \(unit)\(where_)\n")
        }
        let deployments = Set(victims.map(\.deployment))
        guard try Confirm.ask("Delete \(victims.count) replica\(victims.count == 1 ? "" : "s") of \(deployments.sorted().joined(separator: ", ")) "
                              + "on target '\(target.ref.name)'?", autoApprove: autoApprove) else {
            throw ExitCode.failure
        }
        let report: ApplyReport
        do {
            report = try target.delete(deployments, grace: .seconds(fractional: grace)) { _ in }
        } catch { throw fail(error.message) }
        for o in report.outcomes {
            Output.stdout(o.result == .done ? "deleted \(o.id): \(o.message)\n" : "failed to delete \(o.id): \(o.message)\n")
        }
        if !report.succeeded { throw ExitCode.failure }
    }
}

/// The `status --output json` shape, the same on every target (`docs/output.md`).
struct StatusOutput: Encodable {
    var target: TargetRef
    var replicas: [ReplicaStatus]
}
