public import Engines
import Foundation

/// One event of a GPUStack watch stream (`?watch=true`).
public struct GPUStackWatchEvent: Sendable, Equatable {
    /// What happened to the row.
    public enum Kind: Int, Sendable, Equatable {
        /// A row was created (the stream starts by replaying every row as created).
        case created = 1
        /// A row changed.
        case updated = 2
        /// A row was deleted (`data` may hold only `id`).
        case deleted = 3
    }

    /// What happened.
    public var kind: Kind
    /// The row after the change (the last full row for a delete).
    public var data: JSONValue
    /// `{field: [[old], [new]]}` for updates.
    public var changedFields: [String: JSONValue]

    /// The row's id.
    public var id: Int? { data["id"]?.int }
}

/// Splits a watch body into events. GPUStack sends raw JSON objects each followed by a blank line
/// (labelled `text/event-stream`, but not SSE: no `data:` prefix), and an empty `"\n\n"` heartbeat
/// every 15 s. Chunks may split an object anywhere; unknown event types (and malformed objects) are skipped.
public struct GPUStackWatchParser: Sendable {
    private var buffer: [UInt8] = []

    /// Creates a parser.
    public init() {}

    /// Feeds bytes; returns the events completed by them.
    public mutating func feed(_ chunk: [UInt8]) -> [GPUStackWatchEvent] {
        buffer += chunk
        var out: [GPUStackWatchEvent] = []
        var start = 0
        var i = 0
        // An event ends at "\n\n" (or "\r\n\r\n") outside a JSON string; JSON text never holds a raw newline.
        while i + 1 < buffer.count {
            if buffer[i] == 0x0A, buffer[i + 1] == 0x0A || (buffer[i + 1] == 0x0D && i + 2 < buffer.count && buffer[i + 2] == 0x0A) {
                let piece = Array(buffer[start..<i])
                if let e = GPUStackWatchParser.event(piece) { out.append(e) }
                i += buffer[i + 1] == 0x0A ? 2 : 3
                start = i
                continue
            }
            i += 1
        }
        if start > 0 { buffer.removeFirst(start) }
        return out
    }

    /// The event in one piece of the stream, or nil for heartbeats and unreadable pieces.
    static func event(_ bytes: [UInt8]) -> GPUStackWatchEvent? {
        guard bytes.contains(where: { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 }),
              let v = JSONValue.parse(bytes),
              let t = v["type"]?.int, let kind = GPUStackWatchEvent.Kind(rawValue: t),
              let data = v["data"] else { return nil }
        return GPUStackWatchEvent(kind: kind, data: data, changedFields: v["changed_fields"]?.members ?? [:])
    }
}

/// A parser shared with a transport callback thread.
final class GPUStackWatchParserBox: @unchecked Sendable {
    private let lock = NSLock()
    private var parser = GPUStackWatchParser()

    func feed(_ chunk: [UInt8]) -> [GPUStackWatchEvent] { lock.withLock { parser.feed(chunk) } }
}
