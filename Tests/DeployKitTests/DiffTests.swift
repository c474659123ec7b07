import DeployCore
@testable import DeployKit
import DeploySpec
import Foundation
import Testing

@Suite struct DiffTests {
    @Test func dsv4fToDSpark() throws {
        let a = load(["manifests/dsv4f.yaml"]), b = load(["manifests/dspark.yaml"])
        #expect(!a.diagnostics.hasErrors && !b.diagnostics.hasErrors)
        let diff = Differ().diff(a.deployments, b.deployments, pairSingle: true)
        #expect(diff.hasChanges)
        let d = try #require(diff.deployments.first)
        #expect(d.impact == .restart)
        #expect(d.flags.map(\.flag).sorted() == ["--speculative-algorithm", "--speculative-num-draft-tokens", "--speculative-num-steps"])
        expectGolden(DiffTextRenderer().render(diff), "diff-dsv4f-dspark.txt")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        expectGolden(String(decoding: try enc.encode(diff), as: UTF8.self) + "\n", "diff-dsv4f-dspark.json")
    }

    @Test func upgradeTo0523() throws {
        let a = load(["manifests/dspark.yaml"]), b = load(["manifests/dspark-sglang-0.5.23.yaml"])
        #expect(!b.diagnostics.hasErrors, "\(b.diagnostics.map(\.message))")
        let diff = Differ().diff(a.deployments, b.deployments)
        let d = try #require(diff.deployments.first)
        // 1M ≡ 1000000, --tp-size=8 ≡ --tp-size 8, dspark ≡ DSPARK, .85 ≡ 0.85, order: no change.
        #expect(Set(d.flags.map(\.flag)) == ["--cuda-graph-max-bs", "--cuda-graph-max-bs-decode"])
        #expect(d.fields.contains { $0.field == "engineVersion" })
        expectGolden(DiffTextRenderer().render(diff), "diff-dspark-0.5.23.txt")
    }

    @Test func sameManifestNoChanges() {
        let a = load(["manifests/dspark.yaml"])
        let diff = Differ().diff(a.deployments, a.deployments)
        #expect(!diff.hasChanges)
        #expect(diff.deployments.first?.action == .noop)
    }

    @Test func replicasOnlyIsScaleAndLabelsNone() throws {
        func doc(_ replicas: Int, _ label: String) -> [String: String] {
            ["m.yaml": """
            apiVersion: dsdeploy/v1
            kind: Backend
            metadata: {name: b}
            spec:
              engine: sglang
              versions:
                v: {engineVersion: "0.5.23", image: img, command: "--model-path {{model_path}}"}
            ---
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: d, labels: {team: \(label)}}
            spec:
              model: {source: huggingface, id: x/y}
              backend: b
              backendVersion: v
              replicas: \(replicas)
              env:
                TOKEN: {valueFrom: {env: A_\(label)}}
            """]
        }
        let a = loadInline(doc(1, "x"), ["m.yaml"]).deployments
        let b = loadInline(doc(2, "x"), ["m.yaml"]).deployments
        let c = loadInline(doc(1, "y"), ["m.yaml"]).deployments
        #expect(Differ().diff(a, b).deployments.first?.impact == .scale)
        let secretChange = Differ().diff(a, c)
        let d = try #require(secretChange.deployments.first)
        #expect(d.impact == .restart)
        #expect(d.env.first?.secret == true && d.env.first?.before == nil && d.env.first?.after == nil)
        #expect(!DiffTextRenderer().render(secretChange).contains("A_y"))
    }

    @Test func createAndDelete() {
        let a = load(["manifests/dspark.yaml"]), b = load(["manifests/dsv4f.yaml"])
        let diff = Differ().diff(a.deployments, b.deployments)
        #expect(diff.deployments.map(\.action) == [.delete, .create])
    }
}
