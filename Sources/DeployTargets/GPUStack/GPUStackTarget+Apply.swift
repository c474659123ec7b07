import DeployCore
public import DeployKit
import Engines
import Foundation

extension GPUStackTarget {
    /// Applies `plan` (made from `desired` and `observed`): backend versions, then models (create / update /
    /// replace + restart), waiting for every touched model's instances; failed replacements are reverted to
    /// the previous configuration. `onEvent` gets one line per step.
    public func apply(_ plan: GPUStackPlan, desired: [GPUStackModelSpec], observed: GPUStackObserved,
                      onEvent: @escaping @Sendable (ApplyEvent) -> Void) -> ApplyReport {
        let start = clock.now()
        let counts0 = client.requestCounts
        var outcomes: [ApplyReport.Outcome] = []
        func report() -> ApplyReport {
            let c = client.requestCounts
            return ApplyReport(outcomes: outcomes, failedDeployments: outcomes.filter { $0.result != .done }.map(\.id),
                               seconds: (clock.now() - start).inSeconds,
                               apiCalls: APICalls(reads: c.reads - counts0.reads, writes: c.writes - counts0.writes))
        }
        let specs = Dictionary(desired.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let live = Dictionary(observed.models.compactMap { m in m["name"]?.string.map { ($0, m) } }, uniquingKeysWith: { a, _ in a })

        // 1. Backend versions (create/update), one read–modify–write per backend.
        let versionWrites = plan.versions.filter { $0.action == .create || $0.action == .update }
        for backend in Set(versionWrites.map(\.backend)).sorted() {
            let mine = versionWrites.filter { $0.backend == backend }
            do throws(GPUStackError) {
                try writeVersions(backend: backend, upsert: mine.compactMap { v in
                    desired.first { $0.version.backend == backend && $0.version.name == v.version }?.version
                }, remove: [])
                for v in mine {
                    onEvent(.done(id: GPUStackTarget.versionID(backend, v.version), message: v.action == .create ? "created" : "updated"))
                    outcomes.append(.init(id: GPUStackTarget.versionID(backend, v.version), action: v.action, result: .done, message: ""))
                }
            } catch {
                for v in mine {
                    outcomes.append(.init(id: GPUStackTarget.versionID(backend, v.version), action: v.action, result: .failed, message: error.message))
                }
                for v in mine { onEvent(.failed(id: GPUStackTarget.versionID(backend, v.version), reason: error.message, lastLog: [])) }
                return report()
            }
        }

        // 2. Models: write everything, restart what needs it, then wait for all of them together.
        var goals: [GPUStackWaiter.Goal] = []
        var rolling: [(GPUStackModelChange, Int)] = []
        var pendingOutcome: [Int: GPUStackModelChange] = [:]
        for c in plan.changes where c.action == .create || c.action == .update || c.action == .replace {
            guard let spec = specs[c.deployment] else { continue }
            let deadline = clock.now() + .seconds(spec.timeoutSeconds)
            do throws(GPUStackError) {
                switch c.action {
                case .create:
                    let created = try client.post("/v2/models", createBody(spec, clusterId: plan.clusterId))
                    guard let id = created["id"]?.int else {
                        throw GPUStackError(.protocolError, "GPUStack created model '\(spec.name)' without an id")
                    }
                    onEvent(.progress(id: spec.name, message: "created model \(id)"))
                    goals.append(.init(modelId: id, name: spec.name, needed: spec.replicas, ignore: [], deadline: deadline))
                    pendingOutcome[id] = c
                case .update:
                    guard let id = c.modelId else { continue }
                    try client.put("/v2/models/\(id)", updateBody(spec, full: false))
                    onEvent(.progress(id: spec.name, message: "replicas → \(spec.replicas)"))
                    goals.append(.init(modelId: id, name: spec.name, needed: spec.replicas, ignore: [], deadline: deadline))
                    pendingOutcome[id] = c
                case .replace:
                    guard let id = c.modelId else { continue }
                    try client.put("/v2/models/\(id)", updateBody(spec, full: true))
                    let liveInstances = observed.instances.filter { $0["model_id"]?.int == id }
                    if liveInstances.count > 1 && spec.replicas > 1 {
                        onEvent(.progress(id: spec.name, message: "updated; rolling restart of \(liveInstances.count) instances, one at a time"))
                        rolling.append((c, id))
                        continue
                    }
                    if !liveInstances.isEmpty {
                        try restart(model: id, name: spec.name, deadline: deadline, onEvent: onEvent)
                    } else {
                        onEvent(.progress(id: spec.name, message: "updated (no instances to restart)"))
                    }
                    goals.append(.init(modelId: id, name: spec.name, needed: spec.replicas, ignore: [], deadline: deadline))
                    pendingOutcome[id] = c
                default: break
                }
            } catch {
                onEvent(.failed(id: c.deployment, reason: error.message, lastLog: []))
                var o = ApplyReport.Outcome(id: c.deployment, action: c.action, result: .failed, message: error.message)
                if c.action == .replace || c.action == .update, let id = c.modelId, let prev = live[c.deployment] {
                    o = revert(o, model: id, previous: prev, onEvent: onEvent)
                }
                outcomes.append(o)
            }
        }
        let waiter = GPUStackWaiter(client: client, clusterId: plan.clusterId, clock: clock, onProgress: onEvent)
        let results = waiter.wait(goals)
        for g in goals {
            guard let c = pendingOutcome[g.modelId] else { continue }
            switch results[g.modelId] ?? .failed("no result") {
            case .ready:
                onEvent(.done(id: c.deployment, message: "\(g.needed) instance\(g.needed == 1 ? "" : "s") running"))
                outcomes.append(markVerified(c, model: g.modelId, spec: specs[c.deployment]))
            case .failed(let why):
                onEvent(.failed(id: c.deployment, reason: why, lastLog: []))
                var o = ApplyReport.Outcome(id: c.deployment, action: c.action, result: .failed, message: why)
                if c.action != .create, let prev = live[c.deployment] { o = revert(o, model: g.modelId, previous: prev, onEvent: onEvent) }
                outcomes.append(o)
            }
        }

        // 3. Rolling restarts: delete one old instance, wait for its replacement (on the new config) to run.
        for (c, id) in rolling {
            guard let spec = specs[c.deployment] else { continue }
            outcomes.append(rollingRestart(c, model: id, spec: spec, previous: live[c.deployment], onEvent: onEvent))
        }

        // 4. Prune: models, then versions nothing uses any more.
        for c in plan.changes where c.action == .delete {
            guard let id = c.modelId else { continue }
            do throws(GPUStackError) {
                try client.delete("/v2/models/\(id)")
                onEvent(.done(id: c.deployment, message: "deleted"))
                outcomes.append(.init(id: c.deployment, action: .delete, result: .done, message: ""))
            } catch {
                outcomes.append(.init(id: c.deployment, action: .delete, result: .failed, message: error.message))
            }
        }
        let removals = plan.versions.filter { $0.action == .delete }
        for backend in Set(removals.map(\.backend)).sorted() {
            let names = removals.filter { $0.backend == backend }.map(\.version)
            do throws(GPUStackError) {
                try writeVersions(backend: backend, upsert: [], remove: Set(names))
                for n in names {
                    onEvent(.done(id: GPUStackTarget.versionID(backend, n), message: "removed"))
                    outcomes.append(.init(id: GPUStackTarget.versionID(backend, n), action: .delete, result: .done, message: ""))
                }
            } catch {
                // GPUStack refuses to remove a version a model uses: keep it and say so.
                for n in names {
                    outcomes.append(.init(id: GPUStackTarget.versionID(backend, n), action: .delete, result: .skipped, message: error.message))
                }
            }
        }
        var r = report()
        r.outcomes = r.outcomes.map { o in
            var o = o
            if o.result == .skipped { o.result = .done; o.message = "kept: " + o.message }
            return o
        }
        r.failedDeployments = r.outcomes.filter { $0.result != .done }.map(\.id)
        return r
    }

    /// Records in the model's `meta` that its instances ran on this revision (skipped when already recorded).
    func markVerified(_ c: GPUStackModelChange, model id: Int, spec: GPUStackModelSpec?) -> ApplyReport.Outcome {
        guard let spec else { return .init(id: c.deployment, action: c.action, result: .done, message: "") }
        if c.action == .update {
            return .init(id: c.deployment, action: c.action, result: .done, message: "")
        }
        var body = updateBody(spec, full: false).members
        body["replicas"] = nil
        body["meta"] = GPUStackOwnership.meta(owner: owner, deployment: spec.name, revision: spec.revision)
        do throws(GPUStackError) {
            try client.put("/v2/models/\(id)", .object(body))
            return .init(id: c.deployment, action: c.action, result: .done, message: "")
        } catch {
            return .init(id: c.deployment, action: c.action, result: .failed,
                         message: "instances run, but recording it in the model failed: \(error.message)")
        }
    }

    /// `POST /v2/models/{id}/restart`. GPUStack answers 409 while an earlier restart is "in flight" — until the
    /// model runs again, up to 15 minutes; then the instances are deleted instead (the replica controller recreates
    /// them at once from the updated model, which is what a restart does).
    func restart(model id: Int, name: String, deadline: Duration, onEvent: @Sendable (ApplyEvent) -> Void) throws(GPUStackError) {
        do {
            let r = try client.post("/v2/models/\(id)/restart", .object([:]))
            let gone = r["deleted_instances"]?.strings ?? []
            onEvent(.progress(id: name, message: "updated; restarted (retired \(gone.isEmpty ? "no instances" : gone.joined(separator: ", ")))"))
        } catch where error.kind == .conflict {
            var gone: [String] = []
            for i in try instanceIds(model: id) {
                guard let iid = i["id"]?.int else { continue }
                try client.delete("/v2/model-instances/\(iid)")
                gone.append(i["name"]?.string ?? String(iid))
            }
            onEvent(.progress(id: name, message: "updated; an earlier restart is still in flight (409), so its instances were deleted "
                    + "and are recreated from the update (\(gone.joined(separator: ", ")))"))
        }
    }

    /// Replaces a multi-replica model's instances one at a time (GPUStack's own restart retires all at once):
    /// delete one old instance, the replica controller recreates it from the updated model, wait until it runs.
    func rollingRestart(_ c: GPUStackModelChange, model id: Int, spec: GPUStackModelSpec, previous: JSONValue?,
                        onEvent: @escaping @Sendable (ApplyEvent) -> Void) -> ApplyReport.Outcome {
        let waiter = GPUStackWaiter(client: client, clusterId: 0, clock: clock, onProgress: onEvent)
        do throws(GPUStackError) {
            var old = try instanceIds(model: id).compactMap { $0["id"]?.int }
            let total = old.count
            var replaced = 0
            while let victim = old.first {
                try client.delete("/v2/model-instances/\(victim)")
                old.removeFirst()
                replaced += 1
                onEvent(.progress(id: spec.name, message: "replacing instance \(replaced)/\(total)"))
                let needed = min(replaced, spec.replicas)
                let result = waiter.wait([.init(modelId: id, name: spec.name, needed: needed, ignore: Set(old),
                                                deadline: clock.now() + .seconds(spec.timeoutSeconds))])
                if case .failed(let why)? = result[id] {
                    onEvent(.failed(id: spec.name, reason: why, lastLog: []))
                    let o = ApplyReport.Outcome(id: c.deployment, action: c.action, result: .failed, message: why)
                    return previous.map { revert(o, model: id, previous: $0, keep: Set(old), onEvent: onEvent) } ?? o
                }
            }
            onEvent(.done(id: spec.name, message: "\(spec.replicas) instances running (rolled one at a time)"))
            return markVerified(c, model: id, spec: spec)
        } catch {
            onEvent(.failed(id: spec.name, reason: error.message, lastLog: []))
            let o = ApplyReport.Outcome(id: c.deployment, action: c.action, result: .failed, message: error.message)
            return previous.map { revert(o, model: id, previous: $0, onEvent: onEvent) } ?? o
        }
    }

    /// Puts the previous configuration back (`PUT` of the fields dsdeploy manages) and deletes the instances
    /// started from the new one (except `keep`), so GPUStack recreates them from the previous configuration.
    /// A restart is not used: GPUStack answers 409 until the restarted model runs. The revert is not waited for.
    func revert(_ failed: ApplyReport.Outcome, model id: Int, previous: JSONValue, keep: Set<Int> = [],
                onEvent: @Sendable (ApplyEvent) -> Void) -> ApplyReport.Outcome {
        var o = failed
        do throws(GPUStackError) {
            try client.put("/v2/models/\(id)", GPUStackTarget.previousBody(previous))
            var n = 0
            for i in try instanceIds(model: id) {
                guard let iid = i["id"]?.int, !keep.contains(iid) else { continue }
                try client.delete("/v2/model-instances/\(iid)")
                n += 1
            }
            o.result = .reverted
            o.message += " — reverted to the previous configuration (\(n) instance\(n == 1 ? "" : "s") recreated from it)"
            onEvent(.reverted(deployment: failed.id))
        } catch {
            o.message += " — revert failed too: \(error.message)"
        }
        return o
    }

    /// Read–modify–write of a backend record: GPUStack's PUT replaces the whole row, so every field read is sent back.
    func writeVersions(backend: String, upsert: [GPUStackVersionSpec], remove: Set<String>) throws(GPUStackError) {
        let row = try backendRow(backend)
        guard let id = row["id"]?.int else { throw GPUStackError(.protocolError, "backend '\(backend)' has no id") }
        var configs = row["version_configs"]?.members ?? [:]
        for v in upsert {
            var env = configs[v.name]?["env"]?.members ?? [:]
            env[GPUStackOwnership.versionEnvKey] = .string(owner)
            configs[v.name] = .object([
                "image_name": .string(v.imageName), "entrypoint": .string(v.entrypoint),
                "run_command": .string(v.runCommand), "custom_framework": .string(v.framework), "env": .object(env),
            ])
        }
        for name in remove where GPUStackOwnership.owner(ofVersion: configs[name] ?? .null) == owner { configs[name] = nil }
        var body: [String: JSONValue] = [:]
        for key in GPUStackTarget.backendWritableFields { if let v = row[key] { body[key] = v } }
        body["version_configs"] = .object(configs)
        try client.put("/v2/inference-backends/\(id)", .object(body))
    }

    /// Fields of `InferenceBackendUpdate` (GPUStack 2.3.0): all sent back on every write.
    static let backendWritableFields = [
        "backend_name", "backend_source", "common_parameters", "default_backend_param", "default_entrypoint", "default_env",
        "default_run_command", "default_version", "description", "enabled", "health_check_path", "icon", "is_built_in",
        "owner_principal_id", "parameter_format", "source_name", "source_type", "version_configs",
    ]

    /// `POST /v2/models` body.
    func createBody(_ s: GPUStackModelSpec, clusterId: Int) -> JSONValue {
        var b = updateBody(s, full: true).members
        b["cluster_id"] = .number(Double(clusterId))
        b["meta"] = GPUStackOwnership.meta(owner: owner, deployment: s.name)
        b["description"] = .string("Managed by dsdeploy (owner \(owner)); edit the manifests, not this model.")
        return .object(b)
    }

    /// `PUT /v2/models/{id}` body: GPUStack merges the fields sent, but always needs name, source and its id field.
    func updateBody(_ s: GPUStackModelSpec, full: Bool) -> JSONValue {
        var b: [String: JSONValue] = [
            "name": .string(s.name), "source": .string(s.source), s.sourceField: .string(s.sourceValue),
            "replicas": .number(Double(s.replicas)),
        ]
        if full {
            b["backend"] = .string(s.version.backend)
            b["backend_version"] = .string(s.version.name)
            b["backend_parameters"] = .strings(s.backendParameters)
            b["env"] = .stringMap(s.env.mapValues { $0.reveal() })
            b["worker_selector"] = .stringMap(s.workerSelector)
        }
        return .object(b)
    }

    /// The `PUT` body that restores a live model's managed fields (its `meta` too: the revision its
    /// instances were verified on is the previous one again).
    static func previousBody(_ m: JSONValue) -> JSONValue {
        var b: [String: JSONValue] = [:]
        for key in ["name", "source", "huggingface_repo_id", "model_scope_model_id", "local_path", "backend", "backend_version",
                    "backend_parameters", "env", "replicas", "worker_selector", "meta"] {
            if let v = m[key] { b[key] = v }
        }
        return .object(b)
    }
}
