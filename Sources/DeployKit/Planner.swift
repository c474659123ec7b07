import Engines

/// Computes a plan from desired launch specs and observed replicas. Pure.
public struct Planner: Sendable {
    /// Remove deployments that are in the state but not in the manifest.
    public var prune: Bool

    /// Creates a planner.
    public init(prune: Bool = false) { self.prune = prune }

    /// The plan that takes `observed` to `desired`.
    public func plan(desired: [LaunchSpec], observed: [ObservedReplica], files: [String] = [],
                     target: TargetRef = TargetRef(name: "local", type: "local")) -> Plan {
        var changes: [PlannedChange] = []
        let desiredByID = Dictionary(desired.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // Newest live instance per slot wins; extra instances (left by an interrupted apply) are deleted.
        var current: [String: ObservedReplica] = [:]
        var extras: [ObservedReplica] = []
        for o in observed.sorted(by: { ($0.isAlive ? 1 : 0, $0.startedAt) < ($1.isAlive ? 1 : 0, $1.startedAt) }) {
            if let prev = current[o.id] {
                if prev.isAlive { extras.append(prev) }
            }
            current[o.id] = o
        }
        for d in desired {
            guard let o = current[d.id] else {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .create,
                                             reason: "new replica", desired: d, current: nil,
                                             flags: flagDiff(nil, d), fields: []))
                continue
            }
            let fields = fieldDiff(o.launch, d)
            let flags = flagDiff(o.launch, d)
            if o.revision != d.revision {
                // The first four names; the plan's detail lines list every change.
                let names = fields.map(\.field) + flags.map(\.flag)
                let what = names.prefix(4).joined(separator: ", ") + (names.count > 4 ? " and \(names.count - 4) more" : "")
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .replace,
                                             reason: "configuration changed" + (what.isEmpty ? "" : ": \(what)"),
                                             desired: d, current: o, flags: flags, fields: fields))
            } else if let g = fields.first(where: { $0.field == "host" }) ?? fields.first(where: { $0.field == "gpus" }) {
                // The placer moved the replica to other GPUs (the target's list, or another deployment
                // took them): it must restart on the ones it was given, or two replicas share a GPU.
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .replace,
                                             reason: "\(g.field == "host" ? "host" : "GPUs") changed: \(g.before ?? "none") → \(g.after ?? "none")",
                                             desired: d, current: o, flags: [],
                                             fields: fields.filter { $0.field == "host" || $0.field == "gpus" }))
            } else if case let secrets = Planner.changedSecrets(o.launch, d), !secrets.isEmpty {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .replace,
                                             reason: "secret value changed: \(secrets.joined(separator: ", "))",
                                             desired: d, current: o, flags: [],
                                             fields: secrets.map { FieldChange(field: "env.\($0)", before: "<secret>",
                                                                               after: "<secret changed>", restart: true) }))
            } else if !o.isAlive {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .replace,
                                             reason: "replica is not running (\(o.exitStatus ?? o.state.rawValue))",
                                             desired: d, current: o, flags: [], fields: []))
            } else if !o.drift.isEmpty {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .replace,
                                             reason: "drift: the engine runs with other args (\(o.drift.map(\.flag).joined(separator: ", ")))",
                                             desired: d, current: o, flags: o.drift, fields: []))
            } else if o.state == .starting {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .update,
                                             reason: "started but never verified (interrupted apply): wait for readiness and verify",
                                             desired: d, current: o, flags: [], fields: []))
            } else if o.state == .failed {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .replace,
                                             reason: "replica failed its readiness check", desired: d, current: o,
                                             flags: [], fields: []))
            } else if let why = o.outOfService {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .update,
                                             reason: "not in service as intended: \(why)", desired: d, current: o, flags: [], fields: []))
            } else if o.labels != d.labels {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .update,
                                             reason: "labels changed", desired: d, current: o, flags: [],
                                             fields: fields))
            } else {
                changes.append(PlannedChange(deployment: d.deployment, replica: d.replica, action: .noop,
                                             reason: "up to date", desired: d, current: o, flags: [], fields: []))
            }
        }
        let desiredDeployments = Set(desired.map(\.deployment))
        var orphans: Set<String> = []
        for o in current.values where desiredByID[o.id] == nil {
            if desiredDeployments.contains(o.deployment) {
                changes.append(PlannedChange(deployment: o.deployment, replica: o.replica, action: .delete,
                                             reason: "replica count lowered", desired: nil, current: o, flags: [], fields: []))
            } else if prune {
                changes.append(PlannedChange(deployment: o.deployment, replica: o.replica, action: .delete,
                                             reason: "deployment left the manifest (--prune)", desired: nil, current: o,
                                             flags: [], fields: []))
            } else {
                orphans.insert(o.deployment)
            }
        }
        for e in extras {
            changes.append(PlannedChange(deployment: e.deployment, replica: e.replica, action: .delete,
                                         reason: "leftover instance \(e.instance) from an interrupted apply",
                                         desired: nil, current: e, flags: [], fields: []))
        }
        changes.sort { ($0.deployment, $0.replica, $0.action.rawValue) < ($1.deployment, $1.replica, $1.action.rawValue) }
        return Plan(target: target, desiredDigest: Plan.digest(desired.map { "\($0.id)@\($0.revision)" }),
                    observedDigest: Plan.digest(observed.map { "\($0.id)#\($0.instance)@\($0.revision):\($0.state.rawValue)" }),
                    files: files, changes: changes, orphans: orphans.sorted())
    }

    func flagDiff(_ old: LaunchSpec?, _ new: LaunchSpec) -> [FlagDiffEntry] {
        FlagSet.diff(from: old?.flagSet ?? FlagSet(), to: new.flagSet).map(FlagDiffEntry.init)
    }

    func fieldDiff(_ a: LaunchSpec, _ b: LaunchSpec) -> [FieldChange] {
        var out: [FieldChange] = []
        func f(_ name: String, _ x: String, _ y: String, restart: Bool = true) {
            if x != y { out.append(FieldChange(field: name, before: x, after: y, restart: restart)) }
        }
        f("image", a.image, b.image)
        f("engineVersion", "\(a.engine) \(a.engineVersion)", "\(b.engine) \(b.engineVersion)")
        f("entrypoint", a.argv.prefix(a.entrypointCount).joined(separator: " "),
          b.argv.prefix(b.entrypointCount).joined(separator: " "))
        f("env", a.env.map { "\($0.name)=\($0.secret ? "<secret \($0.from ?? "")>" : $0.display)" }.joined(separator: " "),
          b.env.map { "\($0.name)=\($0.secret ? "<secret \($0.from ?? "")>" : $0.display)" }.joined(separator: " "))
        // A group on distinct hosts: every node's GPUs and host (`a,b` and `0,1/0,1`).
        func gpus(_ s: LaunchSpec) -> String {
            (s.nodeHosts?.map(\.gpuIds) ?? [s.gpuIds]).map { $0.map(String.init).joined(separator: ",") }.joined(separator: "/")
        }
        f("gpus", gpus(a), gpus(b))
        // The host, where both know it (state from before placement on hosts has none).
        if let x = a.node, let y = b.node {
            f("host", a.nodeHosts?.map(\.host).joined(separator: ",") ?? x, b.nodeHosts?.map(\.host).joined(separator: ",") ?? y)
        }
        f("labels", a.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
          b.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","), restart: false)
        return out
    }

    /// Env names whose value digest differs between the running launch and the desired one. Only
    /// names both sides have a digest for: an unknown digest (values not resolvable in `plan`, state
    /// from before digests) is never a change.
    static func changedSecrets(_ running: LaunchSpec, _ desired: LaunchSpec) -> [String] {
        guard let have = running.secretDigests, let want = desired.secretDigests else { return [] }
        return want.keys.sorted().filter { name in have[name].map { $0 != want[name] } ?? false }
    }
}
