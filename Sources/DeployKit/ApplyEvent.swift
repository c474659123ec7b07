/// What apply is doing, for the terminal view and the JSON view alike.
public enum ApplyEvent: Sendable, Hashable {
    /// An instance was started.
    case started(id: String, instance: String, port: Int, revision: String)
    /// Still waiting for an instance (emitted on every poll).
    case waiting(id: String, elapsed: Double, lastLine: String?)
    /// An instance is ready and verified.
    case ready(id: String, elapsed: Double)
    /// An instance failed to become ready or verified.
    case failed(id: String, reason: String, lastLog: [String])
    /// An instance was stopped.
    case stopped(id: String, instance: String)
    /// A deployment's labels were updated.
    case updated(id: String)
    /// A deployment is being returned to its last good revision.
    case reverting(deployment: String, reason: String)
    /// A deployment was returned to its last good revision.
    case reverted(deployment: String)
}

/// The outcome of an apply: always returned, even when partial.
public struct ApplyReport: Sendable, Codable, Hashable {
    /// The outcome per replica slot.
    public struct Outcome: Sendable, Codable, Hashable {
        /// `deployment/replica`.
        public var id: String
        /// The planned action.
        public var action: String
        /// done, failed, reverted, skipped.
        public var result: String
        /// Details for people.
        public var message: String
        /// Revision running afterwards (nil when none).
        public var revision: String?
    }

    /// Per slot, in plan order.
    public var outcomes: [Outcome]
    /// Deployments whose rollout failed (and were reverted where possible).
    public var failedDeployments: [String]
    /// Wall time of the apply in seconds.
    public var seconds: Double

    /// True when every change was applied.
    public var succeeded: Bool { failedDeployments.isEmpty }
}
