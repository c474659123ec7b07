import NIOCore
import NIOHTTP1
import NIOPosix

/// A tiny loopback HTTP server for CurlHTTP tests (real sockets, real HTTP; no curl mocks).
///
/// Routes: `/echo` (method, headers and body back as text), `/peer` (the client's port), `/status/N`, `/slow?ms=N`,
/// `/stream?n=N&gap=MS` (N chunks `chunk i\n`), `/sse-split` (an SSE stream written in awkward
/// pieces: mid-UTF-8, mid-CRLF).
final class TestServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel

    /// The bound TCP port (0 for a Unix socket server).
    var port: Int { channel.localAddress?.port ?? 0 }
    var base: String { "http://127.0.0.1:\(port)" }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.group = group
        self.channel = channel
    }

    /// Starts on 127.0.0.1 with a free port, or on a Unix socket path.
    static func start(unixSocket: String? = nil) async throws -> TestServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(TestHandler())
                }
            }
        let channel: any Channel
        if let path = unixSocket {
            channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        } else {
            channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        }
        return TestServer(group: group, channel: channel)
    }

    func stop() async {
        try? await channel.close().get()
        try? await group.shutdownGracefully()
    }
}

/// Pieces of the `/sse-split` stream; joined they are a valid event stream.
let sseSplitPieces: [[UInt8]] = {
    let text = ": comment\r\nevent: greet\r\ndata: h\u{E9}llo \u{1F600}\r\nid: 7\r\n\r\ndata:{\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n"
    let bytes = Array(text.utf8)
    // Cut inside "é" (2 bytes), inside "😀" (4 bytes) and between a \r and its \n.
    let e = (bytes.firstIndex(of: 0xC3) ?? 0) + 1
    let smile = (bytes.firstIndex(of: 0xF0) ?? 0) + 2
    let cr = (bytes.indices.first { $0 > smile && bytes[$0] == 0x0D } ?? smile) + 1
    return [Array(bytes[..<e]), Array(bytes[e..<smile]), Array(bytes[smile..<cr]), Array(bytes[cr...])]
}()

final class TestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
        case .body(var buf):
            body += buf.readBytes(length: buf.readableBytes) ?? []
        case .end:
            guard let h = head else { return }
            respond(context: context, head: h)
        }
    }

    private func query(_ uri: String, _ key: String, default value: Int) -> Int {
        guard let q = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return value }
        for pair in q.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == key, let n = Int(kv[1]) { return n }
        }
        return value
    }

    private func respond(context: ChannelHandlerContext, head h: HTTPRequestHead) {
        let path = String(h.uri.prefix { $0 != "?" })
        let loop = context.eventLoop.assumeIsolated()
        if path == "/echo" {
            var text = h.method.rawValue + " " + h.uri + "\n"
            for (name, value) in h.headers { text += name.lowercased() + ": " + value + "\n" }
            text += "\n"
            send(context: context, status: 200, body: Array(text.utf8) + body)
        } else if path == "/peer" {
            // The client's port: a new connection has a new one.
            send(context: context, status: 200, body: Array(String(context.channel.remoteAddress?.port ?? 0).utf8))
        } else if path.hasPrefix("/status/"), let code = Int(path.dropFirst(8)) {
            send(context: context, status: code, body: Array("status \(code)".utf8))
        } else if path == "/slow" {
            loop.scheduleTask(in: .milliseconds(Int64(query(h.uri, "ms", default: 1000)))) {
                self.send(context: context, status: 200, body: Array("slow".utf8))
            }
        } else if path == "/stream" || path == "/sse-split" {
            let pieces: [[UInt8]] = path == "/stream"
                ? (0..<query(h.uri, "n", default: 3)).map { Array("chunk \($0)\n".utf8) } : sseSplitPieces
            let gap = Int64(query(h.uri, "gap", default: 20))
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: path == "/stream" ? "text/plain" : "text/event-stream")
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: .ok,
                                                                         headers: headers))), promise: nil)
            for (i, piece) in pieces.enumerated() {
                loop.scheduleTask(in: .milliseconds(gap * Int64(i + 1))) {
                    let buf = context.channel.allocator.buffer(bytes: piece)
                    context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
                    if i == pieces.count - 1 { context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil) }
                }
            }
        } else {
            send(context: context, status: 404, body: Array("not found".utf8))
        }
    }

    private func send(context: ChannelHandlerContext, status: Int, body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "x-test", value: "yes")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1,
                                                             status: HTTPResponseStatus(statusCode: status),
                                                             headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
