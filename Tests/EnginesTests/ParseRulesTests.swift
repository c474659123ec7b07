import Engines
import Testing

/// Each engine version's own parse rules (docs/engines.md, "How flags are read").
@Suite struct ParseRulesTests {
    func check(_ entries: [String], _ engine: EngineKind, _ version: String, strict: Bool = false) throws -> FlagCheckResult {
        let catalog = try CatalogStore.catalog(engine, resolving: version).catalog
        let groups = entries.enumerated().compactMap { ArgGroup.parse(entry: $0.element, origin: $0.offset) }
        return FlagChecker(catalog: catalog, strict: strict).check(groups)
    }

    func errors(_ r: FlagCheckResult) -> [String] { r.issues.filter(\.isError).map { "\($0.id): \($0.message)" } }

    @Test func vllmDottedKeysOnAnyJSONFlagMerge() throws {
        // vLLM recipes: --speculative-config.method mtp (GLM), --limit-mm-per-prompt.video 0 (Glyph)
        let r = try check(["--speculative-config.method mtp", "--speculative-config.num_speculative_tokens 1",
                           "--limit-mm-per-prompt.video 0"], .vllm, "0.19.0")
        #expect(errors(r).isEmpty, "\(errors(r))")
        #expect(r.flagSet["--speculative-config"] == .json(.object(["method": .string("mtp"),
                                                                   "num_speculative_tokens": .number(1)])))
        #expect(r.flagSet["--limit-mm-per-prompt"] == .json(.object(["video": .number(0)])))
    }

    @Test func vllmShortAliasWithDottedKeyAndEquals() throws {
        // vLLM recipe: -cc.pass_config.fuse_rope_kvcache=True (json.loads fails: the string "True")
        let r = try check(["-cc.pass_config.fuse_rope_kvcache=True", "-tp 8"], .vllm, "0.34.0")
        #expect(errors(r).isEmpty, "\(errors(r))")
        #expect(r.flagSet["--compilation-config"]
            == .json(.object(["pass_config": .object(["fuse_rope_kvcache": .string("True")])])))
        #expect(r.flagSet["--tensor-parallel-size"] == .int(8))
    }

    @Test func vllmDashOPerVersion() throws {
        #expect(try check(["-O3"], .vllm, "0.34.0").flagSet["--optimization-level"] == .string("3"))
        // 0.11: -O is --compilation-config and -O3 sets its `level`
        let old = try check(["-O3"], .vllm, "0.11.0")
        #expect(errors(old).isEmpty, "\(errors(old))")
        #expect(old.flagSet["--compilation-config"] == .json(.object(["level": .number(3)])))
        // -O.mode means --compilation-config.mode up to 0.12; from 0.13 vLLM turns it into
        // --optimization-level .mode, which fails
        #expect(try check(["-O.mode 3"], .vllm, "0.12.0").flagSet["--compilation-config"]
            == .json(.object(["mode": .number(3)])))
        #expect(!errors(try check(["-O.mode 3"], .vllm, "0.13.0")).isEmpty)
        // …and the error says what to write instead.
        let later = try #require(try check(["-O.mode 3"], .vllm, "0.33.0").issues.first { $0.isError })
        #expect(later.notes == ["vllm 0.33.0 reads '-O.mode' as '-O' with the value '.mode': '-O.<key>' stopped working in vLLM 0.13.0; "
                                + "a key of --compilation-config is '-cc.mode'"])
        #expect(try check(["-cc.mode 3"], .vllm, "0.33.0").flagSet["--compilation-config"] == .json(.object(["mode": .number(3)])))
    }

    @Test func underscoresFollowTheEngine() throws {
        #expect(try check(["--tensor_parallel_size 2"], .vllm, "0.33.0").flagSet["--tensor-parallel-size"] == .int(2))
        // SGLang's argparse has no such rule: `error: unrecognized arguments: --reasoning_parser` (sglang#12818)
        #expect(try check(["--reasoning_parser deepseek-r1"], .sglang, "0.5.5.post3").issues.map(\.id) == ["unknown-flag"])
    }

    @Test func abbreviationsPerEngine() throws {
        let v = try check(["--gpu-memory 0.8"], .vllm, "0.34.0")
        #expect(v.issues.map(\.id) == ["abbreviated-flag"] && !v.issues[0].isError)
        #expect(v.flagSet["--gpu-memory-utilization"] == .float(0.8))
        #expect(try check(["--gpu-memory 0.8"], .vllm, "0.34.0", strict: true).issues.allSatisfy(\.isError))
        // SGLang 0.5.20 dropped --cuda-graph-max-bs: the old name is now an ambiguous prefix -> error
        let amb = try check(["--cuda-graph-max-bs 8"], .sglang, "0.5.20")
        #expect(amb.hasErrors)
        // llama.cpp has no abbreviations
        #expect(try check(["--ctx 4096"], .llamaCpp, "b11312").issues.map(\.id) == ["unknown-flag"])
    }

    @Test func llamaCppFlashAttnChangedArity() throws {
        // presence flag up to b6303; on|off|auto from the build of PR #15434 (before b6341)
        #expect(errors(try check(["--flash-attn"], .llamaCpp, "b6303")).isEmpty)
        #expect(!errors(try check(["--flash-attn on"], .llamaCpp, "b6303")).isEmpty)
        let bare = try check(["--flash-attn"], .llamaCpp, "b6341")
        #expect(bare.issues.map(\.id) == ["missing-value"], "\(errors(bare))")
        #expect(errors(try check(["--flash-attn on"], .llamaCpp, "b6341")).isEmpty)
        #expect(errors(try check(["-fa auto"], .llamaCpp, "b10587")).isEmpty)
    }

    @Test func llamaCppRemovedArgumentsFailWithTheEnginesMessage() throws {
        let versions = CatalogStore.versions(of: .llamaCpp)
        let catalog = try CatalogStore.catalog(.llamaCpp, version: versions.last!)
        let removed = catalog.flags.filter { $0.removedMessage != nil }
        #expect(!removed.isEmpty, "the newest build keeps removed arguments registered")
        for spec in removed {
            let r = try check(["\(spec.name) 4"], .llamaCpp, catalog.version)
            #expect(r.issues.first?.id == "removed-flag", "\(spec.name)")
            #expect(r.issues.first?.message.contains(spec.removedMessage!) == true)
        }
        // flags that appeared later are unknown before
        #expect(errors(try check(["--mcp-servers-config x.json"], .llamaCpp, "b6110")).count == 1)
    }

    @Test func fixItsNameTheReplacement() throws {
        let r = try check(["--tp 8", "--tp-szie 8"], .sglang, "0.5.21.post1")
        #expect(r.issues.map(\.fixIt) == ["--tp-size", "--tp-size"])
    }
}
