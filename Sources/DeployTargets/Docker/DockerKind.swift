public import DeployKit
public import DeploySpec
import CurlHTTP
import DeployCore
import Foundation

/// `type: docker`: Docker hosts you own (dockerd or podman's compatible API). Each replica is a
/// container on one of them, placed by the Placer from the hosts' GPUs.
public enum DockerKind: TargetKind {
    public static let type = "docker"
    public static let capabilities: TargetCapabilities = [.savedPlans, .gates, .followLogs, .prune, .apply, .multiNode, .observe]
    /// A multi-node replica's nodes run on distinct hosts, one container each.
    public static var spreadsNodes: Bool { true }

    static let host = ObjectSchema("DockerHost", [
        FieldSchema("name", .string(pattern: TargetTypeSchema.namePattern), required: true, "The host's name (placement, status)."),
        FieldSchema("docker", .string(), required: true,
                    "Its Engine API: `unix:///var/run/docker.sock`, `tcp://host:2376` (TLS with the Target's `tls`; plain HTTP without), or `ssh://[user@]host[:port][/remote/docker.sock]` through your OpenSSH."),
        FieldSchema("gpus", .any, "GPUs to hand out: a count (`8`: ids 0…7) or a list of ids; omitted: what the host's nvidia-smi reports free (not counted without one)."),
        FieldSchema("address", .string(), "What clients and `{{worker_ip}}` use; default: the tcp:// or ssh:// host, or 127.0.0.1 for a unix socket."),
    ])

    static let registry = ObjectSchema("DockerRegistryLogin", [
        FieldSchema("server", .string(), required: true, "The registry's host (`swr.cn-north-4.myhuaweicloud.com`, `127.0.0.1:5000`; `docker.io` for Docker Hub), as the image names it."),
        FieldSchema("username", .envValue, required: true, "The user: a string, or `{valueFrom: {env|file}}`."),
        FieldSchema("password", .envValue, required: true, "The password or token: `{valueFrom: {env: NAME}}` or `{valueFrom: {file: PATH}}`; never a literal."),
    ])

    static let tls = ObjectSchema("DockerTLS", [
        FieldSchema("caBundle", .string(), "PEM file of the CA that signed the daemons' certificates (Docker's `ca.pem`), relative to the manifest; default: the system's CAs."),
        FieldSchema("cert", .string(), "PEM file of the client certificate the daemons accept (Docker's `cert.pem`), relative to the manifest."),
        FieldSchema("key", .envValue,
                    "The client certificate's private key (Docker's `key.pem`): a file relative to the manifest, or `{valueFrom: {env: NAME}}` (the PEM text) or `{valueFrom: {file: PATH}}`."),
    ])

    public static let schema: TargetTypeSchema = {
        var s = TargetTypeSchema(
        type: type, summary: "Docker hosts you own: each replica a container (on the host's network, or a bridge with its port published), GPUs as device requests.",
        fields: [
            FieldSchema("hosts", .list(.object(host)), required: true, "The Docker hosts replicas are placed on."),
            FieldSchema("sshConfig", .string(),
                        "An ssh_config file for ssh:// hosts, relative to the manifest; default: your own (~/.ssh/config)."),
            FieldSchema("pull", .enumeration(["always", "missing", "never"]),
                        "When images are pulled: always, missing, or never (default: a missing image is an error)."),
            FieldSchema("registries", .list(.object(registry)),
                        "Logins for pulling from private registries (`pull: missing` or `always`): sent to the hosts' engines with each pull, never stored or printed."),
            FieldSchema("network", .enumeration(["host", "bridge"]),
                        "How replicas are networked: `host` (default: the host's network; the engine binds `{{worker_ip}}`, the host's address, as GPUStack runs engines and as multi-node NCCL needs) or `bridge` (the engine's default container network; it binds `{{worker_ip}}` = 0.0.0.0 inside, and its port is published on the host's address only)."),
            FieldSchema("tls", .object(tls),
                        "TLS for tcp:// hosts, as the daemons' `--tlsverify` wants it: the CA, and a client certificate and key. Set, every tcp:// host is reached by https."),
        ],
        multiNode: capabilities.contains(.multiNode), containers: true, check: check, checkDeployment: checkDeployment)
        // A container network restarts every replica (the engine binds another address).
        s.revisionParts = { t in t.string("network") == "bridge" ? ["network=bridge"] : [] }
        // Prefill/decode servers and sglang-router as containers on the hosts' network (`checkPD`).
        s.disaggregation = true
        return s
    }()

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
                out.append(.error("duplicate-key", "target '\(t.name)': host '\(name)' is listed twice", at: t.location(of: "hosts[\(i)].name")))
            }
            if case .scalar(let d)? = m["docker"], case .failure(let e) = DockerEndpoint.parse(d) {
                out.append(.error("invalid-value", "target '\(t.name)', host '\(name)': docker '\(d)' \(e.message)",
                                  at: t.location(of: "hosts[\(i)].docker")))
            }
            if let g = m["gpus"], TargetConfig.gpuIDs(g) == nil {
                out.append(.error("invalid-value", "target '\(t.name)', host '\(name)': gpus must be a count or a list of GPU ids",
                                  at: t.location(of: "hosts[\(i)].gpus")))
            }
        }
        out += checkTLS(t, files)
        out += checkRegistries(t)
        return out
    }

    /// Registry logins: one per server, and a password that comes from `valueFrom`, never the manifest.
    static func checkRegistries(_ t: TargetConfig) -> [Diagnostic] {
        guard case .list(let items)? = t.fields["registries"] else { return [] }
        var out: [Diagnostic] = []
        var servers: Set<String> = []
        for (i, item) in items.enumerated() {
            guard case .map(let m) = item else { continue }
            if case .scalar(let server)? = m["server"], !servers.insert(server).inserted {
                out.append(.error("duplicate-key", "target '\(t.name)': registry '\(server)' is listed twice",
                                  at: t.location(of: "registries[\(i)].server")))
            }
            if case .env(let v)? = m["password"], !v.isFromSource {
                out.append(.error("invalid-value", "target '\(t.name)': a registry password must come from 'valueFrom' (env or file), never be written in the manifest",
                                  at: t.location(of: "registries[\(i)].password")))
            }
        }
        return out
    }

    /// The login for `server`, resolved now (its env variable or file); nil when the target has none.
    static func credential(_ t: TargetConfig, server: String, _ context: TargetContext) throws(DockerError) -> RegistryCredential? {
        guard case .list(let items)? = t.fields["registries"] else { return nil }
        for item in items {
            guard case .map(let m) = item, case .scalar(let s)? = m["server"], s == server else { continue }
            func value(_ key: String) throws(DockerError) -> String {
                guard case .env(let v)? = m[key] else {
                    throw DockerError(status: 0, message: "target '\(t.name)': registry \(server) has no usable \(key)")
                }
                do {
                    let bytes = try context.value(of: v, "the \(key) for registry \(server)", in: t)
                    return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                } catch {
                    throw DockerError(status: 0, message: error.message)
                }
            }
            return RegistryCredential(server: server, username: try value("username"), password: Secret(try value("password")))
        }
        return nil
    }

    /// A deployment that cannot fit the hosts' declared GPUs: a replica larger than every host, or
    /// more GPUs than all hosts have together (when every host declares `gpus`; hosts read through
    /// nvidia-smi are checked by `plan`, which places the replicas).
    @Sendable static func checkDeployment(_ d: Deployment, _ backend: Backend, _ version: BackendVersion,
                                          _ target: TargetConfig?) -> [Diagnostic] {
        guard let t = target else { return [] }
        if let problem = checkPD(d, t) { return [problem] }
        if d.nodes > 1, let problem = checkNodes(d, t) { return [problem] }
        guard d.gpusPerReplica > 0, d.replicas > 0 else { return [] }
        let list = hosts(t)
        guard !list.isEmpty, list.allSatisfy({ $0.gpus != nil }) else { return [] }
        let each = list.map { "\($0.name) \($0.gpus?.count ?? 0)" }.joined(separator: ", ")
        let at = d.fieldLocations["gpusPerReplica"] ?? d.fieldLocations["replicas"] ?? d.location
        let largest = list.map { $0.gpus?.count ?? 0 }.max() ?? 0
        if d.gpusPerReplica > largest {
            return [.error("insufficient-gpus", "deployment '\(d.name)' needs \(d.gpusPerReplica) GPUs per replica on one host, but the "
                           + "largest host of target '\(t.name)' has \(largest) (\(each))", at: at)]
        }
        let fits = list.map { ($0.gpus?.count ?? 0) / d.gpusPerReplica }.reduce(0, +)
        if d.replicas * d.nodes > fits {
            return [.error("insufficient-gpus", "deployment '\(d.name)' needs \(d.replicas) replica\(d.replicas == 1 ? "" : "s") of \(d.gpusPerReplica) GPUs, "
                           + "but the hosts of target '\(t.name)' have room for \(fits) (\(each))", at: at)]
        }
        return []
    }

    /// A disaggregated deployment needs the hosts' network: the router reaches each server at its
    /// host's address, and decode servers reach a prefill's bootstrap port there (never published on
    /// a bridge). Reported once, for the router part, at `disaggregation:`.
    static func checkPD(_ d: Deployment, _ t: TargetConfig) -> Diagnostic? {
        guard let pd = d.pd, pd.role == .router, t.string("network") == "bridge" else { return nil }
        return .error("unsupported", "deployment '\(pd.group)': prefill/decode disaggregation needs the hosts' network (the router "
                      + "reaches each server at its host's address, and decode servers reach a prefill's bootstrap port, which a "
                      + "bridge does not publish); target '\(t.name)' has network: bridge",
                      at: d.fieldLocations["disaggregation"] ?? d.location)
    }

    /// A replica on N nodes needs N distinct hosts (with `gpusPerReplica` GPUs each, where the hosts
    /// declare them) and the host network (the nodes' rendezvous and NCCL reach each other's hosts
    /// directly); located at `nodesPerReplica`.
    static func checkNodes(_ d: Deployment, _ t: TargetConfig) -> Diagnostic? {
        let at = d.fieldLocations["nodesPerReplica"] ?? d.fieldLocations["nodes"] ?? d.location
        if t.string("network") == "bridge" {
            return .error("unsupported", "deployment '\(d.name)': a replica on \(d.nodes) nodes needs the hosts' network (its nodes meet "
                          + "at rank 0's address and port + 1000); target '\(t.name)' has network: bridge", at: at)
        }
        let list = hosts(t)
        let fit = list.filter { h in h.gpus.map { $0.count >= d.gpusPerReplica } ?? true }
        guard fit.count < d.nodes else { return nil }
        let each = list.map { "\($0.name)" + ($0.gpus.map { " \($0.count) GPUs" } ?? "") }.joined(separator: ", ")
        return .error("insufficient-gpus", "deployment '\(d.name)': a replica on \(d.nodes) nodes (nodesPerReplica: \(d.nodes)) runs one node "
                      + "per host, on \(d.nodes) distinct hosts with \(d.gpusPerReplica) GPUs each, but target '\(t.name)' has "
                      + "\(fit.count == list.count ? "" : "\(fit.count) such of ")\(list.count) host\(list.count == 1 ? "" : "s") (\(each))", at: at)
    }

    /// The `tls` block: a certificate needs its key (and the other way round), and the files must be readable.
    static func checkTLS(_ t: TargetConfig, _ files: (any ManifestFileSource)?) -> [Diagnostic] {
        guard case .map(let m)? = t.fields["tls"] else { return [] }
        let at = t.location(of: "tls")
        var out: [Diagnostic] = []
        if (m["cert"] == nil) != (m["key"] == nil) {
            out.append(.error("missing-key", "target '\(t.name)': tls needs both 'cert' and 'key' (a client certificate and its private key)", at: at))
        }
        if let files {
            for key in ["caBundle", "cert", "key"] {
                guard let path = tlsFile(m[key]) else { continue }
                let full = ManifestPath.resolve(path, from: t.file)
                if files.read(full) == nil {
                    out.append(.error("invalid-value", "target '\(t.name)': tls.\(key) '\(full)' is not a readable file",
                                      at: t.location(of: "tls.\(key)")))
                }
            }
        }
        if !hosts(t).contains(where: { if case .tcp = $0.endpoint.kind { return true } else { return false } }) {
            out.append(.warning("unused", "target '\(t.name)': tls applies to tcp:// hosts, and this target has none", at: at))
        }
        return out
    }

    /// The file a `tls` entry names (a path, or `{valueFrom: {file: PATH}}`); nil for an env value.
    static func tlsFile(_ v: ConfigValue?) -> String? {
        switch v {
        case .scalar(let s)?, .env(.literal(let s))?, .env(.fromFile(let s, _))?: return s
        default: return nil
        }
    }

    /// The TLS options of a docker Target: PEM text read now (the key is never printed).
    static func tlsOptions(_ t: TargetConfig, _ context: TargetContext) throws(TargetError) -> TLSOptions? {
        guard case .map(let m)? = t.fields["tls"] else { return nil }
        func read(_ key: String) throws(TargetError) -> [UInt8]? {
            switch m[key] {
            case nil: return nil
            case .scalar(let path)?, .env(.literal(let path))?:
                // A plain value is the file's path.
                return try context.value(of: .fromFile(path, secret: true), "tls.\(key)", in: t)
            case .env(let v)? where v.isFromSource:
                return try context.value(of: v, "tls.\(key)", in: t)
            default:
                throw TargetError(.configuration, "target '\(t.name)': tls.\(key) must be a file or {valueFrom: {env|file}}")
            }
        }
        return TLSOptions(verifyPeer: true, caPEM: try read("caBundle"), clientCertificatePEM: try read("cert"),
                          clientKeyPEM: try read("key"))
    }

    /// The hosts of a Target document (name, endpoint, address, GPUs).
    static func hosts(_ t: TargetConfig) -> [(name: String, endpoint: DockerEndpoint, address: String, gpus: [Int]?)] {
        guard case .list(let items)? = t.fields["hosts"] else { return [] }
        return items.compactMap { item in
            guard case .map(let m) = item, case .scalar(let name)? = m["name"], case .scalar(let d)? = m["docker"],
                  case .success(let endpoint) = DockerEndpoint.parse(d) else { return nil }
            var address = endpoint.defaultAddress
            if case .scalar(let a)? = m["address"] { address = a }
            return (name, endpoint, address, m["gpus"].flatMap(TargetConfig.gpuIDs))
        }
    }

    public static func inventory(_ config: TargetConfig?) -> [InventoryHost] {
        guard let config else { return [] }
        // On a container network the engine binds every interface of its own namespace; clients reach it
        // through the port published on the host's address.
        let bind = config.string("network") == "bridge" ? "0.0.0.0" : nil
        return hosts(config).map { InventoryHost(name: $0.name, address: $0.address, gpus: $0.gpus, bindAddress: bind) }
    }

    public static func make(_ config: TargetConfig?, _ context: TargetContext) throws(TargetError) -> any Target {
        guard let t = config else { throw TargetError(.configuration, "a docker target needs a Target document") }
        let list = hosts(t)
        guard !list.isEmpty else { throw TargetError(.configuration, "target '\(t.name)' has no usable host") }
        let pull = t.string("pull").flatMap(PullPolicy.init(rawValue:)) ?? .never
        let sshConfig = t.string("sshConfig").map { ManifestPath.resolve($0, from: t.file) }
        let tls = try tlsOptions(t, context)
        let driver = DockerDriver(target: t.name, hosts: list.map { h in
            var tunnel: SSHTunnel?
            if case .ssh(let destination, let port, let socket) = h.endpoint.kind {
                tunnel = SSHTunnel(destination: destination, port: port, remoteSocket: socket, configFile: sshConfig,
                                   directory: context.stateDirectory + "/ssh", environment: context.environment)
            }
            return DockerHost(name: h.name, address: h.address, api: DockerAPI(endpoint: h.endpoint, tunnel: tunnel, tls: tls))
        },
                                  pull: pull, network: t.string("network") == "bridge" ? .bridge : .host,
                                  credentials: { server throws(DockerError) in try credential(t, server: server, context) },
                                  stateDirectory: context.stateDirectory, clock: context.clock,
                                  environment: context.environment)
        let stateDirectory = context.stateDirectory
        do { try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true) } catch {
            throw TargetError(.unavailable, "cannot create \(stateDirectory): \(error)")
        }
        let detail = list.map { "\($0.name) (\($0.endpoint.description))" }.joined(separator: ", ")
        // No secret digests: their key is per state directory, and the state of this target lives on the
        // hosts, where any machine must plan the same (a rotated secret value needs a change or a restart).
        let slot = SlotTarget(ref: TargetRef(name: t.name, type: type, detail: "Docker hosts " + detail), driver: driver,
                              hosts: inventory(t), clock: context.clock, capabilities: capabilities)
        slot.spreadsNodes = spreadsNodes
        // A disaggregated deployment's servers join and leave its router (sglang-router's control plane).
        slot.membership = RouterMembership(clock: context.clock)
        return slot
    }
}
