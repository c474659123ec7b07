internal import CCurl

/// Why a transfer failed before a complete HTTP response arrived.
///
/// The description names the kind, curl's own message, the method and the URL (with any
/// `user:password@` part removed). Header values, and so `Authorization` tokens, never appear.
public struct HTTPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The broad class of failure.
    public enum Kind: String, Hashable, Sendable {
        /// The peer refused or could not be reached (`ECONNREFUSED`, no route, missing socket file).
        case connectionFailed = "connection failed"
        /// The transfer or the connect phase took longer than the request's timeout.
        case timeout = "timed out"
        /// The host name did not resolve.
        case dns = "could not resolve host"
        /// TLS handshake or certificate verification failed.
        case tls = "TLS error"
        /// The connection broke while sending or receiving, or the peer sent something that is not HTTP.
        case transport = "transport error"
        /// The URL or an option was not acceptable to curl.
        case invalidRequest = "invalid request"
        /// The transfer was cancelled by the caller or the client was shut down.
        case cancelled = "cancelled"
        /// Anything else curl reported.
        case other = "error"
    }

    /// The broad class of failure.
    public var kind: Kind
    /// curl's result code (`CURLcode`), or -1 when the error did not come from curl.
    public var curlCode: Int
    /// curl's detailed message (from its error buffer), or a short explanation.
    public var message: String
    /// Method of the failed request.
    public var method: String
    /// URL of the failed request with credentials removed.
    public var url: String

    /// Creates an error; `url` is redacted here.
    public init(kind: Kind, curlCode: Int = -1, message: String, method: String, url: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
        self.method = method
        self.url = HTTPError.redact(url)
    }

    /// `connection failed: Failed to connect to 127.0.0.1 port 1 ...: Connection refused (GET http://...)`.
    public var description: String {
        "\(kind.rawValue): \(message) (\(method) \(url))"
    }

    /// The error of a transfer cancelled by its caller or by the multi's shutdown.
    static func cancelled(_ request: HTTPRequest) -> HTTPError {
        HTTPError(kind: .cancelled, message: "cancelled by the caller", method: request.method, url: request.url)
    }

    /// True when the peer was not reachable at all (useful for readiness probes).
    public var isConnectionFailure: Bool { kind == .connectionFailed }

    /// Maps a curl result code to a kind.
    static func kind(for code: CURLcode) -> Kind {
        switch code {
        case CURLE_COULDNT_CONNECT: return .connectionFailed
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .dns
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND,
             CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE, CURLE_SSL_SHUTDOWN_FAILED,
             CURLE_USE_SSL_FAILED:
            return .tls
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
             CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_READ_ERROR:
            return .transport
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT,
             CURLE_UNKNOWN_OPTION, CURLE_NOT_BUILT_IN:
            return .invalidRequest
        case CURLE_ABORTED_BY_CALLBACK, CURLE_WRITE_ERROR: return .cancelled
        default: return .other
        }
    }

    /// Maps a numeric curl result code to a kind.
    static func kind(curlCode: Int) -> Kind {
        guard let raw = UInt32(exactly: curlCode) else { return .other }
        return kind(for: CURLcode(rawValue: raw))
    }

    /// Builds an error from a curl result and its error buffer text (empty buffer → `curl_easy_strerror`).
    static func fromCurl(_ code: CURLcode, detail: String, request: HTTPRequest) -> HTTPError {
        var text = detail.trimmingTrailingNewlines()
        if text.isEmpty, let s = dsd_curl_easy_strerror(code) {
            text = String(cString: s)
        }
        return HTTPError(kind: kind(for: code), curlCode: Int(code.rawValue), message: text,
                         method: request.method, url: request.url)
    }

    /// Removes `user:password@` from a URL's authority so credentials never reach logs.
    static func redact(_ url: String) -> String {
        let chars = Array(url)
        var i = 0
        while i + 2 < chars.count, !(chars[i] == ":" && chars[i + 1] == "/" && chars[i + 2] == "/") { i += 1 }
        guard i + 2 < chars.count else { return url }
        let authorityStart = i + 3
        var end = authorityStart
        while end < chars.count, chars[end] != "/", chars[end] != "?", chars[end] != "#" { end += 1 }
        guard let at = chars[authorityStart..<end].lastIndex(of: "@") else { return url }
        return String(chars[..<authorityStart]) + "***@" + String(chars[(at + 1)...])
    }
}

extension String {
    /// The string without trailing CR/LF characters.
    func trimmingTrailingNewlines() -> String {
        // Scalars, not Characters: "\r\n" is one Character and equals neither "\r" nor "\n".
        var s = Substring(self).unicodeScalars
        while let last = s.last, last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
