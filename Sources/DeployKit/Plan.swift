/// One change to one replica slot. Apply decides on `action` alone; `reason` is for people.
public struct PlannedChange: Sendable, Codable, Hashable {
    /// What to do.
    public enum Action: String, Sendable, Codable, Hashable {
        /// Start a replica that does not exist.
        case create
        /// Change only recorded metadata (labels); nothing restarts.
        case update
        /// Start the new revision, verify it, then stop the old instance.
        case replace
        /// Stop and forget the replica.
        case delete
        /// Nothing to do.
        case noop
    }

    /// Deployment name.
    public var deployment: String
    /// Replica slot.
    public var replica: Int
    /// The action.
    public var action: Action
    /// Why, in words.
    public var reason: String
    /// The desired launch (nil for delete).
    public var desired: LaunchSpec?
    /// The instance currently there (nil for create).
    public var current: ObservedReplica?
    /// Flag-level differences between current and desired.
    public var flags: [FlagDiffEntry]
    /// Field differences (image, env, model ...).
    public var fields: [FieldChange]

    /// `deployment/replica`.
    public var id: String { "\(deployment)/\(replica)" }
}

/// A plan: pure data, computed from (desired, observed), rendered and applied separately.
public struct Plan: Sendable, Codable, Hashable {
    /// Schema version of the JSON form.
    public var formatVersion = 1
    /// Fingerprint of the desired state the plan was made for.
    public var desiredDigest: String
    /// Fingerprint of the observed state the plan was made against (a plan file is stale when it changed).
    public var observedDigest: String
    /// Manifest files the plan was made from.
    public var files: [String]
    /// Every replica slot, sorted by deployment and replica.
    public var changes: [PlannedChange]
    /// Deployments in the state that are not in the manifest and were not pruned.
    public var orphans: [String]

    /// True when something would change.
    public var hasChanges: Bool { changes.contains { $0.action != .noop } }

    /// Count of changes with this action.
    public func count(_ a: PlannedChange.Action) -> Int { changes.filter { $0.action == a }.count }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", desiredDigest = "desired_digest",
             observedDigest = "observed_digest", files, changes, orphans
    }
}
