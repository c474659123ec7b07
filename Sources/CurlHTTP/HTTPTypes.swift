/// One HTTP header field as sent or received (names compare case-insensitively via `HTTPHeaders`).
public struct HTTPHeader: Hashable, Sendable {
    /// Field name as spelled (`Content-Type`).
    public var name: String
    /// Field value, without surrounding whitespace.
    public var value: String

    /// Creates a header field.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
    /// Why the field cannot be sent (a name that is empty or holds `:`, a space, CR, LF or NUL; a
    /// value with CR, LF or NUL), or nil. Names the header, never its value (it may be a secret).
    var problem: String? {
        let bad: (UInt8) -> Bool = { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
        var name = name, value = value
        if name.isEmpty || name.withUTF8({ $0.contains(where: { bad($0) || $0 == 0x3A || $0 == 0x20 }) }) {
            return "bad header name '\(name)'"
        }
        if value.withUTF8({ $0.contains(where: bad) }) { return "header '\(name)' has a line break in its value" }
        return nil
    }
}

/// An ordered list of header fields with case-insensitive lookup.
public struct HTTPHeaders: Hashable, Sendable, ExpressibleByArrayLiteral, Sequence {
    /// The fields in the order they were added or received.
    public var fields: [HTTPHeader]

    /// Creates a header list from fields.
    public init(_ fields: [HTTPHeader] = []) { self.fields = fields }

    /// Creates a header list from `(name, value)` pairs.
    public init(arrayLiteral elements: (String, String)...) {
        self.fields = elements.map { HTTPHeader($0.0, $0.1) }
    }

    /// The first value of `name` (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        fields.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }

    /// Every value of `name` (case-insensitive), in order.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }

    /// Appends a field (does not replace existing ones).
    public mutating func add(_ name: String, _ value: String) {
        fields.append(HTTPHeader(name, value))
    }

    /// Replaces every field called `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        fields.removeAll { $0.name.equalsIgnoringASCIICase(name) }
        fields.append(HTTPHeader(name, value))
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[HTTPHeader]> { fields.makeIterator() }
}

/// TLS settings for `https://` URLs. Verification is on unless turned off explicitly.
public struct TLSOptions: Hashable, Sendable, CustomStringConvertible {
    /// Verify the peer's certificate chain and host name (default true).
    public var verifyPeer: Bool
    /// PEM file of CA certificates to trust instead of the system bundle.
    public var caBundle: String?
    /// PEM text of CA certificates to trust instead of the system bundle (read by the caller).
    public var caPEM: [UInt8]?
    /// PEM text of a client certificate (mutual TLS, e.g. Docker's `--tlsverify`).
    public var clientCertificatePEM: [UInt8]?
    /// PEM text of the client certificate's private key. Never part of a description.
    public var clientKeyPEM: [UInt8]?

    /// Creates TLS options; the defaults verify against the system CA bundle.
    public init(verifyPeer: Bool = true, caBundle: String? = nil, caPEM: [UInt8]? = nil,
                clientCertificatePEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil) {
        self.verifyPeer = verifyPeer
        self.caBundle = caBundle
        self.caPEM = caPEM
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
    }

    /// What is set, never the key.
    public var description: String {
        var parts = ["verify: \(verifyPeer)"]
        if let caBundle { parts.append("CA file \(caBundle)") }
        if caPEM != nil { parts.append("CA (PEM)") }
        if clientCertificatePEM != nil { parts.append("client certificate") }
        if clientKeyPEM != nil { parts.append("client key (redacted)") }
        return "TLS(" + parts.joined(separator: ", ") + ")"
    }
}

/// An HTTP request for `HTTPClient` or `CurlMulti`.
public struct HTTPRequest: Hashable, Sendable {
    /// Method (`GET`, `POST`, ...), sent as written.
    public var method: String
    /// Absolute URL (`http://127.0.0.1:30000/health`).
    public var url: String
    /// Header fields to send. `Authorization` values never appear in errors or descriptions.
    public var headers: HTTPHeaders
    /// Request body; nil sends none.
    public var body: [UInt8]?
    /// Limit on the whole transfer in seconds (connect + send + receive); 0 = no limit.
    public var timeout: Double
    /// Limit on connection set-up in seconds; nil uses `min(timeout, 10)` (or 10 with no timeout).
    public var connectTimeout: Double?
    /// Connect through this Unix domain socket instead of TCP (the URL still names host and path).
    public var unixSocketPath: String?
    /// TLS verification settings.
    public var tls: TLSOptions
    /// Open a new connection for this request and close it afterwards (no keep-alive reuse), as a
    /// client with a session per request does (`sglang.bench_serving`).
    public var freshConnection = false

    /// Creates a request.
    public init(method: String = "GET", url: String, headers: HTTPHeaders = [], body: [UInt8]? = nil,
                timeout: Double = 30, connectTimeout: Double? = nil, unixSocketPath: String? = nil,
                tls: TLSOptions = TLSOptions()) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.unixSocketPath = unixSocketPath
        self.tls = tls
    }

    /// A request with a UTF-8 JSON body and `Content-Type: application/json`.
    public static func json(_ method: String = "POST", url: String, json: String,
                            headers: HTTPHeaders = [], timeout: Double = 30) -> HTTPRequest {
        var h = headers
        h.set("Content-Type", "application/json")
        return HTTPRequest(method: method, url: url, headers: h, body: Array(json.utf8), timeout: timeout)
    }

    /// Sets `Authorization: Bearer <token>` (replacing any Authorization header).
    public mutating func setBearerToken(_ token: String) {
        headers.set("Authorization", "Bearer " + token)
    }

    /// Returns a copy with `Authorization: Bearer <token>`.
    public func withBearerToken(_ token: String) -> HTTPRequest {
        var copy = self
        copy.setBearerToken(token)
        return copy
    }
}

/// A complete response: status, headers and the whole body.
public struct HTTPResponse: Hashable, Sendable {
    /// Status code of the final response (after any 1xx).
    public var status: Int
    /// Header fields of the final response.
    public var headers: HTTPHeaders
    /// Body bytes.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body decoded as UTF-8 (invalid sequences repaired).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension String {
    /// Whether the two strings are equal when ASCII letters are compared without case (how HTTP
    /// field names and tokens compare), without building lowercased copies.
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        var a = self, b = other
        return a.withUTF8 { x in b.withUTF8 { y in asciiCaseInsensitiveEqual(UnsafeRawBufferPointer(x), UnsafeRawBufferPointer(y)) } }
    }
}

/// Whether `a` and `b` are the same bytes when ASCII letters are compared without case.
func asciiCaseInsensitiveEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    for k in 0..<a.count {
        let x = a[k], y = b[k]
        guard x == y || (x | 0x20 == y | 0x20 && (0x61...0x7A).contains(x | 0x20)) else { return false }
    }
    return true
}
