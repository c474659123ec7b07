/// What a target reports about one running (or dead) replica instance.
public struct ObservedReplica: Sendable, Codable, Hashable {
    /// Lifecycle state as observed.
    public enum State: String, Sendable, Codable, Hashable {
        /// Process alive, not yet verified ready.
        case starting
        /// Alive and verified ready with the intended args.
        case ready
        /// Process exited or was killed.
        case exited
        /// Alive but its readiness or verification failed.
        case failed
    }

    /// Deployment name.
    public var deployment: String
    /// Replica slot index.
    public var replica: Int
    /// Unique id of this instance (a replacement gets a new one).
    public var instance: String
    /// Revision the instance was started with.
    public var revision: String
    /// Observed state.
    public var state: State
    /// What it was started with.
    public var launch: LaunchSpec
    /// Engine process id (nil when unknown or dead).
    public var pid: Int32?
    /// Port it actually listens on.
    public var port: Int
    /// Seconds since the epoch when it was started.
    public var startedAt: Double
    /// Exit status when it has exited ("exit 1", "signal 9").
    public var exitStatus: String?
    /// Last lines of its log, for errors and `status`.
    public var lastLog: [String]
    /// Flags the engine reports differently from what it was asked to run (drift), empty when none or unknown.
    public var drift: [FlagDiffEntry]
    /// Labels of the deployment when it was applied.
    public var labels: [String: String]
    /// Why a verified, running instance is not in service as intended (a router whose worker list
    /// differs from the workers that run); nil when it is, or when nothing checks. Set by `plan`.
    public var outOfService: String? = nil

    /// Creates an observation.
    public init(deployment: String, replica: Int, instance: String, revision: String, state: State,
                launch: LaunchSpec, pid: Int32?, port: Int, startedAt: Double, exitStatus: String? = nil,
                lastLog: [String] = [], drift: [FlagDiffEntry] = [], labels: [String: String] = [:]) {
        self.deployment = deployment
        self.replica = replica
        self.instance = instance
        self.revision = revision
        self.state = state
        self.launch = launch
        self.pid = pid
        self.port = port
        self.startedAt = startedAt
        self.exitStatus = exitStatus
        self.lastLog = lastLog
        self.drift = drift
        self.labels = labels
    }

    /// `deployment/replica`.
    public var id: String { "\(deployment)/\(replica)" }
    /// True while the process runs.
    public var isAlive: Bool { state == .starting || state == .ready }
}
