internal import CCurl
import Synchronization

/// Blocking one-shot HTTP over libcurl's easy interface: one request, one connection, whole body.
///
/// For readiness probes and config read-back. Safe to use from any thread; each call has its own
/// curl handle. Proxy environment variables are ignored: requests always go straight to the URL.
public struct HTTPClient: Sendable {
    /// Creates a client.
    public init() {}

    /// Sends `request` and waits for the whole response.
    ///
    /// Any HTTP status, 4xx and 5xx included, is a response; errors are only for transfers that did
    /// not complete (connection refused, timeout, DNS, TLS, broken connection, bad request).
    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let easy = try EasyHandle(request: request, handler: nil, collectBody: true, recordChunkTimes: false)
        let code = dsd_curl_easy_perform(easy.handle)
        guard code == CURLE_OK else {
            throw HTTPError.fromCurl(code, detail: easy.errorDetail, request: request)
        }
        let summary = easy.summary()
        return HTTPResponse(status: summary.status, headers: summary.headers, body: easy.body)
    }

    /// `GET url` with the given timeout in seconds.
    public func get(_ url: String, timeout: Double = 10, headers: HTTPHeaders = []) throws(HTTPError) -> HTTPResponse {
        try send(HTTPRequest(method: "GET", url: url, headers: headers, timeout: timeout))
    }

    /// `POST url` with a JSON body.
    public func postJSON(_ url: String, json: String, timeout: Double = 30,
                         headers: HTTPHeaders = []) throws(HTTPError) -> HTTPResponse {
        try send(.json("POST", url: url, json: json, headers: headers, timeout: timeout))
    }

    /// The linked libcurl's version line (`libcurl/7.88.1 OpenSSL/3.0.17 zlib/1.2.13 ...`).
    public static var libcurlVersion: String { CurlGlobal.version }
}

/// Collects a streamed response into an `HTTPResponse`; used by `CurlMulti.send`.
final class ResponseCollector: Sendable {
    private let state = Mutex<(head: HTTPResponseHead?, body: [UInt8])>((nil, []))

    func head(_ head: HTTPResponseHead) { state.withLock { $0.head = head } }

    func data(_ chunk: UnsafeRawBufferPointer) { state.withLock { $0.body.append(contentsOf: chunk) } }

    func response(_ summary: TransferSummary) -> HTTPResponse {
        state.withLock { HTTPResponse(status: summary.status, headers: summary.headers, body: $0.body) }
    }
}

extension CurlMulti {
    /// Sends `request` on this multi's loop and returns the whole response (body collected in memory).
    public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let collector = ResponseCollector()
        let result: Result<HTTPResponse, HTTPError> = await withCheckedContinuation { cont in
            start(request, handler: TransferHandler(
                onHeaders: { collector.head($0) },
                onData: { chunk, _ in collector.data(chunk) },
                onComplete: { result in cont.resume(returning: result.map { collector.response($0) }) }))
        }
        return try result.get()
    }
}
