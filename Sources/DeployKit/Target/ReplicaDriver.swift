public import DeployCore

/// What a probe of a starting instance found.
public enum ProbeResult: Sendable, Hashable {
    /// Still starting; the last log line, if any.
    case starting(lastLine: String?)
    /// Ready, and the engine reports exactly the intended args.
    case ready
    /// Ready, but the engine reports other args than intended: a failed rollout.
    case drifted([FlagDiffEntry])
    /// The process died or the readiness check failed for good.
    case failed(reason: String, lastLog: [String])
    /// The instance's host cannot be reached (its API or connection): nothing is known of the
    /// instance, and nothing more is done on that host in this apply.
    case unreachable(host: String, reason: String)
}

/// A host a change could not reach (its Engine API or SSH connection). The executor stops working
/// on that host for the rest of the apply, reports it, and lets the other hosts' changes finish or
/// revert by their own results; the next apply converges.
public struct HostUnreachable: Error, Sendable, CustomStringConvertible {
    /// The host's name in the Target document.
    public var host: String
    /// What failed, for people.
    public var reason: String

    /// Creates the error.
    public init(host: String, reason: String) {
        self.host = host
        self.reason = reason
    }

    public var description: String { "host '\(host)' is unreachable: \(reason)" }
}

/// What a slot target's driver does: the narrow interface between `SlotTarget` (renderer, placer,
/// planner, executor) and the place where engine instances run.
///
/// Implementations: `LocalDriver` (processes + SQLite state), `InMemoryDriver` (tests, shipped in
/// the library). GPUStack does not conform: its server places replicas, so it implements `Target`
/// directly. No method waits for readiness (the executor polls `probe`); `stop` may wait up to its
/// grace period.
public protocol ReplicaDriver: AnyObject, Sendable {
    /// Every instance the target knows about, alive or dead, with drift filled in for ready ones.
    func observe() throws -> [ObservedReplica]

    /// Starts an instance of `spec` listening on `port`, with the fully resolved environment.
    ///
    /// The executor passes `spec.withPort(port)`: the argv already carries the chosen port.
    func start(_ spec: LaunchSpec, port: Int, environment: [String: Secret]) throws -> ObservedReplica

    /// Checks a starting instance once (readiness, then config readback).
    func probe(_ instance: ObservedReplica) -> ProbeResult

    /// Records that an instance passed readiness and verification (it becomes the slot's current one).
    func markReady(_ instance: ObservedReplica) throws

    /// Records new labels for a live instance (no restart).
    func updateLabels(_ instance: ObservedReplica, labels: [String: String]) throws

    /// Stops an instance (SIGTERM, `grace`, SIGKILL) and forgets it.
    func stop(_ instance: ObservedReplica, grace: Duration) throws

    /// A free port for a new instance of a deployment, preferring `preferred`.
    func freePort(preferred: Int, avoiding: Set<Int>) -> Int

    /// Writes the last `tail` lines of a slot's current log to `onText`; with `follow`, keeps writing
    /// new text until `onText` returns false. Throws `TargetError.notFound` when the slot has no log.
    func logs(deployment: String, replica: Int, tail: Int, follow: Bool,
              onText: @escaping @Sendable (String) -> Bool) throws(TargetError)

    /// The same for node `node` of a multi-node replica (0: the replica's own log). Default: node 0 only.
    func logs(deployment: String, replica: Int, node: Int, tail: Int, follow: Bool,
              onText: @escaping @Sendable (String) -> Bool) throws(TargetError)

    /// What would stop `specs` from starting, found before anything is stopped (an image a host
    /// does not have); plan blockers. Default: nothing.
    func preflight(_ specs: [LaunchSpec]) -> [String]

    /// Requests made to remote APIs so far (a driver that talks to servers), nil when none.
    var apiCalls: APICalls? { get }

    /// Takes a lock every machine reaching these hosts sees, when the driver has one.
    func lock(_ holder: LockHolder) throws(TargetError) -> (any TargetLock)?

    /// The hosts with the GPUs that may be handed out now: `declared` as the Target says, filled in
    /// where the driver can read a host's GPUs (and leaves out the ones others use). Default: `declared`.
    func inventory(_ declared: [InventoryHost], observed: [ObservedReplica]) -> [InventoryHost]
}

extension ReplicaDriver {
    public func logs(deployment: String, replica: Int, node: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        guard node == 0 else { throw TargetError(.notFound, "\(deployment)/\(replica) has no node \(node)") }
        try logs(deployment: deployment, replica: replica, tail: tail, follow: follow, onText: onText)
    }

    public func inventory(_ declared: [InventoryHost], observed: [ObservedReplica]) -> [InventoryHost] { declared }
    public func lock(_ holder: LockHolder) throws(TargetError) -> (any TargetLock)? { nil }
    public func preflight(_ specs: [LaunchSpec]) -> [String] { [] }
    public var apiCalls: APICalls? { nil }
}

/// A source of time and sleep, injected so executor and driver tests never sleep for real.
public protocol DeployClock: Sendable {
    /// The time: since the Unix epoch on the system clock, since its start on a manual clock.
    func now() -> Duration
    /// Waits about this long (a manual clock advances instead).
    func sleep(for duration: Duration)
}

extension Duration {
    /// The duration in seconds (for JSON, state rows and people).
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// A duration of `seconds` seconds.
    public static func seconds(fractional seconds: Double) -> Duration {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}

/// Where replicas serve beyond their own port: the workers of a disaggregated deployment are
/// registered with its router (sglang-router's `POST /workers`) once they are ready, and taken out
/// (and drained) before they stop. The executor calls it around every start and stop; `live` is what
/// the target runs at that moment.
public protocol ReplicaMembership: Sendable {
    /// `instance` is ready and verified: put it into service (a worker with its group's routers; a
    /// router with its group's ready workers, then wait until the router is ready). Throwing fails
    /// the instance, and its deployment reverts.
    func joined(_ instance: ObservedReplica, among live: [ObservedReplica]) throws
    /// `instance` is about to stop (or has died): take it out of service and, while it runs, let the
    /// requests it has finish.
    func leaving(_ instance: ObservedReplica, among live: [ObservedReplica])
    /// Why `instance`, running and verified, is not in service as intended (`plan` reports it, and
    /// `apply` joins it again); nil when it is.
    func outOfService(_ instance: ObservedReplica, among live: [ObservedReplica]) -> String?
}

extension ReplicaMembership {
    /// Nothing checks: in service.
    public func outOfService(_ instance: ObservedReplica, among live: [ObservedReplica]) -> String? { nil }
}
