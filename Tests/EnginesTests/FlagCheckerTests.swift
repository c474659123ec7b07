import Testing
@testable import Engines

/// Name-level and value-level checks: one test (at least) per issue id.
@Suite struct FlagCheckerTests {
    /// A run-command template's own flags (the first groups) are checked but left out of the flag
    /// set, whichever later group sets them again; the other flags are in it.
    @Test func theFirstGroupsCanBeLeftOutOfTheFlagSet() throws {
        let catalog = try Fixture.catalog(.sglang, "0.5.23")
        let groups = Fixture.groups(["--host 0.0.0.0", "--port 3000", "--tp-size 8", "--port 3001", "--mem-fraction-static .8"])
        let all = FlagChecker(catalog: catalog).check(groups)
        #expect(all.flagSet.names == ["--host", "--mem-fraction-static", "--port", "--tp-size"])
        let omitted = FlagChecker(catalog: catalog).check(groups, flagSetOmitsFirst: 2)
        #expect(omitted.flagSet.names == ["--mem-fraction-static", "--tp-size"])
        #expect(omitted.flagSet["--tp-size"] == .int(8) && omitted.issues == all.issues)
        let bad = FlagChecker(catalog: catalog).check(Fixture.groups(["--port x", "--tp-size 8"]), flagSetOmitsFirst: 1)
        #expect(bad.issues.contains { $0.id == "invalid-value" && $0.origin == 0 }, "still checked: \(bad.issues)")
    }

    @Test func unknownFlagSuggestsTheClosest() throws {
        let r = try Fixture.check(["--tp-sise 8", "--trust-remot-code", "--zzzzzzzz 1"])
        #expect(r.ids == ["unknown-flag", "unknown-flag", "unknown-flag"], "\(r.dump)")
        #expect(r.issues[0].message == "unknown flag '--tp-sise' for sglang 0.5.23; did you mean '--tp-size'?")
        #expect(r.issues[1].message.hasSuffix("did you mean '--trust-remote-code'?"))
        #expect(!r.issues[2].message.contains("did you mean"))
        #expect(r.flagSet.isEmpty)
    }

    @Test func flagAddedInANewerVersion() throws {
        let r = try Fixture.check(["--attn-dp-size 2"], .sglang, "0.5.19")
        #expect(r.ids == ["unknown-flag"])
        #expect(r.issues[0].message == "'--attn-dp-size' was added in sglang 0.5.22; this image has 0.5.19")
    }

    @Test func removedFlagOnlyFromItsRemovalVersion() throws {
        #expect(try Fixture.check(["--stream-output"], .sglang, "0.5.19").errors.isEmpty)
        let r = try Fixture.check(["--stream-output"], .sglang, "0.5.20")
        #expect(r.ids == ["removed-flag"])
        #expect(r.issues[0].message.hasSuffix("use '--incremental-streaming-output'"))
        let v = try Fixture.check(["--swap-space 4"], .vllm, "0.33.0")
        #expect(v.ids == ["removed-flag"], "\(v.dump)")
        #expect(v.issues[0].message.contains("last seen in 0.17.1"), "\(v.dump)")
    }

    @Test func abbreviationsAreWarningsAndResolved() throws {
        let r = try Fixture.check(["--tp 8", "--trust-remote"])
        #expect(r.ids == ["abbreviated-flag", "abbreviated-flag"], "\(r.dump)")
        #expect(r.issues.allSatisfy { !$0.isError }, "SGLang's argparse accepts them: warnings")
        #expect(r.issues[0].message == "'--tp' abbreviates '--tp-size'")
        #expect(r.issues[0].fixIt == "--tp-size")
        #expect(r.flagSet["--tp-size"] == .int(8))  // the value was still checked and kept
        #expect(r.flagSet["--trust-remote-code"] == .bool(true))
        // Strict spelling: the same abbreviations are errors.
        let catalog = try CatalogStore.catalog(.sglang, version: "0.5.23")
        let groups = ["--tp 8"].enumerated().compactMap { ArgGroup.parse(entry: $0.element, origin: $0.offset) }
        let strict = FlagChecker(catalog: catalog, strict: true).check(groups)
        #expect(strict.issues.map(\.isError) == [true])
        let amb = try Fixture.check(["--cuda-graph-max 4"])
        #expect(amb.ids == ["abbreviated-flag"])
        #expect(amb.issues[0].message.contains("ambiguous") && amb.issues[0].message.contains("'--cuda-graph-max-bs-decode'"))
        // llama.cpp's parser has no abbreviations: unknown, with a hint.
        let l = try Fixture.check(["--ctx 4096"], .llamaCpp, "b5904")
        #expect(l.ids == ["unknown-flag"])
        #expect(l.issues[0].message.contains("did you mean"))
    }

    @Test func missingValue() throws {
        let r = try Fixture.check(["--tp-size", "--served-model-name", "--moe-runner-backend"])
        #expect(r.ids == ["missing-value", "missing-value", "missing-value"], "\(r.dump)")
        #expect(r.issues[0].message == "'--tp-size' needs a value (an integer)")
        #expect(r.issues[2].message.contains("one of: auto, deep_gemm"))
    }

    @Test func unexpectedValueOnPresenceFlags() throws {
        let r = try Fixture.check(["--trust-remote-code=true", "--disable-overlap-schedule yes"])
        #expect(r.ids == ["unexpected-value", "unexpected-value"], "\(r.dump)")
        #expect(r.issues[0].message == "'--trust-remote-code' takes no value (got 'true')")
        #expect(r.issues[0].part == .value(0))
        #expect(r.issues[0].notes.first == "write '--trust-remote-code' alone to set it")
        // argv: a second token after a one-value flag is extra.
        let groups = ArgGroup.group(tokens: [("--tp-size", 0), ("8", 10), ("9", 12)], origin: 0)
        let c = FlagChecker(catalog: try Fixture.catalog()).check(groups)
        #expect(c.ids == ["unexpected-value"] && c.issues[0].part == .value(1))
    }

    @Test func invalidNumbers() throws {
        let r = try Fixture.check(["--tp-size eight", "--mem-fraction-static 0.8.5", "--max-running-requests 1.5",
                                   "--context-length 1.5Ki", "--chunked-prefill-size 4k"])
        #expect(r.ids == Array(repeating: "invalid-value", count: 5), "\(r.dump)")
        #expect(r.issues[0].message == "invalid integer 'eight' for '--tp-size'")
        #expect(r.issues.allSatisfy { $0.part == .value(0) })
        #expect(r.issues[3].message.contains("decimals are not allowed"))
    }

    @Test func humanReadableInts() throws {
        let r = try Fixture.check(["--context-length 1M"])
        #expect(r.issues.isEmpty && r.flagSet["--context-length"] == .int(1_000_000))
        #expect(try Fixture.check(["--context-length 128Ki"]).flagSet["--context-length"] == .int(131_072))
        #expect(try Fixture.check(["--context-length 1.5k"]).flagSet["--context-length"] == .int(1500))
        let bad = try Fixture.check(["--context-length 1m"])  // SGLang suffixes are case-sensitive
        #expect(bad.ids == ["invalid-value"])
        #expect(bad.issues[0].notes.first?.contains("case-sensitive") == true)
        let v = try Fixture.check(["--max-model-len 1K"], .vllm, "0.33.0")
        #expect(v.flagSet["--max-model-len"] == .int(1024))
        #expect(try Fixture.check(["--max-model-len 1.5k"], .vllm, "0.33.0").flagSet["--max-model-len"] == .int(1500))
        #expect(try Fixture.check(["--max-model-len auto"], .vllm, "0.33.0").flagSet["--max-model-len"] == .string("auto"))
        #expect(try Fixture.check(["--max-model-len 1.5K"], .vllm, "0.33.0").ids == ["invalid-value"])
    }

    @Test func choicesAreExactValidValuesFollowTheEngine() throws {
        let r = try Fixture.check(["--moe-runner-backend FLASHINFER_MXFP4", "--speculative-moe-runner-backend flashinfer_mxfp5"])
        #expect(r.ids == ["invalid-value", "invalid-value"], "\(r.dump)")
        #expect(r.issues[0].message.contains("choices are case-sensitive: did you mean 'flashinfer_mxfp4'?"))
        #expect(r.issues[1].message.contains("did you mean 'flashinfer_mxfp4'?"))
        let ok = try Fixture.check(["--speculative-algorithm dspark"])
        #expect(ok.errors.isEmpty && ok.flagSet["--speculative-algorithm"] == .string("DSPARK"))
        let bad = try Fixture.check(["--speculative-algorithm dsparkk"])
        #expect(bad.ids == ["invalid-value"])
        #expect(bad.issues[0].message.contains("unknown speculative algorithm 'dsparkk'"))
        #expect(bad.issues[0].message.contains("did you mean 'DSPARK'?"))
        // 0.5.11 still had argparse choices: exact case.
        #expect(try Fixture.check(["--speculative-algorithm eagle"], .sglang, "0.5.11").ids == ["invalid-value"])
        // vLLM: case-sensitive valid values unless marked otherwise.
        #expect(try Fixture.check(["--attention-backend flash_attn"], .vllm, "0.33.0").flagSet["--attention-backend"]
                == .string("FLASH_ATTN"))
    }

    @Test func extensionValuesAndFlags() throws {
        let ext = CatalogExtension(extraValues: ["--speculative-algorithm": ["MYSPEC"]],
                                   extraFlags: [FlagSpec(name: "--my-knob", valueType: .int)])
        #expect(try Fixture.check(["--speculative-algorithm myspec"]).ids == ["invalid-value"])
        let r = try Fixture.check(["--speculative-algorithm myspec", "--my-knob 3"], extension: ext)
        #expect(r.errors.isEmpty, "\(r.dump)")
        #expect(r.flagSet["--speculative-algorithm"] == .string("MYSPEC") && r.flagSet["--my-knob"] == .int(3))
    }

    @Test func listsAndJSON() throws {
        let r = try Fixture.check(["--cuda-graph-bs-decode 1 2 4", #"--json-model-override-args {"a": {"b": [1, 2]}}"#])
        #expect(r.issues.isEmpty, "\(r.dump)")
        #expect(r.flagSet["--cuda-graph-bs-decode"] == .list([.int(1), .int(2), .int(4)]))
        #expect(r.flagSet["--json-model-override-args"] == .json(.object(["a": .object(["b": .array([.number(1), .number(2)])])])))
        let bad = try Fixture.check(["--cuda-graph-bs-decode 1 x", "--json-model-override-args {bad}",
                                     "--forward-hooks {}"])
        #expect(bad.ids == ["invalid-value", "invalid-value", "invalid-value"], "\(bad.dump)")
        #expect(bad.issues[1].message.hasPrefix("invalid JSON for '--json-model-override-args'"))
        #expect(bad.issues[2].message.contains("JSON list"))
    }

    @Test func templatedValuesSkipTypeChecks() throws {
        let r = try Fixture.check(["--tp-size {{tp}}", "--model-path {{ model_path }}", "--cuda-graph-bs-decode {{a}} 2"])
        #expect(r.issues.isEmpty, "\(r.dump)")
        #expect(r.flagSet["--tp-size"] == .templated("{{tp}}"))
    }

    @Test func duplicatesThroughAliasesAndNegatives() throws {
        let r = try Fixture.check(["--tp-size 8", "--trust-remote-code", "--tensor-parallel-size 4"])
        let d = try #require(r.issues("duplicate-flag").first)
        #expect(d.origin == 2 && d.related == 0 && d.notes == ["first given as '--tp-size'"])
        #expect(d.message.contains("(here as '--tensor-parallel-size')"))
        #expect(r.flagSet["--tp-size"] == .int(4))  // last wins, like argparse
        let v = try Fixture.check(["--enable-prefix-caching", "--no-enable-prefix-caching"], .vllm, "0.33.0")
        #expect(v.ids == ["duplicate-flag"] && v.flagSet["--enable-prefix-caching"] == .bool(false))
        // A repeatable (append) flag is not a duplicate.
        let m = try Fixture.check(["--middleware a.B", "--middleware c.D"], .vllm, "0.33.0")
        #expect(m.issues.isEmpty && m.flagSet["--middleware"] == .list([.string("a.B"), .string("c.D")]))
    }

    @Test func deprecatedIsAWarning() throws {
        let r = try Fixture.check(["--enable-dp-attention"])
        let w = try #require(r.issues("deprecated-flag").first)
        #expect(!w.isError)
        #expect(w.message.hasPrefix("'--enable-dp-attention' is deprecated in sglang 0.5.23: "))
        #expect(w.message.contains("--attn-dp-size"))
    }

    @Test func reportsEveryProblem() throws {
        let r = try Fixture.check(["--tp-size x", "--bogus", "--trust-remote-code=1", "--tp-size 2", "--page-size"])
        #expect(r.ids == ["invalid-value", "unknown-flag", "unexpected-value", "duplicate-flag", "missing-value"],
                "\(r.dump)")
    }

    @Test func vllmSpellings() throws {
        let r = try Fixture.check(["--tensor_parallel_size 2", "-pp 2", "-O3", "--compilation-config.mode 3",
                                   "--compilation-config.custom_ops+ none", "--no-enforce-eager"], .vllm, "0.33.0",
                                  gpus: 4)
        #expect(r.issues.isEmpty, "\(r.dump)")
        #expect(r.flagSet["--tensor-parallel-size"] == .int(2) && r.flagSet["--pipeline-parallel-size"] == .int(2))
        #expect(r.flagSet["--optimization-level"] == .string("3"))
        #expect(r.flagSet["--compilation-config"] == .json(.object(["mode": .number(3), "custom_ops": .array([.string("none")])])))
        #expect(r.flagSet["--enforce-eager"] == .bool(false))
    }

    @Test func llamaCppFlags() throws {
        let r = try Fixture.check(["-m /models/q.gguf", "-ngl 99", "-c 8192", "-fa", "--no-cont-batching", "-np 4",
                                   "--host 0.0.0.0", "-ctk q8_0", "--jinja"], .llamaCpp, "b5904")
        #expect(r.issues.isEmpty, "\(r.dump)")
        #expect(r.flagSet["--model"] == .string("/models/q.gguf") && r.flagSet["--gpu-layers"] == .int(99))
        #expect(r.flagSet["--no-cont-batching"] == .bool(true) && r.flagSet["--flash-attn"] == .bool(true))
        #expect(try Fixture.check(["-ctk q9"], .llamaCpp, "b5904").ids == ["invalid-value"])
        #expect(try Fixture.check(["--ctx_size 4096"], .llamaCpp, "b5904").flagSet["--ctx-size"] == .int(4096))
    }
}
