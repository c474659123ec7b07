import Foundation
import Testing
import TestSupport

/// The binary copied on its own into a folder of its own, run on manifests outside this repository:
/// how users install it (one file in a CI image or on `PATH`). It carries its flag catalogs and the
/// stock backends (`sglang`, `vllm`, `llama.cpp`), and a `templates/` folder beside the manifests
/// still overrides a stock backend.
@Suite struct CopiedBinaryCLITests {
    /// From vLLM's recipe for Qwen3-Next ("Launching Qwen3-Next with vLLM", basic multi-GPU set-up
    /// and the MTP configuration): https://docs.vllm.ai/projects/recipes/en/latest/Qwen/Qwen3-Next.html
    static let manifest = """
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata:
          name: qwen3-next
        spec:
          model: {source: huggingface, id: Qwen/Qwen3-Next-80B-A3B-Instruct}
          backend: vllm
          backendVersion: "0.33.0"
          gpusPerReplica: 4
          servedModelName: qwen3-next
          args:
            - --tensor-parallel-size 4
            - --enable-prefix-caching
            - --tokenizer-mode auto
            - '--speculative-config {"method": "qwen3_next_mtp", "num_speculative_tokens": 2}'

        """

    @Test func aCopiedBinaryCarriesItsCatalogsAndStockBackends() throws {
        let dir = NSTemporaryDirectory() + "dsdeploy-copied-\(UUID().uuidString)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/infra/llm", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dir) }
        try fm.copyItem(atPath: CLITests.binary, toPath: dir + "/bin/dsdeploy")
        try Self.manifest.write(toFile: dir + "/infra/llm/qwen3-next.yaml", atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["DSDEPLOY_ENGINE_CATALOGS"] = nil
        env["DSDEPLOY_TEMPLATES"] = nil
        func run(_ args: String...) throws -> (status: Int32, out: String, err: String) {
            let r = try runProcess(dir + "/bin/dsdeploy", args, environment: env, cwd: dir + "/infra/llm")
            return (r.status, r.out, r.err)
        }
        let validate = try run("validate", "qwen3-next.yaml")
        #expect(validate.status == 0, "\(validate.err)")
        #expect(validate.out.contains("qwen3-next.yaml: valid (1 deployment)"), "\(validate.out)")
        // A flag the vLLM 0.33.0 catalog lacks is still found: the catalogs are in the binary.
        let typo = Self.manifest.replacingOccurrences(of: "--enable-prefix-caching", with: "--enable-prefix-cahcing")
        try typo.write(toFile: dir + "/infra/llm/typo.yaml", atomically: true, encoding: .utf8)
        let bad = try run("validate", "typo.yaml")
        #expect(bad.status == 1)
        #expect(bad.err.contains("typo.yaml:13:7: error: unknown flag '--enable-prefix-cahcing' for vllm 0.33.0; did you mean '--enable-prefix-caching'?"),
                "\(bad.err)")
        let render = try run("render", "qwen3-next.yaml")
        #expect(render.status == 0, "\(render.err)")
        #expect(render.out.contains("image:  vllm/vllm-openai:v0.33.0"), "\(render.out)")
        #expect(render.out.contains("argv:   vllm serve --model Qwen/Qwen3-Next-80B-A3B-Instruct"), "\(render.out)")
        #expect(render.out.contains("template    (built in)/templates/vllm.yaml:"), "\(render.out)")

        // On this machine's local target the stock image's `vllm` would run here; with no vLLM on
        // PATH, plan says so before anything starts.
        var bare = env
        bare["PATH"] = dir + "/bin"
        bare["DSDEPLOY_HOME"] = dir + "/state"
        let plan = try runProcess(dir + "/bin/dsdeploy", ["plan", "qwen3-next.yaml"], environment: bare, cwd: dir + "/infra/llm")
        #expect(plan.status == 1, "\(plan.out)\(plan.err)")
        #expect(plan.out.contains("error: cannot start 'vllm' for qwen3-next/0 on this machine: it is not on PATH"), "\(plan.out)")

        // A team's own `vllm` backend in a templates/ folder above the manifests wins over the stock one.
        try fm.createDirectory(atPath: dir + "/infra/templates", withIntermediateDirectories: true)
        try """
            apiVersion: dsdeploy/v1
            kind: Backend
            metadata: {name: vllm}
            spec:
              engine: vllm
              versions:
                "0.33.0":
                  engineVersion: "0.33.0"
                  image: registry.example.com/vllm-openai:v0.33.0-patched
                  entrypoint: [vllm, serve]
                  command: "--model {{model_path}} --host {{worker_ip}} --port {{port}}"

            """.write(toFile: dir + "/infra/templates/vllm.yaml", atomically: true, encoding: .utf8)
        let own = try run("render", "qwen3-next.yaml")
        #expect(own.status == 0, "\(own.err)")
        #expect(own.out.contains("image:  registry.example.com/vllm-openai:v0.33.0-patched"), "\(own.out)")
        #expect(!own.out.contains("(built in)"), "\(own.out)")
    }
}
