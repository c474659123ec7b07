import DeployCore
@testable import DeploySpec
import Testing

/// Recipe lines pasted into `args` as they are. A JSON value's `": "` makes YAML read the entry as a
/// key and value (or fail to read it at all); the error is located at the entry, says why, and its
/// fix-it is the entry as one YAML string, which then validates.
@Suite struct PastedRecipeTests {
    /// (recipe line, its source, the fix-it expected).
    static let recipes: [(line: String, source: String, fix: String)] = [
        (#"--speculative-config '{"method": "qwen3_next_mtp", "num_speculative_tokens": 2}'"#,
         "https://docs.vllm.ai/projects/recipes/en/latest/Qwen/Qwen3-Next.html (Advanced Configuration with MTP)",
         #"'--speculative-config {"method": "qwen3_next_mtp", "num_speculative_tokens": 2}'"#),
        (#"--speculative-config '{"model": "Qwen/Qwen3-0.6B", "num_speculative_tokens": 5, "method": "draft_model"}'"#,
         "https://docs.vllm.ai/en/latest/features/speculative_decoding/draft_model/",
         #"'--speculative-config {"model": "Qwen/Qwen3-0.6B", "num_speculative_tokens": 5, "method": "draft_model"}'"#),
        (#"--compilation-config '{ "cudagraph_mode": "FULL_AND_PIECEWISE"}'"#,
         "ROCm/ATOM#772 (its vllm serve script)",
         #"'--compilation-config { "cudagraph_mode": "FULL_AND_PIECEWISE"}'"#),
    ]

    /// A deployment of the Qwen3-Next recipe on the stock vLLM 0.33.0 with `entries` as its args (the
    /// first on line 10).
    static func manifest(_ entries: String...) -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: qwen3-next}
        spec:
          model: {source: huggingface, id: Qwen/Qwen3-Next-80B-A3B-Instruct}
          backend: vllm
          backendVersion: "0.33.0"
          gpusPerReplica: 4
          args:
        \(entries.map { "    - \($0)" }.joined(separator: "\n"))

        """
    }

    @Test(arguments: recipes.indices)
    func aPastedJSONValueGetsTheQuotedEntryAsItsFix(_ i: Int) throws {
        let recipe = Self.recipes[i]
        let r = validate(Self.manifest("--tensor-parallel-size 4", recipe.line))
        let d = try #require(r.diagnostics.first { $0.id == "yaml-syntax" }, "\(recipe.source): \(r.diagnostics)")
        #expect(d.location?.line == 11 && d.location?.column == 7, "\(d)")
        #expect(d.length == recipe.line.unicodeScalars.count)
        #expect(d.fixIt == recipe.fix)
        #expect(d.notes.first?.hasPrefix("YAML reads ': ' in an unquoted list entry as a key and a value") == true)
        let fixed = validate(Self.manifest("--tensor-parallel-size 4", try #require(d.fixIt)))
        #expect(fixed.diagnostics.filter { $0.severity == .error }.isEmpty, "\(fixed.diagnostics)")
    }

    /// `- --flag: value` is valid YAML, a mapping: the type error says so and gives the string.
    @Test func aFlagWrittenAsAKeyGetsTheStringAsItsFix() throws {
        for (entry, fix) in [(#"--speculative-config: '{"method": "qwen3_next_mtp", "num_speculative_tokens": 2}'"#,
                              #"'--speculative-config {"method": "qwen3_next_mtp", "num_speculative_tokens": 2}'"#),
                             (#"--limit-mm-per-prompt {"image": 2}"#, #"'--limit-mm-per-prompt {"image": 2}'"#)] {
            let r = validate(Self.manifest("--tensor-parallel-size 4", entry))
            let d = try #require(r.diagnostics.first { $0.id == "invalid-type" }, "\(r.diagnostics)")
            #expect(d.message == "'spec.args[1]' must be a string, got a mapping")
            #expect(d.location?.line == 11 && d.location?.column == 7)
            #expect(d.fixIt == fix)
            #expect(validate(Self.manifest("--tensor-parallel-size 4", fix)).diagnostics.filter { $0.severity == .error }.isEmpty)
        }
    }

    /// Other syntax errors, and entries that are not flags, get no such fix.
    @Test func otherErrorsAreUnchanged() {
        #expect(YAMLLoader.unquotedFlagEntry(#"    - --tp-size 8"#) == nil)
        #expect(YAMLLoader.unquotedFlagEntry(#"    - name: {a: 1"#) == nil)
        #expect(YAMLLoader.unquotedFlagEntry(#"  key: --x {"a": 1}"#) == nil)
        let r = validate(Self.manifest("--tensor-parallel-size 4", #"--tp-size [8"#))
        #expect(r.diagnostics.allSatisfy { $0.fixIt == nil })
        #expect(YAMLLoader.singleQuoted("it's") == "'it''s'")
    }
}

/// A launch command's flags pasted into one args entry: SGLang's DeepSeek-V3 instructions
/// (`python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V3 --tp 8 --trust-remote-code`,
/// sgl-project/sglang benchmark/deepseek_v3/README.md) and llama.cpp's usual `-c 4096 -ngl 99`.
@Suite struct SeveralFlagsInOneEntryTests {
    static func manifest(_ entries: [String], backend: String = "sglang", version: String = "\"0.5.21\"") -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          model: {source: local, path: /models/m}
          backend: \(backend)
          backendVersion: \(version)
          gpusPerReplica: 8
          args:
        \(entries.map { "    - \($0)" }.joined(separator: "\n"))

        """
    }

    @Test func theEntryIsNamedWithItsFlagsAsEntries() throws {
        let (yaml, m) = markers(Self.manifest(["--tp-size 8 ⁁--trust-remote-code", "--enable-dp-attention ⁁--dp 8"]))
        let r = validate(yaml)
        let errors = r.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 2, "\(r.diagnostics)")
        expectDiagnostic(r, "invalid-value", at: m[0])
        expectDiagnostic(r, "invalid-value", at: m[1])
        #expect(errors[0].message == "args entry '--tp-size 8 --trust-remote-code' holds 2 flags; write one flag per entry")
        #expect(errors[0].notes == ["as entries: '--tp-size 8', '--trust-remote-code'"])
        #expect(errors[1].notes == ["as entries: '--enable-dp-attention', '--dp 8'"])
        // Written as the note says, it validates.
        let fixed = validate(Self.manifest(["--tp-size 8", "--trust-remote-code", "--enable-dp-attention", "--dp 8"]))
        #expect(fixed.diagnostics.filter { $0.severity == .error }.isEmpty, "\(fixed.diagnostics)")
    }

    @Test func llamaCppShortFlags() throws {
        let r = validate(Self.manifest(["-c 4096 -ngl 99 --host-x"], backend: "llama.cpp", version: "b8643"))
        let d = try #require(r.diagnostics.first { $0.message.contains("holds") }, "\(r.diagnostics)")
        #expect(d.message == "args entry '-c 4096 -ngl 99 --host-x' holds 3 flags; write one flag per entry")
        #expect(d.notes == ["as entries: '-c 4096', '-ngl 99', '--host-x'"])
    }

    /// The launch command itself pasted as an entry: the note says where it comes from instead.
    @Test func aPastedLaunchCommandIsExplained() throws {
        let r = validate(Self.manifest(["python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V3", "tp-size 8"]))
        let errors = r.diagnostics.filter { $0.message.contains("is not a flag") }
        #expect(errors.count == 2, "\(r.diagnostics)")
        #expect(errors[0].notes == ["the command that starts the engine is the backend version's (entrypoint 'python3 -m sglang.launch_server' "
                                    + "and run command), and the model is spec.model: keep only the engine flags of a pasted launch command"])
        #expect(errors[1].notes.isEmpty)
    }

    /// Values that hold dashes stay one value: negative numbers, JSON, lists.
    @Test func valuesWithDashesAreOneValue() {
        let r = validate(Self.manifest([#"--json-model-override-args {"note": "a -b --c"}"#, "--max-running-requests -1",
                                        "--cuda-graph-bs-decode 1 2 4 8"]))
        #expect(!r.diagnostics.contains { $0.message.contains("holds") }, "\(r.diagnostics)")
    }
}
