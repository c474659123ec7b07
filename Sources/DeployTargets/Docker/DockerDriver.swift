import CurlHTTP
import DeployCore
import DeployKit
import DeploySpec
import Engines
import Foundation

/// One Docker host of a docker target.
struct DockerHost: Sendable {
    /// Its name in the Target document.
    var name: String
    /// The address clients and `{{worker_ip}}` use.
    var address: String
    /// Its Engine API.
    var api: DockerAPI
}

/// When a missing image is pulled.
enum PullPolicy: String, Sendable {
    /// Before every start.
    case always
    /// When the host does not have it.
    case missing
    /// Never: a missing image is an error.
    case never
}

/// How a docker target's containers are networked.
enum ContainerNetwork: String, Sendable {
    /// The host's network: the engine listens on the host's address.
    case host
    /// The engine's default bridge: the engine listens on 0.0.0.0 in its own network namespace, and
    /// its port is published on the host's address.
    case bridge
}

/// The docker target's `ReplicaDriver`: each replica is a container on one of the target's hosts,
/// on the host's network (so `{{worker_ip}}:{{port}}` is where clients reach it, as GPUStack runs
/// engines), with its GPUs as a device request, labelled with its deployment, replica, revision and
/// launch spec. The state lives on the hosts: `observe` reads the containers and verifies the running
/// ones (readiness, then config readback), so another machine with the same manifests sees the same
/// status and plans the same. The only local record is labels changed after a container started
/// (metadata: a container's own labels cannot change).
final class DockerDriver: ReplicaDriver, @unchecked Sendable {
    let target: String
    let hosts: [DockerHost]
    let pull: PullPolicy
    let network: ContainerNetwork
    /// The login for a registry host, resolved when a pull needs it.
    let credentials: @Sendable (String) throws(DockerError) -> RegistryCredential?
    let records: DockerRecords
    let clock: any DeployClock
    /// The environment programs run with (`PATH` for nvidia-smi).
    let environment: [String: String]
    let probeClient = EngineProbe()

    init(target: String, hosts: [DockerHost], pull: PullPolicy, network: ContainerNetwork = .host,
         credentials: @escaping @Sendable (String) throws(DockerError) -> RegistryCredential? = { _ in nil }, stateDirectory: String,
         clock: any DeployClock, environment: [String: String] = [:]) {
        self.target = target
        self.network = network
        self.credentials = credentials
        self.environment = environment
        self.hosts = hosts
        self.pull = pull
        records = DockerRecords(path: stateDirectory + "/docker-\(target).json")
        self.clock = clock
    }

    static let label = "dsdeploy"

    /// A host without declared `gpus` gets what its `nvidia-smi` reports (over the SSH connection, or
    /// on this machine for a unix socket), minus the GPUs that run processes dsdeploy did not place.
    /// A host whose GPUs cannot be read (no nvidia-smi, a tcp:// host) stays uncounted.
    func inventory(_ declared: [InventoryHost], observed: [ObservedReplica]) -> [InventoryHost] {
        declared.map { d in
            guard d.gpus == nil, let h = host(d.name) else { return d }
            let ours = Set(observed.filter(\.isAlive).flatMap { o in
                (o.launch.nodeHosts ?? [ReplicaPlacement(host: o.launch.node ?? "", address: "", gpuIds: o.launch.gpuIds)])
                    .filter { $0.host == d.name }.flatMap(\.gpuIds)
            })
            return readGPUs(h).filling(d, ours: ours)
        }
    }

    /// `nvidia-smi` on the host: over the SSH connection, or on this machine for a unix socket; a
    /// `tcp://` host's GPUs cannot be read.
    func readGPUs(_ h: DockerHost) -> GPUInventory.Reading {
        switch h.api.endpoint.kind {
        case .ssh:
            guard let tunnel = h.api.tunnel else { return .none }
            return GPUInventory.read { tunnel.capture($0, timeout: GPUInventory.timeout) }
        case .unix:
            return GPUInventory.readHere(environment: environment)
        case .tcp:
            return .none
        }
    }

    /// Engine API requests to every host so far.
    var apiCalls: APICalls? {
        let c = hosts.map(\.api.counts)
        return APICalls(reads: c.map(\.reads).reduce(0, +), writes: c.map(\.writes).reduce(0, +))
    }

    func host(_ name: String?) -> DockerHost? { hosts.first { $0.name == name } ?? (name == nil ? hosts.first : nil) }

    /// One of this target's containers as the host lists it (nothing probed).
    struct Listed {
        var host: DockerHost
        /// Its name: the instance id (the API takes names wherever it takes ids).
        var id: String
        var launch: LaunchSpec
        var running: Bool
        /// Docker's status text (`Exited (1) 5 minutes ago`).
        var status: String
        var started: Double
        /// The group (its rank 0 container's name) of a multi-node replica's node container; nil for one node.
        var group: String? = nil
        /// The node's rank in its group (0 for one node).
        var rank = 0
    }

    /// Every container of this target on every host, by host label too: two hosts of a target may
    /// share one engine (tests: two sockets of one podman).
    func listed() throws(DockerError) -> [Listed] {
        // Hosts side by side: a slow host costs its own time, not the sum.
        let results = ResultSlots<Result<[Listed], DockerError>>(count: hosts.count)
        BoundedParallel.run(count: hosts.count, width: Self.parallelHosts) { i in
            results.set(i, Result { () throws(DockerError) -> [Listed] in try self.listed(on: self.hosts[i]) })
        }
        var out: [Listed] = []
        for i in hosts.indices {
            switch results.get(i) {
            case .success(let l)?: out += l
            case .failure(let e)?: throw e
            case nil: break
            }
        }
        return out.sorted { $0.started < $1.started }
    }

    /// Hosts talked to at once.
    static let parallelHosts = 8

    /// This target's containers on one host.
    func listed(on h: DockerHost) throws(DockerError) -> [Listed] {
        var out: [Listed] = []
        do {
            for c in try h.api.containers(labels: ["\(Self.label).managed=true", "\(Self.label).target=\(target)",
                                                   "\(Self.label).host=\(h.name)"]) {
                guard let id = c["Names"]?.array?.first?.string.map({ $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }) ?? c["Id"]?.string,
                      let labels = c["Labels"]?.object, let launchText = labels["\(Self.label).launch"]?.string,
                      var launch = try? JSONDecoder().decode(LaunchSpec.self, from: Data(launchText.utf8)) else { continue }
                let group = labels["\(Self.label).group"]?.string
                let rank = Int(labels["\(Self.label).rank"]?.string ?? "") ?? 0
                // Every node carries its group's launch; the group's host is rank 0's.
                launch.node = rank == 0 ? h.name : launch.nodeHosts?.first?.host ?? h.name
                out.append(Listed(host: h, id: id, launch: launch, running: c["State"]?.string == "running",
                                  status: c["Status"]?.string ?? "", started: Double(labels["\(Self.label).started"]?.string ?? "") ?? 0,
                                  group: group, rank: rank))
            }
        } catch {
            // Named by host: the plan of a fleet says which host it could not read.
            throw DockerError(status: error.status, message: "host '\(h.name)': \(error.message)")
        }
        return out
    }

    func observe() throws -> [ObservedReplica] {
        let records = records.all()
        let all = try listed()
        // A multi-node replica is one observation: its group, seen through rank 0 (or, when rank 0's
        // container is gone, through the node containers that are left, as a group that is not running).
        var heads: [Listed] = []
        var groups: [String: [Listed]] = [:]
        for c in all {
            guard let g = c.group else { heads.append(c); continue }
            if groups[g] == nil { heads.append(c) }
            groups[g, default: []].append(c)
        }
        for i in heads.indices {
            guard let g = heads[i].group, let nodes = groups[g] else { continue }
            var head = nodes.first { $0.rank == 0 } ?? nodes[0]
            head.id = g
            if head.rank != 0, let placed = head.launch.nodeHosts?.first, let h0 = host(placed.host) { head.host = h0 }
            heads[i] = head
        }
        // Running containers are verified (readiness, readback) hosts side by side.
        let (list, members) = (heads, groups)
        let results = ResultSlots<ObservedReplica>(count: list.count)
        let byHost = Dictionary(grouping: list.indices, by: { list[$0].host.name })
        let names = byHost.keys.sorted()
        BoundedParallel.run(count: names.count, width: Self.parallelHosts) { k in
            for i in byHost[names[k]] ?? [] {
                let c = list[i]
                results.set(i, c.group.flatMap { members[$0] }.map { self.observedGroup(c, $0, labels: records[c.id]?.labels) }
                            ?? self.observed(c, labels: records[c.id]?.labels))
            }
        }
        return list.indices.compactMap { results.get($0) }
    }

    /// The container name of node `rank` of a group (rank 0's is the group's, the replica's instance).
    static func nodeName(_ group: String, rank: Int) -> String { rank == 0 ? group : "\(group)-n\(rank)" }

    /// A group as one replica: running only when every node's container runs; then verified through
    /// rank 0 like one container. Otherwise `exited`, naming each node that is missing or not running.
    func observedGroup(_ head: Listed, _ nodes: [Listed], labels recorded: [String: String]?) -> ObservedReplica {
        let n = head.launch.nodes ?? 1
        var problems: [String] = []
        var lastLog: [String] = []
        for rank in 0..<n {
            let where_ = head.launch.nodeHosts.map { rank < $0.count ? " on \($0[rank].host)" : "" } ?? ""
            guard let c = nodes.first(where: { $0.rank == rank }) else {
                problems.append("node \(rank) of \(n)\(where_): no container")
                continue
            }
            guard !c.running else { continue }
            problems.append("node \(rank) of \(n)\(where_): \(Self.exitStatus(c.status))")
            lastLog += ((try? c.host.api.logs(c.id, tail: 10)) ?? "").split(separator: "\n").map { "[node \(rank)] " + $0 }
        }
        guard !problems.isEmpty else { return observed(head, labels: recorded) }
        return ObservedReplica(deployment: head.launch.deployment, replica: head.launch.replica, instance: head.id,
                               revision: head.launch.revision, state: .exited, launch: head.launch, pid: nil, port: head.launch.port,
                               startedAt: head.started, exitStatus: problems.joined(separator: "; "), lastLog: lastLog, drift: [],
                               labels: recorded ?? head.launch.labels)
    }

    /// An observation of a listed container: running ones are verified now.
    func observed(_ c: Listed, labels recorded: [String: String]?) -> ObservedReplica {
        let (h, id, launch, running) = (c.host, c.id, c.launch, c.running)
        var state: ObservedReplica.State = running ? .starting : .exited
        var drift: [FlagDiffEntry] = []
        var lastLog: [String] = []
        var exitStatus: String?
        // Ready means: it answers its config readback now (verified from here), and its HTTP readiness
        // path when it has one. A readiness log line is a start-up signal that `probe` waits for during
        // a rollout; a server answering its readback is past it, so observing does not read the logs
        // (a no-op plan costs the same few reads per host, whatever the number of replicas).
        let onlyLogLine = launch.readinessLogLine?.isEmpty == false && launch.readinessPath == nil
        if running, onlyLogLine || probeClient.httpReady(launch, port: launch.port).ready,
           case .verified(let d, _) = probeClient.readback(launch, port: launch.port) {
            state = .ready
            drift = d
        }
        if !running {
            exitStatus = Self.exitStatus(c.status)
            lastLog = ((try? h.api.logs(id, tail: 20)) ?? "").split(separator: "\n").map(String.init)
        }
        return ObservedReplica(deployment: launch.deployment, replica: launch.replica, instance: id, revision: launch.revision,
                               state: state, launch: launch, pid: nil, port: launch.port, startedAt: c.started,
                               exitStatus: exitStatus, lastLog: lastLog, drift: drift,
                               labels: recorded ?? launch.labels)
    }

    func start(_ spec: LaunchSpec, port: Int, environment: [String: Secret]) throws -> ObservedReplica {
        if let placed = spec.nodeHosts, placed.count > 1 { return try startGroup(spec, placed, port: port, environment: environment) }
        guard let h = host(spec.node) else {
            throw DockerError(status: 0, message: "replica \(spec.id) is placed on host '\(spec.node ?? "")', which target '\(target)' does not have")
        }
        let result = Result { () throws(DockerError) -> ObservedReplica in try start(spec, port: port, environment: environment, on: h) }
        switch result {
        case .success(let o): return o
        case .failure(let e):
            if e.unreachable { throw HostUnreachable(host: h.name, reason: e.message) }
            throw e
        }
    }

    func start(_ spec: LaunchSpec, port: Int, environment: [String: Secret], on h: DockerHost) throws(DockerError) -> ObservedReplica {
        try ensureImage(spec.image, on: h)
        let started = clock.now().inSeconds
        var launch = spec
        launch.port = port
        let name = Self.containerName(spec, started: started)
        _ = try h.api.create(name: name, Self.createBody(launch, environment: environment, network: network, publishOn: h.address,
                                                         labels: labels(launch, on: h, started: started)))
        do { try h.api.start(name) } catch {
            try? h.api.stopAndRemove(name, grace: 0)
            throw error
        }
        return ObservedReplica(deployment: spec.deployment, replica: spec.replica, instance: name, revision: spec.revision,
                               state: .starting, launch: launch, pid: nil, port: port, startedAt: started, labels: spec.labels)
    }

    /// A fresh container name for a replica (`dsd-DEPLOYMENT-REPLICA-TIME RANDOM`).
    static func containerName(_ spec: LaunchSpec, started: Double) -> String {
        "dsd-\(spec.deployment)-\(spec.replica)-\(String(UInt64(started * 1000), radix: 36))\(String(UInt16.random(in: 0...UInt16.max), radix: 36))"
    }

    /// A container's labels: what `observe` rebuilds the replica from (the launch as JSON, never a
    /// secret value); a node of a group also carries the group (rank 0's name) and its rank.
    func labels(_ launch: LaunchSpec, on h: DockerHost, started: Double, group: String? = nil, rank: Int = 0) -> [String: String] {
        let launchJSON = String(decoding: (try? JSONEncoder().encode(launch)) ?? Data(), as: UTF8.self)
        var out = [
            "\(Self.label).managed": "true", "\(Self.label).target": target, "\(Self.label).host": h.name,
            "\(Self.label).deployment": launch.deployment,
            "\(Self.label).replica": String(launch.replica), "\(Self.label).revision": launch.revision,
            "\(Self.label).started": String(started), "\(Self.label).launch": launchJSON,
        ]
        if let group {
            out["\(Self.label).group"] = group
            out["\(Self.label).rank"] = String(rank)
        }
        return out
    }

    /// A multi-node replica: one container per node, each on its own host (`LaunchSpec.forNode`: its
    /// `{{worker_ip}}`, GPUs and rank flags; the replica's port on every host), created on every host
    /// first and then started together, the hosts side by side. When any node cannot be created or
    /// started, the nodes already made are removed and the start fails (`HostUnreachable` when that
    /// node's host cannot be reached). The replica's instance is rank 0's container.
    func startGroup(_ spec: LaunchSpec, _ placed: [ReplicaPlacement], port: Int, environment: [String: Secret]) throws -> ObservedReplica {
        var made: [(rank: Int, host: DockerHost, launch: LaunchSpec)] = []
        for (rank, p) in placed.enumerated() {
            guard let h = host(p.host) else {
                throw DockerError(status: 0, message: "node \(rank) of replica \(spec.id) is placed on host '\(p.host)', which target '\(target)' does not have")
            }
            var node = spec
            node.port = port
            made.append((rank, h, node.forNode(rank)))
        }
        let started = clock.now().inSeconds
        var moved = spec
        moved.port = port
        let (launch, nodes) = (moved, made)
        let group = Self.containerName(spec, started: started)
        removeLeftovers(of: spec, on: nodes.map(\.host))
        let created = ResultSlots<Result<Void, DockerError>>(count: nodes.count)
        BoundedParallel.run(count: nodes.count, width: Self.parallelHosts) { i in
            let (rank, h, node) = nodes[i]
            created.set(i, Result { () throws(DockerError) in
                try self.ensureImage(spec.image, on: h)
                _ = try h.api.create(name: Self.nodeName(group, rank: rank),
                                     Self.createBody(node, environment: environment, network: self.network, publishOn: h.address,
                                                     labels: self.labels(launch, on: h, started: started, group: group, rank: rank)))
            })
        }
        let startedAll = ResultSlots<Result<Void, DockerError>>(count: nodes.count)
        if nodes.indices.allSatisfy({ if case .success? = created.get($0) { return true } else { return false } }) {
            BoundedParallel.run(count: nodes.count, width: Self.parallelHosts) { i in
                let (rank, h, _) = nodes[i]
                startedAll.set(i, Result { () throws(DockerError) in try h.api.start(Self.nodeName(group, rank: rank)) })
            }
        }
        let failure = nodes.indices.lazy.compactMap { i -> (Int, DockerError)? in
            if case .failure(let e)? = created.get(i) { return (i, e) }
            if case .failure(let e)? = startedAll.get(i) { return (i, e) }
            return nil
        }.first
        if let (i, e) = failure {
            BoundedParallel.run(count: nodes.count, width: Self.parallelHosts) { k in
                try? nodes[k].host.api.stopAndRemove(Self.nodeName(group, rank: nodes[k].rank), grace: 0)
            }
            let h = nodes[i].host
            if e.unreachable { throw HostUnreachable(host: h.name, reason: e.message) }
            throw DockerError(status: e.status, message: "node \(nodes[i].rank) of \(spec.id) on host '\(h.name)': \(e.message)")
        }
        return ObservedReplica(deployment: spec.deployment, replica: spec.replica, instance: group, revision: spec.revision,
                               state: .starting, launch: launch, pid: nil, port: port, startedAt: started, labels: spec.labels)
    }

    /// What is left of this slot's broken groups on the new group's hosts: a group with a node that
    /// no longer runs, or (when all its hosts are among these) with a node's container missing. Such a
    /// group is not running for the planner, but a node of it may still run and hold the replica's
    /// port (an engine's rank 0 waits for its NCCL timeout before it gives up on a lost node), and a
    /// group broken while a host was cut off leaves its other nodes behind. All of its containers here
    /// are removed before the new group starts. A healthy group (the one a surge replaces) is left
    /// alone. Best effort: a host that cannot be listed is skipped.
    func removeLeftovers(of spec: LaunchSpec, on hosts: [DockerHost]) {
        let found = ResultSlots<[Listed]>(count: hosts.count)
        BoundedParallel.run(count: hosts.count, width: Self.parallelHosts) { i in
            found.set(i, ((try? self.listed(on: hosts[i])) ?? []).filter {
                $0.group != nil && $0.launch.deployment == spec.deployment && $0.launch.replica == spec.replica
            })
        }
        let listedHosts = Set(hosts.map(\.name))
        let all = hosts.indices.flatMap { found.get($0) ?? [] }
        var victims: [Listed] = []
        for (_, members) in Dictionary(grouping: all, by: { $0.group ?? "" }) {
            let placed = members[0].launch.nodeHosts?.map(\.host) ?? []
            let missing = Set(placed).isSubset(of: listedHosts) && members.count < placed.count
            if missing || members.contains(where: { !$0.running }) { victims += members }
        }
        let doomed = victims
        BoundedParallel.run(count: doomed.count, width: Self.parallelHosts) { k in
            try? doomed[k].host.api.stopAndRemove(doomed[k].id, grace: 0)
        }
    }

    /// Images a host does not have, when this target never pulls: refused before anything stops.
    func preflight(_ specs: [LaunchSpec]) -> [String] {
        guard pull == .never else { return [] }
        var out: [String] = []
        var seen: Set<String> = []
        for s in specs.flatMap({ s in s.nodeHosts.map { $0.indices.map(s.forNode) } ?? [s] }) {
            guard let h = host(s.node), seen.insert(h.name + " " + s.image).inserted else { continue }
            do {
                if try !h.api.hasImage(s.image) {
                    out.append("host '\(h.name)' has no image \(s.image), and target '\(target)' never pulls (pull: never); "
                               + "load it on the host or set pull: missing")
                }
            } catch {
                out.append("host '\(h.name)': \(error.message)")
            }
        }
        return out
    }

    /// The image on the host, pulled as the policy allows.
    func ensureImage(_ image: String, on h: DockerHost) throws(DockerError) {
        switch pull {
        case .always: try pullImage(image, on: h)
        case .missing: if try !h.api.hasImage(image) { try pullImage(image, on: h) }
        case .never:
            if try !h.api.hasImage(image) {
                throw DockerError(status: 0, message: "host '\(h.name)' has no image \(image), and target '\(target)' never pulls "
                                  + "(pull: never); load it on the host or set pull: missing")
            }
        }
    }

    /// A pull with the login of the image's registry; its failure names the host.
    func pullImage(_ image: String, on h: DockerHost) throws(DockerError) {
        do { try h.api.pull(image, auth: try credentials(DockerAPI.registry(of: image))) } catch {
            throw DockerError(status: error.status, message: "host '\(h.name)': \(error.message)", unreachable: error.unreachable)
        }
    }

    /// The container: the launch's argv as an array (the entrypoint replaced by the spec's), its env
    /// with secrets resolved (never in labels), on the host network, its GPUs as a device request.
    static func createBody(_ spec: LaunchSpec, environment: [String: Secret], network: ContainerNetwork = .host,
                           publishOn address: String = "", labels: [String: String]) -> JSONValue {
        let entry = Array(spec.argv.prefix(spec.entrypointCount))
        let cmd = Array(spec.argv.dropFirst(spec.entrypointCount))
        var env: [String: String] = [:]
        for e in spec.env { if let v = environment[e.name]?.reveal() ?? e.value { env[e.name] = v } }
        for (k, v) in environment where env[k] == nil { env[k] = v.reveal() }
        // Which engine version dsdeploy checked the flags against (the simulator accepts that version's).
        if env["DSDEPLOY_ENGINE_VERSION"] == nil, !spec.engineVersion.isEmpty { env["DSDEPLOY_ENGINE_VERSION"] = spec.engineVersion }
        // Inside the container the requested GPUs are numbered from 0; the host's ids go to the device request.
        if !spec.gpuIds.isEmpty, env["CUDA_VISIBLE_DEVICES"] == spec.gpuIds.map(String.init).joined(separator: ",") {
            env["CUDA_VISIBLE_DEVICES"] = nil
        }
        let c = spec.container ?? ContainerSettings()
        var binds = c.volumes
        // sglang-router (a disaggregated deployment's router) loads no model and uses no GPU: no hub
        // volume and no engine ulimits.
        let router = spec.engine == .sglangRouter
        // The model's hub: the engine downloads `{{model_path}}` (the hub id) itself, into a named
        // volume kept across replaces; ModelScope is switched on the way each engine reads it.
        if !router, let hub = hubCache(spec.modelSource), !binds.contains(where: { $0.split(separator: ":").dropFirst().first.map(String.init) == hub.path }) {
            binds.append("\(hub.volume):\(hub.path)")
        }
        if spec.modelSource == "modelscope" {
            switch spec.engine {
            case .sglang: if env["SGLANG_USE_MODELSCOPE"] == nil { env["SGLANG_USE_MODELSCOPE"] = "true" }
            case .vllm: if env["VLLM_USE_MODELSCOPE"] == nil { env["VLLM_USE_MODELSCOPE"] = "True" }
            case .llamaCpp, .sglangRouter: break
            }
        }
        let ipc = c.ipc ?? "host"
        var host: [String: JSONValue] = [
            "NetworkMode": .string(network == .host ? "host" : "bridge"),
            "IpcMode": .string(ipc),
            "RestartPolicy": .object(["Name": .string("no")]),
            "Binds": .array(binds.map(JSONValue.string)),
        ]
        // With the host's IPC namespace the container uses the host's /dev/shm; a size applies otherwise.
        if ipc != "host" { host["ShmSize"] = .number(Double(bytes(c.shmSize ?? "16g") ?? 16 << 30)) }
        let ulimits = c.ulimits ?? (router ? [:] : ["memlock": -1, "stack": 67_108_864])
        host["Ulimits"] = .array(ulimits.sorted { $0.key < $1.key }.map { k, v in
            .object(["Name": .string(k), "Soft": .number(Double(v)), "Hard": .number(Double(v))])
        })
        if !spec.gpuIds.isEmpty {
            host["DeviceRequests"] = .array([.object([
                "Driver": .string("nvidia"), "DeviceIDs": .array(spec.gpuIds.map { .string(String($0)) }),
                "Capabilities": .array([.array([.string("gpu")])]),
            ])])
        }
        var body: [String: JSONValue] = [
            "Image": .string(spec.image), "Cmd": .array(cmd.map(JSONValue.string)),
            "Env": .array(env.sorted { $0.key < $1.key }.map { .string("\($0.key)=\($0.value)") }),
            "Labels": .object(labels.mapValues(JSONValue.string)), "HostConfig": .object(host),
        ]
        if !entry.isEmpty { body["Entrypoint"] = .array(entry.map(JSONValue.string)) }
        if network == .bridge {
            // The engine's port, published on the host's address only (never on every interface).
            let port = "\(spec.port)/tcp"
            body["ExposedPorts"] = .object([port: .object([:])])
            host["PortBindings"] = .object([port: .array([.object(["HostIp": .string(address), "HostPort": .string(String(spec.port))])])])
            body["HostConfig"] = .object(host)
        }
        return .object(body)
    }

    /// `exit 1` from Docker's status text (`Exited (1) 5 minutes ago`), else the text without its age.
    static func exitStatus(_ text: String) -> String {
        if let open = text.firstIndex(of: "("), let close = text[open...].firstIndex(of: ")"),
           let code = Int(text[text.index(after: open)..<close]) {
            return "exit \(code)"
        }
        return text.isEmpty ? "exited" : text.lowercased()
    }

    /// The named volume and container path of a hub's download cache (nil for a local model).
    static func hubCache(_ source: String?) -> (volume: String, path: String)? {
        switch source {
        case "huggingface": return ("dsdeploy-huggingface-cache", "/root/.cache/huggingface")
        case "modelscope": return ("dsdeploy-modelscope-cache", "/root/.cache/modelscope")
        default: return nil
        }
    }

    /// `16g` → bytes.
    static func bytes(_ s: String) -> Int? {
        let lower = s.lowercased()
        let unit: Int
        switch lower.last {
        case "k": unit = 1 << 10
        case "m": unit = 1 << 20
        case "g": unit = 1 << 30
        case "b": unit = 1
        default: unit = 1
        }
        let digits = lower.last?.isNumber == true ? lower : String(lower.dropLast())
        return Int(digits).map { $0 * unit }
    }

    func probe(_ instance: ObservedReplica) -> ProbeResult {
        if let placed = instance.launch.nodeHosts, placed.count > 1 { return probeGroup(instance, placed) }
        guard let h = host(instance.launch.node) else { return .failed(reason: "host '\(instance.launch.node ?? "")' is gone", lastLog: []) }
        let doc: JSONValue?
        do { doc = try h.api.inspect(instance.instance) } catch {
            if error.unreachable { return .unreachable(host: h.name, reason: error.message) }
            return .starting(lastLine: error.message)
        }
        guard let doc else { return .failed(reason: "container \(instance.instance) is gone", lastLog: []) }
        let logs = { ((try? h.api.logs(instance.instance, tail: 20)) ?? "").split(separator: "\n").map(String.init) }
        guard doc["State"]?["Running"]?.bool == true else {
            let code = doc["State"]?["ExitCode"]?.int.map { "exit \($0)" } ?? "not running"
            return .failed(reason: "container exited (\(code))", lastLog: logs())
        }
        guard ready(instance.launch, id: instance.instance, on: h) else { return .starting(lastLine: logs().last) }
        switch probeClient.readback(instance.launch, port: instance.port) {
        case .verified(let drift, _): return drift.isEmpty ? .ready : .drifted(drift)
        case .pending(let why): return .starting(lastLine: why)
        case .failed(let why): return .failed(reason: why, lastLog: logs())
        }
    }

    /// A group: every node's container must run, and one that exited fails the whole group.
    /// Readiness and config readback are rank 0's. When a node's host cannot be reached, the group
    /// can never be trusted again: its nodes on the other hosts are removed now (no half of a group
    /// serves), and the result is `unreachable` for that host, as for one container: the apply
    /// reports the host and stops working there, and the next apply finds the group incomplete and
    /// replaces it.
    func probeGroup(_ instance: ObservedReplica, _ placed: [ReplicaPlacement]) -> ProbeResult {
        let n = placed.count
        var exited: [String] = []
        var lastLog: [String] = []
        for (rank, p) in placed.enumerated() {
            let name = Self.nodeName(instance.instance, rank: rank)
            guard let h = host(p.host) else { return .failed(reason: "node \(rank) of \(n): host '\(p.host)' is gone", lastLog: []) }
            let doc: JSONValue?
            do { doc = try h.api.inspect(name) } catch {
                guard error.unreachable else { return .starting(lastLine: error.message) }
                let others = placed.indices.filter { $0 != rank }
                BoundedParallel.run(count: others.count, width: Self.parallelHosts) { k in
                    try? self.host(placed[others[k]].host)?.api.stopAndRemove(Self.nodeName(instance.instance, rank: others[k]), grace: 0)
                }
                return .unreachable(host: h.name, reason: error.message + " (node \(rank) of \(n) of \(instance.id) is there; its other "
                                    + "node\(n == 2 ? " was" : "s were") stopped)")
            }
            guard let doc else {
                exited.append("node \(rank) of \(n) on \(h.name): container \(name) is gone")
                continue
            }
            guard doc["State"]?["Running"]?.bool != true else { continue }
            exited.append("node \(rank) of \(n) on \(h.name) exited (" + (doc["State"]?["ExitCode"]?.int.map { "exit \($0)" } ?? "not running") + ")")
            lastLog += ((try? h.api.logs(name, tail: 10)) ?? "").split(separator: "\n").map { "[node \(rank)] " + $0 }
        }
        if !exited.isEmpty { return .failed(reason: exited.joined(separator: "; "), lastLog: lastLog) }
        guard let h0 = host(placed[0].host) else { return .failed(reason: "host '\(placed[0].host)' is gone", lastLog: []) }
        let logs = { ((try? h0.api.logs(instance.instance, tail: 20)) ?? "").split(separator: "\n").map(String.init) }
        guard ready(instance.launch, id: instance.instance, on: h0) else { return .starting(lastLine: logs().last) }
        switch probeClient.readback(instance.launch, port: instance.port) {
        case .verified(let drift, _): return drift.isEmpty ? .ready : .drifted(drift)
        case .pending(let why): return .starting(lastLine: why)
        case .failed(let why): return .failed(reason: why, lastLog: logs())
        }
    }

    /// Readiness as on the local target: the log line when the spec names one (the container's
    /// output), and the HTTP path unless only a line is set.
    func ready(_ launch: LaunchSpec, id: String, on h: DockerHost) -> Bool {
        if let line = launch.readinessLogLine, !line.isEmpty {
            guard ((try? h.api.logs(id, tail: 10_000)) ?? "").contains(line) else { return false }
            if launch.readinessPath == nil { return true }
        }
        return probeClient.httpReady(launch, port: launch.port).ready
    }

    /// Nothing to record: readiness is verified on the host whenever it is observed.
    func markReady(_ instance: ObservedReplica) throws {}

    func updateLabels(_ instance: ObservedReplica, labels: [String: String]) throws {
        try records.update(instance.instance) { $0.labels = labels }
    }

    func stop(_ instance: ObservedReplica, grace: Duration) throws {
        let grace = max(0, Int(grace.inSeconds.rounded(.up)))
        if let placed = instance.launch.nodeHosts, placed.count > 1 {
            // Every node of the group, the hosts side by side; the first unreachable host is reported
            // after the others' nodes are gone.
            let results = ResultSlots<Result<Void, DockerError>>(count: placed.count)
            BoundedParallel.run(count: placed.count, width: Self.parallelHosts) { rank in
                guard let h = self.host(placed[rank].host) else { return }
                results.set(rank, Result { () throws(DockerError) in
                    try h.api.stopAndRemove(Self.nodeName(instance.instance, rank: rank), grace: grace)
                })
            }
            for rank in placed.indices {
                guard case .failure(let e)? = results.get(rank) else { continue }
                if e.unreachable { throw HostUnreachable(host: placed[rank].host, reason: e.message) }
                throw DockerError(status: e.status, message: "node \(rank) on host '\(placed[rank].host)': \(e.message)")
            }
            try records.remove(instance.instance)
            return
        }
        guard let h = host(instance.launch.node) else { return }
        if case .failure(let e) = Result(catching: { () throws(DockerError) in try h.api.stopAndRemove(instance.instance, grace: grace) }) {
            if e.unreachable { throw HostUnreachable(host: h.name, reason: e.message) }
            throw e
        }
        try records.remove(instance.instance)
    }

    /// `preferred` unless taken (engines share the host's network: the executor avoids live ports).
    func freePort(preferred: Int, avoiding: Set<Int>) -> Int {
        var p = preferred
        while avoiding.contains(p) { p += 1 }
        return p
    }

    func logs(deployment: String, replica: Int, tail: Int, follow: Bool,
              onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        try logs(deployment: deployment, replica: replica, node: 0, tail: tail, follow: follow, onText: onText)
    }

    /// Node `node`'s container log of a multi-node replica (0: rank 0's, the replica's own).
    func logs(deployment: String, replica: Int, node: Int, tail: Int, follow: Bool,
              onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        // The slot's newest running container, else its newest (listing is enough: nothing is probed).
        let all: [Listed]
        do { all = try listed().filter { $0.launch.deployment == deployment && $0.launch.replica == replica } } catch {
            throw TargetError(.unavailable, error.message)
        }
        let mine = all.filter { $0.rank == 0 }
        guard let head = mine.last(where: \.running) ?? mine.last ?? all.last else {
            throw TargetError(.notFound, "no container of \(deployment)/\(replica) on target '\(target)'")
        }
        var c = head
        if node != 0 {
            let n = head.launch.nodes ?? 1
            guard node > 0, node < n else {
                throw TargetError(.notFound, "\(deployment)/\(replica) has no node \(node) (its nodes are numbered from 0 to nodesPerReplica - 1)")
            }
            guard let group = head.group ?? (head.rank == 0 ? head.id : nil),
                  let found = all.first(where: { $0.group == group && $0.rank == node }) else {
                throw TargetError(.notFound, "no container of node \(node) of \(deployment)/\(replica) on target '\(target)'")
            }
            c = found
        }
        do {
            if follow { try c.host.api.followLogs(c.id, tail: tail, onText: onText) } else { _ = onText(try c.host.api.logs(c.id, tail: tail)) }
        } catch { throw TargetError(.unavailable, error.message) }
    }
}

/// What dsdeploy keeps locally about a docker target's containers: labels changed after a container
/// started (a container's own labels cannot change). Metadata only; losing it loses nothing that runs.
final class DockerRecords: @unchecked Sendable {
    struct Record: Codable, Sendable {
        var labels: [String: String]?
    }

    let path: String
    private let lock = NSLock()

    init(path: String) { self.path = path }

    private func load() -> [String: Record] {
        guard let d = FileManager.default.contents(atPath: path) else { return [:] }
        return (try? JSONDecoder().decode([String: Record].self, from: d)) ?? [:]
    }

    private func save(_ all: [String: Record]) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try enc.encode(all).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Every record, read once.
    func all() -> [String: Record] { lock.withLock { load() } }

    func update(_ id: String, _ change: (inout Record) -> Void) throws {
        try lock.withLock {
            var all = load()
            var r = all[id] ?? Record()
            change(&r)
            all[id] = r
            try save(all)
        }
    }

    func remove(_ id: String) throws {
        try lock.withLock {
            var all = load()
            guard all.removeValue(forKey: id) != nil else { return }
            try save(all)
        }
    }
}

/// The docker target's lock: a Docker network named `dsd-lock-TARGET` on the target's first host,
/// labelled with its holder. Creating a network whose name is taken fails on dockerd (409) and
/// podman (500), so exactly one apply holds it, from whatever machine.
struct DockerLock: TargetLock {
    let api: DockerAPI
    let name: String

    func release() {
        _ = try? api.send("DELETE", "/networks/\(name)")
    }
}

extension DockerDriver {
    func lock(_ holder: LockHolder) throws(TargetError) -> (any TargetLock)? {
        guard let first = hosts.first else { return nil }
        let name = "dsd-lock-\(target)"
        let labels: [String: JSONValue] = [
            "\(Self.label).holder": .string(holder.who), "\(Self.label).holder-host": .string(holder.host),
            "\(Self.label).holder-pid": .string(String(holder.pid)), "\(Self.label).command": .string(holder.command),
            "\(Self.label).since": .string(holder.since),
        ]
        let body = JSONValue.object(["Name": .string(name), "CheckDuplicate": .bool(true), "Labels": .object(labels)])
        for attempt in 0..<2 {
            do {
                let r = try first.api.send("POST", "/networks/create", body: body)
                if (200..<300).contains(r.status) { return DockerLock(api: first.api, name: name) }
                guard let held = try first.api.json("GET", "/networks/\(name)")["Labels"]?.object else {
                    throw first.api.failure(r, "POST", "/networks/create")
                }
                let who = held["\(Self.label).holder"]?.string ?? "?"
                let hostName = held["\(Self.label).holder-host"]?.string ?? ""
                let pid = Int32(held["\(Self.label).holder-pid"]?.string ?? "") ?? 0
                // A lock this machine took for a process that is gone: the apply was killed; take it over.
                if attempt == 0, hostName == holder.host, pid > 0, kill(pid, 0) != 0, errno == ESRCH {
                    _ = try? first.api.send("DELETE", "/networks/\(name)")
                    continue
                }
                throw TargetError(.rejected, "target '\(target)' is locked by \(who) (pid \(pid) on \(hostName), since "
                                  + "\(held["\(Self.label).since"]?.string ?? "?"): \(held["\(Self.label).command"]?.string ?? "")); "
                                  + "if that apply is gone, remove the Docker network \(name) on host '\(first.name)'")
            } catch let e as TargetError {
                throw e
            } catch {
                throw TargetError(.unavailable, "cannot take the lock of target '\(target)' on host '\(first.name)': \(error)")
            }
        }
        throw TargetError(.rejected, "target '\(target)' is locked (network \(name) on host '\(first.name)')")
    }
}
