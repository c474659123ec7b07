import DeployCore
@testable import DeploySpec
import DeployTargets
import Engines
import Testing
import TestSupport

/// The stock backends compiled into dsdeploy (`templates/`, scripts/gen-stock-templates.py).
@Suite struct StockBackendTests {
    /// Every engine version with a flag catalog can be named as a stock backend version, with that
    /// engine version and the upstream image of that release.
    @Test(arguments: [(EngineKind.sglang, "sglang"), (.vllm, "vllm"), (.llamaCpp, "llama.cpp")])
    func everyCatalogedVersionHasAStockVersion(_ engine: EngineKind, _ backend: String) throws {
        let yaml = """
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              model: {source: huggingface, id: x/y}
              backend: \(backend)
              backendVersion: "1"

            """
        let source = MemoryFileSource(files: ["m.yaml": yaml])
        let (manifest, _) = ManifestLoader(source: source, targetTypes: TargetKinds.schemas).load(["m.yaml"])
        let stock = try #require(manifest.backends[backend])
        #expect(stock.isStock)
        let versions = CatalogStore.versions(of: engine)
        #expect(!versions.isEmpty)
        for v in versions {
            let entry = try #require(stock.versions[v], "no stock \(backend) version '\(v)': run python3 scripts/gen-stock-templates.py")
            #expect(entry.engineVersion.value == v)
            #expect(entry.image.hasSuffix(engine == .llamaCpp ? "server-\(v)" : "v\(v)"), "\(entry.image)")
        }
    }

    /// A catalogued release validates as a stock version, from any folder.
    @Test func aStockVersionValidates() {
        let r = validate("""
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: qwen}
            spec:
              model: {source: huggingface, id: Qwen/Qwen3-8B}
              backend: vllm
              backendVersion: "0.20.2"
              args: [--max-model-len 8192]

            """)
        #expect(r.diagnostics.isEmpty, "\(r.diagnostics)")
    }
}

/// llama-server's `-m` loads a GGUF file, so a hub model there stops the engine at start-up; llama.cpp's
/// README fetches one with `-hf` instead (`llama-server -hf ggml-org/gemma-3-1b-it-GGUF`,
/// https://github.com/ggml-org/llama.cpp#quick-start).
@Suite struct LlamaCppModelFileTests {
    static func manifest(model: String, backend: String = "llama.cpp", version: String = "b8643", extra: String = "") -> String {
        extra + """
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: gemma}
            spec:
              model: ⁁\(model)
              backend: \(backend)
              backendVersion: \(version)

            """
    }

    @Test func aHubIdGivenToDashMIsAnError() throws {
        let (yaml, m) = markers(Self.manifest(model: "{source: huggingface, id: ggml-org/gemma-3-1b-it-GGUF}"))
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        let d = try #require(r.diagnostics.first { $0.id == "invalid-value" })
        #expect(d.message == "deployment 'gemma': llama-server's -m loads a GGUF file, but model 'ggml-org/gemma-3-1b-it-GGUF' "
                + "is a huggingface repository id (target 'local' of type local passes the id as it is)")
        #expect(d.notes.last?.contains("-hf {{model_path}}") == true)
    }

    @Test func aFileOrDashHFIsFine() {
        let local = validate(markers(Self.manifest(model: "{source: local, path: /models/gemma-3-1b-it-Q4_K_M.gguf}")).0)
        #expect(local.diagnostics.isEmpty, "\(local.diagnostics)")
        let hf = validate(markers(Self.manifest(model: "{source: huggingface, id: ggml-org/gemma-3-1b-it-GGUF}", backend: "hf-llama",
                                                 version: "v1", extra: """
            apiVersion: dsdeploy/v1
            kind: Backend
            metadata: {name: hf-llama}
            spec:
              engine: llama.cpp
              versions:
                v1:
                  image: ghcr.io/ggml-org/llama.cpp:server-b8643
                  entrypoint: [llama-server]
                  command: "-hf {{model_path}} --host {{worker_ip}} --port {{port}}"
            ---

            """)).0)
        #expect(hf.diagnostics.filter { $0.severity != .note }.isEmpty, "\(hf.diagnostics)")
    }
}
