/// One server-sent event.
public struct SSEEvent: Hashable, Sendable {
    /// The `event:` field, or nil for the default type (`message`).
    public var event: String?
    /// The `data:` lines of the event joined with `\n`.
    public var data: String
    /// The last `id:` seen on the stream so far (the spec's "last event ID"), or nil.
    public var id: String?
    /// The `retry:` value in milliseconds, if this event carried one.
    public var retry: Int?

    /// Creates an event.
    public init(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }

    /// True for the OpenAI-style end-of-stream marker `data: [DONE]`.
    public var isDone: Bool { data == "[DONE]" }
}

/// Incremental server-sent-events parser (the WHATWG `text/event-stream` rules).
///
/// Feed it byte chunks split anywhere — inside a line, inside a UTF-8 sequence, between `\r` and
/// `\n` — and it returns each event once its terminating blank line has arrived. Lines end with
/// `\n`, `\r\n` or `\r`. `data: x` and `data:x` both give `x` (one leading space is dropped, as
/// llama.cpp omits it). Comment lines (`: ping`) and unknown fields are ignored; a leading UTF-8
/// BOM is skipped. Bytes are decoded only when a line is complete, so split code points survive.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var afterCR = false
    private var atStart = true
    private var dataLines: [String] = []
    private var hasData = false
    private var eventType: String?
    private var lastID: String?
    private var retry: Int?

    /// Creates a parser at the start of a stream.
    public init() {}

    /// Feeds the next chunk and returns the events it completed, in order.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer) -> [SSEEvent] {
        var events: [SSEEvent] = []
        feed(chunk) { events.append($0) }
        return events
    }

    /// Feeds the next chunk and returns the events it completed, in order.
    public mutating func feed(_ chunk: some Collection<UInt8>) -> [SSEEvent] {
        var events: [SSEEvent] = []
        let handled: Void? = chunk.withContiguousStorageIfAvailable { buf in
            self.feed(UnsafeRawBufferPointer(buf)) { events.append($0) }
        }
        if handled == nil {
            let copy = Array(chunk)
            copy.withUnsafeBytes { self.feed($0) { events.append($0) } }
        }
        return events
    }

    /// Feeds the next chunk, calling `emit` for each completed event (no intermediate array).
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, emit: (SSEEvent) -> Void) {
        for byte in chunk {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }  // the \n of a \r\n pair, possibly split across chunks
            }
            switch byte {
            case 0x0D:
                afterCR = true
                endLine(emit)
            case 0x0A:
                endLine(emit)
            default:
                line.append(byte)
            }
        }
    }

    /// Ends the stream: a final event not followed by a blank line is returned (lenient; the spec
    /// would drop it), together with any unterminated last line.
    public mutating func finish() -> [SSEEvent] {
        var events: [SSEEvent] = []
        if !line.isEmpty { endLine { events.append($0) } }
        endLine { events.append($0) }
        afterCR = false
        return events
    }

    private mutating func endLine(_ emit: (SSEEvent) -> Void) {
        if atStart {
            atStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        }
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            dispatch(emit)
            return
        }
        if line[0] == 0x3A { return }  // ":" comment
        let field: String
        let value: String
        if let colon = line.firstIndex(of: 0x3A) {
            field = String(decoding: line[..<colon], as: UTF8.self)
            var start = colon + 1
            if start < line.count, line[start] == 0x20 { start += 1 }
            value = String(decoding: line[start...], as: UTF8.self)
        } else {
            field = String(decoding: line, as: UTF8.self)
            value = ""
        }
        switch field {
        case "data":
            dataLines.append(value)
            hasData = true
        case "event":
            eventType = value
        case "id":
            if !value.utf8.contains(0) { lastID = value }
        case "retry":
            if !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { retry = Int(value) }
        default:
            break  // unknown fields are ignored
        }
    }

    private mutating func dispatch(_ emit: (SSEEvent) -> Void) {
        defer {
            dataLines.removeAll(keepingCapacity: true)
            hasData = false
            eventType = nil
            retry = nil
        }
        guard hasData else { return }
        let type = (eventType?.isEmpty ?? true) ? nil : eventType
        emit(SSEEvent(event: type, data: dataLines.joined(separator: "\n"), id: lastID, retry: retry))
    }
}
