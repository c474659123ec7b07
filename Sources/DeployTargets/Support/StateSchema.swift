import DeployKit
import Foundation

/// SQL and row mapping of the state database (schema versions 1 and 2).
enum StateSchema {
    /// Tables of schema version 1.
    static let version1 = """
        CREATE TABLE IF NOT EXISTS instances (
            instance TEXT PRIMARY KEY NOT NULL,
            project_id TEXT NOT NULL,
            deployment TEXT NOT NULL,
            replica INTEGER NOT NULL,
            revision TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('starting', 'ready')),
            launch_json TEXT NOT NULL,
            port INTEGER NOT NULL,
            pid INTEGER,
            pid_start_time INTEGER,
            pgid INTEGER,
            pgid_start_time INTEGER,
            run_dir TEXT NOT NULL,
            created_at REAL NOT NULL,
            started_at REAL,
            labels_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX IF NOT EXISTS instances_slot ON instances (project_id, deployment, replica);
        CREATE TABLE IF NOT EXISTS last_good (
            project_id TEXT NOT NULL,
            deployment TEXT NOT NULL,
            revision TEXT NOT NULL,
            launch_json TEXT NOT NULL,
            recorded_at REAL NOT NULL,
            PRIMARY KEY (project_id, deployment)
        );
        """

    /// Schema version 2: benchmark gate runs (`apply --gate`), one row per scenario × replica.
    static let version2 = """
        CREATE TABLE IF NOT EXISTS gate_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            project_id TEXT NOT NULL,
            deployment TEXT NOT NULL,
            revision TEXT NOT NULL,
            scenario TEXT NOT NULL,
            workload_key TEXT NOT NULL,
            replica INTEGER NOT NULL,
            passed INTEGER NOT NULL,
            run_passed INTEGER NOT NULL,
            metrics_json TEXT NOT NULL,
            verdicts_json TEXT NOT NULL,
            error TEXT,
            recorded_at REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS gate_runs_lookup ON gate_runs (project_id, deployment, scenario, recorded_at);
        """

    /// Inserts every column of an instance.
    static let insert = """
        INSERT INTO instances (instance, project_id, deployment, replica, revision, state, launch_json, port,
            pid, pid_start_time, pgid, pgid_start_time, run_dir, created_at, started_at, labels_json)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
        """

    /// The values for `insert`, in order.
    static func values(_ r: InstanceRecord) throws -> [SQLiteValue] {
        [.text(r.instance), .text(r.projectID), .text(r.deployment), .integer(Int64(r.replica)), .text(r.revision),
         .text(r.state.rawValue), .text(try json(r.launch)), .integer(Int64(r.port)),
         r.pid.map { .integer(Int64($0)) } ?? .null, r.pidStartTime.map { .integer($0) } ?? .null,
         r.pgid.map { .integer(Int64($0)) } ?? .null, r.pgidStartTime.map { .integer($0) } ?? .null,
         .text(r.runDirectory), .real(r.createdAt), r.startedAt.map { .real($0) } ?? .null,
         .text(try json(r.labels))]
    }

    /// A record from a row of `instances`.
    static func record(_ row: SQLiteRow) throws -> InstanceRecord {
        guard let instance = row["instance"].text, let deployment = row["deployment"].text,
              let stateText = row["state"].text, let state = InstanceRecord.State(rawValue: stateText) else {
            throw StateError("unreadable instance row in the state database")
        }
        return InstanceRecord(
            instance: instance, projectID: row["project_id"].text ?? "", deployment: deployment,
            replica: Int(row["replica"].int64 ?? 0), revision: row["revision"].text ?? "", state: state,
            launch: try decode(LaunchSpec.self, row["launch_json"].text), port: Int(row["port"].int64 ?? 0),
            pid: row["pid"].int64.flatMap { Int32(exactly: $0) }, pidStartTime: row["pid_start_time"].int64,
            pgid: row["pgid"].int64.flatMap { Int32(exactly: $0) }, pgidStartTime: row["pgid_start_time"].int64,
            runDirectory: row["run_dir"].text ?? "", createdAt: row["created_at"].double ?? 0,
            startedAt: row["started_at"].double,
            labels: (try? decode([String: String].self, row["labels_json"].text)) ?? [:])
    }

    /// Compact JSON with sorted keys.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes JSON text from a column.
    static func decode<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T {
        guard let text else { throw StateError("missing JSON column in the state database") }
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StateError("unreadable JSON in the state database: \(error)")
        }
    }
}
