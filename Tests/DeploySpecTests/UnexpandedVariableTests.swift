import DeployCore
@testable import DeploySpec
import DeployTargets
import Testing
import TestSupport

/// `$NAME` / `${NAME}` in env values, args and run commands reach the engine as written: there is
/// no shell between a manifest and a process. Translating vLLM's Docker instructions
/// (`docker run … --env "HF_TOKEN=$HF_TOKEN"`, https://docs.vllm.ai/en/latest/deployment/docker.html)
/// or a Compose file (`HF_TOKEN: ${HF_TOKEN}`) line by line gives exactly these.
@Suite struct UnexpandedVariableTests {
    @Test func referencesAreWarnedAtTheirValue() throws {
        let (yaml, m) = markers("""
            apiVersion: dsdeploy/v1
            kind: Backend
            metadata: {name: own-vllm}
            spec:
              engine: vllm
              versions:
                v1:
                  engineVersion: "0.33.0"
                  image: vllm/vllm-openai:v0.33.0
                  entrypoint: [vllm, serve]
                  command: ⁁"--model {{model_path}} --port {{port}} --download-dir $HOME/models"
            ---
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              model: {source: huggingface, id: Qwen/Qwen3-8B}
              backend: own-vllm
              backendVersion: v1
              args:
                - ⁁--api-key ${VLLM_API_KEY}
                - --max-model-len 4096
              env:
                HF_TOKEN: ⁁$HF_TOKEN
                LD_LIBRARY_PATH: ⁁/opt/nccl/lib:${LD_LIBRARY_PATH}
                NCCL_DEBUG: {value: ⁁"${DEBUG:-INFO}"}
                PRICE: "5$ a token"
                PYPI_PACKAGES_INSTALL: "-U distro"

            """)
        let r = validate(yaml)
        let warnings = r.diagnostics.filter { $0.id == "unexpanded-variable" }
        #expect(warnings.count == 5, "\(warnings)")
        #expect(warnings.allSatisfy { $0.severity == .warning })
        for (i, pos) in m.enumerated() {
            #expect(warnings.contains { $0.location?.line == pos.line && $0.location?.column == pos.column }, "marker \(i): \(warnings)")
        }
        let token = try #require(warnings.first { $0.message.hasPrefix("env 'HF_TOKEN'") })
        #expect(token.message == "env 'HF_TOKEN' has '$HF_TOKEN', which no shell expands: the engine gets it as written")
        #expect(token.fixIt == "{valueFrom: {env: HF_TOKEN}}")
        #expect(warnings.filter { $0.fixIt != nil }.count == 1)
        #expect(warnings.contains { $0.message == "the run command has '$HOME', which no shell expands: the engine gets it as written" })
        #expect(!r.diagnostics.contains { $0.severity == .error }, "\(r.diagnostics)")
    }

    /// An overlay's `set` of an env value or a flag reaches the engine the same way.
    @Test func overlaySettingsAreWarnedToo() throws {
        let (overlay, m) = markers("""
            apiVersion: dsdeploy/v1
            kind: Overlay
            metadata: {name: staging}
            spec:
              base: base.yaml
              deployments:
                d:
                  set:
                    env.HF_TOKEN: ⁁${HF_TOKEN}
                    --api-key: ⁁$VLLM_API_KEY
                    replicas: 2

            """)
        let base = """
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              model: {source: huggingface, id: Qwen/Qwen3-8B}
              backend: vllm
              backendVersion: "0.33.0"

            """
        let r = validate(overlay, file: "o.yaml", extra: ["base.yaml": base])
        let warnings = r.diagnostics.filter { $0.id == "unexpanded-variable" }
        #expect(warnings.count == 2, "\(r.diagnostics)")
        for pos in m {
            #expect(warnings.contains { $0.location?.line == pos.line && $0.location?.column == pos.column }, "\(warnings)")
        }
        #expect(warnings.contains { $0.message == "the value of '--api-key' has '$VLLM_API_KEY', which no shell expands: the engine gets it as written" })
        #expect(warnings.first { $0.message.hasPrefix("env 'HF_TOKEN'") }?.fixIt == "{valueFrom: {env: HF_TOKEN}}")
    }

    /// A `--values` file's settings too; a deployment name may hold dots.
    @Test func valuesFileSettingsAreWarnedToo() throws {
        let (values, m) = markers("""
            deployments.qwen3.5.env.HF_TOKEN: ⁁${HF_TOKEN}
            deployments.qwen3.5.args.--api-key: ⁁$KEY
            deployments.qwen3.5.replicas: 2

            """)
        let base = """
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: qwen3.5}
            spec:
              model: {source: huggingface, id: Qwen/Qwen3-8B}
              backend: vllm
              backendVersion: "0.33.0"

            """
        let source = MemoryFileSource(files: ["m.yaml": base, "values.yaml": values])
        let (manifest, d) = ManifestLoader(source: source, targetTypes: TargetKinds.schemas)
            .load(["m.yaml"], settings: ManifestSettings(set: [], valuesFiles: ["values.yaml"]))
        let r = SpecValidator(targetTypes: TargetKinds.schemas, files: source).validate(manifest, loadDiagnostics: d)
        let warnings = r.diagnostics.filter { $0.id == "unexpanded-variable" }
        #expect(warnings.count == 2, "\(r.diagnostics)")
        for pos in m {
            #expect(warnings.contains { $0.location == SourceLocation(file: "values.yaml", line: pos.line, column: pos.column) }, "\(warnings)")
        }
        #expect(!r.diagnostics.contains { $0.severity == .error }, "\(r.diagnostics)")
    }

    @Test func referenceSyntax() {
        let refs = UnexpandedVariables.shellReferences("a $B ${C} ${D:-x} $ $$ ${} ${1} $_e9 5$")
        #expect(refs.map(\.text) == ["$B", "${C}", "${D:-x}", "$_e9"])
        #expect(refs.map(\.name) == ["B", "C", "D", "_e9"])
        #expect(UnexpandedVariables.shellReferences("--chat-template {{ messages }}").isEmpty)
    }
}
