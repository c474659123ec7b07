import DeployKit
@testable import DeployTargets
import Foundation
import Testing

/// Gate runs kept with the revision, and what "previous" reads.
@Suite struct GateRunStoreTests {
    func row(_ run: String, revision: String, scenario: String = "s", key: String = "k", replica: Int = 0,
             passed: Bool = true, runPassed: Bool = true, throughput: Double = 100, at time: Double) -> GateRunRecord {
        GateRunRecord(runID: run, deployment: "web", revision: revision, scenario: scenario, workloadKey: key,
                      replica: replica, passed: passed, runPassed: runPassed,
                      metricsJSON: "{\"output_throughput\":\(throughput)}", verdictsJSON: "[]", error: nil,
                      recordedAt: time)
    }

    @Test func previousIsTheLastPassingRunOfAnotherRevision() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try StateStore(directory: dir)
        #expect(try store.previousGateResult(projectID: "p", deployment: "web", scenario: "s", workloadKey: "k",
                                             excludingRevision: "r1").isEmpty)
        try store.recordGateRun([row("a", revision: "r1", throughput: 100, at: 1),
                                 row("a", revision: "r1", replica: 1, throughput: 110, at: 1)], projectID: "p")
        try store.recordGateRun([row("b", revision: "r2", passed: false, runPassed: false, throughput: 50, at: 2)],
                                projectID: "p")
        // A run where this scenario passed but another failed does not count either.
        try store.recordGateRun([row("c", revision: "r3", runPassed: false, throughput: 60, at: 3),
                                 row("c", revision: "r3", scenario: "other", passed: false, runPassed: false, at: 3)],
                                projectID: "p")
        try store.recordGateRun([row("d", revision: "r4", key: "changed", throughput: 70, at: 4)], projectID: "p")
        try store.recordGateRun([row("e", revision: "r1", throughput: 999, at: 5)], projectID: "other-project")

        let prev = try store.previousGateResult(projectID: "p", deployment: "web", scenario: "s", workloadKey: "k",
                                                excludingRevision: "r5")
        #expect(prev.map(\.runID) == ["a", "a"] && prev.map(\.replica) == [0, 1])
        #expect(prev.first?.metricsJSON == "{\"output_throughput\":100.0}" || prev.first?.metricsJSON == "{\"output_throughput\":100}")
        // Gating r1 again compares with an older revision, never with itself.
        #expect(try store.previousGateResult(projectID: "p", deployment: "web", scenario: "s", workloadKey: "k",
                                             excludingRevision: "r1").isEmpty)
        // A redefined workload has no previous.
        #expect(try store.previousGateResult(projectID: "p", deployment: "web", scenario: "s", workloadKey: "changed",
                                             excludingRevision: "r5").map(\.runID) == ["d"])
        #expect(try store.wasGated(projectID: "p", deployment: "web", revision: "r2"), "a failed run counts as gated")
        #expect(try !store.wasGated(projectID: "p", deployment: "web", revision: "r5"))
        #expect(try !store.wasGated(projectID: "other-project", deployment: "web", revision: "r2"))
        let all = try store.gateRuns(projectID: "p", deployment: "web")
        #expect(all.map(\.runID) == ["a", "a", "b", "c", "c", "d"])
        #expect(all[2].passed == false && all[2].runPassed == false)
    }

    @Test func version1StateIsMigrated() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let db = try SQLiteDatabase(path: dir + "/state.db")
            try db.execute(StateSchema.version1)
            try db.setUserVersion(1)
        }
        let store = try StateStore(directory: dir)
        try store.recordGateRun([row("a", revision: "r1", at: 1)], projectID: "p")
        #expect(try store.gateRuns(projectID: "p").count == 1)
        let db = try SQLiteDatabase(path: dir + "/state.db")
        #expect(try db.userVersion() == 2)
    }
}
