import Foundation
import CurlHTTP

/// Everything a benchmark run needs.
public struct BenchConfig: Sendable, Hashable {
    /// Base URL of the server, e.g. `http://127.0.0.1:30000`.
    public var baseURL: String
    /// The API to use.
    public var backend: BenchBackend = .sglang
    /// `--num-prompts`.
    public var numPrompts = 1000
    /// `--random-input-len`.
    public var randomInputLength = 1024
    /// `--random-output-len`.
    public var randomOutputLength = 1024
    /// `--random-range-ratio`.
    public var randomRangeRatio = 0.0
    /// `--dataset-name` and its options (default: `random`).
    public var dataset = BenchDataset()
    /// `--max-concurrency` (nil: unlimited).
    public var maxConcurrency: Int?
    /// `--request-rate` in requests/s (`.infinity`: all at once).
    public var requestRate = Double.infinity
    /// `--seed`.
    public var seed: UInt64 = 42
    /// `--warmup-requests` (not counted).
    public var warmupRequests = 1
    /// `model` field sent to OpenAI APIs.
    public var model: String?
    /// Per-request timeout in seconds.
    public var requestTimeout = 3600.0

    /// Creates a configuration for `baseURL`.
    public init(baseURL: String) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
    }
}

/// A finished run: the metrics plus the per-request detail.
public struct BenchResult: Sendable {
    /// The configuration used.
    public var config: BenchConfig
    /// Aggregate metrics.
    public var metrics: BenchMetrics
    /// Per-request outputs, in request order.
    public var outputs: [RequestOutput]
    /// `avg_spec_accept_length` from SGLang `/server_info`, when available.
    public var acceptLength: Double?
    /// How the prompts went: token ids, or text (and why, when the server refused ids).
    public var promptMode: PromptMode = .text(refused: nil)
}

/// Why a run could not start.
public struct BenchError: Error, Sendable, CustomStringConvertible {
    /// The reason.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// Runs the benchmark loop: all transfers share one `CurlMulti` loop thread.
public final class BenchRunner: Sendable {
    /// The configuration.
    public let config: BenchConfig
    private let multi: CurlMulti

    /// Creates a runner (starts the transfer loop thread).
    public init(config: BenchConfig) throws {
        self.config = config
        // No per-chunk time list in the transfer summary: the accumulator keeps what it needs.
        do { multi = try CurlMulti(recordChunkTimes: false) } catch { throw BenchError("cannot start transfers: \(error)") }
    }

    deinit { multi.shutdown() }

    /// Sends one streaming request and waits for its output; its prompt goes as token ids when it
    /// has them and `tokenIDs` (the run's prompt mode) allows it, else as text.
    func send(_ request: BenchRequest, tokenIDs: Bool) async -> RequestOutput {
        final class Box: @unchecked Sendable {  // touched only on the multi's loop thread
            let acc: StreamAccumulator
            init(_ acc: StreamAccumulator) { self.acc = acc }
        }
        let ids = config.backend.sendsTokenIDs(request, tokenIDs: tokenIDs)
        let body = config.backend.body(request, model: config.model, tokenIDs: ids)
        let http = HTTPRequest.json(url: config.baseURL + config.backend.path,
                                    json: String(decoding: body, as: UTF8.self), timeout: config.requestTimeout)
        let start = MonotonicTime.now()
        let box = Box(StreamAccumulator(backend: config.backend, request: request, sentTokenIDs: ids, start: start))
        return await withCheckedContinuation { cont in
            multi.start(http, handler: TransferHandler(
                onHeaders: { box.acc.status = $0.status },
                onData: { chunk, at in box.acc.feed(chunk, at: at) },
                onComplete: { result in cont.resume(returning: box.acc.finish(result)) }))
        }
    }

    /// The prompt mode (`promptMode(for:)`), warm-up, cache flush (SGLang), the timed run, then the
    /// accept length (SGLang). `requests` defaults to `BenchWorkload.requests(for: config)` (pass them
    /// to load a dataset file once). Throws when the dataset cannot be loaded (`DatasetError`) or the
    /// warm-up shows the endpoint cannot serve; failed timed requests are counted.
    public func run(requests given: [BenchRequest]? = nil,
                    progress: (@Sendable (_ done: Int, _ failed: Int, _ total: Int) -> Void)? = nil) async throws -> BenchResult {
        let (mode, requests) = await promptMode(for: try given ?? BenchWorkload.requests(for: config))
        let ids = mode == .tokenIDs
        if config.warmupRequests > 0, let first = requests.first {
            let warm = await withTaskGroup(of: RequestOutput.self) { group in
                for _ in 0..<config.warmupRequests { group.addTask { await self.send(first, tokenIDs: ids) } }
                var all: [RequestOutput] = []
                for await o in group { all.append(o) }
                return all
            }
            if let bad = warm.first(where: { !$0.success }) {
                throw BenchError("warm-up request failed: \(bad.error)")
            }
        }
        if config.backend == .sglang {
            _ = try? HTTPClient().send(HTTPRequest(method: "POST", url: config.baseURL + "/flush_cache", timeout: 10))
        }
        let arrivals = ArrivalSchedule.offsets(count: requests.count, rate: config.requestRate, seed: config.seed)
        let limit = config.maxConcurrency.map { max($0, 1) } ?? Int.max
        let begin = MonotonicTime.now()
        let outputs = await withTaskGroup(of: (Int, RequestOutput).self) { group in
            var results = [RequestOutput?](repeating: nil, count: requests.count)
            var inFlight = 0, done = 0, failed = 0
            func record(_ r: (Int, RequestOutput)) {
                results[r.0] = r.1
                inFlight -= 1
                done += 1
                if !r.1.success { failed += 1 }
                progress?(done, failed, requests.count)
            }
            for (i, request) in requests.enumerated() {
                let wait = arrivals[i] - MonotonicTime.now().seconds(since: begin)
                if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                while inFlight >= limit, let r = await group.next() { record(r) }
                inFlight += 1
                group.addTask { (i, await self.send(request, tokenIDs: ids)) }
            }
            while let r = await group.next() { record(r) }
            return results.enumerated().map { i, o in
                o ?? RequestOutput(success: false, promptLength: requests[i].inputLength, outputLength: 0,
                                   ttft: 0, latency: 0, itl: [], error: "not run")
            }
        }
        let duration = MonotonicTime.now().seconds(since: begin)
        var accept: Double?
        if config.backend == .sglang { accept = fetchAcceptLength() }
        return BenchResult(config: config, metrics: BenchMetrics(outputs: outputs, duration: duration),
                           outputs: outputs, acceptLength: accept, promptMode: mode)
    }

    /// `internal_states[0].avg_spec_accept_length` from `/server_info` (nil if absent).
    func fetchAcceptLength() -> Double? {
        guard let r = try? HTTPClient().get(config.baseURL + "/server_info", timeout: 10), r.status == 200,
              let obj = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any],
              let states = obj["internal_states"] as? [[String: Any]], let first = states.first else { return nil }
        return (first["avg_spec_accept_length"] as? NSNumber)?.doubleValue
    }
}
