#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
@testable import CurlHTTP
import TestSupport

/// Collects one streamed transfer's callbacks (thread-safe; callbacks run on the multi's thread).
final class StreamRecord: Sendable {
    private let state = Mutex<(status: Int?, bytes: [UInt8], chunks: Int, order: [String])>((nil, [], 0, []))

    var handler: (@escaping @Sendable (Result<TransferSummary, HTTPError>) -> Void) -> TransferHandler {
        { done in
            TransferHandler(
                onHeaders: { head in self.state.withLock { $0.status = head.status; $0.order.append("headers") } },
                onData: { chunk, _ in
                    self.state.withLock { $0.bytes += chunk; $0.chunks += 1; $0.order.append("data") }
                },
                onComplete: { result in
                    self.state.withLock { $0.order.append("complete") }
                    done(result)
                })
        }
    }

    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }
    var status: Int? { state.withLock { $0.status } }
    var order: [String] { state.withLock { $0.order } }
}

/// Starts a transfer and waits for its completion.
func run(_ multi: CurlMulti, _ request: HTTPRequest, _ record: StreamRecord) async -> Result<TransferSummary, HTTPError> {
    await withCheckedContinuation { cont in
        multi.start(request, handler: record.handler { cont.resume(returning: $0) })
    }
}

/// Each transfer test runs twice: through libcurl's transfer, and with `directHTTP1` (requests
/// written and responses read by `DirectHTTP1` on connections libcurl opened).
@Suite struct CurlMultiTests {
    @Test(arguments: [false, true]) func streamsChunksWithTimings(direct: Bool) async throws {
        let server = try await TestServer.start()
        let multi = try CurlMulti(directHTTP1: direct)
        let record = StreamRecord()
        let result = await run(multi, HTTPRequest(url: server.base + "/stream?n=4&gap=30"), record)
        let summary = try result.get()
        #expect(summary.status == 200)
        #expect(record.text == "chunk 0\nchunk 1\nchunk 2\nchunk 3\n")
        #expect(record.order.first == "headers" && record.order.last == "complete")
        // Sent 30 ms apart, curl usually delivers each separately; a stalled client thread may read
        // two at once, so the count is bounded, not exact.
        #expect((1...4).contains(summary.chunkCount))
        let t = summary.timings
        #expect(t.chunks.count == summary.chunkCount)
        let first = try #require(t.firstByte)
        #expect(t.start <= first && first <= t.end)
        #expect(t.chunks == t.chunks.sorted())
        #expect(t.chunks.allSatisfy { first <= $0 && $0 <= t.end })
        multi.shutdown()
        await server.stop()
    }

    @Test(arguments: [false, true]) func manyConcurrentTransfers(direct: Bool) async throws {
        let server = try await TestServer.start()
        let multi = try CurlMulti(directHTTP1: direct)
        let count = 64
        let results = await withTaskGroup(of: (Int, String, Int).self) { group in
            for i in 0..<count {
                group.addTask {
                    let record = StreamRecord()
                    let r = await run(multi, HTTPRequest(url: server.base + "/stream?n=3&gap=20&i=\(i)"), record)
                    return ((try? r.get())?.status ?? -1, record.text, i)
                }
            }
            var all: [(Int, String, Int)] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.count == count)
        #expect(results.allSatisfy { $0.0 == 200 && $0.1 == "chunk 0\nchunk 1\nchunk 2\n" })
        #expect(multi.activeCount == 0)
        multi.shutdown()
        await server.stop()
    }

    @Test(arguments: [false, true]) func cancelAndShutdown(direct: Bool) async throws {
        let server = try await TestServer.start()
        let multi = try CurlMulti(directHTTP1: direct)
        let record = StreamRecord()
        let result: Result<TransferSummary, HTTPError> = await withCheckedContinuation { cont in
            let id = multi.start(HTTPRequest(url: server.base + "/slow?ms=5000"),
                                 handler: record.handler { cont.resume(returning: $0) })
            multi.cancel(id)
        }
        guard case .failure(let error) = result else {
            Issue.record("expected cancellation")
            return
        }
        #expect(error.kind == .cancelled, "cancelled, not answered after the server's 5 s")
        // Outstanding transfers end as cancelled on shutdown; later starts fail at once.
        let pending = StreamRecord()
        async let late = run(multi, HTTPRequest(url: server.base + "/slow?ms=5000"), pending)
        #expect(await eventually { multi.activeCount == 1 }, "the transfer is outstanding")
        multi.shutdown()
        let lateResult = await late
        #expect((try? lateResult.get()) == nil)
        let after = await run(multi, HTTPRequest(url: server.base + "/status/200"), StreamRecord())
        #expect((try? after.get()) == nil)
        multi.cancel(CurlMulti.TransferID(raw: 99))  // after shutdown: harmless no-ops
        multi.shutdown()
        await server.stop()
    }

    @Test(arguments: [false, true]) func shutdownFromInsideACallbackDoesNotDeadlock(direct: Bool) async throws {
        let server = try await TestServer.start()
        let multi = try CurlMulti(directHTTP1: direct)
        let status: Int? = await withCheckedContinuation { cont in
            multi.start(HTTPRequest(url: server.base + "/status/201"), handler: TransferHandler(onComplete: { result in
                multi.shutdown()
                cont.resume(returning: try? result.get().status)
            }))
        }
        #expect(status == 201)
        await server.stop()
    }

    /// Keep-alive by default (one connection for requests one after another); `freshConnection`
    /// opens a new one for each, as a client with a session per request does.
    @Test(arguments: [false, true]) func freshConnectionOpensOneConnectionPerRequest(direct: Bool) async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let multi = try CurlMulti(maxTotalConnections: 4, directHTTP1: direct)
        defer { multi.shutdown() }
        var kept: [String] = [], fresh: [String] = []
        for _ in 0..<3 { kept.append(try await multi.send(HTTPRequest(url: server.base + "/peer")).text) }
        var request = HTTPRequest(url: server.base + "/peer")
        request.freshConnection = true
        for _ in 0..<3 { fresh.append(try await multi.send(request).text) }
        #expect(Set(kept).count == 1, "\(kept)")
        #expect(Set(fresh).count == 3 && !fresh.contains(kept[0]), "\(fresh) after \(kept)")
    }

    @Test(arguments: [false, true]) func sendCollectsAndReportsErrors(direct: Bool) async throws {
        let server = try await TestServer.start()
        let multi = try CurlMulti(maxTotalConnections: 4, directHTTP1: direct)
        let response = try await multi.send(.json(url: server.base + "/echo", json: "{}"))
        #expect(response.status == 200)
        #expect(response.text.hasSuffix("\n\n{}"))
        let port = server.port
        await server.stop()
        do {
            _ = try await multi.send(HTTPRequest(url: "http://127.0.0.1:\(port)/", timeout: 5))
            Issue.record("expected connection failure")
        } catch {
            #expect(error.kind == .connectionFailed)
        }
        do {
            _ = try await multi.send(HTTPRequest(url: "http://127.0.0.1:1/", headers: [("X", "a\nb")]))
            Issue.record("expected invalid request")
        } catch {
            #expect(error.kind == .invalidRequest)
        }
        multi.shutdown()
    }

    /// Transfers started from a completion callback (on the loop thread, no wake-up) run one after
    /// the other on reused easy handles: a request of the same shape sends its own body, and one of
    /// another shape (method, URL, headers) starts from a reset handle, with nothing left over from
    /// the request before (no stale body or header).
    @Test(arguments: [false, true]) func transfersStartedFromCallbacksReuseHandlesCleanly(direct: Bool) async throws {
        let server = try await TestServer.start()
        let multi = try CurlMulti(directHTTP1: direct)
        let requests: [HTTPRequest] = (0..<12).map { i in
            if i % 4 == 3 {
                return HTTPRequest(method: "GET", url: server.base + "/echo?i=\(i)", headers: [("X-N", "\(i)")])
            }
            return HTTPRequest(method: "POST", url: server.base + "/echo", headers: [("Content-Type", "text/plain")],
                               body: Array("body \(i)".utf8))
        }
        final class Chain: @unchecked Sendable {  // touched on the loop thread only, until `done`
            var texts: [String] = []
            var threads: Set<UInt> = []
        }
        let chain = Chain()
        let texts: [String] = await withCheckedContinuation { cont in
            @Sendable func startNext() {
                let i = chain.texts.count
                guard i < requests.count else { return cont.resume(returning: chain.texts) }
                let record = StreamRecord()
                multi.start(requests[i], handler: record.handler { result in
                    chain.threads.insert(UInt(bitPattern: Int(bitPattern: pthread_self())))
                    chain.texts.append((try? result.get()).map { _ in record.text } ?? "failed")
                    startNext()
                })
            }
            multi.execute { startNext() }
        }
        #expect(texts.count == requests.count)
        for (i, text) in texts.enumerated() {
            if i % 4 == 3 {
                #expect(text.hasPrefix("GET /echo?i=\(i)\n"), "\(i): \(text)")
                #expect(text.contains("x-n: \(i)\n"))
                #expect(!text.contains("body"), "\(i): a GET must carry no body: \(text)")
            } else {
                #expect(text.hasPrefix("POST /echo\n"), "\(i): \(text)")
                #expect(text.hasSuffix("\n\nbody \(i)"), "\(i): \(text)")
                #expect(!text.contains("x-n:"), "\(i): a header of the request before: \(text)")
            }
        }
        #expect(chain.threads.count == 1)
        #expect(multi.activeCount == 0)
        multi.shutdown()
        await server.stop()
    }

    /// Work queued with `execute` runs on the loop thread, in order, from other threads and from the
    /// loop thread itself.
    @Test func executeRunsWorkOnTheLoopThread() async throws {
        let multi = try CurlMulti()
        final class Log: @unchecked Sendable { var items: [Int] = []; var threads: Set<UInt> = [] }
        let log = Log()
        let items: [Int] = await withCheckedContinuation { cont in
            multi.execute {
                log.items.append(1)
                log.threads.insert(UInt(bitPattern: Int(bitPattern: pthread_self())))
                multi.execute {
                    log.items.append(3)
                    log.threads.insert(UInt(bitPattern: Int(bitPattern: pthread_self())))
                    cont.resume(returning: log.items)
                }
                log.items.append(2)
            }
        }
        #expect(items == [1, 2, 3])
        #expect(log.threads.count == 1)
        multi.shutdown()
    }
}
