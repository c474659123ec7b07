import Foundation
import Testing
import TestSupport

/// Prefill/decode disaggregation on the local target, end to end: the simulator plays SGLang's
/// prefill and decode servers (bootstrap server, KV hand-over), and the REAL router
/// (`sglang-router` 0.3.2 from PyPI, installed by `scripts/setup-sglang-router.sh`) routes between
/// them. dsdeploy starts both roles, then the router, registers the workers, and serves the
/// router's endpoint as the deployment's.
@Suite(.serialized) struct DisaggregationE2ETests {
    /// The router's Python from the setup script's venv; records an issue naming the script when missing.
    static func routerPython() -> String? {
        guard let r = try? runProcess(repositoryRoot + "/scripts/setup-sglang-router.sh", ["--check"]), r.status == 0,
              let line = r.out.split(separator: "\n").first(where: { $0.hasPrefix("SGLANG_ROUTER_PYTHON=") }) else {
            Issue.record("sglang-router is not installed: run scripts/setup-sglang-router.sh (make test does)")
            return nil
        }
        return String(line.dropFirst("SGLANG_ROUTER_PYTHON=".count))
    }

    /// DeepSeek-R1 as SGLang's PD docs deploy it (one prefill, decode servers behind the router with
    /// `--prefill-policy cache_aware`), on the simulator.
    func write(_ s: Sandbox, python: String, decodeArgs: [String] = ["--cuda-graph-max-bs-decode 256"], decodeReplicas: Int = 2,
               decodeEnv: [String: String] = [:], timeout: Int = 30, extra: String = "") throws {
        let env = decodeEnv.isEmpty ? "" : "\n      env: {" + decodeEnv.map { "\($0.key): '\($0.value)'" }.joined(separator: ", ") + "}"
        try """
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: local}
        spec:
          type: local
          images: {lmsysorg/sglang:v0.5.23: [dsdeploy-engine-sim]}
        ---
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: sglang}
        spec:
          engine: sglang
          versions:
            v0.5.23:
              image: lmsysorg/sglang:v0.5.23
              entrypoint: [sglang, serve]
              command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: dsr1}
        spec:
          model: {source: huggingface, id: deepseek-ai/DeepSeek-R1}
          backend: sglang
          backendVersion: v0.5.23
          port: \(s.port)
          readiness: {timeoutSeconds: \(timeout)}
          args: [--trust-remote-code, --tp-size 1, --enable-metrics]\(extra)
          disaggregation:
            transferBackend: mooncake
            prefill:
              args: [--chunked-prefill-size 8192]
            decode:
              replicas: \(decodeReplicas)
              args: [\(decodeArgs.joined(separator: ", "))]\(env)
            router:
              version: "0.3.2"
              entrypoint: [\(python), -m, sglang_router.launch_router]
              args: [--prefill-policy cache_aware, --decode-policy round_robin]
        """.write(toFile: s.dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
    }

    /// The router's workers: url → (type, healthy).
    func workers(_ port: Int) -> [String: (String, Bool)] { routerWorkers("http://127.0.0.1:\(port)") }

    @Test func prefillAndDecodeBehindTheRealRouter() throws {
        guard let python = Self.routerPython() else { return }
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        try write(s, python: python)
        let p = s.port

        // render: each role's flags, the router's workers and ports.
        let render = try s.run(["render", "manifests/app.yaml"])
        #expect(render.status == 0, "\(render.out)\(render.err)")
        #expect(render.out.contains("--disaggregation-mode prefill --disaggregation-transfer-backend mooncake --disaggregation-bootstrap-port \(p + 1510)"),
                "\(render.out)")
        #expect(render.out.contains("--disaggregation-mode decode --disaggregation-transfer-backend mooncake\n"), "\(render.out)")
        #expect(render.out.contains("--pd-disaggregation --prefill http://127.0.0.1:\(p + 10) \(p + 1510) --decode http://127.0.0.1:\(p + 20) "
                                    + "--decode http://127.0.0.1:\(p + 21) --prometheus-host 127.0.0.1 --prometheus-port \(p + 1500)"), "\(render.out)")

        // apply: prefill and decode servers, then the router with its workers registered and healthy.
        let apply = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.out)\(apply.err)")
        let w = workers(p)
        #expect(w.count == 3 && w.values.allSatisfy(\.1), "\(w)")
        #expect(w["http://127.0.0.1:\(p + 10)"]?.0 == "prefill" && w["http://127.0.0.1:\(p + 21)"]?.0 == "decode", "\(w)")
        let status = try s.status()
        #expect(Set(status.map { "\($0.deployment)/\($0.replica)" }) == ["dsr1/0", "dsr1-prefill/0", "dsr1-decode/0", "dsr1-decode/1"])
        #expect(status.allSatisfy { $0.state == "ready" })
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"]).status == 0, "a no-op")

        // bench through the router (the deployment's endpoint).
        try expectBenchThroughRouter(s)
        let text = try s.run(["bench", "dsr1", "-f", "manifests/app.yaml", "--num-prompts", "4", "--random-input-len", "8",
                              "--random-output-len", "4", "--warmup-requests", "0"])
        #expect(text.out.contains("Per role (each server's own SGLang metrics, during the run):"), "\(text.out)")
        #expect(text.out.contains("  prefill   1      ") && text.out.contains("  decode    2      "), "\(text.out)")

        // A decode change rolled out while a bounded load runs through the router: no request fails.
        let loadOut = s.dir + "/load.json"
        _ = FileManager.default.createFile(atPath: loadOut, contents: nil)
        let load = Process()
        load.executableURL = URL(fileURLWithPath: CLITests.binary)
        load.arguments = ["bench", "--url", "http://127.0.0.1:\(p)", "--num-prompts", "240", "--request-rate", "20",
                          "--random-input-len", "32", "--random-output-len", "16", "--output", "json"]
        load.currentDirectoryURL = URL(fileURLWithPath: s.dir)
        load.standardOutput = FileHandle(forWritingAtPath: loadOut)
        load.standardError = FileHandle.nullDevice
        try load.run()
        try write(s, python: python, decodeArgs: ["--cuda-graph-max-bs-decode 128"])
        let roll = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        let overlapped = load.isRunning
        load.waitUntilExit()
        #expect(roll.status == 0 && roll.out.contains("replace dsr1-decode/0") && roll.out.contains("replace dsr1-decode/1"),
                "\(roll.out)\(roll.err)")
        #expect(!roll.out.contains("replace dsr1-prefill") && !roll.out.contains("replace dsr1/0"), "only the decode servers: \(roll.out)")
        #expect(overlapped, "the load outlasted the rollout")
        let loaded = json((try? String(contentsOfFile: loadOut, encoding: .utf8)) ?? "")
        #expect(loaded["completed"] as? Int == 240 && loaded["failed"] as? Int == 0, "requests failed during the rolling update: \(loaded)")
        let after = workers(p)
        let decodes = Set(try s.status().filter { $0.deployment == "dsr1-decode" }.map(\.endpoint))
        #expect(after.count == 3 && Set(after.filter { $0.value.0 == "decode" }.keys) == decodes && after.values.allSatisfy(\.1),
                "the router lists the new decode servers only: \(after) vs \(decodes)")

        // A decode that cannot start: the whole deployment returns to the last good revision and
        // the router still serves through the old decode servers.
        try write(s, python: python, decodeArgs: ["--cuda-graph-max-bs-decode 64"], decodeEnv: ["DSDEPLOY_SIM_CRASH_ON_START": "1"])
        let broken = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(broken.status == 1 && broken.out.contains("Apply FAILED"), "\(broken.out)\(broken.err)")
        let back = try s.status()
        #expect(back.count == 4 && back.allSatisfy { $0.state == "ready" }, "\(back)")
        #expect(Set(back.filter { $0.deployment == "dsr1-decode" }.map(\.endpoint)) == decodes, "the old decode servers serve")
        #expect(Set(workers(p).filter { $0.value.0 == "decode" }.keys) == decodes)
        let again = try s.run(["bench", "dsr1", "-f", "manifests/app.yaml", "--num-prompts", "8", "--random-input-len", "16",
                               "--random-output-len", "8", "--output", "json"])
        #expect(json(again.out)["failed"] as? Int == 0 && json(again.out)["completed"] as? Int == 8, "\(again.out)\(again.err)")
        #expect(try s.run(["status"]).out.contains("decode of dsr1"), "status names each part's role")

        // Without surge the successor of a decode server listens on its URL: it stays in the router.
        try write(s, python: python, decodeArgs: ["--cuda-graph-max-bs-decode 96"], extra: "\n  rollout: {maxSurge: 0, maxUnavailable: 1}")
        let noSurge = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(noSurge.status == 0, "\(noSurge.out)\(noSurge.err)")
        let serving = Set(try s.status().filter { $0.deployment == "dsr1-decode" }.map(\.endpoint))
        #expect(serving.count == 2 && Set(workers(p).filter { $0.value.0 == "decode" }.keys) == serving, "\(workers(p)) vs \(serving)")

        // A worker taken out of the router behind dsdeploy's back: plan says so, apply puts it back.
        let w0 = try runProcess("/usr/bin/curl", ["-s", "http://127.0.0.1:\(p)/workers"], environment: [:], cwd: "/").out
        let id = ((json(w0)["workers"] as? [[String: Any]]) ?? []).first { $0["worker_type"] as? String == "decode" }?["id"] as? String ?? ""
        _ = try runProcess("/usr/bin/curl", ["-s", "-X", "DELETE", "http://127.0.0.1:\(p)/workers/\(id)"], environment: [:], cwd: "/")
        let drifted = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"])
        #expect(drifted.status == 2 && drifted.out.contains("~ update  dsr1/0  (not in service as intended: the router's workers: missing http://127.0.0.1:"),
                "\(drifted.out)\(drifted.err)")
        let shown = try s.run(["status", "dsr1"])
        #expect(shown.out.contains("not in service as intended: the router's workers: missing http://127.0.0.1:"), "\(shown.out)\(shown.err)")
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        #expect(Set(workers(p).filter { $0.value.0 == "decode" }.keys) == serving, "\(workers(p))")

        // A gate that fails after a decode change returns the decode servers (the part that rolled
        // out) to their previous revision, back in the router's service.
        let gate = "\n  benchmarks:\n    scenarios:\n      - {name: short, inputLen: 16, outputLen: 8, numPrompts: 4, gates: [median_ttft_ms <= 0.001]}"
        try write(s, python: python, decodeArgs: ["--cuda-graph-max-bs-decode 80"], extra: gate)
        let gated = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate"])
        #expect(gated.status == 3 && gated.out.contains("dsr1 revision") && gated.out.contains("FAILED — returned to the previous revision"),
                "\(gated.out)\(gated.err)")
        let reverted = try s.status().filter { $0.deployment == "dsr1-decode" }
        #expect(reverted.count == 2 && reverted.allSatisfy { $0.state == "ready" }, "\(reverted)")
        #expect(Set(workers(p).filter { $0.value.0 == "decode" }.keys) == Set(reverted.map(\.endpoint)), "\(workers(p))")

        // delete NAME stops every part: the router and its prefill and decode servers.
        let delete = try s.run(["delete", "dsr1", "--auto-approve", "--grace", "2"])
        #expect(delete.status == 0 && delete.out.contains("deleted dsr1-prefill/0") && delete.out.contains("deleted dsr1-decode/1")
                && delete.out.contains("deleted dsr1/0"), "\(delete.out)\(delete.err)")
        #expect(try s.status().isEmpty)
    }

    @Test func validateRefusesWhatTheRouterOrSGLangWouldRefuse() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try write(s, python: "python3", decodeReplicas: 1)
        var text = try String(contentsOfFile: s.dir + "/manifests/app.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "--decode-policy round_robin", with: "--decode-policy power_of_two, --decode http://x:1")
            .replacingOccurrences(of: "transferBackend: mooncake", with: "transferBackend: mooncak")
            .replacingOccurrences(of: "args: [--chunked-prefill-size 8192]", with: "args: [--chunked-prefill-size 8192, --disaggregation-mode decode]")
        try text.write(toFile: s.dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
        let r = try s.run(["validate", "manifests/app.yaml"])
        #expect(r.status == 1)
        #expect(r.err.contains("invalid transferBackend 'mooncak' (--disaggregation-transfer-backend); did you mean 'mooncake'? [invalid-value]"), "\(r.err)")
        #expect(r.err.contains("'--disaggregation-mode' is set by dsdeploy for a disaggregated deployment"), "\(r.err)")
        #expect(r.err.contains("'--decode' is set by dsdeploy for a disaggregated deployment"), "\(r.err)")
        #expect(r.err.contains("the power_of_two policy for decode needs at least 2 decode servers (disaggregation.decode.replicas is 1)"), "\(r.err)")
        #expect(!r.err.contains("duplicate-flag"), "a managed flag is reported once: \(r.err)")
    }
}
