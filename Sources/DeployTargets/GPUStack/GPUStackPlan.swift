public import DeployKit

/// One GPUStack model (= one deployment) and what apply does to it.
public struct GPUStackModelChange: Sendable, Codable, Hashable {
    /// What to do; apply decides on this alone. The local target's actions, on a model: `create` is
    /// `POST /v2/models` and a wait; `update` a `PUT` without restart (replicas, ownership);
    /// `replace` a `PUT`, a restart and a wait; `delete` `DELETE /v2/models/{id}` (prune).
    public typealias Action = PlannedChange.Action

    /// Deployment (= GPUStack model) name.
    public var deployment: String
    /// The live model's id (nil for create).
    public var modelId: Int?
    /// The action.
    public var action: Action
    /// Why, for people.
    public var reason: String
    /// Flag-level differences of `backend_parameters` (live → desired), canonical.
    public var flags: [FlagDiffEntry]
    /// Other field differences.
    public var fields: [FieldChange]
    /// Replicas now / wanted.
    public var replicas: Int
    /// How GPUStack will run it (injected flags, duplicates).
    public var warnings: [String]
}

/// A custom backend version and what apply does to it.
public struct GPUStackVersionChange: Sendable, Codable, Hashable {
    /// What to do: `create` adds it to the backend record (read–modify–write), `update` replaces its
    /// image, entrypoint, run command or framework, `delete` removes it (prune; only versions dsdeploy
    /// created and no model uses). Never `replace`.
    public typealias Action = PlannedChange.Action

    /// GPUStack backend (`SGLang`).
    public var backend: String
    /// Version name (`dspark-custom`).
    public var version: String
    /// The action.
    public var action: Action
    /// Field differences.
    public var fields: [FieldChange]
}

/// What apply would do on a GPUStack target: pure data, rendered and applied separately.
public struct GPUStackPlan: Sendable, Codable, Hashable {
    /// Schema version of the JSON form.
    public var formatVersion = 1
    /// Always `gpustack`.
    public var targetType = "gpustack"
    /// Target name.
    public var target: String
    /// Server URL.
    public var url: String
    /// Cluster name and id.
    public var cluster: String
    /// Cluster id.
    public var clusterId: Int
    /// Server version (`v2.3.0`).
    public var serverVersion: String
    /// The ownership marker of this manifest set.
    public var owner: String
    /// Backend versions.
    public var versions: [GPUStackVersionChange]
    /// Models, sorted by name.
    public var changes: [GPUStackModelChange]
    /// Models with this owner's marker that are not in the manifests and were not pruned.
    public var orphans: [String]
    /// Conditions that stop apply (a model of the same name that dsdeploy does not own ...).
    public var errors: [String]
    /// Notes for people (untested server version ...).
    public var warnings: [String]
    /// API requests made to compute the plan (all reads).
    public var apiCalls: Int

    /// True when apply would change something.
    public var hasChanges: Bool {
        changes.contains { $0.action != .noop } || versions.contains { $0.action != .noop }
    }

    /// Count of model changes with this action.
    public func count(_ a: GPUStackModelChange.Action) -> Int { changes.filter { $0.action == a }.count }
}
