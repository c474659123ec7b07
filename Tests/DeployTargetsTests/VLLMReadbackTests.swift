import CurlHTTP
import DeployCore
import DeployKit
@testable import DeployTargets
import Engines
import Foundation
import Testing

/// `/metrics` as vLLM 0.34 writes it (abridged): the cache config as labels, one line per DP rank.
let sampleVLLMMetrics = #"""
# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",cache_dtype="fp8",enable_prefix_caching="True",gpu_memory_utilization="0.85",kv_cache_dtype_skip_layers="['a', 'b']",num_gpu_blocks_override="None",prefix_caching_hash_algo="sha256",engine="0"} 1.0
vllm:cache_config_info{block_size="16",cache_dtype="fp8",enable_prefix_caching="True",gpu_memory_utilization="0.85",kv_cache_dtype_skip_layers="['a', 'b']",num_gpu_blocks_override="None",prefix_caching_hash_algo="sha256",engine="1"} 1.0
vllm:lora_requests_info{max_lora="4",running_lora_adapters="",waiting_lora_adapters=""} 1.7e+09
vllm:num_requests_running{engine="0",model_name="qwen"} 0.0
"""#

let sampleVLLMModels = #"""
{"object":"list","data":[
 {"id":"qwen","object":"model","created":1,"owned_by":"vllm","root":"Qwen/Qwen3-8B","parent":null,"max_model_len":4096},
 {"id":"qwen-alias","object":"model","created":1,"owned_by":"vllm","root":"Qwen/Qwen3-8B","parent":null,"max_model_len":4096},
 {"id":"sql","object":"model","created":1,"owned_by":"vllm","root":"/loras/sql","parent":"qwen","max_model_len":4096}]}
"""#

/// A dev-mode `/server_info?config_format=json` (abridged `VllmConfig`).
let sampleVLLMServerInfo = #"""
{"vllm_config": {
  "model_config": {"model": "Qwen/Qwen3-8B", "served_model_name": "qwen", "max_model_len": 4096,
                   "dtype": "torch.bfloat16", "trust_remote_code": true, "quantization": null},
  "parallel_config": {"tensor_parallel_size": 2, "pipeline_parallel_size": 1, "data_parallel_size": 2},
  "scheduler_config": {"max_num_seqs": 128, "max_num_batched_tokens": 8192, "enable_chunked_prefill": true},
  "cache_config": {"block_size": 16, "cache_dtype": "fp8", "gpu_memory_utilization": 0.85, "enable_prefix_caching": true},
  "compilation_config": {"mode": 3, "cudagraph_capture_sizes": [1, 2, 4], "use_inductor": true}},
 "vllm_env": {"VLLM_SERVER_DEV_MODE": "1"}}
"""#

@Suite struct VLLMReadbackTests {
    let catalog: FlagCatalog
    let models: JSONValue
    let info: JSONValue
    let flags = FlagSet([
        "--model": .string("Qwen/Qwen3-8B"), "--served-model-name": .list([.string("qwen"), .string("qwen-alias")]),
        "--max-model-len": .int(4096), "--tensor-parallel-size": .int(2), "--gpu-memory-utilization": .float(0.85),
        "--kv-cache-dtype": .string("fp8"), "--enable-prefix-caching": .bool(true), "--dtype": .string("bfloat16"),
        "--compilation-config": .json(.object(["mode": .number(3)])), "--host": .string("0.0.0.0"),
        "--api-key": .list([.string("sk-secret")]), "--lora-modules": .list([.string("sql=/loras/sql")]),
        "--max-num-batched-tokens": .int(8192),
    ])

    init() throws {
        catalog = try CatalogStore.catalog(.vllm, version: "0.33.0")
        models = try #require(ConfigReadback.parseJSON(Array(sampleVLLMModels.utf8)))
        info = try #require(ConfigReadback.parseJSON(Array(sampleVLLMServerInfo.utf8)))
    }

    @Test func theMapFamilyIsTheNearestVersion() {
        #expect(ConfigReadback.vllmFlagMap(for: "0.11.0").version == "0.14.1")
        #expect(ConfigReadback.vllmFlagMap(for: "0.20.2").version == "0.14.1")
        #expect(ConfigReadback.vllmFlagMap(for: "0.33.0").version == "0.34.0")
        #expect(ConfigReadback.vllmFlagMap(for: "0.40.0").version == "0.34.0")
        let old = ConfigReadback.vllmFlagMap(for: "0.11.0"), new = ConfigReadback.vllmFlagMap(for: "0.33.0")
        #expect(old.cacheLabels["--swap-space"] == "swap_space" && new.cacheLabels["--swap-space"] == nil)
        #expect(new.serverInfoPaths["--max-model-len"] == ["vllm_config", "model_config", "max_model_len"])
        #expect(new.cacheLabels.count == 22 && old.cacheLabels.count == 16)
    }

    @Test func devModeVerifiesThroughServerInfo() {
        let r = ConfigReadback.compareVLLM(flags: flags, version: "0.33.0", catalog: catalog, serverInfo: info,
                                           models: models, metrics: nil)
        #expect(r.drift.isEmpty, "\(r.drift)")
        #expect(r.verified["--tensor-parallel-size"] == "/server_info")
        #expect(r.verified["--compilation-config"] == "/server_info")     // a subset of the resolved object
        #expect(r.verified["--dtype"] == "/server_info")                  // torch.bfloat16
        #expect(r.verified["--max-num-batched-tokens"] == "/server_info")  // "tokens" is not a secret
        #expect(r.verified["--max-model-len"] == "/v1/models")
        #expect(r.verified["--served-model-name"] == "/v1/models" && r.verified["--lora-modules"] == "/v1/models")
        #expect(r.unverified == ["--api-key", "--host"])
        #expect(r.sources == ["/server_info", "/v1/models"])
    }

    @Test func withoutDevModeMetricsAndModelsVerifyLess() {
        let r = ConfigReadback.compareVLLM(flags: flags, version: "0.33.0", catalog: catalog, serverInfo: nil,
                                           models: models, metrics: sampleVLLMMetrics)
        #expect(r.drift.isEmpty, "\(r.drift)")
        #expect(r.verified["--gpu-memory-utilization"] == "/metrics")
        #expect(r.verified["--kv-cache-dtype"] == "/metrics" && r.verified["--enable-prefix-caching"] == "/metrics")
        #expect(r.verified["--max-model-len"] == "/v1/models")
        #expect(r.unverified == ["--api-key", "--compilation-config", "--dtype", "--host", "--max-num-batched-tokens",
                                 "--tensor-parallel-size"])
        // A text-format dump (no JSON object under vllm_config) counts as no dump.
        let text = JSONValue.object(["vllm_config": .string("VllmConfig(...)")])
        #expect(ConfigReadback.compareVLLM(flags: flags, version: "0.33.0", catalog: catalog, serverInfo: text,
                                           models: models, metrics: sampleVLLMMetrics) == r)
    }

    @Test func differencesNameFlagIntendedAndReported() {
        var wrong = flags
        wrong["--max-model-len"] = .int(8192)
        wrong["--gpu-memory-utilization"] = .float(0.9)
        wrong["--served-model-name"] = .list([.string("other")])
        wrong["--max-loras"] = .int(2)
        wrong["--disable-log-stats"] = .bool(true)
        let r = ConfigReadback.compareVLLM(flags: wrong, version: "0.33.0", catalog: catalog, serverInfo: nil,
                                           models: models, metrics: sampleVLLMMetrics)
        #expect(r.drift.map(\.flag) == ["--disable-log-stats", "--gpu-memory-utilization", "--max-loras",
                                        "--max-model-len", "--served-model-name"])
        let len = r.drift.first { $0.flag == "--max-model-len" }
        #expect(len?.before == "8192" && len?.after == "4096" && len?.kind == .changed)
        #expect(r.drift.first { $0.flag == "--gpu-memory-utilization" }?.after == "0.85")
        #expect(r.message.contains("--max-model-len 4096 (intended 8192, from /v1/models)"))
        // The same through the one-document API (server_info only).
        #expect(ConfigReadback.compare(engine: .vllm, version: "0.33.0", flags: wrong, reported: info).map(\.flag)
                == ["--gpu-memory-utilization", "--max-model-len", "--served-model-name"])
    }

    @Test func autoAndUnsetValuesAreNotDrift() {
        let f = FlagSet(["--max-model-len": .string("auto"), "--kv-cache-dtype": .string("auto"),
                         "--num-gpu-blocks-override": .bool(false)])
        let r = ConfigReadback.compareVLLM(flags: f, version: "0.33.0", catalog: catalog, serverInfo: nil,
                                           models: models, metrics: sampleVLLMMetrics)
        #expect(r.drift.isEmpty)
        #expect(Set(r.verified.keys) == ["--max-model-len", "--kv-cache-dtype", "--num-gpu-blocks-override"])
    }

    @Test func prometheusLabelsAndPythonValues() {
        let m = VLLMMetrics(#"vllm:cache_config_info{a="x\"y",b="1\\2",engine="0"} 1.0"# + "\n")
        #expect(m.cacheConfig == [["a": "x\"y", "b": "1\\2", "engine": "0"]])
        #expect(m.hasEngineSeries)
        #expect(VLLMMetrics.pythonValue("True") == .bool(true) && VLLMMetrics.pythonValue("None") == .null)
        #expect(VLLMMetrics.pythonValue("0.85") == .number(0.85) && VLLMMetrics.pythonValue("fp8") == .string("fp8"))
        #expect(VLLMMetrics.pythonValue("['a', 'b']") == .array([.string("a"), .string("b")]))
        #expect(!VLLMMetrics("# HELP python_info x\npython_info{major=\"3\"} 1.0\n").hasEngineSeries)
    }

    @Test func endpointsAndHeaders() throws {
        #expect(ConfigReadback.endpoints(engine: .vllm) == ["/server_info?config_format=json", "/v1/models", "/metrics"])
        var spec = try makeSpec(argv: [], engine: "vllm", version: "0.33.0")
        spec.flagSet = FlagSet(["--api-key": .list([.string("k1"), .string("k2")])])
        #expect(EngineProbe.headers(for: spec)["Authorization"] == "Bearer k1")
    }
}

/// Readback against `dsdeploy-engine-sim` as vLLM, started by the local target like an image.
@Suite(.serialized) struct VLLMSimulatorReadbackTests {
    static let image = "vllm/vllm-openai:v0.33.0"

    /// Starts the simulator as `vllm serve` with `started` flags while the manifest intends `intended`;
    /// waits (polling, like the executor) until the probe is no longer starting.
    func run(_ target: LocalDriver, replica: Int, started: [String], intended: FlagSet,
             env: [String: Secret] = [:]) throws -> (ProbeResult, LaunchSpec, Int) {
        let port = freeTestPort()
        var spec = try makeSpec(replica: replica,
                                argv: ["vllm", "serve", "--model", "Qwen/Qwen3-8B", "--host", "127.0.0.1",
                                       "--port", String(port)] + started,
                                engine: "vllm", version: "0.33.0", port: port, readinessPath: nil,
                                entrypointCount: 2, image: Self.image)
        spec.flagSet = intended
        let inst = try target.start(spec, port: port, environment: env)
        return (waitForProbe(target, inst, timeout: 30), spec, port)
    }

    func withTarget(_ body: (LocalDriver) throws -> Void) throws {
        let sim = try #require(builtExecutable("dsdeploy-engine-sim"), "build the package first: swift build --build-tests")
        let dir = makeStateDirectory()
        let target = try makeTarget(dir, imageCommands: [Self.image: [sim, "vllm", "serve"]])
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        try body(target)
    }

    let intended = FlagSet(["--model": .string("Qwen/Qwen3-8B"), "--max-model-len": .int(4096),
                            "--gpu-memory-utilization": .float(0.85), "--tensor-parallel-size": .int(2),
                            "--served-model-name": .list([.string("qwen")]), "--host": .string("127.0.0.1")])
    let startedAsIntended = ["--max-model-len", "4096", "--gpu-memory-utilization", "0.85", "-tp", "2",
                             "--served-model-name", "qwen"]

    @Test func matchingArgsAreReady() throws {
        try withTarget { target in
            let (result, _, _) = try run(target, replica: 0, started: startedAsIntended, intended: intended)
            #expect(result == .ready)
        }
    }

    @Test func anotherMaxModelLenIsDriftNamingTheFlag() throws {
        try withTarget { target in
            var started = startedAsIntended
            started[1] = "2048"
            let (result, spec, port) = try run(target, replica: 0, started: started, intended: intended)
            guard case .drifted(let drift) = result else {
                Issue.record("expected drift, got \(result)")
                return
            }
            #expect(drift.map(\.flag) == ["--max-model-len"])
            #expect(drift.first?.before == "4096" && drift.first?.after == "2048")
            let report = try #require(EngineProbe().vllmReadback(spec, port: port).report)
            #expect(report.message.contains("--max-model-len 2048 (intended 4096, from /v1/models)"))
        }
    }

    @Test func devModeVerifiesMoreThanMetricsAndModels() throws {
        try withTarget { target in
            let (plain, plainSpec, plainPort) = try run(target, replica: 0, started: startedAsIntended, intended: intended)
            let (dev, devSpec, devPort) = try run(target, replica: 1, started: startedAsIntended, intended: intended,
                                                  env: ["VLLM_SERVER_DEV_MODE": Secret("1")])
            #expect(plain == .ready && dev == .ready)
            let p = try #require(EngineProbe().vllmReadback(plainSpec, port: plainPort).report)
            let d = try #require(EngineProbe().vllmReadback(devSpec, port: devPort).report)
            #expect(p.sources == ["/v1/models", "/metrics"])
            #expect(p.verified == ["--model": "/v1/models", "--max-model-len": "/v1/models",
                                   "--served-model-name": "/v1/models", "--gpu-memory-utilization": "/metrics"])
            #expect(p.unverified == ["--host", "--tensor-parallel-size"])
            #expect(d.sources == ["/server_info", "/v1/models"])
            #expect(d.verified == ["--model": "/v1/models", "--max-model-len": "/v1/models",
                                   "--served-model-name": "/v1/models", "--gpu-memory-utilization": "/server_info",
                                   "--tensor-parallel-size": "/server_info"])
            #expect(d.unverified == ["--host"])
            #expect(d.drift.isEmpty && p.drift.isEmpty)
            // Only dev mode sees a tensor-parallel size the engine did not start with.
            var wrongTP = intended
            wrongTP["--tensor-parallel-size"] = .int(4)
            var devWrong = devSpec, plainWrong = plainSpec
            devWrong.flagSet = wrongTP
            plainWrong.flagSet = wrongTP
            #expect(EngineProbe().vllmReadback(devWrong, port: devPort).report?.drift.map(\.flag) == ["--tensor-parallel-size"])
            #expect(EngineProbe().vllmReadback(plainWrong, port: plainPort).report?.drift.isEmpty == true)
        }
    }

    @Test func anEngineWithoutReadbackEndpointsIsReadyWithEverythingUnverified() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let port = freeTestPort()
        var spec = try fakeEngineSpec(dir, port: port, engine: "vllm", version: "0.33.0")
        spec.flagSet = FlagSet(["--max-model-len": .int(4096)])
        let inst = try target.start(spec, port: port, environment: [:])
        #expect(waitForProbe(target, inst) == .ready)
        let (readback, report) = EngineProbe().vllmReadback(spec, port: port)
        #expect(readback == .verified([], unverified: ["--max-model-len"]))
        #expect(report?.sources == [])
    }
}
