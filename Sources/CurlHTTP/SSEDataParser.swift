#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Incremental server-sent-events parser that hands out each event's `data` as raw bytes.
///
/// The same line and field rules as `SSEParser` (lines end with `\n`, `\r\n` or `\r`, split
/// anywhere across chunks; `data: x` and `data:x` both give `x`; several `data:` lines are joined
/// with `\n`; comments, `event:`, `id:`, `retry:` and unknown fields are skipped; a leading UTF-8 BOM
/// is dropped; an event is dispatched at its blank line, and `finish()` dispatches a last one that
/// lacks it), but for a client that reads only the data (a benchmark's token stream), per event:
/// - no `String`, no `SSEEvent`, no array of events: `emit` gets a buffer valid only during the call;
/// - no copy when the event's one `data:` line lies whole in the chunk being fed (the usual case:
///   one event per network read): the buffer points into the caller's chunk. Only a line split
///   across chunks, or an event of several `data:` lines, goes through an internal buffer.
///
/// Bytes are passed through as sent (no UTF-8 decoding or repair).
public struct SSEDataParser: Sendable {
    /// An incomplete line carried over from earlier chunks.
    private var carry: [UInt8] = []
    /// The current event's data once it had to be copied (split across chunks, several lines).
    private var data: [UInt8] = []
    /// The current event has a `data:` field.
    private var hasData = false
    /// The current event's data is the range `pending` of the chunk being fed (not yet copied).
    private var pending: Range<Int>?
    private var afterCR = false
    private var atStart = true

    /// Creates a parser at the start of a stream.
    public init() {}

    /// Feeds the next chunk, calling `emit` with the data of each event it completes, in order.
    /// The buffer passed to `emit` is valid only during the call.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void) {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        let p = base.assumingMemoryBound(to: UInt8.self)
        let n = chunk.count
        var i = 0
        if afterCR {
            afterCR = false
            if p[0] == 0x0A { i = 1 }  // the \n of a \r\n pair split across chunks
        }
        while i < n {
            // The usual event, whole at `i`: `data: <value>\n\n` with no \r, and no event begun
            // before it. Its value is handed out in place, with no line-by-line state.
            if !hasData, !atStart, carry.isEmpty, n - i >= 7, p[i] == 0x64, p[i + 1] == 0x61, p[i + 2] == 0x74,
               p[i + 3] == 0x61, p[i + 4] == 0x3A, let lf = memchr(base + i, 0x0A, n - i) {
                let j = base.distance(to: UnsafeRawPointer(lf))
                if j + 1 < n, p[j + 1] == 0x0A, memchr(base + i, 0x0D, j - i) == nil {
                    let start = p[i + 5] == 0x20 && i + 5 < j ? i + 6 : i + 5
                    emit(UnsafeRawBufferPointer(start: base + start, count: j - start))
                    i = j + 2
                    continue
                }
            }
            // The line ends at the first \n or \r: memchr for \n, then for \r before it.
            let here = base + i
            let lf = memchr(here, 0x0A, n - i)
            let span = lf.map { here.distance(to: UnsafeRawPointer($0)) } ?? (n - i)
            let j: Int
            if let cr = memchr(here, 0x0D, span) {
                j = i + here.distance(to: UnsafeRawPointer(cr))
            } else {
                j = i + span
            }
            if j == n {
                carry.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: n - i))
                break
            }
            if carry.isEmpty {
                line(UnsafeRawBufferPointer(start: base + i, count: j - i), at: i, chunk: chunk, emit)
            } else {
                carry.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: j - i))
                carriedLine(chunk, emit)
            }
            let cr = p[j] == 0x0D
            i = j + 1
            if cr {
                if i < n {
                    if p[i] == 0x0A { i += 1 }
                } else {
                    afterCR = true
                }
            }
        }
        if pending != nil { materialize(chunk) }
    }

    /// Ends the stream: a last event not followed by a blank line is dispatched (lenient, as
    /// `SSEParser.finish()`), together with any unterminated last line.
    public mutating func finish(emit: (UnsafeRawBufferPointer) -> Void) {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        if !carry.isEmpty { carriedLine(none, emit) }
        line(none, at: nil, chunk: none, emit)
        afterCR = false
    }

    /// Handles the line in `carry` and empties it (keeping its storage).
    private mutating func carriedLine(_ chunk: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) -> Void) {
        var local: [UInt8] = []
        swap(&local, &carry)
        local.withUnsafeBytes { line($0, at: nil, chunk: chunk, emit) }
        local.removeAll(keepingCapacity: true)
        swap(&local, &carry)
    }

    /// Copies the pending data out of the chunk (it is about to go away, or more data follows).
    private mutating func materialize(_ chunk: UnsafeRawBufferPointer) {
        guard let r = pending else { return }
        pending = nil
        data.removeAll(keepingCapacity: true)
        data.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[r]))
    }

    /// One complete line (without its end). `offset`: where it starts in `chunk` (nil: a carried line).
    private mutating func line(_ raw: UnsafeRawBufferPointer, at offset: Int?, chunk: UnsafeRawBufferPointer,
                               _ emit: (UnsafeRawBufferPointer) -> Void) {
        var l = raw
        var offset = offset
        if atStart {
            atStart = false
            if l.count >= 3, l[0] == 0xEF, l[1] == 0xBB, l[2] == 0xBF {
                l = UnsafeRawBufferPointer(rebasing: l[3...])
                offset = offset.map { $0 + 3 }
            }
        }
        if l.isEmpty {
            guard hasData else { return }
            if let r = pending {
                emit(UnsafeRawBufferPointer(rebasing: chunk[r]))
            } else {
                data.withUnsafeBytes { emit($0) }
            }
            hasData = false
            pending = nil
            data.removeAll(keepingCapacity: true)
            return
        }
        if l[0] == 0x3A { return }  // ":" comment
        var colon = 0
        while colon < l.count, l[colon] != 0x3A { colon += 1 }
        // Only `data` matters here; event, id, retry and unknown fields are skipped.
        guard colon == 4, l[0] == 0x64, l[1] == 0x61, l[2] == 0x74, l[3] == 0x61 else { return }
        var start = colon + 1
        if start < l.count, l[start] == 0x20 { start += 1 }
        start = min(start, l.count)
        let value = UnsafeRawBufferPointer(rebasing: l[start...])
        if !hasData {
            hasData = true
            if let offset {
                pending = (offset + start)..<(offset + l.count)
            } else {
                data.removeAll(keepingCapacity: true)
                data.append(contentsOf: value)
            }
        } else {
            materialize(chunk)
            data.append(0x0A)
            data.append(contentsOf: value)
        }
    }
}
