import DeployCore
import DeployKit
public import Engines

/// What the server holds that the plan needs: read with a constant number of requests.
public struct GPUStackObserved: Sendable {
    /// Server version.
    public var serverVersion: String
    /// Cluster id.
    public var clusterId: Int
    /// Backend records (full rows) by `backend_name`, for the backends the manifests use.
    public var backends: [String: JSONValue]
    /// Every model of the cluster.
    public var models: [JSONValue]
    /// Every model instance of the cluster.
    public var instances: [JSONValue]

    /// Creates an observation.
    public init(serverVersion: String, clusterId: Int, backends: [String: JSONValue], models: [JSONValue],
                instances: [JSONValue]) {
        self.serverVersion = serverVersion
        self.clusterId = clusterId
        self.backends = backends
        self.models = models
        self.instances = instances
    }
}

/// Ownership markers dsdeploy writes into GPUStack objects (2.3.0 models have no labels).
public enum GPUStackOwnership {
    /// Key under a model's `meta` holding `{"owner": ..., "deployment": ...}`.
    public static let metaKey = "dsdeploy"
    /// Env key in a custom version's (UI-only) `env` holding the owner.
    public static let versionEnvKey = "DSDEPLOY_OWNER"

    /// The owner recorded in a model, or nil when dsdeploy did not create it.
    public static func owner(ofModel m: JSONValue) -> String? {
        m["meta"]?[metaKey]?["owner"]?.string
    }

    /// The revision recorded in a model (set once its instances ran on it), or nil.
    public static func revision(ofModel m: JSONValue) -> String? {
        m["meta"]?[metaKey]?["revision"]?.string
    }

    /// The owner recorded in a version config, or nil.
    public static func owner(ofVersion v: JSONValue) -> String? {
        v["env"]?[versionEnvKey]?.string
    }

    /// The `meta` object for a model (`revision`: the configuration its instances were verified on).
    public static func meta(owner: String, deployment: String, revision: String? = nil) -> JSONValue {
        var o: [String: JSONValue] = ["owner": .string(owner), "deployment": .string(deployment)]
        if let revision { o["revision"] = .string(revision) }
        return .object([metaKey: .object(o)])
    }
}

/// Computes a GPUStack plan from (desired, observed). Pure.
public struct GPUStackPlanner: Sendable {
    /// Delete models (and custom versions) with this owner's marker that left the manifests.
    public var prune: Bool

    /// Creates a planner.
    public init(prune: Bool) { self.prune = prune }

    /// The plan.
    public func plan(desired: [GPUStackModelSpec], observed: GPUStackObserved, target: String, url: String,
                     cluster: String, owner: String) -> GPUStackPlan {
        var errors: [String] = []
        var versions: [GPUStackVersionChange] = []
        var changedVersions: Set<String> = []
        // Backend versions: one entry per (backend, version) the manifests use.
        var wanted: [String: GPUStackVersionSpec] = [:]
        for d in desired {
            let key = d.version.backend + "/" + d.version.name
            if let other = wanted[key], other != d.version {
                errors.append("two backend versions map to GPUStack version \(d.version.backend) \(d.version.name) with different contents; rename one")
                continue
            }
            wanted[key] = d.version
        }
        for (key, v) in wanted.sorted(by: { $0.key < $1.key }) {
            guard let row = observed.backends[v.backend] else {
                errors.append("GPUStack has no backend '\(v.backend)'")
                continue
            }
            let live = row["version_configs"]?[v.name]
            guard let live, !live.isNull else {
                versions.append(GPUStackVersionChange(backend: v.backend, version: v.name, action: .create, fields: []))
                changedVersions.insert(key)
                continue
            }
            let fields = GPUStackPlanner.versionFields(live: live, desired: v)
            if fields.isEmpty {
                versions.append(GPUStackVersionChange(backend: v.backend, version: v.name, action: .noop, fields: []))
            } else if GPUStackOwnership.owner(ofVersion: live) != owner {
                errors.append("backend version \(v.backend) \(v.name) exists with other contents and was not created by "
                              + "dsdeploy owner '\(owner)'; dsdeploy never changes versions it did not create")
            } else {
                versions.append(GPUStackVersionChange(backend: v.backend, version: v.name, action: .update, fields: fields))
                changedVersions.insert(key)
            }
        }

        var byName: [String: JSONValue] = [:]
        for m in observed.models { if let n = m["name"]?.string { byName[n] = m } }
        var changes: [GPUStackModelChange] = []
        for d in desired.sorted(by: { $0.name < $1.name }) {
            guard let live = byName[d.name] else {
                changes.append(GPUStackModelChange(deployment: d.name, modelId: nil, action: .create,
                    reason: "not on the server", flags: (FlagSet.diff(from: FlagSet(), to: d.flagSet, catalog: d.catalog).map(FlagDiffEntry.init)),
                    fields: [], replicas: d.replicas, warnings: d.warnings))
                continue
            }
            let liveOwner = GPUStackOwnership.owner(ofModel: live)
            if liveOwner != owner {
                errors.append(liveOwner == nil
                    ? "model '\(d.name)' exists on the server and was not created by dsdeploy; rename the deployment or delete the model"
                    : "model '\(d.name)' belongs to dsdeploy owner '\(liveOwner ?? "")', not '\(owner)'")
                continue
            }
            changes.append(GPUStackPlanner.modelChange(d, live: live,
                                                       versionChanged: changedVersions.contains(d.version.backend + "/" + d.version.name)))
        }
        let names = Set(desired.map(\.name))
        var orphans: [String] = []
        for m in observed.models {
            guard let n = m["name"]?.string, !names.contains(n), GPUStackOwnership.owner(ofModel: m) == owner else { continue }
            if prune {
                changes.append(GPUStackModelChange(deployment: n, modelId: m["id"]?.int, action: .delete,
                    reason: "not in the manifests (prune)", flags: [], fields: [], replicas: m["replicas"]?.int ?? 0, warnings: []))
            } else {
                orphans.append(n)
            }
        }
        if prune {
            let keptModels = observed.models.filter { m in
                !changes.contains { $0.action == .delete && $0.modelId == m["id"]?.int }
            }
            for (backend, row) in observed.backends.sorted(by: { $0.key < $1.key }) {
                for (name, cfg) in row["version_configs"]?.members.sorted(by: { $0.key < $1.key }) ?? []
                where GPUStackOwnership.owner(ofVersion: cfg) == owner && wanted[backend + "/" + name] == nil {
                    let used = keptModels.contains { $0["backend"]?.string == backend && $0["backend_version"]?.string == name }
                    if !used { versions.append(GPUStackVersionChange(backend: backend, version: name, action: .delete, fields: [])) }
                }
            }
        }
        changes.sort { ($0.deployment, $0.action.rawValue) < ($1.deployment, $1.action.rawValue) }
        var warnings: [String] = []
        if case .success(let w?) = GPUStackClient.checkVersion(observed.serverVersion) { warnings.append(w) }
        return GPUStackPlan(target: target, url: url, cluster: cluster, clusterId: observed.clusterId,
                            serverVersion: observed.serverVersion, owner: owner, versions: versions, changes: changes,
                            orphans: orphans.sorted(), errors: errors, warnings: warnings, apiCalls: 0)
    }

    /// Differences between a live version config and the desired one.
    static func versionFields(live: JSONValue, desired v: GPUStackVersionSpec) -> [FieldChange] {
        var out: [FieldChange] = []
        for (field, want) in [("image_name", v.imageName), ("entrypoint", v.entrypoint), ("run_command", v.runCommand),
                              ("custom_framework", v.framework)] {
            let have = live[field]?.string ?? ""
            if have != want { out.append(FieldChange(field: field, before: have, after: want, restart: true)) }
        }
        return out
    }

    /// The change of one live model that dsdeploy owns.
    static func modelChange(_ d: GPUStackModelSpec, live: JSONValue, versionChanged: Bool) -> GPUStackModelChange {
        var fields: [FieldChange] = []
        func compare(_ field: String, _ have: String?, _ want: String?, restart: Bool) {
            if have != want { fields.append(FieldChange(field: field, before: have, after: want, restart: restart)) }
        }
        compare("source", live["source"]?.string, d.source, restart: true)
        compare(d.sourceField, live[d.sourceField]?.string, d.sourceValue, restart: true)
        compare("backend", live["backend"]?.string, d.version.backend, restart: true)
        compare("backend_version", live["backend_version"]?.string, d.version.name, restart: true)
        let liveReplicas = live["replicas"]?.int ?? 0
        compare("replicas", String(liveReplicas), String(d.replicas), restart: false)
        let liveSelector = live["worker_selector"]?.stringMap ?? [:]
        if liveSelector != d.workerSelector {
            compare("worker_selector", render(liveSelector), render(d.workerSelector), restart: true)
        }
        let liveEnv = live["env"]?.stringMap ?? [:]
        for name in Set(liveEnv.keys).union(d.env.keys).sorted() {
            let have = liveEnv[name], want = d.env[name]?.reveal()
            if have == want { continue }
            let secret = d.secretEnv.contains(name)
            fields.append(FieldChange(field: "env.\(name)", before: secret ? nil : have, after: secret ? nil : want, restart: true))
        }
        let (liveFlags, _) = GPUStackMapping.flagSet(ofParameters: live["backend_parameters"]?.strings ?? [], catalog: d.catalog)
        let flags = FlagSet.diff(from: liveFlags, to: d.flagSet, catalog: d.catalog).map(FlagDiffEntry.init)
        let unfinished = GPUStackOwnership.revision(ofModel: live) != d.revision
        let restart = !flags.isEmpty || fields.contains(where: \.restart) || versionChanged || unfinished
        let id = live["id"]?.int
        if !restart && fields.isEmpty {
            return GPUStackModelChange(deployment: d.name, modelId: id, action: .noop, reason: "up to date", flags: [],
                                       fields: [], replicas: d.replicas, warnings: d.warnings)
        }
        var reasons: [String] = []
        if !flags.isEmpty { reasons.append("\(flags.count) flag\(flags.count == 1 ? "" : "s") changed") }
        let named = fields.filter(\.restart).map { $0.field.hasPrefix("env.") ? "env" : $0.field }
        reasons += Array(Set(named)).sorted()
        if versionChanged { reasons.append("backend version changed") }
        if unfinished && reasons.isEmpty { reasons.append("its instances were never verified on this configuration (an earlier apply did not finish)") }
        if restart {
            return GPUStackModelChange(deployment: d.name, modelId: id, action: .replace,
                                       reason: reasons.joined(separator: ", ") + "; instances restart",
                                       flags: flags, fields: fields, replicas: d.replicas, warnings: d.warnings)
        }
        return GPUStackModelChange(deployment: d.name, modelId: id, action: .update,
                                   reason: "replicas \(liveReplicas) → \(d.replicas); no restart",
                                   flags: [], fields: fields, replicas: d.replicas, warnings: d.warnings)
    }

    static func render(_ m: [String: String]) -> String {
        "{" + m.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
    }
}
