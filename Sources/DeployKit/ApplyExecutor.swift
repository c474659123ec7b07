public import DeployCore
import Foundation

/// Applies a plan to a slot target's driver: starts, replaces (rolling, verified) and stops replicas,
/// and returns a deployment to its last good revision when a rollout fails. A value: each call runs
/// on its own `ExecutorRun`, so nothing is shared between two applies.
public struct ApplyExecutor: Sendable {
    let target: any ReplicaDriver
    let clock: any DeployClock
    let environment: [String: [String: Secret]]
    /// Time between probes.
    public var pollInterval: Duration = .milliseconds(100)
    /// Grace period between SIGTERM and SIGKILL when stopping.
    public var stopGrace: Duration = .seconds(10)

    /// Creates an executor; `environment` holds each deployment's resolved env (secrets included).
    public init(target: any ReplicaDriver, clock: any DeployClock, environment: [String: [String: Secret]]) {
        self.target = target
        self.clock = clock
        self.environment = environment
    }

    /// Applies the plan, reporting progress through `onEvent`.
    public func apply(_ plan: Plan, onEvent: @escaping (ApplyEvent) -> Void = { _ in }) -> ApplyReport {
        ExecutorRun(self, onEvent: onEvent).apply(plan)
    }
}

/// The state of one apply or revert: the outcomes so far and the deployments that failed.
final class ExecutorRun {
    let target: any ReplicaDriver
    let clock: any DeployClock
    let environment: [String: [String: Secret]]
    let pollInterval: Duration
    let stopGrace: Duration
    let onEvent: (ApplyEvent) -> Void
    var outcomes: [String: ApplyReport.Outcome] = [:]
    var failed: [String] = []

    init(_ e: ApplyExecutor, onEvent: @escaping (ApplyEvent) -> Void) {
        target = e.target
        clock = e.clock
        environment = e.environment
        pollInterval = e.pollInterval
        stopGrace = e.stopGrace
        self.onEvent = onEvent
    }

    func apply(_ plan: Plan) -> ApplyReport {
        let t0 = clock.now()
        // Ports of live instances the plan was made against (the target's freePort also skips ports in use).
        var usedPorts = Set(plan.changes.compactMap { $0.current }.filter(\.isAlive).map(\.port))

        var resumed: [(PlannedChange, ObservedReplica)] = []
        for c in plan.changes where c.action == .update {
            guard let cur = c.current, let d = c.desired else { continue }
            if cur.state == .starting {
                resumed.append((c, cur))
                continue
            }
            do {
                try target.updateLabels(cur, labels: d.labels)
                onEvent(.updated(id: c.id))
                record(c, .done, "labels updated", cur.revision)
            } catch { record(c, .failed, "\(error)", cur.revision) }
        }

        // Creates: all at once (spawned in parallel), then wait for all.
        let creates = plan.changes.filter { $0.action == .create && $0.desired != nil }
        let started = startMany(creates, &usedPorts)
        for (c, inst, result) in waitAll(started + resumed) {
            if case .ready = result {
                record(c, .done, "ready", inst.revision)
            } else {
                stopQuietly(inst)
                record(c, .failed, describe(result), nil)
                markFailed(c.deployment)
            }
        }

        // Replaces: rolling, per deployment, batches in rounds across deployments.
        var batches: [String: [[PlannedChange]]] = [:]
        for c in plan.changes where c.action == .replace {
            guard let d = c.desired else { continue }
            let size = max(1, d.maxSurge + d.maxUnavailable)
            var list = batches[c.deployment] ?? []
            if let last = list.last, last.count < size { list[list.count - 1].append(c) } else { list.append([c]) }
            batches[c.deployment] = list
        }
        var replaced: [String: [PlannedChange]] = [:]
        var round = 0
        while batches.values.contains(where: { $0.count > round }) {
            var inFlight: [(PlannedChange, ObservedReplica)] = []
            // Replaces whose new instance could not even start: without surge their old instance is
            // already stopped, so the revert must bring it back too.
            var notStarted: [PlannedChange] = []
            for (dep, list) in batches.sorted(by: { $0.key < $1.key }) where list.count > round && !failed.contains(dep) {
                for c in list[round] {
                    guard let d = c.desired else { continue }
                    let surge = d.maxSurge > 0
                    if !surge, let cur = c.current, cur.isAlive { stopQuietly(cur); usedPorts.remove(cur.port) }
                    if let inst = startInstance(c, d, &usedPorts) { inFlight.append((c, inst)) } else { notStarted.append(c) }
                }
            }
            var failedNow = Set(notStarted.map(\.deployment))
            var results: [(PlannedChange, ObservedReplica, ProbeResult)] = []
            for r in waitAll(inFlight) { results.append(r) }
            for (c, inst, result) in results {
                if case .ready = result { continue }
                failedNow.insert(c.deployment)
                stopQuietly(inst)
                usedPorts.remove(inst.port)
                record(c, .failed, describe(result), c.current?.revision)
            }
            for (c, inst, result) in results where !failedNow.contains(c.deployment) {
                guard case .ready = result else { continue }
                if let cur = c.current, cur.instance != inst.instance {
                    stopQuietly(cur)
                    usedPorts.remove(cur.port)
                }
                replaced[c.deployment, default: []].append(c)
                record(c, .done, "replaced: \(c.reason)", inst.revision)
            }
            for (c, inst, result) in results where failedNow.contains(c.deployment) {
                if case .ready = result {
                    stopQuietly(inst)
                    usedPorts.remove(inst.port)
                    record(c, .reverted, "rolled back with its deployment", c.current?.revision)
                }
            }
            for dep in failedNow.sorted() {
                markFailed(dep)
                revert(dep, batch: results.filter { $0.0.deployment == dep }.map(\.0) + (replaced[dep] ?? [])
                           + notStarted.filter { $0.deployment == dep }, usedPorts: &usedPorts)
            }
            round += 1
        }

        for c in plan.changes where c.action == .delete {
            guard let cur = c.current else { continue }
            stopQuietly(cur)
            record(c, .done, c.reason, nil)
        }
        for c in plan.changes where outcomes[c.id + c.action.rawValue] == nil {
            record(c, c.action == .noop ? .done : .skipped,
                   c.action == .noop ? "up to date" : "not applied: deployment \(c.deployment) failed", c.current?.revision)
        }
        let ordered = plan.changes.compactMap { outcomes[$0.id + $0.action.rawValue] }
        return ApplyReport(outcomes: ordered, failedDeployments: failed, seconds: (clock.now() - t0).inSeconds)
    }

    /// Returns slots of a failed deployment to their last good revision: old instances that were
    /// stopped are started again from the launch spec they ran with.
    func revert(_ deployment: String, batch: [PlannedChange], usedPorts: inout Set<Int>) {
        onEvent(.reverting(deployment: deployment, reason: "rollout failed"))
        var restarts: [(PlannedChange, ObservedReplica)] = []
        let live = Set((try? target.observe())?.filter(\.isAlive).map(\.instance) ?? [])
        for c in batch {
            guard let old = c.current, old.state != .exited, !live.contains(old.instance) else { continue }
            var revertChange = c
            revertChange.desired = old.launch
            if let inst = startInstance(revertChange, old.launch, &usedPorts) { restarts.append((revertChange, inst)) }
            if let d = c.desired, outcomes[c.id + c.action.rawValue]?.result == .done {
                record(c, .reverted, "replaced by \(d.revision), then reverted to \(old.revision)", old.revision)
            }
        }
        for (c, inst, result) in waitAll(restarts) {
            if case .ready = result { continue }
            stopQuietly(inst)
            record(c, .failed, "revert failed: \(describe(result))", nil)
        }
        onEvent(.reverted(deployment: deployment))
    }

    /// Starts several instances concurrently (ports are chosen first, one by one); events and
    /// outcomes are recorded afterwards on this thread, in plan order.
    func startMany(_ changes: [PlannedChange], _ used: inout Set<Int>) -> [(PlannedChange, ObservedReplica)] {
        var jobs: [(PlannedChange, LaunchSpec)] = []
        for c in changes {
            guard let d = c.desired else { continue }
            let port = target.freePort(preferred: d.port, avoiding: used)
            used.insert(port)
            jobs.append((c, d.withPort(port)))
        }
        let results = ResultSlots<Result<ObservedReplica, any Error>>(count: jobs.count)
        let specs = jobs.map(\.1)
        let target = self.target
        let environment = self.environment
        DispatchQueue.concurrentPerform(iterations: specs.count) { i in
            let spec = specs[i]
            results.set(i, Result { try target.start(spec, port: spec.port, environment: environment[spec.deployment] ?? [:]) })
        }
        var out: [(PlannedChange, ObservedReplica)] = []
        for (i, (c, spec)) in jobs.enumerated() {
            switch results.get(i) {
            case .success(let inst)?:
                onEvent(.started(id: c.id, instance: inst.instance, port: spec.port, revision: spec.revision))
                out.append((c, inst))
            case .failure(let error)?:
                used.remove(spec.port)
                record(c, .failed, "could not start: \(error)", c.current?.revision)
                onEvent(.failed(id: c.id, reason: "could not start: \(error)", lastLog: []))
                markFailed(c.deployment)
            case nil:
                break
            }
        }
        return out
    }

    func startInstance(_ c: PlannedChange, _ d: LaunchSpec, _ used: inout Set<Int>) -> ObservedReplica? {
        let port = target.freePort(preferred: d.port, avoiding: used)
        used.insert(port)
        do {
            let inst = try target.start(d.withPort(port), port: port, environment: environment[d.deployment] ?? [:])
            onEvent(.started(id: c.id, instance: inst.instance, port: port, revision: d.revision))
            return inst
        } catch {
            used.remove(port)
            record(c, .failed, "could not start: \(error)", c.current?.revision)
            onEvent(.failed(id: c.id, reason: "could not start: \(error)", lastLog: []))
            markFailed(c.deployment)
            return nil
        }
    }

    /// Polls every instance until it is ready, failed or past its start timeout.
    func waitAll(_ items: [(PlannedChange, ObservedReplica)]) -> [(PlannedChange, ObservedReplica, ProbeResult)] {
        var pending = items.map { ($0.0, $0.1, clock.now()) }
        var done: [(PlannedChange, ObservedReplica, ProbeResult)] = []
        while !pending.isEmpty {
            var still: [(PlannedChange, ObservedReplica, Duration)] = []
            for (c, inst, t0) in pending {
                let elapsed = clock.now() - t0
                let result = target.probe(inst)
                switch result {
                case .starting(let line):
                    if elapsed > .seconds(inst.launch.startTimeout) {
                        let r = ProbeResult.failed(reason: "not ready after \(inst.launch.startTimeout) s",
                                                   lastLog: inst.lastLog + (line.map { [$0] } ?? []))
                        onEvent(.failed(id: c.id, reason: describe(r), lastLog: line.map { [$0] } ?? []))
                        done.append((c, inst, r))
                    } else {
                        onEvent(.waiting(id: c.id, elapsed: elapsed, lastLine: line))
                        still.append((c, inst, t0))
                    }
                case .ready:
                    try? target.markReady(inst)
                    onEvent(.ready(id: c.id, elapsed: elapsed))
                    done.append((c, inst, result))
                case .drifted, .failed:
                    var lastLog: [String] = []
                    if case .failed(_, let l) = result { lastLog = l }
                    onEvent(.failed(id: c.id, reason: describe(result), lastLog: lastLog))
                    done.append((c, inst, result))
                }
            }
            pending = still
            if !pending.isEmpty { clock.sleep(for: pollInterval) }
        }
        return done
    }

    func describe(_ r: ProbeResult) -> String {
        switch r {
        case .ready: return "ready"
        case .starting: return "still starting"
        case .drifted(let d):
            return "the engine runs with other args than intended: "
                + d.map { "\($0.flag) \($0.after ?? "unset") (intended \($0.before ?? "unset"))" }.joined(separator: ", ")
        case .failed(let reason, let log):
            return log.isEmpty ? reason : reason + "\n  last log lines:\n" + log.map { "    \($0)" }.joined(separator: "\n")
        }
    }

    func stopQuietly(_ inst: ObservedReplica) {
        try? target.stop(inst, grace: stopGrace)
        onEvent(.stopped(id: inst.id, instance: inst.instance))
    }

    func markFailed(_ dep: String) { if !failed.contains(dep) { failed.append(dep) } }

    func record(_ c: PlannedChange, _ result: ApplyReport.Outcome.Result, _ message: String, _ revision: String?) {
        outcomes[c.id + c.action.rawValue] = ApplyReport.Outcome(id: c.id, action: c.action, result: result,
                                                                 message: message, revision: revision)
    }
}

/// Fixed slots written from concurrent workers.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: T) { lock.withLock { slots[i] = v } }
    func get(_ i: Int) -> T? { lock.withLock { slots[i] } }
}
