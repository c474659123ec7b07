internal import CCurl
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One event loop thread driving many concurrent transfers through libcurl's multi interface.
///
/// `start` may be called from any thread; callbacks run on the loop thread. On Linux the loop is
/// `curl_multi_socket_action` over epoll (work per wake-up grows with the sockets that are ready,
/// not with all open transfers), woken through an eventfd when work is queued; elsewhere it is
/// `curl_multi_perform` + `curl_multi_poll`, woken by `curl_multi_wakeup`.
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
    ///   - maxCachedConnections: idle connections kept open for reuse (nil: libcurl's default, 4 ×
    ///     the transfers in progress, so connections opened together are closed as they finish).
    ///   - directHTTP1: write `http://` requests and read their responses here (`DirectHTTP1`) on
    ///     connections libcurl opens, instead of through libcurl's transfer (Linux; a client of many
    ///     streams of small reads: a benchmark). TLS and the rest still go through libcurl.
    ///     `maxTotalConnections` and `maxConnectionsPerHost` do not limit these transfers.
    ///   - wakeInterval: with `directHTTP1`, the most time in seconds between two wake-ups of the
    ///     loop while only those transfers are in progress and arrivals are dense (0: wake on every
    ///     arrival). What arrives in between is read at the next wake-up, timed by the kernel's
    ///     receive stamps, so chunk times stay arrival times; a request queued from another thread
    ///     still wakes the loop at once. Transfer callbacks shorten it through `wakeInterval`
    ///     (`WakeInterval`) to suit the streams and responses they see.
    ///   - wakeIntervalStartCap: the most the interval is until a first response's time is noted
    ///     (`WakeInterval.noteLatency`); nil: `wakeInterval`.
    ///   - batchedReads: with `directHTTP1`, read every socket through a multishot receive
    ///     (io_uring, Linux 6.1 or later: armed once per connection; the reads due at a wake-up run
    ///     a batch per system call, and the loop waits in the ring, watching epoll through it);
    ///     where io_uring is not there, or false, epoll reports each socket and each is read with
    ///     its own `recvmsg`.
    public init(maxTotalConnections: Int = 0, maxConnectionsPerHost: Int = 0,
                recordChunkTimes: Bool = true, maxCachedConnections: Int? = nil,
                directHTTP1: Bool = false, wakeInterval: Double = 0,
                wakeIntervalStartCap: Double? = nil, batchedReads: Bool = true) throws(HTTPError) {
        try CurlGlobal.require(method: "-", url: "-")
        guard let multi = dsd_curl_multi_init() else {
            throw HTTPError(kind: .other, message: "curl_multi_init failed", method: "-", url: "-")
        }
        _ = dsd_curl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxTotalConnections)
        _ = dsd_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        if let maxCachedConnections {
            _ = dsd_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(maxCachedConnections, 1))
        }
        loop = MultiLoop(multi: multi, recordChunkTimes: recordChunkTimes,
                         direct: directHTTP1 ? max(maxCachedConnections ?? 64, 1) : nil,
                         wakeInterval: max(0, min(wakeInterval, 1)), wakeIntervalStartCap: wakeIntervalStartCap,
                         batchedReads: batchedReads)
        let l = loop
        guard startThread({ l.run() }) else {
            dsd_curl_multi_cleanup(multi)
            throw HTTPError(kind: .other, message: "could not start the loop thread", method: "-", url: "-")
        }
    }

    deinit { loop.stop(wait: false) }

    /// How many reads of `directHTTP1` transfers came through io_uring (`batchedReads`).
    public var batchedReadCount: Int { loop.direct?.batchedReadsSeen.load(ordering: .relaxed) ?? 0 }

    /// The wake interval in force (0 without `directHTTP1`), and what shortens it (`WakeInterval`).
    public var wakeInterval: WakeInterval { loop.pace }

    /// Queues a transfer; its handler's `onComplete` is called exactly once.
    ///
    /// Called from one of this multi's callbacks (on its loop thread), the transfer is queued
    /// without a lock hand-off or a wake-up and goes to libcurl as soon as the callback returns:
    /// a client that starts its next request when one completes pays no thread hop for it.
    @discardableResult
    public func start(_ request: HTTPRequest, handler: TransferHandler) -> TransferID {
        loop.enqueue(request, handler: handler, start: .now())
    }

    /// Runs `work` on the loop thread (from the loop thread itself: right after the current
    /// callback returns). Work still queued when the multi shuts down is dropped.
    public func execute(_ work: @escaping @Sendable () -> Void) { loop.execute(work) }

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
        var work: [@Sendable () -> Void] = []
        var cancels: [CurlMulti.TransferID] = []
        var stopping = false
        var finished = false
        var active = 0
        var loopThread: pthread_t?
    }

    private let multi: UnsafeMutableRawPointer
    private let recordChunkTimes: Bool
    private let shared = Mutex(Shared())
    private let exited = DispatchSemaphore(value: 0)
    /// The loop thread, once it runs (0 before): `enqueue` from it skips the lock hand-off and the wake-up.
    private let loopThreadKey = Atomic<UInt>(0)
    /// Transfers and work queued from the loop thread itself (loop thread only).
    @exclusivity(unchecked) private var localPending: [Pending] = []
    @exclusivity(unchecked) private var localWork: [@Sendable () -> Void] = []
    /// Easy handles of finished transfers, kept configured for the next transfer (loop thread only):
    /// one of the same URL, method, headers and options sets only its body.
    private var idleHandles: [EasyHandle] = []
    private static let maxIdleHandles = 4096
    private var byHandle: [UnsafeMutableRawPointer: (id: CurlMulti.TransferID, easy: EasyHandle)] = [:]
    private var byID: [CurlMulti.TransferID: UnsafeMutableRawPointer] = [:]
    /// epoll instance (-1: not available, use perform + poll).
    private let epfd: Int32
    /// Wake-up eventfd (read end = write end on Linux).
    private let wakeRead: Int32
    private var wakeWrite: Int32 = -1
    /// Sockets libcurl asked us to watch (loop thread only).
    private var watched: Set<Int32> = []
    /// When libcurl wants `CURL_SOCKET_TIMEOUT` next (nil: no timer).
    @exclusivity(unchecked) private var timerDeadline: MonotonicTime?
    /// Plain-HTTP/1.1 transfers read here (nil: every transfer goes through libcurl).
    @exclusivity(unchecked) private(set) var direct: DirectHTTP1?
    /// Most time between two wake-ups while only `direct` transfers run (0: no wait).
    let pace: WakeInterval
    /// When the last wait returned with events (monotonic ns).
    @exclusivity(unchecked) private var lastWake: UInt64 = 0
    /// Whether arrivals come densely enough for a wait to gather several (see `waitOutInterval`).
    @exclusivity(unchecked) private var dense = false
    /// The last look at epoll found events: look again before waiting in `direct`'s ring.
    @exclusivity(unchecked) private var epollBusy = false

    /// `direct`: keep `DirectHTTP1` transfers, with at most this many idle connections (needs epoll).
    /// `wakeInterval`: see `CurlMulti.init`.
    init(multi: UnsafeMutableRawPointer, recordChunkTimes: Bool, direct maxIdle: Int? = nil, wakeInterval: Double = 0,
         wakeIntervalStartCap: Double? = nil, batchedReads: Bool = true) {
        self.multi = multi
        self.recordChunkTimes = recordChunkTimes
        pace = WakeInterval(maxIdle == nil ? 0 : wakeInterval, startCap: wakeIntervalStartCap)
        var w: Int32 = -1
        let r = dsd_wake_fd_create(&w)
        let e = r >= 0 ? dsd_epoll_create() : -1
        if e >= 0, dsd_epoll_ctl(e, 1 /* EPOLL_CTL_ADD */, r, 1, 0, 0) == 0 {
            epfd = e
            wakeRead = r
            wakeWrite = w
        } else {
            if e >= 0 { close(e) }
            if r >= 0 { close(r) }
            epfd = -1
            wakeRead = -1
        }
        if epfd >= 0 {
            let me = Unmanaged.passUnretained(self).toOpaque()
            _ = dsd_curl_multi_set_socket_callbacks(multi, { _, fd, what, userp, _ in
                guard let userp else { return 0 }
                Unmanaged<MultiLoop>.fromOpaque(userp).takeUnretainedValue().socketChanged(fd, what: what)
                return 0
            }, { _, timeoutMs, userp in
                guard let userp else { return 0 }
                let loop = Unmanaged<MultiLoop>.fromOpaque(userp).takeUnretainedValue()
                loop.timerDeadline = timeoutMs < 0 ? nil
                    : MonotonicTime(nanoseconds: MonotonicTime.now().nanoseconds + UInt64(timeoutMs) * 1_000_000)
                return 0
            }, me)
            if let maxIdle {
                direct = DirectHTTP1(loop: self, epfd: epfd, recordChunkTimes: recordChunkTimes, maxIdle: maxIdle,
                                     batchedReads: batchedReads)
            }
        }
    }

    /// CURLMOPT_SOCKETFUNCTION: watch `fd` for what libcurl wants (on the loop thread).
    private func socketChanged(_ fd: Int32, what: Int32) {
        if what == 4 /* CURL_POLL_REMOVE */ {
            if watched.remove(fd) != nil { _ = dsd_epoll_ctl(epfd, 2 /* EPOLL_CTL_DEL */, fd, 0, 0, 0) }
            return
        }
        let wantIn: Int32 = (what & 1) != 0 ? 1 : 0, wantOut: Int32 = (what & 2) != 0 ? 1 : 0
        if watched.contains(fd) {
            _ = dsd_epoll_ctl(epfd, 3 /* EPOLL_CTL_MOD */, fd, wantIn, wantOut, 0)
        } else if dsd_epoll_ctl(epfd, 1 /* EPOLL_CTL_ADD */, fd, wantIn, wantOut, 0) == 0 {
            watched.insert(fd)
        }
    }

    var activeCount: Int { shared.withLock { $0.active } }

    private var onLoopThread: Bool { loopThreadKey.load(ordering: .relaxed) == currentThreadKey() }

    func enqueue(_ request: HTTPRequest, handler: TransferHandler, start: MonotonicTime) -> CurlMulti.TransferID {
        let local = onLoopThread
        let accepted: CurlMulti.TransferID? = shared.withLock { s in
            guard !s.stopping else { return nil }
            let id = CurlMulti.TransferID(raw: s.nextID)
            s.nextID += 1
            s.active += 1
            if !local { s.pending.append(Pending(id: id, request: request, handler: handler, start: start)) }
            return id
        }
        if local, let id = accepted {
            localPending.append(Pending(id: id, request: request, handler: handler, start: start))
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

    func execute(_ work: @escaping @Sendable () -> Void) {
        if onLoopThread {
            localWork.append(work)
            return
        }
        let queued = shared.withLock { s -> Bool in
            guard !s.stopping else { return false }
            s.work.append(work)
            return true
        }
        if queued { wake() }
    }

    /// Starts at once what callbacks on this thread queued (a transfer started by a completion is
    /// sent before the next read is handled, as after each epoll event).
    @inline(__always) func drainQueued() {
        if !localPending.isEmpty || !localWork.isEmpty { drainLocal() }
    }

    /// Adds the transfers and runs the work queued from the loop thread (until none is left: work
    /// may queue more).
    private func drainLocal() {
        while !localPending.isEmpty || !localWork.isEmpty {
            if !localPending.isEmpty {
                var batch: [Pending] = []
                swap(&batch, &localPending)
                for p in batch { add(p) }
                batch.removeAll(keepingCapacity: true)
                if localPending.isEmpty { swap(&batch, &localPending) }
            }
            if !localWork.isEmpty {
                var batch: [@Sendable () -> Void] = []
                swap(&batch, &localWork)
                for w in batch { w() }
            }
        }
    }

    func cancel(_ id: CurlMulti.TransferID) {
        shared.withLock { $0.cancels.append(id) }
        wake()
    }

    /// Wakes the loop's poll. Under the lock, so it never races with `curl_multi_cleanup`.
    private func wake() {
        shared.withLock { s in
            guard !s.finished else { return }
            if epfd >= 0 { dsd_wake_fd_signal(wakeWrite) } else { dsd_curl_multi_wakeup(multi) }
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
        loopThreadKey.store(currentThreadKey(), ordering: .relaxed)
        while true {
            let (pending, work, cancels, stopping) = shared.withLock { s in
                defer { s.pending = []; s.work = []; s.cancels = [] }
                return (s.pending, s.work, s.cancels, s.stopping)
            }
            for p in pending { add(p) }
            for w in work { w() }
            for id in cancels {
                if direct?.cancel(id) == true { continue }
                if let h = byID[id] { finish(h, result: nil, cancelled: true) }
            }
            drainLocal()
            if stopping {
                // Transfers queued from callbacks during shutdown are added and cancelled too.
                while true {
                    direct?.closeAll()
                    for h in Array(byHandle.keys) { finish(h, result: nil, cancelled: true) }
                    localWork.removeAll()
                    guard !localPending.isEmpty else { break }
                    drainLocal()
                }
                break
            }
            if epfd >= 0 {
                socketStep()
            } else {
                var running: Int32 = 0
                _ = dsd_curl_multi_perform(multi, &running)
                readMessages()
                _ = dsd_curl_multi_poll(multi, nil, 0, 1000, nil)
            }
        }
        idleHandles.removeAll()
        shared.withLock { s in
            s.finished = true
            dsd_curl_multi_cleanup(multi)
            if epfd >= 0 {
                close(epfd)
                close(wakeRead)
            }
        }
        exited.signal()
    }

    private let readyFDs = UnsafeMutablePointer<Int32>.allocate(capacity: 256)
    private let readyFlags = UnsafeMutablePointer<Int32>.allocate(capacity: 256)

    deinit {
        readyFDs.deallocate()
        readyFlags.deallocate()
    }

    /// One turn of the socket loop: run libcurl's due timer, wait for ready sockets (or a wake-up or
    /// the next timer, at most 1 s), act on exactly those sockets, then collect finished transfers.
    private func socketStep() {
        var running: Int32 = 0
        let direct = self.direct  // bound once per step, not retained and released per event
        if let d = timerDeadline, d.nanoseconds <= MonotonicTime.now().nanoseconds {
            timerDeadline = nil
            _ = dsd_curl_multi_socket_action(multi, -1 /* CURL_SOCKET_TIMEOUT */, 0, &running)
            readMessages()
        }
        var wait: Int32 = 1000
        var due = timerDeadline?.nanoseconds ?? .max
        if let direct { due = min(due, direct.nextDeadline) }
        if due != .max {
            let ms = (due - min(MonotonicTime.now().nanoseconds, due) + 999_999) / 1_000_000
            wait = Int32(min(ms, 1000))
        }
        if direct != nil, pace.nanoseconds > 0 { waitOutInterval(until: due) }
        var arrivals = 0
        var woke: UInt64 = 0
        let n: Int32
        if let direct, direct.hasRing {
            // Reads come through the ring, and the loop waits there; epoll (libcurl's sockets, the
            // wake-up descriptor, sockets waiting to send) is watched by the ring, and looked at when
            // that fired or when it had events last time (its level-triggered entries stay ready).
            if !epollBusy { direct.waitRing(nanoseconds: Int64(wait) * 1_000_000) }
            woke = MonotonicTime.now().nanoseconds
            direct.wakeUp()
            let (read, epoll) = direct.pump()
            arrivals = read
            n = epoll || epollBusy ? dsd_epoll_wait(epfd, readyFDs, readyFlags, 256, 0) : 0
            epollBusy = n > 0
        } else {
            n = dsd_epoll_wait(epfd, readyFDs, readyFlags, 256, wait)
            if n > 0, let direct {
                woke = MonotonicTime.now().nanoseconds
                direct.wakeUp()
                direct.prefetch(readyFDs, Int(n))
            }
        }
        if n > 0 {
            for k in 0..<Int(n) {
                let fd = readyFDs[k], f = readyFlags[k]
                if fd == wakeRead {
                    dsd_wake_fd_drain(wakeRead)
                    continue
                }
                if let direct, case let read = direct.ready(fd, flags: f), read >= 0 {
                    arrivals += read
                    drainQueued()
                    continue
                }
                let mask = ((f & 1) != 0 ? CURL_CSELECT_IN : 0) | ((f & 2) != 0 ? CURL_CSELECT_OUT : 0)
                    | ((f & 4) != 0 ? CURL_CSELECT_ERR : 0)
                _ = dsd_curl_multi_socket_action(multi, fd, Int32(mask), &running)
                drainQueued()
            }
        }
        if woke > 0 { noteWake(woke, arrivals: arrivals) }
        if let d = timerDeadline, d.nanoseconds <= MonotonicTime.now().nanoseconds {
            timerDeadline = nil
            _ = dsd_curl_multi_socket_action(multi, -1 /* CURL_SOCKET_TIMEOUT */, 0, &running)
        }
        readMessages()
        if let direct, direct.nextDeadline != .max, direct.expire(now: MonotonicTime.now().nanoseconds) {
            drainLocal()
        }
    }

    /// Notes a wake-up at `woke` that found `arrivals` of `DirectHTTP1`'s sockets ready: arrivals
    /// are dense when one wake-up found several, or came within half an interval of the previous
    /// one. Only then does `waitOutInterval` wait: for arrivals further apart than that a wait before the next
    /// one would only add a sleep and a wake-up of its own to each (one stream at 20 ms steps would
    /// wake twice per token).
    private func noteWake(_ woke: UInt64, arrivals: Int) {
        guard arrivals > 0 else { return }
        dense = arrivals > 1 || woke &- lastWake < pace.nanoseconds / 2
        lastWake = woke
    }

    /// Waits out the rest of the wake interval since the last wake-up (at most until `due`) while
    /// arrivals are dense (`noteWake`), unless libcurl has a transfer or a connect in progress (its
    /// reads carry no kernel stamp, so a wait would move their times) or another thread wakes the
    /// loop (a queued request is sent at once).
    private func waitOutInterval(until due: UInt64) {
        guard dense, byHandle.isEmpty, watched.isEmpty else { return }
        let now = MonotonicTime.now().nanoseconds
        let since = now &- lastWake
        guard since < pace.nanoseconds else { return }
        let left = min(pace.nanoseconds - since, due > now ? due - now : 0)
        if left > 0 { _ = dsd_wait_readable(wakeRead, Int64(left)) }
    }

    /// Hands every finished transfer to its handler.
    private func readMessages() {
        var left: Int32 = 0
        while let msg = dsd_curl_multi_info_read(multi, &left) {
            guard dsd_curl_msg_kind(msg) == CURLMSG_DONE, let h = dsd_curl_msg_easy(msg) else { continue }
            finish(h, result: dsd_curl_msg_result(msg), cancelled: false)
            // A transfer started by the completion goes to libcurl before the next one is handled.
            drainLocal()
        }
    }

    private func add(_ p: Pending) {
        if let direct, let (key, bytes) = DirectHTTP1.serialize(p.request) {
            direct.start(id: p.id, request: p.request, key: key, bytes: bytes, handler: p.handler, start: p.start)
            return
        }
        do throws(HTTPError) {
            let easy: EasyHandle
            if let idle = idleHandles.popLast() {
                easy = idle
                do throws(HTTPError) {
                    try easy.reuse(request: p.request, handler: p.handler)
                } catch {
                    // Left half-configured: not reused again.
                    easy.discard()
                    throw error
                }
            } else {
                easy = try EasyHandle(request: p.request, handler: p.handler, collectBody: false,
                                      recordChunkTimes: recordChunkTimes)
            }
            easy.timings.start = p.start
            let code = dsd_curl_multi_add_handle(multi, easy.handle)
            guard code == CURLM_OK else {
                let text = dsd_curl_multi_strerror(code).map { String(cString: $0) } ?? "curl_multi_add_handle failed"
                throw HTTPError(kind: .other, message: text, method: p.request.method, url: p.request.url)
            }
            byHandle[easy.handle] = (p.id, easy)
            byID[p.id] = easy.handle
        } catch {
            shared.withLock { $0.active -= 1 }
            p.handler.onComplete(.failure(error))
        }
    }

    /// Starts libcurl connecting for `DirectHTTP1`'s transfer `id`; its end calls `connectFinished`.
    func startConnect(_ request: HTTPRequest, id: CurlMulti.TransferID) throws(HTTPError) -> UnsafeMutableRawPointer {
        let easy = try EasyHandle(request: request, handler: nil, collectBody: false, recordChunkTimes: false,
                                  connectOnly: true)
        easy.timings.start = .now()
        let code = dsd_curl_multi_add_handle(multi, easy.handle)
        guard code == CURLM_OK else {
            let text = dsd_curl_multi_strerror(code).map { String(cString: $0) } ?? "curl_multi_add_handle failed"
            throw HTTPError(kind: .other, message: text, method: request.method, url: request.url)
        }
        byHandle[easy.handle] = (id, easy)
        byID[id] = easy.handle
        return easy.handle
    }

    /// Stops a connect started by `startConnect` without telling `DirectHTTP1` (which ended the transfer).
    func abandonConnect(_ handle: UnsafeMutableRawPointer) {
        guard let entry = byHandle.removeValue(forKey: handle) else { return }
        byID[entry.id] = nil
        dsd_curl_multi_remove_handle(multi, handle)
    }

    /// A `DirectHTTP1` transfer ended (its handler is called next).
    func transferEnded() { shared.withLock { $0.active -= 1 } }

    private func finish(_ handle: UnsafeMutableRawPointer, result: CURLcode?, cancelled: Bool) {
        guard let entry = byHandle.removeValue(forKey: handle) else { return }
        byID[entry.id] = nil
        if entry.easy.connectOnly {
            connected(entry.easy, id: entry.id, result: result, cancelled: cancelled)
            return
        }
        dsd_curl_multi_remove_handle(multi, handle)
        shared.withLock { $0.active -= 1 }
        let easy = entry.easy
        easy.timings.end = .now()
        let outcome: Result<TransferSummary, HTTPError>
        if cancelled {
            outcome = .failure(.cancelled(easy.request))
        } else if let result, result != CURLE_OK {
            outcome = .failure(HTTPError.fromCurl(result, detail: easy.errorDetail, request: easy.request))
        } else {
            outcome = .success(easy.summary())
        }
        let handler = easy.handler
        // Ready for the next transfer (the handler, which may start one, is called after this).
        if easy.release(), idleHandles.count < Self.maxIdleHandles { idleHandles.append(easy) }
        handler?.onComplete(outcome)
    }
}

extension MultiLoop {
    /// A connect-only transfer ended: hands its socket (a duplicate: libcurl closes its own on
    /// removal, and no longer watched by this loop's epoll) or its error to `DirectHTTP1`.
    private func connected(_ easy: EasyHandle, id: CurlMulti.TransferID, result: CURLcode?, cancelled: Bool) {
        var fd: Int32?
        if !cancelled, result == CURLE_OK, let (theirs, mine) = easy.takeSocket() {
            if watched.remove(theirs) != nil { _ = dsd_epoll_ctl(epfd, 2 /* EPOLL_CTL_DEL */, theirs, 0, 0, 0) }
            fd = mine
        }
        dsd_curl_multi_remove_handle(multi, easy.handle)
        var error: HTTPError?
        if fd == nil {
            let r = easy.request
            if cancelled {
                error = .cancelled(r)
            } else if let result, result != CURLE_OK {
                error = HTTPError.fromCurl(result, detail: easy.errorDetail, request: r)
            } else {
                error = HTTPError(kind: .other, message: "libcurl connected but gave no socket", method: r.method, url: r.url)
            }
        }
        direct?.connectFinished(id, fd: fd, error: error)
    }
}

/// A multi's wake interval: how long the loop may wait after a wake-up before it reads again
/// (`CurlMulti.init`'s `wakeInterval` is its ceiling). Two bounds keep the wait from moving what a
/// benchmark measures; transfer callbacks report what they see, on the loop thread:
///
/// - `noteGap`: chunks of one stream that arrive within one interval are read together and get one
///   time, so a stream faster than the interval would lose its gaps. A gap under twice the gap
///   bound sets that bound to a quarter of the gap (0 below 20 µs). The bound only falls.
/// - `noteLatency`: a response's end is read up to one interval late (on average half of one), and
///   in a closed loop the next request waits for that. The latency bound keeps the interval at most
///   `latencyShare` (1/200) of the mean response time so far, so that wait costs a closed loop's
///   throughput at most about 0.25 %. Until a first response ends the interval is at most
///   `startCap` (when set).
///
/// A run's warm-up request usually settles both before the timed run.
public final class WakeInterval: @unchecked Sendable {
    /// The share of a response's time the interval may be (see the type's documentation).
    static let latencyShare = 1.0 / 200
    /// The interval in force, in seconds.
    public private(set) var seconds = 0.0
    /// Twice the gap bound: a shorter gap lowers it (a gap at least this long never does).
    public private(set) var shortGap = 0.0
    private(set) var nanoseconds: UInt64 = 0
    /// The most the interval may be.
    private let ceiling: Double
    private let startCap: Double
    private var gapBound: Double
    private var latencySum = 0.0
    private var latencyCount = 0.0

    /// `ceiling` (seconds, ≥ 0); `startCap`: the most until a first `noteLatency` (nil: no cap).
    init(_ ceiling: Double, startCap: Double? = nil) {
        self.ceiling = max(0, ceiling)
        self.startCap = startCap ?? .infinity
        gapBound = self.ceiling
        update()
    }

    /// A gap of `gap` seconds between two chunks of one stream (their arrival times).
    public func noteGap(_ gap: Double) {
        guard gap < shortGap else { return }
        let next = max(gap, 0) / 4
        gapBound = min(gapBound, next < 20e-6 ? 0 : next)
        update()
    }

    /// A response of the workload that took `latency` seconds from its request's start to its last byte.
    public func noteLatency(_ latency: Double) {
        latencySum += max(latency, 0)
        latencyCount += 1
        update()
    }

    private func update() {
        let latencyBound = latencyCount > 0 ? latencySum / latencyCount * Self.latencyShare : startCap
        seconds = min(ceiling, gapBound, latencyBound)
        shortGap = 2 * gapBound
        nanoseconds = UInt64(seconds * 1e9)
    }
}

/// An identity of the calling thread, comparable with the loop thread's.
private func currentThreadKey() -> UInt {
    #if canImport(Darwin)
    UInt(bitPattern: pthread_self())
    #else
    UInt(pthread_self())
    #endif
}
