import Engines

/// What the simulator answers as `vllm serve` (shared/reference/vllm/readback.md): `/v1/models` with
/// `max_model_len`, `/metrics` with `vllm:cache_config_info`, `/version`, and with
/// `VLLM_SERVER_DEV_MODE=1` the `VllmConfig` dump at `/server_info`.
///
/// Values come from the launch's resolved fields after `DSDEPLOY_SIM_ARG_OVERRIDE` (keys are field
/// names, e.g. `{"max_model_len": 2048}`), so an override makes the engine report other args than
/// it was started with. Where a field goes inside `VllmConfig` is the readback flag map of the
/// version family nearest to the simulated version (0.14.1 or 0.34.0; `VLLMReadbackMap` in Engines).
enum VLLMPersonality {
    /// One family's layout: flag field → keys below `vllm_config`, and the cache-config labels.
    struct Layout: Sendable {
        var version: String
        /// Field (`max_model_len`) → path inside `vllm_config` (`["model_config", "max_model_len"]`).
        var paths: [(field: String, path: [String])]
        /// Every `vllm:cache_config_info` label of the family (CacheConfig attributes).
        var cacheLabels: [String]
    }

    /// `CacheConfig.__dict__` keys per family (readback.md), label order as the engine logs them.
    static let cacheLabels: [String: [String]] = [
        "0.14.1": ["block_size", "cache_dtype", "calculate_kv_scales", "cpu_kvcache_space_bytes", "cpu_offload_gb",
                   "enable_prefix_caching", "gpu_memory_utilization", "is_attention_free", "kv_cache_memory_bytes",
                   "kv_offloading_backend", "kv_offloading_size", "kv_sharing_fast_prefill", "mamba_block_size",
                   "mamba_cache_dtype", "mamba_page_size_padded", "mamba_ssm_cache_dtype", "num_cpu_blocks",
                   "num_gpu_blocks", "num_gpu_blocks_override", "prefix_caching_hash_algo", "sliding_window",
                   "swap_space"],
        "0.34.0": ["_block_size_resolved", "_extensible_kv_cache_resolved", "block_size", "cache_dtype",
                   "cache_hit_alignment_tokens", "effective_attention_block_size", "enable_extensible_kv_cache",
                   "enable_mamba_shared_prefix_checkpoint", "enable_prefix_caching", "gpu_memory_utilization",
                   "hash_block_size", "is_attention_free", "kv_cache_dtype_skip_layers", "kv_cache_layout",
                   "kv_cache_max_concurrency", "kv_cache_memory_bytes", "kv_cache_size_tokens",
                   "kv_offloading_backend", "kv_offloading_size", "kv_sharing_fast_prefill", "mamba_block_size",
                   "mamba_cache_dtype", "mamba_cache_mode", "mamba_page_size_padded", "mamba_ssm_cache_dtype",
                   "num_cpu_blocks", "num_gpu_blocks", "num_gpu_blocks_override", "prefix_cache_retention_interval",
                   "prefix_caching_hash_algo", "prefix_match_unit", "replayssm_buffer_len",
                   "simple_cpu_offload_num_blocks", "skip_page_size_padded", "sliding_window", "swa_bounded_replay",
                   "use_kda_recoverssm", "use_replayssm", "user_specified_block_size"],
    ]

    /// Labels Python prints as floats.
    static let floatLabels: Set<String> = ["gpu_memory_utilization", "kv_offloading_size", "swap_space",
                                           "cpu_offload_gb", "kv_cache_max_concurrency"]

    /// Values the engine computes during start-up (memory profiling) or keeps internally.
    static let computedLabels: [String: JSONValue] = [
        "num_gpu_blocks": .int(31_250), "num_cpu_blocks": .null, "kv_cache_size_tokens": .int(500_000),
        "kv_cache_max_concurrency": .number(15.26), "is_attention_free": .bool(false), "calculate_kv_scales": .bool(false),
        "_block_size_resolved": .bool(true), "_extensible_kv_cache_resolved": .bool(true),
    ]

    static let layouts: [Layout] = VLLMReadbackMap.all.map { map in
        let paths = map.flags.compactMap { flag -> (String, [String])? in
            guard let keys = map.serverInfoPaths[flag], keys.first == "vllm_config", keys.count > 1 else { return nil }
            return (FlagSpec.defaultField(for: flag), Array(keys.dropFirst()))
        }
        return Layout(version: map.version, paths: paths, cacheLabels: cacheLabels[map.version] ?? [])
    }

    /// The layout of the family nearest to `version` (`VLLMReadbackMap.nearest`).
    static func layout(for version: String) -> Layout {
        let family = VLLMReadbackMap.nearest(to: version).version
        return layouts.first { $0.version == family } ?? layouts[0]
    }

    /// The served model names (first is the one metrics and completions use).
    static func servedNames(_ core: SimCore) -> [String] {
        let names = (core.serverArg("served_model_name")?.array ?? []).compactMap(\.string)
        if !names.isEmpty { return names }
        return [core.serverArg("served_model_name")?.string ?? core.launch.servedModelName]
    }

    /// `GET /v1/models`: one card per served name, `root` = the model, plus LoRA adapter cards.
    static func models(_ core: SimCore, now: Int) -> JSONValue {
        let root = core.serverArg("model")?.string ?? core.launch.modelPath
        let maxLen = core.serverArg("max_model_len").flatMap { $0.isNull ? nil : $0 } ?? .int(SimArguments.vllmDefaultMaxModelLen)
        func card(_ id: String, root: String, parent: String?) -> JSONValue {
            .object(["id": .string(id), "object": .string("model"), "created": .int(now), "owned_by": .string("vllm"),
                     "root": .string(root), "parent": parent.map { .string($0) } ?? .null, "max_model_len": maxLen,
                     "permission": .array([.object([
                        "id": .string("modelperm-sim"), "object": .string("model_permission"), "created": .int(now),
                        "allow_create_engine": .bool(false), "allow_sampling": .bool(true), "allow_logprobs": .bool(true),
                        "allow_search_indices": .bool(false), "allow_view": .bool(true), "allow_fine_tuning": .bool(false),
                        "organization": .string("*"), "group": .null, "is_blocking": .bool(false)])])])
        }
        let names = servedNames(core)
        var cards = names.map { card($0, root: root, parent: nil) }
        for item in core.serverArg("lora_modules")?.array ?? [] {
            if let s = item.string, let eq = s.firstIndex(of: "=") {
                cards.append(card(String(s[..<eq]), root: String(s[s.index(after: eq)...]), parent: names[0]))
            } else if let s = item.string, let j = JSONValue.parse(Array(s.utf8)), let name = j["name"]?.string {
                cards.append(card(name, root: j["path"]?.string ?? name, parent: names[0]))
            }
        }
        return .object(["object": .string("list"), "data": .array(cards)])
    }

    /// `GET /metrics`: Prometheus text. `vllm:cache_config_info` (labels = the family's CacheConfig
    /// attributes, plus `engine`) once per data-parallel rank, `vllm:lora_requests_info` with
    /// `--enable-lora`, a few request series; no `vllm:` series at all with `--disable-log-stats`.
    static func metrics(_ core: SimCore) -> String {
        var out = ["# HELP python_info Python platform information", "# TYPE python_info gauge",
                   #"python_info{implementation="CPython",major="3",minor="12",patchlevel="3",version="3.12.3"} 1.0"#]
        if core.serverArg("disable_log_stats")?.bool == true { return out.joined(separator: "\n") + "\n" }
        let layout = layout(for: core.settings.version)
        let ranks = max(1, core.serverArg("data_parallel_size")?.int ?? 1)
        let model = servedNames(core)[0]
        var cache: [(String, String)] = []
        for label in layout.cacheLabels {
            cache.append((label, python(cacheValue(core, label: label, layout: layout), float: floatLabels.contains(label))))
        }
        out += ["# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig",
                "# TYPE vllm:cache_config_info gauge"]
        for rank in 0..<ranks {
            out.append("vllm:cache_config_info" + labelText(cache + [("engine", String(rank))]) + " 1.0")
        }
        if core.serverArg("enable_lora")?.bool == true {
            out += ["# HELP vllm:lora_requests_info Running stats on lora requests.", "# TYPE vllm:lora_requests_info gauge"]
            let maxLora = python(core.serverArg("max_loras") ?? .int(1), float: false)
            out.append("vllm:lora_requests_info" + labelText([("max_lora", maxLora), ("running_lora_adapters", ""),
                                                              ("waiting_lora_adapters", "")]) + " 1.7e+09")
        }
        let totals = core.totals
        let series: [(String, String, String, Double)] = [
            ("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.",
             Double(core.activeGenerations)),
            ("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", 0),
            ("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", Double(totals.tokens)),
            ("vllm:request_success_total", "counter", "Count of successfully processed requests.", Double(totals.finished)),
        ]
        for (name, type, help, value) in series {
            out += ["# HELP \(name) \(help)", "# TYPE \(name) \(type)"]
            for rank in 0..<ranks {
                out.append(name + labelText([("engine", String(rank)), ("model_name", model)]) + " \(value)")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// A cache-config attribute: the flag that feeds it (the map's `cache_config.X` path), else what
    /// the engine computes, else None.
    static func cacheValue(_ core: SimCore, label: String, layout: Layout) -> JSONValue {
        if let entry = layout.paths.first(where: { $0.path == ["cache_config", label] }),
           let v = core.serverArg(entry.field) { return v }
        return computedLabels[label] ?? .null
    }

    /// `GET /server_info?config_format=json|text` (dev mode only): `vllm_config` (the `VllmConfig`
    /// as JSON, or its `str()` in text format), `vllm_env`, `system_env`.
    static func serverInfo(_ core: SimCore, format: String) -> JSONValue {
        let layout = layout(for: core.settings.version)
        var config: JSONValue = .object([:])
        for (field, path) in layout.paths {
            guard var value = core.serverArg(field) else { continue }
            if field == "served_model_name" { value = .string(servedNames(core)[0]) }  // ModelConfig keeps one
            config = setting(config, path[...], to: value)
        }
        let env: JSONValue = .object(["VLLM_SERVER_DEV_MODE": .string("1"), "VLLM_LOGGING_LEVEL": .string("INFO")])
        let system: JSONValue = .object(["torch_version": .string("2.9.0+cu128"), "cuda_runtime_version": .string("12.8"),
                                         "gpu_models": .string("simulated (dsdeploy-engine-sim)")])
        let shown: JSONValue = format == "json" ? config : .string("VllmConfig(" + config.canonicalText + ")")
        return .object(["vllm_config": shown, "vllm_env": env, "system_env": system])
    }

    static func setting(_ object: JSONValue, _ path: ArraySlice<String>, to value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var o = object.object ?? [:]
        o[key] = setting(o[key] ?? .object([:]), path.dropFirst(), to: value)
        return .object(o)
    }

    /// Python's `str()` of a value: `True`/`False`, `None`, ints, floats with a decimal point,
    /// lists as `['a', 'b']`, strings bare.
    static func python(_ v: JSONValue, float: Bool) -> String {
        switch v {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .number(let d):
            if !float, d.rounded() == d, abs(d) < 9e15 { return String(Int(d)) }
            return "\(d)"
        case .string(let s): return s
        case .array(let a): return "[" + a.map { $0.string.map { "'\($0)'" } ?? python($0, float: false) }.joined(separator: ", ") + "]"
        case .object: return v.canonicalText
        }
    }

    /// `{a="x",b="y"}` with Prometheus escaping.
    static func labelText(_ labels: [(String, String)]) -> String {
        "{" + labels.map { k, v in
            let escaped = v.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
            return "\(k)=\"\(escaped)\""
        }.joined(separator: ",") + "}"
    }
}
