import CurlHTTP
import DeployKit
import Engines

/// Readiness checks and config readback over HTTP, with short timeouts (one check never blocks long).
struct EngineProbe: Sendable {
    /// What a config readback found.
    enum Readback: Sendable, Hashable {
        /// Compared: these flags differ (empty when none, or when the engine has no readback).
        case verified([FlagDiffEntry])
        /// Not answered yet (connection problem); try again.
        case pending(String)
        /// The engine answered with an error.
        case failed(String)
    }

    let client = HTTPClient()
    /// Seconds for one request.
    var timeout: Double = 1.5

    /// The HTTP path that answers 200 when the engine is ready: the spec's override, else per engine
    /// (SGLang `/ready` from 0.5.20, `/health_generate` before; vLLM and llama.cpp `/health`).
    static func readinessPath(for spec: LaunchSpec) -> String {
        if let p = spec.readinessPath, !p.isEmpty { return p.hasPrefix("/") ? p : "/" + p }
        switch EngineKind(rawValue: spec.engine) {
        case .sglang:
            return EngineVersion(spec.engineVersion) >= EngineVersion("0.5.20") ? "/ready" : "/health_generate"
        case .vllm, .llamaCpp, nil:
            return "/health"
        }
    }

    /// `http://HOST:PORT` for the spec's bind address (wildcards probe loopback).
    static func baseURL(host: String, port: Int) -> String {
        switch host {
        case "", "0.0.0.0": return "http://127.0.0.1:\(port)"
        case "::", "[::]": return "http://[::1]:\(port)"
        default:
            return host.contains(":") && !host.hasPrefix("[") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
        }
    }

    /// Headers for requests to the engine (the spec's `--api-key`, when it has one).
    static func headers(for spec: LaunchSpec) -> HTTPHeaders {
        var h: HTTPHeaders = []
        if case .string(let key)? = spec.flagSet["--api-key"], !key.isEmpty { h.set("Authorization", "Bearer " + key) }
        return h
    }

    /// True when `GET path` answers 200; otherwise a short reason.
    func httpReady(_ spec: LaunchSpec, port: Int) -> (ready: Bool, detail: String) {
        let path = EngineProbe.readinessPath(for: spec)
        let url = EngineProbe.baseURL(host: spec.host, port: port) + path
        do {
            let r = try client.send(HTTPRequest(method: "GET", url: url, headers: EngineProbe.headers(for: spec),
                                                timeout: timeout, connectTimeout: min(timeout, 1)))
            return (r.status == 200, "GET \(path) answered \(r.status)")
        } catch {
            return (false, "GET \(path): \(error.kind.rawValue)")
        }
    }

    /// Reads the engine's effective configuration and compares it with the spec's flags.
    func readback(_ spec: LaunchSpec, port: Int) -> Readback {
        let paths = ConfigReadback.endpoints(engine: spec.engine)
        guard !paths.isEmpty else { return .verified([]) }
        let base = EngineProbe.baseURL(host: spec.host, port: port)
        for path in paths {
            let response: HTTPResponse
            do {
                response = try client.send(HTTPRequest(method: "GET", url: base + path,
                                                       headers: EngineProbe.headers(for: spec),
                                                       timeout: timeout, connectTimeout: min(timeout, 1)))
            } catch {
                return .pending("config readback GET \(path): \(error.kind.rawValue)")
            }
            if response.status == 404 { continue }
            guard response.status == 200 else {
                return .failed("config readback GET \(path) answered \(response.status)")
            }
            guard let json = ConfigReadback.parseJSON(response.body), case .object = json else {
                return .failed("config readback GET \(path) did not answer a JSON object")
            }
            return .verified(ConfigReadback.compare(engine: spec.engine, version: spec.engineVersion,
                                                    flags: spec.flagSet, reported: json))
        }
        return .verified([])  // the engine exposes no readback endpoint: nothing to compare
    }
}
