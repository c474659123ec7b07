public import DeploySpec

/// One host a slot target can place replicas on: this machine for `local`, each Docker host of a fleet.
public struct InventoryHost: Sendable, Hashable, Codable {
    /// Its name in the Target document (`local`, `h20-a`).
    public var name: String
    /// The address clients and `{{worker_ip}}` use.
    public var address: String
    /// The GPU ids it may hand out; nil when not declared (ids count up from 0, nothing is checked).
    public var gpus: [Int]?
    /// What `{{worker_ip}}` renders to when engines bind elsewhere than clients reach them (in a
    /// container network with a published port: `0.0.0.0`); nil: `address`.
    public var bindAddress: String?
    /// GPUs the host has but may not hand out, with what holds each (`runs pid 438 (python3)`), when
    /// `gpus` was read from the host; shown when a replica does not fit.
    public var taken: [Int: String]?
    /// Why its GPUs could not be read (`nvidia-smi failed (exit 9): …`), so `gpus` stays nil.
    public var unread: String?

    /// Creates a host.
    public init(name: String, address: String, gpus: [Int]?, bindAddress: String? = nil, taken: [Int: String]? = nil,
                unread: String? = nil) {
        self.name = name
        self.address = address
        self.gpus = gpus
        self.bindAddress = bindAddress
        self.taken = taken
        self.unread = unread
    }

    /// `h20-a: 2 of 8 free` (`any` without a list), then what holds the GPUs it may not hand out:
    /// `; GPU 0 runs pid 438 (python3)`. `used`: ids already placed in this plan.
    func room(used: Int) -> String {
        guard let gpus else { return "\(name): any free" }
        let held = (taken ?? [:]).sorted { $0.key < $1.key }
        return "\(name): \(gpus.count - used) of \(gpus.count + held.count) free"
            + held.map { "; GPU \($0.key) \($0.value)" }.joined()
    }
}

/// Where one replica runs: its host and GPUs.
public struct ReplicaPlacement: Sendable, Hashable, Codable {
    /// The host's name.
    public var host: String
    /// The host's address (`{{worker_ip}}`).
    public var address: String
    /// GPU ids on that host.
    public var gpuIds: [Int]
    /// What `{{worker_ip}}` renders to, when not `address` (see `InventoryHost.bindAddress`).
    public var bindAddress: String?
    /// Every node of a multi-node replica placed on distinct hosts, in rank order (rank 0 is this
    /// placement's own host and GPUs); nil for one node, or where the nodes share one host (`local`).
    public var ranks: [ReplicaPlacement]? = nil

    /// Creates a placement.
    public init(host: String, address: String, gpuIds: [Int], bindAddress: String? = nil) {
        self.host = host
        self.address = address
        self.gpuIds = gpuIds
        self.bindAddress = bindAddress
    }
}

/// Assigns a host and GPUs to every replica of the deployments on one slot target. Pure.
///
/// Placement is sticky: a replica that runs keeps its host and GPUs while the host is still the
/// target's, the GPUs are still in its list and still the count it needs, so scaling or changing
/// one deployment never moves another one's replicas (a move is a restart). Every other replica
/// goes, in deployment-name order, to the host with the fewest replicas that has enough free GPUs
/// (ties: the order the target lists its hosts), and takes that host's lowest free ids — from its
/// `gpus` list, or `0, 1, 2 …` when it declares none. Two replicas never share a GPU of a host.
/// `validate` refuses a manifest that needs more GPUs than a target's list holds
/// (`insufficient-gpus`); the placer refuses it again, in case it is called on its own.
///
/// With `spreadNodes` (the docker target), a replica of `nodesPerReplica: N` > 1 gets N distinct
/// hosts, each with `gpusPerReplica` free GPUs: the N least loaded hosts with room (ties: the
/// target's order), ranked in the target's host order, so rank 0 (the `--dist-init-addr` host) is
/// the first of them the target lists. A running group keeps all its hosts and GPUs while every
/// node's place is still valid, else the whole group is placed again. Without it (`local`), the
/// nodes of a replica share its one placement.
public enum Placer {
    /// Placements per replica, by deployment name; `current` holds where the replicas that run now
    /// are, by `deployment/replica`.
    public static func place(_ deployments: [ResolvedDeployment], hosts: [InventoryHost],
                             current: [String: ReplicaPlacement] = [:],
                             spreadNodes: Bool = false) -> Result<[String: [ReplicaPlacement]], RenderError> {
        let sorted = deployments.sorted { $0.deployment.name < $1.deployment.name }
        var taken: [String: Set<Int>] = [:]
        var load: [String: Int] = [:]
        var out: [String: [ReplicaPlacement?]] = [:]
        // 1. Replicas that run keep their place when it is still valid.
        for r in sorted {
            let d = r.deployment
            out[d.name] = (0..<d.replicas).map { i in
                if spreadNodes, d.nodes > 1 { return keepGroup(current["\(d.name)/\(i)"], d, hosts, &taken, &load) }
                guard let p = current["\(d.name)/\(i)"], let host = hosts.first(where: { $0.name == p.host }),
                      p.gpuIds.count == d.gpusPerReplica, Set(p.gpuIds).count == p.gpuIds.count,
                      host.gpus.map({ pool in p.gpuIds.allSatisfy(pool.contains) }) ?? true,
                      taken[host.name, default: []].isDisjoint(with: p.gpuIds) else { return nil }
                taken[host.name, default: []].formUnion(p.gpuIds)
                load[host.name, default: 0] += 1
                return ReplicaPlacement(host: host.name, address: host.address, gpuIds: p.gpuIds, bindAddress: host.bindAddress)
            }
        }
        // 2. The others go where there is room, least loaded first.
        func freeIDs(_ host: InventoryHost, _ count: Int) -> [Int]? {
            let used = taken[host.name, default: []]
            if let pool = host.gpus {
                let free = pool.filter { !used.contains($0) }
                return free.count >= count ? Array(free.prefix(count)) : nil
            }
            var ids: [Int] = []
            var next = 0
            while ids.count < count {
                if !used.contains(next) { ids.append(next) }
                next += 1
            }
            return ids
        }
        var result: [String: [ReplicaPlacement]] = [:]
        for r in sorted {
            let d = r.deployment
            var replicas: [ReplicaPlacement] = []
            for slot in out[d.name] ?? [] {
                if let slot { replicas.append(slot); continue }
                if spreadNodes, d.nodes > 1 {
                    // N distinct hosts with room: the least loaded first, ranked in the target's order.
                    let room = hosts.enumerated().compactMap { i, h in freeIDs(h, d.gpusPerReplica).map { (i, h, $0) } }
                    let chosen = room.sorted { (load[$0.1.name, default: 0], $0.0) < (load[$1.1.name, default: 0], $1.0) }
                        .prefix(d.nodes).sorted { $0.0 < $1.0 }
                    guard chosen.count == d.nodes else {
                        let have = hosts.map { $0.room(used: taken[$0.name, default: []].count) }
                        return .failure(RenderError(deployment: d.name, message: "needs \(d.nodes) distinct hosts with \(d.gpusPerReplica) free GPU\(d.gpusPerReplica == 1 ? "" : "s") each "
                                                    + "for a replica on \(d.nodes) nodes (nodesPerReplica: \(d.nodes)); \(room.count) "
                                                    + "ha\(room.count == 1 ? "s" : "ve") room (" + have.joined(separator: ", ") + ")"))
                    }
                    let ranks = chosen.map { _, h, ids in
                        taken[h.name, default: []].formUnion(ids)
                        load[h.name, default: 0] += 1
                        return ReplicaPlacement(host: h.name, address: h.address, gpuIds: ids, bindAddress: h.bindAddress)
                    }
                    var group = ranks[0]
                    group.ranks = ranks
                    replicas.append(group)
                    continue
                }
                let candidates = hosts.enumerated().compactMap { i, h in freeIDs(h, d.gpusPerReplica).map { (i, h, $0) } }
                guard let (_, host, ids) = candidates.min(by: { (load[$0.1.name, default: 0], $0.0) < (load[$1.1.name, default: 0], $1.0) }) else {
                    let have = hosts.map { $0.room(used: taken[$0.name, default: []].count) }
                    return .failure(RenderError(deployment: d.name, message: "needs \(d.gpusPerReplica) GPU\(d.gpusPerReplica == 1 ? "" : "s") for a replica; no host has "
                                                + (d.gpusPerReplica == 1 ? "one (" : "them (")
                                                + have.joined(separator: ", ") + ")"))
                }
                taken[host.name, default: []].formUnion(ids)
                load[host.name, default: 0] += 1
                replicas.append(ReplicaPlacement(host: host.name, address: host.address, gpuIds: ids, bindAddress: host.bindAddress))
            }
            result[d.name] = replicas
        }
        return .success(result)
    }

    /// A running group's placement when every node's host is still the target's, on distinct hosts,
    /// with the right GPU count, still in the host's list and not taken; nil (placed again) otherwise.
    static func keepGroup(_ p: ReplicaPlacement?, _ d: Deployment, _ hosts: [InventoryHost],
                          _ taken: inout [String: Set<Int>], _ load: inout [String: Int]) -> ReplicaPlacement? {
        guard let ranks = p?.ranks, ranks.count == d.nodes, Set(ranks.map(\.host)).count == ranks.count else { return nil }
        var kept: [ReplicaPlacement] = []
        for r in ranks {
            guard let host = hosts.first(where: { $0.name == r.host }), r.gpuIds.count == d.gpusPerReplica,
                  Set(r.gpuIds).count == r.gpuIds.count, host.gpus.map({ pool in r.gpuIds.allSatisfy(pool.contains) }) ?? true,
                  taken[host.name, default: []].isDisjoint(with: r.gpuIds) else { return nil }
            kept.append(ReplicaPlacement(host: host.name, address: host.address, gpuIds: r.gpuIds, bindAddress: host.bindAddress))
        }
        for r in kept {
            taken[r.host, default: []].formUnion(r.gpuIds)
            load[r.host, default: 0] += 1
        }
        var group = kept[0]
        group.ranks = kept
        return group
    }

    /// One host's GPU ids per replica (the single-host form of `place(_:hosts:current:)`).
    public static func place(_ deployments: [ResolvedDeployment], gpus pool: [Int]?,
                             current: [String: [Int]] = [:]) -> Result<[String: [[Int]]], RenderError> {
        let host = InventoryHost(name: "host", address: "", gpus: pool)
        return place(deployments, hosts: [host], current: current.mapValues { ReplicaPlacement(host: "host", address: "", gpuIds: $0) })
            .map { $0.mapValues { $0.map(\.gpuIds) } }
    }
}
