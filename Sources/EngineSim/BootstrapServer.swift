import Engines
import NIOCore
import NIOHTTP1
import NIOPosix

/// The prefill server's bootstrap server (SGLang opens it on `--host`:`--disaggregation-bootstrap-port`
/// when `--disaggregation-mode prefill`; decode servers find their prefill's KV through it).
///
/// Endpoints:
/// - `GET /health` → 200 `OK` (as SGLang's bootstrap server).
/// - `GET /route` → the prefill's parallel layout (`prefill_attn_tp_size`, `prefill_dp_size`,
///   `prefill_pp_size`, `prefill_page_size`), what SGLang's decode asks first (`engine_rank=-1`).
/// - `GET /sim/kv/ROOM?wait=SECONDS` (simulator only; stands in for the KV transfer): a long poll that
///   answers 200 with the room's published KV (`bootstrap_room`, `prompt_tokens`, `output_tokens`,
///   `prefill`) as soon as the prefill of that room finished, or 404 once `wait` seconds (default 1,
///   at most 30) passed without it.
enum BootstrapServer {
    /// Binds the bootstrap server on `host:port` in `group`.
    static func bind(host: String, port: Int, core: SimCore, store: BootstrapStore,
                     group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
                    try channel.pipeline.syncOperations.addHandler(BootstrapHTTPHandler(core: core, store: store))
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// One bootstrap-server connection.
final class BootstrapHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: SimCore
    private let store: BootstrapStore
    private var head: HTTPRequestHead?

    init(core: SimCore, store: BootstrapStore) {
        self.core = core
        self.store = store
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            handle(context: context, head: h)
        }
    }

    private func handle(context: ChannelHandlerContext, head h: HTTPRequestHead) {
        let path = String(h.uri.prefix { $0 != "?" })
        let query = BootstrapHTTPHandler.query(h.uri)
        let keepAlive = h.isKeepAlive
        guard h.method == .GET else {
            send(context, h.version, 405, detail("Method Not Allowed").canonicalText, keepAlive: keepAlive)
            return
        }
        switch path {
        case "/health":
            send(context, h.version, 200, "OK", keepAlive: keepAlive, json: false)
        case "/route":
            let arg = { (field: String) in self.core.serverArg(field)?.int ?? 1 }
            send(context, h.version, 200, JSONValue.object([
                "prefill_attn_tp_size": .int(arg("tp_size") / max(1, arg("dp_size"))),
                "prefill_dp_size": .int(arg("dp_size")),
                "prefill_pp_size": .int(arg("pp_size")),
                "prefill_page_size": .int(arg("page_size")),
            ]).canonicalText, keepAlive: keepAlive)
        case let p where p.hasPrefix("/sim/kv/"):
            guard let room = UInt64(p.dropFirst("/sim/kv/".count)) else {
                send(context, h.version, 400, detail("room must be an unsigned integer").canonicalText, keepAlive: keepAlive)
                return
            }
            let seconds = min(30, max(0, query["wait"].flatMap(Double.init) ?? 1))
            store.wait(for: room, on: context.eventLoop, wait: .nanoseconds(Int64(seconds * 1e9)))
                .assumeIsolated().whenSuccess { [self] info in
                    guard context.channel.isActive else { return }
                    if let info {
                        send(context, h.version, 200, info.canonicalText, keepAlive: keepAlive)
                    } else {
                        send(context, h.version, 404, detail("bootstrap_room \(room) is not published yet").canonicalText,
                             keepAlive: keepAlive)
                    }
                }
        default:
            send(context, h.version, 404, detail("Not Found").canonicalText, keepAlive: keepAlive)
        }
    }

    private static func query(_ uri: String) -> [String: String] {
        guard let q = uri.firstIndex(of: "?") else { return [:] }
        var out: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            out[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
        }
        return out
    }

    private func send(_ context: ChannelHandlerContext, _ version: HTTPVersion, _ status: Int, _ body: String,
                      keepAlive: Bool, json: Bool = true) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: json ? "application/json" : "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.utf8.count))
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status),
                                                             headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
