import DeployCore
import DeployKit
@testable import DeployTargets
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a killed apply leaves behind, reused pids, state across target instances, run directories.
@Suite(.serialized) struct LocalTargetRecoveryTests {
    /// Does what `start` does up to the spawn, as an apply SIGKILLed right after it would leave things.
    func spawnLikeAKilledApply(_ target: LocalDriver, _ spec: LaunchSpec, instance: String,
                               recordInDatabase: Bool) throws -> RunDirectory {
        let run = RunDirectory(stateDirectory: target.stateDirectory, deployment: spec.deployment,
                               replica: spec.replica, instance: instance)
        let record = InstanceRecord(instance: instance, projectID: target.projectID, deployment: spec.deployment,
                                    replica: spec.replica, revision: spec.revision, state: .starting, launch: spec,
                                    port: spec.port, runDirectory: run.path, createdAt: Date().timeIntervalSince1970)
        try run.create()
        try run.writeIntent(record)
        if recordInDatabase { try target.store.insert(record) }
        let supervisor = try #require(target.supervisorPath)
        _ = try SupervisorSpawner.spawn(supervisor: supervisor, runDirectory: run.path, argv: spec.argv,
                                        environment: LaunchCommand.environment(for: spec, instance: instance,
                                                                               resolved: [:], parent: [:]))
        #expect(eventually { run.engine != nil })
        return run
    }

    @Test func observeFindsInstancesOfAKilledApply() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let inDB = try spawnLikeAKilledApply(target, try makeSpec(argv: ["/bin/sleep", "60"]), instance: "ikilled1",
                                             recordInDatabase: true)
        let notInDB = try spawnLikeAKilledApply(target, try makeSpec(replica: 1, argv: ["/bin/sleep", "60"]),
                                                instance: "ikilled2", recordInDatabase: false)
        // A later CLI process: a new target over the same state directory.
        let later = try makeTarget(dir)
        let seen = try later.observe()
        #expect(seen.map(\.instance).sorted() == ["ikilled1", "ikilled2"])
        #expect(seen.allSatisfy { $0.state == .starting })
        #expect(Set(seen.compactMap(\.pid)) == Set([inDB.engine?.pid, notInDB.engine?.pid].compactMap { $0 }))
        #expect(try later.store.instance("ikilled2")?.pgid == notInDB.supervisor?.pid)
        for o in seen { try later.stop(o, grace: .seconds(2)) }
        #expect(try later.observe().isEmpty)
        for run in [inDB, notInDB] { #expect(!ProcessTable.isAlive(run.engine?.pid ?? 0, startTime: nil)) }
    }

    @Test func aReusedPidIsNotTheInstance() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let stranger = Process()
        stranger.executableURL = URL(fileURLWithPath: "/bin/sleep")
        stranger.arguments = ["30"]
        try stranger.run()
        defer { kill(stranger.processIdentifier, SIGKILL); stranger.waitUntilExit() }
        let pid = stranger.processIdentifier
        let real = try #require(ProcessTable.startTime(pid))
        #expect(ProcessTable.isAlive(pid, startTime: real))
        #expect(!ProcessTable.isAlive(pid, startTime: real - 1))
        let spec = try makeSpec(argv: ["/bin/sleep", "30"])
        let run = RunDirectory(stateDirectory: dir, deployment: "web", replica: 0, instance: "iold")
        try run.create()
        // The recorded engine and supervisor died long ago; their pid now belongs to `stranger`.
        try target.store.insert(InstanceRecord(
            instance: "iold", projectID: "test", deployment: "web", replica: 0, revision: "rev1", state: .ready,
            launch: spec, port: 18_000, pid: pid, pidStartTime: real - 1, pgid: pid, pgidStartTime: real - 1,
            runDirectory: run.path, createdAt: 1, startedAt: 1))
        let seen = try #require(try target.observe().first)
        #expect(seen.state == .exited)
        #expect(seen.pid == nil)
        try target.stop(seen, grace: .seconds(1))
        #expect(ProcessTable.isAlive(pid, startTime: real))  // the stranger was left alone
        #expect(try target.observe().isEmpty)
    }

    @Test func stateAndProcessesSurviveANewTarget() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let port = freeTestPort()
        var spec = try fakeEngineSpec(dir, port: port)
        spec.labels = ["tier": "gold"]
        let inst = try target.start(spec, port: port, environment: [:])
        #expect(waitForProbe(target, inst) == .ready)
        try target.markReady(inst)
        let later = try makeTarget(dir)
        let seen = try #require(try later.observe().first)
        #expect(seen.instance == inst.instance && seen.state == .ready && seen.labels == ["tier": "gold"])
        try later.updateLabels(seen, labels: ["tier": "silver"])
        #expect(try target.observe().first?.labels == ["tier": "silver"])
        #expect(try later.observe().first?.launch.labels == ["tier": "silver"])
        let other = try makeTarget(dir, project: "someone-else")
        #expect(try other.observe().isEmpty)
    }

    @Test func runDirectoriesAreKeptUntilTheNextInstanceIsReady() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let first = try target.start(try makeSpec(argv: [python3, "-c", "print('first run')"]), port: 18_000,
                                     environment: [:])
        _ = waitForProbe(target, first)
        try target.stop(first, grace: .seconds(1))
        let firstDir = RunDirectory(stateDirectory: dir, deployment: "web", replica: 0, instance: first.instance)
        #expect(firstDir.isStopped)
        #expect(target.tail(deployment: "web", replica: 0, lines: 5).contains("first run"))
        let port = freeTestPort()
        let second = try target.start(try fakeEngineSpec(dir, port: port), port: port, environment: [:])
        #expect(FileManager.default.fileExists(atPath: firstDir.path))
        #expect(waitForProbe(target, second) == .ready)
        try target.markReady(second)
        #expect(!FileManager.default.fileExists(atPath: firstDir.path))
        #expect(target.logPath(deployment: "web", replica: 0)?.contains(second.instance) == true)
    }

    @Test func followStreamsAppendedLines() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let script = "import time\nfor i in range(6):\n    print('tick', i, flush=True)\n    time.sleep(0.1)\ntime.sleep(30)"
        _ = try target.start(try makeSpec(argv: [python3, "-c", script]), port: 18_000, environment: [:])
        let text = TextBox()
        let deadline = Date().addingTimeInterval(10)
        try target.logs(deployment: "web", replica: 0, tail: 1, follow: true) { chunk in
            text.append(chunk)
            return !text.value.contains("tick 5") && Date() < deadline
        }
        #expect(text.value.contains("tick 5"))
    }
}

/// Text collected from a `@Sendable` callback.
final class TextBox: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    var value: String { lock.withLock { text } }
    func append(_ s: String) { lock.withLock { text += s } }
}
