import CurlHTTP
import Foundation

/// The API a benchmark speaks.
public enum BenchBackend: String, Sendable, Hashable, CaseIterable {
    /// SGLang native `/generate` with `input_ids`.
    case sglang
    /// OpenAI `/v1/completions`.
    case openai
    /// OpenAI `/v1/chat/completions`.
    case openaiChat = "openai-chat"

    /// Whether the API takes a prompt as token ids (`/generate` `input_ids`, `/v1/completions`
    /// `prompt: [ids]`); chat messages are text only.
    public var takesTokenIDs: Bool { self != .openaiChat }

    var path: String {
        switch self {
        case .sglang: "/generate"
        case .openai: "/v1/completions"
        case .openaiChat: "/v1/chat/completions"
        }
    }

    /// Whether `request` goes as token ids: it has them, the API takes them and `tokenIDs` (the run's
    /// prompt mode) allows them.
    func sendsTokenIDs(_ request: BenchRequest, tokenIDs: Bool) -> Bool {
        tokenIDs && takesTokenIDs && !request.tokenIDs.isEmpty
    }

    /// The streaming request body for `request`: its token ids when `sendsTokenIDs`, else its text.
    /// Written directly (no `JSONSerialization` and its boxed dictionary per request).
    func body(_ request: BenchRequest, model: String?, tokenIDs: Bool) -> [UInt8] {
        let ids = sendsTokenIDs(request, tokenIDs: tokenIDs)
        // Room for the prompt (ids: up to 6 digits and a comma each; text: escapes aside) and the rest.
        var w = JSONBodyWriter(capacity: 256 + (model?.utf8.count ?? 0)
                                   + (ids ? request.tokenIDs.count * 7 : request.text.utf8.count))
        let n = request.outputLength
        switch self {
        case .sglang:
            w.member("stream", raw: "true")
            w.key("sampling_params")
            w.raw("{\"temperature\":0.0,\"max_new_tokens\":")
            w.integer(n)
            w.raw(",\"ignore_eos\":true}")
            if ids { w.member("input_ids", ints: request.tokenIDs) } else { w.member("text", string: request.text) }
        case .openai:
            if ids { w.member("prompt", ints: request.tokenIDs) } else { w.member("prompt", string: request.text) }
            w.member("temperature", raw: "0.0")
            w.member("max_tokens", int: n)
            w.member("stream", raw: "true")
            w.member("ignore_eos", raw: "true")
            w.member("stream_options", raw: "{\"include_usage\":true}")
        case .openaiChat:
            w.key("messages")
            w.raw("[{\"role\":\"user\",\"content\":")
            w.string(request.text)
            w.raw("}]")
            w.member("temperature", raw: "0.0")
            w.member("max_tokens", int: n)
            w.member("max_completion_tokens", int: n)
            w.member("stream", raw: "true")
            w.member("ignore_eos", raw: "true")
            w.member("stream_options", raw: "{\"include_usage\":true}")
        }
        if let model { w.member("model", string: model) }
        return w.finish()
    }
}

/// Writes one JSON object member by member (RFC 8259 string escaping).
struct JSONBodyWriter {
    var bytes: [UInt8]
    private var first = true

    /// `capacity`: the bytes to make room for at once (one allocation when the body fits).
    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(0x7B)
    }

    /// `"k":` (names are written as given: the callers' names need no escaping).
    mutating func key(_ k: StaticString) {
        if !first { bytes.append(0x2C) }
        first = false
        bytes.append(0x22)
        raw(k)
        bytes.append(0x22)
        bytes.append(0x3A)
    }

    /// `text` as it is (JSON written by the caller).
    mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func member(_ k: StaticString, raw text: StaticString) {
        key(k)
        raw(text)
    }

    mutating func member(_ k: StaticString, int: Int) {
        key(k)
        integer(int)
    }

    mutating func member(_ k: StaticString, string value: String) {
        key(k)
        string(value)
    }

    mutating func member(_ k: StaticString, ints: [Int]) {
        key(k)
        // Written into scratch memory sized for the longest numbers (20 digits, a sign and a comma
        // each; on the stack when small), then appended in one copy.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: ints.count * 22 + 2) { out in
            var at = 0
            out[at] = 0x5B
            at += 1
            for (index, v) in ints.enumerated() {
                if index > 0 { out[at] = 0x2C; at += 1 }
                at = Self.decimal(v, into: out, at: at)
            }
            out[at] = 0x5D
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: out[...at]))
        }
    }

    /// A decimal integer.
    mutating func integer(_ v: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 21) { out in
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: out[..<Self.decimal(v, into: out, at: 0)]))
        }
    }

    /// Writes `v` in decimal at `at` (room for 21 bytes); returns where it ends.
    private static func decimal(_ v: Int, into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var at = start
        if v < 0 { out[at] = 0x2D; at += 1 }
        var m = v.magnitude, width = 1
        var rest = m / 10
        while rest > 0 { width += 1; rest /= 10 }
        var k = at + width
        repeat {
            k -= 1
            out[k] = UInt8(truncatingIfNeeded: m % 10) &+ 0x30
            m /= 10
        } while m > 0
        return at + width
    }

    mutating func string(_ s: String) {
        bytes.append(0x22)
        // Most strings (keys, model names, ASCII prompts) need no escape: copied in one piece.
        var s = s
        let plain = s.withUTF8 { u in
            guard !u.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else { return false }
            bytes.append(contentsOf: u)
            return true
        }
        if plain {
            bytes.append(0x22)
            return
        }
        for c in s.utf8 {
            switch c {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)
            case 0x09: bytes.append(0x5C); bytes.append(0x74)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
            default: bytes.append(c)
            }
        }
        bytes.append(0x22)
    }

    mutating func finish() -> [UInt8] {
        bytes.append(0x7D)
        return bytes
    }
}

/// Takes the outputs of `StreamAccumulator.handler(reportingTo:index:)` (on the transfer loop thread).
protocol OutputSink: AnyObject, Sendable {
    func completed(_ index: Int, _ output: RequestOutput)
}

/// Folds one request's SSE events into a `RequestOutput` exactly as bench_serving's request
/// functions do. Not thread-safe: used only on the transfer loop thread.
///
/// Per chunk: the SSE data is found in place over curl's buffer (`SSEDataParser`, no copy unless
/// an event is split across reads), its fields are read by `StreamChunkReader` without building a
/// document (most chunks only by comparing them with the previous one), and one `Double` is
/// appended to a preallocated `itl`; nothing else is allocated.
///
/// Unchecked `Sendable`: made on the runner's thread, then touched only on the transfer loop thread.
final class StreamAccumulator: @unchecked Sendable {
    // What every chunk touches comes first, within `hotBytes` of the object's start (handed to the
    // loop as `TransferHandler.hotMemory`; `BenchTests.anAccumulatorNamesTheMemoryAChunkTouches` checks it).
    // Touched only on the transfer loop thread, once per token: no run-time exclusivity check
    // (each one cost about 80 instructions per token).
    var status = 0
    @exclusivity(unchecked) var parser = SSEDataParser()
    @exclusivity(unchecked) var chunks: StreamChunkReader
    let backend: BenchBackend
    var gotFirst = false
    var lastTime = MonotonicTime(nanoseconds: 0)
    var lastOutputLength = 0
    @exclusivity(unchecked) var itl: [Double] = []
    var serverOutput: Int?
    var serverPrompt: Int?
    /// The transfers' wake interval, told of gaps shorter than twice it (nil: none to tell).
    let pace: WakeInterval?
    /// The object's header, then the fields above: `status`; `parser`; `chunks`; `backend` and
    /// `gotFirst` (one word); `lastTime`, `lastOutputLength`, `itl`; `serverOutput`, `serverPrompt`
    /// (two words each); `pace`.
    static let hotBytes = 16 + 8 + MemoryLayout<SSEDataParser>.stride + MemoryLayout<StreamChunkReader>.stride + 8
        + 8 + 8 + 8 + 16 + 16 + 8

    var ttft = 0.0
    let start: MonotonicTime
    /// The request's token counts (the request itself is not kept: its copy cost retains and releases).
    let inputLength: Int
    let outputLength: Int
    /// The prompt went as token ids (its length is exact).
    let sentTokenIDs: Bool
    var streamError: String?
    var errorBody: [UInt8] = []
    /// Where `handler(reportingTo:index:)` sends the output, and under which index.
    private var sink: (any OutputSink)?
    private var sinkIndex = 0

    init(backend: BenchBackend, request: BenchRequest, sentTokenIDs: Bool, start: MonotonicTime,
         pace: WakeInterval? = nil) {
        self.backend = backend
        inputLength = request.inputLength
        outputLength = request.outputLength
        self.sentTokenIDs = sentTokenIDs
        self.start = start
        self.pace = pace
        chunks = StreamChunkReader(backend: backend)
        itl.reserveCapacity(max(outputLength, 1))
    }

    /// The transfer callbacks that fold the stream into this accumulator and hand the output to
    /// `done` when the transfer ends (all on the transfer loop thread).
    func handler(_ done: @escaping @Sendable (RequestOutput) -> Void) -> TransferHandler {
        handler(onComplete: { [self] in done(finish($0)) })
    }

    /// The same, handing the output to `sink` under `index`: no closure context to allocate (a
    /// closed loop makes a handler per request).
    func handler(reportingTo sink: any OutputSink, index: Int) -> TransferHandler {
        self.sink = sink
        sinkIndex = index
        return handler(onComplete: { [self] in
            let to = self.sink
            self.sink = nil  // the loop and this accumulator let go of each other
            to?.completed(sinkIndex, finish($0))
        })
    }

    private func handler(onComplete: @escaping @Sendable (Result<TransferSummary, HTTPError>) -> Void) -> TransferHandler {
        // The closures capture the accumulator itself: its address is their context, one object
        // less to reach per chunk than through a box.
        TransferHandler(onHeaders: { [self] in status = $0.status },
                        onData: { [self] chunk, at in feed(chunk, at: at) },
                        onComplete: onComplete,
                        hotMemory: { [self] note in noteHotMemory(note) })
    }

    /// Names the memory a chunk touches, a range per call of `note`: this object's first
    /// `hotBytes`, the previous chunk's bytes and their store, and the head of `itl`.
    func noteHotMemory(_ note: (UnsafeRawBufferPointer) -> Void) {
        note(UnsafeRawBufferPointer(start: Unmanaged.passUnretained(self).toOpaque(), count: Self.hotBytes))
        chunks.noteHotMemory(note)
        itl.withUnsafeBufferPointer { b in
            // The array's header (count, capacity) sits just before its elements.
            if let p = b.baseAddress { note(UnsafeRawBufferPointer(start: UnsafeRawPointer(p) - 32, count: 40)) }
        }
    }

    /// `noteHotMemory`'s ranges, as a list.
    var hotMemory: [UnsafeRawBufferPointer] {
        var out: [UnsafeRawBufferPointer] = []
        noteHotMemory { out.append($0) }
        return out
    }

    func feed(_ chunk: UnsafeRawBufferPointer, at time: MonotonicTime) {
        if status != 200 {
            if errorBody.count < 300 { errorBody += chunk.prefix(300 - errorBody.count) }
            return
        }
        parser.feed(chunk) { handle($0, at: time) }
    }

    /// `[DONE]`, the OpenAI end-of-stream marker.
    private static func isDone(_ data: UnsafeRawBufferPointer) -> Bool {
        data.count == 6 && data[0] == 0x5B && data[1] == 0x44 && data[2] == 0x4F && data[3] == 0x4E
            && data[4] == 0x45 && data[5] == 0x5D
    }

    private func handle(_ data: UnsafeRawBufferPointer, at time: MonotonicTime) {
        guard !Self.isDone(data) else { return }
        // Chunks that are not a JSON object are ignored, as bench_serving's json.loads would skip them.
        guard let chunk = chunks.read(data.assumingMemoryBound(to: UInt8.self)) else { return }
        if chunk.hasError {
            let obj = (try? JSONSerialization.jsonObject(with: Data(data))) as? [String: Any]
            let err: Any = obj?["error"] ?? "unknown"
            streamError = "server error: \(String(describing: (err as? [String: Any])?["message"] ?? err))"
            return
        }
        switch backend {
        case .sglang:
            // bench_serving: a chunk with text; output_len from meta_info.completion_tokens; the
            // gap since the previous chunk is split evenly over the chunk's new tokens.
            if let p = chunk.promptTokens { serverPrompt = p }
            guard chunk.hasText == true else { return }
            let outLen = chunk.completionTokens ?? (lastOutputLength + 1)
            serverOutput = outLen
            if !gotFirst {
                gotFirst = true
                ttft = time.seconds(since: start)
            } else {
                let new = outLen - lastOutputLength
                guard new > 0 else { return }
                let whole = time.seconds(since: lastTime)
                if let pace, whole < pace.shortGap { pace.noteGap(whole) }
                let gap = whole / Double(new)
                for _ in 0..<new { itl.append(gap) }
            }
            lastTime = time
            lastOutputLength = outLen
        case .openai, .openaiChat:
            if let c = chunk.completionTokens { serverOutput = c }
            if let p = chunk.promptTokens { serverPrompt = p }
            guard chunk.hasText == true else { return }
            // bench_serving: one ITL sample per chunk (no division by tokens per chunk).
            if !gotFirst {
                gotFirst = true
                ttft = time.seconds(since: start)
            } else {
                let gap = time.seconds(since: lastTime)
                if let pace, gap < pace.shortGap { pace.noteGap(gap) }
                itl.append(gap)
            }
            lastTime = time
        }
    }

    /// The final output once the transfer ended.
    func finish(_ result: Result<TransferSummary, HTTPError>) -> RequestOutput {
        var out = RequestOutput(success: false, promptLength: inputLength, outputLength: 0, ttft: 0,
                                latency: 0, itl: [], error: "")
        out.status = status
        switch result {
        case .failure(let e):
            out.error = e.kind == .connectionFailed ? "connection failed: \(e.message)" : "\(e.kind.rawValue): \(e.message)"
            return out
        case .success(let summary):
            out.latency = summary.timings.end.seconds(since: start)
            if status != 200 {
                let body = String(decoding: errorBody, as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
                out.error = "HTTP \(summary.status)" + (body.isEmpty ? "" : ": \(body.prefix(200))")
                return out
            }
            parser.finish { handle($0, at: summary.timings.end) }
            if let streamError { out.error = streamError; return out }
            guard gotFirst else { out.error = "stream ended without any token"; return out }
            out.success = true
            pace?.noteLatency(out.latency)
            out.ttft = ttft
            out.itl = itl
            // Prompt tokens: ids sent are exact; text prompts use the server's count when given, else the estimate.
            out.serverPromptLength = serverPrompt
            out.promptLength = sentTokenIDs ? inputLength : (serverPrompt ?? inputLength)
            out.outputLength = serverOutput ?? outputLength
            return out
        }
    }
}
