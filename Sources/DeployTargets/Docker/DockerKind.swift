public import DeployKit
public import DeploySpec
import DeployCore
import Foundation

/// `type: docker`: Docker hosts you own (dockerd or podman's compatible API). Each replica is a
/// container on one of them, placed by the Placer from the hosts' GPUs.
public enum DockerKind: TargetKind {
    public static let type = "docker"
    public static let capabilities: TargetCapabilities = [.savedPlans, .gates, .followLogs, .prune, .apply]

    static let host = ObjectSchema("DockerHost", [
        FieldSchema("name", .string(pattern: TargetTypeSchema.namePattern), required: true, "The host's name (placement, status)."),
        FieldSchema("docker", .string(), required: true,
                    "Its Engine API: `unix:///var/run/docker.sock`, `tcp://host:2375`, or `ssh://[user@]host[:port][/remote/docker.sock]` through your OpenSSH (TLS: not yet)."),
        FieldSchema("gpus", .any, "GPUs to hand out: a count (`8`: ids 0…7) or a list of ids; omitted: not counted."),
        FieldSchema("address", .string(), "What clients and `{{worker_ip}}` use; default: the tcp:// or ssh:// host, or 127.0.0.1 for a unix socket."),
    ])

    public static let schema = TargetTypeSchema(
        type: type, summary: "Docker hosts you own: each replica a container on the host's network, GPUs as device requests.",
        fields: [
            FieldSchema("hosts", .list(.object(host)), required: true, "The Docker hosts replicas are placed on."),
            FieldSchema("sshConfig", .string(),
                        "An ssh_config file for ssh:// hosts, relative to the manifest; default: your own (~/.ssh/config)."),
            FieldSchema("pull", .enumeration(["always", "missing", "never"]),
                        "When images are pulled: always, missing, or never (default: a missing image is an error)."),
        ],
        multiNode: capabilities.contains(.multiNode), containers: true, check: check)

    /// Problems of a docker Target document, located at its `hosts`.
    @Sendable static func check(_ t: TargetConfig, _ files: (any ManifestFileSource)?) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let at = t.location(of: "hosts")
        guard case .list(let items)? = t.fields["hosts"], !items.isEmpty else {
            return [.error("missing-key", "target '\(t.name)' of type docker needs at least one host in 'hosts'", at: at)]
        }
        var names: Set<String> = []
        for (i, item) in items.enumerated() {
            guard case .map(let m) = item else { continue }
            let name: String
            if case .scalar(let n)? = m["name"] { name = n } else { name = "#\(i)" }
            if !names.insert(name).inserted {
                out.append(.error("duplicate-key", "target '\(t.name)': host '\(name)' is listed twice", at: at))
            }
            if case .scalar(let d)? = m["docker"], case .failure(let e) = DockerEndpoint.parse(d) {
                out.append(.error("invalid-value", "target '\(t.name)', host '\(name)': docker '\(d)' \(e.message)", at: at))
            }
            if let g = m["gpus"], gpuIDs(g) == nil {
                out.append(.error("invalid-value", "target '\(t.name)', host '\(name)': gpus must be a count or a list of GPU ids", at: at))
            }
        }
        return out
    }

    /// A host's `gpus`: a count (ids 0…n-1) or a list of ids; nil when it is neither.
    static func gpuIDs(_ v: ConfigValue) -> [Int]? {
        switch v {
        case .scalar(let s): return Int(s).flatMap { $0 >= 0 ? Array(0..<$0) : nil }
        case .list(let items):
            let ids = items.compactMap { if case .scalar(let s) = $0 { return Int(s) } else { return nil } }
            return ids.count == items.count && ids.allSatisfy { $0 >= 0 } ? ids : nil
        default: return nil
        }
    }

    /// The hosts of a Target document (name, endpoint, address, GPUs).
    static func hosts(_ t: TargetConfig) -> [(name: String, endpoint: DockerEndpoint, address: String, gpus: [Int]?)] {
        guard case .list(let items)? = t.fields["hosts"] else { return [] }
        return items.compactMap { item in
            guard case .map(let m) = item, case .scalar(let name)? = m["name"], case .scalar(let d)? = m["docker"],
                  case .success(let endpoint) = DockerEndpoint.parse(d) else { return nil }
            var address = endpoint.defaultAddress
            if case .scalar(let a)? = m["address"] { address = a }
            return (name, endpoint, address, m["gpus"].flatMap(gpuIDs))
        }
    }

    public static func inventory(_ config: TargetConfig?) -> [InventoryHost] {
        config.map { hosts($0).map { InventoryHost(name: $0.name, address: $0.address, gpus: $0.gpus) } } ?? []
    }

    public static func make(_ config: TargetConfig?, _ context: TargetContext) throws(TargetError) -> any Target {
        guard let t = config else { throw TargetError(.configuration, "a docker target needs a Target document") }
        let list = hosts(t)
        guard !list.isEmpty else { throw TargetError(.configuration, "target '\(t.name)' has no usable host") }
        let pull = t.string("pull").flatMap(PullPolicy.init(rawValue:)) ?? .never
        let sshConfig = t.string("sshConfig").map { ManifestPath.resolve($0, from: t.file) }
        let driver = DockerDriver(target: t.name, hosts: list.map { h in
            var tunnel: SSHTunnel?
            if case .ssh(let destination, let port, let socket) = h.endpoint.kind {
                tunnel = SSHTunnel(destination: destination, port: port, remoteSocket: socket, configFile: sshConfig,
                                   directory: context.stateDirectory + "/ssh", environment: context.environment)
            }
            return DockerHost(name: h.name, address: h.address, api: DockerAPI(endpoint: h.endpoint, tunnel: tunnel))
        },
                                  pull: pull, stateDirectory: context.stateDirectory, clock: context.clock,
                                  environment: context.environment)
        let stateDirectory = context.stateDirectory
        do { try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true) } catch {
            throw TargetError(.unavailable, "cannot create \(stateDirectory): \(error)")
        }
        let detail = list.map { "\($0.name) (\($0.endpoint.description))" }.joined(separator: ", ")
        // No secret digests: their key is per state directory, and the state of this target lives on the
        // hosts, where any machine must plan the same (a rotated secret value needs a change or a restart).
        return SlotTarget(ref: TargetRef(name: t.name, type: type, detail: "Docker hosts " + detail), driver: driver,
                          hosts: inventory(t), clock: context.clock, capabilities: capabilities)
    }
}
