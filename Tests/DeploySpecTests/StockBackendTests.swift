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

/// `otherVersions`: a stock backend runs any release of its engine named by its number, not only the
/// catalogued ones. vLLM publishes every patch release as `vllm/vllm-openai:vX.Y.Z` (its Docker docs
/// pin `vllm/vllm-openai:v0.20.1`-style tags), SGLang its post releases as `lmsysorg/sglang:v0.5.5.post3`,
/// llama.cpp its builds as `server-bN`; before this a pinned `backendVersion: "0.20.1"` was refused.
@Suite struct OtherVersionsTests {
    static func deployment(_ backend: String, _ version: String) -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          model: {source: local, path: /models/m.gguf}
          backend: \(backend)
          backendVersion: \(version.first == "\"" ? "\"⁁" + version.dropFirst() : "⁁" + version)

        """
    }

    @Test(arguments: [("vllm", "\"0.20.1\"", "vllm/vllm-openai:v0.20.1", "0.20.2", VersionResolution.Match.sameRelease),
                      ("sglang", "\"0.5.21.post1\"", "lmsysorg/sglang:v0.5.21.post1", "0.5.21", .sameRelease),
                      ("llama.cpp", "b6341", "ghcr.io/ggml-org/llama.cpp:server-b6341", "b6325", .olderSurveyed),
                      ("vllm", "\"0.40.0\"", "vllm/vllm-openai:v0.40.0", "0.34.0", .newest)])
    func anyReleaseRunsItsUpstreamImage(_ backend: String, _ version: String, _ image: String, _ catalog: String,
                                        _ match: VersionResolution.Match) throws {
        let (yaml, m) = markers(Self.deployment(backend, version))
        let r = validate(yaml)
        #expect(r.isValid, "\(r.diagnostics)")
        let d = try #require(r.deployments.first)
        let bare = version.filter { $0 != "\"" }
        #expect(d.version.image == image && d.version.name == bare && d.version.engineVersion.value == bare)
        #expect(d.catalog.version == catalog, "\(d.catalog.version)")
        let note = try #require(r.diagnostics.first { $0.id == "engine-version" })
        #expect(note.location?.line == m[0].line && note.location?.column == m[0].column,
                "located where the deployment names the version")
        #expect(note.severity == (match == .sameRelease ? .note : .warning), "\(note)")
    }

    @Test func whatIsNotAReleaseIsStillRefused() throws {
        for (backend, version) in [("vllm", "\"0.20\""), ("vllm", "latest"), ("llama.cpp", "\"6341\""), ("sglang", "0.5.x.y")] {
            let (yaml, m) = markers(Self.deployment(backend, version))
            let r = validate(yaml)
            expectDiagnostic(r, "unknown-reference", at: m[0])
            let d = try #require(r.diagnostics.first { $0.id == "unknown-reference" })
            #expect(d.notes.last?.hasPrefix("any other \(backend) release runs too") == true, "\(d.notes)")
        }
        let llama = try #require(validate(markers(Self.deployment("llama.cpp", "latest")).0).diagnostics.first)
        #expect(llama.notes.first?.hasPrefix("versions: server, b5763, b5897, b5904, b6110") == true, "in release order: \(llama.notes)")
        #expect(llama.notes.last == "any other llama.cpp release runs too, named by its number: backendVersion: \"bN\" runs "
                + "ghcr.io/ggml-org/llama.cpp:server-bN")
    }

    /// A deployment without `backendVersion` is told what the key is and what the stock backends take.
    @Test func aMissingVersionSaysWhatToWrite() throws {
        let (yaml, m) = markers("""
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              ⁁model: {source: huggingface, id: Qwen/Qwen3-8B}
              backend: vllm

            """)
        let r = validate(yaml)
        expectDiagnostic(r, "missing-key", at: m[0])
        #expect(r.diagnostics.first?.notes == ["backendVersion: Name of a version of that backend; the stock backends take any "
                                               + "release number (`\"0.20.1\"`, `b6341`)."], "\(r.diagnostics)")
    }

    @Test func aLeadingVIsSuggestedAway() throws {
        let (yaml, m) = markers(Self.deployment("vllm", "v0.20.1"))
        let r = validate(yaml)
        expectDiagnostic(r, "unknown-reference", at: m[0])
        let d = try #require(r.diagnostics.first { $0.id == "unknown-reference" })
        #expect(d.message == "backend 'vllm' has no version 'v0.20.1'; did you mean '0.20.1'?")
        #expect(d.fixIt == "\"0.20.1\"")
    }

    /// A team's own backend has only its named versions unless it says `otherVersions`, whose image
    /// must hold `{{version}}`.
    @Test func aBackendOfOnesOwn() throws {
        func backend(_ other: String) -> String {
            """
            apiVersion: dsdeploy/v1
            kind: Backend
            metadata: {name: mine}
            spec:
              engine: vllm
              versions:
                "0.20.2": {image: registry.example.com/vllm:0.20.2}
            \(other)
            ---

            """
        }
        let none = validate(markers(backend("") + Self.deployment("mine", "\"0.20.1\"")).0)
        #expect(none.diagnostics.map(\.id) == ["unknown-reference"], "\(none.diagnostics)")
        #expect(none.diagnostics.first?.notes == ["versions: 0.20.2"])
        let own = validate(markers(backend("  otherVersions: {image: \"registry.example.com/vllm:{{version}}\", entrypoint: [vllm, serve]}")
                                   + Self.deployment("mine", "\"0.20.1\"")).0)
        #expect(own.isValid, "\(own.diagnostics)")
        #expect(own.deployments.first?.version.image == "registry.example.com/vllm:0.20.1")
        let (bad, m) = markers(backend("  otherVersions: {image: ⁁registry.example.com/vllm:latest}") + Self.deployment("mine", "\"0.20.2\""))
        let r = validate(bad)
        #expect(r.diagnostics.contains { $0.severity == .error && $0.location?.line == m[0].line && $0.location?.column == m[0].column
                && $0.message == "'registry.example.com/vllm:latest' is not a valid value for 'spec.otherVersions.image' (must contain '{{version}}')" },
                "\(r.diagnostics)")
    }
}

/// The stock llama.cpp versions run llama.cpp's CPU server image: GPUs asked of a target that runs
/// the image would sit idle (llama.cpp's CUDA builds are other tags of the same package, e.g.
/// `server-cuda12-b9603`: https://github.com/orgs/ggml-org/packages/container/llama.cpp/938474228).
@Suite struct CPUImageWithGPUsTests {
    static func manifest(gpus: Int, target: String) -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: box}
        spec:
          type: docker
          hosts: [{name: a, docker: "unix:///var/run/docker.sock"}]
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: gemma}
        spec:
          model: {source: local, path: /models/gemma-3-1b-it-Q4_K_M.gguf}
          backend: llama.cpp
          backendVersion: b8643
          target: \(target)
          gpusPerReplica: ⁁\(gpus)
          args: [-ngl 99]

        """
    }

    @Test func gpusForACPUImageAreAWarning() throws {
        let (yaml, m) = markers(Self.manifest(gpus: 1, target: "box"))
        let r = validate(yaml)
        expectDiagnostic(r, "gpus-unused", at: m[0])
        let d = try #require(r.diagnostics.first { $0.id == "gpus-unused" })
        #expect(d.severity == .warning && d.message == "deployment 'gemma' asks for 1 GPU per replica, but backend 'llama.cpp' version "
                + "'b8643' runs a CPU build (framework: cpu, ghcr.io/ggml-org/llama.cpp:server-b8643): the engine will not use it")
        #expect(d.notes.first?.contains("server-cuda12-b9603") == true)
        #expect(!validate(markers(Self.manifest(gpus: 0, target: "box")).0).diagnostics.contains { $0.id == "gpus-unused" })
        #expect(!validate(markers(Self.manifest(gpus: 1, target: "local")).0).diagnostics.contains { $0.id == "gpus-unused" },
                "on the local target the image only names a local command, whatever it was built for")
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
