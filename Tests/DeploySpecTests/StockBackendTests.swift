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
