internal import CCurl

/// One configured curl easy handle and the state its callbacks fill in.
///
/// Used by `HTTPClient` (blocking, collects the body) and `CurlMulti` (streams to a handler).
/// Only one thread touches an instance at a time: the caller of `curl_easy_perform`, or the
/// multi's loop thread.
final class EasyHandle {
    let handle: UnsafeMutableRawPointer
    private(set) var request: HTTPRequest
    private(set) var handler: TransferHandler?
    let collectBody: Bool
    let recordChunkTimes: Bool
    /// Set up only a connection (`CURLOPT_CONNECT_ONLY`) for `DirectHTTP1`, which then takes its socket.
    let connectOnly: Bool
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// Set when the handle must not be reused (a reconfiguration failed half-way).
    private var poisoned = false

    private(set) var status = 0
    private(set) var headers = HTTPHeaders()
    private(set) var headersDone = false
    private(set) var body: [UInt8] = []
    private(set) var bytesReceived = 0
    private(set) var chunkCount = 0
    var timings: TransferTimings

    /// Creates and configures a handle; throws `.invalidRequest` for unusable requests.
    /// `connectOnly`: a handle that only connects to `request`'s host (resolving, connecting and
    /// timing out as libcurl does for the request itself), for `DirectHTTP1`; never reused.
    init(request: HTTPRequest, handler: TransferHandler?, collectBody: Bool,
         recordChunkTimes: Bool, connectOnly: Bool = false) throws(HTTPError) {
        try CurlGlobal.require(method: request.method, url: request.url)
        guard let h = dsd_curl_easy_init() else {
            throw HTTPError(kind: .other, message: "curl_easy_init failed", method: request.method,
                            url: request.url)
        }
        handle = h
        self.request = request
        self.handler = handler
        self.collectBody = collectBody
        self.recordChunkTimes = recordChunkTimes
        self.connectOnly = connectOnly
        poisoned = connectOnly
        let size = Int(dsd_curl_error_size())
        errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
        timings = TransferTimings(start: .now())
        try configure()
    }

    /// The connected socket of a finished connect-only transfer (`theirs`, which libcurl closes when
    /// the handle is removed) and a duplicate of it that the caller owns (`mine`), or nil.
    func takeSocket() -> (theirs: Int32, mine: Int32)? {
        var fd: curl_socket_t = -1
        guard connectOnly, dsd_curl_easy_getinfo_socket(handle, &fd) == CURLE_OK, fd >= 0 else { return nil }
        let mine = dsd_dup_cloexec(fd)
        return mine >= 0 ? (fd, mine) : nil
    }

    deinit {
        dsd_curl_easy_cleanup(handle)
        dsd_curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Reconfigures the handle of a finished (and removed) transfer for `request`. A request of the
    /// same method, URL, headers, timeouts and TLS settings as the last one (a benchmark's) sets only
    /// its body: the header list, URL and callbacks stay as libcurl has them. Any other request
    /// starts from `curl_easy_reset`. Throws as `init` does.
    func reuse(request new: HTTPRequest, handler: TransferHandler?) throws(HTTPError) {
        let old = request
        request = new
        self.handler = handler
        status = 0
        headers = HTTPHeaders()
        headersDone = false
        body.removeAll(keepingCapacity: true)
        bytesReceived = 0
        chunkCount = 0
        timings = TransferTimings(start: .now())
        errorBuffer[0] = 0
        if Self.sameShape(old, new), new.body != nil {
            try setBody()
        } else if !Self.sameShape(old, new) {
            dsd_curl_easy_reset(handle)
            dsd_curl_slist_free_all(headerList)
            headerList = nil
            try configure()
        }
    }

    /// Whether two requests differ at most in their bodies (both have one, or neither).
    private static func sameShape(_ a: HTTPRequest, _ b: HTTPRequest) -> Bool {
        a.method == b.method && a.url == b.url && (a.body == nil) == (b.body == nil) && a.timeout == b.timeout
            && a.connectTimeout == b.connectTimeout && a.unixSocketPath == b.unixSocketPath && a.tls == b.tls
            && a.headers == b.headers && a.freshConnection == b.freshConnection
    }

    /// Ends the transfer's use of the handle (drops its handler); true when it may be reused.
    func release() -> Bool {
        handler = nil
        return !poisoned
    }

    /// Marks the handle as not reusable.
    func discard() {
        poisoned = true
        handler = nil
    }

    /// The text curl left in its error buffer for the last failure.
    var errorDetail: String { String(cString: errorBuffer) }

    private func fail(_ message: String) -> HTTPError {
        HTTPError(kind: .invalidRequest, message: message, method: request.method, url: request.url)
    }

    private func check(_ code: CURLcode, _ what: String) throws(HTTPError) {
        guard code == CURLE_OK else {
            let reason = dsd_curl_easy_strerror(code).map { String(cString: $0) } ?? "code \(code.rawValue)"
            throw HTTPError.fromCurl(code, detail: "setting \(what): " + reason, request: request)
        }
    }

    private func configure() throws(HTTPError) {
        let r = request
        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(dsd_curl_easy_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer), "error buffer")
        try check(dsd_curl_easy_setopt_str(handle, CURLOPT_URL, r.url), "URL")
        try check(dsd_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "nosignal")
        try check(dsd_curl_easy_setopt_str(handle, CURLOPT_PROXY, ""), "proxy")
        try check(dsd_curl_easy_setopt_ptr(handle, CURLOPT_PRIVATE, me), "private")
        let connect = r.connectTimeout ?? (r.timeout > 0 ? min(r.timeout, 10) : 10)
        try check(dsd_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(connect * 1000))),
                  "connect timeout")
        if connectOnly {
            try check(dsd_curl_easy_setopt_long(handle, CURLOPT_CONNECT_ONLY, 1), "connect only")
            // Always a new connection, never one from libcurl's pool: the socket becomes ours. (Not
            // CURLOPT_FORBID_REUSE: with it libcurl closes the connection as the connect ends.)
            try check(dsd_curl_easy_setopt_long(handle, CURLOPT_FRESH_CONNECT, 1), "fresh connection")
            return
        }
        try check(dsd_curl_easy_setopt_writefn(handle, CURLOPT_WRITEFUNCTION, easyWriteCallback), "write")
        try check(dsd_curl_easy_setopt_ptr(handle, CURLOPT_WRITEDATA, me), "write data")
        try check(dsd_curl_easy_setopt_writefn(handle, CURLOPT_HEADERFUNCTION, easyHeaderCallback), "header")
        try check(dsd_curl_easy_setopt_ptr(handle, CURLOPT_HEADERDATA, me), "header data")
        if r.timeout > 0 {
            try check(dsd_curl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(r.timeout * 1000)), "timeout")
        }
        if let path = r.unixSocketPath {
            try check(dsd_curl_easy_setopt_str(handle, CURLOPT_UNIX_SOCKET_PATH, path), "unix socket")
        }
        if r.freshConnection {
            try check(dsd_curl_easy_setopt_long(handle, CURLOPT_FRESH_CONNECT, 1), "fresh connection")
            try check(dsd_curl_easy_setopt_long(handle, CURLOPT_FORBID_REUSE, 1), "no reuse")
        }
        try check(dsd_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, r.tls.verifyPeer ? 1 : 0), "verify")
        try check(dsd_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, r.tls.verifyPeer ? 2 : 0), "verify host")
        if let ca = r.tls.caBundle {
            try check(dsd_curl_easy_setopt_str(handle, CURLOPT_CAINFO, ca), "CA bundle")
        }
        if let ca = r.tls.caPEM { try setBlob(CURLOPT_CAINFO_BLOB, ca, "CA certificates") }
        if let cert = r.tls.clientCertificatePEM {
            try setBlob(CURLOPT_SSLCERT_BLOB, cert, "client certificate")
            try check(dsd_curl_easy_setopt_str(handle, CURLOPT_SSLCERTTYPE, "PEM"), "client certificate type")
        }
        if let key = r.tls.clientKeyPEM {
            try setBlob(CURLOPT_SSLKEY_BLOB, key, "client key")
            try check(dsd_curl_easy_setopt_str(handle, CURLOPT_SSLKEYTYPE, "PEM"), "client key type")
        }
        try configureMethodAndBody()
        try configureHeaders()
    }

    /// An in-memory PEM option (libcurl copies it).
    private func setBlob(_ option: CURLoption, _ bytes: [UInt8], _ what: String) throws(HTTPError) {
        let code = bytes.withUnsafeBytes { dsd_curl_easy_setopt_blob(handle, option, $0.baseAddress, $0.count) }
        try check(code, what)
    }

    private func configureMethodAndBody() throws(HTTPError) {
        let method = request.method.uppercased()
        guard !method.isEmpty, method.allSatisfy({ $0.isLetter }) else { throw fail("bad method '\(request.method)'") }
        if request.body != nil {
            try setBody()
            if method != "POST" { try check(dsd_curl_easy_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method), "method") }
        } else if method == "GET" {
            try check(dsd_curl_easy_setopt_long(handle, CURLOPT_HTTPGET, 1), "GET")
        } else if method == "HEAD" {
            try check(dsd_curl_easy_setopt_long(handle, CURLOPT_NOBODY, 1), "HEAD")
        } else if method == "POST" {
            try check(dsd_curl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, 0), "body size")
            try check(dsd_curl_easy_setopt_str(handle, CURLOPT_COPYPOSTFIELDS, ""), "body")
        } else {
            try check(dsd_curl_easy_setopt_str(handle, CURLOPT_CUSTOMREQUEST, method), "method")
        }
    }

    /// The request's body (libcurl copies it).
    private func setBody() throws(HTTPError) {
        guard let body = request.body else { return }
        do throws(HTTPError) {
            try check(dsd_curl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "body size")
            let code = body.withUnsafeBytes { raw -> CURLcode in
                guard let base = raw.baseAddress else { return dsd_curl_easy_setopt_str(handle, CURLOPT_COPYPOSTFIELDS, "") }
                return dsd_curl_easy_setopt_ptr(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
            }
            try check(code, "body")
        } catch {
            poisoned = true
            throw error
        }
    }

    private func configureHeaders() throws(HTTPError) {
        var lines = ["Expect:"]
        for field in request.headers {
            if let problem = field.problem { throw fail(problem) }
            lines.append(field.value.isEmpty ? field.name + ";" : field.name + ": " + field.value)
        }
        for line in lines {
            guard let next = dsd_curl_slist_append(headerList, line) else { throw fail("out of memory for headers") }
            headerList = next
        }
        try check(dsd_curl_easy_setopt_ptr(handle, CURLOPT_HTTPHEADER, headerList), "headers")
    }

    /// Called by the header callback with one raw header line (CRLF included). Read as bytes:
    /// only a field's name and value become strings (this ran once per line of every response).
    func headerLine(_ raw: UnsafeRawBufferPointer) {
        if headersDone { return }  // trailers
        var n = raw.count
        while n > 0, raw[n - 1] == 0x0A || raw[n - 1] == 0x0D { n -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: raw[0..<n])
        if n >= 5, line[0] == 0x48, line[1] == 0x54, line[2] == 0x54, line[3] == 0x50, line[4] == 0x2F {  // "HTTP/"
            headers = HTTPHeaders()
            // The status code: the second space-separated field.
            var i = 0
            while i < n, line[i] != 0x20 { i += 1 }
            while i < n, line[i] == 0x20 { i += 1 }
            var code = 0, digits = 0
            while i < n, line[i] != 0x20 {
                let d = line[i] &- 0x30
                if d > 9 || digits > 9 { digits = -1; break }
                code = code * 10 + Int(d)
                digits += 1
                i += 1
            }
            status = digits > 0 ? code : 0
        } else if n == 0 {
            if status >= 200 || status == 0 { finishHeaders() }
        } else if let colon = line.firstIndex(of: 0x3A) {
            var a = colon + 1, b = n
            while a < b, line[a] == 0x20 || line[a] == 0x09 { a += 1 }
            while b > a, line[b - 1] == 0x20 || line[b - 1] == 0x09 { b -= 1 }
            headers.add(String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<colon]), as: UTF8.self),
                        String(decoding: UnsafeRawBufferPointer(rebasing: line[a..<b]), as: UTF8.self))
        }
    }

    private func finishHeaders() {
        guard !headersDone else { return }
        headersDone = true
        if status == 0 {
            var code = 0
            if dsd_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK { status = code }
        }
        let now = MonotonicTime.now()
        timings.headers = now
        handler?.onHeaders(HTTPResponseHead(status: status, headers: headers, time: now))
    }

    /// Called by the write callback with one body chunk.
    func received(_ chunk: UnsafeRawBufferPointer) {
        if !headersDone { finishHeaders() }
        let now = MonotonicTime.now()
        if timings.firstByte == nil { timings.firstByte = now }
        if recordChunkTimes { timings.chunks.append(now) }
        bytesReceived += chunk.count
        chunkCount += 1
        if collectBody { body.append(contentsOf: chunk) }
        handler?.onData(chunk, now)
    }

    /// The summary after a successful transfer.
    func summary() -> TransferSummary {
        if !headersDone { finishHeaders() }
        return TransferSummary(status: status, headers: headers, bytesReceived: bytesReceived,
                               chunkCount: chunkCount, timings: timings)
    }
}

/// CURLOPT_WRITEFUNCTION: forwards a body chunk to the `EasyHandle` in userdata.
let easyWriteCallback: dsd_curl_data_fn = { ptr, size, nmemb, userdata in
    let count = size &* nmemb
    guard let userdata else { return 0 }
    // The handle outlives its transfer: no retain/release per body chunk.
    Unmanaged<EasyHandle>.fromOpaque(userdata)._withUnsafeGuaranteedRef {
        $0.received(UnsafeRawBufferPointer(start: ptr, count: ptr == nil ? 0 : count))
    }
    return count
}

/// CURLOPT_HEADERFUNCTION: forwards a header line to the `EasyHandle` in userdata.
let easyHeaderCallback: dsd_curl_data_fn = { ptr, size, nmemb, userdata in
    let count = size &* nmemb
    guard let userdata else { return 0 }
    let easy = Unmanaged<EasyHandle>.fromOpaque(userdata).takeUnretainedValue()
    easy.headerLine(UnsafeRawBufferPointer(start: ptr, count: ptr == nil ? 0 : count))
    return count
}
