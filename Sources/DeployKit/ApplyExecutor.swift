public import DeployCore
import Foundation
import DeploySpec

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
    /// Hosts worked on at once (starts and readiness waits run per host, hosts side by side), so a
    /// slow or cut-off host holds up only its own replicas.
    public var maxParallelHosts: Int = 8
    /// Puts instances into service and takes them out (the workers of a disaggregated deployment and
    /// its router); nil: an instance serves on its own port alone.
    public var membership: (any ReplicaMembership)? = nil

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

/// The state of one apply or revert: the outcomes so far, the deployments that failed and the hosts
/// that could not be reached. Work on different hosts runs side by side (at most `maxParallelHosts`);
/// what it records goes through one lock.
final class ExecutorRun: @unchecked Sendable {
    let target: any ReplicaDriver
    let clock: any DeployClock
    let environment: [String: [String: Secret]]
    let pollInterval: Duration
    let stopGrace: Duration
    let maxParallelHosts: Int
    let membership: (any ReplicaMembership)?
    /// The disaggregated deployment each deployment belongs to (by name): a failure of one fails all.
    private var groups: [String: String] = [:]
    private let onEvent: (ApplyEvent) -> Void
    private let lock = NSLock()
    private var outcomes: [String: ApplyReport.Outcome] = [:]
    private var failed: [String] = []
    /// Hosts that could not be reached, with why: nothing more is done there in this run.
    private var cutOff: [String: String] = [:]
    /// Instances this run stopped.
    private var stopped: Set<String> = []

    init(_ e: ApplyExecutor, onEvent: @escaping (ApplyEvent) -> Void) {
        target = e.target
        clock = e.clock
        environment = e.environment
        pollInterval = e.pollInterval
        stopGrace = e.stopGrace
        maxParallelHosts = max(1, e.maxParallelHosts)
        membership = e.membership
        self.onEvent = onEvent
    }

    func apply(_ plan: Plan) -> ApplyReport {
        let t0 = clock.now()
        for c in plan.changes {
            if let group = (c.desired ?? c.current?.launch)?.pd?.group { groups[c.deployment] = group }
        }
        // Ports of live instances the plan was made against (the target's freePort also skips ports in use).
        var usedPorts = Set(plan.changes.compactMap { $0.current }.filter(\.isAlive).map(\.port))

        var resumed: [(PlannedChange, ObservedReplica)] = []
        let updating = liveView()
        for c in plan.changes where c.action == .update {
            guard let cur = c.current, let d = c.desired else { continue }
            if cur.state == .starting {
                resumed.append((c, cur))
                continue
            }
            if cur.outOfService != nil {
                // Back into service (a router gets its workers again); labels follow below when they changed too.
                if let problem = join(cur, updating) {
                    record(c, .failed, problem, cur.revision)
                    markFailed(c.deployment)
                    continue
                }
                if cur.labels == d.labels {
                    record(c, .done, "back in service", cur.revision)
                    continue
                }
            }
            do {
                try target.updateLabels(cur, labels: d.labels)
                emit(.updated(id: c.id))
                record(c, .done, "labels updated", cur.revision)
            } catch { record(c, .failed, "\(error)", cur.revision) }
        }

        // Creates: all at once (hosts side by side), then wait for all.
        let creates = plan.changes.filter { $0.action == .create && $0.desired != nil }
        let (started, _) = startMany(creates.map { ($0, $0.desired!) }, &usedPorts)
        let created = ExecutorRun.routersLast(waitAll(started + resumed))
        let afterCreates = liveView()
        for (c, inst, result) in created {
            switch result {
            case .ready:
                if let problem = join(inst, afterCreates) {
                    stopQuietly(inst)
                    record(c, .failed, problem, nil)
                    markFailed(c.deployment)
                } else {
                    record(c, .done, "ready", inst.revision)
                }
            case .unreachable(let host, let reason): recordUnreachable(c, host, reason, c.current?.revision)
            default:
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
            var jobs: [(PlannedChange, LaunchSpec)] = []
            let beforeRound = liveView()
            for (dep, list) in batches.sorted(by: { $0.key < $1.key }) where list.count > round && !isFailed(dep) {
                for c in list[round] {
                    guard let d = c.desired else { continue }
                    // A host cut off earlier in this run: its slots are left as they are.
                    if let host = hostOf(c), let reason = unreachableReason(host) {
                        recordUnreachable(c, host, reason, c.current?.revision)
                        continue
                    }
                    if d.maxSurge == 0, let cur = c.current, cur.isAlive {
                        leave(cur, beforeRound)
                        guard stopQuietly(cur) else {
                            if let host = hostOf(c), let reason = unreachableReason(host) { recordUnreachable(c, host, reason, cur.revision) }
                            continue
                        }
                        usedPorts.remove(cur.port)
                    }
                    jobs.append((c, d))
                }
            }
            let (inFlight, refused) = startMany(jobs, &usedPorts)
            // Replaces whose new instance could not even start: without surge their old instance is
            // already stopped, so the revert must bring it back too.
            let notStarted = refused
            var failedNow = Set(notStarted.map(\.deployment))
            let results = ExecutorRun.routersLast(waitAll(inFlight))
            for (c, inst, result) in results {
                switch result {
                case .ready: continue
                case .unreachable(let host, let reason):
                    // Nothing is known of it: left for the next apply, which finds it (or not) on that host.
                    recordUnreachable(c, host, reason, c.current?.revision)
                default:
                    failedNow.insert(c.deployment)
                    stopQuietly(inst)
                    usedPorts.remove(inst.port)
                    record(c, .failed, describe(result), c.current?.revision)
                }
            }
            // A failure anywhere fails the whole disaggregated deployment (prefill, decode and router).
            failedNow = withSiblings(failedNow)
            // New instances go into service before the old ones leave it (workers join their router).
            var joined: Set<String> = []
            let afterRound = liveView()
            for (c, inst, result) in results where !failedNow.contains(c.deployment) {
                guard case .ready = result else { continue }
                if let problem = join(inst, afterRound) {
                    record(c, .failed, problem, c.current?.revision)
                    failedNow = withSiblings(failedNow.union([c.deployment]))
                } else {
                    joined.insert(inst.instance)
                }
            }
            for (c, inst, result) in results where !failedNow.contains(c.deployment) {
                guard case .ready = result else { continue }
                // (Without surge the old one left and stopped before its successor started: a second
                // leave would take the successor, on the same URL, out of its router.)
                if let cur = c.current, cur.instance != inst.instance, !wasStopped(cur.instance) {
                    leave(cur, afterRound)
                    stopQuietly(cur)
                    usedPorts.remove(cur.port)
                }
                replaced[c.deployment, default: []].append(c)
                record(c, .done, "replaced: \(c.reason)", inst.revision)
            }
            for (c, inst, result) in results where failedNow.contains(c.deployment) {
                if case .ready = result {
                    if joined.contains(inst.instance) { leave(inst, afterRound) }
                    stopQuietly(inst)
                    usedPorts.remove(inst.port)
                    if outcome(c)?.result != .failed {
                        record(c, .reverted, "rolled back with its deployment", c.current?.revision)
                    }
                }
            }
            for dep in failedNow.sorted() {
                markFailed(dep)
                revert(dep, batch: results.filter { $0.0.deployment == dep }.map(\.0) + (replaced[dep] ?? [])
                           + notStarted.filter { $0.deployment == dep }, usedPorts: &usedPorts)
            }
            round += 1
        }

        let deleting = liveView()
        for c in plan.changes where c.action == .delete {
            guard let cur = c.current else { continue }
            if let host = hostOf(c), let reason = unreachableReason(host) {
                recordUnreachable(c, host, reason, cur.revision)
                continue
            }
            leave(cur, deleting)
            if stopQuietly(cur) {
                record(c, .done, c.reason, nil)
            } else if let host = hostOf(c), let reason = unreachableReason(host) {
                recordUnreachable(c, host, reason, cur.revision)
            } else {
                record(c, .failed, "could not stop \(cur.instance)", cur.revision)
            }
        }
        return lock.withLock {
            for c in plan.changes where outcomes[c.id + c.action.rawValue] == nil {
                outcomes[c.id + c.action.rawValue] = ApplyReport.Outcome(
                    id: c.id, action: c.action, result: c.action == .noop ? .done : .skipped,
                    message: c.action == .noop ? "up to date" : "not applied: deployment \(c.deployment) failed", revision: c.current?.revision)
            }
            let ordered = plan.changes.compactMap { outcomes[$0.id + $0.action.rawValue] }
            return ApplyReport(outcomes: ordered, failedDeployments: failed, seconds: (clock.now() - t0).inSeconds,
                               unreachableHosts: cutOff)
        }
    }

    /// Returns slots of a failed deployment to their last good revision: old instances that were
    /// stopped are started again from the launch spec they ran with (not on a host cut off).
    func revert(_ deployment: String, batch: [PlannedChange], usedPorts: inout Set<Int>) {
        emit(.reverting(deployment: deployment, reason: "rollout failed"))
        var jobs: [(PlannedChange, LaunchSpec)] = []
        // Old instances still running are left as they are. When the target cannot be read as a whole
        // (a host cut off), what this run stopped is what is gone.
        let observed = try? target.observe()
        let live = Set(observed?.filter(\.isAlive).map(\.instance) ?? [])
        let gone: (ObservedReplica) -> Bool = { old in
            observed == nil ? self.wasStopped(old.instance) : !live.contains(old.instance)
        }
        for c in batch {
            guard let old = c.current, old.state != .exited, gone(old) else { continue }
            if let host = old.launch.node, unreachableReason(host) != nil { continue }
            var revertChange = c
            revertChange.desired = old.launch
            jobs.append((revertChange, old.launch))
            if let d = c.desired, outcome(c)?.result == .done {
                record(c, .reverted, "replaced by \(d.revision), then reverted to \(old.revision)", old.revision)
            }
        }
        let (restarts, _) = startMany(jobs, &usedPorts, failing: false)
        let restarted = ExecutorRun.routersLast(waitAll(restarts))
        let afterRestarts = liveView()
        for (c, inst, result) in restarted {
            switch result {
            case .ready:
                if let problem = join(inst, afterRestarts) { record(c, .failed, "revert: \(problem)", nil) }
            case .unreachable(let host, let reason): recordUnreachable(c, host, reason, nil)
            default:
                stopQuietly(inst)
                record(c, .failed, "revert failed: \(describe(result))", nil)
            }
        }
        emit(.reverted(deployment: deployment))
    }

    /// The host a change works on (its new instance's, else its current one's); nil on a single-host target.
    func hostOf(_ c: PlannedChange) -> String? { c.desired?.node ?? c.current?.launch.node }

    /// Starts instances, the hosts side by side and one host's in order (ports are chosen first,
    /// one by one); events and outcomes are recorded as they happen. Returns the started instances
    /// and the changes that could not start (not counting those on a host that cannot be reached).
    /// With `failing`, a start that is refused fails its deployment.
    func startMany(_ changes: [(PlannedChange, LaunchSpec)], _ used: inout Set<Int>,
                   failing: Bool = true) -> (started: [(PlannedChange, ObservedReplica)], refused: [PlannedChange]) {
        var chosen: [(PlannedChange, LaunchSpec)] = []
        for (c, d) in changes {
            let port = target.freePort(preferred: d.port, avoiding: used)
            used.insert(port)
            chosen.append((c, d.withPort(port)))
        }
        let jobs = chosen
        let results = ResultSlots<Result<ObservedReplica, any Error>>(count: jobs.count)
        let target = self.target
        let environment = self.environment
        @Sendable func start(_ i: Int) {
            let (c, spec) = jobs[i]
            if let host = spec.node, let reason = self.unreachableReason(host) {
                results.set(i, .failure(HostUnreachable(host: host, reason: reason)))
                return
            }
            let r = Result { try target.start(spec, port: spec.port, environment: ExecutorRun.resolved(environment[spec.deployment] ?? [:], for: spec)) }
            switch r {
            case .success(let inst):
                self.emit(.started(id: c.id, instance: inst.instance, port: spec.port, revision: spec.revision))
            case .failure(let error as HostUnreachable):
                self.markUnreachable(error.host, error.reason)
            case .failure(let error):
                self.emit(.failed(id: c.id, reason: "could not start: \(error)", lastLog: []))
            }
            results.set(i, r)
        }
        perHost(jobs.map { $0.1.node ?? "" }) { group in group.forEach(start) }
        var out: [(PlannedChange, ObservedReplica)] = []
        var refused: [PlannedChange] = []
        for (i, (c, spec)) in jobs.enumerated() {
            switch results.get(i) {
            case .success(let inst)?:
                out.append((c, inst))
            case .failure(let error as HostUnreachable)?:
                used.remove(spec.port)
                recordUnreachable(c, error.host, error.reason, c.current?.revision)
            case .failure(let error)?:
                used.remove(spec.port)
                record(c, .failed, "could not start: \(error)", c.current?.revision)
                if failing { markFailed(c.deployment) }
                refused.append(c)
            case nil:
                break
            }
        }
        return (out, refused)
    }

    /// Polls every instance until it is ready, failed, past its start timeout, or its host cannot
    /// be reached; the hosts side by side, so a slow host holds up only its own instances.
    func waitAll(_ items: [(PlannedChange, ObservedReplica)]) -> [(PlannedChange, ObservedReplica, ProbeResult)] {
        let results = ResultSlots<ProbeResult>(count: items.count)
        perHost(items.map { $0.1.launch.node ?? "" }) { group in self.waitSerial(group, items, into: results) }
        return items.indices.map { (items[$0].0, items[$0].1, results.get($0) ?? .failed(reason: "not probed", lastLog: [])) }
    }

    /// The resolved values a spec needs: those of its own env entries that carry no value (secrets,
    /// `valueFrom`). Plain values come from the spec itself, so a revert to an older launch spec runs
    /// with that spec's env, not with variables or values only the new manifest has.
    static func resolved(_ values: [String: Secret], for spec: LaunchSpec) -> [String: Secret] {
        let needed = Set(spec.env.filter { $0.value == nil }.map(\.name))
        return values.filter { needed.contains($0.key) }
    }

    /// One host's instances, polled in turn.
    func waitSerial(_ indices: [Int], _ items: [(PlannedChange, ObservedReplica)], into results: ResultSlots<ProbeResult>) {
        var pending = indices.map { ($0, clock.now()) }
        while !pending.isEmpty {
            var still: [(Int, Duration)] = []
            for (i, t0) in pending {
                let (c, inst) = items[i]
                let elapsed = clock.now() - t0
                if let host = inst.launch.node, let reason = unreachableReason(host) {
                    results.set(i, .unreachable(host: host, reason: reason))
                    continue
                }
                let result = target.probe(inst)
                switch result {
                case .starting(let line):
                    if elapsed > .seconds(inst.launch.startTimeout) {
                        let r = ProbeResult.failed(reason: "not ready after \(inst.launch.startTimeout) s",
                                                   lastLog: inst.lastLog + (line.map { [$0] } ?? []))
                        emit(.failed(id: c.id, reason: describe(r), lastLog: line.map { [$0] } ?? []))
                        results.set(i, r)
                    } else {
                        emit(.waiting(id: c.id, elapsed: elapsed, lastLine: line))
                        still.append((i, t0))
                    }
                case .ready:
                    try? target.markReady(inst)
                    emit(.ready(id: c.id, elapsed: elapsed))
                    results.set(i, result)
                case .drifted, .failed:
                    var lastLog: [String] = []
                    if case .failed(_, let l) = result { lastLog = l }
                    emit(.failed(id: c.id, reason: describe(result), lastLog: lastLog))
                    results.set(i, result)
                case .unreachable(let host, let reason):
                    markUnreachable(host, reason)
                    results.set(i, result)
                }
            }
            pending = still
            if !pending.isEmpty { clock.sleep(for: pollInterval) }
        }
    }

    /// Runs `body` once per host with the indices of the items on it (`hosts[i]` is item i's host),
    /// hosts side by side, at most `maxParallelHosts` at once.
    func perHost(_ hosts: [String], _ body: @escaping @Sendable ([Int]) -> Void) {
        var grouped: [String: [Int]] = [:]
        for (i, host) in hosts.enumerated() { grouped[host, default: []].append(i) }
        let groups = grouped.keys.sorted().compactMap { grouped[$0] }
        BoundedParallel.run(count: groups.count, width: maxParallelHosts) { k in body(groups[k]) }
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
        case .unreachable(let host, let reason): return "host '\(host)' is unreachable: \(reason)"
        }
    }

    /// Stops an instance; false when it could not be stopped (its host cut off is remembered).
    @discardableResult
    ///
    /// A failure that is not an unreachable host (an engine API answering 5xx or timing out under
    /// load) is tried twice more; if the instance still runs, the output says so (the next apply
    /// deletes it as a leftover).
    func stopQuietly(_ inst: ObservedReplica) -> Bool {
        if let host = inst.launch.node, unreachableReason(host) != nil { return false }
        var attempt = 0
        while true {
            attempt += 1
            do {
                try target.stop(inst, grace: stopGrace)
                break
            } catch let e as HostUnreachable {
                markUnreachable(e.host, e.reason)
                return false
            } catch {
                if attempt < 3 {
                    clock.sleep(for: .milliseconds(500 * attempt))
                    continue
                }
                emit(.progress(id: inst.id, message: "could not stop \(inst.instance): \(error)"))
                return false
            }
        }
        lock.withLock { _ = stopped.insert(inst.instance) }
        emit(.stopped(id: inst.id, instance: inst.instance))
        return true
    }

    /// True when this run stopped the instance.
    func wasStopped(_ instance: String) -> Bool { lock.withLock { stopped.contains(instance) } }

    func emit(_ e: ApplyEvent) { lock.withLock { onEvent(e) } }

    func isFailed(_ dep: String) -> Bool { lock.withLock { failed.contains(dep) } }

    /// Marks a deployment failed, and the other parts of its disaggregated deployment with it.
    func markFailed(_ dep: String) {
        for d in withSiblings([dep]).sorted() { lock.withLock { if !failed.contains(d) { failed.append(d) } } }
    }

    /// `deps` and every deployment of the same disaggregated deployment.
    func withSiblings(_ deps: Set<String>) -> Set<String> {
        let failing = Set(deps.compactMap { groups[$0] })
        guard !failing.isEmpty else { return deps }
        return deps.union(groups.filter { failing.contains($0.value) }.map(\.key))
    }

    /// Workers first, routers last: a router that joins finds its workers ready.
    static func routersLast<T>(_ items: [(PlannedChange, ObservedReplica, T)]) -> [(PlannedChange, ObservedReplica, T)] {
        items.filter { $0.1.launch.pd?.role != .router } + items.filter { $0.1.launch.pd?.role == .router }
    }

    /// What the target runs, as membership needs it (where a group's routers and workers are): read
    /// at most once per batch, and only when an instance of a disaggregated deployment joins or leaves.
    func liveView() -> LiveView { LiveView { [target] in (try? target.observe()) ?? [] } }

    /// Puts a ready instance into service (`ReplicaMembership.joined`); why it could not, or nil.
    func join(_ inst: ObservedReplica, _ view: LiveView) -> String? {
        guard let membership, inst.launch.pd != nil else { return nil }
        do {
            try membership.joined(inst, among: view.replicas)
            return nil
        } catch {
            emit(.failed(id: inst.id, reason: "\(error)", lastLog: []))
            return "\(error)"
        }
    }

    /// Takes an instance out of service before it stops (`ReplicaMembership.leaving`); one that has
    /// died already is taken out too (its router would list it, unhealthy, for good).
    func leave(_ inst: ObservedReplica, _ view: LiveView) {
        guard let membership, inst.launch.pd != nil else { return }
        membership.leaving(inst, among: view.replicas)
    }

    func unreachableReason(_ host: String) -> String? { lock.withLock { cutOff[host] } }

    /// Remembers a host that cannot be reached (once, with an event).
    func markUnreachable(_ host: String, _ reason: String) {
        let first: Bool = lock.withLock {
            guard cutOff[host] == nil else { return false }
            cutOff[host] = reason
            return true
        }
        if first { emit(.hostUnreachable(host: host, reason: reason)) }
    }

    func recordUnreachable(_ c: PlannedChange, _ host: String, _ reason: String, _ revision: String?) {
        markUnreachable(host, reason)
        record(c, .failed, "host '\(host)' is unreachable (\(reason)): left as it was; the next apply converges", revision)
    }

    func outcome(_ c: PlannedChange) -> ApplyReport.Outcome? { lock.withLock { outcomes[c.id + c.action.rawValue] } }

    func record(_ c: PlannedChange, _ result: ApplyReport.Outcome.Result, _ message: String, _ revision: String?) {
        lock.withLock {
            outcomes[c.id + c.action.rawValue] = ApplyReport.Outcome(id: c.id, action: c.action, result: result,
                                                                     message: message, revision: revision)
        }
    }
}

/// A target's replicas, read on first use.
final class LiveView {
    private let read: () -> [ObservedReplica]
    private(set) lazy var replicas: [ObservedReplica] = read()
    init(_ read: @escaping () -> [ObservedReplica]) { self.read = read }
}
