import DeployCore
import DeployKit
import DeploySpec
@testable import DeployTargets
import Foundation
import Testing
import TestSupport

/// `render --format kubernetes`: golden objects for the seed's DSpark, a vLLM and a llama.cpp
/// deployment, and multi-node SGLang and vLLM replicas (LeaderWorkerSets), each validated strictly
/// against the Kubernetes OpenAPI schemas (the LeaderWorkerSet against its CRD's schema); the
/// container runs the Renderer's argv; secrets are references; output is byte-stable.
@Suite struct KubernetesRenderTests {
    /// The golden cases: manifests (repository paths), the golden file and the kinds rendered.
    static let cases: [(files: [String], golden: String, kinds: [String])] = [
        (["manifests/dspark.yaml", "manifests/targets/cluster.yaml"], "dspark.yaml", ["Deployment", "Service"]),
        (["Tests/DeployTargetsTests/KubernetesFixtures/vllm.yaml"], "vllm.yaml", ["Deployment", "Service"]),
        (["Tests/DeployTargetsTests/KubernetesFixtures/llama.cpp.yaml"], "llama.cpp.yaml", ["Deployment", "Service"]),
        (["Tests/DeployTargetsTests/KubernetesFixtures/sglang-multinode.yaml"], "sglang-multinode.yaml", ["LeaderWorkerSet", "Service"]),
        (["Tests/DeployTargetsTests/KubernetesFixtures/vllm-multinode.yaml"], "vllm-multinode.yaml", ["LeaderWorkerSet", "Service"]),
        (["Tests/DeployTargetsTests/KubernetesFixtures/sglang-pd.yaml"], "sglang-pd.yaml",
         ["Deployment", "Service", "Deployment", "Service", "ServiceAccount", "Role", "RoleBinding", "Deployment", "Service"]),
    ]

    static func render(_ files: [String]) throws -> [KubernetesRenderer.Object] {
        let r = KubernetesSupport.validate(files)
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        switch KubernetesRenderer.objects(r.deployments) {
        case .success(let o): return o
        case .failure(let e): throw e
        }
    }

    @Test(arguments: 0..<6) func goldenObjects(_ i: Int) throws {
        let c = Self.cases[i]
        let objects = try Self.render(c.files)
        #expect(objects.map { $0.value["kind"]?.stringValue } == c.kinds)
        expectSnapshot(KubernetesRenderer.yamlStream(objects), named: c.golden, directory: "KubernetesGolden")
        // Byte-stable: a second load and render of the same files gives the same bytes.
        #expect(KubernetesRenderer.yamlStream(try Self.render(c.files)) == KubernetesRenderer.yamlStream(objects))
    }

    /// Every golden file passes `kubernetes-validate --strict` (no unknown fields) for the pinned
    /// Kubernetes version: the files as shipped, so a golden re-recorded wrong fails here too.
    /// The LeaderWorkerSets are checked against the CRD's published schema (less the pod templates,
    /// which are checked as core PodTemplates) by validate_objects.py, every other object by it and
    /// by the kubernetes-validate CLI.
    @Test func goldenFilesValidateStrictly() throws {
        guard let v = KubernetesSupport.validator() else { return }
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("KubernetesGolden").path
        let files = Self.cases.map { dir + "/" + $0.golden }
        let all = try KubernetesSupport.validateObjects(files, python: v.python)
        #expect(all.failed == 0, "\(all.output)")
        #expect(all.passed == Self.cases.map(\.kinds.count).reduce(0, +), "\(all.output)")
        #expect(all.output.components(separatedBy: "passed for resource leaderworkerset/").count - 1 == 2, "\(all.output)")
        let coreCases = Self.cases.filter { !$0.kinds.contains("LeaderWorkerSet") }
        let core = coreCases.map { dir + "/" + $0.golden }
        let r = try KubernetesSupport.strictValidate(core, cli: v.cli)
        #expect(r.failed == 0, "\(r.output)")
        #expect(r.passed == coreCases.map(\.kinds.count).reduce(0, +), "\(r.output)")
        // The PD golden's RBAC objects are among them (rbac.authorization.k8s.io/v1 and core kinds).
        for object in ["serviceaccount/dsr1-router", "role/dsr1-router", "rolebinding/dsr1-router"] {
            #expect(r.output.contains("passed for resource \(object) "), "\(object): \(r.output)")
        }
    }

    /// The validator can fail: a LeaderWorkerSet with a field its CRD does not have, a size of the
    /// wrong type, a startup policy it does not know, and an unknown field in a pod template's
    /// container is refused, each at its path.
    @Test func theLeaderWorkerSetValidatorRefusesWhatTheCRDWould() throws {
        guard let v = KubernetesSupport.validator() else { return }
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("KubernetesGolden").path
        let good = try String(contentsOfFile: dir + "/sglang-multinode.yaml", encoding: .utf8)
        let tmp = try KubernetesSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let mutations: [(from: String, to: String, path: String)] = [
            ("  startupPolicy: LeaderCreated\n", "  startupPolicy: LeaderCreated\n  partitions: 2\n", "spec: Additional properties"),
            ("    size: 2\n", "    size: \"2\"\n", "spec.leaderWorkerTemplate.size: '2' is not of type 'integer'"),
            ("startupPolicy: LeaderCreated", "startupPolicy: WhenReady", "spec.startupPolicy: 'WhenReady' is not one of"),
            ("        - name: engine\n", "        - name: engine\n          gpus: 8\n",
             "spec.leaderWorkerTemplate.leaderTemplate.spec.containers.0: Additional properties are not allowed ('gpus' was unexpected)"),
        ]
        for (i, m) in mutations.enumerated() {
            #expect(good.contains(m.from), "mutation \(i) applies")
            let path = tmp + "/\(i).yaml"
            try good.replacingOccurrences(of: m.from, with: m.to).write(toFile: path, atomically: true, encoding: .utf8)
            let r = try KubernetesSupport.validateObjects([path], python: v.python)
            #expect(r.failed == 1 && r.passed == 1, "mutation \(i): \(r.output)")
            #expect(r.output.contains(m.path), "mutation \(i): \(r.output)")
        }
    }

    /// A multi-node replica: one LeaderWorkerSet group per replica, one pod per node with the
    /// deployment's GPUs; the engine's multi-node flags read LWS's environment through `$(VAR)`
    /// (no shell); only the leader serves HTTP and is probed; the Service selects the leaders.
    @Test func aMultiNodeReplicaIsALeaderWorkerSetGroup() throws {
        let objects = try Self.render(Self.cases[3].files)
        let lws = objects[0].value
        #expect(objects.map(\.fileName) == ["deepseek-v3.leaderworkerset.yaml", "deepseek-v3.service.yaml"])
        #expect(lws["spec"]?["replicas"] == .int(2))
        #expect(lws["spec"]?["startupPolicy"] == .string("LeaderCreated"))
        #expect(lws["spec"]?["rolloutStrategy"]?["rollingUpdateConfiguration"]?["maxSurge"] == .int(1))
        #expect(lws["spec"]?["rolloutStrategy"]?["rollingUpdateConfiguration"]?["maxUnavailable"] == .int(0))
        let lwt = try #require(lws["spec"]?["leaderWorkerTemplate"])
        #expect(lwt["size"] == .int(2))
        func container(_ template: String) -> KubeValue? {
            if case .list(let cs)? = lwt[template]?["spec"]?["containers"] { return cs.first }
            return nil
        }
        func strings(_ v: KubeValue?) -> [String] { if case .list(let l)? = v { return l.compactMap(\.stringValue) } else { return [] } }
        let leader = try #require(container("leaderTemplate")), worker = try #require(container("workerTemplate"))
        let r = KubernetesSupport.validate(Self.cases[3].files)
        let spec = try KubernetesRenderer(target: try #require(r.deployments.first?.target)).launchSpec(try #require(r.deployments.first)).get()
        let own = Array(spec.argv.dropFirst(spec.entrypointCount))
        let flags = ["--nnodes", "$(LWS_GROUP_SIZE)", "--node-rank", "$(LWS_WORKER_INDEX)", "--dist-init-addr", "$(LWS_LEADER_ADDRESS):31000"]
        #expect(strings(leader["command"]) == ["sglang", "serve"])
        #expect(strings(leader["args"]) == own + flags)
        #expect(strings(worker["args"]) == own + flags, "SGLang: the same flags on every rank")
        #expect(leader["resources"]?["limits"]?["nvidia.com/gpu"] == .string("8"))
        #expect(worker["resources"]?["limits"]?["nvidia.com/gpu"] == .string("8"), "every node has gpusPerReplica GPUs")
        #expect(leader["readinessProbe"] != nil && leader["startupProbe"]?["failureThreshold"] == .int(180) && leader["ports"] != nil)
        #expect(worker["readinessProbe"] == nil && worker["startupProbe"] == nil && worker["livenessProbe"] == nil && worker["ports"] == nil)
        #expect(worker["volumeMounts"] == leader["volumeMounts"])
        let service = objects[1].value
        #expect(service["metadata"]?["name"] == .string("deepseek-v3-leader"), "LWS's own headless Service is named deepseek-v3")
        #expect(service["spec"]?["selector"] == .map([KubeField("dsdeploy/deployment", .string("deepseek-v3")),
                                                     KubeField("leaderworkerset.sigs.k8s.io/worker-index", .string("0"))]))
        // vLLM: --headless on the workers only.
        let vllm = try Self.render(Self.cases[4].files)[0].value["spec"]?["leaderWorkerTemplate"]
        func vargs(_ t: String) -> [String] {
            guard case .list(let cs)? = vllm?[t]?["spec"]?["containers"], let c = cs.first else { return [] }
            return strings(c["args"])
        }
        let common = ["--nnodes", "$(LWS_GROUP_SIZE)", "--node-rank", "$(LWS_WORKER_INDEX)", "--master-addr", "$(LWS_LEADER_ADDRESS)",
                      "--master-port", "9000"]
        #expect(Array(vargs("leaderTemplate").suffix(8)) == common)
        #expect(Array(vargs("workerTemplate").suffix(9)) == common + ["--headless"])
    }

    /// Kubernetes expands `$(VAR)` in command, args and env values; a `$` of the manifest's own is
    /// written `$$` so the engine gets exactly what the manifest says.
    @Test func aDollarOfTheManifestIsNotExpanded() throws {
        #expect(KubernetesRenderer.escapeExpansion("--x=$(HOME)/a$b") == "--x=$$(HOME)/a$$b")
        #expect(KubernetesRenderer.escapeExpansion("plain") == "plain")
        let yaml = """
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          model: {source: huggingface, id: Qwen/Qwen3-8B}
          backend: vllm
          backendVersion: "0.33.0"
          gpusPerReplica: 1
          args: ["--chat-template $(TEMPLATE)"]
          env: {PROMPT: "cost: $(PRICE)"}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: k}
        spec: {type: kubernetes}
        """
        var files = ["m.yaml": yaml]
        files["templates/vllm.yaml"] = try String(contentsOfFile: repositoryRoot + "/templates/vllm.yaml", encoding: .utf8)
        let r = KubernetesSupport.validate(["m.yaml"], memory: files)
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        let text = KubernetesRenderer.yamlStream(try KubernetesRenderer.objects(r.deployments).get())
        #expect(text.contains("- \"$$(TEMPLATE)\"\n") && text.contains("value: \"cost: $$(PRICE)\"\n"), "\(text)")
    }

    /// The container runs exactly the argv every other target runs (the Renderer's, `{{worker_ip}}`
    /// the pod's every address), as arrays: the entrypoint as `command`, the rest as `args`.
    @Test func theContainerRunsTheRenderersArgv() throws {
        let r = KubernetesSupport.validate(Self.cases[0].files)
        let d = try #require(r.deployments.first)
        let spec = try #require(try Renderer().render(d, placement: [ReplicaPlacement(host: "x", address: "0.0.0.0",
                                                                                    gpuIds: Array(0..<8))]).get().first)
        let objects = try Self.render(Self.cases[0].files)
        let podSpec = try #require(objects[0].value["spec"]?["template"]?["spec"])
        guard case .list(let containers)? = podSpec["containers"], let c = containers.first else { Issue.record("no container"); return }
        func strings(_ v: KubeValue?) -> [String] {
            guard case .list(let l)? = v else { return [] }
            return l.compactMap(\.stringValue)
        }
        #expect(strings(c["command"]) + strings(c["args"]) == spec.argv)
        #expect(strings(c["command"]) == ["sglang", "serve"])
        #expect(strings(c["args"]).contains("--speculative-algorithm"))
        // sglang 0.5.19 has no /ready: the probes use /health_generate, as the local target waits.
        #expect(c["readinessProbe"]?["httpGet"]?["path"]?.stringValue == "/health_generate")
        #expect(c["startupProbe"]?["failureThreshold"] == .int(60), "600 s of the default start timeout, probed every 10 s")
        #expect(c["resources"]?["limits"]?["nvidia.com/gpu"] == .string("8"))
    }

    /// Secret env values are `secretKeyRef`s to the target's Secret, and no secret value reaches the output.
    @Test func secretsAreReferencesNeverValues() throws {
        let yaml = """
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          model: {source: huggingface, id: Qwen/Qwen3-8B}
          backend: vllm
          backendVersion: "0.33.0"
          gpusPerReplica: 1
          env:
            PASSWORD: {value: hunter2-do-not-render, secret: true}
            TOKEN: {valueFrom: {env: TOKEN}}
            PLAIN: visible
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: k}
        spec: {type: kubernetes, secretName: web-secrets}
        """
        var files = ["m.yaml": yaml]
        files["templates/vllm.yaml"] = try String(contentsOfFile: repositoryRoot + "/templates/vllm.yaml", encoding: .utf8)
        let r = KubernetesSupport.validate(["m.yaml"], memory: files)
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        let objects = try KubernetesRenderer.objects(r.deployments).get()
        let text = KubernetesRenderer.yamlStream(objects) + KubernetesRenderer.jsonList(objects)
        #expect(!text.contains("hunter2"))
        #expect(text.contains("""
                - name: PASSWORD
                  valueFrom:
                    secretKeyRef:
                      name: web-secrets
                      key: PASSWORD
                - name: TOKEN
                  valueFrom:
                    secretKeyRef:
                      name: web-secrets
                      key: TOKEN
                - name: PLAIN
                  value: visible
        """))
    }

    /// The revision label changes with what runs (a flag), and only the pod template's: the selector
    /// stays; a label-only change leaves the revision alone.
    @Test func revisionLabelFollowsTheFlags() throws {
        func revision(_ set: [String]) throws -> (String?, KubeValue?) {
            let source = RepositoryFileSource()
            let (m, d) = ManifestLoader(source: source, targetTypes: TargetKinds.schemas)
                .load(Self.cases[0].files, settings: ManifestSettings(set: set, valuesFiles: []))
            let r = SpecValidator(targetTypes: TargetKinds.schemas, files: source).validate(m, loadDiagnostics: d)
            #expect(r.isValid, "\(r.diagnostics.map(\.message))")
            let o = try KubernetesRenderer.objects(r.deployments).get()[0].value
            return (o["spec"]?["template"]?["metadata"]?["labels"]?[KubernetesRenderer.revisionLabel]?.stringValue, o["spec"]?["selector"])
        }
        let (base, selector) = try revision([])
        let (flag, selector2) = try revision(["deployments.dspark.args.--mem-fraction-static=0.8"])
        let (label, _) = try revision(["deployments.dspark.labels.tier=gold"])
        #expect(base != nil && base != flag)
        #expect(base == label)
        #expect(selector == selector2)
    }

    /// `{{replica}}` in the run command would give each pod another argv: one pod template cannot.
    @Test func perReplicaArgvIsRefused() throws {
        let yaml = """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: vllm
          versions:
            v: {engineVersion: "0.33.0", image: x/y:1, entrypoint: [vllm, serve],
                command: "--model {{model_path}} --port {{port}} --seed {{replica}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: web}
        spec: {model: {source: huggingface, id: a/b}, backend: b, backendVersion: v, replicas: 2}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: k}
        spec: {type: kubernetes}
        """
        let r = KubernetesSupport.validate(["m.yaml"], memory: ["m.yaml": yaml])
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        guard case .failure(let e) = KubernetesRenderer.objects(r.deployments) else { Issue.record("rendered"); return }
        #expect(e.message.contains("one pod template"))
    }

    /// Output values YAML would read as something else are quoted; the JSON writer escapes.
    @Test func scalarsThatYAMLWouldRetypeAreQuoted() {
        let v = KubeValue.map([KubeField("a", .list(["yes", "1e3", "0.85", "--flag", "a: b", "# c", "", "null", "~", "plain-word", "multi\nline"].map(KubeValue.string)))])
        #expect(v.yaml == """
        a:
        - "yes"
        - "1e3"
        - "0.85"
        - "--flag"
        - "a: b"
        - "# c"
        - ""
        - "null"
        - "~"
        - plain-word
        - "multi\\nline"

        """)
        #expect(KubeValue.string("tab\t\u{1}").json == "\"tab\\t\\u0001\"")
    }
}
