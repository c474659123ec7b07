import Foundation
import Testing

/// `apply --gate` end to end on the built binary against the engine simulator: a passing first
/// rollout, a slower engine that fails a relative gate and is reverted (exit 3), a passing change
/// compared with the previous revision, no-op and `--gate-always` runs, and `bench history`.
@Suite(.serialized) struct GateE2ETests {
    /// The seed's DSpark deployment with a tiny, fast scenario and its gates. `stepMs` is the
    /// simulator's decode step (`DSDEPLOY_SIM_DECODE_STEP_MS`): more makes the engine slower.
    func write(_ s: Sandbox, stepMs: Int, memFraction: String = "0.85",
               gates: [String] = ["output_throughput >= 0.6 * previous", "median_ttft_ms <= 5000"]) throws {
        let yaml = """
        apiVersion: dsdeploy/v1
        kind: Include
        metadata: {name: backend}
        spec: {files: [backends/sglang-dspark.yaml, targets/simulator.yaml]}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: dspark}
        spec:
          model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
          backend: sglang-dspark
          backendVersion: dspark
          gpusPerReplica: 8
          port: \(s.port)
          readiness: {timeoutSeconds: 20}
          args:
            - --tp-size 8
            - --ep-size 8
            - --speculative-algorithm DSPARK
            - --mem-fraction-static \(memFraction)
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
        \(gates.map { "          - \($0)" }.joined(separator: "\n"))

        """
        try yaml.write(toFile: s.dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
    }

    @Test func gatePassesThenRevertsASlowerRevisionThenPassesAChange() throws {
        let s = try Sandbox()
        defer { s.tearDown() }

        // 1. Deployed without --gate; then `apply --gate` has no changes but gates the revision
        //    because it was never gated. The relative gate has nothing to compare with and says so.
        try write(s, stepMs: 5)
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate"])
        #expect(first.status == 0, "\(first.out)\(first.err)")
        #expect(first.out.contains("No changes"), "\(first.out)")
        #expect(first.out.contains("dspark/0: gate tiny:"), "progress lines without a terminal: \(first.out)")
        #expect(first.out.contains("no previous passing gated revision"), "\(first.out)")
        let good = try #require(try s.status().first)
        #expect(good.state == "ready")

        // 2. A slower engine (5 → 25 ms per decode step): output throughput drops ~4×, the gate
        //    fails, the previous revision serves again, exit 3.
        try write(s, stepMs: 25)
        let slow = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate", "--output", "json"])
        #expect(slow.status == 3, "\(slow.out)\(slow.err)")
        let gate = try #require((json(slow.out)["gate"] as? [String: Any])?["deployments"] as? [[String: Any]])
        let dep = try #require(gate.first)
        #expect(dep["result"] as? String == "failed", "\(dep)")
        #expect((dep["message"] as? String)?.contains("returned to the previous revision") == true, "\(dep)")
        let scenario = try #require((dep["scenarios"] as? [[String: Any]])?.first)
        #expect(scenario["previousRevision"] as? String == good.revision)
        let verdict = try #require((scenario["gates"] as? [[String: Any]])?.first { ($0["metric"] as? String) == "output_throughput" })
        let measured = try #require(verdict["measured"] as? Double)
        let threshold = try #require(verdict["threshold"] as? Double)
        #expect(verdict["passed"] as? Bool == false && measured < threshold, "\(verdict)")
        #expect(slow.err.contains("FAILED: output_throughput >= 0.6 * previous"), "progress goes to stderr with --output json: \(slow.err)")
        let reverted = try #require(try s.status().first)
        #expect(reverted.revision == good.revision && reverted.state == "ready", "\(reverted)")
        #expect(s.alive(try #require(reverted.pid)))
        #expect(try s.status().count == 1, "the gated instance is stopped")

        // 3. A change that keeps the speed passes, compared with the first revision.
        try write(s, stepMs: 5, memFraction: "0.9")
        let change = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate"])
        #expect(change.status == 0, "\(change.out)\(change.err)")
        #expect(change.out.contains("previous"), "\(change.out)")
        #expect(change.out.contains("✔ dspark revision"), "\(change.out)")
        let third = try #require(try s.status().first)
        #expect(third.revision != good.revision && third.state == "ready")

        // 4. A no-op apply does not benchmark again unless --gate-always.
        let noop = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate"])
        #expect(noop.status == 0, "\(noop.out)\(noop.err)")
        #expect(noop.out.contains("No changes") && noop.out.contains("skipped"), "\(noop.out)")
        #expect(!noop.out.contains("gate tiny:"))
        let always = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate-always"])
        #expect(always.status == 0, "\(always.out)\(always.err)")
        #expect(always.out.contains("dspark/0: gate tiny: passed"), "\(always.out)")
        #expect(try s.status().first?.pid == third.pid, "benchmarking restarts nothing")

        // 5. The results are kept per revision.
        let history = try s.run(["bench", "history", "dspark", "--output", "json"])
        #expect(history.status == 0, "\(history.err)")
        let runs = try #require(json(history.out)["runs"] as? [[String: Any]])
        let revisions = runs.map { $0["revision"] as? String ?? "" }
        #expect(revisions.count == 3 && revisions[0] == third.revision && revisions[2] == good.revision,
                "newest first, one run per revision: \(revisions)")
        #expect(revisions.count == 3 && revisions[1] != good.revision && revisions[1] != third.revision)
        #expect(runs.map { $0["passed"] as? Bool ?? true } == [true, false, true])
        #expect(runs.first?["serving"] as? Bool == true)
        let stored = try #require((runs.first?["scenarios"] as? [[String: Any]])?.first?["result"] as? [String: Any])
        #expect(stored["output_throughput"] is Double && stored["num_prompts"] as? Int == 4, "the full bench result is kept")
        let all = try s.run(["bench", "history", "dspark", "--all", "--output", "json"])
        #expect((json(all.out)["runs"] as? [[String: Any]])?.count == 4, "--gate-always added a run of the same revision")
        let text = try s.run(["bench", "history", "dspark"])
        #expect(text.out.contains("FAILED") && text.out.contains("output_throughput >= 0.6 * previous"), "\(text.out)")
    }

    /// `bench DEPLOYMENT -f FILE --scenario NAME` runs a declared scenario by hand (no gate, no state),
    /// and its results feed `bench compare`.
    @Test func declaredScenariosRunByHand() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try write(s, stepMs: 5)
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        let r = try s.run(["bench", "dspark", "-f", "manifests/app.yaml", "--scenario", "tiny", "--output", "json",
                           "--out", "runs.jsonl"])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        let o = json(r.out)
        #expect(o["num_prompts"] as? Int == 4 && o["random_input_len"] as? Int == 16 && o["random_output_len"] as? Int == 20, "\(o)")
        #expect(o["completed"] as? Int == 4 && o["total_output_tokens"] as? Int == 80, "\(o)")
        let all = try s.run(["bench", "dspark", "-f", "manifests/app.yaml", "--scenario", "all", "--out", "runs.jsonl"])
        #expect(all.status == 0 && all.out.contains("# dspark: tiny"), "\(all.out)\(all.err)")
        let lines = try String(contentsOfFile: s.dir + "/runs.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let cmp = try s.run(["bench", "compare", "runs.jsonl", "runs.jsonl", "--label", "a", "--label", "b"])
        #expect(cmp.status == 0 && cmp.out.contains("output tokens/s"), "\(cmp.out)\(cmp.err)")
        let typo = try s.run(["bench", "dspark", "-f", "manifests/app.yaml", "--scenario", "tinny"])
        #expect(typo.status == 1 && typo.err.contains("no benchmark scenario 'tinny'; did you mean 'tiny'?"), "\(typo.err)")
        #expect(try s.run(["bench", "dspark", "--scenario", "tiny"]).status != 0, "needs the manifest")
        #expect(try s.status().first?.state == "ready", "benchmarking by hand changes nothing")
    }

    @Test func aBadGateIsAValidationErrorAndNothingStarts() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try write(s, stepMs: 5, gates: ["output_thruput >= 0.9 * previous"])
        let r = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate"])
        #expect(r.status == 1)
        #expect(r.err.contains("manifests/app.yaml:31:13: error: scenario 'tiny': unknown benchmark metric 'output_thruput'; did you mean 'output_throughput'?"),
                "\(r.err)")
        #expect(try s.status().isEmpty)
    }

    @Test func aFreshDeploymentThatFailsItsGateIsLeftRunning() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        // 1 ms TTFT budget cannot hold: the gate fails; there is no previous revision to return to.
        try write(s, stepMs: 5, gates: ["median_ttft_ms <= 0.001"])
        let r = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate"])
        #expect(r.status == 3, "\(r.out)\(r.err)")
        #expect(r.out.contains("no previous revision to return to: left running"), "\(r.out)")
        #expect(r.out.contains("✘ median_ttft_ms <= 0.001: measured"), "\(r.out)")
        let pid = try #require(try s.status().first { $0.state == "ready" }?.pid)
        // Re-checking a running revision: it fails again, and nothing is reverted.
        let again = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate-always", "--output", "json"])
        #expect(again.status == 3, "\(again.out)\(again.err)")
        #expect(again.out.contains("already ran before this apply"), "\(again.out)")
        #expect(again.out.contains("\"passed\" : false"), "\(again.out)")
        #expect(try s.status().first?.pid == pid)
    }
}
