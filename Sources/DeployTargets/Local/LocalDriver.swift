public import DeployCore
public import DeployKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `local` target: engines run as processes on this machine, state in `STATE_DIR/state.db`.
///
/// Each instance runs under `dsdeploy-supervisor` in its own session and process group, with its
/// files in `STATE_DIR/run/<deployment>/<replica>-<instance>`. The intent (a `starting` row and the
/// run directory's `instance.json`) is recorded before spawning, so an apply killed at any point
/// leaves nothing that `observe` cannot find. Methods are quick: none waits for readiness.
public final class LocalDriver: ReplicaDriver, @unchecked Sendable {
    /// The state directory (`.dsdeploy/` or `$DSDEPLOY_HOME`).
    public let stateDirectory: String
    /// Address engines bind to and ports are checked on.
    public let host: String
    /// Image → local command (argv) that stands in for the image's entrypoint.
    public let imageCommands: [String: [String]]
    /// Project whose instances this target manages (others sharing the state directory are left alone).
    public let projectID: String
    /// The state database.
    public let store: StateStore
    let clock: any DeployClock
    let probeClient = EngineProbe()
    /// Overrides the supervisor location (else `$DSDEPLOY_SUPERVISOR` of `parentEnvironment`, or next to the executable).
    public var supervisorPath: String?
    /// Environment the inherited variables (`PATH`, `HOME`, `LANG`, `TMPDIR`) are taken from: the
    /// `TargetContext`'s, injected (the driver never reads the process environment).
    public let parentEnvironment: [String: String]
    /// How long `start` waits for the supervisor to report the engine's pid.
    public var pidWait: Duration = .seconds(1)
    /// Seconds `nvidia-smi` may take before its GPUs count as unread (it hangs on a GPU in a bad state).
    public var nvidiaSmiTimeout = GPUInventory.timeout

    let lock = NSLock()
    var children: Set<Int32> = []
    var logOffsets: [String: Int] = [:]

    /// Opens (creating when missing) the state in `stateDirectory`.
    public init(stateDirectory: String, host: String = "127.0.0.1", imageCommands: [String: [String]] = [:],
                projectID: String = "default", environment: [String: String], clock: any DeployClock = SystemClock()) throws {
        self.stateDirectory = stateDirectory
        parentEnvironment = environment
        self.host = host
        self.imageCommands = imageCommands
        self.projectID = projectID
        self.clock = clock
        store = try StateStore(directory: stateDirectory)
    }

    /// Records the intent (a `starting` row and the run directory's `instance.json`), then spawns the
    /// supervisor and waits briefly (`pidWait`) for the engine's pid. The argv listens on `port` (the
    /// rendered port flag's value is replaced when they differ) and runs the image's local command in
    /// place of the entrypoint when `imageCommands` maps the image; see `LaunchCommand` for the environment.
    public func start(_ spec: LaunchSpec, port: Int, environment: [String: Secret]) throws -> ObservedReplica {
        reapChildren()
        let launch = try LaunchCommand.moved(spec, to: port)
        let instance = LocalDriver.newInstanceID()
        let run = RunDirectory(stateDirectory: stateDirectory, deployment: spec.deployment, replica: spec.replica,
                               instance: instance)
        let supervisor = try supervisorPath ?? SupervisorSpawner.supervisorPath(environment: parentEnvironment)
        var record = InstanceRecord(instance: instance, projectID: projectID, deployment: spec.deployment,
                                    replica: spec.replica, revision: spec.revision, state: .starting, launch: launch,
                                    port: port, runDirectory: run.path, createdAt: clock.now().inSeconds, labels: spec.labels)
        try run.create()
        try run.writeIntent(record)
        try store.insert(record)

        let argv = LaunchCommand.argv(for: launch, imageCommands: imageCommands)
        let env = LaunchCommand.environment(for: launch, instance: instance, resolved: environment,
                                            parent: parentEnvironment)
        let pgid: Int32
        do {
            pgid = try SupervisorSpawner.spawn(supervisor: supervisor, runDirectory: run.path, argv: argv,
                                               nodes: LaunchCommand.nodeArgvs(launch, imageCommands: imageCommands),
                                               environment: env)
        } catch {
            run.markStopped()
            try? store.remove(instance: instance)
            throw error
        }
        lock.withLock { _ = children.insert(pgid) }
        record.pgid = pgid
        record.pgidStartTime = ProcessTable.startTime(pgid)
        record.startedAt = clock.now().inSeconds
        let deadline = clock.now() + pidWait
        while clock.now() < deadline {
            if let e = run.engine {
                record.pid = e.pid
                record.pidStartTime = e.startTime == 0 ? ProcessTable.startTime(e.pid) : e.startTime
                break
            }
            if run.exitStatus != nil { break }
            clock.sleep(for: .milliseconds(2))
        }
        // Not fatal when it fails: the run directory's pid files tell `observe` and `probe` the same.
        try? store.setProcess(instance: instance, pid: record.pid, pidStartTime: record.pidStartTime, pgid: pgid,
                              pgidStartTime: record.pgidStartTime, startedAt: record.startedAt ?? clock.now().inSeconds)
        return observed(record, state: .starting)
    }

    /// Marks the instance ready and its revision (with its launch) the deployment's last good one;
    /// deletes the slot's older stopped run directories.
    public func markReady(_ instance: ObservedReplica) throws {
        try store.markReady(instance: instance.instance, at: clock.now().inSeconds)
        pruneRunDirectories(deployment: instance.deployment, replica: instance.replica)
    }

    /// Records new labels in the state (and the run directory's intent); the process is untouched.
    public func updateLabels(_ instance: ObservedReplica, labels: [String: String]) throws {
        try store.setLabels(instance: instance.instance, labels: labels)
        let run = RunDirectory(stateDirectory: stateDirectory, deployment: instance.deployment,
                               replica: instance.replica, instance: instance.instance)
        if let r = try store.instance(instance.instance) { try? run.writeIntent(r) }
    }

    /// `preferred` when it is bindable on `host` and not in `avoiding`, else the next such port.
    public func freePort(preferred: Int, avoiding: Set<Int>) -> Int {
        PortProbe.firstFree(host: host, from: preferred, avoiding: avoiding)
    }

    /// The engine log of a slot's current instance (ready first, else the newest), or of its newest
    /// run directory when no instance is recorded; nil when there is none.
    public func logPath(deployment: String, replica: Int) -> String? {
        let records = ((try? store.instances(projectID: projectID)) ?? [])
            .filter { $0.deployment == deployment && $0.replica == replica }
        if let r = records.last(where: { $0.state == .ready }) ?? records.last {
            return RunDirectory(path: r.runDirectory).logPath
        }
        return runDirectories(deployment: deployment, replica: replica).last?.logPath
    }

    /// The last `lines` lines of a slot's current log (empty when none).
    public func tail(deployment: String, replica: Int, lines: Int) -> [String] {
        guard let p = logPath(deployment: deployment, replica: replica) else { return [] }
        return LogFile(path: p).tail(lines: lines)
    }

    /// The last `tail` lines of a slot's current log, then (with `follow`) new text until `onText`
    /// returns false.
    public func logs(deployment: String, replica: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        try logs(deployment: deployment, replica: replica, node: 0, tail: tail, follow: follow, onText: onText)
    }

    /// Node `node`'s log of a multi-node replica (`node-N.log` beside rank 0's `engine.log`).
    public func logs(deployment: String, replica: Int, node: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        guard var p = logPath(deployment: deployment, replica: replica) else {
            throw TargetError(.notFound, "no log for \(deployment)/\(replica) in \(stateDirectory)")
        }
        if node != 0 {
            p = (p as NSString).deletingLastPathComponent + "/node-\(node).log"
            guard node > 0, FileManager.default.fileExists(atPath: p) else {
                throw TargetError(.notFound, "\(deployment)/\(replica) has no node \(node) (its nodes are numbered from 0 to nodesPerReplica - 1)")
            }
        }
        let file = LogFile(path: p)
        if !follow {
            let lines = file.tail(lines: tail)
            _ = onText(lines.map { $0 + "\n" }.joined())
            return
        }
        let stop = StopFlag()
        file.follow(lines: tail, interval: 0.2, shouldStop: { stop.isSet }) { text in
            if !onText(text) { stop.set() }
        }
    }

    /// Reaps supervisors this process spawned that have exited (they are our children).
    func reapChildren() {
        lock.withLock {
            for pid in children where ProcessTable.reap(pid) { children.remove(pid) }
        }
    }

    /// An observation of a record.
    func observed(_ r: InstanceRecord, state: ObservedReplica.State, exitStatus: String? = nil,
                  lastLog: [String] = [], drift: [FlagDiffEntry] = []) -> ObservedReplica {
        ObservedReplica(deployment: r.deployment, replica: r.replica, instance: r.instance, revision: r.revision,
                        state: state, launch: r.launch, pid: state == .exited ? nil : r.pid,
                        port: r.port, startedAt: r.startedAt ?? r.createdAt, exitStatus: exitStatus,
                        lastLog: lastLog, drift: drift, labels: r.labels)
    }

    /// A fresh instance id: time-ordered, with random bits (`i1a2b3c4d5e6f`).
    static func newInstanceID() -> String {
        let ms = UInt64(Date().timeIntervalSince1970 * 1000)
        let rand = UInt32.random(in: 0...UInt32.max)
        return "i" + String(ms, radix: 36) + String(rand, radix: 36)
    }
}
