/// A flag the cross-flag rules read. Each catalog resolves them to its flag indices once
/// (`FlagCatalog.ruleIndex`): the rules run for every deployment, and looking each flag up by its
/// name there cost 17M of 889M instructions validating 2,000 deployments.
enum RuleFlag: Int, CaseIterable, CustomStringConvertible {
    case tpSize, epSize, ppSize, dpSize, nnodes, attnDPSize, moeDPSize, elasticEPJoinMode
    case moeA2ABackend, moeRunnerBackend, quantization, chunkedPrefillSize, enableDPAttention, enableDPLMHead
    case pageSize, disaggregationMode, maxRunningRequests, enableMixedChunk, disableOverlapSchedule
    case speculativeAlgorithm, speculativeNumSteps, speculativeEagleTopk, speculativeNumDraftTokens
    case speculativeAdaptive, speculativeDSparkBlockSize, speculativeMoERunnerBackend
    case attentionBackend, prefillAttentionBackend, decodeAttentionBackend
    case tensorParallelSize, pipelineParallelSize, dataParallelSize

    /// The engines whose rules read the flag.
    var engine: EngineKind {
        switch self {
        case .tensorParallelSize, .pipelineParallelSize, .dataParallelSize: .vllm
        default: .sglang
        }
    }

    /// The flag's canonical name (also its text in messages).
    var name: String {
        switch self {
        case .tpSize: "--tp-size"
        case .epSize: "--ep-size"
        case .ppSize: "--pp-size"
        case .dpSize: "--dp-size"
        case .nnodes: "--nnodes"
        case .attnDPSize: "--attn-dp-size"
        case .moeDPSize: "--moe-dp-size"
        case .elasticEPJoinMode: "--elastic-ep-join-mode"
        case .moeA2ABackend: "--moe-a2a-backend"
        case .moeRunnerBackend: "--moe-runner-backend"
        case .quantization: "--quantization"
        case .chunkedPrefillSize: "--chunked-prefill-size"
        case .enableDPAttention: "--enable-dp-attention"
        case .enableDPLMHead: "--enable-dp-lm-head"
        case .pageSize: "--page-size"
        case .disaggregationMode: "--disaggregation-mode"
        case .maxRunningRequests: "--max-running-requests"
        case .enableMixedChunk: "--enable-mixed-chunk"
        case .disableOverlapSchedule: "--disable-overlap-schedule"
        case .speculativeAlgorithm: "--speculative-algorithm"
        case .speculativeNumSteps: "--speculative-num-steps"
        case .speculativeEagleTopk: "--speculative-eagle-topk"
        case .speculativeNumDraftTokens: "--speculative-num-draft-tokens"
        case .speculativeAdaptive: "--speculative-adaptive"
        case .speculativeDSparkBlockSize: "--speculative-dspark-block-size"
        case .speculativeMoERunnerBackend: "--speculative-moe-runner-backend"
        case .attentionBackend: "--attention-backend"
        case .prefillAttentionBackend: "--prefill-attention-backend"
        case .decodeAttentionBackend: "--decode-attention-backend"
        case .tensorParallelSize: "--tensor-parallel-size"
        case .pipelineParallelSize: "--pipeline-parallel-size"
        case .dataParallelSize: "--data-parallel-size"
        }
    }

    var description: String { name }
}

/// Cross-flag rules over resolved values (explicit, else the catalog default), run by the
/// checker after every group was typed. Errors are launch failures (`flag-conflict`);
/// warnings say what the engine will silently change. Rules whose flags the catalog does
/// not have, or whose values are templated, are skipped.
struct FlagRules {
    let catalog: FlagCatalog
    /// The flags the groups set, by catalog flag index (rules name flags; `catalog.ruleIndex` finds them).
    /// Flags given with an invalid value, or meant by a typo, are undecided: rules that need them are skipped.
    let flags: FlagSlots
    let fallbackOrigin: Int?
    private(set) var issues: [FlagIssue] = []

    init(catalog: FlagCatalog, flags: FlagSlots, fallbackOrigin: Int?) {
        self.catalog = catalog
        self.flags = flags
        self.fallbackOrigin = fallbackOrigin
    }

    /// Runs the rules of the catalog's engine.
    func evaluate(context: CheckContext) -> [FlagIssue] {
        var r = self
        switch catalog.engine {
        case .sglang:
            r.sglangParallelism()
            r.sglangSpeculative()
            r.sglangChunkedPrefill()
            r.placement(context, tp: .tpSize, pp: .ppSize, dp: .dpSize,
                        dpMultiplies: !r.bool(.enableDPAttention), names: ("tp_size", "pp_size", "dp_size"))
        case .vllm:
            r.placement(context, tp: .tensorParallelSize, pp: .pipelineParallelSize,
                        dp: .dataParallelSize, dpMultiplies: true,
                        names: ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"))
        case .llamaCpp, .sglangRouter:
            break
        }
        return r.issues
    }

    // MARK: - Values

    /// True when this catalog version is at least `version`.
    func atLeast(_ version: EngineVersion) -> Bool { catalog.engineVersion >= version }

    /// Versions where SGLang changed a rule.
    static let v0510 = EngineVersion("0.5.10"), v0522 = EngineVersion("0.5.22")

    /// The flag's index in the catalog, nil when the catalog lacks it.
    func index(_ f: RuleFlag) -> Int? { catalog.ruleIndex(f) }

    /// Explicit value, else the catalog default; nil when the catalog lacks the flag.
    func resolved(_ f: RuleFlag) -> FlagValue? {
        guard let i = index(f) else { return nil }
        return flags.value(i) ?? catalog.defaultValue(at: i)
    }

    /// The explicit value of a flag, nil when not set (or not in the catalog).
    func explicit(_ f: RuleFlag) -> FlagValue? {
        index(f).flatMap { flags.value($0) }
    }

    /// True when the manifest sets the flag.
    func isSet(_ f: RuleFlag) -> Bool { explicit(f) != nil }

    /// True when the catalog has the flag.
    func has(_ f: RuleFlag) -> Bool { index(f) != nil }

    /// The resolved int (nil: unknown, unset without default, templated, or beyond ±2³¹ —
    /// absurd sizes are left to the engine so the rules' arithmetic cannot overflow).
    func int(_ f: RuleFlag) -> Int64? { FlagRules.sane(resolved(f)?.intValue) }

    /// The explicit int only (same range as `int`).
    func explicitInt(_ f: RuleFlag) -> Int64? { FlagRules.sane(explicit(f)?.intValue) }

    static func sane(_ v: Int64?) -> Int64? {
        guard let v, v.magnitude <= 1 << 31 else { return nil }
        return v
    }

    /// The resolved string.
    func string(_ f: RuleFlag) -> String? { resolved(f)?.stringValue }

    /// The resolved boolean (false when unknown).
    func bool(_ f: RuleFlag) -> Bool { resolved(f)?.boolValue ?? false }

    /// True when any of the flags has a templated or invalid value (the rule cannot be decided).
    func templated(_ fs: RuleFlag...) -> Bool {
        fs.contains { f in
            guard let i = index(f) else { return false }
            return flags.value(i)?.isTemplated ?? flags.undecided(i)
        }
    }

    /// Origin of the first flag of `fs` that is set, else of the first group.
    func origin(_ fs: [RuleFlag]) -> Int? {
        for f in fs { if let i = index(f), let p = flags.position(of: i) { return flags.slots[p].origin } }
        return fallbackOrigin
    }

    // MARK: - Reporting

    mutating func error(_ message: String, at flags: [RuleFlag], notes: [String] = []) {
        guard let o = origin(flags) else { return }
        issues.append(FlagIssue(error: true, id: "flag-conflict", message: message, origin: o, notes: notes))
    }

    mutating func warning(_ message: String, at flags: [RuleFlag], notes: [String] = []) {
        guard let o = origin(flags) else { return }
        issues.append(FlagIssue(error: false, id: "flag-conflict", message: message, origin: o, notes: notes))
    }

    // MARK: - Placement

    /// tp × pp (× dp) must fit the GPUs of one replica (`gpusPerReplica × nodes`).
    mutating func placement(_ context: CheckContext, tp: RuleFlag, pp: RuleFlag, dp: RuleFlag,
                            dpMultiplies: Bool, names: (String, String, String)) {
        guard let perNode = context.gpusPerReplica, perNode > 0, !templated(tp, pp, dp) else { return }
        let t = int(tp) ?? 1, p = int(pp) ?? 1, d = dpMultiplies ? (int(dp) ?? 1) : 1
        let (world, overflow) = t.multipliedReportingOverflow(by: p)
        let (total, overflow2) = world.multipliedReportingOverflow(by: d)
        let nodes = max(1, context.nodes)
        let (available, overflow3) = Int64(perNode).multipliedReportingOverflow(by: Int64(nodes))
        guard !overflow3 else { return }
        guard overflow || overflow2 || total != available else { return }  // fits exactly: no message to build
        let formula = dpMultiplies ? "\(names.0) × \(names.1) × \(names.2) = \(t) × \(p) × \(d)"
                                   : "\(names.0) × \(names.1) = \(t) × \(p)"
        let gpus = "\(perNode) GPU\(perNode == 1 ? "" : "s")" + (nodes > 1 ? " per node × \(nodes) nodes" : "")
        let at = [tp, pp, dp].filter { isSet($0) }
        if overflow || overflow2 || total > available {
            error("\(formula) = \(overflow || overflow2 ? "too many" : String(total)) GPUs, "
                  + "but a replica has \(available) (\(gpus))", at: at,
                  notes: ["lower the parallel sizes or assign more GPUs to the replica"])
        } else if total < available {
            warning("\(formula) uses \(total) of the \(available) GPUs assigned to a replica (\(gpus)); "
                    + "the other \(available - total) stay idle", at: at)
        }
    }
}
