import Engines
import NIOCore
import NIOHTTP1

/// Writes one generation on its own timers on the connection's event loop.
///
/// Chunk `i` is due at `arrival + TTFT + i × decodeStep`, where arrival is when the request's
/// last byte was read (absolute deadlines, so neither parsing nor timer latency accumulates), plus,
/// with shared steps, the wait for the engine's next step boundary (`TimingModel.boundaryWaitNs`);
/// each chunk is one SSE event. Non-streaming requests get the whole body when the last chunk is
/// due. No lock is held while waiting and nothing sleeps.
final class GenerationStream {
    private let g: Generation
    private let core: SimCore
    private let context: ChannelHandlerContext
    private let version: HTTPVersion
    private let keepAlive: Bool
    private let onDone: () -> Void
    private let sizes: [Int]
    private let template: GenerationRenderer.ChunkTemplate?
    private let arrival: NIODeadline
    /// PD decode: when the room's KV arrived from the prefill's bootstrap server.
    private let kvReady: NIODeadline?
    private var index = 0
    private var emitted = 0
    /// The native API's text and ids so far.
    private var native = GenerationRenderer.NativeStream()
    private var scheduled: Scheduled<Void>?
    private var finished = false

    init(generation: Generation, core: SimCore, context: ChannelHandlerContext, version: HTTPVersion,
         keepAlive: Bool, arrival: NIODeadline, kvReady: NIODeadline? = nil, onDone: @escaping () -> Void) {
        self.g = generation
        self.core = core
        self.context = context
        self.version = version
        self.keepAlive = keepAlive
        self.onDone = onDone
        self.sizes = core.settings.timing.chunkSizes(maxTokens: generation.maxTokens)
        self.template = generation.stream ? GenerationRenderer.ChunkTemplate(generation) : nil
        self.arrival = arrival
        self.kvReady = kvReady
    }

    /// Sends the response head (streaming) and schedules the first chunk.
    func start() {
        core.generationStarted()
        if g.stream {
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/event-stream; charset=utf-8")
            headers.add(name: "cache-control", value: "no-cache")
            headers.add(name: "server", value: "uvicorn")
            if !keepAlive { headers.add(name: "connection", value: "close") }
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(
                HTTPResponseHead(version: version, status: .ok, headers: headers))), promise: nil)
        }
        scheduleNext()
    }

    /// Stops a stream whose connection went away.
    func cancel() {
        scheduled?.cancel()
        complete()
    }

    private func due(_ chunk: Int) -> NIODeadline {
        if g.prefilled {
            let ms = Double(max(0, chunk)) * core.settings.timing.decodeStepMs
            return (kvReady ?? arrival) + .nanoseconds(Int64(ms * 1_000_000))
        }
        let timing = core.settings.timing
        let ms = timing.chunkOffsetMs(index: max(0, chunk), promptTokens: g.promptTokens)
        let wait = timing.boundaryWaitNs(arrivalNs: arrival.uptimeNanoseconds, promptTokens: g.promptTokens)
        return arrival + .nanoseconds(Int64(wait) + Int64(ms * 1_000_000))
    }

    private func scheduleNext() {
        guard !finished else { return }
        if index >= sizes.count {
            finish()
            return
        }
        let deadline = g.stream ? due(index) : due(sizes.count - 1)
        scheduled = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.core.timerFired(latenessNs: (NIODeadline.now() - deadline).nanoseconds)
            self.fire()
        }
    }

    private func fire() {
        guard !finished else { return }
        // PD prefill: the KV is ready with the first token, whether or not the router still listens.
        if let room = g.publishRoom, index == 0 {
            core.publishPrefill(room: room, promptTokens: g.promptTokens)
        }
        guard context.channel.isActive else {
            complete()
            return
        }
        if g.stream {
            let range = emitted..<(emitted + sizes[index])
            if let template {
                write(template.render(range, maxTokens: g.maxTokens), flush: true)
            } else {
                write(native.event(g, tokens: range, elapsed: elapsedSeconds()), flush: true)
            }
            emitted = range.upperBound
            index += 1
        } else {
            emitted = g.maxTokens
            index = sizes.count
        }
        scheduleNext()
    }

    private func finish() {
        if g.stream {
            if g.includeUsage { write(GenerationRenderer.sse(GenerationRenderer.usageChunk(g)), flush: false) }
            write(GenerationRenderer.done, flush: false)
            endResponse()
        } else {
            let body = GenerationRenderer.full(g, elapsed: elapsedSeconds()).canonicalText
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.utf8.count))
            headers.add(name: "server", value: "uvicorn")
            if !keepAlive { headers.add(name: "connection", value: "close") }
            context.write(NIOAny(HTTPServerResponsePart.head(
                HTTPResponseHead(version: version, status: .ok, headers: headers))), promise: nil)
            write(body, flush: false)
            endResponse()
        }
        complete()
    }

    private func endResponse() {
        let done = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func write(_ text: String, flush: Bool) {
        let buffer = context.channel.allocator.buffer(string: text)
        let part = NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer)))
        if flush { context.writeAndFlush(part, promise: nil) } else { context.write(part, promise: nil) }
    }

    private func elapsedSeconds() -> Double {
        Double((NIODeadline.now() - arrival).nanoseconds) / 1e9
    }

    /// Bookkeeping once, whether the stream ended or was cancelled.
    private func complete() {
        guard !finished else { return }
        finished = true
        core.generationFinished(tokens: emitted, steps: index, promptTokens: g.promptTokens)
        onDone()
    }
}
