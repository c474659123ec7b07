import CSimIO
import Engines
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The simulator's replay mode (`DSDEPLOY_SIM_REPLAY=1`): a load source cheap enough to measure a
/// benchmark client at hundreds of thousands of tokens per second.
///
/// Same endpoints, bodies and timing model as `SimServer` (requests go through the same `Router`;
/// chunk `i` is due at `arrival + TTFT + i × decodeStep`, arrival being when the kernel received the
/// request's last bytes (`SO_TIMESTAMPNS`; when the loop read them, where there is no stamp): a
/// burst of requests, read and rendered one after the other by this one thread, is due from when
/// each request came, and any delay its rendering causes shows as timer lateness), but no SwiftNIO:
/// one thread, epoll, and a timerfd armed at the earliest due chunk (nanosecond resolution, no timer
/// slack). A stream's head goes out when its request arrives; each SSE event (HTTP/1.1 chunked
/// framing; the last with usage, `[DONE]` and the terminator) is rendered when it is due, a middle
/// chunk's bytes once per distinct text and then copied, and written at once: one `write` per
/// stream per decode step. (Rendering whole responses on arrival made a burst of 256 requests of
/// 256 tokens cost the source ~40 ms before any first chunk.) When a socket is full, released bytes
/// wait and go out together once it drains (as a server's buffers would). Chunked request bodies
/// get 501.
///
/// `/server_info` reports `sim_worst_timer_lateness_ms` as the NIO server does; at shutdown the
/// log gets one line with the chunks written and their mean and worst lateness.
final class ReplayServer: @unchecked Sendable {
    let core: SimCore
    /// The port actually bound.
    let port: Int
    private let router: Router
    private let listenFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let stopping = Mutex(false)
    private let exitSignal = DispatchSemaphoreLike()

    private var conns: [Int32: Conn] = [:]
    private let epfd: Int32
    private let timerFD: Int32
    /// When the timerfd is armed for (0: disarmed).
    private var armedAt: UInt64 = 0
    private let readyFDs = UnsafeMutablePointer<Int32>.allocate(capacity: 1024)
    private let readyFlags = UnsafeMutablePointer<Int32>.allocate(capacity: 1024)
    private var heap = DueHeap()
    /// Chunks per write after a stream's first (`DSDEPLOY_SIM_REPLAY_BATCH`).
    private var batchSize: Int { core.settings.replayBatch }
    private var serial: UInt32 = 0
    /// Lateness of released chunks (diagnostics).
    private var chunks = 0
    private var lateSumNs: Int64 = 0
    private var lateWorstNs: Int64 = 0
    /// Lateness of each stream's first chunk (the part of a client's TTFT the source adds).
    private var firstChunks = 0
    private var firstLateSumNs: Int64 = 0
    private var firstLateWorstNs: Int64 = 0
    /// Streams started, and their summed wait for a shared step boundary (`TimingModel.sharedSteps`).
    private var started = 0
    private var boundaryWaitSumNs: UInt64 = 0

    private init(core: SimCore, listenFD: Int32, port: Int, wake: (Int32, Int32), epfd: Int32, timerFD: Int32) {
        self.core = core
        self.epfd = epfd
        self.timerFD = timerFD
        self.router = Router(core: core)
        self.listenFD = listenFD
        self.port = port
        self.wakeRead = wake.0
        self.wakeWrite = wake.1
    }

    /// Binds `launch.host:launch.port` (IPv4 or IPv6 literal, or `localhost`) and starts the loop thread.
    static func start(core: SimCore) throws -> ReplayServer {
        let launch = core.launch
        let host = launch.host == "localhost" ? "127.0.0.1" : launch.host
        let v6 = host.contains(":")
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ReplayError("socket: \(errnoText())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var bound: Int32
        if v6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = UInt16(launch.port).bigEndian
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else { close(fd); throw ReplayError("bad host \(host)") }
            bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = UInt16(launch.port).bigEndian
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { close(fd); throw ReplayError("bad host \(host)") }
            bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            let text = errnoText()
            close(fd)
            throw ReplayError(text)
        }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let port: Int = withUnsafeMutablePointer(to: &storage) { p in
            _ = p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            return v6 ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { close(fd); throw ReplayError("pipe: \(errnoText())") }
        for p in pipeFDs { _ = fcntl(p, F_SETFL, fcntl(p, F_GETFL) | O_NONBLOCK) }
        let epfd = dsd_sim_epoll_create()
        let timerFD = dsd_sim_timerfd_create()
        guard epfd >= 0, timerFD >= 0, dsd_sim_epoll_ctl(epfd, 1, fd, 1, 0) == 0,
              dsd_sim_epoll_ctl(epfd, 1, pipeFDs[0], 1, 0) == 0, dsd_sim_epoll_ctl(epfd, 1, timerFD, 1, 0) == 0 else {
            let text = errnoText()
            for f in [fd, pipeFDs[0], pipeFDs[1], epfd, timerFD] where f >= 0 { close(f) }
            throw ReplayError("replay mode needs epoll and timerfd (Linux): \(text)")
        }
        let server = ReplayServer(core: core, listenFD: fd, port: port, wake: (pipeFDs[0], pipeFDs[1]),
                                  epfd: epfd, timerFD: timerFD)
        var tid = pthread_t()
        let box = Unmanaged.passRetained(server).toOpaque()
        guard pthread_create(&tid, nil, { arg in
            guard let arg else { return nil }
            Unmanaged<ReplayServer>.fromOpaque(arg).takeRetainedValue().run()
            return nil
        }, box) == 0 else {
            Unmanaged<ReplayServer>.fromOpaque(box).release()
            close(fd)
            throw ReplayError("could not start the replay thread")
        }
        pthread_detach(tid)
        return server
    }

    /// Stops the loop (closing every connection) and waits for it to exit.
    func shutdown() {
        stopping.withLock { $0 = true }
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
        exitSignal.wait()
    }

    /// Chunks written, mean and worst lateness in milliseconds (read after `shutdown`).
    var latenessSummary: String {
        let mean = chunks > 0 ? Double(lateSumNs) / Double(chunks) / 1e6 : 0
        let firstMean = firstChunks > 0 ? Double(firstLateSumNs) / Double(firstChunks) / 1e6 : 0
        return "replay: \(chunks) chunks released, timer lateness mean \(fmt(mean)) ms, worst \(fmt(Double(lateWorstNs) / 1e6)) ms"
            + "; first chunks: \(firstChunks), lateness mean \(fmt(firstMean)) ms, worst \(fmt(Double(firstLateWorstNs) / 1e6)) ms"
            + (core.settings.timing.sharedSteps && started > 0
               ? "; shared steps: boundary wait mean \(fmt(Double(boundaryWaitSumNs) / Double(started) / 1e6)) ms" : "")
    }

    private func fmt(_ x: Double) -> String {
        let r = (x * 1000).rounded() / 1000
        return "\(r)"
    }

    // MARK: - The loop

    private func run() {
        while !stopping.withLock({ $0 }) {
            armTimer()
            let n = dsd_sim_epoll_wait(epfd, readyFDs, readyFlags, 1024, 1000)
            if n > 0 { handleReady(Int(n)) }
            releaseDue()
        }
        for fd in Array(conns.keys) { closeConn(fd) }
        for fd in [listenFD, wakeRead, wakeWrite, timerFD, epfd] { close(fd) }
        readyFDs.deallocate()
        readyFlags.deallocate()
        readBuffer.deallocate()
        exitSignal.signal()
    }

    /// Arms the timerfd at the earliest due chunk (when that changed).
    private func armTimer() {
        let next = heap.top?.due ?? 0
        guard next != armedAt else { return }
        armedAt = next
        _ = dsd_sim_timerfd_at(timerFD, next == 0 ? 0 : max(next, 1))
    }

    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }

    /// Reads every readable connection first, stamping when its bytes were read, then answers
    /// them: a burst of requests gets arrival times from when each was read, not from when the
    /// requests before it had been answered (rendered).
    private func handleReady(_ n: Int) {
        var readable: [Conn] = []
        for k in 0..<n {
            let fd = readyFDs[k], ev = readyFlags[k]
            if fd == timerFD {
                dsd_sim_timerfd_drain(timerFD)
                armedAt = 0
            } else if fd == wakeRead {
                var buf = (0, 0, 0, 0, 0, 0, 0, 0)
                _ = withUnsafeMutableBytes(of: &buf) { read(wakeRead, $0.baseAddress, $0.count) }
            } else if fd == listenFD {
                acceptAll()
            } else if let c = conns[fd] {
                if ev & 5 != 0, readConn(c) { readable.append(c) }
                if let c = conns[fd], ev & 2 != 0 { flush(c) }
            }
        }
        for c in readable where conns[c.fd] === c { serveNext(c) }
    }

    private func acceptAll() {
        while true {
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { return }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            // A request's arrival is when the kernel received it, not when this (one) thread got
            // round to reading it: a burst of requests is read and rendered one after the other.
            _ = dsd_sim_enable_rx_timestamps(fd)
            guard dsd_sim_epoll_ctl(epfd, 1, fd, 1, 0) == 0 else { close(fd); continue }
            conns[fd] = Conn(fd: fd)
        }
    }

    private func setInterest(_ c: Conn) {
        let wantOut = c.sent < c.released
        if c.watchingOut != wantOut {
            c.watchingOut = wantOut
            _ = dsd_sim_epoll_ctl(epfd, 3, c.fd, 1, wantOut ? 1 : 0)
        }
    }

    private func closeConn(_ fd: Int32) {
        guard let c = conns.removeValue(forKey: fd) else { return }
        if let s = c.stream {
            core.generationFinished(tokens: s.next > 0 ? s.tokensAt[s.next - 1] : 0, steps: s.next)
            c.stream = nil
        }
        _ = dsd_sim_epoll_ctl(epfd, 2, fd, 0, 0)
        close(fd)
    }

    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)

    /// Reads what the connection has; false when it closed.
    private func readConn(_ c: Conn) -> Bool {
        while true {
            var stamp: UInt64 = 0
            let n = dsd_sim_read_stamped(c.fd, readBuffer.baseAddress, 65536, &stamp)
            if n > 0 {
                c.input.append(contentsOf: readBuffer[0..<n])
                c.readAt = stamp
                if c.input.count > SimHTTPHandler.maxBody + 65536 { closeConn(c.fd); return false }
                if n < 65536 { return true }
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                closeConn(c.fd)
                return false
            } else {
                return true
            }
        }
    }

    /// Answers the next complete request on an idle connection.
    private func serveNext(_ c: Conn) {
        while c.stream == nil, c.sent == c.out.count, !c.closeAfter, let req = c.takeRequest() {
            // A request that waited in the buffer behind a stream arrives when that stream ended.
            let arrival = max(c.readAt, c.idleSince)
            switch req {
            case .bad(let status, let message):
                respond(c, status: status, contentType: "application/json",
                        body: Array(openAIError(message, status: status).canonicalText.utf8), keepAlive: false)
            case .request(let head):
                handle(c, head, arrival: arrival)
            }
        }
        flush(c)
    }

    private func handle(_ c: Conn, _ r: ParsedRequest, arrival: UInt64) {
        let keepAlive = r.keepAlive && core.phase != .draining
        var headers = HTTPHeaders()
        for (k, v) in r.headers { headers.add(name: k, value: v) }
        switch router.route(method: HTTPMethod(rawValue: r.method), uri: r.uri, headers: headers, body: r.body,
                            now: Int(time(nil))) {
        case .json(let status, let value):
            respond(c, status: status, contentType: "application/json", body: Array(value.canonicalText.utf8), keepAlive: keepAlive)
        case .text(let status, let text):
            respond(c, status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8), keepAlive: keepAlive)
        case .empty(let status):
            respond(c, status: status, contentType: nil, body: [], keepAlive: keepAlive)
        case .generate(let g):
            startGeneration(c, g, arrival: arrival, keepAlive: keepAlive)
        case .generateAfterKV:
            // A load source for the bench client: the decode side of PD (fetching the KV from a
            // prefill's bootstrap server) is the SwiftNIO server's only.
            let body = JSONValue.object(["error": .string("the replay load source (DSDEPLOY_SIM_REPLAY=1) does not serve --disaggregation-mode decode")])
            respond(c, status: 501, contentType: "application/json", body: Array(body.canonicalText.utf8), keepAlive: keepAlive)
        }
    }

    private func head(status: Int, headers: [(String, String)], keepAlive: Bool) -> String {
        let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
        var s = "HTTP/1.1 \(status) \(reason)\r\n"
        for (k, v) in headers { s += k + ": " + v + "\r\n" }
        s += "server: uvicorn\r\n"
        if !keepAlive { s += "connection: close\r\n" }
        return s + "\r\n"
    }

    private func respond(_ c: Conn, status: Int, contentType: String?, body: [UInt8], keepAlive: Bool) {
        var h: [(String, String)] = []
        if let contentType { h.append(("content-type", contentType)) }
        h.append(("content-length", String(body.count)))
        c.out.append(contentsOf: head(status: status, headers: h, keepAlive: keepAlive).utf8)
        c.out.append(contentsOf: body)
        c.released = c.out.count
        c.closeAfter = !keepAlive
    }

    private func startGeneration(_ c: Conn, _ g: Generation, arrival: UInt64, keepAlive: Bool) {
        core.generationStarted()
        let timing = core.settings.timing
        let sizes = timing.chunkSizes(maxTokens: g.maxTokens)
        let wait = timing.boundaryWaitNs(arrivalNs: arrival, promptTokens: g.promptTokens)
        started += 1
        boundaryWaitSumNs &+= wait
        let start = arrival &+ wait
        func due(_ i: Int) -> UInt64 {
            start &+ UInt64(max(0, timing.chunkOffsetMs(index: i, promptTokens: g.promptTokens) * 1_000_000))
        }
        let s = ReplayStream()
        s.steps = sizes.count
        s.tokens = g.maxTokens
        s.dues.reserveCapacity(max(1, sizes.count))
        if g.stream {
            c.out.append(contentsOf: head(status: 200, headers: [("content-type", "text/event-stream; charset=utf-8"),
                                                                  ("cache-control", "no-cache"),
                                                                  ("transfer-encoding", "chunked")], keepAlive: keepAlive).utf8)
            c.released = c.out.count
            var emitted = 0
            for (i, n) in sizes.enumerated() {
                emitted += n
                s.tokensAt.append(emitted)
                s.dues.append(due(i))
            }
            if sizes.isEmpty {
                Self.appendTail(&c.out, g)
                s.ends.append(c.out.count)
                s.dues.append(arrival)
                s.tokensAt.append(0)
            } else {
                // Each chunk is rendered when it is due (`releaseDue`): a burst of requests costs
                // the source their heads, not their whole responses, before the first chunks.
                s.chunks = ChunkRenderer(g, sizes: sizes, timing: timing)
            }
        } else {
            let last = max(0, sizes.count - 1)
            let body = Array(GenerationRenderer.full(g, elapsed: timing.chunkOffsetMs(index: last, promptTokens: g.promptTokens) / 1000)
                .canonicalText.utf8)
            c.out.append(contentsOf: head(status: 200, headers: [("content-type", "application/json"),
                                                                  ("content-length", String(body.count))],
                                          keepAlive: keepAlive).utf8)
            c.out.append(contentsOf: body)
            s.ends.append(c.out.count)
            s.dues.append(sizes.isEmpty ? arrival : due(last))
            s.tokensAt.append(g.maxTokens)
        }
        c.closeAfter = !keepAlive
        serial &+= 1
        s.serial = serial
        c.stream = s
        heap.push(Due(due: s.dues[0], fd: c.fd, serial: s.serial))
    }

    /// `text` as one HTTP/1.1 chunk.
    static func appendChunk(_ out: inout [UInt8], _ text: String) {
        let n = text.utf8.count
        out.append(contentsOf: String(n, radix: 16).utf8)
        out.append(0x0D); out.append(0x0A)
        out.append(contentsOf: text.utf8)
        out.append(0x0D); out.append(0x0A)
    }

    /// After the last token: the usage chunk (when asked for), `[DONE]`, and the chunked terminator.
    static func appendTail(_ out: inout [UInt8], _ g: Generation) {
        if g.includeUsage { appendChunk(&out, GenerationRenderer.sse(GenerationRenderer.usageChunk(g))) }
        appendChunk(&out, GenerationRenderer.done)
        out.append(contentsOf: "0\r\n\r\n".utf8)
    }

    /// Releases and writes every chunk that is due.
    private func releaseDue() {
        var now = Self.now()
        var batch = 0
        while let top = heap.top, top.due <= now {
            heap.pop()
            batch += 1
            if batch & 63 == 0 { now = Self.now() }
            guard let c = conns[top.fd], let s = c.stream, s.serial == top.serial else { continue }
            let late = Int64(bitPattern: now &- top.due)
            chunks += 1
            lateSumNs += late
            if late > lateWorstNs { lateWorstNs = late }
            if s.next == 0 {
                firstChunks += 1
                firstLateSumNs += late
                if late > firstLateWorstNs { firstLateWorstNs = late }
            }
            if let r = s.chunks {
                r.append(s.next, to: &c.out)
                c.released = c.out.count
            } else {
                c.released = s.ends[s.next]
            }
            let released = s.next
            s.next += 1
            if s.next < s.dues.count {
                heap.push(Due(due: s.dues[s.next], fd: c.fd, serial: s.serial))
            }
            // With DSDEPLOY_SIM_REPLAY_BATCH=k, chunks 1…k go out together when chunk k is due, and so on;
            // the first and the last chunk go out when due.
            if batchSize == 1 || released == 0 || released % batchSize == 0 || s.next >= s.dues.count {
                flush(c)
            }
        }
        if batch > 0 { core.timerFired(latenessNs: lateWorstNs) }
    }

    /// Writes released bytes; finishes the stream once everything is out.
    private func flush(_ c: Conn) {
        while c.sent < c.released {
            let n = c.out.withUnsafeBytes { write(c.fd, $0.baseAddress! + c.sent, c.released - c.sent) }
            if n > 0 {
                c.sent += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                break
            } else {
                closeConn(c.fd)
                return
            }
        }
        if c.sent == c.out.count, let s = c.stream, s.next >= s.dues.count {
            core.generationFinished(tokens: s.tokens, steps: s.steps)
            c.stream = nil
        }
        if c.sent == c.out.count, c.stream == nil {
            if c.closeAfter { closeConn(c.fd); return }
            c.out.removeAll(keepingCapacity: true)
            c.sent = 0
            c.released = 0
            c.idleSince = Self.now()
            if c.hasBufferedInput { serveNext(c); return }
        }
        setInterest(c)
    }
}

/// A connection's state (loop thread only).
private final class Conn {
    let fd: Int32
    /// EPOLLOUT is on (released bytes wait for room in the socket).
    var watchingOut = false
    var input: [UInt8] = []
    var out: [UInt8] = []
    /// Bytes of `out` written, and bytes that may be written (due so far).
    var sent = 0
    var released = 0
    var closeAfter = false
    var stream: ReplayStream?
    /// When bytes were last read, and when the last response went out completely.
    var readAt: UInt64 = 0
    var idleSince: UInt64 = 0

    init(fd: Int32) { self.fd = fd }

    var hasBufferedInput: Bool { !input.isEmpty }

    enum Taken { case request(ParsedRequest), bad(Int, String) }

    /// The next complete request in `input` (removed from it), or nil when more bytes are needed.
    func takeRequest() -> Taken? {
        let headEnd: Int? = input.withUnsafeBytes { b in
            guard let base = b.baseAddress else { return nil }
            let k = dsd_sim_find_head_end(base, UInt(b.count))
            return k >= 0 ? Int(k) : nil
        }
        guard let headEnd else {
            return input.count > 65536 ? .bad(431, "request head too large") : nil
        }
        let end = headEnd..<(headEnd + 4)
        let headText = String(decoding: input[..<end.lowerBound], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return .bad(400, "bad request") }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { input.removeAll(); return .bad(400, "bad request line") }
        var r = ParsedRequest(method: String(requestLine[0]), uri: String(requestLine[1]))
        let http10 = requestLine[2] == "HTTP/1.0"
        var length = 0
        var connection = ""
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            r.headers.append((name, value))
            switch name.lowercased() {
            case "content-length": length = Int(value) ?? -1
            case "connection": connection = value.lowercased()
            case "transfer-encoding": length = -2
            default: break
            }
        }
        guard length >= 0 else {
            input.removeAll()
            return .bad(length == -2 ? 501 : 400, length == -2 ? "chunked request bodies are not supported in replay mode"
                                                             : "bad content-length")
        }
        guard length <= SimHTTPHandler.maxBody else { input.removeAll(); return .bad(413, "request body too large") }
        let bodyStart = end.upperBound
        guard input.count - bodyStart >= length else { return nil }
        r.body = Array(input[bodyStart..<(bodyStart + length)])
        input.removeSubrange(0..<(bodyStart + length))
        r.keepAlive = http10 ? connection == "keep-alive" : connection != "close"
        return .request(r)
    }
}

private struct ParsedRequest {
    var method: String
    var uri: String
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    var keepAlive = true
}

/// One generation's response: chunk `i` is due at `dues[i]`; it is rendered then by `chunks`
/// (streams), or ends at `ends[i]` of the connection's output, rendered at arrival (a whole body,
/// or a stream of no tokens).
private final class ReplayStream {
    var chunks: ChunkRenderer?
    var ends: [Int] = []
    var dues: [UInt64] = []
    /// Tokens emitted once chunk `i` is out.
    var tokensAt: [Int] = []
    var next = 0
    var tokens = 0
    var steps = 0
    var serial: UInt32 = 0
}

/// Renders a stream's chunks in order, one when it is due. A middle chunk's text depends only on its
/// first token's word (they cycle) and its size: each such chunk is rendered once per generation and
/// copied after that (its bytes stay in the connection's output until the stream is done).
private final class ChunkRenderer {
    let g: Generation
    let sizes: [Int]
    let timing: TimingModel
    let template: GenerationRenderer.ChunkTemplate?
    var rendered: [Int: Range<Int>] = [:]
    var emitted = 0
    /// The native API's text and ids so far.
    var native = GenerationRenderer.NativeStream()

    init(_ g: Generation, sizes: [Int], timing: TimingModel) {
        self.g = g
        self.sizes = sizes
        self.timing = timing
        template = GenerationRenderer.ChunkTemplate(g)
    }

    /// Appends chunk `i` (and, after the last, the usage chunk, `[DONE]` and the terminator).
    func append(_ i: Int, to out: inout [UInt8]) {
        let n = sizes[i]
        let range = emitted..<(emitted + n)
        let middle = template != nil && range.lowerBound > 0 && range.upperBound < g.maxTokens && n < 4096
        let key = (range.lowerBound % SimTokens.wordCount) << 12 | n
        if middle, let r = rendered[key] {
            out.append(contentsOf: out[r])
        } else {
            let elapsed = timing.chunkOffsetMs(index: i, promptTokens: g.promptTokens) / 1000
            let text = template?.render(range, maxTokens: g.maxTokens)
                ?? native.event(g, tokens: range, elapsed: elapsed)
            let from = out.count
            ReplayServer.appendChunk(&out, text)
            if middle { rendered[key] = from..<out.count }
        }
        emitted = range.upperBound
        if i == sizes.count - 1 { ReplayServer.appendTail(&out, g) }
    }
}

private struct Due {
    var due: UInt64
    var fd: Int32
    var serial: UInt32
}

/// A binary min-heap of due chunks.
private struct DueHeap {
    private var a: [Due] = []
    var top: Due? { a.first }

    mutating func push(_ d: Due) {
        a.append(d)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard a[p].due > a[i].due else { break }
            a.swapAt(p, i)
            i = p
        }
    }

    mutating func pop() {
        let last = a.removeLast()
        guard !a.isEmpty else { return }
        a[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < a.count, a[l].due < a[m].due { m = l }
            if r < a.count, a[r].due < a[m].due { m = r }
            if m == i { break }
            a.swapAt(i, m)
            i = m
        }
    }
}

/// A semaphore without Dispatch (the loop thread signals it once on exit).
private final class DispatchSemaphoreLike: @unchecked Sendable {
    private var m = pthread_mutex_t()
    private var cv = pthread_cond_t()
    private var done = false
    init() {
        pthread_mutex_init(&m, nil)
        pthread_cond_init(&cv, nil)
    }
    func signal() {
        pthread_mutex_lock(&m)
        done = true
        pthread_cond_broadcast(&cv)
        pthread_mutex_unlock(&m)
    }
    func wait() {
        pthread_mutex_lock(&m)
        while !done { pthread_cond_wait(&cv, &m) }
        pthread_mutex_unlock(&m)
    }
}

struct ReplayError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}
