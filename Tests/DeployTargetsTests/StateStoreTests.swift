import DeployKit
@testable import DeployTargets
import Foundation
import Testing

@Suite struct StateStoreTests {
    func record(_ id: String, replica: Int = 0, state: InstanceRecord.State = .starting, project: String = "p",
                at time: Double = 100) throws -> InstanceRecord {
        var spec = try makeSpec(replica: replica, argv: ["/bin/sleep", "30"])
        spec.labels = ["team": "ml"]
        return InstanceRecord(instance: id, projectID: project, deployment: "web", replica: replica, revision: "rev1",
                              state: state, launch: spec, port: 18_000 + replica, runDirectory: "/tmp/run/\(id)",
                              createdAt: time, labels: spec.labels)
    }

    @Test func stateSurvivesReopen() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let store = try StateStore(directory: dir)
            try store.insert(try record("i1"))
            try store.insert(try record("i2", replica: 1, at: 101))
            try store.setProcess(instance: "i1", pid: 42, pidStartTime: 7, pgid: 41, pgidStartTime: 6, startedAt: 102)
            try store.markReady(instance: "i1", at: 103)
        }
        let store = try StateStore(directory: dir)
        let all = try store.instances(projectID: "p")
        #expect(all.map(\.instance) == ["i1", "i2"])
        let first = try #require(all.first)
        #expect(first.state == .ready)
        #expect(first.pid == 42 && first.pidStartTime == 7 && first.pgid == 41 && first.pgidStartTime == 6)
        #expect(first.startedAt == 102)
        #expect(first.launch.argv == ["/bin/sleep", "30"])
        #expect(first.labels == ["team": "ml"])
        let good = try #require(try store.lastGood(projectID: "p", deployment: "web"))
        #expect(good.revision == "rev1")
        #expect(good.recordedAt == 103)
        #expect(try store.lastGood(projectID: "other", deployment: "web") == nil)
    }

    @Test func labelsRemoveAndProjects() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        try store.insert(try record("a"))
        try store.insert(try record("b", project: "q"))
        try store.setLabels(instance: "a", labels: ["team": "infra"])
        #expect(try store.instance("a")?.labels == ["team": "infra"])
        #expect(try store.instance("a")?.launch.labels == ["team": "infra"])
        #expect(try store.instances(projectID: "q").map(\.instance) == ["b"])
        #expect(try store.instances().count == 2)
        try store.remove(instance: "a")
        #expect(try store.instance("a") == nil)
        #expect(throws: (any Error).self) { try store.markReady(instance: "a", at: 1) }
    }

    @Test func duplicateInsertFailsAndLeavesTheRow() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        try store.insert(try record("a"))
        #expect(throws: SQLiteError.self) { try store.insert(try record("a", replica: 3)) }
        #expect(try store.instance("a")?.replica == 0)
    }

    @Test func schemaIsVersionedAndWAL() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try StateStore(directory: dir)
        let db = try SQLiteDatabase(path: dir + "/state.db")
        #expect(try db.userVersion() == StateStore.schemaVersion)
        #expect(try db.query("PRAGMA journal_mode").first?["journal_mode"].text == "wal")
        try db.setUserVersion(99)
        #expect {
            _ = try StateStore(directory: dir)
        } throws: { error in
            "\(error)".contains("schema version 99")
        }
    }

    @Test func aTransactionThatThrowsLeavesNothing() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try SQLiteDatabase(path: dir + "/t.db")
        try db.execute("CREATE TABLE t (x INTEGER)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (?1)", [.integer(1)])
                throw Boom()
            }
        }
        #expect(try db.query("SELECT count(*) AS n FROM t").first?["n"].int64 == 0)
        try db.transaction { try db.run("INSERT INTO t VALUES (?1)", [.text("two")]) }
        #expect(try db.query("SELECT x FROM t").first?["x"] == .text("two"))
    }

    @Test func aWriterKilledMidTransactionLeavesACommittedState() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        try store.insert(try record("kept"))
        // A separate process opens a transaction on the same database, writes, and is SIGKILLed before
        // committing (it kills itself, so the kill lands mid-transaction for sure).
        let script = writeScript(dir, "writer.py", """
            import sqlite3, os, signal
            c = sqlite3.connect("\(dir)/state.db", isolation_level=None)
            c.execute("BEGIN IMMEDIATE")
            c.execute("DELETE FROM instances")
            os.kill(os.getpid(), signal.SIGKILL)
            """)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python3)
        p.arguments = [script]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        let reopened = try StateStore(directory: dir)
        #expect(try reopened.instances().map(\.instance) == ["kept"])
        try reopened.insert(try record("after"))
        #expect(try reopened.instances().count == 2)
    }
}
