public import CurlHTTP
import Foundation

/// How the GPUStack client reaches the server: whole requests, and streamed watch bodies.
///
/// The real one is libcurl (`CurlGPUStackTransport`); tests use an in-memory GPUStack.
public protocol GPUStackTransport: Sendable {
    /// Sends one request and returns the whole response (any status); throws only when no response came.
    func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse

    /// Streams a response body: `onChunk` gets each chunk and returns false to stop. Returns when
    /// `onChunk` stopped the stream, the server ended it (with its status) or `timeout` seconds passed.
    func stream(_ request: HTTPRequest, timeout: Double,
                onChunk: @escaping @Sendable ([UInt8]) -> Bool) -> GPUStackStreamEnd
}

/// Why a streamed response ended.
public enum GPUStackStreamEnd: Sendable, Equatable {
    /// The consumer asked to stop.
    case stopped
    /// The server ended the body; the HTTP status it answered with.
    case ended(status: Int)
    /// The wait ran out.
    case timedOut
    /// The transfer failed.
    case failed(HTTPError)
}

/// The libcurl transport: `HTTPClient` for requests, a `CurlMulti` transfer for watch streams.
public final class CurlGPUStackTransport: GPUStackTransport {
    private let client = HTTPClient()

    /// Creates a transport.
    public init() {}

    /// Sends one request.
    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse { try client.send(request) }

    /// Streams a body on a private multi loop.
    public func stream(_ request: HTTPRequest, timeout: Double,
                       onChunk: @escaping @Sendable ([UInt8]) -> Bool) -> GPUStackStreamEnd {
        let multi: CurlMulti
        do { multi = try CurlMulti() } catch { return .failed(error) }
        defer { multi.shutdown() }
        let done = DispatchSemaphore(value: 0)
        let outcome = StreamOutcome()
        var req = request
        req.timeout = 0
        let id = multi.start(req, handler: TransferHandler(
            onHeaders: { head in outcome.setStatus(head.status) },
            onData: { chunk, _ in
                if outcome.isStopped { return }
                if !onChunk(Array(chunk)) {
                    outcome.stop()
                    done.signal()
                }
            },
            onComplete: { result in
                switch result {
                case .success(let s): outcome.finish(.ended(status: s.status))
                case .failure(let e): outcome.finish(e.kind == .cancelled ? .stopped : .failed(e))
                }
                done.signal()
            }))
        let waited = done.wait(timeout: .now() + timeout)
        if waited == .timedOut {
            multi.cancel(id)
            return .timedOut
        }
        if outcome.isStopped { multi.cancel(id); return .stopped }
        return outcome.end ?? .stopped
    }
}

/// Shared state of one streamed transfer.
private final class StreamOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var status = 0
    private var ended: GPUStackStreamEnd?

    var isStopped: Bool { lock.withLock { stopped } }
    var end: GPUStackStreamEnd? { lock.withLock { ended } }
    func stop() { lock.withLock { stopped = true } }
    func setStatus(_ s: Int) { lock.withLock { status = s } }
    func finish(_ e: GPUStackStreamEnd) { lock.withLock { if ended == nil { ended = e } } }
}
