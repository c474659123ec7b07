public import DeployCore
import Foundation

/// A real in-memory `ReplicaDriver`: instances are records whose readiness follows a script.
///
/// Used by planner, executor and slot-target tests; nothing sleeps for real.
public final class InMemoryDriver: ReplicaDriver, @unchecked Sendable {
    /// How a started instance behaves.
    public enum Behavior: Sendable, Hashable {
        /// Ready after this much (manual) clock time.
        case readyAfter(Duration)
        /// Never ready.
        case neverReady
        /// Dies right away with this log line.
        case crash(String)
        /// Ready, but reports other args.
        case drift([FlagDiffEntry])
        /// `start` throws with this message (the image is missing, the host refuses).
        case cannotStart(String)
    }

    private let lock = NSLock()
    private var instances: [String: (ObservedReplica, Behavior, Duration)] = [:]
    private var counter = 0
    let clock: any DeployClock
    /// Decides the behaviour of each started instance from its launch spec.
    public var behavior: @Sendable (LaunchSpec) -> Behavior = { _ in .readyAfter(.seconds(1)) }
    /// Every call, in order, for assertions ("start dspark/0 rev", "stop dspark/0 inst").
    public private(set) var calls: [String] = []

    /// Adds a line to `calls` (what a test's collaborators did, in order with the driver's calls).
    public func note(_ line: String) { lock.withLock { calls.append(line) } }
    /// Environment each instance got (for tests of secret handling; values stay `Secret`).
    public private(set) var environments: [String: [String: Secret]] = [:]
    /// Hosts cut off from this machine: starting, probing or stopping an instance there fails as
    /// unreachable (the instances stay as they were).
    public var unreachable: Set<String> {
        get { lock.withLock { cut } }
        set { lock.withLock { cut = newValue } }
    }
    private var cut: Set<String> = []
    /// Called after each start (tests cut a host off mid-rollout from here).
    public var afterStart: @Sendable (LaunchSpec) -> Void = { _ in }

    /// Creates an empty target on a clock.
    public init(clock: any DeployClock) { self.clock = clock }

    /// Every instance; throws while a host is cut off (as a fleet's driver cannot read that host).
    public func observe() throws -> [ObservedReplica] {
        try lock.withLock {
            if let host = cut.sorted().first { throw TargetError(.unavailable, "host '\(host)' is unreachable") }
            return instances.values.map { $0.0 }.sorted { $0.startedAt < $1.startedAt }
        }
    }

    public func start(_ spec: LaunchSpec, port: Int, environment: [String: Secret]) throws -> ObservedReplica {
        if let node = spec.node, unreachable.contains(node) {
            lock.withLock { calls.append("unreachable \(spec.id) \(node)") }
            throw HostUnreachable(host: node, reason: "no route to host")
        }
        defer { afterStart(spec) }
        let b = behavior(spec)
        if case .cannotStart(let why) = b {
            lock.withLock { calls.append("refused \(spec.id) \(spec.revision)") }
            throw TargetError(.rejected, why)
        }
        return lock.withLock {
            counter += 1
            let id = "i\(counter)"
            var s = spec
            s.port = port
            let o = ObservedReplica(deployment: spec.deployment, replica: spec.replica, instance: id,
                                    revision: spec.revision, state: .starting, launch: s, pid: Int32(1000 + counter),
                                    port: port, startedAt: clock.now().inSeconds, labels: spec.labels)
            instances[id] = (o, b, clock.now())
            environments[id] = environment
            calls.append("start \(spec.id) \(spec.revision)")
            return o
        }
    }

    public func probe(_ instance: ObservedReplica) -> ProbeResult {
        lock.withLock {
            if let node = instance.launch.node, cut.contains(node) { return .unreachable(host: node, reason: "no route to host") }
            guard let (o, b, t0) = instances[instance.instance] else {
                return .failed(reason: "instance is gone", lastLog: [])
            }
            switch b {
            case .readyAfter(let d): return clock.now() - t0 >= d ? .ready : .starting(lastLine: "loading")
            case .neverReady: return .starting(lastLine: "still loading")
            case .crash(let line):
                var dead = o
                dead.state = .exited
                dead.exitStatus = "exit 1"
                dead.lastLog = [line]
                instances[instance.instance] = (dead, b, t0)
                return .failed(reason: "process exited (exit 1)", lastLog: [line])
            case .drift(let d): return .drifted(d)
            case .cannotStart: return .failed(reason: "never started", lastLog: [])
            }
        }
    }

    public func markReady(_ instance: ObservedReplica) throws {
        lock.withLock {
            guard var e = instances[instance.instance] else { return }
            e.0.state = .ready
            instances[instance.instance] = e
        }
    }

    public func updateLabels(_ instance: ObservedReplica, labels: [String: String]) throws {
        lock.withLock {
            guard var e = instances[instance.instance] else { return }
            e.0.labels = labels
            e.0.launch.labels = labels
            instances[instance.instance] = e
            calls.append("labels \(instance.id)")
        }
    }

    /// The next this many `stop` calls fail (an engine API answering 500), then stops work again.
    public var failingStops = 0

    /// What a failing stop throws.
    public struct StopFailed: Error, CustomStringConvertible {
        public var description: String { "HTTP 500: injected stop failure" }
    }

    public func stop(_ instance: ObservedReplica, grace: Duration) throws {
        if let node = instance.launch.node, unreachable.contains(node) { throw HostUnreachable(host: node, reason: "no route to host") }
        let fail = lock.withLock { () -> Bool in
            guard failingStops > 0 else { return false }
            failingStops -= 1
            calls.append("stop failed \(instance.id) \(instance.revision)")
            return true
        }
        if fail { throw StopFailed() }
        lock.withLock {
            instances[instance.instance] = nil
            calls.append("stop \(instance.id) \(instance.revision)")
        }
    }

    public func freePort(preferred: Int, avoiding: Set<Int>) -> Int {
        var p = preferred
        while avoiding.contains(p) { p += 1 }
        return p
    }

    /// One line per instance of the slot: `instance revision state`.
    public func logs(deployment: String, replica: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        let lines: [String] = lock.withLock {
            instances.values.map(\.0).filter { $0.deployment == deployment && $0.replica == replica }
                .sorted { $0.startedAt < $1.startedAt }.map { "\($0.instance) \($0.revision) \($0.state.rawValue)" }
        }
        guard !lines.isEmpty else { throw TargetError(.notFound, "no log for \(deployment)/\(replica)") }
        _ = onText(lines.suffix(tail).map { $0 + "\n" }.joined())
    }

    /// Kills an instance behind the executor's back (a crash after start).
    public func kill(_ instanceID: String) {
        lock.withLock {
            guard var e = instances[instanceID] else { return }
            e.0.state = .exited
            e.0.exitStatus = "signal 9"
            instances[instanceID] = e
        }
    }
}

/// A clock that only moves when told to: `sleep` advances it.
public final class ManualClock: DeployClock, @unchecked Sendable {
    private let lock = NSLock()
    private var t: Duration

    /// Starts at `start`.
    public init(start: Duration = .zero) { t = start }

    public func now() -> Duration { lock.withLock { t } }
    public func sleep(for duration: Duration) { lock.withLock { t += duration } }
}

/// The wall clock.
public struct SystemClock: DeployClock {
    /// Creates the wall clock.
    public init() {}
    public func now() -> Duration { .seconds(fractional: Date().timeIntervalSince1970) }
    public func sleep(for duration: Duration) { Thread.sleep(forTimeInterval: duration.inSeconds) }
}
