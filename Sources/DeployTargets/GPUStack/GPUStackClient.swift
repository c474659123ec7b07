public import CurlHTTP
public import DeployCore
public import Engines
import Foundation

/// A GPUStack 2.3 REST client: Bearer auth, JSON bodies, paginated lists, clear errors, and a count
/// of every request it made (reads and writes apart) so plans can report their API cost.
public final class GPUStackClient: @unchecked Sendable {
    /// Server URL without a trailing slash.
    public let baseURL: String
    private let apiKey: Secret
    private let tls: TLSOptions
    private let transport: any GPUStackTransport
    /// Limit for one request in seconds.
    public let timeout: Double
    private let lock = NSLock()
    private var reads = 0
    private var writes = 0

    /// GPUStack versions this target was tested with (`v2.3.x`).
    public static let testedVersionPrefix = "2.3."

    /// Creates a client; nothing is sent until the first call.
    public init(baseURL: String, apiKey: Secret, tls: TLSOptions = TLSOptions(),
                transport: any GPUStackTransport = CurlGPUStackTransport(), timeout: Double = 30) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.apiKey = apiKey
        self.tls = tls
        self.transport = transport
        self.timeout = timeout
    }

    /// Requests made so far: (reads, writes). A watch stream counts as one read.
    public var requestCounts: (reads: Int, writes: Int) { lock.withLock { (reads, writes) } }

    /// Every request made so far.
    public var requestCount: Int { lock.withLock { reads + writes } }

    // MARK: - Calls

    /// `GET path` decoded as JSON.
    public func get(_ path: String) throws(GPUStackError) -> JSONValue {
        try decode(call("GET", path), path: path)
    }

    /// Every item of a paginated list (`{"items": [...], "pagination": {...}}`), 100 per request.
    public func list(_ path: String, query: [(String, String)] = []) throws(GPUStackError) -> [JSONValue] {
        var items: [JSONValue] = []
        var page = 1
        while true {
            let q = query + [("page", String(page)), ("perPage", "100")]
            let body = try get(path + "?" + GPUStackClient.queryString(q))
            items += body["items"]?.elements ?? []
            let total = body["pagination"]?["totalPage"]?.int ?? 1
            if page >= total { break }
            page += 1
        }
        return items
    }

    /// `POST path` with a JSON body.
    @discardableResult
    public func post(_ path: String, _ body: JSONValue) throws(GPUStackError) -> JSONValue {
        try decode(call("POST", path, body: body), path: path)
    }

    /// `PUT path` with a JSON body.
    @discardableResult
    public func put(_ path: String, _ body: JSONValue) throws(GPUStackError) -> JSONValue {
        try decode(call("PUT", path, body: body), path: path)
    }

    /// `DELETE path`.
    public func delete(_ path: String) throws(GPUStackError) {
        _ = try call("DELETE", path)
    }

    /// `GET path` as text (logs).
    public func getText(_ path: String) throws(GPUStackError) -> String {
        String(decoding: try call("GET", path).body, as: UTF8.self)
    }

    /// The server's version (`GET /version`, e.g. `v2.3.0`) and whether this target was tested with it.
    public func serverVersion() throws(GPUStackError) -> String {
        let body = try get("/version")
        guard let v = body["version"]?.string else {
            throw GPUStackError(.protocolError, "\(baseURL) answered /version without a version: is this a GPUStack server?")
        }
        return v
    }

    /// Checks the version: 2.3.x passes, another 2.x gives a warning, anything else an error.
    public static func checkVersion(_ version: String) -> Result<String?, GPUStackError> {
        let v = version.hasPrefix("v") ? String(version.dropFirst()) : version
        if v.hasPrefix(testedVersionPrefix) { return .success(nil) }
        if v.hasPrefix("2.") {
            return .success("GPUStack \(version) has not been tested with this dsdeploy (tested: 2.3.x); continuing")
        }
        return .failure(GPUStackError(.unsupportedVersion,
            "GPUStack \(version) is not supported by this dsdeploy (tested with 2.3.x); its REST API differs"))
    }

    func countRead() { lock.withLock { reads += 1 } }

    func transportStream(_ req: HTTPRequest, timeout: Double, onChunk: @escaping @Sendable ([UInt8]) -> Bool) -> GPUStackStreamEnd {
        transport.stream(req, timeout: timeout, onChunk: onChunk)
    }

    /// Streams a watch (`path` with `watch=true`) until `onEvent` returns false or `timeout` passes.
    public func watch(_ path: String, timeout: Double,
                      onEvent: @escaping @Sendable (GPUStackWatchEvent) -> Bool) -> GPUStackStreamEnd {
        countRead()
        let parser = GPUStackWatchParserBox()
        var req = request("GET", path, body: nil)
        req.timeout = 0
        return transport.stream(req, timeout: timeout) { chunk in
            for e in parser.feed(chunk) where !onEvent(e) { return false }
            return true
        }
    }

    // MARK: - Plumbing

    func request(_ method: String, _ path: String, body: JSONValue?) -> HTTPRequest {
        var headers: HTTPHeaders = [("Accept", "application/json")]
        headers.set("Authorization", "Bearer " + apiKey.reveal())
        var r = HTTPRequest(method: method, url: baseURL + path, headers: headers,
                            body: body.map { Array($0.canonicalText.utf8) }, timeout: timeout, tls: tls)
        if body != nil { r.headers.set("Content-Type", "application/json") }
        return r
    }

    func call(_ method: String, _ path: String, body: JSONValue? = nil) throws(GPUStackError) -> HTTPResponse {
        lock.withLock { if method == "GET" { reads += 1 } else { writes += 1 } }
        let response: HTTPResponse
        do {
            response = try transport.send(request(method, path, body: body))
        } catch {
            throw unreachable(error)
        }
        if (200..<300).contains(response.status) { return response }
        throw GPUStackClient.failure(method: method, path: path, response: response, baseURL: baseURL)
    }

    func unreachable(_ e: HTTPError) -> GPUStackError {
        switch e.kind {
        case .connectionFailed:
            return GPUStackError(.unreachable, "cannot connect to GPUStack at \(baseURL): connection refused (is the server up and the url right?)")
        case .dns:
            return GPUStackError(.unreachable, "cannot resolve the host of \(baseURL): check the target's url")
        case .timeout:
            return GPUStackError(.unreachable, "GPUStack at \(baseURL) did not answer in time")
        case .tls:
            return GPUStackError(.unreachable, "TLS with \(baseURL) failed (\(e.message)); set caBundle to the server's CA")
        default:
            return GPUStackError(.unreachable, "cannot talk to GPUStack at \(baseURL): \(e.kind.rawValue): \(e.message)")
        }
    }

    /// The error for a non-2xx response, with GPUStack's own message.
    static func failure(method: String, path: String, response: HTTPResponse, baseURL: String) -> GPUStackError {
        let body = JSONValue.parse(response.body)
        let serverMessage = body?["message"]?.string ?? String(response.text.prefix(300))
        let what = "\(method) \(path.split(separator: "?").first.map(String.init) ?? path)"
        switch response.status {
        case 401, 403:
            return GPUStackError(.unauthorized, status: response.status,
                "GPUStack at \(baseURL) rejected the API key (\(response.status)): check the target's apiKey and its scope")
        case 404:
            return GPUStackError(.notFound, status: 404, "\(what): not found: \(serverMessage)")
        case 409:
            return GPUStackError(.conflict, status: 409, "\(what): conflict: \(serverMessage)")
        case 400 where serverMessage.lowercased().contains("not found"):
            return GPUStackError(.notFound, status: 400, "\(what): \(serverMessage)")
        case 400..<500:
            return GPUStackError(.rejected, status: response.status, "\(what): GPUStack refused (\(response.status)): \(serverMessage)")
        default:
            return GPUStackError(.server, status: response.status, "\(what): GPUStack server error (\(response.status)): \(serverMessage)")
        }
    }

    func decode(_ response: HTTPResponse, path: String) throws(GPUStackError) -> JSONValue {
        if response.body.isEmpty { return .null }
        guard let v = JSONValue.parse(response.body) else {
            throw GPUStackError(.protocolError, "GPUStack answered \(path) with a body that is not JSON")
        }
        return v
    }

    /// `a=b&c=d` with percent-encoding.
    static func queryString(_ q: [(String, String)]) -> String {
        q.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }

    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

extension GPUStackClient {
    /// Streams a prepared request (counted as one read); chunks go to `onChunk` until it returns false.
    func rawStream(_ req: HTTPRequest, timeout: Double, onChunk: @escaping @Sendable ([UInt8]) -> Bool) -> GPUStackStreamEnd {
        countRead()
        return transportStream(req, timeout: timeout, onChunk: onChunk)
    }
}
