import Foundation
import Testing
import TestSupport

/// End to end on the built binary against the real GPUStack 2.3.0 server of `GPUStackSandbox`
/// (one per test process) and its fake worker: the seed's backend version and deployment applied
/// through GPUStack's REST API, no-op, flag change → restart, failed instance, prune, wrong
/// credentials and a server that goes away mid-apply. The CLI runs inside the server's network
/// namespace. Each test uses its own deployment names, so they share the server.
@Suite(.serialized) struct GPUStackE2ETests {
    /// A scratch project: the seed's backend, a gpustack Target and a variant of
    /// manifests/dspark.yaml with `model.source: local` (a directory the fake worker can see).
    struct Project {
        let s: GPUStackSandbox
        let dir: String
        let env: [String: String]

        init(_ s: GPUStackSandbox, url: String? = nil) throws {
            self.s = s
            dir = s.dir + "/e2e-\(UUID().uuidString.prefix(8))"
            env = ["GPUSTACK_API_KEY": s.apiKey, "DSDEPLOY_HOME": dir + "/.dsdeploy"]
            let fm = FileManager.default
            try fm.createDirectory(atPath: dir + "/manifests/backends", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: dir + "/manifests/targets", withIntermediateDirectories: true)
            try fm.copyItem(atPath: CLITests.root + "/manifests/backends/sglang-dspark.yaml",
                            toPath: dir + "/manifests/backends/sglang-dspark.yaml")
            try """
            apiVersion: dsdeploy/v1
            kind: Target
            metadata: {name: lab}
            spec:
              type: gpustack
              url: \(url ?? s.url)
              cluster: \(s.cluster)
              apiKey:
                valueFrom: {env: GPUSTACK_API_KEY}
            """.write(toFile: dir + "/manifests/targets/lab.yaml", atomically: true, encoding: .utf8)
        }

        /// Writes manifests/app.yaml with one Deployment per name (the seed's args, `memFraction`
        /// for --mem-fraction-static) and returns its relative path.
        @discardableResult
        func write(_ names: [String], memFraction: String = "0.85", replicas: Int = 1,
                   timeout: Int = 90) throws -> String {
            var docs = """
            apiVersion: dsdeploy/v1
            kind: Include
            metadata: {name: backend}
            spec: {files: [backends/sglang-dspark.yaml, targets/lab.yaml]}

            """
            for name in names {
                docs += """
                ---
                apiVersion: dsdeploy/v1
                kind: Deployment
                metadata: {name: \(name)}
                spec:
                  target: lab
                  model: {source: local, path: \(try s.localModel(name))}
                  backend: sglang-dspark
                  backendVersion: dspark
                  replicas: \(replicas)
                  gpusPerReplica: 8
                  readiness: {timeoutSeconds: \(timeout)}
                  args:
                    - --context-length 1000000
                    - --trust-remote-code
                    - --tp-size 8
                    - --ep-size 8
                    - --moe-runner-backend flashinfer_mxfp4
                    - --speculative-moe-runner-backend flashinfer_mxfp4
                    - --speculative-algorithm DSPARK
                    - --speculative-eagle-topk 1
                    - --speculative-num-steps 1
                    - --mem-fraction-static \(memFraction)
                    - --cuda-graph-max-bs 32
                    - --max-running-requests 32
                    - --disable-overlap-schedule
                  env:
                    PYPI_PACKAGES_INSTALL: "-U distro"

                """
            }
            try docs.write(toFile: dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
            return "manifests/app.yaml"
        }

        @discardableResult
        func run(_ args: [String], env extra: [String: String] = [:]) throws -> CLITests.Run {
            try s.dsdeploy(args, cwd: dir, env: env.merging(extra) { $1 })
        }

        func apply(_ extra: [String] = []) throws -> CLITests.Run {
            try run(["apply", "manifests/app.yaml", "--auto-approve"] + extra)
        }
    }

    func model(_ s: GPUStackSandbox, _ name: String) throws -> [String: Any] {
        try #require(try s.model(named: name), "model \(name) exists on the server")
    }

    /// Model `name` running with `replicas` running instances on the fake worker.
    func expectRunning(_ s: GPUStackSandbox, _ name: String, replicas: Int = 1) throws -> [[String: Any]] {
        let m = try model(s, name)
        let id = try #require(m["id"] as? Int)
        #expect(m["state"] as? String == "running", "\(m["state"] ?? "nil"): \(m["state_message"] ?? "")")
        let inst = try s.instances(model: id)
        #expect(inst.count == replicas && inst.allSatisfy { $0["state"] as? String == "running" },
                "\(inst.map { ($0["name"] ?? "", $0["state"] ?? "") })")
        #expect(inst.allSatisfy { $0["worker_name"] as? String == s.workerName })
        return inst
    }

    @Test func applySeedDeploymentThenNoOp() throws {
        let s = try GPUStackSandbox.shared()
        let p = try Project(s)
        defer { s.deleteModels(prefix: "e2e-seed") }
        try p.write(["e2e-seed"])

        let first = try p.apply()
        #expect(first.status == 0, "\(first.out)\(first.err)")
        let inst = try expectRunning(s, "e2e-seed")
        let m = try model(s, "e2e-seed")
        #expect(m["source"] as? String == "local_path")
        #expect(m["local_path"] as? String == s.dir + "/models/e2e-seed")
        #expect(m["backend"] as? String == "SGLang")
        #expect(m["backend_version"] as? String == "dspark-custom")
        #expect(m["cluster_id"] as? Int == s.clusterID)
        let params = m["backend_parameters"] as? [String] ?? []
        #expect(params.joined(separator: " ").contains("--speculative-algorithm"), "\(params)")
        #expect(params.joined(separator: " ").contains("DSPARK"), "\(params)")
        #expect((m["env"] as? [String: String])?["PYPI_PACKAGES_INSTALL"] == "-U distro")

        // The backend version dsdeploy created: image, entrypoint, run command, framework.
        let backends = try s.get("/v2/inference-backends?search=SGLang&perPage=100").items
        let sglang = try #require(backends.first { $0["backend_name"] as? String == "SGLang" })
        let version = try #require((sglang["version_configs"] as? [String: Any])?["dspark-custom"] as? [String: Any],
                                   "\(sglang["version_configs"] ?? "nil")")
        #expect(version["image_name"] as? String == "swr.cn-north-4.myhuaweicloud.com/desaysv/gpustack/sglang-dspark:v1.0")
        #expect(version["custom_framework"] as? String == "cuda")
        #expect((version["run_command"] as? String)?.contains("{{model_path}}") == true)

        // No-op: the plan is empty, and apply writes nothing: the model and the backend row keep
        // their updated_at, the instances are the same.
        let plan = try p.run(["plan", "manifests/app.yaml", "--detailed-exitcode"])
        #expect(plan.status == 0, "no changes: \(plan.out)\(plan.err)")
        let noop = try p.apply()
        #expect(noop.status == 0, "\(noop.out)\(noop.err)")
        #expect(noop.out.contains("No changes"), "\(noop.out)")
        let after = try model(s, "e2e-seed")
        #expect(after["updated_at"] as? String == m["updated_at"] as? String, "the model was not written")
        let sglangAfter = try s.get("/v2/inference-backends?search=SGLang&perPage=100").items
            .first { $0["backend_name"] as? String == "SGLang" }
        #expect(sglangAfter?["updated_at"] as? String == sglang["updated_at"] as? String, "the backend was not written")
        #expect(Set(try expectRunning(s, "e2e-seed").compactMap { $0["id"] as? Int }) == Set(inst.compactMap { $0["id"] as? Int }))

        // status and logs work on this target.
        let status = try p.run(["status", "-f", "manifests/targets/lab.yaml", "--output", "json"])
        #expect(status.status == 0, "\(status.out)\(status.err)")
        #expect(status.out.contains("e2e-seed") && status.out.contains("\"state\" : \"ready\""), "\(status.out)")
        // Each row names the GPUs GPUStack scheduled its instance on (`gpu_indexes`).
        var scheduled: [String: [Int]] = [:]
        for i in inst { if let n = i["name"] as? String { scheduled[n] = i["gpu_indexes"] as? [Int] } }
        let rows = (json(status.out)["replicas"] as? [[String: Any]] ?? []).filter { $0["deployment"] as? String == "e2e-seed" }
        #expect(!rows.isEmpty && rows.allSatisfy { r in
            let gpus = r["gpus"] as? [Int]
            return gpus?.count == 8 && gpus == scheduled[r["instance"] as? String ?? ""]
        }, "\(rows) against \(scheduled)")
        let logs = try p.run(["logs", "e2e-seed", "--file", "manifests/targets/lab.yaml", "--tail", "20"])
        #expect(logs.status == 0, "\(logs.out)\(logs.err)")
        #expect(logs.out.contains("Application startup complete"), "\(logs.out)")
    }

    @Test func flagChangeRestartsToRunning() throws {
        let s = try GPUStackSandbox.shared()
        let p = try Project(s)
        defer { s.deleteModels(prefix: "e2e-flag") }
        try p.write(["e2e-flag"])
        let first = try p.apply()
        #expect(first.status == 0, "\(first.out)\(first.err)")
        let before = Set(try expectRunning(s, "e2e-flag").compactMap { $0["id"] as? Int })

        try p.write(["e2e-flag"], memFraction: "0.80")
        let plan = try p.run(["plan", "manifests/app.yaml", "--detailed-exitcode"])
        #expect(plan.status == 2, "changes present: \(plan.out)\(plan.err)")
        #expect(plan.out.contains("--mem-fraction-static") && plan.out.contains("0.85") && plan.out.contains("0.8"), "\(plan.out)")
        let change = try p.apply()
        #expect(change.status == 0, "\(change.out)\(change.err)")
        #expect(change.out.contains("--mem-fraction-static"), "\(change.out)")
        let after = try expectRunning(s, "e2e-flag")
        #expect(Set(after.compactMap { $0["id"] as? Int }).isDisjoint(with: before), "instances were restarted")
        let params = (try model(s, "e2e-flag")["backend_parameters"] as? [String] ?? []).joined(separator: " ")
        #expect(params.contains("0.80") || params.contains("0.8"), "\(params)")
        #expect(!params.contains("0.85"), "\(params)")
        let noop = try p.apply()
        #expect(noop.status == 0 && noop.out.contains("No changes"), "\(noop.out)\(noop.err)")
    }

    @Test func failedInstanceExitsNonZeroWithGPUStacksMessage() throws {
        let s = try GPUStackSandbox.shared()
        let p = try Project(s)
        defer { s.deleteModels(prefix: "e2e-fail") }
        let message = "CUDA out of memory. Tried to allocate 20.00 GiB"
        try s.control(model: "e2e-fail", ["state": "error", "message": message, "delaySeconds": 1,
                                           "restartDelaySeconds": 30])
        try p.write(["e2e-fail"])
        let r = try p.apply()
        #expect(r.status != 0, "\(r.out)\(r.err)")
        #expect((r.out + r.err).contains(message), "\(r.out)\(r.err)")
        let m = try model(s, "e2e-fail")
        #expect(m["state"] as? String == "error")
    }

    @Test func pruneRemovesOnlyThisManifestSetsModels() throws {
        let s = try GPUStackSandbox.shared()
        let p = try Project(s)
        defer { s.deleteModels(prefix: "e2e-prune") }
        // A model dsdeploy did not create, with a similar name: prune must leave it alone.
        try s.ensureSGLangVersion(GPUStackHarnessTests.version)
        let foreign = try s.post("/v2/models", [
            "name": "e2e-prune-foreign", "source": "local_path", "local_path": try s.localModel("e2e-prune-foreign"),
            "cluster_id": s.clusterID, "backend": "SGLang", "backend_version": GPUStackHarnessTests.version,
            "replicas": 0,
        ])
        #expect(foreign.status == 200, "\(foreign.body)")

        try p.write(["e2e-prune-a", "e2e-prune-b"])
        let first = try p.apply()
        #expect(first.status == 0, "\(first.out)\(first.err)")
        _ = try expectRunning(s, "e2e-prune-a")
        _ = try expectRunning(s, "e2e-prune-b")

        try p.write(["e2e-prune-a"])
        let keep = try p.apply()
        #expect(keep.status == 0, "\(keep.out)\(keep.err)")
        #expect(try s.model(named: "e2e-prune-b") != nil, "without --prune nothing is deleted")
        let prune = try p.apply(["--prune"])
        #expect(prune.status == 0, "\(prune.out)\(prune.err)")
        #expect(try s.model(named: "e2e-prune-b") == nil, "e2e-prune-b pruned")
        #expect(try s.model(named: "e2e-prune-a") != nil)
        #expect(try s.model(named: "e2e-prune-foreign") != nil, "a model dsdeploy did not create survives --prune")
    }

    @Test func wrongCredentialsAreAClearErrorAndNeverPrinted() throws {
        let s = try GPUStackSandbox.shared()
        let p = try Project(s)
        defer { s.deleteModels(prefix: "e2e-cred") }
        try p.write(["e2e-cred"])
        let wrongKey = "dsdeploy-test-wrong-\(UUID().uuidString)"
        for cmd in [["plan", "manifests/app.yaml"], ["apply", "manifests/app.yaml", "--auto-approve"]] {
            let r = try p.run(cmd, env: ["GPUSTACK_API_KEY": wrongKey])
            #expect(r.status == 1, "\(cmd[0]): \(r.out)\(r.err)")
            #expect(r.err.lowercased().contains("401") || r.err.lowercased().contains("unauthorized")
                    || r.err.lowercased().contains("api key"), "\(r.err)")
            #expect(!(r.out + r.err).contains(wrongKey), "the key is never printed")
            #expect(!(r.out + r.err).contains(s.apiKey))
        }
        #expect(try s.model(named: "e2e-cred") == nil, "nothing was created")
        // No key at all: a located, clear error before any request.
        let missing = try s.dsdeploy(["plan", "manifests/app.yaml"], cwd: p.dir, env: ["DSDEPLOY_HOME": p.dir + "/.dsdeploy",
                                                                                     "GPUSTACK_API_KEY": ""])
        #expect(missing.status == 1, "\(missing.out)\(missing.err)")
        #expect(missing.err.contains("GPUSTACK_API_KEY"), "\(missing.err)")
    }

    @Test func serverGoneMidApplyIsAClearError() throws {
        let s = try GPUStackSandbox.shared()
        // dsdeploy reaches GPUStack through a TCP relay inside the namespace; killing the relay while
        // apply waits for the instance is, for the client, the server going away.
        let relayPort = 30090
        let relay = Process()
        relay.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        relay.arguments = ["ip", "netns", "exec", s.netns, "python3", "-c", Self.relaySource,
                           String(relayPort), s.url.components(separatedBy: ":").last ?? "30080"]
        relay.standardOutput = FileHandle.nullDevice
        relay.standardError = FileHandle.nullDevice
        try relay.run()
        // SIGKILL: the test runner's threads may block SIGTERM, and children inherit the mask.
        defer { kill(relay.processIdentifier, SIGKILL); relay.waitUntilExit() }
        _ = try s.waitFor("relay listening", timeout: 10) { () -> Bool? in
            (try? s.request("GET", "/readyz", key: "", base: "http://127.0.0.1:\(relayPort)"))?.status == 200 ? true : nil
        }

        let p = try Project(s, url: "http://127.0.0.1:\(relayPort)")
        defer { s.deleteModels(prefix: "e2e-down") }
        // The instance takes 60 s to start, so apply is still waiting when the relay dies.
        try s.control(model: "e2e-down", ["state": "running", "delaySeconds": 60])
        try p.write(["e2e-down"], timeout: 180)
        let log = p.dir + "/apply.log"
        let apply = try s.spawnDsdeploy(["apply", "manifests/app.yaml", "--auto-approve"], cwd: p.dir, env: p.env, output: log)
        // Apply has created the model and GPUStack has scheduled its instance: apply now waits for it.
        let model = try s.waitFor("the model created", timeout: 60) { try s.model(named: "e2e-down") }
        let modelID = try #require(model["id"] as? Int)
        _ = try s.waitFor("an instance of the model", timeout: 60) { try s.instances(model: modelID).first }
        #expect(apply.isRunning, "apply still waits for the instance (it starts in 60 s)")
        kill(relay.processIdentifier, SIGKILL)
        relay.waitUntilExit()
        let ended = eventually(timeout: 120, interval: 0.2) { !apply.isRunning }
        #expect(ended, "apply gave up after the server went away")
        if apply.isRunning { kill(apply.processIdentifier, SIGKILL) }
        apply.waitUntilExit()
        let out = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(apply.terminationStatus != 0, "\(out)")
        #expect(out.contains("127.0.0.1:\(relayPort)"), "the error names the server: \(out)")
        #expect(!out.contains(s.apiKey))

        // Server down from the start: the same clear error, exit 1, nothing written.
        let down = try p.run(["plan", "manifests/app.yaml"])
        #expect(down.status == 1, "\(down.out)\(down.err)")
        #expect(down.err.contains("127.0.0.1:\(relayPort)"), "\(down.err)")
    }

    /// A one-connection-per-thread TCP relay: argv[1] listen port, argv[2] target port (loopback).
    static let relaySource = """
    import socket, sys, threading
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d: break
                b.sendall(d)
        except OSError: pass
        finally:
            for s in (a, b):
                try: s.shutdown(socket.SHUT_RDWR)
                except OSError: pass
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(64)
    while True:
        c, _ = srv.accept()
        u = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
        threading.Thread(target=pipe, args=(c, u), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    """
}
