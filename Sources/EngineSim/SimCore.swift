public import Engines
import Synchronization

/// Where the simulated engine is in its life.
public enum SimPhase: String, Hashable, Sendable {
    /// Before the start delay has passed: every endpoint answers 503.
    case starting
    /// The HTTP server is up (`/health` 200) but the engine is not ready (`DSDEPLOY_SIM_NEVER_READY`).
    case started
    /// Serving: every endpoint answers.
    case ready
    /// SIGTERM received: in-flight requests finish, new ones get 503.
    case draining
}

/// What the command line resolved to: where to listen and the /server_info fields.
public struct SimLaunch: Hashable, Sendable {
    /// Address to listen on (loopback in tests).
    public var host: String
    /// Port to listen on (0 picks a free one).
    public var port: Int
    /// `--model-path`.
    public var modelPath: String
    /// `--served-model-name`, or the model path.
    public var servedModelName: String
    /// Every ServerArgs field, resolved (catalog defaults overlaid with the given flags and overrides);
    /// vLLM: every EngineArgs/FrontendArgs field by its flag's field name (`max_model_len`).
    public var serverArgs: [String: JSONValue]
    /// The personality: `.sglang` (default) or `.vllm` (`vllm serve`'s endpoints).
    public var engine: EngineKind

    /// Creates a launch description.
    public init(host: String, port: Int, modelPath: String, servedModelName: String,
                serverArgs: [String: JSONValue], engine: EngineKind = .sglang) {
        self.host = host
        self.port = port
        self.modelPath = modelPath
        self.servedModelName = servedModelName
        self.serverArgs = serverArgs
        self.engine = engine
    }

    /// A minimal launch for in-process tests: no catalog, just the basic fields.
    public static func basic(modelPath: String = "sim/model", host: String = "127.0.0.1",
                             port: Int = 0) -> SimLaunch {
        SimLaunch(host: host, port: port, modelPath: modelPath, servedModelName: modelPath, serverArgs: [
            "model_path": .string(modelPath), "served_model_name": .string(modelPath),
            "host": .string(host), "port": .int(port), "tp_size": .int(1),
        ])
    }
}

/// State shared by every connection of one simulator (thread-safe).
final class SimCore: Sendable {
    let launch: SimLaunch
    let settings: SimSettings
    let log: SimLog
    private let state = Mutex(State())

    private struct State {
        var phase: SimPhase = .starting
        var nextID = 1
        var activeGenerations = 0
        var finishedGenerations = 0
        var emittedTokens = 0
        var promptTokens = 0
        var decodeSteps = 0
        var flushes = 0
        var worstLatenessNs: Int64 = 0
        var kvFetches = 0
    }

    /// Server args as the engine runs with them: the launch's, then `DSDEPLOY_SIM_ARG_OVERRIDE`.
    let effectiveArgs: [String: JSONValue]

    init(launch: SimLaunch, settings: SimSettings, log: SimLog) {
        self.launch = launch
        self.settings = settings
        self.log = log
        effectiveArgs = launch.serverArgs.merging(settings.argOverride) { _, override in override }
        disaggregation = launch.engine == .sglang ? DisaggregationMode(serverArg: launch.serverArgs["disaggregation_mode"]) : .null
        bootstrapStore = disaggregation == .prefill ? BootstrapStore() : nil
    }

    /// `--disaggregation-mode` (the launch's, not an override: overrides change only what is reported).
    let disaggregation: DisaggregationMode

    /// A prefill server's published rooms (nil unless `--disaggregation-mode prefill`).
    let bootstrapStore: BootstrapStore?

    /// `--disaggregation-bootstrap-port` (SGLang's default 8998).
    var bootstrapPort: Int { launch.serverArgs["disaggregation_bootstrap_port"]?.int ?? 8998 }

    /// A prefill finished: its room's KV is ready for the decode server.
    func publishPrefill(room: UInt64, promptTokens: Int) {
        bootstrapStore?.publish(room, info: .object([
            "bootstrap_room": .string(String(room)),
            "prompt_tokens": .int(promptTokens),
            "output_tokens": .int(1),
            "prefill": .string(launch.host + ":" + String(launch.port)),
        ]))
    }

    /// Decode requests waiting for their KV.
    var kvFetches: Int { state.withLock { $0.kvFetches } }
    func kvFetchStarted() { state.withLock { $0.kvFetches += 1 } }
    func kvFetchFinished() { state.withLock { $0.kvFetches -= 1 } }

    var phase: SimPhase { state.withLock { $0.phase } }

    func setPhase(_ p: SimPhase) { state.withLock { $0.phase = p } }

    /// A fresh request id (hex, unique per process).
    func nextID() -> String {
        let n = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        return String(n, radix: 16)
    }

    var activeGenerations: Int { state.withLock { $0.activeGenerations } }

    func generationStarted() { state.withLock { $0.activeGenerations += 1 } }

    func generationFinished(tokens: Int, steps: Int, promptTokens: Int = 0) {
        state.withLock {
            $0.promptTokens += promptTokens
            $0.activeGenerations -= 1
            $0.finishedGenerations += 1
            $0.emittedTokens += tokens
            $0.decodeSteps += steps
        }
    }

    /// Records how late a chunk timer fired (for diagnostics).
    func timerFired(latenessNs: Int64) {
        state.withLock { $0.worstLatenessNs = max($0.worstLatenessNs, latenessNs) }
    }

    /// The latest any chunk timer has fired so far, in milliseconds.
    var worstTimerLatenessMs: Double { state.withLock { Double($0.worstLatenessNs) / 1e6 } }

    /// Finished generations and the tokens they emitted (for `/metrics`).
    var totals: (finished: Int, tokens: Int) {
        state.withLock { ($0.finishedGenerations, $0.emittedTokens) }
    }

    func flushCache() { state.withLock { $0.flushes += 1 } }

    /// SGLang's `/metrics` (with `--enable-metrics`): the request and token counters and the running
    /// requests gauge, labelled with the model name like SGLang's.
    func sglangMetrics() -> String {
        let s = state.withLock { $0 }
        let label = "{model_name=\"\(launch.servedModelName)\"}"
        return """
        # HELP sglang:num_requests_total Number of requests processed.
        # TYPE sglang:num_requests_total counter
        sglang:num_requests_total\(label) \(s.finishedGenerations).0
        # HELP sglang:prompt_tokens_total Number of prefill tokens processed.
        # TYPE sglang:prompt_tokens_total counter
        sglang:prompt_tokens_total\(label) \(s.promptTokens).0
        # HELP sglang:generation_tokens_total Number of generation tokens processed.
        # TYPE sglang:generation_tokens_total counter
        sglang:generation_tokens_total\(label) \(s.emittedTokens).0
        # HELP sglang:num_running_reqs The number of running requests.
        # TYPE sglang:num_running_reqs gauge
        sglang:num_running_reqs\(label) \(s.activeGenerations).0

        """
    }

    /// The value of a server arg as the engine reports it (after overrides).
    func serverArg(_ field: String) -> JSONValue? { effectiveArgs[field] }

    /// `/server_info`: every ServerArgs field, `version`, and `internal_states` like SGLang.
    func serverInfo() -> JSONValue {
        var info = effectiveArgs
        let s = state.withLock { $0 }
        let accept = settings.timing.acceptLength
        info["version"] = .string(settings.version)
        info["internal_states"] = .array([.object([
            "avg_spec_accept_length": .number(accept),
            "last_gen_throughput": .number(settings.timing.decodeStepMs > 0
                ? (1000 / settings.timing.decodeStepMs * accept).rounded() : 0),
            "num_running_reqs": .int(s.activeGenerations),
            "num_finished_reqs": .int(s.finishedGenerations),
            "num_flushes": .int(s.flushes),
            // Simulator only: the latest a chunk timer has fired so far (benchmarks use it to tell
            // the simulator's own delays from the client's).
            "sim_worst_timer_lateness_ms": .number(Double(s.worstLatenessNs) / 1e6),
            "memory_usage": .object(["weight": .number(17.9), "kvcache": .number(12.0),
                                     "token_capacity": .int(500_000)]),
        ])])
        for (k, v) in settings.argOverride { info[k] = v }  // overrides may also replace version/internal_states
        return .object(info)
    }
}
