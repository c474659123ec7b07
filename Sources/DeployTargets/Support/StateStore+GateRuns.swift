import Foundation

/// One scenario measured on one replica during a gate run of `apply --gate`.
public struct GateRunRecord: Sendable, Hashable, Codable {
    /// Groups the rows of one gate run of one deployment.
    public var runID: String
    /// Deployment name.
    public var deployment: String
    /// The revision that was gated.
    public var revision: String
    /// Scenario name.
    public var scenario: String
    /// Fingerprint of the scenario's workload; "previous" only compares equal ones.
    public var workloadKey: String
    /// Replica index measured.
    public var replica: Int
    /// Whether every gate of this scenario held on this replica.
    public var passed: Bool
    /// Whether the whole gate run (every scenario on every replica) passed.
    public var runPassed: Bool
    /// The bench result object (`dsdeploy bench --output json` fields), as JSON text.
    public var metricsJSON: String
    /// The gate verdicts, as JSON text.
    public var verdictsJSON: String
    /// Why the benchmark could not run, if it could not.
    public var error: String?
    /// Seconds since the epoch.
    public var recordedAt: Double

    /// Creates a record.
    public init(runID: String, deployment: String, revision: String, scenario: String, workloadKey: String,
                replica: Int, passed: Bool, runPassed: Bool, metricsJSON: String, verdictsJSON: String,
                error: String?, recordedAt: Double) {
        self.runID = runID
        self.deployment = deployment
        self.revision = revision
        self.scenario = scenario
        self.workloadKey = workloadKey
        self.replica = replica
        self.passed = passed
        self.runPassed = runPassed
        self.metricsJSON = metricsJSON
        self.verdictsJSON = verdictsJSON
        self.error = error
        self.recordedAt = recordedAt
    }
}

extension StateStore {
    /// Records every row of one gate run in one transaction.
    public func recordGateRun(_ rows: [GateRunRecord], projectID: String) throws {
        try locked {
            try db.transaction {
                for r in rows {
                    try db.run("""
                        INSERT INTO gate_runs (run_id, project_id, deployment, revision, scenario, workload_key, replica,
                            passed, run_passed, metrics_json, verdicts_json, error, recorded_at)
                        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                        """, [.text(r.runID), .text(projectID), .text(r.deployment), .text(r.revision), .text(r.scenario),
                              .text(r.workloadKey), .integer(Int64(r.replica)), .integer(r.passed ? 1 : 0),
                              .integer(r.runPassed ? 1 : 0), .text(r.metricsJSON), .text(r.verdictsJSON),
                              r.error.map { .text($0) } ?? .null, .real(r.recordedAt)])
                }
            }
        }
    }

    /// The rows (one per replica) of the most recent *passing* gate run of `deployment` that measured
    /// `scenario` with the same workload on a revision other than `excludingRevision`; empty when none.
    public func previousGateResult(projectID: String, deployment: String, scenario: String, workloadKey: String,
                                   excludingRevision: String) throws -> [GateRunRecord] {
        try locked {
            let latest = try db.query("""
                SELECT run_id FROM gate_runs
                WHERE project_id = ?1 AND deployment = ?2 AND scenario = ?3 AND workload_key = ?4
                  AND run_passed = 1 AND revision != ?5
                ORDER BY recorded_at DESC, id DESC LIMIT 1
                """, [.text(projectID), .text(deployment), .text(scenario), .text(workloadKey), .text(excludingRevision)])
            guard let runID = latest.first?["run_id"].text else { return [] }
            return try db.query("""
                SELECT * FROM gate_runs WHERE run_id = ?1 AND scenario = ?2 AND project_id = ?3 ORDER BY replica
                """, [.text(runID), .text(scenario), .text(projectID)]).map(StateStore.gateRecord)
        }
    }

    /// Whether `revision` of `deployment` was ever gated (passed or not).
    public func wasGated(projectID: String, deployment: String, revision: String) throws -> Bool {
        try locked {
            !(try db.query(
                "SELECT 1 FROM gate_runs WHERE project_id = ?1 AND deployment = ?2 AND revision = ?3 LIMIT 1",
                [.text(projectID), .text(deployment), .text(revision)])).isEmpty
        }
    }

    /// Every gate run row of `deployment` (of all deployments when nil), oldest first.
    public func gateRuns(projectID: String, deployment: String? = nil) throws -> [GateRunRecord] {
        try locked {
            let rows = try deployment.map {
                try db.query("SELECT * FROM gate_runs WHERE project_id = ?1 AND deployment = ?2 ORDER BY recorded_at, id",
                             [.text(projectID), .text($0)])
            } ?? db.query("SELECT * FROM gate_runs WHERE project_id = ?1 ORDER BY recorded_at, id", [.text(projectID)])
            return rows.map(StateStore.gateRecord)
        }
    }

    static func gateRecord(_ row: SQLiteRow) -> GateRunRecord {
        GateRunRecord(runID: row["run_id"].text ?? "", deployment: row["deployment"].text ?? "",
                      revision: row["revision"].text ?? "", scenario: row["scenario"].text ?? "",
                      workloadKey: row["workload_key"].text ?? "", replica: Int(row["replica"].int64 ?? 0),
                      passed: row["passed"].int64 == 1, runPassed: row["run_passed"].int64 == 1,
                      metricsJSON: row["metrics_json"].text ?? "{}", verdictsJSON: row["verdicts_json"].text ?? "[]",
                      error: row["error"].text, recordedAt: row["recorded_at"].double ?? 0)
    }
}
