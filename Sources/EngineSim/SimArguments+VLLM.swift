public import Engines

/// `vllm serve`'s command line, against a vLLM catalog.
///
/// `vllm serve [MODEL] [options]` (the leading `vllm serve` already removed): the positional model
/// wins over `--model`, which defaults to the catalog's default. Flag checking is the same
/// argparse emulation as SGLang's (`SimArguments.collect`): vLLM's parser also accepts `--a_b` and
/// `-O3`, both from the catalog.
extension SimArguments {
    /// The program name vLLM's argparse shows.
    public static let vllmProg = "vllm serve"

    /// The model len the simulated model reports when `--max-model-len` is unset, `auto` or -1.
    public static let vllmDefaultMaxModelLen = 32_768

    /// Parses `vllm serve` argv (without `vllm serve`).
    public static func parseVLLM(_ argv: [String], catalog: FlagCatalog) -> SimArgumentOutcome {
        if argv.contains("-h") || argv.contains("--help") { return .help(helpText(catalog, prog: vllmProg)) }
        var rest = argv
        var positional: String?
        if let first = rest.first, !ArgGroup.isFlagToken(first) {
            positional = first
            rest.removeFirst()
        }
        let c = collect(rest, catalog: catalog)
        if let first = c.valueErrors.first { return .usageError(first) }
        if !c.unrecognized.isEmpty {
            return .usageError("unrecognized arguments: " + c.unrecognized.joined(separator: " "))
        }
        if let first = c.configErrors.first { return .configError(first) }
        var flagModel: String?
        if case .string(let m)? = c.flagSet["--model"] { flagModel = m }
        let model = positional ?? flagModel ?? catalog.spec(named: "--model")?.defaultValue?.string ?? "Qwen/Qwen3-0.6B"
        let args = resolveVLLM(c.flagSet, catalog: catalog, model: model)
        let host = args["host"]?.string ?? "127.0.0.1"
        guard let port = args["port"]?.int, (0...65535).contains(port) else {
            return .usageError("argument --port: invalid port (must be 0-65535)")
        }
        let served = args["served_model_name"]?.array?.first?.string ?? model
        return .launch(SimLaunch(host: host, port: port, modelPath: model, servedModelName: served,
                                 serverArgs: args, engine: .vllm), warnings: c.warnings)
    }

    /// Every flag's field: catalog defaults, the given flags, then what vLLM resolves at start-up
    /// (`model`, `served_model_name` as a list defaulting to the model, `max_model_len` from the
    /// simulated model when unset/`auto`/-1, the cache defaults `block_size` 16,
    /// `enable_prefix_caching` true, `gpu_memory_utilization` 0.92 when the catalog has none).
    static func resolveVLLM(_ flags: FlagSet, catalog: FlagCatalog, model: String) -> [String: JSONValue] {
        var args = fields(flags, catalog: catalog)
        args["model"] = .string(model)
        switch args["served_model_name"] {
        case .string(let s)?: args["served_model_name"] = .array([.string(s)])
        case .array(let a)? where !a.isEmpty: break
        default: args["served_model_name"] = .array([.string(model)])
        }
        let len = args["max_model_len"]
        if len == nil || len == .null || len == .string("auto") || len?.int == -1 {
            args["max_model_len"] = .int(vllmDefaultMaxModelLen)
        }
        let resolved: [String: JSONValue] = ["block_size": .int(16), "enable_prefix_caching": .bool(true),
                                             "gpu_memory_utilization": .number(0.92), "kv_cache_dtype": .string("auto")]
        for (field, value) in resolved where args[field] == nil || args[field] == .null { args[field] = value }
        return args
    }

    /// `usage: vllm serve [model_tag] [options]`.
    public static func vllmUsageLine(_ catalog: FlagCatalog) -> String {
        "usage: \(vllmProg) [model_tag] [options]  (vllm \(catalog.version), \(catalog.flags.count) flags)"
    }
}
