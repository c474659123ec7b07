internal import CCurl
import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Plain-HTTP/1.1 transfers whose request is written and whose response is read by this module,
/// on connections libcurl opened (`CURLOPT_CONNECT_ONLY`: it resolves, connects and times out the
/// connect as for any request). Used by a `CurlMulti` made with `directHTTP1: true`, for `http://`
/// URLs only; everything else (TLS, Unix sockets, credentials in the URL, requests that set their
/// own framing headers) still goes through libcurl's transfer.
///
/// Why: libcurl 7.88 polls the socket after every read to see whether more is pending
/// (`cf_socket_data_pending`), and runs its transfer state machine and timers once per read. For a
/// benchmark client that reads one token per read from hundreds of streams that was two thirds of
/// its CPU per token. Here a read is one pass of `HTTP1ResponseParser` over what one `recvmsg` or
/// one completion of the connection's multishot receive (`RxRing`, where io_uring is there) brought.
///
/// Connections are kept alive per host and reused (a reused connection the server had closed is
/// retried once on a new one, as libcurl does); `freshConnection` requests get their own. All of it
/// runs on the multi's loop thread.
///
/// Arrival times are the kernel's: each connection asks for receive stamps (`SO_TIMESTAMPNS`) and
/// each read brings the receive time of the last segment it read. A chunk's
/// time is therefore when it reached this host, not when this thread got to it, so the loop may
/// wait between wake-ups (`MultiLoop`'s wake interval) and read many streams at once without
/// moving a TTFT or an inter-token gap. Where no stamp comes (stamps refused, not Linux), the read's
/// own time is used, as before.
final class DirectHTTP1 {
    /// One connection this module owns (its socket is a duplicate of the one libcurl opened).
    final class Connection {
        // What every read touches comes first, within `hotBytes` of the object's start (prefetched
        // at each wake-up; `DirectHTTP1Tests.hotFieldsLieWhereTheyArePrefetched` checks the layout).
        // Loop thread only, read and written for every read: no run-time exclusivity checks.
        @exclusivity(unchecked) var transfer: Transfer?
        @exclusivity(unchecked) var parser = HTTP1ResponseParser()
        let fd: Int32
        /// The kernel stamps what arrives on it (`dsd_rx_timestamps_enable` succeeded).
        let stamped: Bool
        /// Closed (its descriptor may already belong to another socket).
        var closed = false
        /// Tells its receives' completions from those of an earlier connection on the same
        /// descriptor (`RxRing` tags: descriptor and serial). Set once, at its making (a `var` only so
        /// that the layout test can take its address).
        var serial: UInt32
        /// The object's header, `transfer`, `parser`, then `fd`, `stamped`, `closed` and `serial`
        /// in two words.
        static let hotBytes = 16 + 8 + MemoryLayout<HTTP1ResponseParser>.stride + 16

        let key: String
        /// Request bytes still to send (from `sent`).
        var out: [UInt8] = []
        var sent = 0
        var watchingOut = false
        /// Responses completed on it.
        var served = 0

        init(fd: Int32, key: String, stamped: Bool, serial: UInt32 = 0) {
            self.fd = fd
            self.key = key
            self.stamped = stamped
            self.serial = serial
        }

        /// The tag of its receives' completions.
        var tag: UInt64 { UInt64(UInt32(bitPattern: fd)) | UInt64(serial) << 32 }
    }

    /// One request's state.
    final class Transfer {
        // What every chunk touches comes first, within `hotBytes` (as in `Connection`).
        /// `handler.onData`, kept apart: calling it through `handler` copied all three closures per read.
        let onData: @Sendable (UnsafeRawBufferPointer, MonotonicTime) -> Void
        /// The time of its latest read (its start before one): a later read is never stamped earlier.
        @exclusivity(unchecked) var lastArrival: MonotonicTime
        @exclusivity(unchecked) var bytesReceived = 0
        @exclusivity(unchecked) var chunkCount = 0
        @exclusivity(unchecked) var timings: TransferTimings
        /// The object's header, `onData` (two words), `lastArrival`, `bytesReceived`, `chunkCount`, `timings`.
        static let hotBytes = 16 + 16 + 8 + 8 + 8 + MemoryLayout<TransferTimings>.stride

        let id: CurlMulti.TransferID
        let request: HTTPRequest
        let handler: TransferHandler
        let key: String
        let bytes: [UInt8]
        let deadline: UInt64
        var status = 0
        var headers = HTTPHeaders()
        var connection: Connection?
        /// The connect-only libcurl handle while connecting.
        var connecting: UnsafeMutableRawPointer?
        /// Sent again once on a new connection after a reused one turned out closed.
        var retried = false

        init(id: CurlMulti.TransferID, request: HTTPRequest, handler: TransferHandler, key: String,
             bytes: [UInt8], start: MonotonicTime) {
            self.id = id
            self.request = request
            self.handler = handler
            onData = handler.onData
            self.key = key
            self.bytes = bytes
            timings = TransferTimings(start: start)
            lastArrival = start
            deadline = request.timeout > 0 ? start.nanoseconds &+ UInt64(request.timeout * 1e9) : 0
        }
    }

    /// The loop that owns this (and outlives it): unowned(unsafe), as it is reached for every read
    /// (a checked unowned reference costs a retain and a release each time).
    private unowned(unsafe) let loop: MultiLoop
    private let epfd: Int32
    private let recordChunkTimes: Bool
    private let maxIdle: Int
    private var transfers: [CurlMulti.TransferID: Transfer] = [:]
    /// Open connections by descriptor (a table, not a dictionary: one load per socket event).
    @exclusivity(unchecked) private var byFD: [Connection?] = []
    /// By descriptor, `hotEntries` entries each: the memory a read of it touches (`noteHot`), as
    /// a line's address with the count of lines from it less one in the low bits; 0 ends the list.
    @exclusivity(unchecked) private var hot: [UInt] = []
    static let hotEntries = 8
    /// Kept-alive connections: a list per host (`idleHost`: its place in `idle`). The dictionary
    /// is only read; changing a list in it through its subscript allocated an accessor frame, twice
    /// per request.
    private var idle: [[Connection]] = []
    private var idleHost: [String: Int] = [:]
    private var idleCount = 0
    /// The earliest deadline of a transfer in progress (may be one already finished: then a sweep
    /// finds nothing due and computes the next).
    private(set) var nextDeadline: UInt64 = .max
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// CLOCK_MONOTONIC − CLOCK_REALTIME (ns), read at each wake-up (`wakeUp`): turns the kernel's
    /// receive stamps (real time) into monotonic readings, following any step of the real clock.
    @exclusivity(unchecked) private var stampOffset: Int64 = dsd_monotonic_minus_realtime_ns()

    /// Reads through multishot receives (`pump`), and the loop's wait when there is one (`waitRing`):
    /// nil: each socket is read with its own `recvmsg` when epoll reports it. Made on the loop
    /// thread with its first connection, as the ring takes submissions only from the thread that made it.
    private var ring: RxRing?
    /// The tag of the ring's watch of the loop's epoll instance.
    private static let epollTag = UInt64.max
    /// `ring` is still to be made (reads through io_uring asked for, not tried yet).
    private var ringWanted: Bool
    /// The serial of the next connection (`Connection.serial`).
    private var nextSerial: UInt32 = 0
    /// How many reads came through the ring; `batchedReadsSeen` is the same count for other threads
    /// (`CurlMulti.batchedReadCount`: the bench result, tests).
    private var batchedReadCount = 0
    let batchedReadsSeen = Atomic<Int>(0)

    init(loop: MultiLoop, epfd: Int32, recordChunkTimes: Bool, maxIdle: Int, batchedReads: Bool = true) {
        self.loop = loop
        self.epfd = epfd
        self.recordChunkTimes = recordChunkTimes
        self.maxIdle = maxIdle
        ringWanted = batchedReads
    }

    deinit { buffer.deallocate() }


    // MARK: - Requests

    /// The request as bytes, and its connection pool key, when this module can send it: an
    /// `http://` URL without credentials, a method of letters, no Unix socket, and no header that
    /// sets framing or the host (`Host`, `Content-Length`, `Transfer-Encoding`, `Connection`,
    /// `Expect`, `Upgrade`). A header libcurl's path would refuse (`HTTPHeader.problem`) leaves it to that path, which reports it.
    static func serialize(_ r: HTTPRequest) -> (key: String, bytes: [UInt8])? {
        guard r.unixSocketPath == nil else { return nil }
        // Framing and routing fields are dsdeploy's to write; a request that sets them goes to libcurl.
        if r.headers.contains(where: { field in Self.reservedFields.contains { field.name.equalsIgnoringASCIICase($0) } }) {
            return nil
        }
        var url = r.url
        return url.withUTF8 { u -> (key: String, bytes: [UInt8])? in
            let scheme: StaticString = "http://"
            let n = scheme.utf8CodeUnitCount
            guard u.count > n, (0..<n).allSatisfy({ u[$0] | 0x20 == scheme.utf8Start[$0] || u[$0] == scheme.utf8Start[$0] })
            else { return nil }
            let rest = UnsafeBufferPointer(rebasing: u[n...])
            guard !rest.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else { return nil }
            let authorityEnd = rest.firstIndex(where: { $0 == 0x2F || $0 == 0x3F || $0 == 0x23 }) ?? rest.count
            let authority = UnsafeBufferPointer(rebasing: rest[..<authorityEnd])
            guard !authority.isEmpty, !authority.contains(0x40) else { return nil }
            let target = rest[authorityEnd...].prefix { $0 != 0x23 }
            var out: [UInt8] = []
            out.reserveCapacity(256 + (r.body?.count ?? 0))
            // The method in upper case (letters only).
            for c in r.method.utf8 {
                let upper = (0x61...0x7A).contains(c) ? c - 0x20 : c
                guard (0x41...0x5A).contains(upper) else { return nil }
                out.append(upper)
            }
            guard !out.isEmpty else { return nil }
            let methodEnd = out.count  // (a copy of `out` here would be copied again by the next append)
            out.append(0x20)
            if target.first != 0x2F { out.append(0x2F) }
            out.append(contentsOf: target)
            out.append(contentsOf: " HTTP/1.1\r\nHost: ".utf8)
            out.append(contentsOf: authority)
            out.append(contentsOf: "\r\n".utf8)
            var accept = false
            for field in r.headers {
                guard field.problem == nil else { return nil }  // libcurl's path reports it
                if field.name.equalsIgnoringASCIICase("accept") { accept = true }
                var name = field.name, value = field.value
                name.withUTF8 { out.append(contentsOf: $0) }
                out.append(0x3A)
                out.append(0x20)
                value.withUTF8 { out.append(contentsOf: $0) }
                out.append(0x0D)
                out.append(0x0A)
            }
            if !accept { out.append(contentsOf: "Accept: */*\r\n".utf8) }
            if let body = r.body {
                out.append(contentsOf: "Content-Length: ".utf8)
                Self.appendDecimal(body.count, to: &out)
                out.append(contentsOf: "\r\n\r\n".utf8)
                out.append(contentsOf: body)
            } else if ["POST", "PUT", "PATCH"].contains(where: { out[..<methodEnd].elementsEqual($0.utf8) }) {
                out.append(contentsOf: "Content-Length: 0\r\n\r\n".utf8)
            } else {
                out.append(contentsOf: "\r\n".utf8)
            }
            let key = String(unsafeUninitializedCapacity: authority.count) { k in
                for (j, c) in authority.enumerated() { k[j] = (0x41...0x5A).contains(c) ? c + 0x20 : c }
                return authority.count
            }
            return (key, out)
        }
    }

    /// Fields a request may not set itself on this path (they frame or route the request).
    private static let reservedFields = ["host", "content-length", "transfer-encoding", "connection", "expect",
                                         "upgrade", "te"]

    /// Appends `n` (≥ 0) in decimal.
    private static func appendDecimal(_ n: Int, to out: inout [UInt8]) {
        if n >= 10 { appendDecimal(n / 10, to: &out) }
        out.append(UInt8(truncatingIfNeeded: n % 10) + 0x30)
    }

    /// Starts a transfer already serialized by `serialize`.
    func start(id: CurlMulti.TransferID, request: HTTPRequest, key: String, bytes: [UInt8],
               handler: TransferHandler, start: MonotonicTime) {
        let t = Transfer(id: id, request: request, handler: handler, key: key, bytes: bytes, start: start)
        transfers[id] = t
        if t.deadline > 0, t.deadline < nextDeadline { nextDeadline = t.deadline }
        if !request.freshConnection, let conn = takeIdle(key) {
            attach(t, to: conn)
        } else {
            connect(t)
        }
    }

    private func connect(_ t: Transfer) {
        do throws(HTTPError) {
            t.connecting = try loop.startConnect(t.request, id: t.id)
        } catch {
            complete(t, .failure(error))
        }
    }

    /// The connect-only transfer of `id` ended: with our duplicate of its socket, or an error.
    func connectFinished(_ id: CurlMulti.TransferID, fd: Int32?, error: HTTPError?) {
        guard let t = transfers[id] else {
            if let fd { close(fd) }
            return
        }
        t.connecting = nil
        guard let fd else {
            complete(t, .failure(error ?? HTTPError(kind: .connectionFailed, message: "no socket after connecting",
                                                     method: t.request.method, url: t.request.url)))
            return
        }
        if ringWanted { makeRing() }
        nextSerial &+= 1
        let conn = Connection(fd: fd, key: t.key, stamped: dsd_rx_timestamps_enable(fd) == 0, serial: nextSerial)
        // With the ring the socket is read by its receive, and watched by epoll only while a
        // request waits for room to be sent (`watchOut`).
        let watching = ring.map { $0.arm(fd, tag: conn.tag) } ?? (dsd_epoll_ctl(epfd, 1 /* EPOLL_CTL_ADD */, fd, 1, 0, 1) == 0)
        guard watching else {
            let why = String(cString: strerror(errno))
            shutDown(conn)
            complete(t, .failure(HTTPError(kind: .other, message: "cannot watch the connection: \(why)",
                                           method: t.request.method, url: t.request.url)))
            return
        }
        let slot = Int(fd)
        if slot >= byFD.count { byFD += repeatElement(nil, count: max(slot + 1 - byFD.count, 64)) }
        byFD[slot] = conn
        attach(t, to: conn)
    }

    /// Makes the ring (once; on the loop thread), watching the loop's epoll instance: from then on
    /// the loop waits in the ring (`waitRing`).
    private func makeRing() {
        ringWanted = false
        guard let r = RxRing(), r.watch(epfd, tag: Self.epollTag) else { return }
        ring = r
    }

    private func attach(_ t: Transfer, to conn: Connection) {
        t.connection = conn
        conn.transfer = t
        conn.parser = HTTP1ResponseParser(noBody: t.request.method.uppercased() == "HEAD")
        conn.out = t.bytes
        conn.sent = 0
        noteHot(conn)
        push(conn)
    }

    /// Records the memory a read of `conn` touches: its own first lines, its transfer's, and what
    /// the transfer's handler names (`TransferHandler.hotMemory`). Nothing is kept alive by it:
    /// the addresses are only prefetched (`prefetch`), never read through.
    /// Written in place: this runs twice per request, and arrays for the ranges and lines cost
    /// about 16 allocations each time.
    private func noteHot(_ conn: Connection) {
        let first = Int(conn.fd) * Self.hotEntries
        if hot.count < first + Self.hotEntries { hot += repeatElement(0, count: first + Self.hotEntries - hot.count) }
        let t = conn.transfer
        hot.withUnsafeMutableBufferPointer { all in
            let slots = UnsafeMutableBufferPointer(rebasing: all[first..<(first + Self.hotEntries)])
            var n = 0
            Self.addLines(UnsafeRawBufferPointer(start: Unmanaged.passUnretained(conn).toOpaque(), count: Connection.hotBytes),
                          to: slots, count: &n)
            if let t {
                Self.addLines(UnsafeRawBufferPointer(start: Unmanaged.passUnretained(t).toOpaque(), count: Transfer.hotBytes),
                              to: slots, count: &n)
                t.handler.hotMemory?({ Self.addLines($0, to: slots, count: &n) })
            }
            for k in n..<slots.count { slots[k] = 0 }
        }
    }

    /// `ranges` as at most `hotEntries` entries of `hot`: each the address of a cache line with
    /// the count of lines from it less one (up to 64 lines) in the low six bits. Empty ranges are
    /// left out; what does not fit is cut.
    static func hotLines(_ ranges: [UnsafeRawBufferPointer]) -> [UInt] {
        var out = [UInt](repeating: 0, count: hotEntries)
        var n = 0
        out.withUnsafeMutableBufferPointer { slots in
            for range in ranges { addLines(range, to: slots, count: &n) }
        }
        return Array(out.prefix(n))
    }

    /// Writes `range`'s entries into `slots` from `count` on, while there is room (see `hotLines`).
    private static func addLines(_ range: UnsafeRawBufferPointer, to slots: UnsafeMutableBufferPointer<UInt>,
                                 count: inout Int) {
        guard let start = range.baseAddress, range.count > 0 else { return }
        var line = UInt(bitPattern: start) & ~63
        let stop = UInt(bitPattern: start) + UInt(range.count)
        while line < stop, count < slots.count {
            let lines = min((stop - line + 63) / 64, 64)
            slots[count] = line | (lines - 1)
            count += 1
            line += lines * 64
        }
    }

    /// Prefetches the memory that reading each of the `n` descriptors at `fds` will touch
    /// (`noteHot`), all before any is read: a wake-up that finds many streams ready then waits
    /// for their cold state about once, not once per stream. Descriptors it does not know are skipped.
    func prefetch(_ fds: UnsafePointer<Int32>, _ n: Int) {
        hot.withUnsafeBufferPointer { h in
            for k in 0..<n { Self.prefetch(fds[k], h) }
        }
    }

    @inline(__always) private static func prefetch(_ fd: Int32, _ h: UnsafeBufferPointer<UInt>) {
        let first = Int(fd) * hotEntries
        guard first >= 0, first + hotEntries <= h.count else { return }
        for e in h[first..<(first + hotEntries)] {
            guard e != 0 else { break }
            var line = e & ~63
            for _ in 0...(e & 63) {
                dsd_prefetch_write(UnsafeRawPointer(bitPattern: line))
                line += 64
            }
        }
    }

    // MARK: - Socket events

    /// Called by the loop when a wait returns with events, before they are handled.
    func wakeUp() { stampOffset = dsd_monotonic_minus_realtime_ns() }

    /// The arrival time of a read: the kernel's receive stamp `real` (real-time ns; 0: none came,
    /// then now) on the monotonic clock, never before the transfer's previous read or its start.
    @inline(__always) private func arrival(_ real: Int64, _ t: Transfer) -> MonotonicTime {
        guard real > 0 else { return .now() }
        let mono = UInt64(bitPattern: real &+ stampOffset)
        return mono > t.lastArrival.nanoseconds ? MonotonicTime(nanoseconds: mono) : t.lastArrival
    }

    /// Handles a socket event if `fd` is one of these connections (`flags`: bit 0 readable, bit 1
    /// writable, bit 2 error or hang-up, bit 3 the peer shut down): the count of reads that brought
    /// bytes, or -1 when `fd` is not one of these.
    func ready(_ fd: Int32, flags: Int32) -> Int {
        let slot = Int(fd)
        guard slot < byFD.count, let conn = byFD[slot] else { return -1 }
        if flags & 2 != 0, conn.sent < conn.out.count { push(conn) }
        // Edge-triggered: a peer that has shut down (bit 3) or an error (bit 2) is read to the end.
        // With the ring, its receive reads (and sees an error or the end).
        guard ring == nil, flags & 13 != 0, !conn.closed else { return 0 }
        receive(conn, toTheEnd: flags & 12 != 0)
        return 1
    }

    /// Whether the loop waits in the ring (`waitRing`, then `pump`) rather than in epoll.
    var hasRing: Bool { ring != nil }

    /// Waits in the ring until a read is due or the loop's epoll instance has something, at most
    /// `nanoseconds`; submits the ring's queued receives first (new connections').
    func waitRing(nanoseconds: Int64) { ring?.wait(nanoseconds: nanoseconds) }

    /// Runs the ring's due reads and handles their completions until none is left: the count of
    /// those that brought bytes, and whether the loop's epoll instance became readable meanwhile.
    func pump() -> (arrivals: Int, epoll: Bool) {
        guard let ring else { return (0, false) }
        var arrivals = 0
        var epoll = false
        while case let events = ring.collect(), !events.isEmpty {
            arrivals += handle(events, ring, epoll: &epoll)
        }
        return (arrivals, epoll)
    }

    /// Handles completions of the ring's receives: bytes go to their connection's transfer (as
    /// `receive` hands them), each buffer back to the ring, and a receive that ended is armed again
    /// (the buffers ran out) or ends its connection.
    private func handle(_ events: RxRing.Completions, _ ring: RxRing, epoll: inout Bool) -> Int {
        hot.withUnsafeBufferPointer { h in
            for e in events { Self.prefetch(Int32(truncatingIfNeeded: e.tag), h) }
        }
        var arrivals = 0
        for e in events {
            if e.tag == Self.epollTag {
                epoll = true
                // Armed again when it ended. (Should that fail, epoll is still looked at after each
                // wake-up, and the ring's wait is bounded by the loop's timers and 1 s.)
                if !e.more { _ = ring.watch(epfd, tag: Self.epollTag) }
                continue
            }
            let slot = Int(Int32(truncatingIfNeeded: e.tag))
            // Completions of a closed connection (its last reads, its end): only the buffer matters.
            guard slot >= 0, slot < byFD.count, let conn = byFD[slot], conn.tag == e.tag, !conn.closed else {
                if e.buffer >= 0 { ring.release(e.buffer) }
                continue
            }
            if e.res > 0 {
                arrivals += 1
                batchedReadCount &+= 1
                batchedReadsSeen.store(batchedReadCount, ordering: .relaxed)  // a plain store on x86 and arm64
                if let t = conn.transfer {
                    let now = arrival(e.stamp, t)
                    t.lastArrival = now
                    consume(conn, t, UnsafeRawBufferPointer(start: e.data, count: e.res), at: now)
                } else {
                    drop(conn)  // bytes on an idle connection: nothing was asked; it cannot be trusted again
                }
            }
            if e.buffer >= 0 { ring.release(e.buffer) }
            loop.drainQueued()
            guard !e.more, !conn.closed else { continue }
            let code = e.res < 0 ? Int32(-e.res) : 0
            if e.res > 0 || code == ENOBUFS || code == EINTR || code == EAGAIN {
                if !ring.arm(conn.fd, tag: conn.tag) { fail(conn, kind: .transport, "Recv failure: cannot read on") }
            } else {
                ended(conn, code: code)
            }
        }
        return arrivals
    }

    /// Sends what is left of the request (watching for writability when the socket is full).
    private func push(_ conn: Connection) {
        guard let t = conn.transfer else { return }
        while conn.sent < conn.out.count {
            let n = conn.out.withUnsafeBytes { b in
                send(conn.fd, b.baseAddress! + conn.sent, b.count - conn.sent, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                conn.sent += n
                continue
            }
            if n < 0, errno == EINTR { continue }
            if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                if !conn.watchingOut { watchOut(conn, true) }
                return
            }
            let code = errno
            // A reused connection the server closed while idle: send on a new one.
            if conn.served > 0, !t.retried, code == EPIPE || code == ECONNRESET {
                retry(t, on: conn)
                return
            }
            fail(conn, kind: .transport, "Send failure: \(String(cString: strerror(code)))")
            return
        }
        conn.out = []
        conn.sent = 0
        if conn.watchingOut { watchOut(conn, false) }
    }

    /// Has epoll report (or stop reporting) when `conn` has room to send. Without the ring it is
    /// watched for reading all along; with it, only while this lasts.
    private func watchOut(_ conn: Connection, _ on: Bool) {
        conn.watchingOut = on
        if ring == nil {
            _ = dsd_epoll_ctl(epfd, 3 /* EPOLL_CTL_MOD */, conn.fd, 1, on ? 1 : 0, 1)
        } else {
            _ = dsd_epoll_ctl(epfd, on ? 1 /* EPOLL_CTL_ADD */ : 2 /* EPOLL_CTL_DEL */, conn.fd, 0, 1, 1)
        }
    }

    /// Reads `conn` until a short read (or, `toTheEnd`, to the end).
    private func receive(_ conn: Connection, toTheEnd: Bool) {
        while true {
            var real: Int64 = 0
            let n = conn.stamped ? dsd_recv_stamped(conn.fd, buffer.baseAddress, buffer.count, &real)
                : dsd_recv(conn.fd, buffer.baseAddress, buffer.count)
            let code = n < 0 ? errno : 0
            if n > 0 {
                guard let t = conn.transfer else {
                    // Bytes on an idle connection: nothing was asked; it cannot be trusted again.
                    drop(conn)
                    return
                }
                let now = arrival(real, t)
                t.lastArrival = now
                consume(conn, t, UnsafeRawBufferPointer(start: buffer.baseAddress, count: n), at: now)
                // The socket is watched edge-triggered: it is reported again only when more
                // arrives, so it is read until a short read (TCP: no data was left) or EAGAIN, also
                // after its response ended (bytes after it mean the connection is dropped). A short
                // read does not show an end of file that came with the data: when the event said
                // the peer shut down, reading goes on to the end.
                if conn.closed || (n < buffer.count && !toTheEnd) { return }
                continue
            }
            if n < 0, code == EINTR { continue }
            if n < 0, code == EAGAIN || code == EWOULDBLOCK { return }
            ended(conn, code: code)
            return
        }
    }

    /// `conn`'s reading ended: at end of file (`code` 0) or with error `code`.
    private func ended(_ conn: Connection, code: Int32) {
        guard let t = conn.transfer else {
            drop(conn)  // the server closed an idle connection
            return
        }
        if conn.served > 0, !t.retried, conn.parser.sawNothing {
            retry(t, on: conn)
        } else if code == 0, let end = conn.parser.endOfStream() {
            event(conn, t, end, at: .now())  // a body that runs to the end of the connection
        } else if code == 0 {
            fail(conn, kind: .transport, conn.parser.sawNothing
                 ? "Empty reply from server" : "Connection closed before the response ended")
        } else {
            fail(conn, kind: .transport, "Recv failure: \(String(cString: strerror(code)))")
        }
    }

    private func consume(_ conn: Connection, _ t: Transfer, _ bytes: UnsafeRawBufferPointer, at now: MonotonicTime) {
        var i = 0
        do throws(HTTP1ResponseParser.Malformed) {
            while let e = try conn.parser.next(bytes, at: &i) { event(conn, t, e, at: now) }
        } catch {
            fail(conn, kind: .transport, "Weird server reply: \(error.reason)")
            return
        }
        // The server sent more than the response: the connection cannot carry another.
        if i < bytes.count { drop(conn) }
    }

    private func event(_ conn: Connection, _ t: Transfer, _ e: HTTP1ResponseParser.Event, at now: MonotonicTime) {
        switch e {
        case .head(let status, let headers):
            t.status = status
            t.headers = headers
            t.timings.headers = now
            t.handler.onHeaders(HTTPResponseHead(status: status, headers: headers, time: now))
        case .data(let chunk):
            if t.timings.firstByte == nil { t.timings.firstByte = now }
            if recordChunkTimes { t.timings.chunks.append(now) }
            t.bytesReceived += chunk.count
            t.chunkCount += 1
            t.onData(chunk, now)
            // The handler's state is laid out by now (its first chunk allocated what it keeps).
            if t.chunkCount == 1, t.handler.hotMemory != nil { noteHot(conn) }
        case .end(let reusable):
            conn.transfer = nil
            t.connection = nil
            conn.served += 1
            if reusable, !t.request.freshConnection {
                putIdle(conn)
            } else {
                drop(conn)
            }
            complete(t, .success(TransferSummary(status: t.status, headers: t.headers, bytesReceived: t.bytesReceived,
                                                 chunkCount: t.chunkCount, timings: t.timings)), at: now)
        }
    }

    // MARK: - Ending

    private func retry(_ t: Transfer, on conn: Connection) {
        conn.transfer = nil
        t.connection = nil
        drop(conn)
        t.retried = true
        t.status = 0
        t.headers = HTTPHeaders()
        connect(t)
    }

    private func fail(_ conn: Connection, kind: HTTPError.Kind, _ message: String) {
        let t = conn.transfer
        conn.transfer = nil
        drop(conn)
        if let t {
            t.connection = nil
            complete(t, .failure(HTTPError(kind: kind, message: message, method: t.request.method, url: t.request.url)))
        }
    }

    /// Ends `t` (`end`: when its last byte arrived, for a response read to its end; else now).
    private func complete(_ t: Transfer, _ outcome: Result<TransferSummary, HTTPError>, at end: MonotonicTime? = nil) {
        guard transfers.removeValue(forKey: t.id) != nil else { return }
        t.timings.end = end ?? .now()
        var result = outcome
        if case .success(var s) = result {
            s.timings.end = t.timings.end
            result = .success(s)
        }
        loop.transferEnded()
        t.handler.onComplete(result)
    }

    /// Cancels transfer `id` if it is one of these; true when it was.
    func cancel(_ id: CurlMulti.TransferID) -> Bool {
        guard let t = transfers[id] else { return false }
        end(t, .cancelled(t.request))
        return true
    }

    private func end(_ t: Transfer, _ error: HTTPError) {
        if let handle = t.connecting {
            t.connecting = nil
            loop.abandonConnect(handle)
        }
        if let conn = t.connection {
            conn.transfer = nil
            t.connection = nil
            drop(conn)
        }
        complete(t, .failure(error))
    }

    /// Fails the transfers whose time is up (`now` past their deadline); true when one was.
    func expire(now: UInt64) -> Bool {
        guard now >= nextDeadline else { return false }
        var next = UInt64.max
        var due: [Transfer] = []
        for t in transfers.values where t.deadline > 0 {
            if t.deadline <= now { due.append(t) } else { next = min(next, t.deadline) }
        }
        nextDeadline = next
        for t in due {
            let ms = Int((now - t.timings.start.nanoseconds) / 1_000_000)
            end(t, HTTPError(kind: .timeout, message: "Operation timed out after \(ms) milliseconds with \(t.bytesReceived) bytes received",
                             method: t.request.method, url: t.request.url))
        }
        return !due.isEmpty
    }

    /// Cancels every transfer and closes every connection (the multi is shutting down).
    func closeAll() {
        for t in Array(transfers.values) {
            end(t, .cancelled(t.request))
        }
        for case let conn? in byFD { drop(conn) }
        // Closing the ring ends its receives (on this thread, as the ring wants).
        ringWanted = false
        ring = nil
    }

    // MARK: - Connections

    /// A kept-alive connection to `key`, if any. The host's list is changed in place; an emptied
    /// list stays.
    private func takeIdle(_ key: String) -> Connection? {
        guard let h = idleHost[key], let conn = idle[h].popLast() else { return nil }
        idleCount -= 1
        return conn
    }

    private func putIdle(_ conn: Connection) {
        guard idleCount < maxIdle else {
            drop(conn)
            return
        }
        if let h = idleHost[conn.key] {
            idle[h].append(conn)
        } else {
            idleHost[conn.key] = idle.count
            idle.append([conn])
        }
        idleCount += 1
    }

    /// Closes a connection and forgets it (idle or not).
    private func drop(_ conn: Connection) {
        guard !conn.closed else { return }
        conn.closed = true
        byFD[Int(conn.fd)] = nil
        let first = Int(conn.fd) * Self.hotEntries
        if first + Self.hotEntries <= hot.count { hot[first] = 0 }
        if conn.transfer == nil, let h = idleHost[conn.key], let i = idle[h].firstIndex(where: { $0 === conn }) {
            idle[h].remove(at: i)
            idleCount -= 1
        }
        shutDown(conn)
    }

    private func shutDown(_ conn: Connection) {
        _ = dsd_epoll_ctl(epfd, 2 /* EPOLL_CTL_DEL */, conn.fd, 0, 0, 1)
        // shutdown as well as close: libcurl may still hold the socket it handed over.
        _ = shutdown(conn.fd, Int32(SHUT_RDWR))
        close(conn.fd)
    }
}
