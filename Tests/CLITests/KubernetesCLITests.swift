import Foundation
import Testing
import TestSupport

/// `dsdeploy render --format kubernetes` end to end, and the capability errors of a render-only target.
@Suite struct KubernetesCLITests {
    let cli = CLITests()
    static let seed = ["manifests/dspark.yaml", "manifests/targets/cluster.yaml"]

    @Test func rendersTheSeedAsOneStreamByteStable() throws {
        let a = try cli.run(["render"] + Self.seed + ["--format", "kubernetes"])
        #expect(a.status == 0, "\(a.err)")
        let golden = try String(contentsOfFile: CLITests.root + "/Tests/DeployTargetsTests/KubernetesGolden/dspark.yaml", encoding: .utf8)
        #expect(a.out == golden, "the CLI writes what the library's golden file holds")
        let b = try cli.run(["render"] + Self.seed + ["--format", "kubernetes"])
        #expect(a.out == b.out)
        let json = try cli.run(["render"] + Self.seed + ["--format", "kubernetes", "--output", "json"])
        #expect(json.status == 0, "\(json.err)")
        let list = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        #expect(list?["kind"] as? String == "List")
        #expect((list?["items"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } == ["Deployment", "Service"])
    }

    @Test func writesOneFilePerObjectUnderOut() throws {
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try cli.run(["render"] + Self.seed + ["--format", "kubernetes", "--out", dir + "/k8s"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out == "wrote \(dir)/k8s/dspark.deployment.yaml\nwrote \(dir)/k8s/dspark.service.yaml\n")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/k8s").sorted()
        #expect(files == ["dspark.deployment.yaml", "dspark.service.yaml"])
        let joined = try files.map { try String(contentsOfFile: dir + "/k8s/" + $0, encoding: .utf8) }.joined()
        let stream = try cli.run(["render"] + Self.seed + ["--format", "kubernetes"])
        #expect(joined == stream.out)
        let noFormat = try cli.run(["render"] + Self.seed + ["--out", dir + "/x"])
        #expect(noFormat.status == 1 && noFormat.err.contains("add --format kubernetes"))
    }

    /// A multi-node replica: the LeaderWorkerSet and its leader Service, as the library's golden file
    /// holds them, one file each under --out.
    @Test func rendersAMultiNodeReplicaAsALeaderWorkerSet() throws {
        let files = ["Tests/DeployTargetsTests/KubernetesFixtures/sglang-multinode.yaml"]
        let checked = try cli.run(["validate"] + files)
        #expect(checked.status == 0, "\(checked.out)\(checked.err)")
        let stream = try cli.run(["render"] + files + ["--format", "kubernetes"])
        #expect(stream.status == 0, "\(stream.err)")
        let golden = try String(contentsOfFile: CLITests.root + "/Tests/DeployTargetsTests/KubernetesGolden/sglang-multinode.yaml", encoding: .utf8)
        #expect(stream.out == golden)
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try cli.run(["render"] + files + ["--format", "kubernetes", "--out", dir + "/k8s"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/k8s").sorted()
                == ["deepseek-v3.leaderworkerset.yaml", "deepseek-v3.service.yaml"])
    }

    /// The same deployment, with a Docker fleet and a cluster both loaded: --target picks the cluster.
    /// A prefill/decode deployment: validate accepts it on a kubernetes target; render prints the
    /// library's golden file, and writes the role objects, the router's RBAC, Deployment and Service
    /// one file each under --out.
    @Test func rendersAPrefillDecodeDeployment() throws {
        let files = ["Tests/DeployTargetsTests/KubernetesFixtures/sglang-pd.yaml"]
        let checked = try cli.run(["validate"] + files)
        #expect(checked.status == 0, "\(checked.out)\(checked.err)")
        let stream = try cli.run(["render"] + files + ["--format", "kubernetes"])
        #expect(stream.status == 0, "\(stream.err)")
        let golden = try String(contentsOfFile: CLITests.root + "/Tests/DeployTargetsTests/KubernetesGolden/sglang-pd.yaml", encoding: .utf8)
        #expect(stream.out == golden)
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try cli.run(["render"] + files + ["--format", "kubernetes", "--out", dir + "/k8s"])
        #expect(r.status == 0, "\(r.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/k8s").sorted()
                == ["dsr1-decode.deployment.yaml", "dsr1-decode.service.yaml", "dsr1-prefill.deployment.yaml",
                    "dsr1-prefill.service.yaml", "dsr1-router.role.yaml", "dsr1-router.rolebinding.yaml",
                    "dsr1-router.serviceaccount.yaml", "dsr1.deployment.yaml", "dsr1.service.yaml"])
    }

    @Test func targetPicksTheClusterForTheSameManifest() throws {
        let files = ["manifests/dspark.yaml", "manifests/targets/gpu-fleet.yaml", "manifests/targets/cluster.yaml"]
        let ambiguous = try cli.run(["render"] + files + ["--format", "kubernetes"])
        #expect(ambiguous.status == 1 && ambiguous.err.contains("set spec.target"), "\(ambiguous.err)")
        let picked = try cli.run(["render"] + files + ["--format", "kubernetes", "--target", "cluster"])
        #expect(picked.status == 0, "\(picked.err)")
        #expect(picked.out.contains("dsdeploy/target: cluster"))
        let typo = try cli.run(["render"] + files + ["--format", "kubernetes", "--target", "clustr"])
        #expect(typo.status == 1 && typo.err.contains("no target 'clustr'") && typo.err.contains("did you mean 'cluster'?"))
        let checked = try cli.run(["validate"] + files + ["--target", "cluster"])
        #expect(checked.status == 0 && checked.out.contains("valid (1 deployment)"), "\(checked.err)")
        let docker = try cli.run(["render", "manifests/dspark.yaml", "manifests/targets/gpu-fleet.yaml", "--format", "kubernetes"])
        #expect(docker.status == 1 && docker.err.contains("not a kubernetes target"), "\(docker.err)")
    }

    /// A render-only target refuses plan, apply and status with the one capability error.
    @Test func planApplyAndStatusAreRefused() throws {
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var env = ProcessInfo.processInfo.environment
        env["DSDEPLOY_HOME"] = dir + "/state"
        env["NO_COLOR"] = "1"
        let plan = try CLITests.exec(["plan"] + Self.seed, cwd: CLITests.root, env: env)
        #expect(plan.status == 1)
        #expect(plan.err.hasSuffix("dsdeploy: error: plan needs observing what runs, which target 'cluster' (type kubernetes) cannot do\n"), "\(plan.err)")
        let apply = try CLITests.exec(["apply"] + Self.seed + ["--auto-approve"], cwd: CLITests.root, env: env)
        #expect(apply.status == 1)
        #expect(apply.err.hasSuffix("dsdeploy: error: apply needs apply, which target 'cluster' (type kubernetes) cannot do\n"), "\(apply.err)")
        let status = try CLITests.exec(["status", "-f", "manifests/targets/cluster.yaml"], cwd: CLITests.root, env: env)
        #expect(status.status == 1 && status.err.contains("status needs observing what runs"), "\(status.err)")
    }

    @Test func aManifestKubernetesWouldRefuseFailsValidate() throws {
        let dir = try cli.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: CLITests.root + "/manifests/targets/cluster.yaml", encoding: .utf8)
            .replacingOccurrences(of: "namespace: llm", with: "namespace: LLM_prod")
        try text.write(toFile: dir + "/cluster.yaml", atomically: true, encoding: .utf8)
        let r = try cli.run(["validate", "manifests/dspark.yaml", dir + "/cluster.yaml"])
        #expect(r.status == 1)
        #expect(r.err.contains("cluster.yaml:17:14: error: target 'cluster': namespace 'LLM_prod' may contain only lowercase letters, digits and '-'"), "\(r.err)")
    }
}
