#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization
import Testing
@testable import CurlHTTP
import TestSupport

/// `HTTP1ResponseParser` on its own: framing, interim responses, keep-alive, and bad input.
@Suite struct HTTP1ResponseParserTests {
    struct Parsed: Equatable {
        var status: Int?
        var headers: [String] = []
        var body: [UInt8] = []
        var ends: [Bool] = []
        var extra = 0
    }

    /// Feeds `text` cut at `cuts` (offsets), collecting the events.
    func parse(_ text: String, cuts: [Int] = [], noBody: Bool = false) throws(HTTP1ResponseParser.Malformed) -> Parsed {
        let bytes = Array(text.utf8)
        var parser = HTTP1ResponseParser(noBody: noBody)
        var out = Parsed()
        var start = 0
        for end in cuts.filter({ $0 > 0 && $0 < bytes.count }) + [bytes.count] {
            var failure: HTTP1ResponseParser.Malformed?
            bytes[start..<end].withUnsafeBytes { b in
                do throws(HTTP1ResponseParser.Malformed) {
                    out.extra += try parser.feed(b) { e in
                        switch e {
                        case .head(let status, let headers):
                            out.status = status
                            out.headers = headers.fields.map { "\($0.name): \($0.value)" }
                        case .data(let d): out.body += d
                        case .end(let reusable): out.ends.append(reusable)
                        }
                    }
                } catch { failure = error }
            }
            if let failure { throw failure }
            start = end
        }
        return out
    }

    /// The events of a streamed completion, and the chunked response carrying them as SGLang's and
    /// vLLM's server (uvicorn) sends it: one chunk per event (the second with a chunk extension),
    /// the last chunk, a trailer.
    let events = ["data: {\"text\":\"the\",\"n\":1}\n\n", "data: {\"text\":\" é\",\"n\":2}\n\n", "data: [DONE]\n\n"]
    var chunkedBody: String { events.joined() }
    var chunked: String {
        "HTTP/1.1 200 OK\r\ndate: Mon, 07 Dec 2026 06:00:00 GMT\r\nserver: uvicorn\r\n"
            + "content-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n"
            + events.enumerated().map { i, e in
                String(e.utf8.count, radix: 16) + (i == 1 ? ";ext=1" : "") + "\r\n" + e + "\r\n"
            }.joined()
            + "0\r\ntrailer: x\r\n\r\n"
    }

    @Test func chunkedBodyCutAnywhere() throws {
        let whole = try parse(chunked)
        #expect(whole.status == 200)
        #expect(whole.headers.contains("transfer-encoding: chunked"))
        #expect(String(decoding: whole.body, as: UTF8.self) == chunkedBody)
        #expect(whole.ends == [true])
        let n = chunked.utf8.count
        for cut in 1..<n {
            #expect(try parse(chunked, cuts: [cut]) == whole, "cut at \(cut)")
        }
        // Every byte its own read.
        #expect(try parse(chunked, cuts: Array(1..<n)) == whole)
    }

    @Test func lengthsCloseAndKeepAlive() throws {
        let fixed = try parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", cuts: [20, 38])
        #expect(fixed.body == Array("hello".utf8) && fixed.ends == [true])
        #expect(try parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok").ends == [false])
        #expect(try parse("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").ends == [false])
        #expect(try parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok").ends == [true])
        // No length, not chunked: the body runs to the end of the connection.
        var parser = HTTP1ResponseParser()
        var body: [UInt8] = []
        _ = try Array("HTTP/1.1 200 OK\r\n\r\nuntil close".utf8).withUnsafeBytes { b in
            try parser.feed(b) { if case .data(let d) = $0 { body += d } }
        }
        #expect(parser.readsUntilClose && !parser.isDone)
        guard case .end(let reusable)? = parser.endOfStream() else {
            Issue.record("no end at the end of the connection")
            return
        }
        #expect(!reusable && body == Array("until close".utf8))
        // Transfer-Encoding wins over Content-Length.
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n").body
            == Array("ok".utf8))
        // Equal repeated lengths are one length.
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok").ends == [true])
    }

    /// Field names and their tokens in any case; the last transfer coding decides chunked; an interim
    /// response's fields frame nothing.
    @Test func framingFieldsInAnyCase() throws {
        let closed = try parse("HTTP/1.1 200 OK\r\ncontent-LENGTH: 2\r\nCONNECTION: Close\r\n\r\nok")
        #expect(closed.body == Array("ok".utf8) && closed.ends == [false])
        let chunked = try parse("HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: gzip , Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        #expect(chunked.body == Array("ok".utf8) && chunked.ends == [true])
        var parser = HTTP1ResponseParser()
        _ = try Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nok".utf8).withUnsafeBytes { b in
            try parser.feed(b) { _ in }
        }
        #expect(parser.readsUntilClose, "a coding after chunked: the body runs to the end of the connection")
        let interim = try parse("HTTP/1.1 103 Early Hints\r\nContent-Length: many\r\nConnection: close\r\n\r\n"
                                + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        #expect(interim.status == 200 && interim.body == [0x78] && interim.ends == [true])
    }

    /// Header lookup compares names without ASCII case (RFC 9110 field names), and only ASCII case.
    @Test func headerLookupIgnoresASCIICase() {
        var h: HTTPHeaders = [("Content-Type", "text/event-stream"), ("X-Trace", "1"), ("x-trace", "2")]
        #expect(h["content-type"] == "text/event-stream" && h["CONTENT-TYPE"] == "text/event-stream")
        #expect(h.values("X-TRACE") == ["1", "2"])
        #expect(h["Content-Typ"] == nil && h["Content-Type "] == nil && h["Content_Type"] == nil)
        h.set("X-TRACE", "3")
        #expect(h.values("x-trace") == ["3"])
        let accented: HTTPHeaders = [("Caf\u{E9}", "x")]
        #expect(accented["CAF\u{C9}"] == nil && accented["caf\u{E9}"] == "x")
    }

    @Test func responsesWithoutBodies() throws {
        for text in ["HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n",
                     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"] {
            let p = try parse(text)
            #expect(p.body.isEmpty && p.ends == [true], "\(text)")
        }
        let head = try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", noBody: true)
        #expect(head.status == 200 && head.body.isEmpty && head.ends == [true])
    }

    @Test func interimResponsesAreSkipped() throws {
        let p = try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                          + "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", cuts: [10, 30, 60])
        #expect(p.status == 201 && p.headers == ["Content-Length: 1"] && p.body == [0x78])
    }

    @Test func bytesAfterTheResponseAreCounted() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1").extra == 8)
    }

    @Test func badResponsesAreRefused() {
        let bad = [
            "HTTP/2 200\r\n\r\n", "SSH-2.0-OpenSSH\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
            "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        ]
        for text in bad {
            #expect(throws: HTTP1ResponseParser.Malformed.self, "\(text)") { try parse(text) }
            // The same error however the bytes are cut.
            #expect(throws: HTTP1ResponseParser.Malformed.self, "\(text)") { try parse(text, cuts: Array(1..<text.utf8.count)) }
        }
        let huge = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: HTTP1ResponseParser.maxHeaderBytes) + "\r\n\r\n"
        #expect(throws: HTTP1ResponseParser.Malformed.self) { try parse(huge, cuts: [100, 40_000]) }
    }
}

/// A loopback TCP server that runs `script` for each connection on its own thread (blocking
/// sockets): for what the NIO test server cannot do, such as answering bytes that are not HTTP,
/// closing a kept-alive connection, or never answering.
final class ScriptedServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let connections = Mutex(0)
    private let requests = Mutex<[String]>([])

    /// Requests read so far (head and body as text, in arrival order).
    var received: [String] { requests.withLock { $0 } }
    /// Connections accepted so far.
    var accepted: Int { connections.withLock { $0 } }

    init(_ script: @escaping @Sendable (_ connection: Int, _ fd: Int32, _ server: ScriptedServer) -> Void) throws {
        guard let (l, p) = loopbackListener(backlog: 64, reuseAddress: true) else {
            throw HTTPError(kind: .other, message: "cannot listen", method: "-", url: "-")
        }
        listener = l
        port = p
        let fd = listener
        let acceptor = Thread { [self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { return }
                let n = connections.withLock { $0 += 1; return $0 }
                Thread { script(n, c, self) }.start()
            }
        }
        acceptor.start()
    }

    /// Reads one request (head, and a body of its Content-Length); nil when the peer closed first.
    func readRequest(_ fd: Int32) -> String? {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = bytes.indices.dropLast(3).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }) {
                let head = String(decoding: bytes[..<end], as: UTF8.self)
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if bytes.count >= end + 4 + length {
                    let text = String(decoding: bytes[..<(end + 4 + length)], as: UTF8.self)
                    requests.withLock { $0.append(text) }
                    return text
                }
            }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return nil }
            bytes += buf[..<n]
        }
    }

    func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

/// `CurlMulti` with `directHTTP1`: what only a scripted peer shows.
@Suite struct DirectHTTP1Tests {
    func send(_ multi: CurlMulti, _ request: HTTPRequest) async -> (Result<TransferSummary, HTTPError>, String) {
        let record = StreamRecord()
        let result = await run(multi, request, record)
        return (result, record.text)
    }

    /// The request on the wire: what libcurl would send for it (Host, Accept, the caller's headers,
    /// Content-Length, the body), with the path and query of the URL.
    @Test func requestBytes() async throws {
        let server = try ScriptedServer { _, fd, s in
            while s.readRequest(fd) != nil { s.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") }
            close(fd)
        }
        let multi = try CurlMulti(directHTTP1: true)
        defer { multi.shutdown() }
        let url = "http://127.0.0.1:\(server.port)/v1/completions?x=1#frag"
        let (r, text) = await send(multi, .json(url: url, json: "{}", headers: [("Authorization", "Bearer s3cret")]))
        #expect(try r.get().status == 200 && text == "ok")
        let (g, _) = await send(multi, HTTPRequest(url: "http://127.0.0.1:\(server.port)"))
        #expect(try g.get().status == 200)
        #expect(server.received == [
            "POST /v1/completions?x=1 HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nAuthorization: Bearer s3cret\r\n"
                + "Content-Type: application/json\r\nAccept: */*\r\nContent-Length: 2\r\n\r\n{}",
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nAccept: */*\r\n\r\n",
        ])
        #expect(server.accepted == 1, "the second request reuses the first one's connection")
    }

    /// A request body larger than the socket can take at once is sent as room comes: the loop waits
    /// for the socket to be writable (with reads through io_uring, epoll watches it only for that
    /// while), and the response is read as usual. The server reads nothing past the head until its
    /// receive queue has stopped growing, so the client has surely found the socket full.
    @Test(arguments: [true, false]) func aBodyLargerThanTheSocketIsSentAsRoomComes(batchedReads: Bool) async throws {
        let size = 16 << 20
        let server = try ScriptedServer { _, fd, s in
            var head: [UInt8] = []
            var byte: UInt8 = 0
            while !head.reversed().starts(with: [10, 13, 10, 13]), recv(fd, &byte, 1, 0) == 1 { head.append(byte) }
            let peek = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
            defer { peek.deallocate() }
            var queued = -1, stable = 0
            while stable < 3 {
                let n = recv(fd, peek.baseAddress, size, Int32(MSG_PEEK | MSG_DONTWAIT))
                stable = n > 0 && n == queued ? stable + 1 : 0
                queued = n
                usleep(20_000)
            }
            var body = 0
            while body < size {
                let n = recv(fd, peek.baseAddress, size - body, 0)
                if n <= 0 { break }
                body += n
            }
            s.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: \(String(body).count)\r\n\r\n\(body)")
            close(fd)
        }
        let multi = try CurlMulti(directHTTP1: true, batchedReads: batchedReads)
        defer { multi.shutdown() }
        let request = HTTPRequest(method: "POST", url: "http://127.0.0.1:\(server.port)/upload",
                                  body: [UInt8](repeating: 0x61, count: size))
        let (r, text) = await send(multi, request)
        #expect(try r.get().status == 200)
        #expect(text == String(size), "the server received the whole body")
    }

    /// What goes through libcurl's transfer instead: TLS, Unix sockets, credentials in the URL, and
    /// headers that set framing or the host.
    @Test func whatIsLeftToLibcurl() {
        #expect(DirectHTTP1.serialize(HTTPRequest(url: "http://h:1/a")) != nil)
        #expect(DirectHTTP1.serialize(HTTPRequest(url: "HTTP://h:1/a")) != nil)
        #expect(DirectHTTP1.serialize(HTTPRequest(url: "https://h:1/a")) == nil)
        #expect(DirectHTTP1.serialize(HTTPRequest(url: "http://u:p@h:1/a")) == nil)
        #expect(DirectHTTP1.serialize(HTTPRequest(url: "http://h:1/a", unixSocketPath: "/tmp/s")) == nil)
        #expect(DirectHTTP1.serialize(HTTPRequest(url: "http://h:1/a b")) == nil)
        #expect(DirectHTTP1.serialize(HTTPRequest(method: "GE T", url: "http://h:1/a")) == nil)
        for name in ["Host", "content-length", "Transfer-Encoding", "Connection", "Expect", "Upgrade"] {
            #expect(DirectHTTP1.serialize(HTTPRequest(url: "http://h:1/a", headers: [(name, "x")])) == nil, "\(name)")
        }
        #expect(DirectHTTP1.serialize(HTTPRequest(url: "http://h:1/a", headers: [("X", "a\r\nb")])) == nil)
    }

    /// A kept-alive connection the server closed is not trusted: the next request succeeds, on a new
    /// connection (sent again once if it went out on the closed one).
    @Test func aConnectionClosedByTheServerIsNotReused() async throws {
        let server = try ScriptedServer { _, fd, s in
            if s.readRequest(fd) != nil { s.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none") }
            close(fd)  // no Connection: close: the client keeps the connection until it sees the end
        }
        let multi = try CurlMulti(directHTTP1: true)
        defer { multi.shutdown() }
        for _ in 0..<3 {
            let (r, text) = await send(multi, HTTPRequest(url: "http://127.0.0.1:\(server.port)/x"))
            #expect(try r.get().status == 200 && text == "one")
        }
        #expect(server.accepted == 3)
    }

    /// The race the retry is for: the server closes a kept-alive connection just as the next request
    /// arrives on it, answering nothing. That request is sent again, once, on a new connection.
    @Test func aRequestOnAConnectionClosedUnderItIsSentAgain() async throws {
        let server = try ScriptedServer { n, fd, s in
            if s.readRequest(fd) != nil, n == 1 {
                s.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
                _ = s.readRequest(fd)  // the second request: closed without an answer
            } else {
                s.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
            }
            close(fd)
        }
        let multi = try CurlMulti(directHTTP1: true)
        defer { multi.shutdown() }
        let url = "http://127.0.0.1:\(server.port)/"
        let (first, a) = await send(multi, .json(url: url, json: "{\"n\":1}"))
        let (second, b) = await send(multi, .json(url: url, json: "{\"n\":2}"))
        #expect(try first.get().status == 200 && a == "first")
        #expect(try second.get().status == 200 && b == "second")
        #expect(server.accepted == 2)
        #expect(server.received.map { $0.hasSuffix("{\"n\":2}") } == [false, true, true], "the second request, sent twice")
    }

    @Test func bodiesToTheEndOfTheConnection() async throws {
        let server = try ScriptedServer { _, fd, s in
            if s.readRequest(fd) != nil { s.write(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ") }
            s.write(fd, "closed")
            close(fd)
        }
        let multi = try CurlMulti(directHTTP1: true)
        defer { multi.shutdown() }
        let (r, text) = await send(multi, HTTPRequest(url: "http://127.0.0.1:\(server.port)/"))
        #expect(try r.get().bytesReceived == 12 && text == "until closed")
    }

    /// With a wake interval the loop reads late under load, yet a chunk's time is when it arrived:
    /// the kernel's receive stamp. Two streams' first chunks arrive together (dense arrivals: the
    /// loop starts waiting out a 300 ms interval); their second chunks arrive 50 and 100 ms later,
    /// during the wait, and are read at its end, yet their times are still 50 ms apart. With read
    /// times they would be equal; without the wait they would be read as they came.
    /// Run with reads through io_uring (multishot receives) and through epoll and `recvmsg`.
    @Test(arguments: [true, false]) func chunksReadLateKeepTheirArrivalTimes(batchedReads: Bool) async throws {
        final class Box<T: Sendable>: Sendable {
            let value: Mutex<T>
            init(_ v: T) { value = Mutex(v) }
        }
        let asked = Box(0)
        let server = try ScriptedServer { n, fd, s in
            guard s.readRequest(fd) != nil else {
                close(fd)
                return
            }
            asked.value.withLock { $0 += 1 }
            while asked.value.withLock({ $0 }) < 2 { usleep(200) }  // both requests are in
            s.write(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            usleep(n == 1 ? 50_000 : 100_000)
            s.write(fd, "6\r\nsecond\r\n")
            usleep(300_000)
            s.write(fd, "0\r\n\r\n")
            close(fd)
        }
        let multi = try CurlMulti(directHTTP1: true, wakeInterval: 0.3, batchedReads: batchedReads)
        defer { multi.shutdown() }
        /// (arrival time given with the second chunk, when the callback ran), per transfer.
        let seconds = Box<[(MonotonicTime, MonotonicTime)]>([])
        let url = "http://127.0.0.1:\(server.port)/stream"
        let results = await withTaskGroup(of: Result<TransferSummary, HTTPError>.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    await withCheckedContinuation { cont in
                        multi.start(HTTPRequest(url: url), handler: TransferHandler(
                            onData: { chunk, time in
                                if chunk.count == 6 { seconds.value.withLock { $0.append((time, .now())) } }
                            },
                            onComplete: { cont.resume(returning: $0) }))
                    }
                }
            }
            var all: [Result<TransferSummary, HTTPError>] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.allSatisfy { (try? $0.get().status) == 200 }, "\(results)")
        let f = seconds.value.withLock { $0 }.sorted { $0.0 < $1.0 }
        try #require(f.count == 2)
        let apart = f[1].0.seconds(since: f[0].0)
        #expect(apart >= 0.03 && apart < 0.25, "arrival times \(apart * 1000) ms apart, sent 50 ms apart")
        let late = f[1].1.seconds(since: f[1].0)
        #expect(late >= 0.1, "the later chunk was read \(late * 1000) ms after it arrived: the loop waited")
        // The two streams' chunks came through io_uring where it is there.
        #expect(batchedReads && ioUringExpected() ? multi.batchedReadCount >= 2 : multi.batchedReadCount == 0,
                "batched reads: \(multi.batchedReadCount)")
    }

    /// A lone stream whose chunks come further apart than half the interval is read as they come:
    /// a wait before each would add a sleep and a wake-up per chunk and delay every read.
    @Test func sparseArrivalsAreReadAsTheyCome() async throws {
        let server = try ScriptedServer { _, fd, s in
            guard s.readRequest(fd) != nil else {
                close(fd)
                return
            }
            s.write(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n0\r\n")
            for i in 1...3 {
                usleep(200_000)
                s.write(fd, "1\r\n\(i)\r\n")
            }
            s.write(fd, "0\r\n\r\n")
            close(fd)
        }
        let multi = try CurlMulti(directHTTP1: true, wakeInterval: 0.3)
        defer { multi.shutdown() }
        final class Lateness: Sendable { let value = Mutex<[Double]>([]) }
        let lateness = Lateness()
        let result = await withCheckedContinuation { cont in
            multi.start(HTTPRequest(url: "http://127.0.0.1:\(server.port)/"), handler: TransferHandler(
                onData: { _, time in lateness.value.withLock { $0.append(MonotonicTime.now().seconds(since: time)) } },
                onComplete: { cont.resume(returning: $0) }))
        }
        #expect((try? result.get().status) == 200)
        let late = lateness.value.withLock { $0 }
        #expect(late.count == 4)
        #expect(late.allSatisfy { $0 < 0.07 }, "read this long after arriving (s): \(late)")
    }

    /// A gap between two chunks of one stream under twice the interval shortens it to a quarter of
    /// that gap; longer gaps leave it; a gap of nothing (chunks read together) or under 80 µs turns
    /// the wait off.
    @Test func fastStreamsShortenTheWakeInterval() {
        let pace = WakeInterval(0.001)
        pace.noteGap(0.020)  // a 20 ms step: nothing to do
        #expect(pace.seconds == 0.001 && pace.shortGap == 0.002)
        pace.noteGap(0.0019)  // faster than twice the interval
        #expect(abs(pace.seconds - 0.000475) < 1e-9 && pace.nanoseconds == 475_000)
        pace.noteGap(0.001)  // at least twice the new interval: unchanged
        #expect(abs(pace.seconds - 0.000475) < 1e-9)
        pace.noteGap(0.0000799)
        #expect(pace.seconds == 0 && pace.nanoseconds == 0 && pace.shortGap == 0)
        pace.noteGap(0)  // off stays off
        #expect(pace.seconds == 0)
        let merged = WakeInterval(0.001)
        merged.noteGap(0)
        #expect(merged.seconds == 0)
        #expect(WakeInterval(0).shortGap == 0, "no interval: no gap is short")
    }

    /// The interval is at most 1/200 of the mean response time noted (until a first one, at most
    /// the start cap), never above its ceiling, and the gap bound still applies after responses.
    @Test func shortResponsesShortenTheWakeInterval() {
        let pace = WakeInterval(0.004, startCap: 0.001)
        #expect(pace.seconds == 0.001 && pace.shortGap == 0.008, "capped until a response ended")
        pace.noteLatency(1.28)  // 64 tokens at 20 ms: 6.4 ms allowed, the ceiling holds
        #expect(pace.seconds == 0.004 && pace.nanoseconds == 4_000_000)
        pace.noteLatency(0.12)  // mean 0.7 s: 3.5 ms
        #expect(abs(pace.seconds - 0.0035) < 1e-12)
        pace.noteLatency(0.1)  // mean 0.5 s: 2.5 ms
        #expect(abs(pace.seconds - 0.0025) < 1e-12)
        pace.noteGap(0.006)  // under twice the gap bound (4 ms): a quarter of it
        #expect(abs(pace.seconds - 0.0015) < 1e-12 && abs(pace.shortGap - 0.003) < 1e-12)
        pace.noteLatency(10)
        #expect(abs(pace.seconds - 0.0015) < 1e-12, "the gap bound only falls")

        let uncapped = WakeInterval(0.004)
        #expect(uncapped.seconds == 0.004)
        uncapped.noteLatency(0.2)
        #expect(abs(uncapped.seconds - 0.001) < 1e-12)
        let off = WakeInterval(0, startCap: 0.001)
        off.noteLatency(100)
        #expect(off.seconds == 0, "never above the ceiling")
    }

    /// The ring reads each armed socket through its one receive: the bytes with their receive
    /// stamps, end of file (which ends the receive), reads cut to the buffers' size, and, when the
    /// buffers run out, `ENOBUFS` ending the receive, which armed again reads on. Its wait returns
    /// when a read is due or a watched descriptor becomes readable, and not before. Where io_uring
    /// is missing it must be because this machine has none to give.
    #if os(Linux)
    @Test func aRingReadsEachSocketThroughOneReceive() throws {
        // Four buffers of 256 bytes: 208 bytes of data each, after the header and the stamp.
        guard let ring = RxRing(buffers: 4, bufferSize: 256) else {
            #expect(!ioUringExpected(), "io_uring is there (Linux ≥ 6.1, not disabled) but the ring did not start")
            return
        }
        let pairs = try (0..<3).map { _ in try LoopbackPair() }
        var pipeEnds: [Int32] = [-1, -1]
        #expect(pipe(&pipeEnds) == 0)
        let watched = pipeEnds[0]
        defer {
            for p in pairs {
                close(p.client)
                close(p.server)
            }
            close(pipeEnds[0])
            close(pipeEnds[1])
        }
        var one: Int32 = 1
        for (k, p) in pairs.enumerated() {
            #expect(setsockopt(p.client, SOL_SOCKET, SO_TIMESTAMPNS, &one, socklen_t(MemoryLayout<Int32>.size)) == 0)
            #expect(ring.arm(p.client, tag: 10 + UInt64(k)))
        }
        #expect(ring.watch(watched, tag: 99))
        #expect(ring.queued == 4)
        let before = MonotonicTime.now()
        ring.wait(nanoseconds: 50_000_000)
        #expect(MonotonicTime.now().seconds(since: before) >= 0.045, "nothing to read: the wait ran its time")
        #expect(ring.queued == 0 && ring.collect().isEmpty, "armed, nothing to read yet")

        /// Waits for a completion, then collects until a collect brings none.
        func collectAll() -> [(tag: UInt64, res: Int, bytes: [UInt8], stamp: Int64, more: Bool)] {
            ring.wait(nanoseconds: 10_000_000_000)
            var out: [(tag: UInt64, res: Int, bytes: [UInt8], stamp: Int64, more: Bool)] = []
            while case let events = ring.collect(), !events.isEmpty {
                for e in events {
                    let bytes = e.res > 0 && e.buffer >= 0 ? Array(UnsafeRawBufferPointer(start: e.data, count: e.res)) : []
                    out.append((e.tag, e.res, bytes, e.stamp, e.more))
                    if e.buffer >= 0 { ring.release(e.buffer) }
                }
            }
            return out
        }
        // A watched descriptor's readiness wakes the wait, and the watch stays.
        #expect(write(pipeEnds[1], "w", 1) == 1)
        let woke = collectAll()
        #expect(woke.count == 1 && woke.first?.tag == 99 && woke.first?.more == true, "\(woke.map(\.tag))")
        var byte: UInt8 = 0
        #expect(read(watched, &byte, 1) == 1)

        // The kernel turns receive stamps on for everyone a moment after the first socket asks (a
        // deferred switch): until then segments arrive unstamped. Wait for a stamped byte.
        var stamped = false
        for _ in 0..<400 where !stamped {
            #expect(write(pairs[2].server, "x", 1) == 1)
            let got = collectAll()
            #expect(got.count == 1 && got.first?.tag == 12 && got.first?.bytes == [0x78] && got.first?.more == true)
            stamped = (got.first?.stamp ?? 0) > 0
            if !stamped { usleep(5_000) }
        }
        #expect(stamped, "no receive stamp came in 2 s")

        #expect(write(pairs[0].server, "alpha", 5) == 5 && write(pairs[1].server, "beta!", 5) == 5)
        shutdown(pairs[1].server, Int32(SHUT_WR))
        var got = collectAll()
        // The two sockets' reads may come in two wake-ups.
        if got.count < 3 { got += collectAll() }
        let first = got.filter { $0.tag == 10 }, second = got.filter { $0.tag == 11 }
        #expect(first.map(\.bytes) == [Array("alpha".utf8)] && first.allSatisfy(\.more))
        #expect(second.map(\.bytes) == [Array("beta!".utf8), []], "the bytes, then the end of file")
        #expect(second.map(\.more) == [true, false], "the end of file ends the receive")
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nowNS = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        #expect(first.allSatisfy { $0.stamp > nowNS - 10_000_000_000 && $0.stamp <= nowNS }, "receive stamp \(first), now \(nowNS)")
        #expect(got.count == 3, "nothing for the socket that had nothing: \(got.map(\.tag))")

        // 1,000 bytes with room for 4 × 208 in the ring: four reads, then ENOBUFS ends the receive.
        let text = (0..<1000).map { UInt8(0x41 + $0 % 26) }
        #expect(write(pairs[0].server, text, text.count) == text.count)
        let full = collectAll()
        #expect(full.map(\.res) == [208, 208, 208, 208, -Int(ENOBUFS)] && full.map(\.more) == [true, true, true, true, false],
                "\(full.map(\.res))")
        #expect(ring.arm(pairs[0].client, tag: 10))
        let rest = ring.collect().map { (res: $0.res, bytes: Array(UnsafeRawBufferPointer(start: $0.data, count: max($0.res, 0))), buffer: $0.buffer) }
        for r in rest where r.buffer >= 0 { ring.release(r.buffer) }
        #expect(rest.map(\.res) == [168], "armed again, it reads what was left at once")
        #expect(full.flatMap(\.bytes) + rest.flatMap(\.bytes) == text, "in order, nothing lost")
    }
    #endif

    /// What every read touches lies in the first `hotBytes` of a connection and of a transfer,
    /// the part that is prefetched: a field added before these would push them out, and fail here.
    @Test func hotFieldsLieWhereTheyArePrefetched() {
        func end<T>(_ object: AnyObject, _ field: UnsafeMutablePointer<T>) -> Int {
            Int(UInt(bitPattern: field) - UInt(bitPattern: Unmanaged.passUnretained(object).toOpaque()))
                + MemoryLayout<T>.size
        }
        let conn = DirectHTTP1.Connection(fd: -1, key: "127.0.0.1:1", stamped: true)
        #expect(end(conn, &conn.transfer) <= end(conn, &conn.parser), "declared in this order")
        #expect(end(conn, &conn.closed) <= DirectHTTP1.Connection.hotBytes)
        #expect(end(conn, &conn.serial) <= DirectHTTP1.Connection.hotBytes)
        let t = DirectHTTP1.Transfer(id: CurlMulti.TransferID(raw: 1), request: HTTPRequest(url: "http://127.0.0.1:1/"),
                                     handler: TransferHandler(onComplete: { _ in }), key: "127.0.0.1:1", bytes: [],
                                     start: .now())
        #expect(end(t, &t.lastArrival) < end(t, &t.timings))
        #expect(end(t, &t.timings) <= DirectHTTP1.Transfer.hotBytes)
        #expect(DirectHTTP1.Connection.hotBytes <= 4 * 64 && DirectHTTP1.Transfer.hotBytes <= 2 * 64,
                "a few lines, not the whole object")
    }

    /// Memory to prefetch becomes entries of cache lines: from the line a range starts in to the
    /// one it ends in, up to 64 lines an entry, empty ranges left out, at most `hotEntries` in all.
    @Test func hotMemoryBecomesCacheLines() {
        func r(_ a: UInt, _ n: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: a), count: n)
        }
        let three: [UInt] = [0x1000 | 2], two: [UInt] = [0x2000, 0x4000], split: [UInt] = [0x10000 | 63, 0x11000]
        #expect(DirectHTTP1.hotLines([r(0x1030, 100)]) == three, "0x1030..<0x1094: three lines")
        #expect(DirectHTTP1.hotLines([r(0x2000, 64), r(0x3000, 0), r(0x4010, 1)]) == two)
        #expect(DirectHTTP1.hotLines([r(0x10000, 65 * 64)]) == split)
        let many = DirectHTTP1.hotLines((0..<20).map { r(0x100000 + UInt($0) * 0x1000, 8) })
        let lastOne: UInt = 0x107000
        #expect(many.count == DirectHTTP1.hotEntries)
        #expect(many.last == lastOne)
    }

    @Test func failuresAreLocatedAndKinded() async throws {
        let server = try ScriptedServer { n, fd, s in
            guard s.readRequest(fd) != nil else {
                close(fd)
                return
            }
            switch n {
            case 1: s.write(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n")
            case 2: s.write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
            case 3: break  // closes without a byte
            default: usleep(2_000_000)  // never answers in time
            }
            close(fd)
        }
        let multi = try CurlMulti(directHTTP1: true)
        defer { multi.shutdown() }
        let url = "http://127.0.0.1:\(server.port)/"
        let request = HTTPRequest(url: url, headers: [("Authorization", "Bearer s3cret")], timeout: 0.3)
        var errors: [HTTPError] = []
        for _ in 0..<4 {
            let (r, _) = await send(multi, request)
            guard case .failure(let e) = r else {
                Issue.record("expected a failure")
                continue
            }
            errors.append(e)
        }
        #expect(errors.map(\.kind) == [.transport, .transport, .transport, .timeout])
        #expect(errors[0].message.contains("not an HTTP/1.x status line"), "\(errors[0])")
        #expect(errors[1].message.contains("before the response ended"), "\(errors[1])")
        #expect(errors[2].message.contains("Empty reply"), "\(errors[2])")
        #expect(errors[3].message.contains("timed out after"), "\(errors[3])")
        #expect(errors.allSatisfy { !$0.description.contains("s3cret") && $0.url == url })
        // Connecting is libcurl's: a refused port fails as it does without directHTTP1.
        let refusing = try RefusingPort()
        let (r, _) = await send(multi, HTTPRequest(url: "http://127.0.0.1:\(refusing.port)/", timeout: 5))
        guard case .failure(let e) = r else {
            Issue.record("expected a refused connection")
            return
        }
        #expect(e.kind == .connectionFailed, "\(e)")
        #expect(multi.activeCount == 0)
    }
}

#if os(Linux)
/// A connected TCP pair on loopback (client side nonblocking, as DirectHTTP1's sockets are).
private struct LoopbackPair {
    let client: Int32
    let server: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, len) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &len) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, len) == 0 }
        }
        client = fd
        guard connected else { throw POSIXError(.ECONNREFUSED) }
        server = accept(listener, nil, nil)
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
    }

}

/// Waits (up to 10 s) until `fd` is readable.
private func waitReadable(_ fd: Int32) -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, 10_000) == 1
}

#endif
