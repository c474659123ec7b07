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

    var path: String {
        switch self {
        case .sglang: "/generate"
        case .openai: "/v1/completions"
        case .openaiChat: "/v1/chat/completions"
        }
    }

    /// The streaming request body for `request`.
    func body(_ request: BenchRequest, model: String?) -> [UInt8] {
        var json: [String: Any]
        switch self {
        case .sglang:
            // Token-id prompts go as `input_ids`; text prompts (ShareGPT, prompt files) as `text`.
            json = ["stream": true,
                    "sampling_params": ["temperature": 0.0, "max_new_tokens": request.outputLength,
                                        "ignore_eos": true] as [String: Any]]
            if request.tokenIDs.isEmpty { json["text"] = request.text } else { json["input_ids"] = request.tokenIDs }
        case .openai:
            json = ["prompt": request.text, "temperature": 0.0, "max_tokens": request.outputLength,
                    "stream": true, "ignore_eos": true, "stream_options": ["include_usage": true]]
        case .openaiChat:
            json = ["messages": [["role": "user", "content": request.text]], "temperature": 0.0,
                    "max_tokens": request.outputLength, "max_completion_tokens": request.outputLength,
                    "stream": true, "ignore_eos": true, "stream_options": ["include_usage": true]]
        }
        if let model { json["model"] = model }
        return (try? JSONSerialization.data(withJSONObject: json)).map { Array($0) } ?? []
    }
}

/// Folds one request's SSE events into a `RequestOutput` exactly as bench_serving's request
/// functions do. Not thread-safe: used only on the transfer loop thread.
struct StreamAccumulator {
    let backend: BenchBackend
    let request: BenchRequest
    let start: MonotonicTime
    var parser = SSEParser()
    var ttft = 0.0
    var gotFirst = false
    var lastTime = MonotonicTime(nanoseconds: 0)
    var lastOutputLength = 0
    var itl: [Double] = []
    var serverOutput: Int?
    var serverPrompt: Int?
    var streamError: String?
    var status = 0
    var errorBody: [UInt8] = []

    init(backend: BenchBackend, request: BenchRequest, start: MonotonicTime) {
        self.backend = backend
        self.request = request
        self.start = start
    }

    mutating func feed(_ chunk: UnsafeRawBufferPointer, at time: MonotonicTime) {
        if status != 200 {
            if errorBody.count < 300 { errorBody += chunk.prefix(300 - errorBody.count) }
            return
        }
        for event in parser.feed(chunk) { handle(event, at: time) }
    }

    private mutating func handle(_ event: SSEEvent, at time: MonotonicTime) {
        guard !event.isDone else { return }
        var data = event.data
        // Chunks that are not a JSON object are ignored, as bench_serving's json.loads would skip them.
        guard let chunk = data.withUTF8({ StreamChunk.scan($0, backend: backend) }) else { return }
        if chunk.hasError {
            let obj = (try? JSONSerialization.jsonObject(with: Data(event.data.utf8))) as? [String: Any]
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
                let gap = time.seconds(since: lastTime) / Double(new)
                itl += Array(repeating: gap, count: new)
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
                itl.append(time.seconds(since: lastTime))
            }
            lastTime = time
        }
    }

    /// The final output once the transfer ended.
    mutating func finish(_ result: Result<TransferSummary, HTTPError>) -> RequestOutput {
        var out = RequestOutput(success: false, promptLength: request.inputLength, outputLength: 0, ttft: 0,
                                latency: 0, itl: [], error: "")
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
            for event in parser.finish() { handle(event, at: summary.timings.end) }
            if let streamError { out.error = streamError; return out }
            guard gotFirst else { out.error = "stream ended without any token"; return out }
            out.success = true
            out.ttft = ttft
            out.itl = itl
            // Prompt tokens: ids sent are exact; text prompts use the server's count when given, else the estimate.
            out.promptLength = backend == .sglang && !request.tokenIDs.isEmpty
                ? request.inputLength : (serverPrompt ?? request.inputLength)
            out.outputLength = serverOutput ?? request.outputLength
            return out
        }
    }
}
