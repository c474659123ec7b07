#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fields of one streamed JSON chunk that a benchmark needs, read without building the document.
///
/// Per token the client parses one chunk; Foundation's `JSONSerialization` builds and bridges a whole
/// dictionary for it, which was most of the client's CPU per token. This reader walks the bytes once,
/// checks the JSON syntax (strings, numbers, literals, nesting) and keeps only:
/// - `error` (any value) at the top level,
/// - the text: OpenAI completions `choices[0].text`, chat `choices[0].delta.content`, SGLang `text`,
/// - token counts: OpenAI `usage.{completion,prompt}_tokens`, SGLang `meta_info.{completion,prompt}_tokens`.
public struct StreamChunk: Sendable, Hashable {
    /// The chunk has a top-level `error` member.
    public var hasError = false
    /// Whether the chunk carries text: nil when absent or null, false for `""`, true otherwise.
    public var hasText: Bool?
    /// `completion_tokens` (integral numbers only).
    public var completionTokens: Int?
    /// `prompt_tokens` (integral numbers only).
    public var promptTokens: Int?

    /// Creates an empty result.
    public init() {}

    /// Reads `bytes` as a chunk of `backend`'s API; nil when it is not a JSON object (or not valid JSON).
    public static func scan(_ bytes: UnsafeBufferPointer<UInt8>, backend: BenchBackend) -> StreamChunk? {
        var span: Range<Int>?
        return scan(bytes, backend: backend, textSpan: &span)
    }

    /// `scan`, also giving the contents of the string that decided `hasText` (nil when none did).
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, backend: BenchBackend,
                     textSpan: inout Range<Int>?) -> StreamChunk? {
        var members: [GrowingMember] = []
        var resumed = false
        return scan(bytes, backend: backend, textSpan: &textSpan, previous: nil, members: &members, resumed: &resumed)
    }

    /// `scan`, reading the long top-level strings and arrays that extend `previous`'s from where
    /// they ended (see `StreamChunkReader`) and giving this chunk's in `members`.
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, backend: BenchBackend, textSpan: inout Range<Int>?,
                     previous: (bytes: UnsafePointer<UInt8>, members: [GrowingMember])?,
                     members: inout [GrowingMember], resumed: inout Bool) -> StreamChunk? {
        var r = Reader(b: bytes)
        defer {
            textSpan = r.textSpan
            resumed = r.resumed
        }
        var out = StreamChunk()
        members.removeAll(keepingCapacity: true)
        guard r.object({ r, key in
            r.ws()
            let start = r.i
            if let previous, !previous.members.isEmpty {
                r.resume = GrowingMember.resumePoint(of: previous, key: key, at: start, in: r.b)
            }
            defer { r.resume = nil }
            let ok: Bool
            if r.key(key, is: "error") {
                out.hasError = true
                ok = r.skip(0)
            } else {
                switch backend {
                case .sglang:
                    if r.key(key, is: "text") { ok = r.text(into: &out.hasText) }
                    else if r.key(key, is: "meta_info") { ok = r.counts(into: &out) }
                    else { ok = r.skip(0) }
                case .openai, .openaiChat:
                    if r.key(key, is: "usage") { ok = r.counts(into: &out) }
                    else if r.key(key, is: "choices") { ok = r.choices(chat: backend == .openaiChat, into: &out.hasText) }
                    else { ok = r.skip(0) }
                }
            }
            if ok, let m = GrowingMember(key: key, value: start..<r.i, in: r.b) { members.append(m) }
            return ok
        }) else { return nil }
        r.ws()
        return r.i == bytes.count ? out : nil
    }
}

/// A long top-level string or non-empty array of a chunk, by where its key and value lie in the
/// chunk's bytes. SGLang's native stream repeats all the text and token ids so far in every chunk
/// (`{"text": "…", "output_ids": […], "meta_info": {…}}`), so reading each chunk in full costs a
/// response of n tokens O(n²). When the next chunk's member of the same key begins with all of this
/// value but its closing byte, that part is the same valid JSON and is not read again: reading
/// resumes where it ended.
struct GrowingMember {
    /// Only values this long are kept: shorter ones are read again for less than the checks cost.
    static let least = 64
    let key: Range<Int>
    let value: Range<Int>

    /// The member `key`: `value`, if its value is a string, or an array with an element, of at least `least` bytes.
    init?(key: Range<Int>, value: Range<Int>, in b: UnsafeBufferPointer<UInt8>) {
        guard value.count >= Self.least else { return nil }
        switch b[value.lowerBound] {
        case 0x22: break
        case 0x5B:
            var k = value.lowerBound + 1
            while b[k] == 0x20 || b[k] == 0x0A || b[k] == 0x0D || b[k] == 0x09 { k += 1 }
            guard b[k] != 0x5D else { return nil }
        default: return nil
        }
        self.key = key
        self.value = value
    }

    /// Where reading the value at `at` in `b` (the member `key`) may resume, when the previous
    /// chunk's member of that key is a prefix of it but for its closing byte; nil when it is not.
    static func resumePoint(of previous: (bytes: UnsafePointer<UInt8>, members: [GrowingMember]), key: Range<Int>,
                            at v: Int, in b: UnsafeBufferPointer<UInt8>) -> (at: Int, to: Int)? {
        guard let p = b.baseAddress else { return nil }
        for m in previous.members where m.key.count == key.count
            && memcmp(previous.bytes + m.key.lowerBound, p + key.lowerBound, key.count) == 0 {
            let close = v + m.value.count - 1  // where the previous value's closing byte was
            guard close < b.count, memcmp(previous.bytes + m.value.lowerBound, p + v, m.value.count - 1) == 0
            else { return nil }
            // A string is read left to right, so bytes that are the previous string's up to its
            // closing quote leave the reading where that quote did: between two characters, not
            // inside an escape (the quote closed the string).
            if b[v] == 0x22 { return (v, close) }
            // An array resumes after its last element, which must have ended there too (a number
            // followed by more digits did not).
            switch b[close] {
            case 0x2C, 0x5D, 0x20, 0x0A, 0x0D, 0x09: return (v, close)
            default: return nil
            }
        }
        return nil
    }
}

/// Reads the chunks of one stream, each as `StreamChunk.scan` would, most of them without reading
/// them in full.
///
/// A server's chunks for one request usually differ only in the new text: vLLM's completion chunks,
/// for one, repeat `id`, `object`, `created`, `model` and the choice's other members. When
/// a chunk differs from the previous one only inside the string that decided the previous chunk's
/// `hasText`, only that string is checked again (its escapes and its closing quote). Everything
/// before and after it is byte for byte the previous chunk, which was read in full and found valid,
/// so the chunk is valid JSON of the same structure and its fields are the previous chunk's but
/// `hasText`. Any other chunk is read in full, but for its long top-level strings and arrays that
/// extend the previous chunk's (`GrowingMember`: SGLang's native stream repeats the text and ids so far).
public struct StreamChunkReader: Sendable {
    /// The API whose chunks are read.
    public let backend: BenchBackend
    /// How many chunks were read by comparing with the previous one.
    public private(set) var incremental = 0
    /// How many chunks were read in part: a long string or array from where the previous chunk's ended (`GrowingMember`).
    public private(set) var resumed = 0
    /// How many times memory for the previous chunk was allocated (a stream needs it a few times).
    public private(set) var allocations = 0
    /// The previous chunk's bytes: `count` of them at `storage`.
    private var storage: Storage?
    private var count = 0
    /// The previous chunk's fields; nil when there is no previous chunk or it was not valid.
    private var last: StreamChunk?
    /// The contents of the string that decided `last.hasText` in the previous chunk.
    private var textSpan: Range<Int>?
    /// The previous chunk's long top-level strings and arrays (`GrowingMember`), when it was read in full.
    private var members: [GrowingMember] = []
    /// Spare storage for the members of the chunk being read.
    private var nextMembers: [GrowingMember] = []
    /// `!members.isEmpty`.
    private var hasMembers = false

    /// Creates a reader for one stream of `backend`'s chunks.
    public init(backend: BenchBackend) { self.backend = backend }

    /// Names the memory reading the next chunk touches: the previous chunk's bytes and their store.
    func noteHotMemory(_ note: (UnsafeRawBufferPointer) -> Void) {
        guard let storage else { return }
        note(UnsafeRawBufferPointer(start: Unmanaged.passUnretained(storage).toOpaque(), count: 32))
        note(UnsafeRawBufferPointer(start: storage.base, count: count))
    }

    /// The fields of `bytes`, exactly as `StreamChunk.scan(bytes, backend:)` gives them.
    public mutating func read(_ bytes: UnsafeBufferPointer<UInt8>) -> StreamChunk? {
        // Only the store's address is taken: a reference held here would make `remember` find the
        // store shared and allocate a new one for every chunk.
        if let last, let q = storage?.base, let p = bytes.baseAddress,
           let newSpan = Self.sameExceptText(p, bytes.count, q, count, textSpan) {
            var out = last
            if let newSpan {
                out.hasText = !newSpan.isEmpty
                textSpan = newSpan
            }
            incremental &+= 1
            self.last = out
            // The bytes after the string may have moved: the members' places are the previous
            // layout's. (The flag, kept beside the other fields, spares most chunks a load of the
            // array's own memory.)
            if hasMembers {
                members.removeAll(keepingCapacity: true)
                hasMembers = false
            }
            // The bytes before the string are the ones stored already.
            remember(bytes, from: newSpan?.lowerBound ?? bytes.count)
            return out
        }
        let previous = last != nil && hasMembers ? (storage?.base).map { (UnsafePointer($0), members) } : nil
        var partly = false
        last = StreamChunk.scan(bytes, backend: backend, textSpan: &textSpan, previous: previous, members: &nextMembers,
                                resumed: &partly)
        if partly, last != nil { resumed &+= 1 }
        swap(&members, &nextMembers)
        if last != nil { remember(bytes) } else { members.removeAll(keepingCapacity: true) }
        hasMembers = !members.isEmpty
        return last
    }

    /// Stores `bytes` as the previous chunk; the first `from` of them are known to be stored already.
    private mutating func remember(_ bytes: UnsafeBufferPointer<UInt8>, from: Int = 0) {
        guard let p = bytes.baseAddress else { count = 0; return }
        var from = from
        // A copy of the reader shares the storage until one of them writes (copy on write).
        if !isKnownUniquelyReferenced(&storage) || storage!.capacity < bytes.count {
            // Doubling: a stream whose chunks grow (SGLang's native API repeats the whole text so
            // far) allocates a few times per response, not once per chunk.
            let had = storage?.capacity ?? 0
            storage = Storage(capacity: max(bytes.count, had < bytes.count ? 2 * had : had, 512))
            allocations &+= 1
            from = 0
        }
        storage!.base.advanced(by: from).update(from: p + from, count: bytes.count - from)
        count = bytes.count
    }

    /// Whether the `n` bytes at `p` are the `m` bytes at `q` (the previous chunk) but for the
    /// contents of the string at `span` in `q`: `.some(nil)` when they are the same bytes and there
    /// is no such string, `.some(range)` with the string's contents in `p`, nil when the chunk must
    /// be read in full.
    @inline(__always)
    private static func sameExceptText(_ p: UnsafePointer<UInt8>, _ n: Int, _ q: UnsafePointer<UInt8>, _ m: Int,
                                       _ span: Range<Int>?) -> Range<Int>?? {
        guard let span else { return n == m && memcmp(p, q, n) == 0 ? .some(nil) : nil }
        // The string keeps its place; its closing quote moves by the change in length.
        let close = span.upperBound + n - m
        guard close >= span.lowerBound, close < n,
              memcmp(p, q, span.lowerBound) == 0,
              memcmp(p + close, q + span.upperBound, m - span.upperBound) == 0 else { return nil }
        // The bytes before the opening quote and from the closing quote on are the previous
        // chunk's; the string must still end exactly at that quote.
        var r = Reader(b: UnsafeBufferPointer(start: p, count: n))
        r.i = span.lowerBound - 1
        guard let contents = r.string(), contents.upperBound == close else { return nil }
        return .some(contents)
    }

    /// Memory for the previous chunk's bytes (one per stream, reused for every chunk).
    private final class Storage: @unchecked Sendable {  // owned by one reader, on one thread
        let base: UnsafeMutablePointer<UInt8>
        let capacity: Int
        init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }
        deinit { base.deallocate() }
    }
}

/// A forward-only JSON reader over bytes (RFC 8259 syntax; nesting limited to 256).
private struct Reader {
    let b: UnsafeBufferPointer<UInt8>
    var i = 0
    /// The contents of the last string that set a text flag (cleared by a null one).
    var textSpan: Range<Int>?
    /// When the string or array that begins at `at` is read, reading resumes at `to`
    /// (`GrowingMember.resumePoint`: the bytes between are known to be valid JSON).
    var resume: (at: Int, to: Int)?
    /// Some value was read from a resume point.
    var resumed = false

    init(b: UnsafeBufferPointer<UInt8>) { self.b = b }

    @inline(__always)
    mutating func ws() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    @inline(__always)
    mutating func eat(_ c: UInt8) -> Bool {
        ws()
        guard i < b.count, b[i] == c else { return false }
        i += 1
        return true
    }

    @inline(__always)
    func key(_ r: Range<Int>, is name: StaticString) -> Bool {
        guard r.count == name.utf8CodeUnitCount else { return false }
        let p = name.utf8Start
        for k in 0..<r.count where b[r.lowerBound + k] != p[k] { return false }
        return true
    }

    /// A string at `i` (after whitespace): the raw bytes between the quotes (escapes left as is).
    /// Plain bytes are skipped eight at a time: a word's first `"`, `\\` or control byte is found with
    /// bit tricks, and only that byte is looked at on its own.
    mutating func string() -> Range<Int>? {
        guard eat(0x22) else { return nil }
        let start = i
        let n = b.count
        guard let p = b.baseAddress else { return nil }
        var j = i
        if let r = resume, r.at == start - 1 { j = r.to; resumed = true }
        defer { i = j }
        while true {
            while j + 8 <= n {
                let w = UInt64(littleEndian: UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self))
                let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                let quote = w ^ (ones &* 0x22), backslash = w ^ (ones &* 0x5C)
                // (x - ones) & ~x & highs flags the zero bytes of x, and (w - 0x20 per byte) & ~w & highs
                // the bytes below 0x20. A borrow can flag a byte above a true hit, never below one, so
                // the lowest flag is the first special byte.
                let special = (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                               | ((w &- ones &* 0x20) & ~w)) & highs
                if special != 0 {
                    j += special.trailingZeroBitCount >> 3
                    break
                }
                j += 8
            }
            guard j < n else { return nil }
            let c = p[j]
            if c == 0x22 { j += 1; return start..<(j - 1) }
            if c < 0x20 { return nil }
            if c == 0x5C {
                guard j + 1 < n else { return nil }
                let e = p[j + 1]
                if e == 0x75 {  // \uXXXX
                    guard j + 5 < n, Self.isHex(p[j + 2]), Self.isHex(p[j + 3]), Self.isHex(p[j + 4]),
                          Self.isHex(p[j + 5]) else { return nil }
                    j += 6
                    continue
                }
                switch e {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: j += 2
                default: return nil
                }
                continue
            }
            j += 1
        }
    }

    static func isHex(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c) }

    /// `{ "key": value, … }`, calling `member` with each key; it must consume the value.
    mutating func object(_ member: (inout Reader, Range<Int>) -> Bool) -> Bool {
        guard eat(0x7B) else { return false }
        if eat(0x7D) { return true }
        repeat {
            guard let k = string(), eat(0x3A), member(&self, k) else { return false }
        } while eat(0x2C)
        return eat(0x7D)
    }

    /// A number; its value when integral and `value` is asked for. Plain integers are read from the
    /// digits; other forms (fraction, exponent, more than 18 digits) through `Double`, as before.
    mutating func number(value: Bool = false) -> (ok: Bool, int: Int?) {
        ws()
        let start = i
        var negative = false
        if i < b.count, b[i] == 0x2D { negative = true; i += 1 }
        let intStart = i
        var v = 0
        while i < b.count, b[i] &- 0x30 < 10 {
            v = v &* 10 &+ Int(b[i] &- 0x30)
            i += 1
        }
        let digits = i - intStart
        guard digits > 0, !(digits > 1 && b[intStart] == 0x30) else { return (false, nil) }
        var integral = true
        if i < b.count, b[i] == 0x2E {
            i += 1
            let f = i
            while i < b.count, b[i] &- 0x30 < 10 { i += 1 }
            guard i > f else { return (false, nil) }
            integral = false
        }
        if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
            i += 1
            if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
            let e = i
            while i < b.count, b[i] &- 0x30 < 10 { i += 1 }
            guard i > e else { return (false, nil) }
            integral = false
        }
        guard value else { return (true, nil) }
        if integral, digits <= 18 { return (true, negative ? -v : v) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if integral, let n = Int(text) { return (true, n) }
        if let d = Double(text), d.isFinite, d == d.rounded(), abs(d) < 1e15 { return (true, Int(d)) }
        return (true, nil)
    }

    @inline(__always)
    mutating func literal(_ word: StaticString) -> Bool {
        ws()
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count, key(i..<(i + n), is: word) else { return false }
        i += n
        return true
    }

    /// Skips any value.
    mutating func skip(_ depth: Int) -> Bool {
        guard depth < 256 else { return false }
        ws()
        guard i < b.count else { return false }
        switch b[i] {
        case 0x22: return string() != nil
        case 0x7B: return object { r, _ in r.skip(depth + 1) }
        case 0x5B:
            if let r = resume, r.at == i {
                // After an element: the rest of the array.
                i = r.to
                resumed = true
                while eat(0x2C) { guard skip(depth + 1) else { return false } }
                return eat(0x5D)
            }
            i += 1
            if eat(0x5D) { return true }
            repeat { guard skip(depth + 1) else { return false } } while eat(0x2C)
            return eat(0x5D)
        case 0x74: return literal("true")
        case 0x66: return literal("false")
        case 0x6E: return literal("null")
        default: return number().ok
        }
    }

    /// A string (non-empty → true, "" → false) or null (nil); any other value leaves `flag` as it was.
    mutating func text(into flag: inout Bool?) -> Bool {
        ws()
        guard i < b.count else { return false }
        if b[i] == 0x22 {
            guard let r = string() else { return false }
            flag = !r.isEmpty
            textSpan = r
            return true
        }
        if b[i] == 0x6E { flag = nil; textSpan = nil; return literal("null") }
        return skip(0)
    }

    /// `{"completion_tokens": N, "prompt_tokens": N, …}` (null or a non-object is skipped).
    mutating func counts(into out: inout StreamChunk) -> Bool {
        ws()
        guard i < b.count, b[i] == 0x7B else { return skip(0) }
        return object { r, k in
            if r.key(k, is: "completion_tokens") || r.key(k, is: "prompt_tokens") {
                r.ws()
                guard r.i < r.b.count else { return false }
                if r.b[r.i] == 0x2D || (0x30...0x39).contains(r.b[r.i]) {
                    let n = r.number(value: true)
                    guard n.ok else { return false }
                    if let v = n.int {
                        if r.key(k, is: "completion_tokens") { out.completionTokens = v } else { out.promptTokens = v }
                    }
                    return true
                }
            }
            return r.skip(1)
        }
    }

    /// `choices`: the first element's `text` (completions) or `delta.content` (chat).
    mutating func choices(chat: Bool, into flag: inout Bool?) -> Bool {
        ws()
        guard i < b.count, b[i] == 0x5B else { return skip(0) }
        i += 1
        if eat(0x5D) { return true }
        var first = true
        repeat {
            ws()
            if first, i < b.count, b[i] == 0x7B {
                let ok = object { r, k in
                    if !chat, r.key(k, is: "text") { return r.text(into: &flag) }
                    if chat, r.key(k, is: "delta") {
                        r.ws()
                        guard r.i < r.b.count, r.b[r.i] == 0x7B else { return r.skip(2) }
                        return r.object { r2, k2 in r2.key(k2, is: "content") ? r2.text(into: &flag) : r2.skip(3) }
                    }
                    return r.skip(2)
                }
                guard ok else { return false }
            } else {
                guard skip(1) else { return false }
            }
            first = false
        } while eat(0x2C)
        return eat(0x5D)
    }
}
