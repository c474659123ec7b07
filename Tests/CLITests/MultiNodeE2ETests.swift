import Foundation
import Testing
import TestSupport

/// A replica spanning two nodes on the local target (a rehearsal on one machine): the simulator plays
/// SGLang's multi-node start-up, `dsdeploy-supervisor` runs both nodes as one group that lives and
/// dies together, and the rollout treats the group as one replica.
@Suite(.serialized) struct MultiNodeE2ETests {
    /// The seed's backend on the simulator, one replica over 2 nodes (`--tp-size 16` on 8 × 2).
    func write(_ s: Sandbox, memFraction: String = "0.85", env: [String: String] = [:], timeout: Int = 30) throws {
        var envLines = "    PYPI_PACKAGES_INSTALL: \"-U distro\"\n"
        for (k, v) in env.sorted(by: { $0.key < $1.key }) { envLines += "    \(k): '\(v)'\n" }
        try """
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
          nodesPerReplica: 2
          port: \(s.port)
          readiness: {timeoutSeconds: \(timeout)}
          rollout: {maxSurge: 0, maxUnavailable: 1}
          args:
            - --tp-size 16
            - --mem-fraction-static \(memFraction)
          env:
        \(envLines)
        """.write(toFile: s.dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
    }

    /// Pids of this sandbox's engine processes (their `--dist-init-addr` is on its port + 1000) whose
    /// command line has all of `words`; not their supervisor, whose command line carries every node's.
    func pids(_ s: Sandbox, _ words: [String]) -> [Int32] {
        let r = try? runProcess("/usr/bin/pgrep", ["-f", "--", words.joined(separator: ".*")], environment: [:], cwd: "/")
        return (r?.out ?? "").split(separator: "\n").compactMap { Int32($0) }.filter { pid in
            let argv = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.split(separator: "\0") ?? []
            return !(argv.first ?? "").hasSuffix("dsdeploy-supervisor") && argv.contains("127.0.0.1:\(s.port + 1000)")
        }
    }

    /// What is known of each pid, for a failure message: its /proc/PID/stat and command line.
    func describe(_ pids: [Int32]) -> String {
        pids.map { pid in
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "(gone)"
            let cmd = ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").replacingOccurrences(of: "\0", with: " ")
            return "\(pid): \(stat.trimmingCharacters(in: .whitespacesAndNewlines)) | \(cmd)"
        }.joined(separator: "\n")
    }

    @Test func aTwoNodeReplicaRollsOutAsOneGroup() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try write(s)
        let render = try s.run(["render", "manifests/app.yaml"])
        #expect(render.status == 0 && render.out.contains(
            "    node 1: --port \(s.port + 100) --nnodes 2 --node-rank 1 --dist-init-addr 127.0.0.1:\(s.port + 1000)"), "\(render.out)\(render.err)")
        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(first.status == 0, "\(first.out)\(first.err)")
        // Rank 0 serves the API and reports the group; rank 1 answers only its dummy health check.
        let info = json(try runProcess("/usr/bin/curl", ["-s", "http://127.0.0.1:\(s.port)/server_info"], environment: [:], cwd: s.dir).out)
        #expect(info["nnodes"] as? Int == 2 && info["node_rank"] as? Int == 0 && info["tp_size"] as? Int == 16, "\(info)")
        #expect(info["dist_init_addr"] as? String == "127.0.0.1:\(s.port + 1000)", "\(info)")
        let rank1 = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(s.port + 100)/server_info"],
                                   environment: [:], cwd: s.dir)
        #expect(rank1.out == "404", "rank 1 runs only the dummy health server")
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"]).status == 0, "a no-op")
        let row = (json(try s.run(["status", "--output", "json"]).out)["replicas"] as? [[String: Any]])?.first ?? [:]
        let details = row["details"] as? [String: String] ?? [:]
        #expect(details["nodes"] == "2" && details["node_1"]?.hasPrefix("http://127.0.0.1:\(s.port + 100)") == true, "\(row)")
        let text = try s.run(["status"]).out
        #expect(text.contains("2 nodes"), "\(text)")
        let nodeRow = text.split(separator: "\n").first { $0.hasPrefix("  node 1") }.map(String.init) ?? ""
        #expect(nodeRow.contains("http://127.0.0.1:\(s.port + 100)") && nodeRow.contains("health only; logs --node 1"), "\(text)")
        // Each node's log: rank 0's is the replica's; rank 1's by --node.
        let node1 = try s.run(["logs", "dspark", "--node", "1", "--tail", "20"])
        #expect(node1.status == 0 && node1.out.contains("joined as node_rank=1"), "\(node1.out)\(node1.err)")
        #expect(try s.run(["logs", "dspark", "--tail", "50"]).out.contains("Node rank 1 joined the group"))
        let none = try s.run(["logs", "dspark", "--node", "2"])
        #expect(none.status == 1 && none.err.contains("dspark/0 has no node 2"), "\(none.err)")

        // A flag change replaces the whole group.
        try write(s, memFraction: "0.8")
        let change = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(change.status == 0 && change.out.contains("~ --mem-fraction-static: 0.85 → 0.8"), "\(change.out)\(change.err)")
        let good = json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"]).out)["replicas"] as? [[String: Any]] ?? []
        #expect(good.count == 1 && good.first?["state"] as? String == "ready", "\(good)")
        let rank1s = pids(s, ["--port \(s.port + 100)", "--node-rank 1"])
        #expect(rank1s.count == 1, "one rank-1 process: the old group is gone\n\(describe(rank1s))")

        // A rank that never joins: the group never gets ready, the rollout fails with the reason and reverts.
        try write(s, memFraction: "0.75", env: ["DSDEPLOY_SIM_NEVER_JOIN": "1"], timeout: 4)
        let hung = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(hung.status == 1 && hung.out.contains("not ready after 4 s"), "\(hung.out)\(hung.err)")
        let back = json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"]).out)["replicas"] as? [[String: Any]] ?? []
        #expect(back.count == 1 && back.first?["state"] as? String == "ready" && back.first?["revision"] as? String == good.first?["revision"] as? String,
                "the last good group serves again: \(back)")
        let failed = pids(s, ["--mem-fraction-static 0.75"])
        #expect(failed.isEmpty, "nothing of the failed group is left\n\(describe(failed))\n\(hung.out)")

        // Rank 1 killed while a new group starts: the group fails as a whole and the deployment reverts.
        try write(s, memFraction: "0.7", env: ["DSDEPLOY_SIM_START_DELAY": "3"], timeout: 30)
        let apply = try s.spawn(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(eventually(timeout: 30) { !self.pids(s, ["--mem-fraction-static 0.7 ", "--node-rank 1"]).isEmpty })
        for pid in pids(s, ["--mem-fraction-static 0.7 ", "--node-rank 1"]) { kill(pid, SIGKILL) }
        apply.waitUntilExit()
        #expect(apply.terminationStatus == 1)
        let after = json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"]).out)["replicas"] as? [[String: Any]] ?? []
        #expect(after.count == 1 && after.first?["state"] as? String == "ready" && after.first?["revision"] as? String == good.first?["revision"] as? String,
                "\(after)")
        let rest = pids(s, ["--mem-fraction-static 0.7 "])
        #expect(rest.isEmpty, "the rest of the failed group was stopped\n\(describe(rest))")
    }
}
