/// SGLang's cross-flag rules (the `top10` rules of sglang-validation-rules.json that flags
/// alone decide), version-aware where SGLang changed them (0.5.9, 0.5.22).
extension FlagRules {
    static let a2aSpanningBackends: Set<String> = [
        "deepep", "deepep_v2", "mooncake", "nixl", "mori", "pplx", "ascend_fuseep", "flashinfer",
        "megamoe", "flashinfer_megamoe",
    ]

    /// nnodes-divides-tp-pp, ep-divides-tp, a2a-backend-forces-ep-eq-tp, dp-attention-shape.
    mutating func sglangParallelism() {
        let tpN = RuleFlag.tpSize, epN = RuleFlag.epSize, ppN = RuleFlag.ppSize, dpN = RuleFlag.dpSize
        guard !templated(tpN, epN, ppN, dpN, .nnodes, .attnDPSize, .moeDPSize) else { return }
        let tp = int(tpN) ?? 1, pp = int(ppN) ?? 1, dp = int(dpN) ?? 1
        var ep = int(epN) ?? 1

        // nnodes-divides-tp-pp (skipped for elastic EP scale-out joins)
        if string(.elasticEPJoinMode) != "scale", let nnodes = explicitInt(.nnodes), nnodes > 0,
           (tp * pp) % nnodes != 0 {
            error("tp_size × pp_size = \(tp * pp) must be divisible by the number of nodes (\(nnodes))",
                  at: [tpN, ppN, .nnodes])
        }

        // a2a-backend-forces-ep-eq-tp
        if let a2a = string(.moeA2ABackend), FlagRules.a2aSpanningBackends.contains(a2a) {
            if let explicit = explicitInt(epN), explicit != tp {
                warning("--moe-a2a-backend \(a2a) makes SGLang set ep_size := tp_size (\(tp)); "
                        + "--ep-size \(explicit) is ignored", at: [epN, .moeA2ABackend])
            }
            ep = tp
        }
        if let runner = string(.moeRunnerBackend) {
            if ["flashinfer_cutlass", "flashinfer_cutedsl"].contains(runner), ep != 1, ep != tp {
                error("--moe-runner-backend \(runner) needs ep_size 1 or tp_size (\(tp)), not \(ep)",
                      at: [epN, .moeRunnerBackend])
            }
            if runner == "cutlass", let q = string(.quantization), ["fp8", "mxfp8"].contains(q), ep != 1 {
                error("--moe-runner-backend cutlass with --quantization \(q) needs ep_size 1, not \(ep)",
                      at: [epN, .moeRunnerBackend])
            }
        }

        // ep-divides-tp
        if ep > 0, tp % ep != 0 {
            error("tp_size \(tp) must be divisible by ep_size \(ep)", at: [epN, tpN],
                  notes: ["expert parallelism runs inside the TP group; it does not add GPUs"])
        }
        if let moeDP = int(.moeDPSize), moeDP > 1 {
            if ep * moeDP > tp {
                error("ep_size × moe_dp_size = \(ep * moeDP) exceeds tp_size \(tp)", at: [.moeDPSize, epN])
            } else if ep > 1, ep * moeDP != tp {
                error("with ep_size > 1, ep_size × moe_dp_size (\(ep * moeDP)) must equal tp_size \(tp)",
                      at: [.moeDPSize, epN])
            }
        }

        // dp-attention-shape
        let chunked = explicitInt(.chunkedPrefillSize)
        if atLeast(FlagRules.v0522) {
            let legacy = bool(.enableDPAttention)
            let attn = max(int(.attnDPSize) ?? 1, legacy ? dp : 1)
            guard attn > 1 else { return }
            let at: [RuleFlag] = isSet(.attnDPSize) ? [.attnDPSize] : [.enableDPAttention, dpN]
            if tp % attn != 0 {
                error("tp_size \(tp) must be divisible by the attention DP size \(attn)", at: at + [tpN])
            }
            if !legacy, dp > 1 {
                error("--dp-size \(dp) together with --attn-dp-size \(attn) is rejected by SGLang",
                      at: [dpN, .attnDPSize])
            }
            if let c = chunked, c > 0 {
                warning("with attention DP \(attn) SGLang sets chunked_prefill_size := \(c) / \(attn) = \(c / attn)",
                        at: [.chunkedPrefillSize])
            }
        } else {
            let enabled = bool(.enableDPAttention)
            if bool(.enableDPLMHead), !(enabled && dp > 1) {
                error("--enable-dp-lm-head requires DP attention (--enable-dp-attention with --dp-size > 1)",
                      at: [.enableDPLMHead])
            }
            guard enabled else { return }
            if dp == 1 {
                warning("--enable-dp-attention with dp_size 1: SGLang turns DP attention off",
                        at: [.enableDPAttention])
            } else if tp % dp != 0 {
                error("with --enable-dp-attention, tp_size \(tp) must be divisible by dp_size \(dp)",
                      at: [dpN, tpN, .enableDPAttention])
            } else if let c = chunked, c > 0 {
                warning("with DP attention SGLang sets chunked_prefill_size := \(c) / \(dp) = \(c / dp)",
                        at: [.chunkedPrefillSize])
            }
        }
    }

    /// chunked-prefill-page-size.
    mutating func sglangChunkedPrefill() {
        guard let chunked = explicitInt(.chunkedPrefillSize), chunked > 0,
              let page = explicitInt(.pageSize), page > 0,
              string(.disaggregationMode) != "decode", chunked % page != 0 else { return }
        error("chunked_prefill_size \(chunked) must be a multiple of page_size \(page)",
              at: [.chunkedPrefillSize, .pageSize])
    }
}
