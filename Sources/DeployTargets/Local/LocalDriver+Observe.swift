public import DeployKit
import Foundation

extension LocalDriver {
    /// Every instance of this project: the database's, plus run directories it does not know that were
    /// spawned and not stopped on purpose (left by an apply killed between spawn and record; they are
    /// adopted into the database). Dead instances are `exited` with their status and last log lines;
    /// ready ones carry the drift their engine reports now.
    public func observe() throws -> [ObservedReplica] {
        reapChildren()
        try adoptRunDirectories()
        var out: [ObservedReplica] = []
        for var r in try store.instances(projectID: projectID) {
            refreshProcesses(&r)
            let live = liveness(r)
            let log = LogFile(path: RunDirectory(path: r.runDirectory).logPath)
            guard live.isAlive else {
                out.append(observed(r, state: .exited, exitStatus: live.endedStatus,
                                    lastLog: log.tail(lines: LocalDriver.logLines)))
                continue
            }
            switch r.state {
            case .starting:
                out.append(observed(r, state: .starting, lastLog: log.tail(lines: LocalDriver.logLines)))
            case .ready:
                out.append(observed(r, state: .ready, lastLog: log.tail(lines: LocalDriver.logLines),
                                    drift: currentDrift(r)))
            }
        }
        return out
    }

    /// Records run directories of this project that the database does not know and that were spawned
    /// (`supervisor.pid` written) and not stopped on purpose.
    func adoptRunDirectories() throws {
        let known = Set(try store.instances().map(\.runDirectory))
        for dir in allRunDirectories() where !known.contains(dir.path) {
            let run = dir
            guard !run.isStopped, let s = run.supervisor, var r = run.readIntent(), r.projectID == projectID else {
                continue
            }
            r.pgid = s.pid
            r.pgidStartTime = s.startTime == 0 ? nil : s.startTime
            if let e = run.engine {
                r.pid = e.pid
                r.pidStartTime = e.startTime == 0 ? nil : e.startTime
            }
            r.startedAt = r.createdAt
            try? store.insert(r)
        }
    }

    /// Every run directory under `STATE_DIR/run`, oldest first within a slot (instance ids are time-ordered).
    func allRunDirectories() -> [RunDirectory] {
        let root = stateDirectory + "/run"
        let fm = FileManager.default
        var out: [String] = []
        for dep in ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted() {
            for name in ((try? fm.contentsOfDirectory(atPath: root + "/" + dep)) ?? []).sorted() {
                var isDirectory: ObjCBool = false
                let path = root + "/" + dep + "/" + name
                if fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { out.append(path) }
            }
        }
        return out.map(RunDirectory.init(path:))
    }

    /// Run directories of one slot, oldest first.
    func runDirectories(deployment: String, replica: Int) -> [RunDirectory] {
        let prefix = stateDirectory + "/run/" + RunDirectory.safeName(deployment) + "/\(replica)-"
        return allRunDirectories().filter { $0.path.hasPrefix(prefix) }
    }

    /// Deletes a slot's run directories of stopped instances, keeping the newest one for `logs` until
    /// the slot has a ready instance.
    func pruneRunDirectories(deployment: String, replica: Int) {
        let records = (try? store.instances(projectID: projectID)) ?? []
        let slot = records.filter { $0.deployment == deployment && $0.replica == replica }
        let known = Set(slot.map(\.runDirectory))
        let hasReady = slot.contains { $0.state == .ready }
        let stopped = runDirectories(deployment: deployment, replica: replica)
            .filter { !known.contains($0.path) && $0.isStopped }
        for (i, dir) in stopped.enumerated() where hasReady || i < stopped.count - 1 {
            dir.remove()
        }
    }
}
