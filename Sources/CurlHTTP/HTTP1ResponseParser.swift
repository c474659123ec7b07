#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Incremental parser of HTTP/1.x responses on one connection (RFC 9112), for `DirectHTTP1`.
///
/// Fed the bytes of each read as they come; gives the final response's head, each piece of body
/// (chunked coding removed, pointing into the fed buffer: no copy), and the end, one `next` at a time.
/// Lines (status, fields, chunk sizes) may be split anywhere across reads. Framing follows RFC 9112
/// §6.3: no body after `HEAD`, 1xx, 204 and 304; `Transfer-Encoding` ending in `chunked`;
/// `Content-Length` (several differing values are an error); otherwise the body runs to the end
/// of the connection. Interim 1xx responses are skipped (101 is refused: no upgrades here).
struct HTTP1ResponseParser {
    /// What a response gives, in order: `head` once, `data` zero or more times, then `end`.
    enum Event {
        /// The final response's status and fields.
        case head(status: Int, headers: HTTPHeaders)
        /// Body bytes, valid only during the call.
        case data(UnsafeRawBufferPointer)
        /// The response is complete; `reusable` when the connection may carry another request.
        case end(reusable: Bool)
    }

    /// Why the bytes are not an acceptable HTTP/1.x response.
    struct Malformed: Error, Equatable {
        let reason: String
    }

    private enum State: Equatable {
        case statusLine, fields, fixed(Int), chunkSize, chunkData(Int), chunkDataEnd, trailers, untilClose, done
    }

    /// The longest status line, field block or chunk-size line accepted.
    static let maxHeaderBytes = 64 * 1024

    private var state = State.statusLine
    private let noBody: Bool
    /// A line split across reads (status, field, chunk size or trailer).
    private var line: [UInt8] = []
    private var status = 0
    private var http10 = false
    private var headers = HTTPHeaders()
    private var headerBytes = 0
    /// What the fields read so far say about framing (RFC 9112 §6): `Connection: close` (or
    /// HTTP/1.0 without `keep-alive`), a `Transfer-Encoding` whose last coding is chunked, and the
    /// `Content-Length`.
    private var closeAfter = false, chunked = false, teSeen = false
    private var length: Int?
    /// Whether the connection stays open after this response (`Connection` and the version).
    private var keepAlive = true
    /// `end` is due right after `head` (a response without a body).
    private var endPending = false

    /// A parser for the response to one request; `noBody` for a `HEAD` request.
    init(noBody: Bool = false) {
        self.noBody = noBody
    }

    /// True once `end` was sent.
    var isDone: Bool { state == .done }
    /// True until the first byte of the status line was fed.
    var sawNothing: Bool { state == .statusLine && line.isEmpty && status == 0 }
    /// True while the body is read to the end of the connection.
    var readsUntilClose: Bool { state == .untilClose }

    /// Feeds one read, calling `sink` with each event in order. Returns the number of bytes after
    /// the response's end (0 unless the peer sent more than the response). Throws `Malformed`; the
    /// connection is then unusable.
    @discardableResult
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ sink: (Event) -> Void) throws(Malformed) -> Int {
        var i = 0
        while let event = try next(bytes, at: &i) { sink(event) }
        return bytes.count - i
    }

    /// The next event from `bytes` starting at `i` (advanced past what it used), or nil when the
    /// bytes are used up or the response has ended (then `i` is where the rest begins). The loop
    /// `while let e = try parser.next(bytes, at: &i)` reads a whole read without a closure.
    mutating func next(_ bytes: UnsafeRawBufferPointer, at i: inout Int) throws(Malformed) -> Event? {
        if endPending {
            endPending = false
            return .end(reusable: keepAlive)
        }
        guard let base = bytes.baseAddress else { return nil }
        let n = bytes.count
        while i < n {
            switch state {
            case .done:
                return nil
            case .fixed(let left):
                let take = min(left, n - i)
                let data = UnsafeRawBufferPointer(start: base + i, count: take)
                i += take
                if take == left {
                    finish()
                    endPending = true
                } else {
                    state = .fixed(left - take)
                }
                return .data(data)
            case .chunkData(let left):
                let take = min(left, n - i)
                let data = UnsafeRawBufferPointer(start: base + i, count: take)
                i += take
                state = take == left ? .chunkDataEnd : .chunkData(left - take)
                return .data(data)
            case .untilClose:
                let data = UnsafeRawBufferPointer(start: base + i, count: n - i)
                i = n
                return .data(data)
            case .chunkSize where line.isEmpty:
                // The usual case, one whole chunk in the read ("1a\r\n" data "\r\n"): no line buffer.
                let p = base.assumingMemoryBound(to: UInt8.self)
                var j = i, size = 0
                while j < n, j - i < 15, let d = Self.hexDigit(p[j]) {
                    size = size << 4 | d
                    j += 1
                }
                guard j > i, j + 1 < n, p[j] == 0x0D, p[j + 1] == 0x0A else {
                    // Extensions, a split line, or an error: the general path.
                    if let event = try readLine(base, &i, n) { return event }
                    continue
                }
                i = j + 2
                if size == 0 {
                    state = .trailers
                } else if size <= n - i - 2, p[i + size] == 0x0D, p[i + size + 1] == 0x0A {
                    let data = UnsafeRawBufferPointer(start: base + i, count: size)
                    i += size + 2
                    return .data(data)
                } else {
                    state = .chunkData(size)
                }
            case .statusLine, .fields, .chunkSize, .chunkDataEnd, .trailers:
                if let event = try readLine(base, &i, n) { return event }
            }
        }
        return nil
    }

    private static func hexDigit(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c &- 0x30)
        case 0x41...0x46: return Int(c &- 0x41 &+ 10)
        case 0x61...0x66: return Int(c &- 0x61 &+ 10)
        default: return nil
        }
    }

    /// Reads one line at `i` (status, field, chunk size or trailer): in place when it is whole in
    /// this read, else through `line`. Returns the event the line completes, if any.
    private mutating func readLine(_ base: UnsafeRawPointer, _ i: inout Int, _ n: Int) throws(Malformed) -> Event? {
        let here = base + i
        guard let lf = memchr(here, 0x0A, n - i) else {
            try append(UnsafeRawBufferPointer(start: here, count: n - i))
            i = n
            return nil
        }
        let end = here.distance(to: UnsafeRawPointer(lf))
        i += end + 1
        if line.isEmpty { return try lineEnded(UnsafeRawBufferPointer(start: here, count: end)) }
        try append(UnsafeRawBufferPointer(start: here, count: end))
        let whole = line
        line.removeAll(keepingCapacity: true)
        var result: Result<Event?, Malformed> = .success(nil)
        whole.withUnsafeBytes { b in
            do throws(Malformed) { result = .success(try lineEnded(b)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// The connection ended (a read returned 0): the `end` of a body read to the end of the
    /// connection, else nil (the response was complete before, or is cut short: see `isDone`).
    mutating func endOfStream() -> Event? {
        guard state == .untilClose else { return nil }
        keepAlive = false
        finish()
        return .end(reusable: false)
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer) throws(Malformed) {
        line.append(contentsOf: bytes)
        if line.count > Self.maxHeaderBytes { throw Malformed(reason: "a line longer than \(Self.maxHeaderBytes) bytes") }
    }

    /// Handles one line (without its `\n`; a trailing `\r` is dropped here).
    private mutating func lineEnded(_ raw: UnsafeRawBufferPointer) throws(Malformed) -> Event? {
        var count = raw.count
        if count > 0, raw[count - 1] == 0x0D { count -= 1 }
        let text = UnsafeRawBufferPointer(rebasing: raw[0..<count])
        switch state {
        case .statusLine:
            if count == 0, status == 0 { return nil }  // a stray empty line before the status line (RFC 9112 §2.2)
            try statusLine(text)
        case .fields:
            headerBytes += raw.count + 1
            if headerBytes > Self.maxHeaderBytes { throw Malformed(reason: "a header block over \(Self.maxHeaderBytes) bytes") }
            if count == 0 { return try fieldsEnded() }
            try field(text)
        case .chunkSize:
            var size = 0, digits = 0
            for byte in text {
                let d: Int
                switch byte {
                case 0x30...0x39: d = Int(byte - 0x30)
                case 0x41...0x46: d = Int(byte - 0x41 + 10)
                case 0x61...0x66: d = Int(byte - 0x61 + 10)
                case 0x3B, 0x20, 0x09: d = -1  // chunk extensions (ignored) or whitespace before them
                default: throw Malformed(reason: "a bad chunk size line")
                }
                if d < 0 { break }
                if digits >= 15 { throw Malformed(reason: "a chunk size too large") }
                size = size * 16 + d
                digits += 1
            }
            guard digits > 0 else { throw Malformed(reason: "a bad chunk size line") }
            state = size == 0 ? .trailers : .chunkData(size)
        case .chunkDataEnd:
            guard count == 0 else { throw Malformed(reason: "chunk data longer than its size") }
            state = .chunkSize
        case .trailers:
            if count == 0 { return finish() }  // trailer fields are read and dropped
        default:
            break
        }
        return nil
    }

    private mutating func statusLine(_ text: UnsafeRawBufferPointer) throws(Malformed) {
        // HTTP/1.x SP 3DIGIT [SP reason]
        guard text.count >= 12, text.starts(with: "HTTP/1.".utf8), text[8] == 0x20,
              (0x30...0x39).contains(text[7]),
              (0x31...0x35).contains(text[9]), (0x30...0x39).contains(text[10]), (0x30...0x39).contains(text[11]),
              text.count == 12 || text[12] == 0x20
        else {
            throw Malformed(reason: "not an HTTP/1.x status line")
        }
        http10 = text[7] == 0x30
        status = Int(text[9] - 0x30) * 100 + Int(text[10] - 0x30) * 10 + Int(text[11] - 0x30)
        headers = HTTPHeaders()
        headers.fields.reserveCapacity(8)
        closeAfter = http10
        chunked = false
        teSeen = false
        length = nil
        headerBytes = text.count
        state = .fields
    }

    private mutating func field(_ text: UnsafeRawBufferPointer) throws(Malformed) {
        guard let colon = text.firstIndex(of: 0x3A), colon > 0 else { throw Malformed(reason: "a header line without a name") }
        if text[0] == 0x20 || text[0] == 0x09 { throw Malformed(reason: "a folded header line") }
        var a = colon + 1, b = text.count
        while a < b, text[a] == 0x20 || text[a] == 0x09 { a += 1 }
        while b > a, text[b - 1] == 0x20 || text[b - 1] == 0x09 { b -= 1 }
        let name = UnsafeRawBufferPointer(rebasing: text[0..<colon])
        let value = UnsafeRawBufferPointer(rebasing: text[a..<b])
        if status < 200 {
            // An interim response's fields do not frame anything.
        } else if Self.equalsIgnoringCase(name, "connection") {
            Self.tokens(value) { t in
                if Self.equalsIgnoringCase(t, "close") { closeAfter = true }
                else if Self.equalsIgnoringCase(t, "keep-alive") { closeAfter = false }
            }
        } else if Self.equalsIgnoringCase(name, "transfer-encoding") {
            teSeen = true
            var last: UnsafeRawBufferPointer?
            Self.tokens(value) { last = $0 }
            chunked = last.map { Self.equalsIgnoringCase($0, "chunked") } ?? false
        } else if Self.equalsIgnoringCase(name, "content-length") {
            try contentLength(value)
        }
        headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// `Content-Length`: one decimal number, or a list of equal ones (§6.3).
    private mutating func contentLength(_ value: UnsafeRawBufferPointer) throws(Malformed) {
        var start = 0
        while start <= value.count {
            let end = value[start...].firstIndex(of: 0x2C) ?? value.count
            let t = Self.trimmed(UnsafeRawBufferPointer(rebasing: value[start..<end]))
            guard !t.isEmpty, t.count <= 18, t.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw Malformed(reason: "a bad Content-Length")
            }
            let v = t.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            if let length, length != v { throw Malformed(reason: "differing Content-Length values") }
            length = v
            start = end + 1
        }
    }

    /// Calls `body` with each token of a comma-separated field value, without surrounding spaces
    /// and tabs. Empty list members are skipped; a member of only spaces gives an empty token.
    private static func tokens(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        while start < value.count {
            let end = value[start...].firstIndex(of: 0x2C) ?? value.count
            if end > start { body(trimmed(UnsafeRawBufferPointer(rebasing: value[start..<end]))) }
            start = end + 1
        }
    }

    private static func trimmed(_ t: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var a = 0, b = t.count
        while a < b, t[a] == 0x20 || t[a] == 0x09 { a += 1 }
        while b > a, t[b - 1] == 0x20 || t[b - 1] == 0x09 { b -= 1 }
        return UnsafeRawBufferPointer(rebasing: t[a..<b])
    }

    /// Whether `bytes` spell `name` in any case (ASCII).
    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        asciiCaseInsensitiveEqual(bytes, UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// The head of the final response; an interim one is skipped (nil).
    private mutating func fieldsEnded() throws(Malformed) -> Event? {
        if status < 200 {
            if status == 101 { throw Malformed(reason: "the server switched protocols (101)") }
            status = 0  // an interim response: the final one follows
            state = .statusLine
            return nil
        }
        let close = closeAfter
        keepAlive = !close
        let head = Event.head(status: status, headers: headers)
        if noBody || status == 204 || status == 304 {
            finish()
            endPending = true
        } else if teSeen {
            // Transfer-Encoding wins over Content-Length (§6.3); a coding other than chunked last
            // means the body runs to the end of the connection.
            state = chunked ? .chunkSize : .untilClose
            if !chunked { keepAlive = false }
        } else if let length {
            if length == 0 {
                finish()
                endPending = true
            } else {
                state = .fixed(length)
            }
        } else {
            state = .untilClose
            keepAlive = false
        }
        return head
    }

    /// Marks the response complete; returns its `end`.
    @discardableResult
    private mutating func finish() -> Event {
        state = .done
        return .end(reusable: keepAlive)
    }
}
