import DeployKit
import Foundation

/// The files of one instance's run directory `STATE_DIR/run/<deployment>/<replica>-<instance>`.
///
/// `instance.json` (the intent, written before spawning), `supervisor.pid` and `engine.pid`
/// (`PID STARTTIME`), `engine.log`, `exit` (`exit N TIME` / `signal N TIME`) and `stopped`
/// (written when the target stopped the instance on purpose).
public struct RunDirectory: Sendable, Hashable {
    /// A pid file's content.
    public struct PidFile: Sendable, Hashable {
        /// The process id.
        public var pid: Int32
        /// Its start time from /proc (0 when unknown).
        public var startTime: Int64
    }

    /// The directory.
    public var path: String

    /// Wraps a directory path.
    public init(path: String) { self.path = path }

    /// The run directory of an instance under a state directory.
    public init(stateDirectory: String, deployment: String, replica: Int, instance: String) {
        path = stateDirectory + "/run/" + RunDirectory.safeName(deployment) + "/\(replica)-"
            + RunDirectory.safeName(instance)
    }

    /// The engine's stdout+stderr.
    public var logPath: String { path + "/engine.log" }
    var intentPath: String { path + "/instance.json" }
    var stoppedPath: String { path + "/stopped" }

    /// Creates the directory.
    func create() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The supervisor's pid file, when written.
    public var supervisor: PidFile? { pidFile("supervisor.pid") }
    /// The engine's pid file, when written.
    public var engine: PidFile? { pidFile("engine.pid") }

    private func pidFile(_ name: String) -> PidFile? {
        guard let text = try? String(contentsOfFile: path + "/" + name, encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard let first = parts.first, let pid = Int32(first), pid > 0 else { return nil }
        return PidFile(pid: pid, startTime: parts.count > 1 ? Int64(parts[1]) ?? 0 : 0)
    }

    /// The exit status the supervisor recorded (`exit 1`, `signal 9`), nil while running.
    public var exitStatus: String? {
        guard let text = try? String(contentsOfFile: path + "/exit", encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count >= 2 else { return nil }
        return "\(parts[0]) \(parts[1])"
    }

    /// True when the target stopped this instance on purpose.
    public var isStopped: Bool { FileManager.default.fileExists(atPath: stoppedPath) }

    /// Marks the instance stopped on purpose.
    func markStopped() {
        _ = FileManager.default.createFile(atPath: stoppedPath, contents: Data())
    }

    /// Writes the intent record (atomically).
    func writeIntent(_ record: InstanceRecord) throws {
        let data = Data(try StateSchema.json(IntentFile(record)).utf8)
        try data.write(to: URL(fileURLWithPath: intentPath), options: .atomic)
    }

    /// The intent record, nil when missing or unreadable.
    func readIntent() -> InstanceRecord? {
        guard let data = FileManager.default.contents(atPath: intentPath),
              let f = try? JSONDecoder().decode(IntentFile.self, from: data) else { return nil }
        return f.record(runDirectory: path)
    }

    /// Deletes the directory.
    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// A name safe as one path component (`/`, NUL and leading dots replaced).
    static func safeName(_ s: String) -> String {
        var out = String(s.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
        while out.hasPrefix(".") { out = "_" + out.dropFirst() }
        return out.isEmpty ? "_" : out
    }
}

/// What `instance.json` holds: enough to adopt an instance the database does not know.
struct IntentFile: Codable {
    var instance: String
    var projectID: String
    var deployment: String
    var replica: Int
    var revision: String
    var launch: LaunchSpec
    var port: Int
    var createdAt: Double
    var labels: [String: String]

    init(_ r: InstanceRecord) {
        instance = r.instance
        projectID = r.projectID
        deployment = r.deployment
        replica = r.replica
        revision = r.revision
        launch = r.launch
        port = r.port
        createdAt = r.createdAt
        labels = r.labels
    }

    func record(runDirectory: String) -> InstanceRecord {
        InstanceRecord(instance: instance, projectID: projectID, deployment: deployment, replica: replica,
                       revision: revision, state: .starting, launch: launch, port: port,
                       runDirectory: runDirectory, createdAt: createdAt, labels: labels)
    }
}
