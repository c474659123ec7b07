import Foundation
import Testing

/// What is refused before any request is made (the URL points at a closed port): a field a target
/// type does not support is an error at its line, and a server that is down is named without the key.
@Suite struct GPUStackCLITests {
    let cli = CLITests()

    @Test func refusalsNeedNoServer() throws {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["GPUSTACK_API_KEY"] = "gpustack_test_key_never_printed"
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: lab}
        spec:
          type: gpustack
          url: http://127.0.0.1:9
          apiKey: {valueFrom: {env: GPUSTACK_API_KEY}}
        """.write(toFile: dir + "/lab.yaml", atomically: true, encoding: .utf8)
        let seed = try String(contentsOfFile: CLITests.root + "/manifests/dspark.yaml", encoding: .utf8)
        try """
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: box}
        spec:
          type: docker
          hosts: [{name: a, docker: "unix:///nonexistent/docker.sock", gpus: 16}]
        """.write(toFile: dir + "/box.yaml", atomically: true, encoding: .utf8)
        // The seed's deployment with `nodes: 2` (one replica over two hosts), on targets that cannot run it:
        // gpustack runs no multi-node replica; docker runs one node per host, and `box` has one host.
        let twoNodes = seed.replacingOccurrences(of: "  replicas: 1\n", with: "  replicas: 1\n  nodes: 2\n")
        #expect(twoNodes != seed)
        try twoNodes.write(toFile: dir + "/two-nodes.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/backends", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLITests.root + "/manifests/backends/sglang-dspark.yaml",
                                         toPath: dir + "/backends/sglang-dspark.yaml")
        let line = (twoNodes.components(separatedBy: "\n").firstIndex { $0.hasPrefix("  nodes: 2") } ?? -1) + 1
        env["DSDEPLOY_HOME"] = dir + "/state"
        for (files, type) in [([dir + "/two-nodes.yaml", dir + "/lab.yaml"], "gpustack"), ([dir + "/two-nodes.yaml", dir + "/box.yaml"], "docker")] {
            for command in ["validate", "plan", "apply"] {
                let r = try CLITests.exec([command] + files + (command == "apply" ? ["--auto-approve"] : []), cwd: dir, env: env)
                #expect(r.status == 1, "\(command) on \(type): \(r.out)\(r.err)")
                let why = type == "docker"
                    ? "a replica on 2 nodes (nodesPerReplica: 2) runs one node per host, on 2 distinct hosts with 8 GPUs each, but target 'box' has 1 host"
                    : "replicas spanning 2 nodes are not supported on a \(type) target"
                #expect(r.err.contains("two-nodes.yaml:\(line):10: error: deployment 'dspark': " + why), "\(command) on \(type): \(r.err)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/state/state.db"), "nothing was started")

        // A real attempt against the closed port names the server and never the key.
        let files = [CLITests.root + "/manifests/dspark.yaml", dir + "/lab.yaml"]
        let down = try CLITests.exec(["plan"] + files, cwd: dir, env: env)
        #expect(down.status == 1, "\(down.out)\(down.err)")
        #expect(down.err.contains("127.0.0.1:9"), "\(down.err)")
        let status = try CLITests.exec(["status", "-f", dir + "/lab.yaml"], cwd: dir, env: env)
        #expect(status.status == 1 && status.err.contains("127.0.0.1:9"), "\(status.out)\(status.err)")
        for r in [down, status] { #expect(!(r.out + r.err).contains("gpustack_test_key_never_printed")) }
    }
}
