import DeployCore
import Engines
import Foundation
@testable import DeploySpec
import Testing

/// Every diagnostic lands exactly where a marker says, for each class of mistake.
@Suite struct ValidationLocationTests {
    @Test func seedManifestIsValidOn0519() {
        let r = validate(seedBackend() + deployment(args: [
            "--context-length 1000000", "--trust-remote-code", "--tp-size 8", "--ep-size 8",
            "--moe-runner-backend flashinfer_mxfp4", "--speculative-moe-runner-backend flashinfer_mxfp4",
            "--speculative-algorithm DSPARK", "--speculative-eagle-topk 1", "--speculative-num-steps 1",
            "--mem-fraction-static 0.85", "--cuda-graph-max-bs 32", "--max-running-requests 32",
            "--disable-overlap-schedule",
        ]))
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        #expect(r.deployments.count == 1)
        #expect(r.deployments.first?.flagSet.values.count == 13)
    }

    @Test func unknownFlagAtItsColumn() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["⁁--tp-szie 8"]))
        let r = validate(yaml)
        expectDiagnostic(r, "unknown-flag", at: m[0])
        #expect(r.diagnostics.first { $0.id == "unknown-flag" }?.message.contains("did you mean '--tp-size'") == true)
    }

    @Test func removedFlagNamesVersionAndReplacement() {
        let (yaml, m) = markers(seedBackend(engineVersion: "0.5.23") + deployment(args: ["⁁--cuda-graph-max-bs 32"]))
        let r = validate(yaml)
        expectDiagnostic(r, "removed-flag", at: m[0])
        let msg = r.diagnostics.first { $0.id == "removed-flag" }.map { $0.message + $0.notes.joined() } ?? ""
        #expect(msg.contains("0.5.20"))
        #expect(msg.contains("--cuda-graph-max-bs-decode"))
    }

    @Test func invalidValuePointsAtTheValue() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["--mem-fraction-static ⁁high"]))
        expectDiagnostic(validate(yaml), "invalid-value", at: m[0])
    }

    @Test func quotedEntryColumnsSkipTheQuote() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["\"--tp-size ⁁eight\""]))
        expectDiagnostic(validate(yaml), "invalid-value", at: m[0])
    }

    @Test func unknownKeyWithSuggestion() {
        let yaml = seedBackend() + deployment(args: ["--tp-size 8"], extra: "  ⁁replicsa: 2\n")
        let (clean, m) = markers(yaml)
        let r = validate(clean)
        expectDiagnostic(r, "unknown-key", at: m[0])
        #expect(r.diagnostics.first { $0.id == "unknown-key" }?.message.contains("did you mean 'replicas'") == true)
    }

    @Test func unknownBackendVersionAndTemplateVariable() {
        let (yaml, m) = markers("""
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v1:
              engineVersion: "0.5.23"
              image: x
              command: "--model-path {{model_path}} --port ⁁{{prot}}"
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v1
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: e}
        spec:
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: ⁁v2
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: f}
        spec:
          model: {source: huggingface, id: x/y}
          backend: ⁁bb
          backendVersion: v1
        """)
        let r = validate(yaml)
        expectDiagnostic(r, "undefined-variable", at: m[0])
        expectDiagnostic(r, "unknown-reference", at: m[1])
        expectDiagnostic(r, "unknown-reference", at: m[2])
        #expect(r.diagnostics.first { $0.id == "undefined-variable" }?.message.contains("did you mean 'port'") == true)
    }

    @Test func unknownEngineVersionSuggestsNearest() {
        let (yaml, m) = markers(seedBackend(engineVersion: "0.5.2x") + deployment(args: []))
        let fixed = yaml.replacingOccurrences(of: "engineVersion: \"0.5.2x\"", with: "engineVersion: ⁁\"0.5.2x\"")
        let (clean, m2) = markers(fixed)
        _ = m
        let r = validate(clean)
        #expect(r.diagnostics.contains { $0.id == "unknown-reference" && $0.location?.line == m2[0].line })
    }

    @Test func typeErrorsAndMissingKeys() {
        let (yaml, m) = markers("""
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          model: {source: huggingface, id: x/y}
          backend: b
          replicas: ⁁two
          args: ⁁--tp-size 8
        """)
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-type", at: m[0])
        expectDiagnostic(r, "invalid-type", at: m[1])
        #expect(r.diagnostics.contains { $0.id == "missing-key" && $0.message.contains("backendVersion") })
    }

    @Test func duplicateKeysAndDuplicateFlags() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["--tp-size 8", "⁁--tensor-parallel-size 8"],
                                                             extra: "  replicas: 1\n  ⁁replicas: 2\n"))
        let r = validate(yaml)
        expectDiagnostic(r, "duplicate-key", at: m[0])
        expectDiagnostic(r, "duplicate-flag", at: m[1])
    }

    /// A recipe pasted whole repeats what the stock run command sets (vLLM's Qwen3-Next recipe has
    /// `--served-model-name qwen3-next`; most recipes `--port`:
    /// https://docs.vllm.ai/projects/recipes/en/latest/Qwen/Qwen3-Next.html). The error says where the
    /// run command sets it and which field to write instead; a flag given twice in the deployment
    /// says where it was first.
    @Test func aFlagTheRunCommandSetsSaysWhichFieldToWrite() throws {
        let (yaml, m) = markers(PastedRecipeTests.manifest("⁁--served-model-name qwen3-next", "⁁--port 8000", "⁁--host 0.0.0.0",
                                                           "--tensor-parallel-size 4", "⁁-tp 4"))
        let r = validate(yaml)
        func at(_ i: Int) throws -> Diagnostic {
            try #require(r.diagnostics.first { $0.id == "duplicate-flag" && $0.location?.line == m[i].line && $0.location?.column == m[i].column })
        }
        let name = try at(0)
        #expect(name.message == "'--served-model-name' is already set by the run command of backend 'vllm' version '0.33.0'; "
                + "the engine would silently keep the last value")
        #expect(name.notes == ["the run command ((built in)/templates/vllm.yaml:147) has '--served-model-name {{model_name}}'",
                               "write 'servedModelName: qwen3-next' in the deployment's spec instead, and remove this entry"])
        #expect(try at(1).notes.last == "write 'port: 8000' in the deployment's spec instead (replica i listens on port + i), and remove this entry")
        #expect(try at(2).notes.last == "remove this entry: the target sets the address each replica listens on")
        // Through an alias, the entry's own spelling is named too (SGLang's `--model` is `--model-path`).
        let alias = validate(seedBackend() + deployment(args: ["--model deepseek-ai/DeepSeek-V3.2-Exp"]))
        let d = try #require(alias.diagnostics.first { $0.id == "duplicate-flag" }, "\(alias.diagnostics)")
        #expect(d.message == "'--model-path' (here as '--model') is already set by the run command of backend 'sglang-dspark' version "
                + "'dspark'; the engine would silently keep the last value")
        #expect(d.notes.last == "remove this entry: spec.model sets the model")
        #expect(try at(3).notes == ["first given as '--tensor-parallel-size' at m.yaml:13"])
    }

    @Test func everyProblemInOneRun() {
        let r = validate(seedBackend(engineVersion: "0.5.23") + deployment(args: [
            "--tp-szie 8", "--cuda-graph-max-bs 32", "--tp 8", "--mem-fraction-static high",
            "--trust-remote-code yes", "--max-running-requests",
        ], extra: "  replcas: 1\n"))
        let ids = Set(r.diagnostics.map(\.id))
        for id in ["unknown-flag", "removed-flag", "abbreviated-flag", "invalid-value", "unexpected-value",
                   "missing-value", "unknown-key"] {
            #expect(ids.contains(id), "missing \(id) in \(r.diagnostics.map(\.id))")
        }
    }

    @Test func placementMustFitGPUs() {
        let r = validate(seedBackend() + deployment(args: ["--tp-size 16"]))
        #expect(r.diagnostics.contains { $0.id == "flag-conflict" && $0.severity == .error })
    }

    @Test func secretsCannotEnterArgv() {
        let (yaml, m) = markers("""
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v1:
              engineVersion: "0.5.23"
              image: x
              command: "--model-path {{model_path}} --api-key ⁁{{TOKEN}}"
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v1
          env:
            TOKEN: {valueFrom: {env: MY_TOKEN}}
        """)
        expectDiagnostic(validate(yaml), "secret-in-argv", at: m[0])
    }

    @Test func includeAndStockTemplates() {
        let files = [
            "templates/sglang.yaml": (try? String(contentsOfFile: repoRoot + "/templates/sglang.yaml", encoding: .utf8)) ?? "",
            "manifests/inc.yaml": seedBackend(),
        ]
        let main = """
        apiVersion: dsdeploy/v1
        kind: Include
        metadata: {name: i}
        spec: {files: [inc.yaml]}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: stock}
        spec:
          model: {source: huggingface, id: x/y}
          backend: sglang
          backendVersion: "0.5.23"
        ---
        """ + "\n" + deployment(args: ["--tp-size 8"])
        let r = validate(main, file: "manifests/main.yaml", extra: files)
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        #expect(r.deployments.map(\.deployment.name) == ["stock", "d"])
    }
}
