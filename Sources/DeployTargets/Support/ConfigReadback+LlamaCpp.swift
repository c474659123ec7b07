public import DeployKit
public import Engines

extension ConfigReadback {
    /// Where llama-server's `/props` reports a flag: a path of object keys.
    ///
    /// `default_generation_settings.params` holds the default sampling parameters of every slot.
    static let llamaCppProps: [String: [String]] = [
        "--parallel": ["total_slots"],
        "--alias": ["model_alias"],
        "--model": ["model_path"],
        "--temp": ["default_generation_settings", "params", "temperature"],
        "--top-k": ["default_generation_settings", "params", "top_k"],
        "--top-p": ["default_generation_settings", "params", "top_p"],
        "--min-p": ["default_generation_settings", "params", "min_p"],
        "--typical": ["default_generation_settings", "params", "typical_p"],
        "--repeat-last-n": ["default_generation_settings", "params", "repeat_last_n"],
        "--repeat-penalty": ["default_generation_settings", "params", "repeat_penalty"],
        "--presence-penalty": ["default_generation_settings", "params", "presence_penalty"],
        "--frequency-penalty": ["default_generation_settings", "params", "frequency_penalty"],
        "--mirostat": ["default_generation_settings", "params", "mirostat"],
        "--ignore-eos": ["default_generation_settings", "params", "ignore_eos"],
    ]

    /// llama.cpp: compares what `/props` exposes.
    ///
    /// - `--ctx-size` against `n_ctx` (top level in newer builds, else `default_generation_settings.n_ctx`,
    ///   the per-slot context): equal to the context size, to ceil(context / slots) or that rounded up to
    ///   a multiple of 256 (measured on the tiny engine), or a multiple of 256 below it (the model's trained
    ///   context caps it); 0 (= from the model) is not compared. `--n-predict` and `--keep` are not
    ///   visible in `/props` (they stay -1 / 0) and are not compared.
    /// - `--parallel` against `total_slots`, `--alias` against `model_alias` (newer builds),
    ///   `--model` against `model_path`, sampling flags (`--temp`, `--top-k`, ...) against
    ///   `default_generation_settings.params`. Other flags are not reported and not compared.
    public static func compareLlamaCpp(flags: FlagSet, catalog: FlagCatalog?, props: JSONValue) -> [FlagDiffEntry] {
        guard case .object = props else { return [] }
        var out: [FlagDiffEntry] = []
        var byCanonical: [String: (String, FlagValue)] = [:]
        for name in flags.names {
            guard let v = flags[name] else { continue }
            byCanonical[catalog?.canonicalSpec(for: name)?.name ?? name] = (name, v)
        }
        for (canonical, (name, intended)) in byCanonical.sorted(by: { $0.key < $1.key }) where !intended.isTemplated {
            if canonical == "--ctx-size" {
                if let entry = llamaCppContext(name, intended, flags: byCanonical, props: props) { out.append(entry) }
                continue
            }
            guard let path = llamaCppProps[canonical], let reported = lookup(props, path) else { continue }
            if case .null = reported, canonical == "--alias" { continue }
            if !matches(intended, reported) { out.append(drift(name, intended, reported)) }
        }
        return out.sorted { $0.flag < $1.flag }
    }

    static func llamaCppContext(_ name: String, _ intended: FlagValue, flags: [String: (String, FlagValue)],
                                props: JSONValue) -> FlagDiffEntry? {
        guard let ctx = intended.intValue, ctx > 0 else { return nil }
        guard let reported = lookup(props, ["n_ctx"]) ?? lookup(props, ["default_generation_settings", "n_ctx"]),
              case .number(let n) = reported else { return nil }
        var slots = flags["--parallel"]?.1.intValue ?? 1
        if case .number(let total)? = lookup(props, ["total_slots"]), total >= 1 { slots = Int64(total) }
        // llama-server splits the context over the slots and rounds each slot up to a multiple of 256,
        // capped by the model's trained context (unknown here: a smaller report is accepted as the cap).
        let perSlot = (ctx + Int64(max(slots, 1)) - 1) / Int64(max(slots, 1))
        let rounded = (perSlot + 255) / 256 * 256
        let accepted: Set<Double> = [Double(ctx), Double(perSlot), Double(rounded)]
        if accepted.contains(n) || (n < Double(rounded) && n.truncatingRemainder(dividingBy: 256) == 0 && n >= 256) {
            return nil
        }
        return drift(name, intended, reported)
    }

    /// The value at a path of object keys.
    static func lookup(_ j: JSONValue, _ path: [String]) -> JSONValue? {
        var cur = j
        for key in path {
            guard case .object(let o) = cur, let next = o[key] else { return nil }
            cur = next
        }
        return cur
    }
}
