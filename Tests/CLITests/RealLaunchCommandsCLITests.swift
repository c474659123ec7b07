import Foundation
import Testing

/// The built binary on what "Real launch commands pass" promises: `--tp 8` validates with a warning,
/// versions resolve (0.5.21.post1, 0.19.0, b6341 and image tags), a bare `--flash-attn` fails on b6341,
/// `--strict`, and `dsdeploy flags`.
@Suite struct RealLaunchCommandsCLITests {
    let cli = CLITests()

    func manifest(engine: String, version: String?, image: String, args: [String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rlc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("m.yaml").path
        let text = """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: \(engine)
          versions:
            v:
              image: \(image)
        \(version.map { "      engineVersion: \"\($0)\"\n" } ?? "")---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v
          args:
        \(args.map { "    - \"\($0)\"" }.joined(separator: "\n"))

        """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func sglangAbbreviationIsAWarningWithTheFullFlag() throws {
        let m = try manifest(engine: "sglang", version: nil, image: "lmsysorg/sglang:v0.5.21.post1-cu129",
                             args: ["--tp 8", "--trust-remote-code"])
        let r = try cli.run(["validate", m])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("warning: '--tp' abbreviates '--tp-size' [abbreviated-flag]"))
        #expect(r.err.contains("read from the image tag"), "\(r.err)")
        #expect(r.err.contains("sglang 0.5.21 (same release"), "\(r.err)")
        let strict = try cli.run(["validate", "--strict", m])
        #expect(strict.status == 1 && strict.err.contains("error: '--tp' abbreviates '--tp-size'"), "\(strict.err)")
        let json = try cli.run(["validate", m, "--output", "json"])
        #expect(json.out.contains("\"fixIt\" : \"--tp-size\""), "\(json.out)")
        // what runs is the full flag
        let render = try cli.run(["render", m])
        #expect(render.out.contains("--tp-size 8") || render.out.contains("--tp-size\", \"8"), "\(render.out)")
    }

    @Test func abbreviationIsNoDiffAgainstTheFullName() throws {
        let a = try manifest(engine: "sglang", version: "0.5.21", image: "img", args: ["--tp 8"])
        let b = try manifest(engine: "sglang", version: "0.5.21", image: "img", args: ["--tp-size=8"])
        let r = try cli.run(["diff", a, b])
        #expect(r.status == 0, "no differences: \(r.out)\(r.err)")
    }

    @Test func vllmPatchVersionResolves() throws {
        let m = try manifest(engine: "vllm", version: "0.19.0", image: "vllm/vllm-openai:v0.19.0",
                             args: ["-tp 8", "--speculative-config.method mtp", "--gpu_memory_utilization 0.9"])
        let r = try cli.run(["validate", m])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("vllm 0.19.1 (same release"), "\(r.err)")
    }

    @Test func llamaCppFlashAttnOnB6341() throws {
        let bare = try manifest(engine: "llama.cpp", version: nil, image: "ghcr.io/ggml-org/llama.cpp:server-b6341",
                                args: ["-m /models/q.gguf", "--flash-attn"])
        let r = try cli.run(["validate", bare])
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains("'--flash-attn' needs a value") || r.err.contains("[missing-value]"), "\(r.err)")
        let on = try manifest(engine: "llama.cpp", version: "b6341", image: "ghcr.io/ggml-org/llama.cpp:server",
                              args: ["-m /models/q.gguf", "--flash-attn on"])
        #expect(try cli.run(["validate", on]).status == 0)
        let old = try manifest(engine: "llama.cpp", version: "b6303", image: "img", args: ["--flash-attn"])
        #expect(try cli.run(["validate", old]).status == 0)
    }

    @Test func untaggedImageUsesTheNewestCatalogWithAWarning() throws {
        let m = try manifest(engine: "vllm", version: nil, image: "vllm/vllm-openai:latest", args: ["-tp 2"])
        let r = try cli.run(["validate", m])
        #expect(r.status == 0 && r.err.contains("carries no vllm version"), "\(r.err)")
        let bad = try manifest(engine: "sglang", version: "0.5.2x", image: "img", args: [])
        let e = try cli.run(["validate", bad])
        #expect(e.status == 1 && e.err.contains("[unknown-reference]"), "\(e.err)")
    }

    @Test func flagsCommand() throws {
        let r = try cli.run(["flags", "sglang@0.5.21.post1", "--tp"])
        #expect(r.status == 0 && r.out.contains("--tp-size, --tensor-parallel-size  [int]"), "\(r.out)\(r.err)")
        let j = try cli.run(["flags", "llama.cpp@b6341", "--flash-attn", "--output", "json"])
        #expect(j.status == 0 && j.out.contains("\"catalogVersion\" : \"b6325\"") && j.out.contains("\"auto\""), "\(j.out)")
        let gone = try cli.run(["flags", "sglang@0.5.23", "cuda-graph-max-bs"])
        #expect(gone.out.contains("--cuda-graph-max-bs  removed in 0.5.20"), "\(gone.out)")
        #expect(try cli.run(["flags", "sglang", "--no-such-flag-anywhere"]).status == 1)
        #expect(try cli.run(["flags", "nope"]).status == 64)
        #expect(try cli.run(["flags", "vllm", "--versions"]).out.split(separator: "\n").count == 24)
        let versions = try cli.run(["flags", "vllm", "--versions", "--output", "json"])
        #expect(versions.out.contains("\"versions\" : [") && versions.out.contains("\"0.34.0\""), "\(versions.out)")
    }
}
