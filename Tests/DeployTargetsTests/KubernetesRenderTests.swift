import DeployCore
import DeployKit
import DeploySpec
@testable import DeployTargets
import Foundation
import Testing
import TestSupport

/// `render --format kubernetes`: golden objects for the seed's DSpark, a vLLM and a llama.cpp
/// deployment, each validated strictly against the Kubernetes OpenAPI schemas; the container runs
/// the Renderer's argv; secrets are references; output is byte-stable.
@Suite struct KubernetesRenderTests {
    /// The golden cases: manifests (repository paths) and the golden file.
    static let cases: [(files: [String], golden: String)] = [
        (["manifests/dspark.yaml", "manifests/targets/cluster.yaml"], "dspark.yaml"),
        (["Tests/DeployTargetsTests/KubernetesFixtures/vllm.yaml"], "vllm.yaml"),
        (["Tests/DeployTargetsTests/KubernetesFixtures/llama.cpp.yaml"], "llama.cpp.yaml"),
    ]

    static func render(_ files: [String]) throws -> [KubernetesRenderer.Object] {
        let r = KubernetesSupport.validate(files)
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        switch KubernetesRenderer.objects(r.deployments) {
        case .success(let o): return o
        case .failure(let e): throw e
        }
    }

    @Test(arguments: 0..<3) func goldenObjects(_ i: Int) throws {
        let c = Self.cases[i]
        let objects = try Self.render(c.files)
        #expect(objects.map { $0.value["kind"]?.stringValue } == ["Deployment", "Service"])
        expectSnapshot(KubernetesRenderer.yamlStream(objects), named: c.golden, directory: "KubernetesGolden")
        // Byte-stable: a second load and render of the same files gives the same bytes.
        #expect(KubernetesRenderer.yamlStream(try Self.render(c.files)) == KubernetesRenderer.yamlStream(objects))
    }

    /// Every golden file passes `kubernetes-validate --strict` (no unknown fields) for the pinned
    /// Kubernetes version: the files as shipped, so a golden re-recorded wrong fails here too.
    @Test func goldenFilesValidateStrictly() throws {
        guard let v = KubernetesSupport.validator() else { return }
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("KubernetesGolden").path
        let files = Self.cases.map { dir + "/" + $0.golden }
        let r = try KubernetesSupport.strictValidate(files, cli: v.cli)
        #expect(r.failed == 0, "\(r.output)")
        #expect(r.passed == 2 * Self.cases.count, "\(r.output)")
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
