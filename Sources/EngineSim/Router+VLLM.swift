import Engines
import NIOHTTP1

extension Router {
    /// Paths `vllm serve` answers (readback.md): always `/health`, `/ping`, `/version`, `/load`,
    /// `/metrics`, `/v1/models`, `/v1/completions`, `/v1/chat/completions`; with
    /// `VLLM_SERVER_DEV_MODE=1` also `/server_info` and `/is_sleeping`. Only `/v1/*` needs the API
    /// key (vLLM's auth middleware); SGLang-only paths are 404.
    func routeVLLM(method: HTTPMethod, path: String, query: String, headers: HTTPHeaders, body: [UInt8],
                   now: Int) -> Reply {
        if path.hasPrefix("/v1"), !authorizedVLLM(headers) {
            return .json(401, .object(["error": .string("Unauthorized")]))
        }
        let ready = core.phase == .ready
        let dev = core.settings.vllmDevMode
        switch (method, path) {
        case (.GET, "/health"), (.HEAD, "/health"), (.GET, "/ping"), (.POST, "/ping"):
            return ready ? .empty(200) : .json(503, detail("The server is not ready."))
        case (.GET, "/version"):
            return .json(200, .object(["version": .string(core.settings.version)]))
        case (.GET, "/load"):
            return .json(200, .object(["server_load": .int(core.serverArg("enable_server_load_tracking")?.bool == true
                ? core.activeGenerations : 0)]))
        case (.GET, "/metrics"):
            return .text(200, VLLMPersonality.metrics(core))
        case (.GET, "/v1/models"):
            return .json(200, VLLMPersonality.models(core, now: now))
        case (.GET, "/server_info") where dev:
            let format = Router.queryValue(query, "config_format") ?? "text"
            guard format == "json" || format == "text" else {
                return .json(422, detail("config_format must be 'text' or 'json'"))
            }
            return .json(200, VLLMPersonality.serverInfo(core, format: format))
        case (.GET, "/is_sleeping") where dev:
            return .json(200, .object(["is_sleeping": .bool(false)]))
        case (.POST, "/v1/completions"):
            return generation(.completions, body: body, ready: ready, now: now, prefix: "cmpl-")
        case (.POST, "/v1/chat/completions"):
            return generation(.chat, body: body, ready: ready, now: now, prefix: "chatcmpl-")
        case (_, "/health"), (_, "/version"), (_, "/metrics"), (_, "/v1/models"), (_, "/v1/completions"),
             (_, "/v1/chat/completions"), (_, "/load"):
            return .json(405, detail("Method Not Allowed"))
        case (_, "/server_info") where dev, (_, "/is_sleeping") where dev:
            return .json(405, detail("Method Not Allowed"))
        default:
            return .json(404, detail("Not Found"))
        }
    }

    /// True without `--api-key`, or when `Authorization: Bearer K` names one of its keys.
    private func authorizedVLLM(_ headers: HTTPHeaders) -> Bool {
        var keys: [String] = []
        switch core.serverArg("api_key") {
        case .string(let k)?: keys = [k]
        case .array(let a)?: keys = a.compactMap(\.string)
        default: break
        }
        keys = keys.filter { !$0.isEmpty }
        guard !keys.isEmpty else { return true }
        return keys.contains { headers.first(name: "authorization") == "Bearer " + $0 }
    }

    /// The value of `name` in a query string (no percent-decoding: the simulator's values are plain).
    static func queryValue(_ query: String, _ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first.map(String.init) == name { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }
}
