/// Status line and header fields of a response, delivered once before any body bytes.
public struct HTTPResponseHead: Hashable, Sendable {
    /// Status code (never 1xx: interim responses are skipped).
    public var status: Int
    /// Header fields of the final response.
    public var headers: HTTPHeaders
    /// When the header block ended.
    public var time: MonotonicTime

    /// Creates a head.
    public init(status: Int, headers: HTTPHeaders, time: MonotonicTime) {
        self.status = status
        self.headers = headers
        self.time = time
    }
}

/// Monotonic timestamps of one transfer, for TTFT and inter-token latency.
public struct TransferTimings: Hashable, Sendable {
    /// When the transfer was handed to curl.
    public var start: MonotonicTime
    /// When the response header block ended.
    public var headers: MonotonicTime?
    /// When the first body byte arrived.
    public var firstByte: MonotonicTime?
    /// Arrival time of each body chunk as curl delivered it (only when chunk recording is on).
    public var chunks: [MonotonicTime]
    /// When the transfer finished (successfully or not).
    public var end: MonotonicTime

    /// Creates timings starting now.
    public init(start: MonotonicTime) {
        self.start = start
        self.chunks = []
        self.end = start
    }

    /// Seconds from start to first body byte, if any arrived.
    public var timeToFirstByte: Double? { firstByte.map { $0.seconds(since: start) } }
    /// Seconds from start to completion.
    public var total: Double { end.seconds(since: start) }
}

/// What a finished transfer reports (the body itself went to `onData`).
public struct TransferSummary: Hashable, Sendable {
    /// Final status code.
    public var status: Int
    /// Final header fields.
    public var headers: HTTPHeaders
    /// Body bytes received.
    public var bytesReceived: Int
    /// Body chunks received (calls to `onData`).
    public var chunkCount: Int
    /// Timestamps.
    public var timings: TransferTimings

    /// Creates a summary.
    public init(status: Int, headers: HTTPHeaders, bytesReceived: Int, chunkCount: Int,
                timings: TransferTimings) {
        self.status = status
        self.headers = headers
        self.bytesReceived = bytesReceived
        self.chunkCount = chunkCount
        self.timings = timings
    }
}

/// Streaming callbacks for one `CurlMulti` transfer, all called on the multi's loop thread.
///
/// Keep them short: a slow callback delays every other transfer on the same loop.
public struct TransferHandler: Sendable {
    /// Called once when the final response's header block has arrived.
    public var onHeaders: @Sendable (HTTPResponseHead) -> Void
    /// Called for each body chunk with its arrival time. The buffer is curl's own and is valid
    /// only during the call: copy what you keep.
    public var onData: @Sendable (UnsafeRawBufferPointer, MonotonicTime) -> Void
    /// Called exactly once when the transfer ends, successfully or not.
    public var onComplete: @Sendable (Result<TransferSummary, HTTPError>) -> Void
    /// The memory `onData` reads and writes for every chunk, when the caller knows it (nil: none).
    ///
    /// With many streams on one loop, each stream's state has left the cache by its next chunk, and
    /// a chunk's work is a chain of misses (the connection, the transfer, the caller's state).
    /// For the connections the loop reads itself, it asks for this memory when the request goes
    /// out and again after the first chunk, and at each wake-up prefetches it for every ready
    /// socket before reading any, so the misses overlap instead of coming one after another.
    /// A hint only: nothing is read through these addresses and they may be stale; keep the
    /// ranges to what every chunk touches (a few cache lines).
    ///
    /// Called with `note`, it calls `note` once for each range (no array: it runs for every request).
    public var hotMemory: (@Sendable (_ note: (UnsafeRawBufferPointer) -> Void) -> Void)?

    /// Creates a handler; omitted callbacks do nothing.
    public init(onHeaders: @escaping @Sendable (HTTPResponseHead) -> Void = { _ in },
                onData: @escaping @Sendable (UnsafeRawBufferPointer, MonotonicTime) -> Void = { _, _ in },
                onComplete: @escaping @Sendable (Result<TransferSummary, HTTPError>) -> Void,
                hotMemory: (@Sendable (_ note: (UnsafeRawBufferPointer) -> Void) -> Void)? = nil) {
        self.onHeaders = onHeaders
        self.onData = onData
        self.onComplete = onComplete
        self.hotMemory = hotMemory
    }
}
