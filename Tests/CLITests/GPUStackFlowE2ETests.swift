import Foundation
import Testing

/// What the target contract gives GPUStack, end to end on the built binary against the real
/// GPUStack 2.3.0 server of `GPUStackSandbox`: `apply --gate` (the fake worker serves each instance
/// with the engine simulator, so the gate benchmarks the instance's real endpoint, worker_ip:port),
/// a failed gate returning the model to its previous configuration (exit 3), and saved plans whose
/// stale check covers the manifests and the server.
@Suite(.serialized) struct GPUStackFlowE2ETests {
    /// The simulator next to the dsdeploy binary.
    static let simulator = URL(fileURLWithPath: CLITests.binary).deletingLastPathComponent()
        .appendingPathComponent("dsdeploy-engine-sim").path

    /// The seed's deployment on the gpustack target with a tiny benchmark; `stepMs` is the
    /// simulator's decode step (more is slower), carried in the model's env to the served engine.
    func write(_ p: GPUStackE2ETests.Project, _ name: String, stepMs: Int, replicas: Int = 1) throws {
        let yaml = """
        apiVersion: dsdeploy/v1
        kind: Include
        metadata: {name: backend}
        spec: {files: [backends/sglang-dspark.yaml, targets/lab.yaml]}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: \(name)}
        spec:
          target: lab
          model: {source: local, path: \(try p.s.localModel(name))}
          backend: sglang-dspark
          backendVersion: dspark
          replicas: \(replicas)
          gpusPerReplica: 8
          readiness: {timeoutSeconds: 90}
          args:
            - --tp-size 8
            - --ep-size 8
            - --speculative-algorithm DSPARK
          env:
            DSDEPLOY_SIM_DECODE_STEP_MS: "\(stepMs)"
          benchmarks:
            scenarios:
              - name: tiny
                inputLen: 16
                outputLen: 20
                numPrompts: 4
                maxConcurrency: 1
                gates:
                  - output_throughput >= 0.6 * previous
                  - median_ttft_ms <= 5000

        """
        try yaml.write(toFile: p.dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
    }

    @Test func gatePassesThenAFailedGateRevertsTheModel() throws {
        let s = try GPUStackSandbox.shared()
        let p = try GPUStackE2ETests.Project(s)
        let name = "e2e-gate"
        defer { s.deleteModels(prefix: name); try? s.control(model: name, nil) }
        try s.control(model: name, ["state": "running", "delaySeconds": 1,
                                    "serve": [Self.simulator, "--model-path", "{model}", "--served-model-name", "{name}",
                                              "--host", "127.0.0.1", "--port", "{port}"]])

        // 1. A new model, gated: the instance's endpoint is benchmarked and passes (nothing to
        //    compare the relative gate with yet).
        try write(p, name, stepMs: 5)
        let first = try p.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate"])
        #expect(first.status == 0, "\(first.out)\(first.err)")
        #expect(first.out.contains("\(name)/0: gate tiny:"), "\(first.out)")
        #expect(first.out.contains("Gates:") && first.out.contains("✔ \(name) revision"), "\(first.out)")
        let good = try #require(try s.model(named: name))
        let goodRevision = try #require(((good["meta"] as? [String: Any])?["dsdeploy"] as? [String: Any])?["revision"] as? String)

        // 2. A slower engine: the gate fails, the model gets its previous configuration back and
        //    runs it again, exit 3; the history keeps both runs.
        try write(p, name, stepMs: 30)
        let slow = try p.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate", "--output", "json"])
        #expect(slow.status == 3, "\(slow.out)\(slow.err)")
        let gate = try #require((json(slow.out)["gate"] as? [String: Any])?["deployments"] as? [[String: Any]])
        let dep = try #require(gate.first)
        #expect(dep["result"] as? String == "failed", "\(dep)")
        #expect((dep["message"] as? String)?.contains("returned to the previous revision") == true, "\(dep)")
        let scenario = try #require((dep["scenarios"] as? [[String: Any]])?.first)
        #expect(scenario["previousRevision"] as? String == goodRevision)
        let back = try #require(try s.model(named: name))
        #expect((back["env"] as? [String: String])?["DSDEPLOY_SIM_DECODE_STEP_MS"] == "5", "\(back["env"] ?? "nil")")
        #expect(((back["meta"] as? [String: Any])?["dsdeploy"] as? [String: Any])?["revision"] as? String == goodRevision)
        let id = try #require(back["id"] as? Int)
        let running = try s.instances(model: id)
        #expect(running.count == 1 && running.allSatisfy { $0["state"] as? String == "running" }, "\(running)")

        // status and the endpoints behind the gate: one schema, the revision that serves.
        let status = try p.run(["status", "-f", "manifests/targets/lab.yaml", name, "--output", "json"])
        #expect(status.status == 0, "\(status.out)\(status.err)")
        let rows = try #require(json(status.out)["replicas"] as? [[String: Any]])
        #expect(rows.count == 1 && rows.first?["state"] as? String == "ready" && rows.first?["revision"] as? String == goodRevision,
                "\(rows)")
        let history = try p.run(["bench", "history", name, "--file", "manifests/targets/lab.yaml", "--all"])
        #expect(history.status == 0, "\(history.out)\(history.err)")
        #expect(history.out.contains(String(goodRevision.prefix(12))), "\(history.out)")
    }

    @Test func savedPlansAreAppliedUntilTheManifestsOrTheServerChange() throws {
        let s = try GPUStackSandbox.shared()
        let p = try GPUStackE2ETests.Project(s)
        let name = "e2e-saved"
        defer { s.deleteModels(prefix: name) }
        try write(p, name, stepMs: 5)

        // A saved plan applies as planned.
        let plan = try p.run(["plan", "manifests/app.yaml", "--out", "p1.json"])
        #expect(plan.status == 0, "\(plan.out)\(plan.err)")
        #expect(plan.out.contains("+ create  \(name)"), "\(plan.out)")
        let applied = try p.run(["apply", "p1.json"])
        #expect(applied.status == 0, "\(applied.out)\(applied.err)")
        let model = try #require(try s.model(named: name))
        let id = try #require(model["id"] as? Int)
        _ = try s.waitFor("\(name) running", timeout: 90) {
            try s.instances(model: id).first { $0["state"] as? String == "running" }
        }

        // The manifests changed since the plan: refused, nothing written.
        #expect(try p.run(["plan", "manifests/app.yaml", "--out", "p2.json"]).status == 0)
        try write(p, name, stepMs: 6)
        let manifestsChanged = try p.run(["apply", "p2.json"])
        #expect(manifestsChanged.status == 1, "\(manifestsChanged.out)\(manifestsChanged.err)")
        #expect(manifestsChanged.err.contains("the plan is stale: the manifests changed"), "\(manifestsChanged.err)")
        let unchanged = try #require(try s.model(named: name))
        #expect((unchanged["env"] as? [String: String])?["DSDEPLOY_SIM_DECODE_STEP_MS"] == "5", "nothing was written")

        // The server changed since the plan (an instance deleted behind dsdeploy's back): refused.
        try write(p, name, stepMs: 5)
        #expect(try p.run(["plan", "manifests/app.yaml", "--out", "p3.json"]).status == 0)
        let victim = try #require(try s.instances(model: id).first?["id"] as? Int)
        _ = try s.delete("/v2/model-instances/\(victim)")
        let serverChanged = try p.run(["apply", "p3.json"])
        #expect(serverChanged.status == 1, "\(serverChanged.out)\(serverChanged.err)")
        #expect(serverChanged.err.contains("the plan is stale: what runs on target 'lab' changed"), "\(serverChanged.err)")
    }
}
