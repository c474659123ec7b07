/// SGLang speculative-decoding rules: spec-params-all-or-none, spec-topk1-draft-tokens,
/// spec-topk-gt1-backends, spec-side-effects, spec-moe-runner-backend.
extension FlagRules {
    /// Runs the speculative rules when `--speculative-algorithm` is set.
    mutating func sglangSpeculative() {
        let algoN = RuleFlag.speculativeAlgorithm, stepsN = RuleFlag.speculativeNumSteps
        let topkN = RuleFlag.speculativeEagleTopk, draftN = RuleFlag.speculativeNumDraftTokens
        guard let algo = string(algoN)?.uppercased(), !algo.isEmpty,
              !templated(stepsN, topkN, draftN) else { return }
        let steps = explicitInt(stepsN), topk = explicitInt(topkN), draft = explicitInt(draftN)

        // spec-params-all-or-none
        if ["EAGLE", "EAGLE3", "NEXTN", "STANDALONE"].contains(algo), steps == nil,
           !bool(.speculativeAdaptive) {
            for (name, v) in [(topkN, topk), (draftN, draft)] where v != nil {
                error("\(name) needs \(stepsN) with \(algo): set all of \(stepsN), \(topkN) and "
                      + "\(draftN), or none (SGLang then picks them)", at: [name])
            }
        }

        // spec-topk1-draft-tokens
        if algo == "DSPARK" {
            for (name, v, field) in [(stepsN, steps, "speculative_num_steps"), (topkN, topk, "speculative_eagle_topk")] {
                if let v, v != 1 {
                    warning("DSPARK makes SGLang set \(field) := 1; \(name) \(v) is ignored", at: [name])
                }
            }
            if let d = draft, let block = explicitInt(.speculativeDSparkBlockSize), d != block + 1 {
                error("with DSPARK \(draftN) must equal --speculative-dspark-block-size + 1 = \(block + 1), not \(d)",
                      at: [draftN, .speculativeDSparkBlockSize])
            }
        } else if topk == 1, let s = steps, let d = draft, d != s + 1 {
            warning("with \(topkN) 1 SGLang sets speculative_num_draft_tokens := num_steps + 1 = \(s + 1); "
                    + "\(draftN) \(d) is overridden", at: [draftN, topkN])
        }

        // spec-topk-gt1-backends
        if let k = topk, k > 1 {
            let backends: [RuleFlag] = [.attentionBackend, .prefillAttentionBackend, .decodeAttentionBackend]
            for b in backends where string(b) == "trtllm_mha" {
                error("\(topkN) \(k) (> 1) is not supported with \(b) trtllm_mha", at: [topkN, b])
            }
            let allowed = atLeast(FlagRules.v0510) ? ["flashinfer", "fa3", "triton"] : ["flashinfer", "fa3"]
            if let page = explicitInt(.pageSize), page > 1, let attn = explicit(.attentionBackend)?.stringValue,
               !allowed.contains(attn), attn != "trtllm_mha" {
                error("\(topkN) \(k) with --page-size \(page) needs --attention-backend "
                      + allowed.joined(separator: ", ") + ", not \(attn)", at: [.attentionBackend, topkN])
            }
        }

        // spec-side-effects
        if has(.maxRunningRequests), !isSet(.maxRunningRequests) {
            warning("with speculative decoding SGLang sets max_running_requests := 48 when "
                    + "--max-running-requests is not given", at: [algoN])
        }
        if isSet(.enableMixedChunk), bool(.enableMixedChunk) {
            error("--enable-mixed-chunk cannot be combined with speculative decoding", at: [.enableMixedChunk])
        }
        if !atLeast(FlagRules.v0510), ["EAGLE", "STANDALONE"].contains(algo), !bool(.disableOverlapSchedule) {
            warning("SGLang \(catalog.version) disables the overlap scheduler for \(algo) "
                    + "(unless SGLANG_ENABLE_SPEC_V2=1)", at: [algoN])
        }

        // spec-moe-runner-backend
        let specRunnerN = RuleFlag.speculativeMoERunnerBackend
        if !atLeast(FlagRules.v0510), string(specRunnerN) == "flashinfer_trtllm" {
            error("\(specRunnerN) flashinfer_trtllm is rejected by SGLang \(catalog.version)", at: [specRunnerN])
        } else if atLeast(FlagRules.v0510), !isSet(specRunnerN), let runner = explicit(.moeRunnerBackend)?.stringValue {
            let derived = runner == "flashinfer_megamoe" ? "flashinfer_trtllm"
                : (runner.hasPrefix("lora_") ? "auto" : nil)
            if let derived {
                warning("the speculative MoE runner defaults to --moe-runner-backend, but SGLang maps "
                        + "\(runner) to \(derived) for it; set \(specRunnerN) to be explicit",
                        at: [.moeRunnerBackend])
            }
        }
    }
}
