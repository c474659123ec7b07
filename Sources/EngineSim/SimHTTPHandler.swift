import Engines
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One connection's HTTP handler: collects a request, routes it, writes the reply.
///
/// Generations are handed to a `GenerationStream` that writes on timers; pipelining
/// assistance upstream holds the next request on this connection until the stream ends.
final class SimHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Largest request body accepted (bigger ones get 413).
    static let maxBody = 32 << 20

    private let core: SimCore
    private let router: Router
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false
    private var stream: GenerationStream?

    init(core: SimCore) {
        self.core = core
        self.router = Router(core: core)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.removeAll(keepingCapacity: true)
            tooLarge = false
        case .body(var buf):
            if body.count + buf.readableBytes > SimHTTPHandler.maxBody {
                tooLarge = true
            } else if let bytes = buf.readBytes(length: buf.readableBytes) {
                body += bytes
            }
        case .end:
            guard let h = head else { return }
            head = nil
            handle(context: context, head: h, arrival: .now())
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stream?.cancel()
        stream = nil
        context.fireChannelInactive()
    }

    private func handle(context: ChannelHandlerContext, head h: HTTPRequestHead, arrival: NIODeadline) {
        let keepAlive = h.isKeepAlive && core.phase != .draining
        if tooLarge {
            send(context: context, version: h.version, status: 413, contentType: "application/json",
                 body: openAIError("request body too large", status: 413).canonicalText, keepAlive: false)
            return
        }
        let reply = router.route(method: h.method, uri: h.uri, headers: h.headers, body: body,
                                 now: Int(time(nil)))
        switch reply {
        case .json(let status, let value):
            send(context: context, version: h.version, status: status, contentType: "application/json",
                 body: value.canonicalText, keepAlive: keepAlive)
        case .text(let status, let text):
            send(context: context, version: h.version, status: status, contentType: "text/plain; charset=utf-8",
                 body: text, keepAlive: keepAlive)
        case .empty(let status):
            send(context: context, version: h.version, status: status, contentType: nil, body: "",
                 keepAlive: keepAlive)
        case .generate(let generation):
            startStream(generation, context: context, version: h.version, keepAlive: keepAlive, arrival: arrival)
        case .generateAfterKV(let generation, let fields):
            // PD decode: the room's KV comes from the prefill's bootstrap server first (a long poll on
            // this connection's event loop; pipelining holds the connection's next request meanwhile).
            core.kvFetchStarted()
            BootstrapClient.fetch(fields, timeout: core.settings.bootstrapTimeout, on: context.eventLoop)
                .assumeIsolated().whenComplete { [self] result in
                    core.kvFetchFinished()
                    guard context.channel.isActive else { return }
                    switch result {
                    case .success(let kv):
                        if let n = kv["prompt_tokens"]?.int, n != generation.promptTokens {
                            let message = "KV of bootstrap_room \(fields.room ?? 0) from \(fields.address) holds \(n) prompt "
                                + "tokens, the request has \(generation.promptTokens): the prefill and decode servers got different requests"
                            core.log.info("ERROR: \(message)")
                            send(context: context, version: h.version, status: 500, contentType: "application/json",
                                 body: openAIError(message, status: 500, type: "InternalServerError").canonicalText,
                                 keepAlive: keepAlive)
                            return
                        }
                        startStream(generation, context: context, version: h.version, keepAlive: keepAlive,
                                    arrival: arrival, kvReady: .now())
                    case .failure(let error):
                        let message = (error as? BootstrapFetchError)?.message ?? "KV transfer failed: \(error)"
                        core.log.info("ERROR: \(message)")
                        send(context: context, version: h.version, status: 500, contentType: "application/json",
                             body: openAIError(message, status: 500, type: "InternalServerError").canonicalText,
                             keepAlive: keepAlive)
                    }
                }
        }
    }

    private func startStream(_ generation: Generation, context: ChannelHandlerContext, version: HTTPVersion,
                             keepAlive: Bool, arrival: NIODeadline, kvReady: NIODeadline? = nil) {
        let s = GenerationStream(generation: generation, core: core, context: context, version: version,
                                 keepAlive: keepAlive, arrival: arrival, kvReady: kvReady) { [weak self] in
            self?.stream = nil
        }
        stream = s
        s.start()
    }

    /// Writes a whole response; closes the connection afterwards unless kept alive.
    func send(context: ChannelHandlerContext, version: HTTPVersion, status: Int, contentType: String?,
              body: String, keepAlive: Bool) {
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "content-type", value: contentType) }
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "server", value: "uvicorn")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let responseHead = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status),
                                            headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                          promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stream?.cancel()
        stream = nil
        context.close(promise: nil)
    }
}
