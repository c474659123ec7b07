import DeployCore
public import DeploySpec
public import Engines
import DeployTemplate

/// Everything needed to start one replica: the exact argv, env, image, port and GPUs.
public struct LaunchSpec: Sendable, Codable, Hashable {
    /// Deployment name.
    public var deployment: String
    /// Replica index (0-based).
    public var replica: Int
    /// Container image of the backend version.
    public var image: String
    /// Engine family.
    public var engine: EngineKind
    /// Engine version (flag catalog).
    public var engineVersion: String
    /// The full argv: entrypoint, rendered run command, backend args, deployment args.
    public var argv: [String]
    /// Environment, in order; secret values are never stored here.
    public var env: [RenderedEnv]
    /// Address the engine binds to and clients use (`{{worker_ip}}`): its host's address.
    public var host: String
    /// How a container target runs it (the deployment's `container` settings), nil when not written.
    public var container: ContainerSettings? = nil
    /// Where the model comes from (`huggingface`, `modelscope`, `local`): a container target sets the
    /// engine's hub up from it.
    public var modelSource: String? = nil
    /// The inventory host it was placed on (slot targets with several hosts); nil before placement.
    public var node: String? = nil
    /// Nodes the replica spans (`nodesPerReplica`), nil for one: the target runs it as one group.
    public var nodes: Int? = nil
    /// Its place in a disaggregated deployment (prefill, decode or router), nil for a plain one.
    public var pd: PDMember? = nil
    /// Where each node of a group placed on distinct hosts runs, in rank order (rank 0 is `node`,
    /// `host` and `gpuIds`); nil for one node or nodes sharing one host (`local`).
    public var nodeHosts: [ReplicaPlacement]? = nil
    /// The run command's argv words rendered from templates, for rendering them again per node
    /// (`{{worker_ip}}`, `{{gpu_ids}}` of that node's host); set only with `nodeHosts`.
    public var nodeTemplateTokens: [PortToken]? = nil
    /// Port of this replica.
    public var port: Int
    /// GPU ids assigned (also in `CUDA_VISIBLE_DEVICES` at launch).
    public var gpuIds: [Int]
    /// Each flag with its canonical name, value and origin.
    public var flags: [RenderedFlag]
    /// Canonical engine flags of backend + deployment args (template flags excluded).
    public var flagSet: FlagSet
    /// Number of leading argv elements that are the entrypoint (a target may substitute them).
    public var entrypointCount: Int
    /// Labels of the deployment (metadata only; never part of the revision).
    public var labels: [String: String]
    /// Readiness override: HTTP path.
    public var readinessPath: String?
    /// Readiness override: log line.
    public var readinessLogLine: String?
    /// Start timeout in seconds.
    public var startTimeout: Int
    /// Rollout: replicas that may be unavailable during a replace.
    public var maxUnavailable: Int
    /// Rollout: extra instances allowed during a replace.
    public var maxSurge: Int
    /// Fingerprint of the deployment's configuration; equal across replicas of one revision.
    public var revision: String
    /// Target name (`local` when none).
    public var target: String
    /// argv elements rendered from run-command words that contain `{{port}}` (for `withPort`).
    public var portTokens: [PortToken]
    /// The template values the argv was rendered with (never secrets).
    public var templateValues: [String: String]
    /// Keyed digests (never the values) of env values the revision does not show — secrets and
    /// `valueFrom` values — by env name; set when the values were resolved (apply, plan where possible).
    public var secretDigests: [String: String]? = nil
    /// Which file and line set each deployment field, by dotted path (`replicas`, `model.id`,
    /// `labels.env`); flags and env carry their own. Provenance only: never part of the revision.
    public var fieldOrigins: [String: ValueOrigin]? = nil

    /// The same launch on another port: every argv word that contained `{{port}}` is rendered again.
    public func withPort(_ newPort: Int) -> LaunchSpec {
        var s = self
        let pdFlags = pdFlags()
        if !pdFlags.isEmpty, s.argv.suffix(pdFlags.count).elementsEqual(pdFlags) { s.argv.removeLast(pdFlags.count) }
        s.port = newPort
        var values = templateValues
        values["port"] = String(newPort)
        s.templateValues = values
        for t in portTokens where t.index < s.argv.count {
            if let tpl = try? Template(parsing: t.template), case .success(let text) = tpl.render(values) {
                s.argv[t.index] = text
            }
        }
        for i in s.flags.indices where s.flags[i].source == .template {
            s.flags[i].tokens = s.flags[i].tokens.map { $0 == String(port) ? String(newPort) : $0 }
        }
        if !pdFlags.isEmpty { s.argv += s.pdFlags() }
        return s
    }

    /// The `deployment/index` id.
    public var id: String { "\(deployment)/\(replica)" }
}

/// An argv element rendered from a run-command word containing `{{port}}`.
public struct PortToken: Sendable, Codable, Hashable {
    /// Index in `argv`.
    public var index: Int
    /// The word as written in the template.
    public var template: String
}

/// One env var of a replica as printed: secret values are `nil` and print as `***`.
public struct RenderedEnv: Sendable, Codable, Hashable {
    /// Variable name.
    public var name: String
    /// Value, or nil when secret.
    public var value: String?
    /// True when the value is secret.
    public var secret: Bool
    /// Where a secret comes from (`env:NAME`, `file:PATH`, `literal`), for people; never the value.
    public var from: String?
    /// Which file and line set it (base, overlay, `--values`, `--set`); nil for variables dsdeploy adds.
    public var origin: ValueOrigin? = nil

    /// The value as shown to people.
    public var display: String { value ?? (secret ? "***" : "<\(from ?? "unset")>") }
}

/// One flag in a rendered argv, with its origin.
public struct RenderedFlag: Sendable, Codable, Hashable {
    /// Canonical flag name (or the flag as written when unknown).
    public var name: String
    /// The argv tokens of this flag (`["--tp-size", "8"]` or `["--tp-size=8"]`).
    public var tokens: [String]
    /// Where it came from: the run-command template, the backend's args, the deployment's args.
    public var source: ArgSource
    /// Which file and line set the final value: base, overlay (which), `--values` or `--set`.
    public var origin: ValueOrigin? = nil
}

extension LaunchSpec {
    /// The flags of its place in a disaggregated deployment that depend on its port, at the end of its
    /// argv (`withPort` and a target that moves the port render them again; like `--port`, they are
    /// not in the flag set): a prefill server's
    /// `--disaggregation-bootstrap-port PORT+1500`; the router's Prometheus listener on its own
    /// address at PORT+1500 (sglang-router's default, 0.0.0.0:29000, is one per host), unless written.
    public func pdFlags() -> [String] {
        switch pd?.role {
        case .prefill?:
            return ["--disaggregation-bootstrap-port", String(port + PDExpansion.bootstrapPortOffset)]
        case .router?:
            guard flagSet["--prometheus-port"] == nil else { return [] }
            return (flagSet["--prometheus-host"] == nil ? ["--prometheus-host", templateValues["worker_ip"] ?? host] : [])
                + ["--prometheus-port", String(port + PDExpansion.prometheusPortOffset)]
        case .decode?, nil:
            return []
        }
    }

    /// A prefill server's bootstrap port (what the router is told when the server joins), nil otherwise.
    public var bootstrapPort: Int? { pd?.role == .prefill ? port + PDExpansion.bootstrapPortOffset : nil }

    /// Node `rank`'s own launch in a group placed on distinct hosts (`nodeHosts`): its host, address
    /// and GPUs, the run command's template words rendered again with its `{{worker_ip}}` and
    /// `{{gpu_ids}}` (the port is the replica's on every host), `CUDA_VISIBLE_DEVICES` from its GPUs
    /// unless the deployment sets it, and the engine's multi-node flags for the rank appended.
    /// Rank 0 is the spec itself plus its flags. Without `nodeHosts`, the spec unchanged.
    public func forNode(_ rank: Int) -> LaunchSpec {
        guard let placed = nodeHosts, rank >= 0, rank < placed.count else { return self }
        let p = placed[rank]
        var s = self
        let ids = p.gpuIds.map(String.init).joined(separator: ",")
        var values = templateValues
        values["worker_ip"] = p.bindAddress ?? p.address
        values["gpu_ids"] = ids
        for t in nodeTemplateTokens ?? [] where t.index < s.argv.count {
            if let tpl = try? Template(parsing: t.template), case .success(let text) = tpl.render(values) { s.argv[t.index] = text }
        }
        let own = gpuIds.map(String.init).joined(separator: ",")
        s.env = env.map { e in
            var e = e
            if e.name == "CUDA_VISIBLE_DEVICES", e.value == own { e.value = ids }
            return e
        }
        s.templateValues = values
        s.node = p.host
        s.host = p.address
        s.gpuIds = p.gpuIds
        s.argv += nodeFlags(rank: rank)
        return s
    }

    /// The engine's multi-node flags for node `rank` of this replica (`nodes` > 1), with rank 0's
    /// rendezvous at `host:port + 1000`; empty for one node or an engine that cannot span nodes.
    public func nodeFlags(rank: Int) -> [String] {
        guard let n = nodes, n > 1, let flags = MultiNodeFlags.of(engine) else { return [] }
        return flags.argv(for: engine, rank: rank, nodes: n, host: host, port: rendezvousPort)
    }

    /// Where rank 0 of a multi-node replica waits for the other nodes: the replica's port + 1000.
    public var rendezvousPort: Int { port + 1000 }
}
