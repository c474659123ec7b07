/// SGLang's cross-flag rules (the `top10` rules of sglang-validation-rules.json that flags
/// alone decide), version-aware where SGLang changed them (0.5.9, 0.5.22).
extension FlagRules {
    static let a2aSpanningBackends: Set<String> = [
        "deepep", "deepep_v2", "mooncake", "nixl", "mori", "pplx", "ascend_fuseep", "flashinfer",
        "megamoe", "flashinfer_megamoe",
    ]

    /// nnodes-divides-tp-pp, ep-divides-tp, a2a-backend-forces-ep-eq-tp, dp-attention-shape.
    mutating func sglangParallelism() {
        let tpN = "--tp-size", epN = "--ep-size", ppN = "--pp-size", dpN = "--dp-size"
        guard !templated(tpN, epN, ppN, dpN, "--nnodes", "--attn-dp-size", "--moe-dp-size") else { return }
        let tp = int(tpN) ?? 1, pp = int(ppN) ?? 1, dp = int(dpN) ?? 1
        var ep = int(epN) ?? 1

        // nnodes-divides-tp-pp (skipped for elastic EP scale-out joins)
        if string("--elastic-ep-join-mode") != "scale", let nnodes = explicitInt("--nnodes"), nnodes > 0,
           (tp * pp) % nnodes != 0 {
            error("tp_size × pp_size = \(tp * pp) must be divisible by the number of nodes (\(nnodes))",
                  at: [tpN, ppN, "--nnodes"])
        }

        // a2a-backend-forces-ep-eq-tp
        if let a2a = string("--moe-a2a-backend"), FlagRules.a2aSpanningBackends.contains(a2a) {
            if let explicit = explicitInt(epN), explicit != tp {
                warning("--moe-a2a-backend \(a2a) makes SGLang set ep_size := tp_size (\(tp)); "
                        + "--ep-size \(explicit) is ignored", at: [epN, "--moe-a2a-backend"])
            }
            ep = tp
        }
        if let runner = string("--moe-runner-backend") {
            if ["flashinfer_cutlass", "flashinfer_cutedsl"].contains(runner), ep != 1, ep != tp {
                error("--moe-runner-backend \(runner) needs ep_size 1 or tp_size (\(tp)), not \(ep)",
                      at: [epN, "--moe-runner-backend"])
            }
            if runner == "cutlass", let q = string("--quantization"), ["fp8", "mxfp8"].contains(q), ep != 1 {
                error("--moe-runner-backend cutlass with --quantization \(q) needs ep_size 1, not \(ep)",
                      at: [epN, "--moe-runner-backend"])
            }
        }

        // ep-divides-tp
        if ep > 0, tp % ep != 0 {
            error("tp_size \(tp) must be divisible by ep_size \(ep)", at: [epN, tpN],
                  notes: ["expert parallelism runs inside the TP group; it does not add GPUs"])
        }
        if let moeDP = int("--moe-dp-size"), moeDP > 1 {
            if ep * moeDP > tp {
                error("ep_size × moe_dp_size = \(ep * moeDP) exceeds tp_size \(tp)", at: ["--moe-dp-size", epN])
            } else if ep > 1, ep * moeDP != tp {
                error("with ep_size > 1, ep_size × moe_dp_size (\(ep * moeDP)) must equal tp_size \(tp)",
                      at: ["--moe-dp-size", epN])
            }
        }

        // dp-attention-shape
        let chunked = explicitInt("--chunked-prefill-size")
        if atLeast(FlagRules.v0522) {
            let legacy = bool("--enable-dp-attention")
            let attn = max(int("--attn-dp-size") ?? 1, legacy ? dp : 1)
            guard attn > 1 else { return }
            let at = isSet("--attn-dp-size") ? ["--attn-dp-size"] : ["--enable-dp-attention", dpN]
            if tp % attn != 0 {
                error("tp_size \(tp) must be divisible by the attention DP size \(attn)", at: at + [tpN])
            }
            if !legacy, dp > 1 {
                error("--dp-size \(dp) together with --attn-dp-size \(attn) is rejected by SGLang",
                      at: [dpN, "--attn-dp-size"])
            }
            if let c = chunked, c > 0 {
                warning("with attention DP \(attn) SGLang sets chunked_prefill_size := \(c) / \(attn) = \(c / attn)",
                        at: ["--chunked-prefill-size"])
            }
        } else {
            let enabled = bool("--enable-dp-attention")
            if bool("--enable-dp-lm-head"), !(enabled && dp > 1) {
                error("--enable-dp-lm-head requires DP attention (--enable-dp-attention with --dp-size > 1)",
                      at: ["--enable-dp-lm-head"])
            }
            guard enabled else { return }
            if dp == 1 {
                warning("--enable-dp-attention with dp_size 1: SGLang turns DP attention off",
                        at: ["--enable-dp-attention"])
            } else if tp % dp != 0 {
                error("with --enable-dp-attention, tp_size \(tp) must be divisible by dp_size \(dp)",
                      at: [dpN, tpN, "--enable-dp-attention"])
            } else if let c = chunked, c > 0 {
                warning("with DP attention SGLang sets chunked_prefill_size := \(c) / \(dp) = \(c / dp)",
                        at: ["--chunked-prefill-size"])
            }
        }
    }

    /// chunked-prefill-page-size.
    mutating func sglangChunkedPrefill() {
        guard let chunked = explicitInt("--chunked-prefill-size"), chunked > 0,
              let page = explicitInt("--page-size"), page > 0,
              string("--disaggregation-mode") != "decode", chunked % page != 0 else { return }
        error("chunked_prefill_size \(chunked) must be a multiple of page_size \(page)",
              at: ["--chunked-prefill-size", "--page-size"])
    }
}
