/// What apply is doing, for the terminal view and the JSON view alike. Every target reports through
/// these events only; how they look is the executable's business. `id` is a `ChangeUnit.id`.
public enum ApplyEvent: Sendable, Hashable {
    /// An instance was started (slot targets).
    case started(id: String, instance: String, port: Int, revision: String)
    /// Still waiting for a unit (emitted on every poll).
    case waiting(id: String, elapsed: Duration, lastLine: String?)
    /// A unit is ready and verified.
    case ready(id: String, elapsed: Duration)
    /// A step of a unit's change happened (a server object written, an instance restarted).
    case progress(id: String, message: String)
    /// A unit's change is done (server-scheduled targets: written and, where it runs instances, running).
    case done(id: String, message: String)
    /// A unit failed to become ready or verified, or its change was refused.
    case failed(id: String, reason: String, lastLog: [String])
    /// An instance was stopped.
    case stopped(id: String, instance: String)
    /// A unit's labels (or other no-restart fields) were updated.
    case updated(id: String)
    /// A deployment is being returned to its last good revision.
    case reverting(deployment: String, reason: String)
    /// A deployment was returned to its last good revision.
    case reverted(deployment: String)
    /// A host could not be reached: nothing more is done there in this apply.
    case hostUnreachable(host: String, reason: String)
}

/// The outcome of an apply: always returned, even when partial.
public struct ApplyReport: Sendable, Codable, Hashable {
    /// The outcome of one planned change.
    public struct Outcome: Sendable, Codable, Hashable {
        /// What happened.
        public enum Result: String, Sendable, Codable, Hashable {
            /// Applied (or nothing to do).
            case done
            /// Not applied: the unit failed and was not returned to a previous revision.
            case failed
            /// Failed, then returned to its previous revision.
            case reverted
            /// Not attempted, because its deployment failed first.
            case skipped

            /// `✔`, `✘`, `↺` or `-`.
            public var symbol: String {
                switch self {
                case .done: return "✔"
                case .failed: return "✘"
                case .reverted: return "↺"
                case .skipped: return "-"
                }
            }
        }

        /// The unit's id (`deployment/replica`, `deployment`, `backend version B V`).
        public var id: String
        /// The planned action.
        public var action: PlannedChange.Action
        /// What happened.
        public var result: Result
        /// Details for people.
        public var message: String
        /// Revision running afterwards (nil when none or unknown).
        public var revision: String?

        /// Creates an outcome.
        public init(id: String, action: PlannedChange.Action, result: Result, message: String, revision: String? = nil) {
            self.id = id
            self.action = action
            self.result = result
            self.message = message
            self.revision = revision
        }
    }

    /// Per unit, in plan order.
    public var outcomes: [Outcome]
    /// Deployments whose rollout failed (and were reverted where possible).
    public var failedDeployments: [String]
    /// Wall time of the apply in seconds.
    public var seconds: Double
    /// Requests a server-scheduled target made, nil for slot targets.
    public var apiCalls: APICalls?
    /// Hosts that could not be reached during the apply, with why: their changes stopped there
    /// (the next apply converges), the other hosts' went on.
    public var unreachableHosts: [String: String]

    /// Creates a report.
    public init(outcomes: [Outcome], failedDeployments: [String], seconds: Double, apiCalls: APICalls? = nil,
                unreachableHosts: [String: String] = [:]) {
        self.outcomes = outcomes
        self.failedDeployments = failedDeployments
        self.seconds = seconds
        self.apiCalls = apiCalls
        self.unreachableHosts = unreachableHosts
    }

    /// True when every change was applied.
    public var succeeded: Bool { failedDeployments.isEmpty && unreachableHosts.isEmpty }
}
