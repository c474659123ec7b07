public import DeployKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension LocalDriver {
    /// Stops an instance and forgets it: SIGTERM, up to `grace`, then SIGKILL to its whole
    /// process group; the run directory is marked stopped and kept for `logs` until the slot's next
    /// instance is ready.
    ///
    /// The SIGTERM goes to the supervisor, which forwards it to the engine (so the engine gets it once,
    /// and shuts down gracefully), and, when the supervisor is gone, to the whole group. The supervisor
    /// stops what the engine leaves behind; whatever is left in the group after `grace` is SIGKILLed.
    public func stop(_ instance: ObservedReplica, grace: Duration) throws {
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
    func terminate(group: Int32, supervisor: Int32?, grace: Duration) {
        let supervisorRuns = supervisor.map { $0 == group && ProcessTable.isAlive($0, startTime: nil) } ?? false
        if supervisorRuns { kill(group, SIGTERM) } else { kill(-group, SIGTERM) }
        if waitGroupEmpty(group, within: grace) { return }
        kill(-group, SIGKILL)
        _ = waitGroupEmpty(group, within: .seconds(5))
    }

    /// SIGTERM, wait, SIGKILL for a lone process.
    func terminate(pid: Int32, grace: Duration) {
        kill(pid, SIGTERM)
        let deadline = clock.now() + grace
        while clock.now() < deadline {
            reapChildren()
            if !ProcessTable.isAlive(pid, startTime: nil) { return }
            clock.sleep(for: .milliseconds(20))
        }
        kill(pid, SIGKILL)
    }

    /// Polls (on the injected clock) until no running process is left in the group; false after `within`.
    func waitGroupEmpty(_ group: Int32, within: Duration) -> Bool {
        let deadline = clock.now() + within
        repeat {
            reapChildren()
            if ProcessTable.groupMembers(group).isEmpty { return true }
            clock.sleep(for: .milliseconds(10))
        } while clock.now() < deadline
        reapChildren()
        return ProcessTable.groupMembers(group).isEmpty
    }
}
