/// The flags that make one engine instance span several nodes, as each engine spells them. dsdeploy
/// sets them itself, per node of a multi-node replica (`nodesPerReplica`), so a deployment may not.
///
/// - SGLang: `--nnodes N --node-rank R --dist-init-addr HOST0:PORT` on every node; only rank 0
///   serves the API (ranks > 0 run a dummy health server).
/// - vLLM (multiprocessing backend, newer versions): `--nnodes N --node-rank R --master-addr HOST0
///   --master-port PORT`, and `--headless` on ranks > 0, which serve no HTTP.
/// - llama.cpp: none (its RPC backend is not a multi-node server).
public struct MultiNodeFlags: Sendable, Hashable {
    /// The flags dsdeploy renders (canonical spellings), for "may not be set by hand" checks and for
    /// the catalog check.
    public var managed: [String]
    /// Flags only ranks > 0 get.
    public var followerOnly: [String]

    /// The flags of an engine, nil when it cannot run one instance on several nodes.
    public static func of(_ engine: EngineKind) -> MultiNodeFlags? {
        switch engine {
        case .sglang: return MultiNodeFlags(managed: ["--nnodes", "--node-rank", "--dist-init-addr"], followerOnly: [])
        case .vllm: return MultiNodeFlags(managed: ["--nnodes", "--node-rank", "--master-addr", "--master-port"], followerOnly: ["--headless"])
        case .llamaCpp, .sglangRouter: return nil
        }
    }

    /// The argv words for node `rank` of `nodes`, with rank 0 reachable at `host:port` for the rendezvous.
    public func argv(for engine: EngineKind, rank: Int, nodes: Int, host: String, port: Int) -> [String] {
        argv(for: engine, rank: String(rank), nodes: String(nodes), host: host, port: port, follower: rank > 0)
    }

    /// The same words with the rank, node count and host as text: a target that fills them in at
    /// start time passes references (Kubernetes: `$(LWS_WORKER_INDEX)`, `$(LWS_GROUP_SIZE)`,
    /// `$(LWS_LEADER_ADDRESS)`), and says whether the node is a follower (rank > 0).
    public func argv(for engine: EngineKind, rank: String, nodes: String, host: String, port: Int, follower: Bool) -> [String] {
        let h = host.contains(":") ? "[\(host)]" : host
        switch engine {
        case .sglang:
            return ["--nnodes", nodes, "--node-rank", rank, "--dist-init-addr", "\(h):\(port)"]
        case .vllm:
            return ["--nnodes", nodes, "--node-rank", rank, "--master-addr", host, "--master-port", String(port)]
                + (follower ? ["--headless"] : [])
        case .llamaCpp, .sglangRouter:
            return []
        }
    }
}
