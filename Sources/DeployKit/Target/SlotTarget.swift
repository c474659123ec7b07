public import DeployCore
import DeploySpec
import Foundation

/// A target where dsdeploy places every replica itself: the `Renderer`, `Placer`, `Planner` and
/// `ApplyExecutor` over a `ReplicaDriver` that starts, probes and stops instances. A new slot
/// target (Docker, SSH) writes only a driver.
public final class SlotTarget: Target, @unchecked Sendable {
    /// Name and type.
    public let ref: TargetRef
    /// What it can do (slot targets can do everything their driver can).
    public let capabilities: TargetCapabilities
    /// Starts, probes and stops instances.
    public let driver: any ReplicaDriver
    /// The hosts it places replicas on, with their GPUs (one host for `local`).
    public let hosts: [InventoryHost]
    let clock: any DeployClock
    let digest: (@Sendable (LaunchSpec, [String: Secret]) -> [String: String]?)?
    /// Time between probes while waiting for readiness.
    public var pollInterval: Duration = .milliseconds(100)
    /// Grace period between SIGTERM and SIGKILL when apply stops a replaced instance.
    public var stopGrace: Duration = .seconds(10)
    /// Puts instances into service beyond their own port (a disaggregated deployment's router).
    public var membership: (any ReplicaMembership)? = nil
    /// The nodes of a multi-node replica run on distinct hosts (docker), each placed by the Placer;
    /// false: they share the replica's one placement (`local`: processes on this machine).
    public var spreadsNodes = false

    /// Creates a slot target. `digest` keys the values revisions do not show (secrets, `valueFrom`)
    /// so a changed value is a planned restart; nil when the target keeps no key.
    public init(ref: TargetRef, driver: any ReplicaDriver, hosts: [InventoryHost], clock: any DeployClock,
                capabilities: TargetCapabilities = [.savedPlans, .gates, .followLogs, .prune, .apply, .observe],
                digest: (@Sendable (LaunchSpec, [String: Secret]) -> [String: String]?)? = nil) {
        self.ref = ref
        self.driver = driver
        self.hosts = hosts
        self.clock = clock
        self.capabilities = capabilities
        self.digest = digest
    }

    /// A slot target on one host (`local`): `address` is what `{{worker_ip}}` and clients use.
    public convenience init(ref: TargetRef, driver: any ReplicaDriver, gpus: [Int]?, address: String = "127.0.0.1",
                            clock: any DeployClock,
                            capabilities: TargetCapabilities = [.savedPlans, .gates, .followLogs, .prune, .apply, .observe],
                            digest: (@Sendable (LaunchSpec, [String: Secret]) -> [String: String]?)? = nil) {
        self.init(ref: ref, driver: driver, hosts: [InventoryHost(name: ref.name, address: address, gpus: gpus)], clock: clock,
                  capabilities: capabilities, digest: digest)
    }

    /// The launch spec of every replica: placed (replicas in `observed` keep their GPUs), rendered,
    /// with secret digests where values resolved.
    public func desired(_ input: PlanInput, observed: [ObservedReplica] = []) throws(TargetError) -> [LaunchSpec] {
        try desired(input, observed: observed, inventory: driver.inventory(hosts, observed: observed))
    }

    /// The same over hosts whose GPUs the driver has read already (`inventory`).
    func desired(_ input: PlanInput, observed: [ObservedReplica], inventory: [InventoryHost]) throws(TargetError) -> [LaunchSpec] {
        var current: [String: ReplicaPlacement] = [:]
        for o in observed.filter(\.isAlive).sorted(by: { $0.startedAt < $1.startedAt }) {
            current[o.id] = ReplicaPlacement(host: o.launch.node ?? hosts.first?.name ?? "", address: o.launch.host,
                                             gpuIds: o.launch.gpuIds)
            current[o.id]?.ranks = o.launch.nodeHosts
        }
        let placement: [String: [ReplicaPlacement]]
        switch Placer.place(input.deployments, hosts: inventory, current: current,
                            spreadNodes: spreadsNodes) {
        case .success(let p): placement = p
        case .failure(let e): throw TargetError(.configuration, "cannot place '\(e.deployment)' on target '\(ref.name)': \(e.message)")
        }
        var specs: [LaunchSpec] = []
        for r in input.deployments {
            switch Renderer().render(r, placement: placement[r.deployment.name]) {
            case .success(let s): specs += s
            case .failure(let e): throw TargetError(.configuration, "cannot render '\(e.deployment)': \(e.message)")
            }
        }
        specs = Renderer.wireRouters(specs)
        guard let digest else { return specs }
        for i in specs.indices where specs[i].env.contains(where: { $0.value == nil }) {
            guard let env = input.environment[specs[i].deployment] else { continue }
            specs[i].secretDigests = digest(specs[i], env)
        }
        return specs
    }

    public func lock(_ holder: LockHolder) throws(TargetError) -> (any TargetLock)? { try driver.lock(holder) }

    public func plan(_ input: PlanInput) throws(TargetError) -> Plan {
        let before = driver.apiCalls
        var observed: [ObservedReplica]
        do { observed = try driver.observe() } catch {
            throw TargetError(.unavailable, "cannot read target '\(ref.name)': \(error)")
        }
        if let membership {
            let live = observed
            for i in observed.indices where observed[i].state == .ready && observed[i].launch.pd != nil {
                observed[i].outOfService = membership.outOfService(observed[i], among: live)
            }
        }
        let inventory = driver.inventory(hosts, observed: observed)
        let specs = try desired(input, observed: observed, inventory: inventory)
        var plan = Planner(prune: input.prune).plan(desired: specs, observed: observed, files: input.files, target: ref)
        // GPUs the placer skipped because another program holds them, when something is placed now.
        if plan.changes.contains(where: { ($0.action == .create || $0.action == .replace) && $0.desired?.gpuIds.isEmpty == false }) {
            for h in inventory {
                for (id, what) in (h.taken ?? [:]).sorted(by: { $0.key < $1.key }) {
                    plan.notes.append("\(h.name): GPU \(id) \(what), which dsdeploy did not start: it is not handed out")
                }
                if let why = h.unread {
                    plan.notes.append("\(h.name): its GPUs could not be read (\(why)); GPU ids are handed out from 0, unchecked")
                }
            }
        }
        plan.blockers += driver.preflight(plan.changes.filter { $0.action == .create || $0.action == .replace }.compactMap(\.desired))
        if let before, let after = driver.apiCalls {
            plan.apiCalls = APICalls(reads: after.reads - before.reads, writes: after.writes - before.writes)
        }
        return plan
    }

    public func apply(_ plan: Plan, _ input: PlanInput, events: @escaping @Sendable (ApplyEvent) -> Void) -> ApplyReport {
        executor(input).apply(plan, onEvent: events)
    }

    func executor(_ input: PlanInput) -> ApplyExecutor {
        var e = ApplyExecutor(target: driver, clock: clock, environment: input.environment)
        e.pollInterval = pollInterval
        e.stopGrace = stopGrace
        e.membership = membership
        return e
    }

    public func status(_ deployments: Set<String>?) throws(TargetError) -> [ReplicaStatus] {
        var observed: [ObservedReplica]
        do { observed = try driver.observe() } catch {
            throw TargetError(.unavailable, "cannot read target '\(ref.name)': \(error)")
        }
        // What plan calls "not in service as intended" (a router missing a worker), shown as it is.
        if let membership {
            let live = observed
            for i in observed.indices where observed[i].state == .ready && observed[i].launch.pd != nil
                && (deployments?.contains(observed[i].deployment) ?? true) {
                observed[i].outOfService = membership.outOfService(observed[i], among: live)
            }
        }
        return observed.filter { deployments?.contains($0.deployment) ?? true }
            .sorted { ($0.deployment, $0.replica, $0.startedAt) < ($1.deployment, $1.replica, $1.startedAt) }
            .map { o in
                let state: ReplicaStatus.State
                switch o.state {
                case .starting: state = .starting
                case .ready: state = o.drift.isEmpty ? .ready : .drifted
                case .exited: state = .exited
                case .failed: state = .failed
                }
                var row = ReplicaStatus(deployment: o.deployment, replica: o.replica, instance: o.instance, revision: o.revision,
                                        state: state, endpoint: Endpoint.url(host: o.launch.host, port: o.port),
                                        host: hosts.count > 1 || ref.type != "local" ? o.launch.node : nil,
                                        pid: o.isAlive ? o.pid : nil, startedAt: o.startedAt, exitStatus: o.exitStatus,
                                        drift: o.drift, lastLog: o.isAlive ? [] : Array(o.lastLog.suffix(5)))
                if !o.launch.gpuIds.isEmpty { row.gpus = o.launch.gpuIds }
                // A part of a disaggregated deployment: which one, and what it is.
                if let pd = o.launch.pd { row.details["pd"] = "\(pd.role.rawValue) of \(pd.group)" }
                if let why = o.outOfService { row.details["service"] = "not in service as intended: \(why)" }
                // A multi-node group lives and dies as one: every node has the group's state; where each listens.
                if let n = o.launch.nodes, n > 1 {
                    row.details["nodes"] = String(n)
                    if let placed = o.launch.nodeHosts, placed.count == n {
                        // On distinct hosts: every node listens on the replica's port on its own host.
                        for (rank, p) in placed.enumerated() {
                            row.details["node_\(rank)"] = "\(p.host) " + Endpoint.url(host: p.address, port: o.port)
                                + (rank == 0 ? " (serves the API)" : " (health only; logs --node \(rank))")
                            if !p.gpuIds.isEmpty { row.details["node_\(rank)_gpus"] = p.gpuIds.map(String.init).joined(separator: ",") }
                        }
                    } else {
                        for rank in 1..<n {
                            row.details["node_\(rank)"] = Endpoint.url(host: o.launch.host, port: o.port + 100 * rank)
                                + " (health only; logs --node \(rank))"
                        }
                    }
                }
                return row
            }
    }

    public func logs(_ deployment: String, replica: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        try driver.logs(deployment: deployment, replica: replica, tail: tail, follow: follow, onText: onText)
    }

    public func logs(_ deployment: String, replica: Int, node: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        try driver.logs(deployment: deployment, replica: replica, node: node, tail: tail, follow: follow, onText: onText)
    }

    public func endpoints(of deployment: String) throws(TargetError) -> [Endpoint] {
        let observed: [ObservedReplica]
        do { observed = try driver.observe() } catch {
            throw TargetError(.unavailable, "cannot read target '\(ref.name)': \(error)")
        }
        return observed.filter { $0.deployment == deployment && $0.isAlive }
            .sorted { ($0.replica, $0.startedAt) < ($1.replica, $1.startedAt) }
            .map { Endpoint(deployment: $0.deployment, replica: $0.replica, url: Endpoint.url(host: $0.launch.host, port: $0.port),
                            revision: $0.revision, ready: $0.state == .ready && $0.drift.isEmpty, engine: $0.launch.engine) }
    }

    public func revert(_ deployment: String, in plan: Plan, _ input: PlanInput, reason: String,
                       events: @escaping @Sendable (ApplyEvent) -> Void) -> GateRevert {
        executor(input).revertRollout(deployment, plan: plan, reason: reason, onEvent: events)
    }

    public func delete(_ deployments: Set<String>, grace: Duration,
                       events: @escaping @Sendable (ApplyEvent) -> Void) throws(TargetError) -> ApplyReport {
        let t0 = clock.now()
        let victims: [ObservedReplica]
        do { victims = try driver.observe().filter { deployments.contains($0.deployment) } } catch {
            throw TargetError(.unavailable, "cannot read target '\(ref.name)': \(error)")
        }
        var outcomes: [ApplyReport.Outcome] = []
        var failed: [String] = []
        for v in victims.sorted(by: { ($0.deployment, $0.replica) < ($1.deployment, $1.replica) }) {
            do {
                try driver.stop(v, grace: grace)
                events(.stopped(id: v.id, instance: v.instance))
                outcomes.append(.init(id: v.id, action: .delete, result: .done, message: "stopped \(v.instance)"))
            } catch {
                events(.failed(id: v.id, reason: "\(error)", lastLog: []))
                outcomes.append(.init(id: v.id, action: .delete, result: .failed, message: "\(error)", revision: v.revision))
                if !failed.contains(v.deployment) { failed.append(v.deployment) }
            }
        }
        return ApplyReport(outcomes: outcomes, failedDeployments: failed, seconds: (clock.now() - t0).inSeconds)
    }
}
