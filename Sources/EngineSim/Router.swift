import Engines
import NIOHTTP1

/// What the handler should send for a request.
enum Reply: Sendable {
    /// A JSON body with a status.
    case json(Int, JSONValue)
    /// A status with an empty body.
    case empty(Int)
    /// A plain-text body with a status.
    case text(Int, String)
    /// A generation, streamed or not, timed by the timing model.
    case generate(Generation)
    /// PD decode: fetch the room's KV from the prefill's bootstrap server, then generate.
    case generateAfterKV(Generation, BootstrapFields)
}

/// Maps requests to replies for every endpoint except the timing of generations.
struct Router: Sendable {
    let core: SimCore

    /// Paths that answer without an API key, like SGLang's auth middleware.
    private static let open: Set<String> = ["/health", "/health_generate", "/ready", "/metrics"]

    func route(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: [UInt8], now: Int) -> Reply {
        let path = String(uri.prefix { $0 != "?" })
        let phase = core.phase
        if phase == .starting || phase == .draining {
            return .json(503, detail(phase == .starting ? "The server is starting." : "The server is shutting down."))
        }
        // A node of rank > 0 of a multi-node group runs SGLang's dummy health server only
        // (`launch_dummy_health_check_server`): /health, /health_generate and /ping answer 200.
        if core.settings.dummyHealthOnly {
            return ["/health", "/health_generate", "/ping"].contains(path) ? .empty(200) : .json(404, detail("Not Found"))
        }
        if core.launch.engine == .vllm {
            return routeVLLM(method: method, path: path, query: String(uri.drop { $0 != "?" }.dropFirst()),
                             headers: headers, body: body, now: now)
        }
        if !Router.open.contains(path), case .string(let key)? = core.serverArg("api_key"), !key.isEmpty,
           headers.first(name: "authorization") != "Bearer " + key {
            return .json(401, .object(["error": .string("Unauthorized")]))
        }
        let ready = phase == .ready
        switch (method, path) {
        case (.GET, "/health"), (.HEAD, "/health"):
            return .empty(200)
        case (.GET, "/health_generate"), (.GET, "/ready"):
            return ready ? .empty(200) : .json(503, detail("The server is not ready."))
        case (.GET, "/server_info"), (.GET, "/get_server_info"):
            return .json(200, core.serverInfo())
        case (.GET, "/get_model_info"), (.GET, "/model_info"):
            return .json(200, .object([
                "model_path": .string(core.launch.modelPath),
                "tokenizer_path": core.serverArg("tokenizer_path") ?? .string(core.launch.modelPath),
                "is_generation": .bool(true),
            ]))
        case (.GET, "/v1/models"):
            return .json(200, models(now: now))
        case (.GET, "/flush_cache"), (.POST, "/flush_cache"):
            core.flushCache()
            return .text(200, "Cache flushed.\nPlease check backend logs for more details. "
                         + "(When there are running or waiting requests, the operation will not be performed.)\n")
        case (.GET, "/metrics"):
            // SGLang serves its Prometheus metrics only with --enable-metrics.
            guard core.serverArg("enable_metrics")?.bool == true else { return .empty(200) }
            return .text(200, core.sglangMetrics())
        case (.POST, "/v1/completions"):
            return generation(.completions, body: body, ready: ready, now: now, prefix: "cmpl-")
        case (.POST, "/v1/chat/completions"):
            return generation(.chat, body: body, ready: ready, now: now, prefix: "chatcmpl-")
        case (.POST, "/generate"):
            return generation(.native, body: body, ready: ready, now: now, prefix: "")
        case (_, "/health"), (_, "/health_generate"), (_, "/ready"), (_, "/server_info"), (_, "/v1/models"),
             (_, "/v1/completions"), (_, "/v1/chat/completions"), (_, "/generate"), (_, "/flush_cache"):
            return .json(405, detail("Method Not Allowed"))
        default:
            return .json(404, detail("Not Found"))
        }
    }

    /// The model name the engine serves (after any override).
    var servedModelName: String {
        core.serverArg("served_model_name")?.string ?? core.launch.servedModelName
    }

    private func models(now: Int) -> JSONValue {
        .object(["object": .string("list"), "data": .array([.object([
            "id": .string(servedModelName),
            "object": .string("model"),
            "created": .int(now),
            "owned_by": .string("sglang"),
            "root": .string(servedModelName),
            "max_model_len": core.serverArg("context_length").flatMap { $0.isNull ? nil : $0 } ?? .int(32768),
        ])])])
    }

    func generation(_ api: Generation.API, body: [UInt8], ready: Bool, now: Int, prefix: String) -> Reply {
        guard ready else { return .json(503, openAIError("The server is not ready.", status: 503, type: "ServiceUnavailable")) }
        let incremental = core.serverArg("incremental_streaming_output")?.bool ?? false
        let g: Generation
        switch Generation.parse(api: api, body: body, model: servedModelName, id: prefix + core.nextID(),
                                created: now, incrementalNative: incremental,
                                acceptsTokenIDs: !core.settings.refuseTokenIDs) {
        case .success(let parsed): g = parsed
        case .failure(let e): return .json(400, openAIError(e.message, status: 400))
        }
        return core.disaggregation == .null ? .generate(g) : disaggregated(g, body: body)
    }

    /// A generation on a PD prefill or decode server: it must carry the router's bootstrap fields.
    /// A prefill answers with its one token and publishes the room; a decode first fetches the room.
    private func disaggregated(_ generation: Generation, body: [UInt8]) -> Reply {
        let mode = core.disaggregation
        var g = generation
        let fields: BootstrapFields
        switch BootstrapFields.parse(JSONValue.parse(body) ?? .null, body: body) {
        case .success(let f): fields = f
        case .failure(let e): return .json(400, openAIError(e.message, status: 400))
        }
        if let message = BootstrapFields.missingMessage(mode, fields, rid: g.id) {
            return .json(400, openAIError(message, status: 400))
        }
        if mode == .prefill {
            // SGLang's prefill server finishes a request after its first token (the decode server
            // generates the rest, max_new_tokens included).
            g.maxTokens = 1
            g.publishRoom = fields.room
            return .generate(g)
        }
        g.prefilled = true
        return .generateAfterKV(g, fields)
    }
}
