import Foundation
import POSIXSpawn
import Testing
import TestSupport

/// A replica spanning two Docker hosts: the seed's backend on the simulator (SGLang's multi-node
/// rendezvous: rank 0 serves only after rank 1 joined its `--dist-init-addr`), one container per node,
/// each on its own namespace host (`DockerFleetE2ETests.FleetHost`: its own sshd and dockerd, reached
/// over SSH). The two hosts also reach each other directly (`NamespaceHost.link`), as a cluster
/// network does, so cutting one host's link to this machine leaves the group's own traffic alone.
@Suite(.serialized) struct DockerMultiNodeE2ETests {
    typealias FleetHost = DockerFleetE2ETests.FleetHost

    /// One deployment of `nodes` × 8 GPUs (`--tp-size 8·nodes`) on the fleet of `hosts`.
    func manifest(_ s: Sandbox, hosts: [FleetHost], sshConfig: String, nodes: Int = 2, memFraction: String = "0.85",
                  env: [String: String] = [:], surge: Int = 1, name: String = "dspark", port: Int? = nil) -> String {
        var envLines = "    PYPI_PACKAGES_INSTALL: \"-U distro\"\n"
        for (k, v) in env.sorted(by: { $0.key < $1.key }) { envLines += "    \(k): '\(v)'\n" }
        return """
        apiVersion: dsdeploy/v1
        kind: Include
        metadata: {name: backend}
        spec: {files: [backends/sglang-dspark.yaml]}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: gpu-fleet}
        spec:
          type: docker
          sshConfig: \(sshConfig)
          hosts:
        \(hosts.map { "    - {name: \($0.name), docker: \"ssh://\($0.name)\($0.socket)\", address: \($0.address), gpus: 16}" }.joined(separator: "\n"))
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: \(name)}
        spec:
          target: gpu-fleet
          model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
          backend: sglang-dspark
          backendVersion: dspark
          gpusPerReplica: 8
          nodesPerReplica: \(nodes)
          port: \(port ?? s.port)
          readiness: {timeoutSeconds: 60}
          rollout: {maxSurge: \(surge), maxUnavailable: \(1 - surge)}
          container: {ulimits: {}}
          args:
            - --tp-size \(8 * nodes)
            - --mem-fraction-static \(memFraction)
          env:
        \(envLines)
        """
    }

    func rows(_ s: Sandbox) throws -> [[String: Any]] {
        (json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"]).out)["replicas"] as? [[String: Any]]) ?? []
    }

    /// The names of a host's containers (all states).
    func names(_ h: FleetHost) throws -> [String] {
        try h.containers().map { (($0["Names"] as? [String])?.first ?? "").replacingOccurrences(of: "/", with: "") }.sorted()
    }

    /// The same, empty when the host cannot be read (for conditions and messages).
    func seen(_ h: FleetHost) -> [String] { (try? names(h)) ?? ["<unreadable>"] }

    /// A container's inspect document.
    func inspect(_ h: FleetHost, _ id: String) throws -> [String: Any] {
        json(try h.api("GET", "/containers/\(id)/json").body)
    }

    /// Runs `apply` in the background, its output in a file; returns the pid and a reader.
    func spawnApply(_ s: Sandbox, log: String) throws -> pid_t {
        var env = ProcessInfo.processInfo.environment
        env["DSDEPLOY_HOME"] = s.dir + "/.dsdeploy"
        return try Spawner.spawn(argv: [CLITests.binary, "apply", s.dir + "/manifests/app.yaml", "--auto-approve"],
                                 environment: env.map { "\($0.key)=\($0.value)" },
                                 fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                                               .open(1, path: log, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
                                               .duplicate(1, to: 2)])
    }

    @Test func aTwoNodeReplicaOnTwoHosts() throws {
        let a = try FleetHost(name: "h20-a")
        defer { a.stop() }
        let b = try FleetHost(name: "h20-b")
        defer { b.stop() }
        try a.host.link(to: b.host)
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        let sshConfig = s.dir + "/fleet_ssh_config"
        try (a.sshConfig + b.sshConfig).write(toFile: sshConfig, atomically: true, encoding: .utf8)
        let app = s.dir + "/manifests/app.yaml"
        func write(_ text: String) throws { try text.write(toFile: app, atomically: true, encoding: .utf8) }

        // Three nodes on two hosts: a located validate error, nothing contacted.
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, nodes: 3))
        let three = try s.run(["validate", "manifests/app.yaml"])
        #expect(three.status == 1 && three.err.contains("app.yaml:25:20: error: deployment 'dspark': a replica on 3 nodes (nodesPerReplica: 3) "
                                                         + "runs one node per host, on 3 distinct hosts"), "\(three.err)")

        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig))
        #expect(try s.run(["validate", "manifests/app.yaml"]).status == 0)
        // render: each node's whole argv on its host; rank 0 on h20-a is the rendezvous.
        let render = try s.run(["render", "manifests/app.yaml"])
        let rendezvous = "\(a.address):\(s.port + 1000)"
        #expect(render.status == 0 && render.out.contains("    node 1 on h20-b \(b.address) gpus 0,1,2,3,4,5,6,7:\n      sglang serve "
                                                          + "--model-path deepseek-ai/DeepSeek-V4-Flash-DSpark --host \(b.address) --port \(s.port)")
                && render.out.contains("--nnodes 2 --node-rank 1 --dist-init-addr \(rendezvous)\n"), "\(render.out)\(render.err)")

        // The first apply: one container per host, ready through rank 0.
        var t0 = Date()
        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        let firstApply = Date().timeIntervalSince(t0)
        #expect(first.status == 0, "\(first.out)\(first.err)")
        #expect(seen(a).count == 1 && seen(b).count == 1, "\(seen(a)) \(seen(b))")
        let node1 = try inspect(b, try #require(seen(b).first))
        let labels = (node1["Config"] as? [String: Any])?["Labels"] as? [String: String] ?? [:]
        #expect(labels["dsdeploy.rank"] == "1" && labels["dsdeploy.group"] == (seen(a).first) && labels["dsdeploy.host"] == "h20-b",
                "\(labels.filter { $0.key != "dsdeploy.launch" })")
        let cmd = (node1["Config"] as? [String: Any])?["Cmd"] as? [String] ?? []
        #expect(cmd.starts(with: ["--model-path", "deepseek-ai/DeepSeek-V4-Flash-DSpark", "--host", b.address, "--port", String(s.port)])
                && cmd.suffix(6) == ["--nnodes", "2", "--node-rank", "1", "--dist-init-addr", rendezvous], "\(cmd)")
        let info = json(try runProcess("/usr/bin/curl", ["-s", "http://\(a.address):\(s.port)/server_info"], environment: [:], cwd: s.dir).out)
        #expect(info["nnodes"] as? Int == 2 && info["node_rank"] as? Int == 0 && info["tp_size"] as? Int == 16
                && info["dist_init_addr"] as? String == rendezvous, "\(info)")
        // status: one row for the group, each node's host in its details.
        var status = try rows(s)
        let details = status.first?["details"] as? [String: String] ?? [:]
        #expect(status.count == 1 && status.first?["state"] as? String == "ready" && status.first?["host"] as? String == "h20-a"
                && details["nodes"] == "2" && details["node_0"] == "h20-a http://\(a.address):\(s.port) (serves the API)"
                && details["node_1"]?.hasPrefix("h20-b http://\(b.address):\(s.port)") == true, "\(status)")
        #expect(status.first?["gpus"] as? [Int] == Array(0...7) && details["node_0_gpus"] == "0,1,2,3,4,5,6,7"
                && details["node_1_gpus"] == "0,1,2,3,4,5,6,7", "each node's GPUs on its own host: \(details)")
        let text = try s.run(["status", "-f", "manifests/app.yaml"]).out
        #expect(text.contains("2 nodes"), "\(text)")
        // One row per node under the group's: where it listens, its host, what it does.
        let nodeRows = text.split(separator: "\n").filter { $0.hasPrefix("  node ") }.map { $0.split(separator: " ").map(String.init) }
        #expect(nodeRows.count == 2 && nodeRows[0].contains("http://\(a.address):\(s.port)") && nodeRows[0].contains("h20-a")
                && nodeRows[1].contains("http://\(b.address):\(s.port)") && nodeRows[1].contains("h20-b") && nodeRows[1].contains("--node")
                && nodeRows.allSatisfy { $0.contains("0,1,2,3,4,5,6,7") }, "\(text)")
        // Each node's log: rank 0's is the replica's, rank 1's by --node.
        let log1 = try s.run(["logs", "dspark", "--node", "1", "--tail", "20", "--file", "manifests/app.yaml"])
        #expect(log1.status == 0 && log1.out.contains("joined as node_rank=1"), "\(log1.out)\(log1.err)")
        #expect(try s.run(["logs", "dspark", "--tail", "50", "--file", "manifests/app.yaml"]).out.contains("Node rank 1 joined the group"))
        let none = try s.run(["logs", "dspark", "--node", "2", "--file", "manifests/app.yaml"])
        #expect(none.status == 1 && none.err.contains("dspark/0 has no node 2"), "\(none.err)")

        // A no-op: plan and apply change nothing.
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"]).status == 0)
        let noop = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(noop.status == 0 && noop.out.contains("No changes"), "\(noop.out)\(noop.err)")

        // A flag change replaces the group as a whole (the new group ready before the old one stops).
        let before = seen(a) + seen(b)
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, memFraction: "0.8"))
        let change = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(change.status == 0 && change.out.contains("~ --mem-fraction-static: 0.85 → 0.8"), "\(change.out)\(change.err)")
        status = try rows(s)
        #expect(status.count == 1 && status.first?["state"] as? String == "ready", "\(status)")
        #expect(seen(a).count == 1 && seen(b).count == 1 && Set(seen(a) + seen(b)).isDisjoint(with: before),
                "a new container on each host, the old ones gone: \(seen(a)) \(seen(b))")

        // Rank 1's container killed: the group is not running; the plan replaces it and apply recovers.
        try b.api("POST", "/containers/\(try #require(seen(b).first))/kill")
        #expect(eventually(timeout: 30) { (try? self.rows(s).first?["state"] as? String) == "exited" }, "\((try? rows(s)) ?? [])")
        let found = try s.run(["plan", "manifests/app.yaml"])
        #expect(found.out.contains("replica is not running (") && found.out.contains("node 1 of 2 on h20-b: exit 137"), "\(found.out)\(found.err)")
        let recover = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(recover.status == 0, "\(recover.out)\(recover.err)")
        let recovered = try rows(s)
        #expect(recovered.first?["state"] as? String == "ready" && seen(a).count == 1 && seen(b).count == 1,
                "\((try? rows(s)) ?? []) \(seen(a)) \(seen(b))")

        // A rank that never joins: rank 0 never opens its port, the rollout fails with the reason and
        // the last good group serves again.
        let good = try rows(s).first?["revision"] as? String
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, memFraction: "0.75", env: ["DSDEPLOY_SIM_NEVER_JOIN": "1"])
                  .replacingOccurrences(of: "timeoutSeconds: 60", with: "timeoutSeconds: 4"))
        let hung = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(hung.status == 1 && hung.out.contains("not ready after 4 s") && hung.out.contains("Apply FAILED for dspark"), "\(hung.out)\(hung.err)")
        let reverted = try rows(s)
        #expect(reverted.map { $0["revision"] as? String } == [good] && seen(a).count == 1 && seen(b).count == 1,
                "\(reverted) \(seen(a)) \(seen(b)) \(hung.out)\(hung.err)")

        // Without surge the old group stops first, then the new one starts on both hosts.
        let beforeNoSurge = seen(a) + seen(b)
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, memFraction: "0.78", surge: 0))
        let noSurge = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(noSurge.status == 0 && noSurge.out.contains("~ --mem-fraction-static: 0.8 → 0.78"), "\(noSurge.out)\(noSurge.err)")
        let afterNoSurge = try rows(s)
        #expect(afterNoSurge.count == 1 && afterNoSurge.first?["state"] as? String == "ready" && afterNoSurge.first?["revision"] as? String != good,
                "\(afterNoSurge)")
        #expect(seen(a).count == 1 && seen(b).count == 1 && Set(seen(a) + seen(b)).isDisjoint(with: beforeNoSurge), "\(seen(a)) \(seen(b))")

        // Group rollout time against one node, with the same simulated start delay (3 runs each).
        // One node: another deployment on h20-a's other 8 GPUs, created first so that both time a replace.
        let one = s.dir + "/manifests/one.yaml"
        func writeOne(_ fraction: String) throws {
            try manifest(s, hosts: [a, b], sshConfig: sshConfig, nodes: 1, memFraction: fraction, env: ["DSDEPLOY_SIM_START_DELAY": "2"],
                         name: "single", port: s.port + 10).write(toFile: one, atomically: true, encoding: .utf8)
        }
        try writeOne("0.60")
        let created = try s.run(["apply", "manifests/one.yaml", "--auto-approve"])
        #expect(created.status == 0, "\(created.out)\(created.err)")
        var group: [Double] = [], single: [Double] = []
        for fraction in ["0.70", "0.71", "0.72"] {
            try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, memFraction: fraction, env: ["DSDEPLOY_SIM_START_DELAY": "2"]))
            t0 = Date()
            let r = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
            group.append(Date().timeIntervalSince(t0))
            #expect(r.status == 0, "\(r.out)\(r.err)")
            try writeOne(fraction)
            t0 = Date()
            let r1 = try s.run(["apply", "manifests/one.yaml", "--auto-approve"])
            single.append(Date().timeIntervalSince(t0))
            #expect(r1.status == 0, "\(r1.out)\(r1.err)")
        }
        let deleteOne = try s.run(["delete", "manifests/one.yaml", "--auto-approve", "--grace", "2"])
        #expect(deleteOne.status == 0, "\(deleteOne.out)\(deleteOne.err)")
        func f(_ x: [Double]) -> String { x.map { String(format: "%.2f", $0) }.joined(separator: ", ") }
        print("docker multi-node (2 namespace hosts over ssh): first apply \(String(format: "%.2f", firstApply)) s; "
              + "rollout with a 2 s start delay: group of 2 nodes \(f(group)) s, one node \(f(single)) s, ratio "
              + String(format: "%.2f", group.reduce(0, +) / single.reduce(0, +)))

        // h20-b cut off mid-rollout: the new group's node there cannot be reached, so its other node is
        // removed (no half of a group serves), the host is reported, and the old group keeps serving.
        let served = try rows(s).first?["revision"] as? String
        let endpoint = try #require(try rows(s).first?["endpoint"] as? String)
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, memFraction: "0.65", env: ["DSDEPLOY_SIM_START_DELAY": "3"]))
        let log = s.dir + "/apply-cut.log"
        let pid = try spawnApply(s, log: log)
        let readLog = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(eventually(timeout: 60) { readLog().contains("dspark/0: starting") && self.seen(b).count == 2 }, "\(readLog())")
        try b.cut(true)
        var code: Int32 = 0
        _ = waitpid(pid, &code, 0)
        let cut = readLog()
        #expect((code >> 8) & 0xff == 1, "an incomplete apply exits 1: \(cut)")
        #expect(cut.contains("host h20-b: unreachable") && cut.contains("Apply INCOMPLETE: host h20-b could not be reached"), "\(cut)")
        #expect(seen(a).count == 1, "only the old group's rank 0 is left on h20-a: \(seen(a))")
        let stillServing = json(try runProcess("/usr/bin/curl", ["-s", endpoint + "/server_info"], environment: [:], cwd: s.dir).out)
        #expect(stillServing["mem_fraction_static"] as? Double == 0.72 && stillServing["nnodes"] as? Int == 2, "\(stillServing)")
        let whileCut = try s.run(["plan", "manifests/app.yaml"])
        #expect(whileCut.status == 1 && whileCut.err.contains("host 'h20-b'"), "\(whileCut.err)")
        // h20-b back: the next apply converges, and each host holds one container.
        try b.cut(false)
        let converge = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(converge.status == 0, "\(converge.out)\(converge.err)")
        status = try rows(s)
        #expect(status.count == 1 && status.first?["state"] as? String == "ready" && status.first?["revision"] as? String != served, "\(status)")
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"]).status == 0)
        #expect(seen(a).count == 1 && seen(b).count == 1, "no node left behind: \(seen(a)) \(seen(b))")

        let delete = try s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"])
        #expect(delete.status == 0 && seen(a).isEmpty && seen(b).isEmpty, "\(delete.out)\(delete.err)")
    }
}
