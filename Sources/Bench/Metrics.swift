import Foundation

/// What one request measured (times in seconds, like bench_serving's `RequestFuncOutput`).
public struct RequestOutput: Sendable, Hashable {
    /// Whether the request completed.
    public var success: Bool
    /// Prompt tokens counted in the metrics: the requested length when the prompt went as token ids
    /// (exact), else the server's count when it reported one, else the requested (estimated) length.
    public var promptLength: Int
    /// Prompt tokens asked for: the number of token ids, or the target (estimated) size of a text prompt.
    public var requestedPromptLength: Int
    /// Prompt tokens the server counted (`usage.prompt_tokens`, SGLang `meta_info.prompt_tokens`);
    /// nil when it reported none or the request failed.
    public var serverPromptLength: Int?
    /// Output tokens: server-reported when present, else the requested length.
    public var outputLength: Int
    /// Time to first token.
    public var ttft: Double
    /// End-to-end latency.
    public var latency: Double
    /// Inter-token latencies.
    public var itl: [Double]
    /// Why it failed ("" on success).
    public var error: String
    /// HTTP status of the response (0 when none arrived: connection failure, timeout).
    public var status = 0

    /// Creates an output; `requestedPromptLength` defaults to `promptLength`.
    public init(success: Bool, promptLength: Int, outputLength: Int, ttft: Double, latency: Double,
                itl: [Double], error: String, requestedPromptLength: Int? = nil, serverPromptLength: Int? = nil) {
        self.success = success
        self.promptLength = promptLength
        self.requestedPromptLength = requestedPromptLength ?? promptLength
        self.serverPromptLength = serverPromptLength
        self.outputLength = outputLength
        self.ttft = ttft
        self.latency = latency
        self.itl = itl
        self.error = error
    }
}

/// The aggregate metrics of a run, computed as bench_serving's `calculate_metrics`.
public struct BenchMetrics: Sendable, Hashable {
    /// Successful requests.
    public var completed: Int
    /// Failed requests.
    public var failed: Int
    /// Failure reasons with counts.
    public var failureReasons: [String: Int]
    /// Wall time of the benchmark run in seconds (warm-up excluded).
    public var duration: Double
    /// Sum of prompt tokens of the successful requests (`RequestOutput.promptLength`).
    public var totalInput: Int
    /// Sum of the prompt tokens asked for by the successful requests.
    public var requestedInput: Int
    /// Sum of the prompt tokens the server counted for the successful requests; nil unless it
    /// reported a count for every one of them (and at least one succeeded).
    public var serverInput: Int?
    /// Sum of output tokens of the successful requests.
    public var totalOutput: Int
    /// completed / duration.
    public var requestThroughput: Double
    /// totalInput / duration.
    public var inputThroughput: Double
    /// totalOutput / duration.
    public var outputThroughput: Double
    /// (totalInput + totalOutput) / duration.
    public var totalThroughput: Double
    /// Sum of end-to-end latencies / duration.
    public var concurrency: Double
    /// Time to first token.
    public var ttft: LatencySummary
    /// Time per output token excluding the first: (latency − ttft) / (output − 1), output > 1.
    public var tpot: LatencySummary
    /// Inter-token latency over all requests.
    public var itl: LatencySummary
    /// End-to-end latency.
    public var e2e: LatencySummary

    /// Computes the metrics of `outputs` over `duration` seconds.
    public init(outputs: [RequestOutput], duration: Double) {
        var ttfts: [Double] = [], tpots: [Double] = [], itls: [Double] = [], e2es: [Double] = []
        var reasons: [String: Int] = [:]
        var input = 0, output = 0, done = 0, requested = 0, server = 0, counted = 0
        for o in outputs {
            guard o.success else {
                reasons[o.error.isEmpty ? "unknown error" : o.error, default: 0] += 1
                continue
            }
            done += 1
            input += o.promptLength
            requested += o.requestedPromptLength
            if let n = o.serverPromptLength {
                server += n
                counted += 1
            }
            output += o.outputLength
            if o.outputLength > 1 { tpots.append((o.latency - o.ttft) / Double(o.outputLength - 1)) }
            itls += o.itl
            ttfts.append(o.ttft)
            e2es.append(o.latency)
        }
        let d = duration > 0 ? duration : 1
        completed = done
        failed = outputs.count - done
        failureReasons = reasons
        self.duration = duration
        totalInput = input
        requestedInput = requested
        serverInput = done > 0 && counted == done ? server : nil
        totalOutput = output
        requestThroughput = Double(done) / d
        inputThroughput = Double(input) / d
        outputThroughput = Double(output) / d
        totalThroughput = Double(input + output) / d
        concurrency = e2es.reduce(0, +) / d
        ttft = LatencySummary(seconds: ttfts)
        tpot = LatencySummary(seconds: tpots)
        itl = LatencySummary(seconds: itls)
        e2e = LatencySummary(seconds: e2es)
    }
}
