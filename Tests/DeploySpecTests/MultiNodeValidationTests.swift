import DeployCore
@testable import DeploySpec
import Testing

/// `nodesPerReplica`: one engine instance over several nodes. dsdeploy sets the engine's multi-node
/// flags per node (SGLang `--nnodes/--node-rank/--dist-init-addr`, reference B1; vLLM
/// `--nnodes/--node-rank/--master-addr/--master-port`, reference B4), so their checks are located.
@Suite struct MultiNodeValidationTests {
    func deployment(engine: String = "sglang", version: String = "0.5.23", nodes: String = "nodesPerReplica: 2",
                    args: [String] = ["--tp-size 16"]) -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: \(engine)
          versions:
            v: {engineVersion: "\(version)", image: img, command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: big}
        spec:
          model: {source: huggingface, id: deepseek-ai/DeepSeek-V3}
          backend: b
          backendVersion: v
          gpusPerReplica: 8
          \(nodes)
          args: [\(args.joined(separator: ", "))]
        """
    }

    func errors(_ r: ValidationResult, _ id: String) -> [Diagnostic] { r.diagnostics.filter { $0.severity == .error && $0.id == id } }

    @Test func tpAcrossNodesCountsEveryNodesGPUs() {
        let r = validate(deployment())
        #expect(r.deployments.first?.deployment.nodes == 2)
        #expect(r.diagnostics.filter { $0.id == "flag-conflict" && $0.message.contains("GPUs") }.isEmpty, "tp 16 = 8 GPUs × 2 nodes")
        let small = validate(deployment(args: ["--tp-size 32"]))
        #expect(small.diagnostics.contains { $0.severity == .error && $0.message.contains("8 GPUs per node × 2 nodes") },
                "\(small.diagnostics.map(\.message))")
        // The older key still reads the same; both at once is an error.
        #expect(validate(deployment(nodes: "nodes: 2")).deployments.first?.deployment.nodes == 2)
        #expect(validate(deployment(nodes: "nodes: 2\n  nodesPerReplica: 2")).diagnostics.contains { $0.severity == .error },
                "nodes and nodesPerReplica are one field")
    }

    @Test func theFlagsDsdeploySetsMayNotBeWrittenByHand() throws {
        let r = validate(deployment(args: ["--tp-size 16", "--node-rank 1", "--dist-init-addr 10.0.0.1:5000"]))
        let managed = errors(r, "managed-flag")
        #expect(managed.count == 2, "\(r.diagnostics.map(\.message))")
        #expect(managed.first?.message == "'--node-rank' is set by dsdeploy for each node of a replica on 2 nodes (nodesPerReplica: 2); remove it")
        #expect(managed.first?.location?.line == 18, "located at the arg: \(String(describing: managed.first?.location))")
        // On one node they are the user's own business.
        #expect(errors(validate(deployment(nodes: "nodesPerReplica: 1", args: ["--tp-size 8", "--node-rank 0"])), "managed-flag").isEmpty)
    }

    @Test func engineAndVersionMustBeAbleToSpanNodes() throws {
        // vLLM 0.11.0 has no --nnodes (multi-node without Ray came later).
        let old = errors(validate(deployment(engine: "vllm", version: "0.11.0", args: ["--tensor-parallel-size 16"])), "unsupported")
        #expect(old.contains { $0.message.contains("vllm 0.11.0 has no --nnodes, --node-rank, --master-addr, --master-port,") },
                "\(old.map(\.message))")
        #expect(old.first { $0.message.contains("has no") }?.location?.line == 17, "at nodesPerReplica")
        let current = errors(validate(deployment(engine: "vllm", version: "0.33.0", args: ["--tensor-parallel-size 16"])), "unsupported")
        #expect(!current.contains { $0.message.contains("has no") }, "\(current.map(\.message))")
        let llama = errors(validate(deployment(engine: "llama.cpp", version: "b11312", args: [])), "unsupported")
        #expect(llama.contains { $0.message.contains("llama.cpp cannot run one replica on several nodes") }, "\(llama.map(\.message))")
    }
}
