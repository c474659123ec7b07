import DeployCore
@testable import DeployKit
import DeploySpec
import Foundation
import Testing

@Suite struct RenderTests {
    @Test func seedArgvIsExact() throws {
        let r = load(["manifests/dspark.yaml"])
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        let d = try #require(r.deployments.first)
        let specs = try Renderer().render(d).get()
        #expect(specs.count == 1)
        let s = try #require(specs.first)
        #expect(s.image == "swr.cn-north-4.myhuaweicloud.com/desaysv/gpustack/sglang-dspark:v1.0")
        #expect(s.argv == [
            "sglang", "serve", "--model-path", "deepseek-ai/DeepSeek-V4-Flash-DSpark", "--host", "127.0.0.1",
            "--port", "30000", "--context-length", "1000000", "--trust-remote-code", "--tp-size", "8",
            "--ep-size", "8", "--moe-runner-backend", "flashinfer_mxfp4", "--speculative-moe-runner-backend",
            "flashinfer_mxfp4", "--speculative-algorithm", "DSPARK", "--speculative-eagle-topk", "1",
            "--speculative-num-steps", "1", "--mem-fraction-static", "0.85", "--cuda-graph-max-bs", "32",
            "--max-running-requests", "32", "--disable-overlap-schedule",
        ])
        #expect(s.env.first { $0.name == "PYPI_PACKAGES_INSTALL" }?.value == "-U distro -i https://mirrors.aliyun.com/pypi/simple/")
        #expect(s.env.first { $0.name == "CUDA_VISIBLE_DEVICES" }?.value == "0,1,2,3,4,5,6,7")
        #expect(s.flags.prefix(3).allSatisfy { $0.source == .template })
        #expect(s.flags.dropFirst(3).allSatisfy { $0.source == .deployment })
        expectGolden(LaunchSpecTextRenderer().render(specs), "render-dspark.txt")
    }

    @Test func replicasGetPortsAndGPUs() throws {
        let files = ["m.yaml": """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v: {engineVersion: "0.5.23", image: img, entrypoint: [sglang, serve],
                command: "--model-path {{model_path}} --port {{port}} --served-model-name 'm {{replica}}'"}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          model: {source: local, path: /models/x y}
          backend: b
          backendVersion: v
          replicas: 3
          gpusPerReplica: 2
          port: 31000
          args: ["--tp-size 2"]
        """]
        let r = loadInline(files, ["m.yaml"])
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        let specs = try Renderer().render(try #require(r.deployments.first)).get()
        #expect(specs.map(\.port) == [31000, 31001, 31002])
        #expect(specs.map(\.gpuIds) == [[0, 1], [2, 3], [4, 5]])
        #expect(specs[2].argv.contains("m 2"))
        #expect(specs[0].argv.contains("/models/x y"), "a value with spaces stays one argv element")
        #expect(Set(specs.map(\.revision)).count == 1, "one revision for all replicas")
    }

    @Test func secretsNeverRender() throws {
        let files = ["m.yaml": """
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
        metadata: {name: d}
        spec:
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v
          env:
            PASSWORD: {value: hunter2-secret, secret: true}
            TOKEN: {valueFrom: {env: HF_TOKEN}}
        """]
        let r = loadInline(files, ["m.yaml"])
        #expect(!r.diagnostics.hasErrors)
        let specs = try Renderer().render(try #require(r.deployments.first)).get()
        let text = LaunchSpecTextRenderer().render(specs)
        let enc = JSONEncoder()
        let json = String(decoding: try enc.encode(specs), as: UTF8.self)
        #expect(!text.contains("hunter2"))
        #expect(!json.contains("hunter2"))
        #expect(text.contains("PASSWORD=***"))
        #expect(!String(describing: r.deployments).contains("hunter2"))
    }
}
