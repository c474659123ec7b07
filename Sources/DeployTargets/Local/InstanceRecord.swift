public import DeployKit

/// One engine instance as the state database records it (no secret values: the launch spec has none).
public struct InstanceRecord: Sendable, Hashable {
    /// Recorded lifecycle state.
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// Intent recorded or process started, not yet verified ready.
        case starting
        /// Verified ready: the slot's current instance.
        case ready
    }

    /// Unique instance id.
    public var instance: String
    /// Project the instance belongs to (several projects may share one state directory).
    public var projectID: String
    /// Deployment name.
    public var deployment: String
    /// Replica slot.
    public var replica: Int
    /// Revision it was started with.
    public var revision: String
    /// Recorded state.
    public var state: State
    /// The launch spec it was started with (port set to the chosen one).
    public var launch: LaunchSpec
    /// The port it listens on.
    public var port: Int
    /// Engine process id, once known.
    public var pid: Int32?
    /// The engine's start time from `/proc/PID/stat` (clock ticks since boot), to detect pid reuse.
    public var pidStartTime: Int64?
    /// Process group (the supervisor's pid), once spawned.
    public var pgid: Int32?
    /// The supervisor's start time from `/proc`, to detect pid reuse.
    public var pgidStartTime: Int64?
    /// The instance's run directory (logs, pid files, exit status).
    public var runDirectory: String
    /// Seconds since the epoch when the intent was recorded.
    public var createdAt: Double
    /// Seconds since the epoch when the process was spawned.
    public var startedAt: Double?
    /// Labels of the deployment.
    public var labels: [String: String]

    /// Creates a record.
    public init(instance: String, projectID: String, deployment: String, replica: Int, revision: String,
                state: State, launch: LaunchSpec, port: Int, pid: Int32? = nil, pidStartTime: Int64? = nil,
                pgid: Int32? = nil, pgidStartTime: Int64? = nil, runDirectory: String, createdAt: Double,
                startedAt: Double? = nil, labels: [String: String] = [:]) {
        self.instance = instance
        self.projectID = projectID
        self.deployment = deployment
        self.replica = replica
        self.revision = revision
        self.state = state
        self.launch = launch
        self.port = port
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.pgid = pgid
        self.pgidStartTime = pgidStartTime
        self.runDirectory = runDirectory
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.labels = labels
    }

    /// `deployment/replica`.
    public var slot: String { "\(deployment)/\(replica)" }
}

/// The revision a deployment last ran successfully, with the launch spec of one of its replicas.
public struct LastGoodRevision: Sendable, Hashable {
    /// Deployment name.
    public var deployment: String
    /// The revision.
    public var revision: String
    /// A launch spec of that revision.
    public var launch: LaunchSpec
    /// Seconds since the epoch when it was recorded.
    public var recordedAt: Double

    /// Creates a record.
    public init(deployment: String, revision: String, launch: LaunchSpec, recordedAt: Double) {
        self.deployment = deployment
        self.revision = revision
        self.launch = launch
        self.recordedAt = recordedAt
    }
}
