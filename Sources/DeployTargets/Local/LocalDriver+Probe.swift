public import DeployKit
import Foundation

/// Whether an instance's processes run, from its pid files, `/proc` and its exit file.
struct Liveness: Sendable, Hashable {
    /// The engine process runs (same start time as recorded).
    var engineAlive: Bool
    /// The supervisor runs.
    var supervisorAlive: Bool
    /// The supervisor's record of how the engine ended, when it did.
    var exitStatus: String?

    /// True while the instance counts as running: the engine runs, or the supervisor runs and has not
    /// recorded an exit (the engine is being started, or its exit is being written).
    var isAlive: Bool { exitStatus == nil && (engineAlive || supervisorAlive) }

    /// How it ended, for people (`exit 1`, `signal 9`, or unknown when nothing recorded it).
    var endedStatus: String { exitStatus ?? "status unknown: killed together with its supervisor" }
}

extension LocalDriver {
    /// Number of log lines attached to failures and observations.
    static let logLines = 20

    /// Fills in pids the supervisor wrote since the record was saved (and saves them).
    func refreshProcesses(_ r: inout InstanceRecord) {
        let run = RunDirectory(path: r.runDirectory)
        var changed = false
        if r.pid == nil, let e = run.engine {
            r.pid = e.pid
            r.pidStartTime = e.startTime == 0 ? nil : e.startTime
            changed = true
        }
        if r.pgid == nil, let s = run.supervisor {
            r.pgid = s.pid
            r.pgidStartTime = s.startTime == 0 ? nil : s.startTime
            changed = true
        }
        if changed {
            try? store.setProcess(instance: r.instance, pid: r.pid, pidStartTime: r.pidStartTime, pgid: r.pgid,
                                  pgidStartTime: r.pgidStartTime, startedAt: r.startedAt ?? r.createdAt)
        }
    }

    /// The liveness of a record's processes.
    func liveness(_ r: InstanceRecord) -> Liveness {
        let engine = r.pid.map { ProcessTable.isAlive($0, startTime: r.pidStartTime) } ?? false
        let supervisor = r.pgid.map { ProcessTable.isAlive($0, startTime: r.pgidStartTime) } ?? false
        return Liveness(engineAlive: engine, supervisorAlive: supervisor,
                        exitStatus: RunDirectory(path: r.runDirectory).exitStatus)
    }

    /// One check, never long (HTTP timeouts of 1.5 s): process dead → `.failed("process exited (exit N)",
    /// last 20 log lines)`; not ready yet → `.starting(last log line)`; ready → config readback
    /// (`ConfigReadback`): `.ready`, or `.drifted` with the flags the engine reports differently.
    public func probe(_ instance: ObservedReplica) -> ProbeResult {
        reapChildren()
        guard var r = try? store.instance(instance.instance) else {
            return .failed(reason: "instance \(instance.instance) is not in the state", lastLog: [])
        }
        refreshProcesses(&r)
        let log = LogFile(path: RunDirectory(path: r.runDirectory).logPath)
        let live = liveness(r)
        guard live.isAlive else {
            return .failed(reason: "process exited (\(live.endedStatus))", lastLog: log.tail(lines: LocalDriver.logLines))
        }
        guard live.engineAlive else { return .starting(lastLine: log.tail(lines: 1).last) }
        if !isReady(r, log: log) { return .starting(lastLine: log.tail(lines: 1).last) }
        switch probeClient.readback(r.launch, port: r.port) {
        case .verified(let drift, _): return drift.isEmpty ? .ready : .drifted(drift)
        case .pending(let why): return .starting(lastLine: why)
        case .failed(let why): return .failed(reason: why, lastLog: log.tail(lines: LocalDriver.logLines))
        }
    }

    /// Readiness: the log line (when the spec names one), and the HTTP path unless only a log line is set.
    func isReady(_ r: InstanceRecord, log: LogFile) -> Bool {
        if let line = r.launch.readinessLogLine, !line.isEmpty {
            let offset = lock.withLock { logOffsets[r.instance] ?? 0 }
            let found: Bool
            if offset < 0 {
                found = true
            } else {
                let scan = log.scan(for: line, from: offset)
                found = scan.found
                lock.withLock { logOffsets[r.instance] = scan.found ? -1 : scan.next }
            }
            guard found else { return false }
            if r.launch.readinessPath == nil { return true }
        }
        return probeClient.httpReady(r.launch, port: r.port).ready
    }

    /// Drift of a live, ready instance (empty when it cannot be read now: unknown is not drift).
    func currentDrift(_ r: InstanceRecord) -> [FlagDiffEntry] {
        if case .verified(let d, _) = probeClient.readback(r.launch, port: r.port) { return d }
        return []
    }
}
