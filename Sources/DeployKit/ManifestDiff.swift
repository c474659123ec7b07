import DeploySpec
import DeployCore
public import Engines

/// What changes between two versions of a set of manifests, per deployment, at flag level.
public struct ManifestDiff: Sendable, Codable {
    /// Schema version of the JSON output.
    public var formatVersion = 1
    /// Per deployment, sorted by name; unchanged deployments are included with action `noop`.
    public var deployments: [DeploymentDiff]

    /// True when any deployment changes.
    public var hasChanges: Bool { deployments.contains { $0.action != .noop } }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", deployments
    }
}

/// The change to one deployment.
public struct DeploymentDiff: Sendable, Codable {
    /// What happens to the deployment.
    public enum Action: String, Sendable, Codable { case create, delete, update, noop }
    /// How running replicas are affected.
    public enum Impact: String, Sendable, Codable {
        /// Replicas must be restarted with new args/env/image.
        case restart
        /// Only the replica count changes: replicas are added or removed, others keep running.
        case scale
        /// Nothing running is affected (labels only).
        case none
    }

    /// Deployment name.
    public var name: String
    /// create, delete, update or noop.
    public var action: Action
    /// restart, scale or none.
    public var impact: Impact
    /// Changed scalar fields (image, model, backendVersion, engineVersion, replicas, ...).
    public var fields: [FieldChange]
    /// Flag-level changes (canonical names, typed values).
    public var flags: [FlagDiffEntry]
    /// Env changes; secret values are never included.
    public var env: [EnvChange]
}

/// A changed field.
public struct FieldChange: Sendable, Codable, Hashable {
    /// Field name (`image`, `replicas`, ...).
    public var field: String
    /// Old value (nil when absent).
    public var before: String?
    /// New value (nil when absent).
    public var after: String?
    /// Whether this field forces a restart.
    public var restart: Bool

    /// Creates a change.
    public init(field: String, before: String?, after: String?, restart: Bool) {
        self.field = field
        self.before = before
        self.after = after
        self.restart = restart
    }
}

/// A flag change as printed and serialised.
public struct FlagDiffEntry: Sendable, Codable, Hashable {
    /// Added, removed or changed.
    public var kind: FlagChange.Kind
    /// Canonical flag name.
    public var flag: String
    /// Canonical old value (`true` for presence flags), nil when added.
    public var before: String?
    /// Canonical new value, nil when removed.
    public var after: String?
    /// False when the change only makes a default explicit (or implicit): the engine sees no difference.
    public var effective: Bool

    /// Creates an entry.
    public init(kind: FlagChange.Kind, flag: String, before: String?, after: String?, effective: Bool) {
        self.kind = kind
        self.flag = flag
        self.before = before
        self.after = after
        self.effective = effective
    }

    /// The printable form of a canonical flag change (the one conversion every plan uses).
    public init(_ c: FlagChange) {
        self.init(kind: c.kind, flag: c.name, before: c.before?.description, after: c.after?.description,
                  effective: c.effective)
    }
}

/// An env change; `before`/`after` are nil for secrets.
public struct EnvChange: Sendable, Codable, Hashable {
    /// Added, removed or changed.
    public var kind: FlagChange.Kind
    /// Variable name.
    public var name: String
    /// Old value, nil when secret or added.
    public var before: String?
    /// New value, nil when secret or removed.
    public var after: String?
    /// True when either side is secret.
    public var secret: Bool
}
