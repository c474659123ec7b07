import Foundation
import Testing

/// The target contract on the built binary, local target: GPUs placed across deployments and
/// moved by the Target's `gpus` list, the one status schema, and saved plans of another format.
@Suite(.serialized) struct TargetContractCLITests {
    /// A second deployment of 8 GPUs next to the sandbox's `dspark`.
    func second(_ s: Sandbox) -> String {
        """

        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: second}
        spec:
          model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
          backend: sglang-dspark
          backendVersion: dspark
          gpusPerReplica: 8
          port: \(s.port + 50)
          readiness: {timeoutSeconds: 20}
          args: [--tp-size 8, --ep-size 8, --speculative-algorithm DSPARK]

        """
    }

    @Test func renderPlacesGPUsAcrossDeploymentsAndAMovedGPUListReplaces() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try s.write(args: [], extraDocs: second(s))
        let render = try s.run(["render", "manifests/app.yaml", "--output", "json"])
        #expect(render.status == 0, "\(render.err)")
        let replicas = try #require(json(render.out)["replicas"] as? [[String: Any]])
        #expect(replicas.map { $0["gpuIds"] as? [Int] ?? [] } == [Array(0..<8), Array(8..<16)], "no GPU is shared")

        // Deployed; then the local Target hands out other GPUs: the replica restarts on the ones it was given.
        try s.write(args: [])
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        let target = s.dir + "/manifests/targets/simulator.yaml"
        let text = try String(contentsOfFile: target, encoding: .utf8)
        #expect(text.contains("\n  gpus: 64\n"), "the rehearsal target declares its GPUs")
        try text.replacingOccurrences(of: "\n  gpus: 64\n", with: "\n  gpus: [8, 9, 10, 11, 12, 13, 14, 15]\n")
            .write(toFile: target, atomically: true, encoding: .utf8)
        let plan = try s.run(["plan", "manifests/app.yaml"])
        #expect(plan.status == 0, "\(plan.err)")
        #expect(plan.out.contains("~ replace dspark/0  (GPUs changed: 0,1,2,3,4,5,6,7 → 8,9,10,11,12,13,14,15)"), "\(plan.out)")

        // Too few GPUs: refused at the deployment's line before anything runs.
        try text.replacingOccurrences(of: "\n  gpus: 64\n", with: "\n  gpus: [0, 1, 2, 3]\n")
            .write(toFile: target, atomically: true, encoding: .utf8)
        let small = try s.run(["plan", "manifests/app.yaml"])
        #expect(small.status == 1)
        #expect(small.err.contains("app.yaml:") && small.err.contains("[insufficient-gpus]"), "\(small.err)")
    }

    @Test func statusHasOneSchemaAndOldPlanFilesAreNamed() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        let status = try s.run(["status", "--output", "json"])
        #expect(status.status == 0, "\(status.err)")
        let out = json(status.out)
        #expect((out["target"] as? [String: Any])?["type"] as? String == "local")
        let row = try #require((out["replicas"] as? [[String: Any]])?.first)
        #expect(row["deployment"] as? String == "dspark" && row["replica"] as? Int == 0 && row["state"] as? String == "ready")
        #expect((row["endpoint"] as? String)?.hasPrefix("http://127.0.0.1:") == true && row["revision"] is String && row["pid"] is Int)

        try #"{"kind": "dsdeploy-plan", "prune": false, "plan": {"format_version": 1, "changes": []}}"#
            .write(toFile: s.dir + "/old.json", atomically: true, encoding: .utf8)
        let old = try s.run(["apply", "old.json"])
        #expect(old.status == 1)
        #expect(old.err.contains("old.json is a plan of format 1 (this dsdeploy writes and reads format 2); run plan again"), "\(old.err)")
    }
}
