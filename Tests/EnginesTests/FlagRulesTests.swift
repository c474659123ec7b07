import Testing
@testable import Engines

/// Cross-flag rules (sglang-validation-rules.json top10) and GPU placement.
@Suite struct FlagRulesTests {
    /// The `flag-conflict` issues of a check.
    func conflicts(_ entries: [String], _ version: String = "0.5.23", engine: EngineKind = .sglang,
                   gpus: Int? = nil, nodes: Int = 1) throws -> [FlagIssue] {
        try Fixture.check(entries, engine, version, gpus: gpus, nodes: nodes).issues("flag-conflict")
    }

    /// Every flag a rule reads is a real flag of its engine (a misspelt name would make its rules
    /// skip silently, as for a version that lacks the flag), and each catalog finds it at its own index.
    @Test func ruleFlagsAreCatalogFlags() throws {
        #expect(RuleFlag.allCases.map(\.rawValue) == Array(0..<RuleFlag.allCases.count))
        for engine in [EngineKind.sglang, .vllm] {
            let catalogs = try CatalogStore.versions(of: engine).map { v throws(CatalogError) in try CatalogStore.catalog(engine, version: v) }
            for flag in RuleFlag.allCases where flag.engine == engine {
                #expect(catalogs.contains { $0.ruleIndex(flag) != nil }, "\(flag.name) is in no \(engine) catalog")
                for c in catalogs {
                    #expect(c.ruleIndex(flag) == c.index(of: flag.name), "\(flag.name) in \(engine) \(c.version)")
                    if let i = c.ruleIndex(flag) { #expect(c.flags[i].name == flag.name, "\(flag.name): \(c.flags[i].name)") }
                }
            }
        }
    }

    @Test func nnodesDividesTPxPP() throws {
        let c = try conflicts(["--tp-size 3", "--nnodes 2"])
        #expect(c.count == 1 && c[0].isError && c[0].origin == 0)
        #expect(c[0].message.contains("divisible by the number of nodes (2)"))
        #expect(try conflicts(["--tp-size 3", "--nnodes 2", "--elastic-ep-join-mode scale"]).isEmpty)
        #expect(try conflicts(["--tp-size 4", "--nnodes 2"]).isEmpty)
    }

    /// A typo'd flag is one error, not also the rules its intended flag would have satisfied.
    @Test func aTypoDoesNotCascadeIntoRules() throws {
        let r = try Fixture.check(["--tp-szie 8", "--ep-size 8"], .sglang, "0.5.23", gpus: 8, nodes: 1)
        #expect(r.ids == ["unknown-flag"], "\(r.dump)")
        // Without the typo the same rule still fires.
        #expect(try conflicts(["--ep-size 8"], gpus: 8).contains { $0.message == "tp_size 1 must be divisible by ep_size 8" })
    }

    @Test func epDividesTP() throws {
        let c = try conflicts(["--tp-size 8", "--ep-size 3"])
        #expect(c.count == 1 && c[0].isError && c[0].origin == 1)
        #expect(c[0].message == "tp_size 8 must be divisible by ep_size 3")
        let m = try conflicts(["--tp-size 8", "--ep-size 4", "--moe-dp-size 4"])
        #expect(m.count == 1 && m[0].message.contains("exceeds tp_size 8"))
        #expect(try conflicts(["--tp-size 8", "--ep-size 4", "--moe-dp-size 2"]).isEmpty)
        // ep defaults to 1: fine; ep never adds GPUs.
        #expect(try conflicts(["--tp-size 8", "--ep-size 8"], gpus: 8).isEmpty)
    }

    @Test func a2aBackendForcesEPEqualsTP() throws {
        let c = try conflicts(["--tp-size 8", "--ep-size 3", "--moe-a2a-backend deepep"])
        #expect(c.count == 1 && !c[0].isError, "\(c)")  // ep := tp, so no divisibility error either
        #expect(c[0].message.contains("ep_size := tp_size (8)"))
        let r = try conflicts(["--tp-size 8", "--ep-size 2", "--moe-runner-backend flashinfer_cutlass"])
        #expect(r.count == 1 && r[0].isError && r[0].message.contains("needs ep_size 1 or tp_size (8)"))
        let q = try conflicts(["--tp-size 8", "--ep-size 2", "--moe-runner-backend cutlass", "--quantization fp8"])
        #expect(q.count == 1 && q[0].isError && q[0].message.contains("needs ep_size 1"))
    }

    @Test func dpAttentionShapeFrom0522() throws {
        let a = try conflicts(["--tp-size 8", "--attn-dp-size 3"])
        #expect(a.count == 1 && a[0].isError && a[0].origin == 1)
        let b = try conflicts(["--tp-size 8", "--attn-dp-size 2", "--dp-size 2"])
        #expect(b.contains { $0.isError && $0.message.contains("is rejected") })
        let w = try conflicts(["--tp-size 8", "--attn-dp-size 4", "--chunked-prefill-size 8192"])
        #expect(w.count == 1 && !w[0].isError && w[0].message.hasSuffix("= 2048") && w[0].origin == 2)
    }

    @Test func dpAttentionShapeUpTo0521() throws {
        let a = try conflicts(["--tp-size 8", "--dp-size 3", "--enable-dp-attention"], "0.5.21")
        #expect(a.count == 1 && a[0].isError && a[0].message.contains("divisible by dp_size 3"))
        let l = try conflicts(["--enable-dp-lm-head"], "0.5.21")
        #expect(l.count == 1 && l[0].isError)
        let off = try conflicts(["--enable-dp-attention"], "0.5.21")
        #expect(off.count == 1 && !off[0].isError && off[0].message.contains("turns DP attention off"))
        #expect(try conflicts(["--tp-size 8", "--dp-size 4", "--enable-dp-attention", "--enable-dp-lm-head"],
                              "0.5.21", gpus: 8).isEmpty)
    }

    @Test func specParamsAllOrNone() throws {
        let c = try conflicts(["--speculative-algorithm EAGLE", "--speculative-eagle-topk 4", "--max-running-requests 8"])
        #expect(c.count == 1 && c[0].isError && c[0].origin == 1)
        #expect(c[0].message.contains("needs --speculative-num-steps"))
        #expect(try conflicts(["--speculative-algorithm EAGLE", "--speculative-eagle-topk 4", "--speculative-adaptive",
                               "--max-running-requests 8"]).isEmpty)
        #expect(try conflicts(["--speculative-algorithm EAGLE", "--max-running-requests 8"]).isEmpty)
    }

    @Test func topk1SetsDraftTokensAndDSPARKForcesOne() throws {
        let w = try conflicts(["--speculative-algorithm EAGLE", "--speculative-num-steps 3", "--speculative-eagle-topk 1",
                               "--speculative-num-draft-tokens 8", "--max-running-requests 8"])
        #expect(w.count == 1 && !w[0].isError && w[0].origin == 3)
        #expect(w[0].message.contains("num_steps + 1 = 4"))
        let d = try conflicts(["--speculative-algorithm DSPARK", "--speculative-num-steps 3", "--speculative-eagle-topk 2",
                               "--max-running-requests 8"])
        #expect(d.count == 2 && d.allSatisfy { !$0.isError })
        #expect(d[0].message == "DSPARK makes SGLang set speculative_num_steps := 1; --speculative-num-steps 3 is ignored")
        let g = try conflicts(["--speculative-algorithm DSPARK", "--speculative-dspark-block-size 4",
                               "--speculative-num-draft-tokens 4", "--max-running-requests 8"])
        #expect(g.count == 1 && g[0].isError && g[0].message.contains("block-size + 1 = 5"))
    }

    @Test func topkAbove1NeedsBackends() throws {
        let base = ["--speculative-algorithm EAGLE", "--speculative-num-steps 3", "--speculative-eagle-topk 4",
                    "--speculative-num-draft-tokens 8", "--max-running-requests 8"]
        let t = try conflicts(base + ["--decode-attention-backend trtllm_mha"])
        #expect(t.count == 1 && t[0].isError && t[0].message.contains("trtllm_mha"))
        let p = try conflicts(base + ["--page-size 16", "--attention-backend flashmla"])
        #expect(p.count == 1 && p[0].isError && p[0].origin == 6)
        #expect(try conflicts(base + ["--page-size 16", "--attention-backend triton"]).isEmpty)
        #expect(try conflicts(base + ["--page-size 16", "--attention-backend triton"], "0.5.9").contains { $0.isError })
    }

    @Test func specSideEffects() throws {
        let w = try conflicts(["--speculative-algorithm DSPARK"])
        #expect(w.count == 1 && !w[0].isError && w[0].message.contains("max_running_requests := 48"))
        let m = try conflicts(["--speculative-algorithm NGRAM", "--enable-mixed-chunk", "--max-running-requests 8"])
        #expect(m.count == 1 && m[0].isError && m[0].origin == 1)
        let old = try conflicts(["--speculative-algorithm EAGLE", "--max-running-requests 8"], "0.5.9")
        #expect(old.count == 1 && old[0].message.contains("disables the overlap scheduler"))
        #expect(try conflicts(["--speculative-algorithm EAGLE", "--max-running-requests 8",
                               "--disable-overlap-schedule"], "0.5.9").isEmpty)
    }

    @Test func specMoeRunnerBackend() throws {
        let e = try conflicts(["--speculative-algorithm EAGLE", "--max-running-requests 8",
                               "--speculative-moe-runner-backend flashinfer_trtllm", "--disable-overlap-schedule"], "0.5.9")
        #expect(e.count == 1 && e[0].isError && e[0].origin == 2)
        #expect(try conflicts(["--speculative-algorithm EAGLE", "--max-running-requests 8",
                               "--speculative-moe-runner-backend flashinfer_trtllm"], "0.5.10.post1").isEmpty)
        let w = try conflicts(["--speculative-algorithm DSPARK", "--max-running-requests 8",
                               "--moe-runner-backend flashinfer_megamoe"])
        #expect(w.count == 1 && !w[0].isError && w[0].message.contains("flashinfer_trtllm"))
    }

    @Test func chunkedPrefillMultipleOfPageSize() throws {
        let c = try conflicts(["--page-size 64", "--chunked-prefill-size 1000"])
        #expect(c.count == 1 && c[0].isError && c[0].origin == 1)
        #expect(try conflicts(["--page-size 64", "--chunked-prefill-size 1024"]).isEmpty)
        #expect(try conflicts(["--page-size 64", "--chunked-prefill-size 1000", "--disaggregation-mode decode"]).isEmpty)
    }

    @Test func placementSGLang() throws {
        let over = try conflicts(["--trust-remote-code", "--tp-size 8", "--dp-size 2"], gpus: 8)
        #expect(over.count == 1 && over[0].isError && over[0].origin == 1)
        #expect(over[0].message.hasPrefix("tp_size × pp_size × dp_size = 8 × 1 × 2 = 16 GPUs, but a replica has 8"))
        let under = try conflicts(["--trust-remote-code", "--tp-size 4"], gpus: 8)
        #expect(under.count == 1 && !under[0].isError && under[0].message.contains("uses 4 of the 8 GPUs"))
        // No parallel flag given: the default (1) applies; point at the first group.
        let none = try conflicts(["--trust-remote-code"], gpus: 2)
        #expect(none.count == 1 && none[0].origin == 0)
        #expect(try conflicts(["--tp-size 8", "--pp-size 2"], gpus: 8, nodes: 2).isEmpty)
        #expect(try conflicts(["--tp-size 8", "--dp-size 8", "--enable-dp-attention"], "0.5.21", gpus: 8).isEmpty)
        #expect(try conflicts(["--tp-size {{tp}}"], gpus: 8).isEmpty)
        #expect(try conflicts(["--tp-size x"], gpus: 8).isEmpty)  // invalid: reported once, not guessed
        #expect(FlagChecker(catalog: try Fixture.catalog()).check([], context: CheckContext(gpusPerReplica: 8)).issues.isEmpty)
    }

    @Test func absurdSizesDoNotTrap() throws {
        let huge = "9223372036854775807"
        let r = try Fixture.check(["--tp-size \(huge)", "--pp-size 2", "--dp-size \(huge)", "--nnodes 3",
                                   "--ep-size \(huge)", "--moe-dp-size 4", "--speculative-algorithm EAGLE",
                                   "--speculative-num-steps \(huge)", "--speculative-eagle-topk 1",
                                   "--speculative-num-draft-tokens 2", "--max-running-requests 1"],
                                  gpus: Int.max, nodes: Int.max)
        #expect(r.issues("invalid-value").isEmpty, "\(r.dump)")
        let big = try conflicts(["--tp-size 2147483647", "--pp-size 2147483647", "--dp-size 2147483647"], gpus: 8)
        #expect(big.count == 1 && big[0].isError && big[0].message.contains("too many"))
    }

    @Test func placementVLLM() throws {
        #expect(try conflicts(["-tp 4", "-dp 2"], "0.33.0", engine: .vllm, gpus: 8).isEmpty)
        let over = try conflicts(["-tp 8", "-pp 2"], "0.33.0", engine: .vllm, gpus: 8)
        #expect(over.count == 1 && over[0].isError && over[0].message.contains("tensor_parallel_size"))
        #expect(try conflicts(["-ngl 99"], "b5904", engine: .llamaCpp, gpus: 8).isEmpty)
    }
}
