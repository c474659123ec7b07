internal import CCurl
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One event loop thread driving many concurrent transfers through libcurl's multi interface.
///
/// `start` may be called from any thread; callbacks run on the loop thread. The loop is
/// `curl_multi_perform` + `curl_multi_poll`, woken by `curl_multi_wakeup` when work is queued.
/// Call `shutdown()` (or drop the last reference) to cancel outstanding transfers and stop the thread.
public final class CurlMulti: Sendable {
    /// Identifies a transfer started on this multi, for `cancel`.
    public struct TransferID: Hashable, Sendable {
        /// Sequence number, unique per multi.
        public let raw: UInt64
    }

    private let loop: MultiLoop

    /// Creates the multi handle and starts its loop thread.
    /// - Parameters:
    ///   - maxTotalConnections: cap on open connections (0 = no cap; extra transfers queue in curl).
    ///   - maxConnectionsPerHost: cap per host (0 = no cap).
    ///   - recordChunkTimes: keep every chunk's arrival time in `TransferTimings.chunks`.
    public init(maxTotalConnections: Int = 0, maxConnectionsPerHost: Int = 0,
                recordChunkTimes: Bool = true) throws(HTTPError) {
        CurlGlobal.ensure()
        guard let multi = curl_multi_init() else {
            throw HTTPError(kind: .other, message: "curl_multi_init failed", method: "-", url: "-")
        }
        _ = dsd_curl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxTotalConnections)
        _ = dsd_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        loop = MultiLoop(multi: multi, recordChunkTimes: recordChunkTimes)
        let l = loop
        guard startThread({ l.run() }) else {
            curl_multi_cleanup(multi)
            throw HTTPError(kind: .other, message: "could not start the loop thread", method: "-", url: "-")
        }
    }

    deinit { loop.stop(wait: false) }

    /// Queues a transfer; its handler's `onComplete` is called exactly once.
    @discardableResult
    public func start(_ request: HTTPRequest, handler: TransferHandler) -> TransferID {
        loop.enqueue(request, handler: handler, start: .now())
    }

    /// Cancels a transfer; its `onComplete` gets an error of kind `.cancelled` unless it already finished.
    public func cancel(_ id: TransferID) { loop.cancel(id) }

    /// Transfers queued or running.
    public var activeCount: Int { loop.activeCount }

    /// Cancels every outstanding transfer and stops the loop thread, waiting for it to exit.
    public func shutdown() { loop.stop(wait: true) }
}

/// The loop thread's state; everything outside `shared` is touched only on the loop thread.
final class MultiLoop: @unchecked Sendable {
    private struct Pending {
        var id: CurlMulti.TransferID
        var request: HTTPRequest
        var handler: TransferHandler
        var start: MonotonicTime
    }

    private struct Shared {
        var nextID: UInt64 = 1
        var pending: [Pending] = []
        var cancels: [CurlMulti.TransferID] = []
        var stopping = false
        var finished = false
        var active = 0
        var loopThread: pthread_t?
    }

    private let multi: UnsafeMutableRawPointer
    private let recordChunkTimes: Bool
    private let shared = Locked(Shared())
    private let exited = DispatchSemaphore(value: 0)
    private var byHandle: [UnsafeMutableRawPointer: (id: CurlMulti.TransferID, easy: EasyHandle)] = [:]
    private var byID: [CurlMulti.TransferID: UnsafeMutableRawPointer] = [:]

    init(multi: UnsafeMutableRawPointer, recordChunkTimes: Bool) {
        self.multi = multi
        self.recordChunkTimes = recordChunkTimes
    }

    var activeCount: Int { shared.withLock { $0.active } }

    func enqueue(_ request: HTTPRequest, handler: TransferHandler, start: MonotonicTime) -> CurlMulti.TransferID {
        let accepted: CurlMulti.TransferID? = shared.withLock { s in
            guard !s.stopping else { return nil }
            let id = CurlMulti.TransferID(raw: s.nextID)
            s.nextID += 1
            s.active += 1
            s.pending.append(Pending(id: id, request: request, handler: handler, start: start))
            return id
        }
        guard let id = accepted else {
            handler.onComplete(.failure(HTTPError(kind: .cancelled, message: "the multi was shut down",
                                                  method: request.method, url: request.url)))
            return CurlMulti.TransferID(raw: 0)
        }
        wake()
        return id
    }

    func cancel(_ id: CurlMulti.TransferID) {
        shared.withLock { $0.cancels.append(id) }
        wake()
    }

    /// Wakes the loop's poll. Under the lock, so it never races with `curl_multi_cleanup`.
    private func wake() {
        shared.withLock { s in
            if !s.finished { curl_multi_wakeup(multi) }
        }
    }

    func stop(wait: Bool) {
        let (first, onLoop): (Bool, Bool) = shared.withLock { s in
            defer { s.stopping = true }
            let onLoop = s.loopThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
            return (!s.stopping, onLoop)
        }
        wake()
        // From a callback on the loop thread itself, waiting would deadlock: the loop exits
        // once the callback returns.
        if first && wait && !onLoop { exited.wait() }
    }

    /// The loop body; returns after `stop`.
    func run() {
        shared.withLock { $0.loopThread = pthread_self() }
        while true {
            let (pending, cancels, stopping) = shared.withLock { s in
                defer { s.pending = []; s.cancels = [] }
                return (s.pending, s.cancels, s.stopping)
            }
            for p in pending { add(p) }
            for id in cancels { if let h = byID[id] { finish(h, result: nil, cancelled: true) } }
            if stopping {
                for h in Array(byHandle.keys) { finish(h, result: nil, cancelled: true) }
                break
            }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let msg = curl_multi_info_read(multi, &left) {
                guard dsd_curl_msg_kind(msg) == CURLMSG_DONE, let h = dsd_curl_msg_easy(msg) else { continue }
                finish(h, result: dsd_curl_msg_result(msg), cancelled: false)
            }
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        shared.withLock { s in
            s.finished = true
            curl_multi_cleanup(multi)
        }
        exited.signal()
    }

    private func add(_ p: Pending) {
        do throws(HTTPError) {
            let easy = try EasyHandle(request: p.request, handler: p.handler, collectBody: false,
                                      recordChunkTimes: recordChunkTimes)
            easy.timings.start = p.start
            let code = curl_multi_add_handle(multi, easy.handle)
            guard code == CURLM_OK else {
                let text = curl_multi_strerror(code).map { String(cString: $0) } ?? "curl_multi_add_handle failed"
                throw HTTPError(kind: .other, message: text, method: p.request.method, url: p.request.url)
            }
            byHandle[easy.handle] = (p.id, easy)
            byID[p.id] = easy.handle
        } catch {
            shared.withLock { $0.active -= 1 }
            p.handler.onComplete(.failure(error))
        }
    }

    private func finish(_ handle: UnsafeMutableRawPointer, result: CURLcode?, cancelled: Bool) {
        guard let entry = byHandle.removeValue(forKey: handle) else { return }
        byID[entry.id] = nil
        curl_multi_remove_handle(multi, handle)
        shared.withLock { $0.active -= 1 }
        let easy = entry.easy
        easy.timings.end = .now()
        guard let handler = easy.handler else { return }
        if cancelled {
            handler.onComplete(.failure(HTTPError(kind: .cancelled, message: "cancelled by the caller",
                                                  method: easy.request.method, url: easy.request.url)))
        } else if let result, result != CURLE_OK {
            handler.onComplete(.failure(HTTPError.fromCurl(result, detail: easy.errorDetail, request: easy.request)))
        } else {
            handler.onComplete(.success(easy.summary()))
        }
    }
}
