import Engines
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why a decode server could not get its room's KV from the prefill's bootstrap server.
struct BootstrapFetchError: Error, Sendable {
    /// The whole message (names the bootstrap address and the room).
    var message: String
}

/// The decode side of the simulated KV transfer: long-polls the prefill's bootstrap server
/// (`GET /sim/kv/ROOM?wait=S`) on the connection's own event loop, so nothing blocks.
enum BootstrapClient {
    /// Longest single poll; polls repeat until the room is published or `timeout` has passed.
    static let pollSeconds = 2.0

    /// The room's KV info, or an error naming the address once `timeout` seconds passed without it
    /// or the bootstrap server could not be reached (connection refused: the prefill is gone).
    static func fetch(_ fields: BootstrapFields, timeout: Double, on loop: any EventLoop) -> EventLoopFuture<JSONValue> {
        let promise = loop.makePromise(of: JSONValue.self)
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout * 1e9))
        poll(fields, deadline: deadline, timeout: timeout, loop: loop, promise: promise)
        return promise.futureResult
    }

    private static func poll(_ f: BootstrapFields, deadline: NIODeadline, timeout: Double, loop: any EventLoop,
                             promise: EventLoopPromise<JSONValue>) {
        let room = f.room ?? 0
        let timedOut = BootstrapFetchError(message: "KV transfer of bootstrap_room \(room) timed out after "
            + "\(formatSeconds(timeout)) s: the prefill's bootstrap server at \(f.address) never published the room "
            + "(DSDEPLOY_SIM_BOOTSTRAP_TIMEOUT=\(formatSeconds(timeout)))")
        let remaining = Double((deadline - .now()).nanoseconds) / 1e9
        guard remaining > 0 else {
            promise.fail(timedOut)
            return
        }
        let wait = min(pollSeconds, remaining)
        get(host: f.host ?? "", port: f.port ?? 0, path: "/sim/kv/\(room)?wait=\(formatSeconds(wait))",
            limit: .nanoseconds(Int64((wait + 5) * 1e9)), loop: loop).whenComplete { result in
            switch result {
            case .success((200, let body)):
                guard let info = JSONValue.parse(body) else {
                    promise.fail(BootstrapFetchError(message: "the bootstrap server at \(f.address) answered bootstrap_room "
                                                     + "\(room) with a body that is not JSON"))
                    return
                }
                promise.succeed(info)
            case .success((404, _)):
                // Not published yet: poll again (a tiny pause keeps a misbehaving server from spinning us).
                loop.scheduleTask(in: .milliseconds(5)) {
                    poll(f, deadline: deadline, timeout: timeout, loop: loop, promise: promise)
                }
            case .success((let status, let body)):
                promise.fail(BootstrapFetchError(message: "the bootstrap server at \(f.address) answered HTTP \(status) for "
                                                 + "bootstrap_room \(room): \(String(decoding: body.prefix(200), as: UTF8.self))"))
            case .failure(let error):
                if NIODeadline.now() >= deadline {
                    promise.fail(timedOut)
                } else {
                    promise.fail(BootstrapFetchError(message: "KV transfer of bootstrap_room \(room) failed: cannot reach "
                                                     + "the prefill's bootstrap server at \(f.address): \(describe(error))"))
                }
            }
        }
    }

    /// A connection error in a few words (NIO's descriptions nest the errno deep inside).
    static func describe(_ error: any Error) -> String {
        if let e = error as? BootstrapFetchError { return e.message }
        let text = String(describing: error)
        for (needle, short) in [("Connection refused", "connection refused (is the prefill server running?)"),
                                ("connect timeout", "connect timed out"), ("Connection reset", "connection reset")]
        where text.contains(needle) {
            return short
        }
        return text
    }

    /// Seconds as short text (`0.5`, `300`).
    static func formatSeconds(_ s: Double) -> String {
        s.rounded() == s && s < 1e9 ? String(Int(s)) : String(format3(s))
    }

    private static func format3(_ s: Double) -> String {
        let ms = (s * 1000).rounded() / 1000
        return String(ms)
    }

    /// One `GET` over a fresh connection: the status and body, failing on connection errors or when
    /// no whole response came within `limit`.
    static func get(host: String, port: Int, path: String, limit: TimeAmount,
                    loop: any EventLoop) -> EventLoopFuture<(Int, [UInt8])> {
        let promise = loop.makePromise(of: (Int, [UInt8]).self)
        let hostHeader = (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        OneResponseHandler(path: path, host: hostHeader, promise: promise))
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    let guardTask = loop.scheduleTask(in: limit) {
                        promise.fail(BootstrapFetchError(message: "no response within \(limit.nanoseconds / 1_000_000) ms"))
                        channel.close(promise: nil)
                    }
                    promise.futureResult.whenComplete { _ in guardTask.cancel() }
                case .failure(let error):
                    promise.fail(error)
                }
            }
        return promise.futureResult
    }
}

/// Sends one GET when the connection is up and completes `promise` with the response.
private final class OneResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let path: String
    private let host: String
    private let promise: EventLoopPromise<(Int, [UInt8])>
    private var status = 0
    private var body: [UInt8] = []
    private var done = false

    init(path: String, host: String, promise: EventLoopPromise<(Int, [UInt8])>) {
        self.path = path
        self.host = host
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: host)
        headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))),
                      promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): status = Int(h.status.code)
        case .body(var b): body += b.readBytes(length: b.readableBytes) ?? []
        case .end:
            finish(.success((status, body)))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(BootstrapFetchError(message: "the connection closed before a whole response")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<(Int, [UInt8]), any Error>) {
        guard !done else { return }
        done = true
        promise.completeWith(result)
    }
}
