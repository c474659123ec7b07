public import DeployKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension LocalDriver {
    /// Stops an instance and forgets it: SIGTERM, up to `grace` seconds, then SIGKILL to its whole
    /// process group; the run directory is marked stopped and kept for `logs` until the slot's next
    /// instance is ready.
    ///
    /// The SIGTERM goes to the supervisor, which forwards it to the engine (so the engine gets it once,
    /// and shuts down gracefully), and, when the supervisor is gone, to the whole group. The supervisor
    /// stops what the engine leaves behind; whatever is left in the group after `grace` is SIGKILLed.
    public func stop(_ instance: ObservedReplica, grace: Double) throws {
        reapChildren()
        let run = RunDirectory(stateDirectory: stateDirectory, deployment: instance.deployment,
                               replica: instance.replica, instance: instance.instance)
        var r = try store.instance(instance.instance) ?? run.readIntent()
            ?? InstanceRecord(instance: instance.instance, projectID: projectID, deployment: instance.deployment,
                              replica: instance.replica, revision: instance.revision, state: .starting,
                              launch: instance.launch, port: instance.port, runDirectory: run.path,
                              createdAt: instance.startedAt)
        refreshProcesses(&r)
        if let group = ownedGroup(r) {
            terminate(group: group, supervisor: r.pgid, grace: grace)
        } else if let pid = r.pid, ProcessTable.isAlive(pid, startTime: r.pidStartTime) {
            terminate(pid: pid, grace: grace)
        }
        let dir = RunDirectory(path: r.runDirectory)
        dir.markStopped()
        try store.remove(instance: r.instance)
        lock.withLock { _ = logOffsets.removeValue(forKey: r.instance) }
        pruneRunDirectories(deployment: r.deployment, replica: r.replica)
    }

    /// The instance's process group when it is still ours: the supervisor or the engine is the process
    /// recorded (same start time), or a member of the group carries the instance's `DSDEPLOY_INSTANCE` mark.
    func ownedGroup(_ r: InstanceRecord) -> Int32? {
        guard let pgid = r.pgid else { return nil }
        if ProcessTable.isAlive(pgid, startTime: r.pgidStartTime) { return pgid }
        if let pid = r.pid, ProcessTable.isAlive(pid, startTime: r.pidStartTime),
           ProcessTable.stat(pid)?.pgrp == pgid { return pgid }
        let mark = "DSDEPLOY_INSTANCE=" + r.instance
        let members = ProcessTable.groupMembers(pgid)
        return members.contains { ProcessTable.environment(of: $0, contains: mark) } ? pgid : nil
    }

    /// SIGTERM (to the supervisor when it runs, else to the group), wait, SIGKILL the group, wait.
    func terminate(group: Int32, supervisor: Int32?, grace: Double) {
        let supervisorRuns = supervisor.map { $0 == group && ProcessTable.isAlive($0, startTime: nil) } ?? false
        if supervisorRuns { kill(group, SIGTERM) } else { kill(-group, SIGTERM) }
        if waitGroupEmpty(group, seconds: grace) { return }
        kill(-group, SIGKILL)
        _ = waitGroupEmpty(group, seconds: 5)
    }

    /// SIGTERM, wait, SIGKILL for a lone process.
    func terminate(pid: Int32, grace: Double) {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(max(grace, 0))
        while Date() < deadline {
            reapChildren()
            if !ProcessTable.isAlive(pid, startTime: nil) { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
    }

    /// Polls until no running process is left in the group; false after `seconds`.
    func waitGroupEmpty(_ group: Int32, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(max(seconds, 0))
        repeat {
            reapChildren()
            if ProcessTable.groupMembers(group).isEmpty { return true }
            usleep(10_000)
        } while Date() < deadline
        reapChildren()
        return ProcessTable.groupMembers(group).isEmpty
    }
}
