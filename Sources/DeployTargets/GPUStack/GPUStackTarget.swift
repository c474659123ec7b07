public import DeployKit
public import DeploySpec
import Engines
import CurlHTTP
import Foundation

/// A GPUStack server as a deploy target: the unit of reconciliation is GPUStack's model object
/// (one per deployment); backend versions become custom versions of GPUStack's built-in backends.
public final class GPUStackTarget: @unchecked Sendable {
    /// The REST client (its request counter is the plan's `apiCalls`).
    public let client: GPUStackClient
    /// Target name in the manifests.
    public let name: String
    /// Cluster name.
    public let cluster: String
    /// Ownership marker of this manifest set.
    public let owner: String
    /// Time and sleep (injected for tests).
    public let clock: any DeployClock
    /// The Target document (worker selector of every model).
    public let config: TargetConfig
    private let lock = NSLock()
    private var clusterId: Int?
    private var planned: [Planned] = []

    /// Creates a target; nothing is sent until a method is called.
    public init(client: GPUStackClient, config: TargetConfig, clock: any DeployClock) {
        self.client = client
        self.config = config
        name = config.name
        cluster = config.string("cluster") ?? "default"
        owner = config.string("owner") ?? config.name
        self.clock = clock
    }

    /// Keeps a plan this target made (apply and a gate's revert use what it was made from).
    func remember(_ p: Planned) { lock.withLock { planned.append(p) } }

    /// The plan this target made with the same digests as `plan`, if any.
    func recall(_ plan: Plan) -> Planned? {
        lock.withLock {
            planned.last { $0.plan.desiredDigest == plan.desiredDigest && $0.plan.observedDigest == plan.observedDigest }
        }
    }

    /// The server version; an error for versions this target does not support.
    public func checkServer() throws(GPUStackError) -> (version: String, warning: String?) {
        let v = try client.serverVersion()
        switch GPUStackClient.checkVersion(v) {
        case .success(let w): return (v, w)
        case .failure(let e): throw e
        }
    }

    /// The cluster's id (`GET /v2/clusters`, once).
    public func resolveCluster() throws(GPUStackError) -> Int {
        if let id = lock.withLock({ clusterId }) { return id }
        let all = try client.list("/v2/clusters")
        guard let c = all.first(where: { $0["name"]?.string == cluster }), let id = c["id"]?.int else {
            let names = all.compactMap { $0["name"]?.string }.sorted()
            throw GPUStackError(.notFound, "GPUStack at \(client.baseURL) has no cluster '\(cluster)'"
                                + (names.isEmpty ? " (it has none; create one first)" : " (clusters: \(names.joined(separator: ", ")))"))
        }
        lock.withLock { clusterId = id }
        return id
    }

    /// Reads what the plan needs: version, cluster, the named backends, every model and instance of the cluster.
    public func observe(backends: Set<String>) throws(GPUStackError) -> GPUStackObserved {
        let (version, _) = try checkServer()
        let cid = try resolveCluster()
        var rows: [String: JSONValue] = [:]
        for b in backends.sorted() { rows[b] = try backendRow(b) }
        let models = try client.list("/v2/models", query: [("cluster_id", String(cid))])
        let instances = try client.list("/v2/model-instances", query: [("cluster_id", String(cid))])
        return GPUStackObserved(serverVersion: version, clusterId: cid, backends: rows, models: models, instances: instances)
    }

    /// The full record of a backend by name.
    func backendRow(_ backend: String) throws(GPUStackError) -> JSONValue {
        try client.get("/v2/inference-backends/backend_name/" + GPUStackClient.encode(backend))
    }

    /// Observes and plans; `apiCalls` counts the requests made.
    public func plan(_ desired: [GPUStackModelSpec], prune: Bool) throws(GPUStackError) -> (GPUStackPlan, GPUStackObserved) {
        let before = client.requestCount
        let observed = try observe(backends: Set(desired.map(\.version.backend)))
        var plan = GPUStackPlanner(prune: prune).plan(desired: desired, observed: observed, target: name,
                                                      url: client.baseURL, cluster: cluster, owner: owner)
        plan.apiCalls = client.requestCount - before
        return (plan, observed)
    }

    // MARK: - status, logs, delete

    /// One instance as `status` shows it.
    public struct InstanceStatus: Sendable, Codable {
        /// Deployment (model) name.
        public var deployment: String
        /// Model id.
        public var modelId: Int
        /// Replicas wanted.
        public var replicas: Int
        /// Running instances.
        public var readyReplicas: Int
        /// Model state (`running`, `pending`, `error` ...).
        public var modelState: String
        /// The revision dsdeploy recorded once the model's instances ran on it.
        public var revision: String?
        /// Instance name (`dspark-x1y2z`), nil when the model has no instance.
        public var instance: String?
        /// Instance state.
        public var state: String?
        /// GPUStack's message for the state.
        public var stateMessage: String?
        /// Worker name.
        public var worker: String?
        /// `http://worker_ip:port` when known.
        public var endpoint: String?
        /// Restarts done by the worker.
        public var restarts: Int?
        /// Flags GPUStack added to the command line (`injected_backend_parameters`).
        public var injected: [String]
        /// The worker's GPUs it was scheduled on (`gpu_indexes`), when any.
        public var gpus: [Int]? = nil
    }

    /// Every instance of the models this owner manages (optionally only `names`).
    public func status(names: Set<String>? = nil) throws(GPUStackError) -> [InstanceStatus] {
        _ = try checkServer()
        let cid = try resolveCluster()
        let models = try client.list("/v2/models", query: [("cluster_id", String(cid))]).filter {
            GPUStackOwnership.owner(ofModel: $0) == owner && (names?.contains($0["name"]?.string ?? "") ?? true)
        }
        let instances = try client.list("/v2/model-instances", query: [("cluster_id", String(cid))])
        var out: [InstanceStatus] = []
        for m in models.sorted(by: { ($0["name"]?.string ?? "") < ($1["name"]?.string ?? "") }) {
            let id = m["id"]?.int ?? -1
            let base = InstanceStatus(deployment: m["name"]?.string ?? "?", modelId: id,
                                      replicas: m["replicas"]?.int ?? 0, readyReplicas: m["ready_replicas"]?.int ?? 0,
                                      modelState: m["state"]?.string ?? "pending",
                                      revision: GPUStackOwnership.revision(ofModel: m), instance: nil, state: nil,
                                      stateMessage: m["state_message"]?.string, worker: nil, endpoint: nil, restarts: nil, injected: [])
            let mine = instances.filter { $0["model_id"]?.int == id }.sorted { ($0["id"]?.int ?? 0) < ($1["id"]?.int ?? 0) }
            if mine.isEmpty { out.append(base); continue }
            for i in mine {
                var s = base
                s.instance = i["name"]?.string
                s.state = i["state"]?.string
                s.stateMessage = i["state_message"]?.string
                s.worker = i["worker_name"]?.string
                if let ip = i["worker_ip"]?.string, let port = i["port"]?.int { s.endpoint = "http://\(ip):\(port)" }
                s.restarts = i["restart_count"]?.int
                s.injected = i["injected_backend_parameters"]?.strings ?? []
                let gpus = i["gpu_indexes"]?.array?.compactMap(\.int) ?? []
                s.gpus = gpus.isEmpty ? nil : gpus
                out.append(s)
            }
        }
        return out
    }

    /// The model this owner manages under `deployment`, or an error.
    func ownedModel(_ deployment: String) throws(GPUStackError) -> JSONValue {
        let cid = try resolveCluster()
        let models = try client.list("/v2/models", query: [("cluster_id", String(cid)), ("search", deployment)])
        guard let m = models.first(where: { $0["name"]?.string == deployment }) else {
            throw GPUStackError(.notFound, "no model '\(deployment)' in cluster '\(cluster)' on \(client.baseURL)")
        }
        guard GPUStackOwnership.owner(ofModel: m) == owner else {
            throw GPUStackError(.rejected, "model '\(deployment)' was not created by dsdeploy owner '\(owner)'; not touching it")
        }
        return m
    }

    /// The instance ids of a model, oldest first.
    func instanceIds(model id: Int) throws(GPUStackError) -> [JSONValue] {
        try client.list("/v2/model-instances", query: [("model_id", String(id))])
            .sorted { ($0["id"]?.int ?? 0) < ($1["id"]?.int ?? 0) }
    }

    /// The last `tail` lines of replica `replica`'s log (GPUStack's instance logs endpoint, proxied to the worker).
    public func logs(deployment: String, replica: Int, tail: Int) throws(GPUStackError) -> String {
        let (inst, wid) = try instance(deployment: deployment, replica: replica)
        var q: [(String, String)] = [("tail", String(tail))]
        if let wid { q.append(("worker_id", String(wid))) }
        return try client.getText("/v2/model-instances/\(inst)/logs?" + GPUStackClient.queryString(q))
    }

    /// Follows a replica's log until the stream ends or `onText` returns false.
    public func followLogs(deployment: String, replica: Int, tail: Int,
                           onText: @escaping @Sendable (String) -> Bool) throws(GPUStackError) {
        let (inst, _) = try instance(deployment: deployment, replica: replica)
        let req = client.request("GET", "/v2/model-instances/\(inst)/logs?tail=\(tail)&follow=true", body: nil)
        let end = clientTransportStream(req, onText: onText)
        if case .failed(let e) = end { throw client.unreachable(e) }
        if case .ended(let status) = end, !(200..<300).contains(status) {
            throw GPUStackError(.rejected, status: status, "GPUStack answered the log stream with \(status)")
        }
    }

    private func clientTransportStream(_ req: HTTPRequest, onText: @escaping @Sendable (String) -> Bool) -> GPUStackStreamEnd {
        client.rawStream(req, timeout: 365 * 24 * 3600) { onText(String(decoding: $0, as: UTF8.self)) }
    }

    /// Instance id (and worker id) of replica `replica` (instances ordered by id).
    func instance(deployment: String, replica: Int) throws(GPUStackError) -> (Int, Int?) {
        let m = try ownedModel(deployment)
        let insts = try instanceIds(model: m["id"]?.int ?? -1)
        guard replica >= 0, replica < insts.count, let id = insts[replica]["id"]?.int else {
            throw GPUStackError(.notFound, "deployment '\(deployment)' has \(insts.count) instance\(insts.count == 1 ? "" : "s"); no replica \(replica)")
        }
        return (id, insts[replica]["worker_id"]?.int)
    }

    /// Deletes the models of `deployments` that this owner manages; returns the names deleted.
    public func delete(_ deployments: Set<String>) throws(GPUStackError) -> [String] {
        let cid = try resolveCluster()
        let models = try client.list("/v2/models", query: [("cluster_id", String(cid))])
        var done: [String] = []
        for m in models {
            guard let n = m["name"]?.string, deployments.contains(n), GPUStackOwnership.owner(ofModel: m) == owner,
                  let id = m["id"]?.int else { continue }
            try client.delete("/v2/models/\(id)")
            done.append(n)
        }
        return done.sorted()
    }
}
