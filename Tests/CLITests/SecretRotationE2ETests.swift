import Foundation
import Testing

/// A changed value behind the same `valueFrom` restarts the replicas that use it; the state keeps
/// only keyed digests, never the value.
@Suite struct SecretRotationE2ETests {
    @Test func rotatingASecretReplacesTheReplica() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try s.write(env: ["API_KEY": "PLACEHOLDER"], args: [])
        let path = s.dir + "/manifests/app.yaml"
        let yaml = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "API_KEY: 'PLACEHOLDER'", with: "API_KEY: {valueFrom: {env: SIM_SECRET}}")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let one = "rotation-value-one-4711", two = "rotation-value-two-0815"

        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve"], env: ["SIM_SECRET": one])
        #expect(first.status == 0, "\(first.out)\(first.err)")
        let pid = try #require(try s.status().first?.pid)

        // Same value: nothing to do. Not resolvable in plan (no env var): not compared, not a change.
        let same = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"], env: ["SIM_SECRET": one])
        #expect(same.status == 0, "\(same.out)\(same.err)")
        let unknown = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"])
        #expect(unknown.status == 0, "\(unknown.out)\(unknown.err)")

        // A new value: plan names the secret (never a value), apply replaces the replica.
        let changed = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"], env: ["SIM_SECRET": two])
        #expect(changed.status == 2, "\(changed.out)\(changed.err)")
        #expect(changed.out.contains("secret value changed: API_KEY"), "\(changed.out)")
        let apply = try s.run(["apply", "manifests/app.yaml", "--auto-approve"], env: ["SIM_SECRET": two])
        #expect(apply.status == 0, "\(apply.out)\(apply.err)")
        let after = try #require(try s.status().first)
        #expect(after.state == "ready" && after.pid != pid, "\(after)")
        let noop = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"], env: ["SIM_SECRET": two])
        #expect(noop.status == 0, "\(noop.out)\(noop.err)")

        for r in [first, same, changed, apply, noop] {
            #expect(!(r.out + r.err).contains(one) && !(r.out + r.err).contains(two))
        }
        // The state directory holds digests only, and the key is private.
        let stateDir = s.dir + "/.dsdeploy"
        for f in try FileManager.default.subpathsOfDirectory(atPath: stateDir) {
            guard let data = FileManager.default.contents(atPath: stateDir + "/" + f) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            #expect(!text.contains(one) && !text.contains(two), "\(f) holds a secret value")
        }
        let attrs = try FileManager.default.attributesOfItem(atPath: stateDir + "/secret-digest.key")
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
    }
}
