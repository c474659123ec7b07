import CurlHTTP
import DeployKit
import Engines

/// Readiness checks and config readback over HTTP, with short timeouts (one check never blocks long).
struct EngineProbe: Sendable {
    /// What a config readback found.
    enum Readback: Sendable, Hashable {
        /// Compared: these flags differ (empty when none, or when the engine has no readback);
        /// `unverified`: intended flags no endpoint reported, so not compared (vLLM; empty otherwise).
        case verified([FlagDiffEntry], unverified: [String])
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
        switch spec.engine {
        case .sglang:
            return EngineVersion(spec.engineVersion) >= EngineVersion("0.5.20") ? "/ready" : "/health_generate"
        case .vllm, .llamaCpp:
            return "/health"
        // Up; ready to serve only once dsdeploy registered its workers (GET /readiness, checked then).
        case .sglangRouter:
            return "/liveness"
        }
    }

    /// `http://HOST:PORT` for the spec's bind address (wildcards probe loopback): `Endpoint.url`.
    static func baseURL(host: String, port: Int) -> String { Endpoint.url(host: host, port: port) }

    /// Headers for requests to the engine (the spec's `--api-key`, when it has one).
    static func headers(for spec: LaunchSpec) -> HTTPHeaders {
        var h: HTTPHeaders = []
        var key: String?
        switch spec.flagSet["--api-key"] {
        case .string(let k)?: key = k
        case .list(let keys)?: key = keys.first?.stringValue  // vLLM accepts several keys
        default: key = nil
        }
        if let key, !key.isEmpty { h.set("Authorization", "Bearer " + key) }
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
        if spec.engine == .vllm { return vllmReadback(spec, port: port).readback }
        let paths = ConfigReadback.endpoints(engine: spec.engine)
        guard !paths.isEmpty else { return .verified([], unverified: []) }
        let base = EngineProbe.baseURL(host: spec.host, port: port)
        for path in paths {
            let response: HTTPResponse
            switch get(spec, base: base, path) {
            case .success(let r): response = r
            case .failure(let problem): return problem.readback
            }
            if response.status == 404 { continue }
            guard response.status == 200 else {
                return .failed("config readback GET \(path) answered \(response.status)")
            }
            guard let json = ConfigReadback.parseJSON(response.body), case .object = json else {
                return .failed("config readback GET \(path) did not answer a JSON object")
            }
            return .verified(ConfigReadback.compare(engine: spec.engine, version: spec.engineVersion,
                                                    flags: spec.flagSet, reported: json), unverified: [])
        }
        return .verified([], unverified: [])  // the engine exposes no readback endpoint: nothing to compare
    }

    /// One GET of a readback path: the response, or `.pending` when the engine did not answer.
    private func get(_ spec: LaunchSpec, base: String, _ path: String) -> Result<HTTPResponse, ReadbackProblem> {
        do {
            return .success(try client.send(HTTPRequest(method: "GET", url: base + path,
                                                        headers: EngineProbe.headers(for: spec),
                                                        timeout: timeout, connectTimeout: min(timeout, 1))))
        } catch {
            return .failure(ReadbackProblem(readback: .pending("config readback GET \(path): \(error.kind.rawValue)")))
        }
    }

    /// Why a readback stopped before comparing.
    struct ReadbackProblem: Error {
        var readback: Readback
    }

    /// vLLM: `/server_info?config_format=json` when it answers a `VllmConfig` dump (dev mode), else
    /// (and for the flags it does not carry) `/v1/models` and `/metrics`; the report says which flag
    /// each endpoint verified and which stayed unverified (`ConfigReadback.compareVLLM`).
    /// `/server_info` answering anything but JSON counts as "not in dev mode"; `/v1/models` or
    /// `/metrics` answering 404 count as absent, any other non-200 status fails the readback.
    /// Without intended flags there is nothing to compare and nothing is requested.
    func vllmReadback(_ spec: LaunchSpec, port: Int) -> (readback: Readback, report: ConfigReadback.Report?) {
        if spec.flagSet.values.values.allSatisfy(\.isTemplated) {
            return (.verified([], unverified: []), ConfigReadback.Report())
        }
        let base = EngineProbe.baseURL(host: spec.host, port: port)
        let catalog = ConfigReadback.vllmCatalog(version: spec.engineVersion)
        func document(_ path: String, optional: Bool) -> Result<HTTPResponse?, ReadbackProblem> {
            switch get(spec, base: base, path) {
            case .failure(let p): return .failure(p)
            case .success(let r) where r.status == 200: return .success(r)
            case .success(let r) where r.status == 404 || optional: return .success(nil)
            case .success(let r):
                return .failure(ReadbackProblem(readback: .failed("config readback GET \(path) answered \(r.status)")))
            }
        }
        do throws(ReadbackProblem) {
            let info = try document(ConfigReadback.vllmServerInfoPath, optional: true).get()
                .flatMap { ConfigReadback.parseJSON($0.body) }
            let modelsResponse = try document("/v1/models", optional: false).get()
            var models: JSONValue?
            if let r = modelsResponse {
                guard let json = ConfigReadback.parseJSON(r.body), case .object = json else {
                    return (.failed("config readback GET /v1/models did not answer a JSON object"), nil)
                }
                models = json
            }
            let devMode = info?["vllm_config"]?.object != nil
            var metrics: String?
            if !devMode || ConfigReadback.vllmNeedsMetrics(flags: spec.flagSet, catalog: catalog) {
                metrics = try document("/metrics", optional: false).get().map { String(decoding: $0.body, as: UTF8.self) }
            }
            let report = ConfigReadback.compareVLLM(flags: spec.flagSet, version: spec.engineVersion, catalog: catalog,
                                                    serverInfo: devMode ? info : nil, models: models, metrics: metrics)
            return (.verified(report.drift, unverified: report.unverified), report)
        } catch {
            return (error.readback, nil)
        }
    }
}
