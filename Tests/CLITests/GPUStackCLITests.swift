import Foundation
import Testing

/// The gpustack target's refusals that need no server: what it does not support yet fails at once,
/// with exit 1 and a clear message, before any request is made (the URL points at a closed port).
@Suite struct GPUStackCLITests {
    let cli = CLITests()

    @Test func unsupportedOptionsFailBeforeAnyRequest() throws {
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
        let files = [CLITests.root + "/manifests/dspark.yaml", dir + "/lab.yaml"]
        env["DSDEPLOY_HOME"] = dir + "/state"

        let gate = try CLITests.exec(["apply"] + files + ["--auto-approve", "--gate"], cwd: dir, env: env)
        #expect(gate.status == 1, "\(gate.out)\(gate.err)")
        #expect(gate.err.contains("--gate is not supported on a gpustack target"), "\(gate.err)")

        let out = try CLITests.exec(["plan"] + files + ["--out", dir + "/p.json"], cwd: dir, env: env)
        #expect(out.status == 1, "\(out.out)\(out.err)")
        #expect(out.err.contains("--out is not supported on a gpustack target"), "\(out.err)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/p.json"))

        // And a real attempt against the closed port names the server and never the key.
        let down = try CLITests.exec(["plan"] + files, cwd: dir, env: env)
        #expect(down.status == 1, "\(down.out)\(down.err)")
        #expect(down.err.contains("127.0.0.1:9"), "\(down.err)")
        for r in [gate, out, down] { #expect(!(r.out + r.err).contains("gpustack_test_key_never_printed")) }
    }
}
