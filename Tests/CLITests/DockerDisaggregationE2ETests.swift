import Foundation
import Testing
import TestSupport

/// Prefill/decode disaggregation on the docker target, end to end: two Docker hosts (namespace
/// hosts with their own sshd and dockerd, `DockerFleetE2ETests.FleetHost`, joined to each other as
/// on a cluster network), the simulator as SGLang's prefill and decode servers (the image tagged as
/// the Backend's), and the REAL router (sglang-router 0.3.2, `localhost/dsdeploy-sglang-router:dev`
/// from `scripts/engine-image.sh`: the venv of `scripts/setup-sglang-router.sh` packed with its
/// interpreter) as a container of its own. dsdeploy reaches each host over SSH, registers the
/// servers with the router over HTTP, and serves the router's endpoint as the deployment's.
@Suite(.serialized) struct DockerDisaggregationE2ETests {
    typealias FleetHost = DockerFleetE2ETests.FleetHost
    static let engineImage = "lmsysorg/sglang:v0.5.23"
    static let routerImage = "localhost/dsdeploy-sglang-router:dev"

    /// A fleet host that also has the router's image, and the simulator tagged as the Backend's image.
    func host(_ name: String) throws -> FleetHost {
        let h = try FleetHost(name: name)
        let router = try FleetHost.script([CLITests.root + "/scripts/engine-image.sh", "--docker", "unix://" + h.socket, "sglang-router"],
                                          environment: ProcessInfo.processInfo.environment, log: h.dir + "/router-image.log")
        guard router.status == 0 else {
            h.stop()
            throw DockerFleetE2ETests.Failure(description: "engine-image.sh sglang-router: \(router.out)")
        }
        let tagged = try h.api("POST", "/images/localhost/dsdeploy-engine-sim:dev/tag?repo=lmsysorg/sglang&tag=v0.5.23")
        guard tagged.status == 201 else {
            h.stop()
            throw DockerFleetE2ETests.Failure(description: "tagging \(Self.engineImage): \(tagged)")
        }
        return h
    }

    /// DeepSeek-R1 disaggregated as SGLang's PD docs deploy it: one prefill server and two decode
    /// servers of 8 GPUs each, the router in front (`--prefill-policy cache_aware`).
    func manifest(_ s: Sandbox, hosts: [FleetHost], sshConfig: String, network: String = "host",
                  decodeArgs: [String] = ["--cuda-graph-max-bs-decode 256"], decodeEnv: [String: String] = [:], timeout: Int = 60) -> String {
        let env = decodeEnv.isEmpty ? "" : "\n      env: {" + decodeEnv.map { "\($0.key): '\($0.value)'" }.joined(separator: ", ") + "}"
        return """
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: gpu-fleet}
        spec:
          type: docker
          network: \(network)
          sshConfig: \(sshConfig)
          hosts:
        \(hosts.map { "    - {name: \($0.name), docker: \"ssh://\($0.name)\($0.socket)\", address: \($0.address), gpus: 16}" }.joined(separator: "\n"))
        ---
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: sglang}
        spec:
          engine: sglang
          versions:
            v0.5.23:
              image: \(Self.engineImage)
              entrypoint: [sglang, serve]
              command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: dsr1}
        spec:
          target: gpu-fleet
          model: {source: huggingface, id: deepseek-ai/DeepSeek-R1}
          backend: sglang
          backendVersion: v0.5.23
          port: \(s.port)
          readiness: {timeoutSeconds: \(timeout)}
          # The test VM's root cannot raise memlock (no CAP_SYS_RESOURCE): runc refuses the default ulimits.
          container: {ulimits: {}}
          args: [--trust-remote-code, --tp-size 8, --enable-metrics]
          disaggregation:
            transferBackend: mooncake
            prefill:
              gpusPerReplica: 8
              args: [--chunked-prefill-size 8192]
            decode:
              replicas: 2
              gpusPerReplica: 8
              args: [\(decodeArgs.joined(separator: ", "))]\(env)
            router:
              version: "0.3.2"
              image: \(Self.routerImage)
              args: [--prefill-policy cache_aware, --decode-policy round_robin]
        """
    }

    func status(_ s: Sandbox) throws -> [Sandbox.Replica] {
        let r = try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"])
        struct Out: Decodable { var replicas: [Sandbox.Replica] }
        guard r.status == 0 else { throw DockerFleetE2ETests.Failure(description: "status: \(r.out)\(r.err)") }
        return try JSONDecoder().decode(Out.self, from: Data(r.out.utf8)).replicas
    }

    /// The router's workers: url → (type, healthy).
    func workers(_ router: String) -> [String: (String, Bool)] { routerWorkers(router) }

    /// Every container of the two hosts: image → count (running ones).
    func images(_ hosts: [FleetHost]) -> [String: Int] {
        var m: [String: Int] = [:]
        for h in hosts {
            for c in (try? h.containers()) ?? [] where c["State"] as? String == "running" { m[c["Image"] as? String ?? "", default: 0] += 1 }
        }
        return m
    }

    @Test func prefillAndDecodeOnTwoHostsBehindTheRealRouter() throws {
        let a = try host("h20-a")
        defer { a.stop() }
        let b = try host("h20-b")
        defer { b.stop() }
        try a.host.link(to: b.host)
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        let sshConfig = s.dir + "/fleet_ssh_config"
        try (a.sshConfig + b.sshConfig).write(toFile: sshConfig, atomically: true, encoding: .utf8)
        let app = s.dir + "/manifests/app.yaml"
        func write(_ text: String) throws { try text.write(toFile: app, atomically: true, encoding: .utf8) }
        let p = s.port

        // A bridge network is refused at `disaggregation:`, before any host is contacted.
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, network: "bridge"))
        let bridged = try s.run(["validate", "manifests/app.yaml"])
        #expect(bridged.status == 1 && bridged.err.contains("app.yaml:37:5: error: deployment 'dsr1': prefill/decode disaggregation needs the "
                                                           + "hosts' network") && bridged.err.contains("[unsupported]"), "\(bridged.err)")

        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig))
        let render = try s.run(["render", "manifests/app.yaml"])
        #expect(render.status == 0 && render.out.contains("image:  \(Self.routerImage)")
                && render.out.contains("python3 -m sglang_router.launch_router --host "), "\(render.out)\(render.err)")

        // apply: the servers, then the router with its workers registered and healthy.
        let apply = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.out)\(apply.err)")
        let placed = try status(s)
        #expect(Set(placed.map { "\($0.deployment)/\($0.replica)" }) == ["dsr1/0", "dsr1-prefill/0", "dsr1-decode/0", "dsr1-decode/1"]
                && placed.allSatisfy { $0.state == "ready" }, "\(placed)")
        let router = try #require(placed.first { $0.deployment == "dsr1" }?.endpoint)
        let prefillURL = try #require(placed.first { $0.deployment == "dsr1-prefill" }?.endpoint)
        let decodes = Set(placed.filter { $0.deployment == "dsr1-decode" }.map(\.endpoint))
        #expect(router.hasSuffix(":\(p)") && prefillURL.hasSuffix(":\(p + 10)") && decodes.count == 2, "\(placed)")
        let w = workers(router)
        #expect(w.count == 3 && w.values.allSatisfy(\.1) && w[prefillURL]?.0 == "prefill"
                && Set(w.filter { $0.value.0 == "decode" }.keys) == decodes, "\(w)")
        // Containers: three servers on the engine image, the router on its own; the servers with GPUs.
        #expect(images([a, b]) == [Self.engineImage: 3, Self.routerImage: 1], "\(images([a, b]))")
        for h in [a, b] {
            for c in try h.containers() {
                let id = c["Id"] as? String ?? ""
                let doc = json(try h.api("GET", "/containers/\(id)/json").body)
                let hostConfig = doc["HostConfig"] as? [String: Any] ?? [:]
                let gpus = (hostConfig["DeviceRequests"] as? [[String: Any]])?.first?["DeviceIDs"] as? [String] ?? []
                let isRouter = c["Image"] as? String == Self.routerImage
                #expect(gpus.count == (isRouter ? 0 : 8) && hostConfig["NetworkMode"] as? String == "host", "\(c["Image"] ?? "") \(gpus)")
            }
        }
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"]).status == 0, "a no-op")

        // bench through the router (the deployment's endpoint), with each role's own metrics.
        try expectBenchThroughRouter(s)

        // A decode change rolled out while a bounded load runs through the router: no request fails.
        let loadOut = s.dir + "/load.json"
        _ = FileManager.default.createFile(atPath: loadOut, contents: nil)
        let load = Process()
        load.executableURL = URL(fileURLWithPath: CLITests.binary)
        load.arguments = ["bench", "--url", router, "--num-prompts", "300", "--request-rate", "20",
                          "--random-input-len", "32", "--random-output-len", "16", "--output", "json"]
        load.currentDirectoryURL = URL(fileURLWithPath: s.dir)
        load.standardOutput = FileHandle(forWritingAtPath: loadOut)
        load.standardError = FileHandle.nullDevice
        try load.run()
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, decodeArgs: ["--cuda-graph-max-bs-decode 128"]))
        let t0 = Date()
        let roll = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        let rollout = Date().timeIntervalSince(t0)
        let overlapped = load.isRunning
        load.waitUntilExit()
        #expect(roll.status == 0 && roll.out.contains("replace dsr1-decode/0") && roll.out.contains("replace dsr1-decode/1"),
                "\(roll.out)\(roll.err)")
        #expect(!roll.out.contains("replace dsr1-prefill") && !roll.out.contains("replace dsr1/0"), "only the decode servers: \(roll.out)")
        #expect(overlapped, "the load outlasted the rollout (\(rollout) s)")
        let loaded = json((try? String(contentsOfFile: loadOut, encoding: .utf8)) ?? "")
        #expect(loaded["completed"] as? Int == 300 && loaded["failed"] as? Int == 0, "requests failed during the rolling update: \(loaded)")
        let rolled = try status(s)
        let newDecodes = Set(rolled.filter { $0.deployment == "dsr1-decode" }.map(\.endpoint))
        let after = workers(router)
        #expect(after.count == 3 && Set(after.filter { $0.value.0 == "decode" }.keys) == newDecodes && after.values.allSatisfy(\.1),
                "the router lists the new decode servers only: \(after) vs \(newDecodes)")
        #expect(images([a, b]) == [Self.engineImage: 3, Self.routerImage: 1], "the old decode containers are gone: \(images([a, b]))")
        print("docker PD (2 namespace hosts over ssh, real sglang-router 0.3.2): decode rollout of 2 servers in "
              + String(format: "%.2f", rollout) + " s under 300 requests at 20/s: \(loaded["completed"] ?? "?") completed, "
              + "\(loaded["failed"] ?? "?") failed")

        // A decode that cannot start: the whole deployment returns to the last good revision, and the
        // router still serves through the old decode servers.
        let good = Set(rolled.map(\.revision))
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, decodeArgs: ["--cuda-graph-max-bs-decode 64"],
                           decodeEnv: ["DSDEPLOY_SIM_CRASH_ON_START": "1"]))
        let broken = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(broken.status == 1 && broken.out.contains("Apply FAILED"), "\(broken.out)\(broken.err)")
        let back = try status(s)
        #expect(back.count == 4 && back.allSatisfy { $0.state == "ready" } && Set(back.map(\.revision)) == good, "\(back)")
        #expect(Set(back.filter { $0.deployment == "dsr1-decode" }.map(\.endpoint)) == newDecodes, "the old decode servers serve")
        #expect(Set(workers(router).filter { $0.value.0 == "decode" }.keys) == newDecodes, "\(workers(router))")
        #expect(images([a, b]) == [Self.engineImage: 3, Self.routerImage: 1], "the crashed decode's container is gone: \(images([a, b]))")
        let again = try s.run(["bench", "dsr1", "-f", "manifests/app.yaml", "--num-prompts", "8", "--random-input-len", "16",
                               "--random-output-len", "8", "--output", "json"])
        #expect(json(again.out)["failed"] as? Int == 0 && json(again.out)["completed"] as? Int == 8, "\(again.out)\(again.err)")

        let delete = try s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"])
        let left = try (a.containers() + b.containers()).map { "\($0["Names"] ?? "") \($0["Image"] ?? "") \($0["State"] ?? "")" }
        #expect(delete.status == 0 && left.isEmpty, "\(left) \(delete.out)\(delete.err)")
    }
}
