import DeployCore
import DeployKit
import DeploySpec
import Engines
@testable import DeployTargets
import Foundation
import Testing
import TestSupport

/// Property: random valid manifests — every engine, replicas, GPUs, nodes per replica (1, 2, 3),
/// ports, rollout limits, labels, env values YAML would misread, secrets, every target setting —
/// render to objects that validate strictly (`kubernetes-validate --strict`; a LeaderWorkerSet
/// against its CRD's schema, its pod templates as core PodTemplates), whose YAML reads back as the
/// same data as their JSON, whose containers run the Renderer's argv (a group's with the engine's
/// multi-node flags from LWS's environment), and that carry no secret value.
@Suite struct KubernetesPropertyTests {
    /// The generator: a failing seed reproduces.
    typealias Rng = SplitMix64

    /// Env values YAML would read as something other than the string, or that need escapes.
    static let hostile = ["yes", "no", "on", "1e3", "0x1F", "0.85", "007", "-1", "a: b", "# not a comment", "'single'", "\"double\"",
                          "multi\nline", "tab\there", "ünïcödé ✓", "", "null", "~", "- dash", "[list]", "{map}", "@at", "`tick`",
                          "%pct", "  padded  ", "trailing:", "*alias", "&anchor", "!tag", "|", ">", "2026-12-06", "=", "\\back"]

    static let flags: [String: [String]] = [
        "sglang": ["--mem-fraction-static 0.8", "--trust-remote-code", "--context-length 8192", "--max-running-requests 16",
                   "--chunked-prefill-size 4096", "--log-level info"],
        "vllm": ["--max-model-len 4096", "--gpu-memory-utilization 0.85", "--trust-remote-code", "--enforce-eager", "--seed 7"],
        "llama.cpp": ["-c 512", "--n-gpu-layers 99", "--threads 4", "--parallel 2"],
    ]

    /// One random manifest (a deployment and its kubernetes target); `secret` is a value that must
    /// never appear in the output.
    static func manifest(_ rng: inout Rng, index: Int, secret: String) -> String {
        // Multi-node: SGLang, or a vLLM whose catalog has the multi-node flags (0.33.0); never llama.cpp.
        let nodes = rng.pick([1, 1, 2, 3])
        let engine = nodes > 1 ? rng.pick(["sglang", "vllm"]) : rng.pick(["sglang", "vllm", "llama.cpp"])
        var backend = "", version = ""
        var docs: [String] = []
        switch engine {
        case "sglang":
            let v = rng.pick(["0.5.19", "0.5.23", "0.5.5"])
            docs.append("""
            apiVersion: dsdeploy/v1
            kind: Backend
            metadata: {name: sg}
            spec:
              engine: sglang
              versions:
                v: {engineVersion: "\(v)", image: "lmsysorg/sglang:v\(v)-cu129", entrypoint: [python3, -m, sglang.launch_server],
                    command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"}
            """)
            (backend, version) = ("sg", "v")
        case "vllm": (backend, version) = ("vllm", nodes > 1 ? "0.33.0" : rng.pick(["0.11.0", "0.33.0"]))
        default: (backend, version) = ("llama.cpp", "server")
        }
        let name = "d\(index)-" + String((0..<rng.int(1...12)).map { _ in rng.pick(Array("abcdefghijklmnopqrstuvwxyz0123456789-")) })
            .trimmingCharacters(in: CharacterSet(charactersIn: "-")) + "x"
        let gpus = engine == "llama.cpp" ? rng.int(0...1) : rng.pick(nodes > 1 ? [1, 2, 4, 8] : [0, 1, 2, 4, 8])
        let surge = rng.int(0...2)
        let unavailable = surge == 0 ? rng.int(1...2) : rng.int(0...2)
        var lines = [
            "apiVersion: dsdeploy/v1", "kind: Deployment", "metadata:", "  name: \(name)", "  labels:",
            "    team: \(rng.pick(["a", "infra", "x.y_z-1", "A9"]))", "    tier: \(KubeValue.jsonString(rng.pick(["", "gold", "0-1"])))",
            "spec:",
            // llama-server's -m takes a file: a hub id there is invalid (TargetCheck.modelFileProblem).
            "  model: " + (rng.chance(30) || engine == "llama.cpp" ? "{source: local, path: /models/m\(index)}"
                           : "{source: \(rng.pick(["huggingface", "modelscope"])), id: org/model-\(index)}"),
            "  backend: \(backend)", "  backendVersion: \"\(version)\"",
            "  replicas: \(rng.int(0...3))", "  gpusPerReplica: \(gpus)", "  nodesPerReplica: \(nodes)",
            "  port: \(rng.int(nodes > 1 ? 1024...64000 : 1024...65000))",  // a group's rendezvous is port + 1000
            "  rollout: {maxSurge: \(surge), maxUnavailable: \(unavailable)}",
        ]
        if rng.chance(50) { lines.append("  container: {shmSize: \(rng.int(1...64))\(rng.pick(["g", "m"]))}") }
        if rng.chance(40) { lines.append("  readiness: {timeoutSeconds: \(rng.int(30...3600))}") }
        let pool = flags[engine] ?? []
        let chosen = pool.filter { _ in rng.chance(40) }
        if !chosen.isEmpty { lines.append("  args:"); lines += chosen.map { "    - \($0)" } }
        lines.append("  env:")
        for i in 0..<rng.int(0...5) { lines.append("    V\(i)_\(rng.int(0...99)): \(KubeValue.jsonString(rng.pick(hostile)))") }
        lines.append("    SECRET_\(index): {value: \(KubeValue.jsonString(secret)), secret: true}")
        if rng.chance(50) { lines.append("    TOKEN: {valueFrom: {env: HF_TOKEN}}") }
        docs.append(lines.joined(separator: "\n"))
        var target = ["apiVersion: dsdeploy/v1", "kind: Target", "metadata: {name: k\(index)}", "spec:", "  type: kubernetes",
                      "  secretName: s\(index).example"]
        if rng.chance(70) { target.append("  namespace: ns-\(rng.int(0...999))") }
        if rng.chance(50) { target.append("  labels: {app.example.com/owner: \(rng.pick(["me", "team-1"])), env: prod}") }
        if rng.chance(50) { target.append("  annotations: {example.com/note: \(KubeValue.jsonString(rng.pick(hostile)))}") }
        if rng.chance(50) { target.append("  nodeSelector: {nvidia.com/gpu.product: NVIDIA-H20}") }
        if rng.chance(50) {
            target.append("  tolerations:")
            target.append(rng.pick(["    - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}",
                                    "    - {key: dedicated, operator: Equal, value: llm, effect: NoExecute, tolerationSeconds: 60}",
                                    "    - {operator: Exists}"]))
        }
        if rng.chance(50) { target.append("  imagePullSecrets: [regcred, other.secret]") }
        if rng.chance(60) {
            target.append(rng.pick(["  modelCache: {persistentVolumeClaim: cache-\(index)}", "  modelCache: {hostPath: /data/cache}",
                                    "  modelCache: {sizeLimit: \(rng.pick(["500Gi", "1T", "2.5e3"]))}"]))
        }
        if rng.chance(50) { target.append("  serviceType: \(rng.pick(["ClusterIP", "NodePort", "LoadBalancer"]))") }
        if rng.chance(30) { target.append("  runtimeClassName: nvidia") }
        if rng.chance(30) { target.append("  hostNetwork: true") }
        if rng.chance(50) {
            target.append("  resources: {requests: {cpu: \"\(rng.pick(["500m", "16", "1.5"]))\", memory: \(rng.pick(["64Gi", "128G", "1e9"]))}, "
                          + "limits: {memory: 256Gi}}")
        }
        docs.append(target.joined(separator: "\n"))
        return docs.joined(separator: "\n---\n") + "\n"
    }

    @Test func randomValidManifestsRenderToObjectsThatValidate() throws {
        guard let v = KubernetesSupport.validator() else { return }
        let seed = UInt64(ProcessInfo.processInfo.environment["KUBERNETES_PROPERTY_SEED"] ?? "") ?? 20_261_206
        var rng = Rng(seed: seed)
        let dir = try KubernetesSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var templates: [String: String] = [:]
        for t in ["vllm", "llama.cpp"] {
            templates["templates/\(t).yaml"] = try String(contentsOfFile: repositoryRoot + "/templates/\(t).yaml", encoding: .utf8)
        }
        var files: [String] = []
        var objectCount = 0, groups = 0
        let samples = 60
        for i in 0..<samples {
            let secret = "sekret-\(rng.next())"
            let text = Self.manifest(&rng, index: i, secret: secret)
            var memory = templates
            memory["m.yaml"] = text
            let r = KubernetesSupport.validate(["m.yaml"], memory: memory)
            guard r.isValid else {
                Issue.record("seed \(seed) sample \(i) is not valid: \(r.diagnostics.map(\.message))\n\(text)")
                return
            }
            let d = try #require(r.deployments.first)
            let objects = try KubernetesRenderer.objects(r.deployments).get()
            let yaml = KubernetesRenderer.yamlStream(objects)
            #expect(!yaml.contains(secret) && !KubernetesRenderer.jsonList(objects).contains(secret), "seed \(seed) sample \(i)")
            let spec = try KubernetesRenderer(target: try #require(d.target)).launchSpec(d).get()
            func strings(_ v: KubeValue?) -> [String] { if case .list(let l)? = v { return l.compactMap(\.stringValue) } else { return [] } }
            func container(_ template: KubeValue?) -> KubeValue? {
                if case .list(let cs)? = template?["spec"]?["containers"] { return cs.first }
                return nil
            }
            if d.deployment.nodes > 1 {
                let lws = objects[0].value
                #expect(lws["kind"] == .string("LeaderWorkerSet") && objects.count == 2, "seed \(seed) sample \(i)")
                let lwt = lws["spec"]?["leaderWorkerTemplate"]
                #expect(lwt?["size"] == .int(d.deployment.nodes) && lws["spec"]?["replicas"] == .int(d.deployment.replicas))
                let flags = try #require(MultiNodeFlags.of(spec.engine))
                for (role, follower) in [("leaderTemplate", false), ("workerTemplate", true)] {
                    guard let c = container(lwt?[role]) else { Issue.record("no \(role) container"); continue }
                    let refs = flags.argv(for: spec.engine, rank: "$(LWS_WORKER_INDEX)", nodes: "$(LWS_GROUP_SIZE)",
                                          host: "$(LWS_LEADER_ADDRESS)", port: spec.port + 1000, follower: follower)
                    #expect(strings(c["command"]) + strings(c["args"]) == spec.argv + refs, "seed \(seed) sample \(i) \(role)")
                    #expect((c["readinessProbe"] == nil) == follower && (c["ports"] == nil) == follower, "seed \(seed) sample \(i) \(role)")
                    #expect(c["resources"]?["limits"]?["nvidia.com/gpu"] == .string(String(d.deployment.gpusPerReplica)))
                }
                #expect(objects[1].value["spec"]?["selector"]?["leaderworkerset.sigs.k8s.io/worker-index"] == .string("0"))
            } else {
                guard let c = container(objects[0].value["spec"]?["template"]) else { Issue.record("no container"); continue }
                #expect(strings(c["command"]) + strings(c["args"]) == spec.argv, "seed \(seed) sample \(i)")
            }
            let path = dir + "/\(i).yaml"
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            try KubernetesRenderer.jsonList(objects).write(toFile: dir + "/\(i).json", atomically: true, encoding: .utf8)
            files.append(path)
            objectCount += objects.count
            groups += d.deployment.nodes > 1 ? 1 : 0
        }
        #expect(groups > 0 && groups < samples, "seed \(seed): both kinds of replica are sampled")
        let r = try KubernetesSupport.validateObjects(files, python: v.python)
        #expect(r.failed == 0, "seed \(seed): \(r.output)")
        #expect(r.passed == objectCount, "seed \(seed): \(r.passed) of \(objectCount) passed")
        // The YAML reads back (PyYAML, as kubectl's YAML reader would) as exactly the JSON's data.
        let check = """
        import json, sys, yaml
        bad = 0
        for p in sys.argv[1:]:
            docs = [d for d in yaml.safe_load_all(open(p, encoding="utf-8"))]
            items = json.load(open(p[:-5] + ".json", encoding="utf-8"))["items"]
            if docs != items:
                bad += 1
                print("differs:", p)
        print("checked", len(sys.argv) - 1)
        sys.exit(1 if bad else 0)
        """
        let rt = try runProcess(v.python, ["-c", check] + files)
        #expect(rt.status == 0, "seed \(seed): \(rt.out)\(rt.err)")
    }
}
