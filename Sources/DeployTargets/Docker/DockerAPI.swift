import CurlHTTP
import DeployCore
import Engines
import Foundation

/// Where a Docker Engine API listens: `unix:///var/run/docker.sock` or `tcp://host:port`.
struct DockerEndpoint: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// A unix socket path.
        case unix(String)
        /// Plain HTTP to host:port.
        case tcp(String)
        /// A host reached with the user's OpenSSH (`[user@]host`, port, remote socket path).
        case ssh(destination: String, port: Int?, socket: String)
    }

    var kind: Kind

    /// The endpoint of a `docker:` value, or why it is not one this dsdeploy can reach.
    static func parse(_ s: String) -> Result<DockerEndpoint, DockerError> {
        if s.hasPrefix("unix://") {
            let path = String(s.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { return .failure(DockerError(status: 0, message: "a unix socket needs an absolute path (unix:///var/run/docker.sock)")) }
            return .success(DockerEndpoint(kind: .unix(path)))
        }
        if s.hasPrefix("tcp://") {
            let rest = String(s.dropFirst("tcp://".count))
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port),
                  !rest[..<colon].isEmpty else { return .failure(DockerError(status: 0, message: "needs host:port (tcp://10.0.0.11:2375)")) }
            return .success(DockerEndpoint(kind: .tcp(rest)))
        }
        if s.hasPrefix("ssh://") {
            var rest = Substring(s.dropFirst("ssh://".count))
            var socket = "/var/run/docker.sock"
            if let slash = rest.firstIndex(of: "/") {
                socket = String(rest[slash...])
                rest = rest[..<slash]
            }
            var port: Int?
            if let colon = rest.lastIndex(of: ":"), !rest.contains("[") {
                guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                    return .failure(DockerError(status: 0, message: "has an invalid port"))
                }
                port = p
                rest = rest[..<colon]
            }
            let host = rest.split(separator: "@", omittingEmptySubsequences: false).last.map(String.init) ?? ""
            guard !host.isEmpty, !rest.contains(where: { $0.isWhitespace }), !rest.hasPrefix("-") else {
                return .failure(DockerError(status: 0, message: "needs [user@]host (ssh://deploy@10.0.0.11)"))
            }
            return .success(DockerEndpoint(kind: .ssh(destination: String(rest), port: port, socket: socket)))
        }
        return .failure(DockerError(status: 0, message: "must start with unix://, tcp:// or ssh://"))
    }

    /// The address clients reach engines on when the Target does not say: the tcp host, else loopback.
    var defaultAddress: String {
        switch kind {
        case .unix: return "127.0.0.1"
        case .tcp(let hostPort): return String(hostPort[..<(hostPort.lastIndex(of: ":") ?? hostPort.endIndex)])
        case .ssh(let destination, _, _): return destination.split(separator: "@").last.map(String.init) ?? destination
        }
    }

    var description: String {
        switch kind {
        case .unix(let p): return "unix://" + p
        case .tcp(let h): return "tcp://" + h
        case .ssh(let d, let port, let socket):
            return "ssh://" + d + (port.map { ":\($0)" } ?? "") + (socket == "/var/run/docker.sock" ? "" : socket)
        }
    }
}

/// A Docker Engine API failure, for people.
struct DockerError: Error, Sendable, CustomStringConvertible {
    /// HTTP status, 0 when the engine was not reached.
    var status: Int
    var message: String
    /// True when the host itself could not be reached (connection, SSH, TLS), not refused by its engine.
    var unreachable = false
    var description: String { message }
}

/// The Docker Engine API calls the docker target makes (dockerd and podman's compatible API),
/// over libcurl. The API version is negotiated once: the engine's, capped at the newest this
/// client was written against.
final class DockerAPI: @unchecked Sendable {
    /// The newest API version this client speaks (Docker 24).
    static let maxVersion = "1.43"
    /// The oldest it accepts (podman 4 reports 1.41).
    static let minVersion = "1.40"

    let endpoint: DockerEndpoint
    let client = HTTPClient()
    /// The SSH connection of an ssh:// host (nil otherwise).
    let tunnel: SSHTunnel?
    private let lock = NSLock()
    private var version: String?
    private var reads = 0
    private var writes = 0

    /// Requests sent so far (GET: reads; everything else: writes).
    var counts: (reads: Int, writes: Int) { lock.withLock { (reads, writes) } }

    /// TLS for a tcp:// endpoint (https); nil: plain HTTP.
    let tls: TLSOptions?

    init(endpoint: DockerEndpoint, tunnel: SSHTunnel? = nil, tls: TLSOptions? = nil) {
        self.endpoint = endpoint
        self.tunnel = tunnel
        self.tls = tls
    }

    /// The request for a path: over the unix socket (the host's, or the SSH forward's), or to tcp:// (https with TLS).
    func request(_ method: String, _ path: String, timeout: Double) throws(DockerError) -> HTTPRequest {
        if case .tcp(let hostPort) = endpoint.kind {
            var req = HTTPRequest(method: method, url: (tls == nil ? "http://" : "https://") + hostPort + path,
                                  timeout: timeout, connectTimeout: 5)
            if let tls { req.tls = tls }
            return req
        }
        return HTTPRequest(method: method, url: "http://docker" + path, timeout: timeout, connectTimeout: 5,
                           unixSocketPath: try socketPath())
    }

    /// The unix socket to talk to: the host's own, or the local end of the SSH forward.
    func socketPath() throws(DockerError) -> String? {
        switch endpoint.kind {
        case .unix(let p): return p
        case .tcp: return nil
        case .ssh:
            guard let tunnel else { throw DockerError(status: 0, message: "\(endpoint.description): no SSH settings") }
            return try tunnel.open()
        }
    }

    /// Sends one request to the versioned API (`/v1.43/containers/json`), or to an unversioned path.
    /// `headers` never appear in errors (a registry credential travels in one).
    func send(_ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
              versioned: Bool = true, timeout: Double = 30, headers: [(String, String)] = []) throws(DockerError) -> HTTPResponse {
        var p = path
        if versioned { p = "/v" + (try negotiated()) + path }
        if !query.isEmpty {
            p += "?" + query.map { "\($0.0)=\(DockerAPI.escape($0.1))" }.joined(separator: "&")
        }
        var req = try request(method, p, timeout: timeout)
        for (name, value) in headers { req.headers.set(name, value) }
        if let body {
            req.body = Array(body.canonicalText.utf8)
            req.headers.set("Content-Type", "application/json")
        }
        lock.withLock { if method == "GET" { reads += 1 } else { writes += 1 } }
        var generation: Int?
        var mark = 0
        if let tunnel, case .ssh = endpoint.kind {
            let (path, g) = try tunnel.openCounted()
            req.unixSocketPath = path
            generation = g
            mark = tunnel.logMark()
        }
        do {
            return try client.send(req)
        } catch {
            // An SSH master that ended (it lives five idle minutes) takes its forward along: open it again,
            // once. One that timed out or broke the transfer may be wedged on a connection that died (a host
            // cut off and back): that one is closed, so the retry gets a fresh connection; unless another
            // request has already opened it again since this one was sent (it failed because of that).
            var again = ""
            if let tunnel, let generation {
                tunnel.reset(closeMaster: error.kind == .timeout || error.kind == .transport, generation: generation)
                req.unixSocketPath = try tunnel.openCounted().path
                do { return try client.send(req) } catch let retry {
                    again = retry.message == error.message ? " (again after reconnecting)"
                        : "; after reconnecting: \(retry.message)"
                }
                // What ssh said meanwhile, such as the host refusing the forwarded connection.
                let said = tunnel.logged(since: mark)
                if !said.isEmpty { again += "; ssh: \(said)" }
            }
            throw DockerError(status: 0, message: "cannot reach the Docker engine at \(endpoint.description): \(error.message)\(again)",
                              unreachable: true)
        }
    }

    /// The JSON answer of a call that must succeed (2xx); the engine's own message otherwise.
    func json(_ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
              timeout: Double = 30) throws(DockerError) -> JSONValue {
        let r = try send(method, path, query: query, body: body, timeout: timeout)
        guard (200..<300).contains(r.status) else { throw failure(r, method, path) }
        if r.body.isEmpty { return .null }
        return JSONValue.parse(r.body) ?? .null
    }

    func failure(_ r: HTTPResponse, _ method: String, _ path: String) -> DockerError {
        let message = JSONValue.parse(r.body)?["message"]?.string ?? String(decoding: r.body.prefix(300), as: UTF8.self)
        return DockerError(status: r.status, message: "\(method) \(path) on \(endpoint.description): HTTP \(r.status): \(message)")
    }

    /// The API version to use: the engine's (`GET /version`), at most `maxVersion`.
    func negotiated() throws(DockerError) -> String {
        if let v = lock.withLock({ version }) { return v }
        let r = try send("GET", "/version", versioned: false, timeout: 10)
        guard r.status == 200, let doc = JSONValue.parse(r.body), let server = doc["ApiVersion"]?.string else {
            throw DockerError(status: r.status, message: "\(endpoint.description) does not answer GET /version like a Docker engine (HTTP \(r.status))")
        }
        guard EngineVersion(server) >= EngineVersion(DockerAPI.minVersion) else {
            throw DockerError(status: 0, message: "\(endpoint.description) speaks Docker API \(server); dsdeploy needs \(DockerAPI.minVersion) or newer")
        }
        let v = EngineVersion(server) < EngineVersion(DockerAPI.maxVersion) ? server : DockerAPI.maxVersion
        lock.withLock { version = v }
        return v
    }

    /// Containers (all states) carrying every `key=value` label.
    func containers(labels: [String]) throws(DockerError) -> [JSONValue] {
        let filters = JSONValue.object(["label": .array(labels.map(JSONValue.string))]).canonicalText
        return try json("GET", "/containers/json", query: [("all", "1"), ("filters", filters)]).array ?? []
    }

    /// `GET /containers/{id}/json`, nil when it is gone.
    func inspect(_ id: String) throws(DockerError) -> JSONValue? {
        let r = try send("GET", "/containers/\(id)/json")
        if r.status == 404 { return nil }
        guard r.status == 200 else { throw failure(r, "GET", "/containers/\(id)/json") }
        return JSONValue.parse(r.body)
    }

    /// True when the engine has the image.
    func hasImage(_ image: String) throws(DockerError) -> Bool {
        let r = try send("GET", "/images/\(image)/json")
        if r.status == 404 { return false }
        guard r.status == 200 else { throw failure(r, "GET", "/images/\(image)/json") }
        return true
    }

    /// Pulls an image (`POST /images/create`), waiting for the pull to finish; the engine's error otherwise.
    func pull(_ image: String, auth: RegistryCredential? = nil) throws(DockerError) {
        let (name, tag) = DockerAPI.split(image)
        let headers = auth.map { [("X-Registry-Auth", $0.header)] } ?? []
        let r = try send("POST", "/images/create", query: [("fromImage", name), ("tag", tag)], timeout: 3600, headers: headers)
        guard (200..<300).contains(r.status) else {
            let message = JSONValue.parse(r.body)?["message"]?.string ?? String(decoding: r.body.prefix(300), as: UTF8.self)
            throw DockerError(status: r.status, message: "pulling \(image) on \(endpoint.description): HTTP \(r.status): \(message)"
                              + (r.status == 500 && message.contains("auth") && auth == nil ? " (no login for \(DockerAPI.registry(of: image)) in the Target's registries)" : ""))
        }
        // The body is a stream of JSON progress lines; an error arrives as {"error": ...} with status 200.
        for line in r.body.split(separator: UInt8(ascii: "\n")) {
            if let e = JSONValue.parse(Array(line))?["error"]?.string {
                throw DockerError(status: r.status, message: "pulling \(image) on \(endpoint.description): \(e)")
            }
        }
    }

    /// Creates a container; its id.
    func create(name: String, _ body: JSONValue) throws(DockerError) -> String {
        let created = try json("POST", "/containers/create", query: [("name", name)], body: body)
        guard let id = created["Id"]?.string else {
            throw DockerError(status: 0, message: "\(endpoint.description) created container \(name) without an id")
        }
        return id
    }

    /// Starts a container; one already running is fine (HTTP 304, as `stopAndRemove` takes 304 for one
    /// already stopped): a start whose answer was lost and that libcurl sent again on a new connection
    /// finds the container started by the first.
    func start(_ id: String) throws(DockerError) {
        let r = try send("POST", "/containers/\(id)/start")
        guard (200..<300).contains(r.status) || r.status == 304 else {
            throw failure(r, "POST", "/containers/\(id)/start")
        }
    }

    /// Stops (SIGTERM, `grace` seconds, SIGKILL) and removes a container; a container already gone is fine.
    /// With no grace there is nothing to stop first: the forced removal kills it (SIGKILL) and removes
    /// it in one call. A stop that got no answer (the connection closed without a response, as CI saw
    /// once in a while on a multi-node group's cleanup over SSH) still goes on to the forced removal,
    /// which fails only if that fails too.
    func stopAndRemove(_ id: String, grace: Int) throws(DockerError) {
        if grace > 0 {
            do throws(DockerError) {
                let stop = try send("POST", "/containers/\(id)/stop", query: [("t", String(grace))], timeout: Double(grace) + 30)
                guard [204, 304, 404].contains(stop.status) else { throw failure(stop, "POST", "/containers/\(id)/stop") }
            } catch where error.status == 0 {
                // Unanswered: the removal below decides.
            }
        }
        let rm = try send("DELETE", "/containers/\(id)", query: [("force", "1")])
        guard [204, 404].contains(rm.status) else { throw failure(rm, "DELETE", "/containers/\(id)") }
    }

    /// The last `tail` lines of a container's output (stdout and stderr, demultiplexed).
    func logs(_ id: String, tail: Int) throws(DockerError) -> String {
        let r = try send("GET", "/containers/\(id)/logs", query: [("stdout", "1"), ("stderr", "1"), ("tail", String(tail))])
        guard r.status == 200 else { throw failure(r, "GET", "/containers/\(id)/logs") }
        return DockerAPI.demultiplex(r.body)
    }

    /// Follows a container's output: the last `tail` lines, then new output as it comes, until
    /// `onText` returns false or the container stops. Frames split across chunks are reassembled.
    func followLogs(_ id: String, tail: Int, onText: @escaping @Sendable (String) -> Bool) throws(DockerError) {
        let version = try negotiated()
        let path = "/v\(version)/containers/\(id)/logs?stdout=1&stderr=1&follow=1&tail=\(tail)"
        let req = try request("GET", path, timeout: 0)
        let frames = LogFrames()
        let end = CurlGPUStackTransport().stream(req, timeout: 365 * 24 * 3600) { chunk in
            let text = frames.feed(chunk)
            return text.isEmpty ? true : onText(text)
        }
        switch end {
        case .failed(let e): throw DockerError(status: 0, message: "following the logs on \(endpoint.description): \(e.message)")
        case .ended(let status) where !(200..<300).contains(status):
            throw DockerError(status: status, message: "following the logs on \(endpoint.description): HTTP \(status)")
        default: return
        }
    }

    /// Docker's log stream without a TTY: frames of `[stream, 0, 0, 0, size (big endian, 4 bytes)]` and
    /// the payload. A body that is not framed (a TTY container) is returned as it is.
    static func demultiplex(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i + 8 <= bytes.count {
            guard bytes[i] <= 2, bytes[i + 1] == 0, bytes[i + 2] == 0, bytes[i + 3] == 0 else {
                return String(decoding: bytes, as: UTF8.self)
            }
            let size = Int(bytes[i + 4]) << 24 | Int(bytes[i + 5]) << 16 | Int(bytes[i + 6]) << 8 | Int(bytes[i + 7])
            let end = min(bytes.count, i + 8 + size)
            out += bytes[(i + 8)..<end]
            i = end
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The registry an image comes from: its first path component when that names a host
    /// (`swr.cn-north-4.myhuaweicloud.com`, `127.0.0.1:5000`, `localhost`), else Docker Hub (`docker.io`).
    static func registry(of image: String) -> String {
        guard let slash = image.firstIndex(of: "/") else { return "docker.io" }
        let first = String(image[..<slash])
        return first.contains(".") || first.contains(":") || first == "localhost" ? first : "docker.io"
    }

    /// `registry/name:tag` → (`registry/name`, `tag`), `latest` when none.
    static func split(_ image: String) -> (String, String) {
        if image.contains("@") { return (image, "") }
        if let colon = image.lastIndex(of: ":"), !image[colon...].contains("/") {
            return (String(image[..<colon]), String(image[image.index(after: colon)...]))
        }
        return (image, "latest")
    }

    /// Percent-escapes a query value or path segment.
    static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

/// Reassembles Docker's multiplexed log frames from chunks as they arrive (a TTY stream, which
/// has no frames, passes through).
final class LogFrames: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var raw = false

    /// The text of every complete frame in `chunk` (with what was buffered before).
    func feed(_ chunk: [UInt8]) -> String {
        lock.withLock {
            if raw { return String(decoding: chunk, as: UTF8.self) }
            buffer += chunk
            var out: [UInt8] = []
            var i = 0
            while i + 8 <= buffer.count {
                guard buffer[i] <= 2, buffer[i + 1] == 0, buffer[i + 2] == 0, buffer[i + 3] == 0 else {
                    raw = true
                    out += buffer[i...]
                    i = buffer.count
                    break
                }
                let size = Int(buffer[i + 4]) << 24 | Int(buffer[i + 5]) << 16 | Int(buffer[i + 6]) << 8 | Int(buffer[i + 7])
                guard i + 8 + size <= buffer.count else { break }
                out += buffer[(i + 8)..<(i + 8 + size)]
                i += 8 + size
            }
            buffer.removeFirst(i)
            return String(decoding: out, as: UTF8.self)
        }
    }
}

/// A registry login for pulls, sent as Docker's `X-Registry-Auth` header (never printed).
struct RegistryCredential: Sendable, CustomStringConvertible {
    var server: String
    var username: String
    var password: Secret

    /// base64url of `{"username", "password", "serveraddress"}`, as the Engine API wants it.
    var header: String {
        let doc = JSONValue.object(["username": .string(username), "password": .string(password.reveal()),
                                    "serveraddress": .string(server)])
        return Data(doc.canonicalText.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    var description: String { "\(username)@\(server) (password redacted)" }
}
