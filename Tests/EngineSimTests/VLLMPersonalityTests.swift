import CurlHTTP
import Engines
import Testing
@testable import EngineSim

/// The simulator as `vllm serve`: argv, `/v1/models`, `/metrics`, dev-mode `/server_info`, auth.
@Suite struct VLLMPersonalityTests {
    let client = HTTPClient()

    static func catalog(_ version: String = "0.33.0") throws -> FlagCatalog {
        try CatalogStore.catalog(.vllm, version: version)
    }

    /// A vLLM launch on a free loopback port (argv after `vllm serve`).
    static func launch(_ argv: [String], version: String = "0.33.0") throws -> SimLaunch {
        guard case .launch(let l, _) = SimArguments.parseVLLM(argv + ["--host", "127.0.0.1", "--port", "0"],
                                                               catalog: try catalog(version)) else {
            throw SimSetupError("argv did not parse: \(argv)")
        }
        return l
    }

    static func start(_ argv: [String], dev: Bool = false, version: String = "0.33.0",
                      override: [String: JSONValue] = [:]) async throws -> SimServer {
        var settings = SimSettings(version: version, argOverride: override)
        settings.engine = .vllm
        settings.vllmDevMode = dev
        return try await SimServer.start(launch: try launch(argv, version: version), settings: settings,
                                         log: .silent, threads: 2)
    }

    @Test func personalityFollowsArgvEnvironmentAndVersion() throws {
        let plain = try SimSettings.fromEnvironment([:])
        let serve = plain.personality(for: ["vllm", "serve", "m", "--port", "1"])
        #expect(serve.engine == .vllm && serve.argv == ["m", "--port", "1"])
        #expect(serve.settings.version == SimSettings.defaultVLLMVersion)
        #expect(plain.personality(for: ["serve", "m"]).engine == .vllm)
        let sglang = plain.personality(for: ["--model-path", "m"])
        #expect(sglang.engine == .sglang && sglang.argv == ["--model-path", "m"])
        #expect(sglang.settings.version == SimSettings.defaultVersion)
        let forced = try SimSettings.fromEnvironment(["DSDEPLOY_SIM_ENGINE": "vllm"]).personality(for: ["--model", "m"])
        #expect(forced.engine == .vllm && forced.argv == ["--model", "m"])
        let byVersion = try SimSettings.fromEnvironment(["DSDEPLOY_ENGINE_VERSION": "0.11.0"]).personality(for: ["--model", "m"])
        #expect(byVersion.engine == .vllm && byVersion.settings.version == "0.11.0")
        #expect(throws: SimSetupError.self) { try SimSettings.fromEnvironment(["DSDEPLOY_SIM_ENGINE": "tgi"]) }
        #expect(try SimSettings.fromEnvironment(["VLLM_SERVER_DEV_MODE": "1"]).vllmDevMode)
        #expect(try !SimSettings.fromEnvironment(["VLLM_SERVER_DEV_MODE": "0"]).vllmDevMode)
    }

    @Test func argvLikeVLLMServe() throws {
        let catalog = try Self.catalog()
        let positional = try Self.launch(["org/m", "--max-model-len", "8k", "--served-model-name", "a", "b", "-tp", "2"])
        #expect(positional.engine == .vllm && positional.modelPath == "org/m" && positional.servedModelName == "a")
        #expect(positional.serverArgs["max_model_len"] == .number(8000))  // vLLM: lowercase k is ×1000
        #expect(positional.serverArgs["served_model_name"] == .array([.string("a"), .string("b")]))
        #expect(positional.serverArgs["tensor_parallel_size"] == .number(2))
        let flag = try Self.launch(["--model", "org/x", "--max_model_len", "auto"])
        #expect(flag.modelPath == "org/x" && flag.servedModelName == "org/x")
        #expect(flag.serverArgs["max_model_len"] == .number(Double(SimArguments.vllmDefaultMaxModelLen)))
        guard case .usageError(let message) = SimArguments.parseVLLM(["m", "--model-path", "x"], catalog: catalog) else {
            Issue.record("an SGLang flag must be rejected")
            return
        }
        #expect(message.contains("unrecognized arguments: --model-path x"))
        guard case .help(let help) = SimArguments.parseVLLM(["--help"], catalog: catalog) else {
            Issue.record("--help must print help")
            return
        }
        #expect(help.hasPrefix("usage: vllm serve [model_tag]"))
    }

    @Test func endpointsWithoutDevMode() async throws {
        let server = try await Self.start(["org/m", "--max-model-len", "4096", "--gpu-memory-utilization", "0.85",
                                           "--served-model-name", "m1", "m2", "-dp", "2", "--api-key", "k"])
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/health", 200))
        let auth: HTTPHeaders = [("Authorization", "Bearer k")]
        #expect(try client.get(base + "/v1/models").status == 401)       // /v1 needs the key
        let models = try #require(SimTest.json(try client.get(base + "/v1/models", headers: auth)))
        let cards = models["data"]?.array ?? []
        #expect(cards.compactMap { $0["id"]?.string } == ["m1", "m2"])
        #expect(cards.first?["max_model_len"] == .number(4096))
        #expect(cards.first?["root"] == .string("org/m") && cards.first?["owned_by"] == .string("vllm"))
        #expect(cards.first?["parent"] == .null)

        let metrics = try client.get(base + "/metrics")                    // no key needed
        #expect(metrics.status == 200)
        let info = metrics.text.split(separator: "\n").filter { $0.hasPrefix("vllm:cache_config_info{") }
        #expect(info.count == 2)                                             // one per DP rank
        #expect(info.first?.contains(#"gpu_memory_utilization="0.85""#) == true)
        #expect(info.first?.contains(#"enable_prefix_caching="True""#) == true)
        #expect(info.first?.contains(#"block_size="16""#) == true)
        #expect(info.last?.hasSuffix(#"engine="1"} 1.0"#) == true)
        #expect(metrics.text.contains(#"vllm:num_requests_running{engine="0",model_name="m1"}"#))

        #expect(try client.get(base + "/server_info?config_format=json").status == 404)  // dev mode only
        #expect(try client.get(base + "/is_sleeping").status == 404)
        for sglangOnly in ["/ready", "/health_generate", "/get_server_info", "/get_model_info"] {
            #expect(try client.get(base + sglangOnly).status == 404, "\(sglangOnly)")
        }
        #expect(SimTest.json(try client.get(base + "/version"))?["version"] == .string("0.33.0"))
        let completion = try client.postJSON(base + "/v1/completions", json: #"{"prompt":"x","max_tokens":2}"#,
                                             headers: auth)
        #expect(SimTest.json(completion)?["choices"]?.array?.first?["text"] == .string("the quick"))
        #expect(SimTest.json(completion)?["model"] == .string("m1"))
        await server.shutdown()
    }

    @Test func devModeServesTheConfigDump() async throws {
        let server = try await Self.start(["org/m", "--max-model-len", "4096", "-tp", "2", "--kv-cache-dtype", "fp8"],
                                          dev: true, override: ["max_num_seqs": .number(64)])
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/health", 200))
        let dump = try #require(SimTest.json(try client.get(base + "/server_info?config_format=json")))
        let config = try #require(dump["vllm_config"])
        #expect(config["model_config"]?["max_model_len"] == .number(4096))
        #expect(config["model_config"]?["model"] == .string("org/m"))
        #expect(config["model_config"]?["served_model_name"] == .string("org/m"))
        #expect(config["parallel_config"]?["tensor_parallel_size"] == .number(2))
        #expect(config["cache_config"]?["cache_dtype"] == .string("fp8"))
        #expect(config["scheduler_config"]?["max_num_seqs"] == .number(64))   // ARG_OVERRIDE
        #expect(dump["vllm_env"]?["VLLM_SERVER_DEV_MODE"] == .string("1"))
        let text = try #require(SimTest.json(try client.get(base + "/server_info")))
        #expect(text["vllm_config"]?.string?.hasPrefix("VllmConfig(") == true)  // text is the default format
        #expect(SimTest.json(try client.get(base + "/is_sleeping"))?["is_sleeping"] == .bool(false))
        await server.shutdown()
    }

    @Test func olderFamilyAndStatsOff() async throws {
        let server = try await Self.start(["org/m", "--swap-space", "8", "--disable-log-stats"], version: "0.11.0")
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/health", 200))
        let metrics = try client.get(base + "/metrics").text
        #expect(!metrics.contains("vllm:"))     // --disable-log-stats: no engine series
        await server.shutdown()
        let older = try await Self.start(["org/m", "--swap-space", "8"], version: "0.11.0")
        #expect(await SimTest.waitForStatus(older.baseURL + "/health", 200))
        let labels = try client.get(older.baseURL + "/metrics").text
        #expect(labels.contains(#"swap_space="8.0""#))     // a 0.14-family label, Python float
        #expect(!labels.contains("kv_cache_size_tokens"))   // only 0.34 has it
        await older.shutdown()
    }

    @Test func streamingCompletionsAsBefore() async throws {
        let server = try await Self.start(["org/m"])
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/health", 200))
        let multi = try CurlMulti()
        let comp = await captureStream(multi, .json(url: base + "/v1/completions", json:
            #"{"prompt":"x","max_tokens":3,"stream":true}"#))
        #expect(comp.status == 200 && comp.events.last?.event.isDone == true)
        let texts = comp.contentEvents.compactMap { SimTest.parse($0.event.data)?["choices"]?.array?.first?["text"]?.string }
        #expect(texts == ["the", " quick", " brown"])
        multi.shutdown()
        await server.shutdown()
    }
}
