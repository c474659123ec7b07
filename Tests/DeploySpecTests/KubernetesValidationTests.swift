import DeployCore
import Foundation
@testable import DeploySpec
import Testing

/// `validate` on a kubernetes target: what the API server would refuse, located at the manifest
/// line that causes it.
@Suite struct KubernetesValidationTests {
    static func target(_ spec: String = "") -> String {
        """
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: cluster}
        spec:
          type: kubernetes
        \(spec)
        """
    }

    static func dep(name: String = "dspark", extra: String = "") -> String {
        seedBackend() + """
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata:
          name: \(name)
        spec:
          model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
          backend: sglang-dspark
          backendVersion: dspark
          gpusPerReplica: 8
          args:
            - --tp-size 8
        \(extra)
        """
    }

    @Test func theSeedIsValidOnACluster() {
        let r = validate(Self.dep() + Self.target("  namespace: llm\n  labels: {team: inference}\n  secretName: s"))
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        #expect(r.deployments.first?.target?.type == "kubernetes")
    }

    @Test func aNameKubernetesRefusesIsLocatedAtTheName() {
        // dsdeploy names may hold '_' and '.', and start with a digit; a Service name may not.
        let (yaml, m) = markers(Self.dep(name: "⁁dspark_v2") + Self.target())
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        #expect(r.diagnostics.contains { $0.message.contains("a Service name may contain only lowercase letters, digits and '-'") })
        let digit = validate(Self.dep(name: "4x") + Self.target())
        #expect(digit.diagnostics.contains { $0.message.contains("must start with a lowercase letter") })
    }

    @Test func labelKeysAndValuesAreLocated() {
        let long = String(repeating: "a", count: 64)
        let (yaml, m) = markers(Self.dep().replacingOccurrences(of: "metadata:\n  name: dspark\n",
                                                                with: "metadata:\n  name: dspark\n  labels:\n    ok: ⁁\(long)\n")
                                + Self.target("  labels:\n    bad/key/twice: ⁁x\n  nodeSelector:\n    nvidia.com/gpu.product: ⁁NVIDIA H20"))
        let r = validate(yaml)
        for i in 0..<3 { expectDiagnostic(r, "invalid-value", at: m[i]) }
        #expect(r.diagnostics.contains { $0.message.contains("must be at most 63 characters (it has 64)") })
        #expect(r.diagnostics.contains { $0.message.contains("may contain at most one '/'") })
        #expect(r.diagnostics.contains { $0.message.contains("value 'NVIDIA H20'") })
    }

    @Test func quantitiesAreChecked() {
        let (yaml, m) = markers(Self.dep(extra: "  container: {shmSize: ⁁lots}\n")
                                + Self.target("  modelCache: {sizeLimit: ⁁10GB}\n  resources:\n    requests: {cpu: ⁁\"2 cores\", memory: 64Gi}"))
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        expectDiagnostic(r, "invalid-value", at: m[1])
        expectDiagnostic(r, "invalid-value", at: m[2])
        #expect(r.diagnostics.contains { $0.message.contains("'10GB' has an unknown unit 'GB'") })
        #expect(!r.diagnostics.contains { $0.message.contains("64Gi") })
    }

    @Test func aPortClashIsLocatedAtTheFlag() {
        let (yaml, m) = markers(Self.dep(extra: "  port: 30000\n").replacingOccurrences(of: "    - --tp-size 8", with: "    - --tp-size 8\n    - ⁁--nccl-port 30000")
                                + Self.target())
        let r = validate(yaml)
        expectDiagnostic(r, "port-clash", at: m[0])
        let other = validate(Self.dep(extra: "  port: 30000\n").replacingOccurrences(of: "    - --tp-size 8", with: "    - --tp-size 8\n    - --nccl-port 30001")
                             + Self.target())
        #expect(!other.diagnostics.contains { $0.id == "port-clash" })
    }

    @Test func aRolloutThatCannotProgressIsRefused() {
        let (yaml, m) = markers(Self.dep(extra: "  rollout: {maxSurge: ⁁0, maxUnavailable: 0}\n") + Self.target())
        expectDiagnostic(validate(yaml), "invalid-value", at: m[0])
        // The same manifest is fine on the local target (it stops one replica at a time there).
        let (local, _) = markers(Self.dep(extra: "  rollout: {maxSurge: 0, maxUnavailable: 0}\n"))
        #expect(!validate(local).diagnostics.contains { $0.message.contains("maxSurge and maxUnavailable") })
    }

    @Test func aSecretNeedsASecretToComeFrom() {
        let (yaml, m) = markers(Self.dep(extra: "  env:\n    ⁁HF_TOKEN: {valueFrom: {env: HF_TOKEN}}\n    PLAIN: x\n") + Self.target())
        let r = validate(yaml)
        expectDiagnostic(r, "missing-key", at: m[0])
        #expect(r.diagnostics.filter { $0.id == "missing-key" }.count == 1)
        let ok = validate(Self.dep(extra: "  env:\n    HF_TOKEN: {valueFrom: {env: HF_TOKEN}}\n") + Self.target("  secretName: hf"))
        #expect(!ok.diagnostics.hasErrors, "\(ok.diagnostics.map(\.message))")
    }

    @Test func targetNamesAreChecked() {
        let (yaml, m) = markers(Self.dep() + Self.target("  namespace: ⁁LLM\n  secretName: ⁁my_secret\n  imagePullSecrets: ⁁[ok, Bad]\n"
                                                          + "  tolerations: ⁁[{operator: Exists, value: x}]"))
        let r = validate(yaml)
        for i in 0..<4 { expectDiagnostic(r, "invalid-value", at: m[i]) }
    }

    @Test func unknownTargetKeysAndTypesAreSchemaErrors() {
        let (yaml, m) = markers(Self.dep() + Self.target("  ⁁namspace: llm\n  serviceType: ⁁Ingress"))
        let r = validate(yaml)
        expectDiagnostic(r, "unknown-key", at: m[0])
        #expect(r.diagnostics.contains { $0.location?.line == m[1].line })
    }

    /// Paths the local target resolves on this machine are refused: a pod sees its image's files.
    @Test func pathsOnThisMachineAreRefused() {
        let (yaml, m) = markers(Self.dep().replacingOccurrences(of: "model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}",
                                                                with: "model: {source: local, path: ⁁models/m.gguf}") + Self.target())
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        let absolute = validate(Self.dep().replacingOccurrences(of: "model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}",
                                                                with: "model: {source: local, path: /models/m.gguf}") + Self.target())
        #expect(!absolute.diagnostics.hasErrors, "\(absolute.diagnostics.map(\.message))")
        let entry = validate(Self.dep().replacingOccurrences(of: "entrypoint: [sglang, serve]", with: "entrypoint: [bin/sglang, serve]") + Self.target())
        #expect(entry.diagnostics.contains { $0.message.contains("entrypoint 'bin/sglang', a path on this machine") })
    }

    /// A replica over several nodes, with the stock SGLang 0.5.23 (whose catalog has the multi-node flags).
    static func group(name: String = "big", replicas: Int = 1, rollout: String = "") -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v: {engineVersion: "0.5.23", image: img, entrypoint: [sglang, serve],
                command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata:
          name: \(name)
        spec:
          model: {source: huggingface, id: deepseek-ai/DeepSeek-V3}
          backend: b
          backendVersion: v
          replicas: \(replicas)
          gpusPerReplica: 8
          nodesPerReplica: 2
          args: [--tp-size 16]
        \(rollout)

        """
    }

    /// A replica over several nodes renders as a LeaderWorkerSet: accepted on a cluster.
    @Test func multiNodeReplicasAreAccepted() {
        let r = validate(Self.group() + Self.target())
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        #expect(r.deployments.first?.deployment.nodes == 2)
    }

    /// What the LeaderWorkerSet creates is named after the deployment: its leader Service
    /// `NAME-leader` and each group's worker StatefulSet, whose pods carry `NAME-G-HASH` as a label
    /// value (at most 63 characters). A name that only fits a Deployment is refused at the name.
    @Test func aGroupNameTooLongIsLocatedAtTheName() {
        let fits = String(repeating: "a", count: 50)  // 50 + "-0-" + 10 = 63
        #expect(!validate(Self.group(name: fits) + Self.target()).diagnostics.hasErrors)
        let (yaml, m) = markers(Self.group(name: "⁁" + fits + "b") + Self.target())
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        #expect(r.diagnostics.contains { $0.message.contains("would have 64 characters (at most 63); shorten the name to 50 characters") },
                "\(r.diagnostics.map(\.message))")
        // Ten groups: one more digit in the group index.
        #expect(validate(Self.group(name: fits, replicas: 11) + Self.target()).diagnostics.contains { $0.message.contains("'\(fits)-10-'") })
        // The same name on one node (a Deployment) is fine.
        #expect(!validate(Self.dep(name: fits + "b") + Self.target()).diagnostics.hasErrors)
        // The leader Service name: 57 + "-leader" is 64 characters.
        let long = String(repeating: "c", count: 57)
        #expect(validate(Self.group(name: long) + Self.target()).diagnostics.contains {
            $0.message.contains("its leader Service '\(long)-leader' must be at most 63 characters")
        })
    }

    /// LWS's webhook refuses maxSurge and maxUnavailable both 0, unless there are no replicas.
    @Test func aGroupRolloutThatCannotProgressIsRefused() {
        let (yaml, m) = markers(Self.group(rollout: "  rollout: {maxSurge: ⁁0, maxUnavailable: 0}") + Self.target())
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        #expect(r.diagnostics.contains { $0.message.contains("a LeaderWorkerSet needs one of them above 0") })
        #expect(!validate(Self.group(replicas: 0, rollout: "  rollout: {maxSurge: 0, maxUnavailable: 0}") + Self.target()).diagnostics.hasErrors)
    }
}
