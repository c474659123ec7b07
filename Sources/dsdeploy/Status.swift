import ArgumentParser
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// `dsdeploy status [NAME]`
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every replica in the state: revision, state, endpoint, uptime, drift.",
        discussion: "Exit 0; 1 when NAME is not in the state.")

    @Argument(help: "Only this deployment.")
    var name: String?

    @Option(name: [.customShort("f"), .long], help: "A manifest defining a gpustack Target: show that server's deployments (repeatable).")
    var file: [String] = []

    @OptionGroup var options: ManifestOptions

    struct Row: Encodable {
        var deployment: String
        var replica: Int
        var instance: String
        var revision: String
        var state: String
        var endpoint: String
        var pid: Int32?
        var uptimeSeconds: Double?
        var exitStatus: String?
        var drift: [FlagDiffEntry]
        var lastLog: [String]
    }

    func run() throws {
        if let gs = try GPUStackCommands.target(inFiles: file, options: options) {
            return try GPUStackCommands.status(gs, name: name, options: options)
        }
        let target = try TargetFactory.local(nil)
        var observed = try target.observe()
        if let name {
            observed = observed.filter { $0.deployment == name }
            if observed.isEmpty {
                Output.stderr("dsdeploy: error: no deployment '\(name)' in \(TargetFactory.stateDirectory)\n")
                throw ExitCode.failure
            }
        }
        let now = Date().timeIntervalSince1970
        let rows = observed.sorted { ($0.deployment, $0.replica, $0.startedAt) < ($1.deployment, $1.replica, $1.startedAt) }.map { o in
            Row(deployment: o.deployment, replica: o.replica, instance: o.instance, revision: o.revision,
                state: o.drift.isEmpty ? o.state.rawValue : "drifted", endpoint: "http://\(o.launch.host):\(o.port)",
                pid: o.pid, uptimeSeconds: o.isAlive ? now - o.startedAt : nil, exitStatus: o.exitStatus,
                drift: o.drift, lastLog: o.isAlive ? [] : o.lastLog.suffix(5))
        }
        switch options.output {
        case .json: Output.stdout(Output.json(["replicas": rows]))
        case .text:
            if rows.isEmpty { Output.stdout("Nothing deployed in \(TargetFactory.stateDirectory).\n"); return }
            var table = [["REPLICA", "REVISION", "STATE", "ENDPOINT", "UPTIME", "PID", "DRIFT"]]
            for r in rows {
                let state = r.state + (r.exitStatus.map { " (\($0))" } ?? "")
                table.append(["\(r.deployment)/\(r.replica)", String(r.revision.prefix(12)), state, r.endpoint,
                              r.uptimeSeconds.map(Status.duration) ?? "-", r.pid.map(String.init) ?? "-",
                              r.drift.isEmpty ? "-" : r.drift.map { "\($0.flag)=\($0.after ?? "unset") (want \($0.before ?? "unset"))" }.joined(separator: "; ")])
            }
            Output.stdout(Status.format(table))
            for r in rows where !r.lastLog.isEmpty {
                Output.stdout("\n\(r.deployment)/\(r.replica) last log lines:\n" + r.lastLog.map { "  \($0)\n" }.joined())
            }
        }
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

/// `dsdeploy logs NAME [--replica N] [-f] [--tail N]`
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print (or follow) a replica's engine log.")

    @Argument(help: "Deployment name.")
    var name: String

    @Option(name: .long, help: "Replica index.")
    var replica = 0

    @Flag(name: [.short, .customLong("follow")], help: "Keep printing new lines until interrupted.")
    var follow = false

    @Option(name: .long, help: "Lines from the end to print first.")
    var tail = 50

    @Option(name: .long, help: "A manifest defining a gpustack Target: read the log from that server (repeatable).")
    var file: [String] = []

    func run() throws {
        if let gs = try GPUStackCommands.target(inFiles: file, options: try ManifestOptions.parse([])) {
            return try GPUStackCommands.logs(gs, name: name, replica: replica, tail: tail, follow: follow)
        }
        let target = try TargetFactory.local(nil)
        guard target.logPath(deployment: name, replica: replica) != nil else {
            Output.stderr("dsdeploy: error: no log for \(name)/\(replica) in \(TargetFactory.stateDirectory)\n")
            throw ExitCode.failure
        }
        if follow {
            target.follow(deployment: name, replica: replica, lines: tail, shouldStop: { false }, onText: Output.stdout)
        } else {
            Output.stdout(target.tail(deployment: name, replica: replica, lines: tail).map { $0 + "\n" }.joined())
        }
    }
}

/// `dsdeploy delete FILE|NAME`
struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop every replica of the deployments in FILE (or of deployment NAME): SIGTERM, grace, SIGKILL.")

    @Argument(help: "A manifest file or a deployment name.")
    var what: String

    @Flag(name: .long, help: "Delete without asking.")
    var autoApprove = false

    @Option(name: .long, help: "Seconds between SIGTERM and SIGKILL.")
    var grace = 10.0

    @Option(name: [.customShort("f"), .long], help: "A manifest defining a gpustack Target: delete the models there (repeatable).")
    var file: [String] = []

    @OptionGroup var options: ManifestOptions

    func run() throws {
        var names: Set<String> = [what]
        if FileManager.default.fileExists(atPath: what) {
            let r = ManifestPipeline.validate([what], options: options)
            names = Set(r.manifest.deployments.map(\.name))
        }
        if let gs = try GPUStackCommands.target(inFiles: file.isEmpty && FileManager.default.fileExists(atPath: what) ? [what] : file,
                                                options: options) {
            return try GPUStackCommands.delete(gs, names: names, autoApprove: autoApprove)
        }
        let lock = try TargetFactory.lock()
        defer { lock.release() }
        let target = try TargetFactory.local(nil)
        let victims = try target.observe().filter { names.contains($0.deployment) }
        if victims.isEmpty {
            Output.stdout("Nothing to delete: \(names.sorted().joined(separator: ", ")) not deployed.\n")
            return
        }
        Output.stdout(victims.map { "  - delete \($0.id) (\($0.instance), port \($0.port))\n" }.joined())
        guard try Confirm.ask("Delete \(victims.count) replica\(victims.count == 1 ? "" : "s")?", autoApprove: autoApprove) else {
            throw ExitCode.failure
        }
        for v in victims {
            try target.stop(v, grace: grace)
            Output.stdout("stopped \(v.id)\n")
        }
    }
}
