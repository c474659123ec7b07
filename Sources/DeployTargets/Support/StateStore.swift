import DeployKit
import Foundation

/// The local target's state: instances, each deployment's last good revision and its benchmark gate
/// runs, in SQLite (WAL).
///
/// Lives at `STATE_DIR/state.db`. Every write is one transaction, so the database stays consistent
/// when the process is SIGKILLed at any point. Secret values are never stored (launch specs carry none).
/// Thread-safe: calls are serialised on one connection.
public final class StateStore: @unchecked Sendable {
    /// The schema version this code writes (`PRAGMA user_version`).
    public static let schemaVersion = 2

    /// The state directory.
    public let directory: String
    /// Path of the database file.
    public var path: String { directory + "/state.db" }

    let db: SQLiteDatabase
    private let lock = NSLock()

    /// Opens (creating when missing) the state in `directory`, migrating the schema when needed.
    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        db = try SQLiteDatabase(path: directory + "/state.db")
        try migrate()
    }

    private func migrate() throws {
        try db.transaction {
            let version = try db.userVersion()
            if version > StateStore.schemaVersion {
                throw StateError("\(path) has schema version \(version); this dsdeploy understands up to "
                                 + "\(StateStore.schemaVersion): upgrade dsdeploy")
            }
            if version < 1 {
                try db.execute(StateSchema.version1)
                try db.setUserVersion(1)
            }
            if version < 2 {
                try db.execute(StateSchema.version2)
                try db.setUserVersion(2)
            }
        }
    }

    @discardableResult
    func locked<R>(_ body: () throws -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Records a new instance (the intent, before its process is spawned).
    public func insert(_ r: InstanceRecord) throws {
        try locked {
            try db.transaction { try db.run(StateSchema.insert, try StateSchema.values(r)) }
        }
    }

    /// Replaces every column of an existing instance.
    public func update(_ r: InstanceRecord) throws {
        try locked {
            try db.transaction {
                try db.run("DELETE FROM instances WHERE instance = ?1", [.text(r.instance)])
                try db.run(StateSchema.insert, try StateSchema.values(r))
            }
        }
    }

    /// Records the processes of a spawned instance.
    public func setProcess(instance: String, pid: Int32?, pidStartTime: Int64?, pgid: Int32?,
                           pgidStartTime: Int64?, startedAt: Double) throws {
        try locked {
            try db.transaction {
                try db.run("""
                    UPDATE instances SET pid = ?2, pid_start_time = ?3, pgid = ?4, pgid_start_time = ?5,
                    started_at = ?6 WHERE instance = ?1
                    """, [.text(instance), pid.map { .integer(Int64($0)) } ?? .null,
                          pidStartTime.map { .integer($0) } ?? .null, pgid.map { .integer(Int64($0)) } ?? .null,
                          pgidStartTime.map { .integer($0) } ?? .null, .real(startedAt)])
            }
        }
    }

    /// Records new labels (also in the stored launch spec).
    public func setLabels(instance: String, labels: [String: String]) throws {
        try locked {
            try db.transaction {
                guard var r = try fetch(instance) else { return }
                r.labels = labels
                r.launch.labels = labels
                try db.run("DELETE FROM instances WHERE instance = ?1", [.text(instance)])
                try db.run(StateSchema.insert, try StateSchema.values(r))
            }
        }
    }

    /// Marks an instance ready and records its revision as the deployment's last good one, atomically.
    public func markReady(instance: String, at time: Double) throws {
        try locked {
            try db.transaction {
                guard let r = try fetch(instance) else {
                    throw StateError("instance \(instance) is not in the state")
                }
                try db.run("UPDATE instances SET state = 'ready' WHERE instance = ?1", [.text(instance)])
                try db.run("""
                    INSERT OR REPLACE INTO last_good (project_id, deployment, revision, launch_json, recorded_at)
                    VALUES (?1, ?2, ?3, ?4, ?5)
                    """, [.text(r.projectID), .text(r.deployment), .text(r.revision),
                          .text(try StateSchema.json(r.launch)), .real(time)])
            }
        }
    }

    /// Forgets an instance.
    public func remove(instance: String) throws {
        try locked {
            try db.transaction { try db.run("DELETE FROM instances WHERE instance = ?1", [.text(instance)]) }
        }
    }

    /// One instance by id.
    public func instance(_ id: String) throws -> InstanceRecord? {
        try locked { try fetch(id) }
    }

    private func fetch(_ id: String) throws -> InstanceRecord? {
        try db.query("SELECT * FROM instances WHERE instance = ?1", [.text(id)]).first.map(StateSchema.record)
    }

    /// Every instance (of one project when `projectID` is given), oldest first.
    public func instances(projectID: String? = nil) throws -> [InstanceRecord] {
        try locked {
            let rows = try projectID.map {
                try db.query("SELECT * FROM instances WHERE project_id = ?1 ORDER BY created_at, instance", [.text($0)])
            } ?? db.query("SELECT * FROM instances ORDER BY created_at, instance")
            return try rows.map(StateSchema.record)
        }
    }

    /// The deployment's last good revision, if any.
    public func lastGood(projectID: String, deployment: String) throws -> LastGoodRevision? {
        try locked {
            guard let row = try db.query("SELECT * FROM last_good WHERE project_id = ?1 AND deployment = ?2",
                                         [.text(projectID), .text(deployment)]).first else { return nil }
            return LastGoodRevision(deployment: deployment, revision: row["revision"].text ?? "",
                                    launch: try StateSchema.decode(LaunchSpec.self, row["launch_json"].text),
                                    recordedAt: row["recorded_at"].double ?? 0)
        }
    }
}

/// A state problem (unreadable row, newer schema).
public struct StateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
