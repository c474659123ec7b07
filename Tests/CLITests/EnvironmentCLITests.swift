import Foundation
import Testing
import TestSupport

/// Environments through the built binary: the shipped overlays (manifests/envs/), `--set` and
/// `--values`, their exit codes, located errors and JSON provenance.
@Suite struct EnvironmentCLITests {
    let cli = CLITests()

    @Test func shippedOverlaysValidate() throws {
        for file in ["manifests/envs/staging.yaml", "manifests/envs/production.yaml"] {
            let r = try cli.run(["validate", file])
            #expect(r.status == 0, "\(file): \(r.err)")
            #expect(r.out == "\(file): valid (1 deployment)\n")
        }
    }

    @Test func diffAcrossEnvironmentsIsFlagLevel() throws {
        let r = try cli.run(["diff", "manifests/envs/production.yaml", "manifests/envs/staging.yaml"])
        #expect(r.status == 2, "\(r.out)\(r.err)")
        for line in ["    target: gpu-fleet → staging-box", "    gpusPerReplica: 8 → 4", "    replicas: 2 → 1  (no restart)",
                     "  ~ --context-length: 1000000 → 131072", "  ~ --ep-size: 8 → 4", "  ~ --tp-size: 8 → 4"] {
            #expect(r.out.contains(line + "\n"), "missing '\(line)' in\n\(r.out)")
        }
        // The other ten flags are the same in both environments: not listed.
        #expect(!r.out.contains("--mem-fraction-static"))
        let json = try cli.run(["diff", "manifests/envs/production.yaml", "manifests/envs/staging.yaml", "--output", "json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        let flags = ((obj?["deployments"] as? [[String: Any]])?.first?["flags"] as? [[String: Any]])?.compactMap { $0["flag"] as? String }
        #expect(flags == ["--context-length", "--ep-size", "--tp-size"])
    }

    @Test func renderJSONSaysWhichFileAndLineSetEachValue() throws {
        let r = try cli.run(["render", "manifests/envs/staging.yaml", "--output", "json",
                             "--set", "deployments.dspark.args.--max-running-requests=16"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let replica = try #require((obj?["replicas"] as? [[String: Any]])?.first)
        let flags = try #require(replica["flags"] as? [[String: Any]])
        func origin(_ name: String) -> [String: Any]? { flags.first { $0["name"] as? String == name }?["origin"] as? [String: Any] }
        #expect(origin("--context-length")?["layer"] as? String == "overlay")
        #expect(origin("--context-length")?["overlay"] as? String == "staging")
        #expect(origin("--context-length")?["file"] as? String == "manifests/envs/staging.yaml")
        #expect(origin("--context-length")?["line"] as? Int == 22)
        #expect(origin("--trust-remote-code")?["layer"] as? String == "base")
        #expect(origin("--trust-remote-code")?["file"] as? String == "manifests/dspark.yaml")
        #expect(origin("--max-running-requests")?["layer"] as? String == "set")
        #expect(origin("--max-running-requests")?["line"] as? Int == 1)
        let fields = try #require(replica["fieldOrigins"] as? [String: [String: Any]])
        #expect(fields["replicas"]?["overlay"] as? String == "staging")
        #expect(fields["model.id"]?["layer"] as? String == "base")
    }

    @Test func unknownSetPathIsLocatedWithDidYouMean() throws {
        let r = try cli.run(["validate", "manifests/envs/staging.yaml", "--set", "deployments.dspark.replicaz=2"])
        #expect(r.status == 1)
        #expect(r.err.contains("""
            --set:1:20: error: unknown field 'replicaz' in deployment 'dspark'; did you mean 'replicas'? [unknown-key]
            deployments.dspark.replicaz=2
                               ^~~~~~~~
            """), "\(r.err)")
    }

    @Test func setTypeErrorRendersNothing() throws {
        let r = try cli.run(["render", "manifests/envs/production.yaml", "--set", "deployments.dspark.replicas=two"])
        #expect(r.status == 1)
        #expect(r.out.isEmpty, "nothing rendered: \(r.out)")
        #expect(r.err.contains("--set:1:29: error: 'spec.replicas' must be an integer, got a string [invalid-type]"), "\(r.err)")
        #expect(r.err.contains("note: --set sets 'replicas'; replaces the value at manifests/envs/production.yaml:18:19 (overlay 'production')"),
                "\(r.err)")
    }

    @Test func setOnTheNewSideOfADiff() throws {
        let r = try cli.run(["diff", "manifests/dspark.yaml", "manifests/dspark.yaml", "--set", "deployments.dspark.replicas=2",
                             "--set", "deployments.dspark.args.--tp=8"])
        #expect(r.status == 2, "\(r.out)\(r.err)")
        #expect(r.out.contains("    replicas: 1 → 2  (no restart)\n"), "\(r.out)")
        #expect(!r.out.contains("--tp-size"), "--tp restates --tp-size 8: no flag change\n\(r.out)")
    }

    @Test func valuesFile() throws {
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let values = dir + "/canary.yaml"
        try """
        deployments.dspark.replicas: 1
        deployments.dspark.args.--mem-fraction-stattic: 0.8
        """.write(toFile: values, atomically: true, encoding: .utf8)
        let bad = try cli.run(["validate", "manifests/envs/production.yaml", "--values", values])
        #expect(bad.status == 1)
        #expect(bad.err.contains("\(values):2:25: error: unknown flag '--mem-fraction-stattic' for sglang 0.5.19; did you mean '--mem-fraction-static'?"),
                "\(bad.err)")
        try "deployments.dspark.replicas: 1\n".write(toFile: values, atomically: true, encoding: .utf8)
        let ok = try cli.run(["diff", "manifests/envs/production.yaml", "manifests/envs/production.yaml", "--values", values])
        #expect(ok.status == 2)
        #expect(ok.out.contains("replicas: 2 → 1"), "\(ok.out)")
    }

    @Test func overlayCycleAndMissingBase() throws {
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func overlay(_ name: String, base: String) -> String {
            "apiVersion: dsdeploy/v1\nkind: Overlay\nmetadata: {name: \(name)}\nspec:\n  base: \(base)\n"
        }
        try overlay("a", base: "b.yaml").write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        try overlay("b", base: "a.yaml").write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        try overlay("c", base: "gone.yaml").write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        let cycle = try cli.run(["validate", "a.yaml"], cwd: dir)
        #expect(cycle.status == 1)
        #expect(cycle.err.contains("a.yaml:5:9: error: overlay 'a' is its own base: a.yaml → b.yaml → a.yaml [overlay-cycle]"), "\(cycle.err)")
        let missing = try cli.run(["validate", "c.yaml"], cwd: dir)
        #expect(missing.status == 1)
        #expect(missing.err.contains("c.yaml:5:9: error: cannot read the base 'gone.yaml' of overlay 'c': no such file [unknown-reference]"),
                "\(missing.err)")
    }
}

/// Environments applied for real on the local target with the SGLang simulator (manifests/targets/simulator.yaml):
/// revisions and plans come from the resolved manifest.
@Suite struct EnvironmentE2ETests {
    @Test func overlaysAndSettingsPlanAndApplyFromTheResolvedManifest() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(first.status == 0, "\(first.out)\(first.err)")
        let pid = try #require(try s.status().first?.pid)

        // An overlay that restates the base (through the alias of --tp-size) resolves to the same
        // launch spec: it plans nothing.
        try FileManager.default.createDirectory(atPath: s.dir + "/manifests/envs", withIntermediateDirectories: true)
        try """
        apiVersion: dsdeploy/v1
        kind: Overlay
        metadata: {name: same}
        spec:
          base: ../app.yaml
          deployments:
            dspark:
              set: {--tensor-parallel-size: 8, replicas: 1}
        """.write(toFile: s.dir + "/manifests/envs/same.yaml", atomically: true, encoding: .utf8)
        let same = try s.run(["plan", "manifests/envs/same.yaml", "--detailed-exitcode"])
        #expect(same.status == 0, "\(same.out)\(same.err)")

        // A setting on top of it changes a flag: plan names it, a saved plan keeps the setting, and
        // applying that plan replaces the replica.
        let set = ["--set", "deployments.dspark.args.--mem-fraction-static=0.8"]
        let changed = try s.run(["plan", "manifests/envs/same.yaml", "--detailed-exitcode", "--out", "p.json"] + set)
        #expect(changed.status == 2, "\(changed.out)\(changed.err)")
        #expect(changed.out.contains("--mem-fraction-static"), "\(changed.out)")
        let refused = try s.run(["apply", "p.json", "--auto-approve"] + set)
        #expect(refused.status == 1)
        #expect(refused.err.contains("carries the --set and --values it was made with"), "\(refused.err)")
        let applied = try s.run(["apply", "p.json", "--auto-approve"])
        #expect(applied.status == 0, "\(applied.out)\(applied.err)")
        let after = try #require(try s.status().first)
        #expect(after.pid != pid, "the replica was replaced")
        #expect(after.state == "ready")
        let settled = try s.run(["plan", "manifests/envs/same.yaml", "--detailed-exitcode"] + set)
        #expect(settled.status == 0, "\(settled.out)\(settled.err)")
        // Without the setting, the environment is back to the base: a change again.
        let back = try s.run(["plan", "manifests/envs/same.yaml", "--detailed-exitcode"])
        #expect(back.status == 2, "\(back.out)\(back.err)")
        try s.run(["delete", "manifests/app.yaml", "--auto-approve"])
    }
}
