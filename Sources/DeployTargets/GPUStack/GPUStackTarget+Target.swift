import DeployCore
public import DeployKit
import DeploySpec
import Engines
import Foundation

/// GPUStack as a `Target`: a server-scheduled target. The unit of a plan is the GPUStack model (one
/// per deployment) and the custom backend versions it uses; the server places and restarts the
/// instances, so no change names a replica slot or a port.
extension GPUStackTarget: Target {
    public var ref: TargetRef {
        TargetRef(name: name, type: "gpustack", detail: "GPUStack at \(client.baseURL), cluster \(cluster) (owner \(owner))")
    }

    public var capabilities: TargetCapabilities { GPUStackKind.capabilities }

    /// Id of a backend version's change and outcome.
    static func versionID(_ backend: String, _ version: String) -> String {
        ChangeUnit.backendVersion(backend: backend, version: version).id
    }

    /// The desired model of every deployment: GPUStack stores the env it runs with, so every value
    /// must have resolved (plan included).
    func desiredModels(_ input: PlanInput) throws(TargetError) -> [GPUStackModelSpec] {
        var out: [GPUStackModelSpec] = []
        for r in input.deployments {
            guard let env = input.environment[r.deployment.name] else {
                throw TargetError(.configuration, input.unresolved[r.deployment.name]
                                  ?? "the env of '\(r.deployment.name)' was not resolved (GPUStack stores the values it runs with)")
            }
            out.append(GPUStackMapping.model(r, env: env, target: config))
        }
        return out
    }

    public func plan(_ input: PlanInput) throws(TargetError) -> Plan {
        let desired = try desiredModels(input)
        let (gs, observed): (GPUStackPlan, GPUStackObserved)
        do { (gs, observed) = try plan(desired, prune: input.prune) } catch { throw TargetError(error) }
        let plan = Self.plan(gs, observed: observed, desired: desired, files: input.files)
        remember(Planned(plan: plan, gs: gs, observed: observed, desired: desired))
        return plan
    }

    /// The shared plan of a GPUStack plan: one change per backend version and per model.
    static func plan(_ gs: GPUStackPlan, observed: GPUStackObserved, desired: [GPUStackModelSpec], files: [String]) -> Plan {
        var changes: [PlannedChange] = []
        for v in gs.versions {
            let reason: String
            switch v.action {
            case .create: reason = "not on the server"
            case .update: reason = "contents changed"
            case .delete: reason = "no deployment uses it any more (prune)"
            default: reason = "up to date"
            }
            changes.append(PlannedChange(unit: .backendVersion(backend: v.backend, version: v.version), action: v.action,
                                         reason: reason, fields: v.fields))
        }
        let revisions = Dictionary(desired.map { ($0.name, $0.revision) }, uniquingKeysWith: { a, _ in a })
        for c in gs.changes {
            changes.append(PlannedChange(unit: .deployment(c.deployment), action: c.action, reason: c.reason, flags: c.flags,
                                         fields: c.fields, revision: revisions[c.deployment], ref: c.modelId.map(String.init), replicas: c.replicas,
                                         notes: c.warnings))
        }
        changes.sort { $0.unit < $1.unit }
        let ref = TargetRef(name: gs.target, type: "gpustack",
                            detail: "GPUStack \(gs.serverVersion) at \(gs.url), cluster \(gs.cluster) (owner \(gs.owner))")
        return Plan(target: ref, desiredDigest: desiredDigest(desired),
                    observedDigest: observedDigest(observed, names: Set(desired.map(\.name)), owner: gs.owner),
                    files: files, changes: changes, orphans: gs.orphans, blockers: gs.errors, notes: gs.warnings,
                    apiCalls: APICalls(reads: gs.apiCalls, writes: 0))
    }

    /// What the manifests ask for: each model's revision, replicas and backend version.
    static func desiredDigest(_ desired: [GPUStackModelSpec]) -> String {
        Plan.digest(desired.map { d in
            "\(d.name)@\(d.revision) x\(d.replicas) \(d.version.backend)/\(d.version.name)=\(d.version.imageName)|"
                + "\(d.version.entrypoint)|\(d.version.runCommand)|\(d.version.framework)"
        })
    }

    /// What the server held that the plan depends on, when it was made: the models of these
    /// deployments or of this owner, their instances (by id, state and last update) and the backend
    /// versions read. A saved plan is stale when it changed; models dsdeploy does not manage and
    /// never plans for are left out.
    static func observedDigest(_ o: GPUStackObserved, names: Set<String>, owner: String) -> String {
        var parts = ["server=\(o.serverVersion)", "cluster=\(o.clusterId)"]
        let models = o.models.filter { m in
            names.contains(m["name"]?.string ?? "") || GPUStackOwnership.owner(ofModel: m) == owner
        }
        let ids = Set(models.compactMap { $0["id"]?.int })
        for m in models {
            parts.append("model \(m["id"]?.int ?? -1) \(m["name"]?.string ?? "") replicas=\(m["replicas"]?.int ?? 0) "
                         + "updated=\(m["updated_at"]?.string ?? "") revision=\(GPUStackOwnership.revision(ofModel: m) ?? "")")
        }
        for i in o.instances where ids.contains(i["model_id"]?.int ?? -1) {
            parts.append("instance \(i["id"]?.int ?? -1) model=\(i["model_id"]?.int ?? -1) state=\(i["state"]?.string ?? "") "
                         + "updated=\(i["updated_at"]?.string ?? "")")
        }
        for (b, row) in o.backends.sorted(by: { $0.key < $1.key }) {
            for (v, cfg) in (row["version_configs"]?.members ?? [:]).sorted(by: { $0.key < $1.key }) {
                parts.append("version \(b)/\(v) \(cfg["image_name"]?.string ?? "") \(cfg["run_command"]?.string ?? "") "
                             + "\(cfg["entrypoint"]?.string ?? "")")
            }
        }
        return Plan.digest(parts)
    }

    public func apply(_ plan: Plan, _ input: PlanInput, events: @escaping @Sendable (ApplyEvent) -> Void) -> ApplyReport {
        let planned: Planned
        if let p = recall(plan) {
            planned = p
        } else {
            do {
                _ = try self.plan(input)
            } catch {
                return ApplyReport(outcomes: [], failedDeployments: input.deployments.map(\.deployment.name), seconds: 0)
            }
            guard let p = recall(plan) else {
                return ApplyReport(outcomes: plan.changes.filter { $0.action != .noop }.map {
                    .init(id: $0.id, action: $0.action, result: .skipped, message: "the plan is stale: the server changed since it was made")
                }, failedDeployments: input.deployments.map(\.deployment.name), seconds: 0)
            }
            planned = p
        }
        guard planned.gs.errors.isEmpty else {
            return ApplyReport(outcomes: [], failedDeployments: input.deployments.map(\.deployment.name), seconds: 0)
        }
        var report = apply(planned.gs, desired: planned.desired, observed: planned.observed, onEvent: events)
        report.outcomes.sort { a, b in
            let ia = plan.changes.firstIndex { $0.id == a.id } ?? Int.max
            let ib = plan.changes.firstIndex { $0.id == b.id } ?? Int.max
            return ia < ib
        }
        return report
    }

    public func status(_ deployments: Set<String>?) throws(TargetError) -> [ReplicaStatus] {
        let rows: [InstanceStatus]
        do { rows = try status(names: deployments) } catch { throw TargetError(error) }
        var index: [String: Int] = [:]
        return rows.map { r in
            var details = ["model_id": String(r.modelId), "model_state": r.modelState,
                           "ready_replicas": "\(r.readyReplicas)/\(r.replicas)"]
            if !r.injected.isEmpty { details["injected_flags"] = r.injected.joined(separator: " ") }
            guard let instance = r.instance else {
                var row = ReplicaStatus(deployment: r.deployment, replica: nil, instance: nil, revision: r.revision,
                                        state: Self.state(r.modelState), message: r.stateMessage)
                row.details = details
                return row
            }
            let i = index[r.deployment, default: 0]
            index[r.deployment] = i + 1
            var row = ReplicaStatus(deployment: r.deployment, replica: i, instance: instance, revision: r.revision,
                                    state: Self.state(r.state ?? r.modelState), endpoint: r.endpoint, host: r.worker,
                                    restarts: r.restarts, message: r.stateMessage.flatMap { $0.isEmpty ? nil : $0 })
            row.gpus = r.gpus
            row.details = details
            return row
        }
    }

    /// GPUStack's instance and model states in the words every target uses.
    static func state(_ s: String) -> ReplicaStatus.State {
        switch s {
        case "running": return .ready
        case "error", "unreachable": return .failed
        case "starting", "downloading", "initializing": return .starting
        default: return .pending
        }
    }

    public func logs(_ deployment: String, replica: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        do {
            if follow {
                try followLogs(deployment: deployment, replica: replica, tail: tail, onText: onText)
            } else {
                let text = try logs(deployment: deployment, replica: replica, tail: tail)
                _ = onText(text.hasSuffix("\n") || text.isEmpty ? text : text + "\n")
            }
        } catch { throw TargetError(error) }
    }

    public func endpoints(of deployment: String) throws(TargetError) -> [Endpoint] {
        try status([deployment]).compactMap { r in
            guard let replica = r.replica, let url = r.endpoint else { return nil }
            // GPUStack serves the model under the model's (= deployment's) name, whatever servedModelName says.
            return Endpoint(deployment: deployment, replica: replica, url: url, revision: r.revision, ready: r.state == .ready,
                            model: deployment)
        }
    }

    public func revert(_ deployment: String, in plan: Plan, _ input: PlanInput, reason: String,
                       events: @escaping @Sendable (ApplyEvent) -> Void) -> GateRevert {
        guard let change = plan.changes.first(where: { $0.unit == .deployment(deployment) }),
              change.action == .replace || change.action == .update else {
            return GateRevert(outcomes: [], succeeded: false,
                              note: "\(deployment) has no previous revision to return to: left running")
        }
        guard let previous = recall(plan)?.observed.models.first(where: { $0["name"]?.string == deployment }),
              let id = previous["id"]?.int else {
            return GateRevert(outcomes: [], succeeded: false,
                              note: "the configuration \(deployment) had before this apply is not known here: left running")
        }
        events(.reverting(deployment: deployment, reason: reason))
        let failed = ApplyReport.Outcome(id: deployment, action: change.action, result: .failed, message: "gate failed (\(reason))")
        var outcome = self.revert(failed, model: id, previous: previous, onEvent: events)
        if outcome.result == .reverted {
            let needed = previous["replicas"]?.int ?? 0
            let timeout = input.deployments.first { $0.deployment.name == deployment }
                .map { $0.deployment.readiness?.timeoutSeconds ?? $0.version.readiness?.timeoutSeconds ?? 600 } ?? 600
            let waiter = GPUStackWaiter(client: client, clusterId: 0, clock: clock, onProgress: events)
            let result = waiter.wait([.init(modelId: id, name: deployment, needed: needed, ignore: [],
                                            deadline: clock.now() + .seconds(timeout))])
            if case .failed(let why)? = result[id] {
                outcome.result = .failed
                outcome.message += "; the previous configuration did not come back: \(why)"
            } else {
                outcome.revision = GPUStackOwnership.revision(ofModel: previous)
            }
        }
        return GateRevert(outcomes: [outcome], succeeded: outcome.result == .reverted, note: nil)
    }

    public func delete(_ deployments: Set<String>, grace: Duration,
                       events: @escaping @Sendable (ApplyEvent) -> Void) throws(TargetError) -> ApplyReport {
        let t0 = clock.now()
        let before = client.requestCounts
        let done: [String]
        do { done = try delete(deployments) } catch { throw TargetError(error) }
        for d in done { events(.done(id: d, message: "model deleted")) }
        let after = client.requestCounts
        return ApplyReport(outcomes: done.map { .init(id: $0, action: .delete, result: .done, message: "model deleted") },
                           failedDeployments: [], seconds: (clock.now() - t0).inSeconds,
                           apiCalls: APICalls(reads: after.reads - before.reads, writes: after.writes - before.writes))
    }
}

/// A plan this target made, with what it was made from (apply and revert use them).
struct Planned: Sendable {
    var plan: Plan
    var gs: GPUStackPlan
    var observed: GPUStackObserved
    var desired: [GPUStackModelSpec]
}

extension TargetError {
    /// A GPUStack API failure as a target error (the message never carries the key).
    init(_ e: GPUStackError) {
        let kind: Kind
        switch e.kind {
        case .unreachable, .server, .timeout: kind = .unavailable
        case .notFound: kind = .notFound
        case .unsupportedVersion: kind = .unsupported
        case .unauthorized, .conflict, .rejected, .protocolError: kind = .rejected
        }
        self.init(kind, e.message)
    }
}
