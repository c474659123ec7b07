public import DeployCore
public import DeploySpec
public import Engines

/// A place where engines run, as every command sees it: the CLI never learns which kind it holds.
///
/// Two kinds implement it. **Slot targets** (`SlotTarget` over a `ReplicaDriver`: local now, Docker
/// and SSH next) place every replica themselves and reuse the `Renderer`, `Placer`, `Planner` and
/// `ApplyExecutor`. **Server-scheduled targets** (GPUStack now, Kubernetes next) implement this
/// protocol directly: the server places replicas, so their plans change deployments and backend
/// versions, never made-up replica slots. Both return one `Plan`, one `ApplyEvent` stream and one
/// `ApplyReport`. What a target cannot do is declared in `capabilities` and refused in one place
/// (`requireCapability`), never silently ignored.
public protocol Target: Sendable {
    /// Name, type and where it is.
    var ref: TargetRef { get }
    /// What it can do.
    var capabilities: TargetCapabilities { get }

    /// Observes the target and plans the change from what runs to `input`. Pure apart from reading.
    func plan(_ input: PlanInput) throws(TargetError) -> Plan

    /// Applies a plan this target made from `input`, reporting through `events`; always returns a report.
    func apply(_ plan: Plan, _ input: PlanInput, events: @escaping @Sendable (ApplyEvent) -> Void) -> ApplyReport

    /// Every replica the target runs for these manifests (optionally only `deployments`).
    func status(_ deployments: Set<String>?) throws(TargetError) -> [ReplicaStatus]

    /// Writes the last `tail` lines of a replica's engine log to `onText`; with `follow`, keeps
    /// writing new text until `onText` returns false or the log ends.
    func logs(_ deployment: String, replica: Int, tail: Int, follow: Bool,
              onText: @escaping @Sendable (String) -> Bool) throws(TargetError)

    /// The same for one node of a multi-node replica (`node` 0 is rank 0, the replica's own log).
    func logs(_ deployment: String, replica: Int, node: Int, tail: Int, follow: Bool,
              onText: @escaping @Sendable (String) -> Bool) throws(TargetError)

    /// Where clients reach each replica of a deployment (benchmarks and gates use these).
    func endpoints(of deployment: String) throws(TargetError) -> [Endpoint]

    /// Returns a deployment whose rollout by `plan` converged but failed its gate to what ran
    /// before the apply (`apply --gate`).
    func revert(_ deployment: String, in plan: Plan, _ input: PlanInput, reason: String,
                events: @escaping @Sendable (ApplyEvent) -> Void) -> GateRevert

    /// Stops and forgets every replica of `deployments` (`grace` before a hard stop where that
    /// applies); the outcomes name what was deleted.
    func delete(_ deployments: Set<String>, grace: Duration,
                events: @escaping @Sendable (ApplyEvent) -> Void) throws(TargetError) -> ApplyReport

    /// Takes the target's own lock, shared across machines, when it has one (nil: the local state
    /// directory's apply lock is the only one).
    func lock(_ holder: LockHolder) throws(TargetError) -> (any TargetLock)?
}

/// A lock a target holds for one apply or delete, shared by every machine that reaches the target
/// (the Docker target keeps it on its first host); `release` ends it.
public protocol TargetLock: Sendable {
    /// Gives the lock back.
    func release()
}

/// Who takes a target's lock, shown to whoever finds it taken.
public struct LockHolder: Sendable, Hashable, Codable {
    /// `user@host`.
    public var who: String
    /// The host's name (a lock of this host whose process is gone may be taken over).
    public var host: String
    /// The process id.
    public var pid: Int32
    /// The command line.
    public var command: String
    /// When it was taken (ISO 8601).
    public var since: String

    /// Creates a holder.
    public init(who: String, host: String, pid: Int32, command: String, since: String) {
        self.who = who
        self.host = host
        self.pid = pid
        self.command = command
        self.since = since
    }
}

extension Target {
    /// No lock of its own (default).
    public func lock(_ holder: LockHolder) throws(TargetError) -> (any TargetLock)? { nil }

    /// Throws the one error every command gives for an option this target cannot honour.
    public func requireCapability(_ needed: TargetCapabilities, for option: String) throws(TargetError) {
        let missing = needed.subtracting(capabilities)
        guard !missing.isEmpty else { return }
        throw TargetError(.unsupported, "\(option) needs \(missing.names.joined(separator: ", ")), which target '\(ref.name)' "
                          + "(type \(ref.type)) cannot do")
    }
}

/// What a target can do; commands check these in one place.
public struct TargetCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `plan --out` / `apply PLAN`: the target computes an observed digest a saved plan can be checked against.
    public static let savedPlans = TargetCapabilities(rawValue: 1 << 0)
    /// `apply --gate`: endpoints to benchmark and a revert to the previous revision.
    public static let gates = TargetCapabilities(rawValue: 1 << 1)
    /// `logs -f`.
    public static let followLogs = TargetCapabilities(rawValue: 1 << 2)
    /// `apply --prune`.
    public static let prune = TargetCapabilities(rawValue: 1 << 3)
    /// Replicas that span several nodes (`nodes: N`).
    public static let multiNode = TargetCapabilities(rawValue: 1 << 4)
    /// `apply`: the target changes what runs (a render-only target would not).
    public static let apply = TargetCapabilities(rawValue: 1 << 5)
    /// `plan`, `status`, `logs`: the target can read what runs (a render-only target cannot).
    public static let observe = TargetCapabilities(rawValue: 1 << 6)

    /// Every capability with its name, in a stable order.
    public static let all: [(TargetCapabilities, String)] = [
        (.savedPlans, "saved plans"), (.gates, "benchmark gates"), (.followLogs, "following logs"),
        (.prune, "pruning"), (.multiNode, "multi-node replicas"), (.apply, "apply"),
        (.observe, "observing what runs"),
    ]

    /// Names of the capabilities in this set.
    public var names: [String] { Self.all.filter { contains($0.0) }.map(\.1) }
}

/// What a target plans and applies: validated deployments and their resolved environments.
public struct PlanInput: Sendable {
    /// The deployments that run on the target, resolved and valid.
    public var deployments: [ResolvedDeployment]
    /// Manifest files they came from.
    public var files: [String]
    /// Plan to delete what this manifest set runs on the target but no longer declares.
    public var prune: Bool
    /// Resolved env (secrets included) per deployment; apply needs every deployment's, plan takes
    /// what could be resolved.
    public var environment: [String: [String: Secret]]
    /// Why a deployment's env could not be resolved (plan only), by deployment.
    public var unresolved: [String: String]

    /// Creates an input.
    public init(deployments: [ResolvedDeployment], files: [String], prune: Bool = false,
                environment: [String: [String: Secret]] = [:], unresolved: [String: String] = [:]) {
        self.deployments = deployments
        self.files = files
        self.prune = prune
        self.environment = environment
        self.unresolved = unresolved
    }
}

/// One replica as `status` shows it: the same fields on every target (`docs/output.md`).
public struct ReplicaStatus: Sendable, Codable, Hashable {
    /// Lifecycle state, the same words on every target.
    public enum State: String, Sendable, Codable, Hashable {
        /// Waiting for the server to schedule it (server-scheduled targets).
        case pending
        /// Started, not yet verified ready.
        case starting
        /// Ready (and verified where the target verifies).
        case ready
        /// Ready, but the engine reports other args than intended.
        case drifted
        /// Stopped or exited.
        case exited
        /// Failed its readiness check, or the server reports an error.
        case failed
    }

    /// Deployment name.
    public var deployment: String
    /// Replica index (position among the deployment's instances on server-scheduled targets).
    public var replica: Int?
    /// The target's id of the running instance (an instance id, a GPUStack instance name).
    public var instance: String?
    /// Revision it runs (nil when the target cannot tell).
    public var revision: String?
    /// State.
    public var state: State
    /// Where clients reach it (`http://host:port`), when known.
    public var endpoint: String?
    /// The host or worker it runs on, when the target has several.
    public var host: String?
    /// The GPU ids it holds on that host (as `nvidia-smi` numbers them), when it has any and the
    /// target knows them; rank 0's for a group on several hosts.
    public var gpus: [Int]? = nil
    /// Engine process id (local), when alive.
    public var pid: Int32?
    /// Seconds since the epoch when it started, when known.
    public var startedAt: Double?
    /// Exit status when it has exited (`exit 1`, `signal 9`).
    public var exitStatus: String?
    /// Restarts the target made, when it counts them.
    public var restarts: Int?
    /// The target's own words about the state (GPUStack's state message), when any.
    public var message: String?
    /// Flags the engine reports differently from what it was asked to run.
    public var drift: [FlagDiffEntry]
    /// Last log lines of a replica that is not running.
    public var lastLog: [String]
    /// What only this target knows, by name (GPUStack: `model_id`, `model_state`, `ready_replicas`,
    /// `injected_flags`); empty when none.
    public var details: [String: String] = [:]

    /// Creates a row.
    public init(deployment: String, replica: Int?, instance: String?, revision: String?, state: State,
                endpoint: String? = nil, host: String? = nil, pid: Int32? = nil, startedAt: Double? = nil,
                exitStatus: String? = nil, restarts: Int? = nil, message: String? = nil,
                drift: [FlagDiffEntry] = [], lastLog: [String] = []) {
        self.deployment = deployment
        self.replica = replica
        self.instance = instance
        self.revision = revision
        self.state = state
        self.endpoint = endpoint
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        self.exitStatus = exitStatus
        self.restarts = restarts
        self.message = message
        self.drift = drift
        self.lastLog = lastLog
    }
}

/// Where clients reach one replica.
public struct Endpoint: Sendable, Codable, Hashable {
    /// Deployment name.
    public var deployment: String
    /// Replica index.
    public var replica: Int
    /// Base URL (`http://10.0.0.11:30000`), never a wildcard bind address.
    public var url: String
    /// Revision it serves, when the target knows.
    public var revision: String?
    /// True when it is ready to serve.
    public var ready: Bool
    /// The model name clients must send, when the target decides it (GPUStack serves a model under
    /// its own name); nil: the deployment's `servedModelName`.
    public var model: String?
    /// The engine serving it, when the target knows (the API a client should speak).
    public var engine: EngineKind?

    /// Creates an endpoint.
    public init(deployment: String, replica: Int, url: String, revision: String?, ready: Bool, model: String? = nil,
                engine: EngineKind? = nil) {
        self.engine = engine
        self.deployment = deployment
        self.replica = replica
        self.url = url
        self.revision = revision
        self.ready = ready
        self.model = model
    }

    /// A URL clients can use for an engine bound to `host` (a wildcard bind is reached on loopback).
    public static func url(host: String, port: Int) -> String {
        let h: String
        switch host {
        case "0.0.0.0", "", "*": h = "127.0.0.1"
        case "::", "[::]": h = "[::1]"
        default: h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        }
        return "http://\(h):\(port)"
    }
}

/// Why a target could not do something.
public struct TargetError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: String, Sendable {
        /// The target cannot do what was asked (a capability it lacks).
        case unsupported
        /// What was named does not exist there.
        case notFound
        /// The target (server, state) could not be reached or read.
        case unavailable
        /// The target refused it.
        case rejected
        /// The configuration is unusable (a secret that cannot be read ...).
        case configuration
    }

    /// The kind.
    public var kind: Kind
    /// What went wrong, for people (never a secret).
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

extension Target {
    /// Node 0 is the replica's log; a target without multi-node replicas has no other node.
    public func logs(_ deployment: String, replica: Int, node: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        guard node == 0 else {
            throw TargetError(.notFound, "\(deployment)/\(replica) has no node \(node) on target '\(ref.name)' (type \(ref.type))")
        }
        try logs(deployment, replica: replica, tail: tail, follow: follow, onText: onText)
    }
}
