import Foundation
import CurlHTTP
import DeployCore

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
    /// Open as many keep-alive connections as the run will use (`maxConcurrency`, at most the
    /// number of prompts and 1,024) before the clock starts, so no request's TTFT includes a TCP
    /// handshake. bench_serving opens a new connection per request; this client reuses them, which
    /// left only the first requests paying for one, and at high concurrency the first burst paid
    /// for all of them at once (256 connections set up one after the other by one thread).
    public var openConnectionsFirst = true
    /// A new connection for every request, closed after it (`--connection-per-request`): what
    /// bench_serving does (an aiohttp session per request), so each TTFT includes a TCP handshake.
    /// No connections are opened first then.
    public var connectionPerRequest = false
    /// Write `http://` requests and read their streams in dsdeploy (`CurlMulti`'s `directHTTP1`:
    /// libcurl opens the connections, one `recvmsg` and one parse per read) rather than through
    /// libcurl's transfer, which polls the socket after every read (`--libcurl-reads` turns it off).
    public var directHTTP1 = true
    /// With `directHTTP1`: read the streams through io_uring's multishot receives, where there is
    /// one (`--no-batched-reads` turns it off).
    public var batchedReads = true
    /// With `directHTTP1`: the most time in seconds between two wake-ups of the reading thread
    /// under load (`--wake-interval-us`; 0: wake on every arrival). Streams that arrive in between
    /// are read together at the next wake-up; each read carries the kernel's receive time, so TTFT,
    /// ITL and latency are arrival times either way. Only the next request of a closed loop waits:
    /// it is sent when the end of the previous one is read, at most one interval later. So the
    /// interval in force is also at most a quarter of the shortest gap between a stream's chunks,
    /// 1/200 of the mean response time and, until a first response ended, 1 ms (`WakeInterval`); a
    /// result's config holds the interval in force at the end of the run.
    public var wakeInterval = 0.004

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
    /// Reads that came through io_uring's multishot receives (`BenchConfig.batchedReads`; 0 where
    /// io_uring is not there, with `--no-batched-reads` or `--libcurl-reads`).
    public var batchedReads = 0
    /// The client's own CPU use (nil when not measured).
    public var clientCPU: ClientCPU?
}

/// What the client process itself spent on a run, from `getrusage` (all threads, user and system).
public struct ClientCPU: Sendable, Equatable {
    /// CPU seconds from the prompt-mode probe to the metrics: the part of the run that
    /// bench_serving's `benchmark()` covers (warm-up, the timed requests, the metrics), with the
    /// probe; start-up, the dataset and the report left out.
    public var seconds: Double
    /// CPU seconds of the timed requests alone.
    public var timedRun: Double
    /// The timed requests' wall time (the benchmark duration).
    public var timedRunWall: Double

    public init(seconds: Double, timedRun: Double, timedRunWall: Double) {
        self.seconds = seconds
        self.timedRun = timedRun
        self.timedRunWall = timedRunWall
    }

    /// The share of one core the client kept busy during the timed requests.
    public var busy: Double { timedRunWall > 0 ? timedRun / timedRunWall : 0 }

    /// At this share of a core and above, the client's own delays may show in what it measured.
    public static let busyWarning = 0.9
}

/// Why a run could not start.
public struct BenchError: Error, Sendable, CustomStringConvertible {
    /// The reason.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// The timed run's requests, started on the transfer thread: up to `limit` at a time, in order,
/// each as soon as it has arrived and a slot is free. A completion frees its slot and starts the
/// next request in the same turn of the loop (no hop to another thread between the two), and its
/// start time is taken right there, as bench_serving takes it once the semaphore is acquired.
/// All state is touched on the transfer loop thread only.
final class ClosedLoop: OutputSink, @unchecked Sendable {
    struct Item {
        var request: BenchRequest
        var http: HTTPRequest
        var sentTokenIDs: Bool
    }

    private let multi: CurlMulti
    private let backend: BenchBackend
    private let items: [Item]
    private let limit: Int
    private let progress: (@Sendable (Int, Int, Int) -> Void)?
    private let finished: ([RequestOutput]) -> Void
    private var results: [RequestOutput?]
    private var arrived = 0, next = 0, inFlight = 0, done = 0, failed = 0
    private var pumping = false

    init(multi: CurlMulti, backend: BenchBackend, items: [Item], limit: Int,
         progress: (@Sendable (Int, Int, Int) -> Void)?, finished: @escaping ([RequestOutput]) -> Void) {
        self.multi = multi
        self.backend = backend
        self.items = items
        self.limit = limit
        self.progress = progress
        self.finished = finished
        results = Array(repeating: nil, count: items.count)
        if items.isEmpty { finished([]) }
    }

    /// `count` more requests have arrived (transfer thread).
    func arrive(_ count: Int) {
        arrived = min(arrived + count, items.count)
        pump()
    }

    /// Starts what may start. Not re-entered: a request that fails at once (a multi shutting down)
    /// completes inside `multi.start`, and its `completed` leaves the starting to this loop instead
    /// of recursing once per remaining request.
    private func pump() {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false }
        while inFlight < limit, next < arrived {
            let i = next
            next += 1
            inFlight += 1
            // The item's fields are read in place (a copy of the item retained and released each of its references).
            let acc = StreamAccumulator(backend: backend, request: items[i].request, sentTokenIDs: items[i].sentTokenIDs,
                                        start: .now(), pace: multi.wakeInterval)
            multi.start(items[i].http, handler: acc.handler(reportingTo: self, index: i))
        }
    }

    func completed(_ i: Int, _ out: RequestOutput) {
        results[i] = out
        inFlight -= 1
        done += 1
        if !out.success { failed += 1 }
        progress?(done, failed, items.count)
        if done == items.count {
            finished(results.enumerated().map { i, o in
                o ?? RequestOutput(success: false, promptLength: items[i].request.inputLength, outputLength: 0,
                                   ttft: 0, latency: 0, itl: [], error: "not run")
            })
        } else {
            pump()
        }
    }
}

/// Runs the benchmark loop: all transfers share one `CurlMulti` loop thread.
public final class BenchRunner: Sendable {
    /// The configuration.
    public let config: BenchConfig
    private let multi: CurlMulti
    /// Every request's URL and header fields (made once, not per request).
    private let url: String
    private static let headers: HTTPHeaders = [("Content-Type", "application/json")]

    /// Creates a runner (starts the transfer loop thread).
    public init(config: BenchConfig) throws {
        self.config = config
        url = config.baseURL + config.backend.path
        // No per-chunk time list in the transfer summary: the accumulator keeps what it needs.
        // Every connection the run opens stays open for the next request (see `openConnections`).
        let connections = min(max(config.maxConcurrency ?? config.numPrompts, 64), 4096)
        do {
            multi = try CurlMulti(recordChunkTimes: false, maxCachedConnections: connections,
                                  directHTTP1: config.directHTTP1, wakeInterval: config.wakeInterval,
                                  wakeIntervalStartCap: Self.wakeIntervalStartCap, batchedReads: config.batchedReads)
        } catch {
            throw BenchError("cannot start transfers: \(error)")
        }
    }

    deinit { multi.shutdown() }

    /// The most the wake interval is until a first response ended (its length unknown till then).
    static let wakeIntervalStartCap = 0.001

    /// The HTTP request for `request` (its prompt as token ids when `tokenIDs` and the API allows).
    func httpRequest(_ request: BenchRequest, tokenIDs: Bool) -> (HTTPRequest, sentIDs: Bool) {
        let ids = config.backend.sendsTokenIDs(request, tokenIDs: tokenIDs)
        let body = config.backend.body(request, model: config.model, tokenIDs: ids)
        var http = HTTPRequest(method: "POST", url: url, headers: Self.headers, body: body,
                               timeout: config.requestTimeout)
        http.freshConnection = config.connectionPerRequest
        return (http, ids)
    }

    /// Sends one streaming request and waits for its output; its prompt goes as token ids when it
    /// has them and `tokenIDs` (the run's prompt mode) allows it, else as text. `workload`: a
    /// request of the run's workload (a warm-up), whose gaps and time shape the wake interval; a
    /// probe is not.
    func send(_ request: BenchRequest, tokenIDs: Bool, workload: Bool = true) async -> RequestOutput {
        let (http, ids) = httpRequest(request, tokenIDs: tokenIDs)
        return await withCheckedContinuation { cont in
            let acc = StreamAccumulator(backend: config.backend, request: request, sentTokenIDs: ids, start: .now(),
                                        pace: workload ? multi.wakeInterval : nil)
            multi.start(http, handler: acc.handler { cont.resume(returning: $0) })
        }
    }

    /// Opens `count` connections to the server (concurrent `GET /health`; any answer leaves its
    /// connection open for reuse) and waits until they are all answered. Failures are ignored: the
    /// timed run then opens its connections itself.
    func openConnections(_ count: Int) async {
        guard count > 1 else { return }
        let request = HTTPRequest(method: "GET", url: config.baseURL + "/health", timeout: 10)
        final class Counter: @unchecked Sendable { var left: Int; init(_ n: Int) { left = n } }  // loop thread only
        let multi = self.multi
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let counter = Counter(count)
            multi.execute {
                for _ in 0..<count {
                    multi.start(request, handler: TransferHandler(onComplete: { _ in
                        counter.left -= 1
                        if counter.left == 0 { cont.resume() }
                    }))
                }
            }
        }
    }

    /// The prompt mode (`promptMode(for:)`), warm-up, cache flush (SGLang), the timed run, then the
    /// accept length (SGLang). `requests` defaults to `BenchWorkload.requests(for: config)` (pass them
    /// to load a dataset file once). Throws when the dataset cannot be loaded (`DatasetError`) or the
    /// warm-up shows the endpoint cannot serve; failed timed requests are counted.
    public func run(requests given: [BenchRequest]? = nil,
                    progress: (@Sendable (_ done: Int, _ failed: Int, _ total: Int) -> Void)? = nil) async throws -> BenchResult {
        let workload = try given ?? BenchWorkload.requests(for: config)
        let cpuStart = ProcessCPU.seconds()
        let (mode, requests) = await promptMode(for: workload)
        let ids = mode == .tokenIDs
        if config.warmupRequests > 0, let first = requests.first {
            let warm = await withTaskGroup(of: RequestOutput.self) { group in
                for _ in 0..<config.warmupRequests { group.addTask { await self.send(first, tokenIDs: ids) } }
                var all: [RequestOutput] = []
                for await o in group { all.append(o) }
                return all
            }
            if let bad = warm.first(where: { !$0.success }) {
                // The hint goes with the error, so every caller (bench, --scenario, apply --gate) shows it.
                throw BenchError("warm-up request failed: \(bad.error)"
                                 + (ContextHint.text(for: bad.error, config: config).map { "\n  " + $0 } ?? ""))
            }
        }
        if config.backend == .sglang {
            _ = try? HTTPClient().send(HTTPRequest(method: "POST", url: config.baseURL + "/flush_cache", timeout: 10))
        }
        if config.openConnectionsFirst, !config.connectionPerRequest {
            await openConnections(min(config.maxConcurrency ?? requests.count, requests.count, 1024))
        }
        let arrivals = ArrivalSchedule.offsets(count: requests.count, rate: config.requestRate, seed: config.seed)
        let limit = config.maxConcurrency.map { max($0, 1) } ?? Int.max
        // Bodies and requests are built before the clock starts; the timed loop runs on the
        // transfer thread (`ClosedLoop`).
        let prepared = requests.map { r in
            let (http, sent) = httpRequest(r, tokenIDs: ids)
            return ClosedLoop.Item(request: r, http: http, sentTokenIDs: sent)
        }
        let begin = MonotonicTime.now()
        let cpuBegin = ProcessCPU.seconds()
        let outputs: [RequestOutput] = await withCheckedContinuation { cont in
            let loop = ClosedLoop(multi: multi, backend: config.backend, items: prepared, limit: limit,
                                  progress: progress) { cont.resume(returning: $0) }
            if arrivals.allSatisfy({ $0 == 0 }) {
                multi.execute { loop.arrive(prepared.count) }
            } else {
                // Poisson arrivals: each is handed to the loop at its time; the loop starts it once a
                // slot is free (bench_serving: the request generator, then the concurrency semaphore).
                Task {
                    for offset in arrivals {
                        let wait = offset - MonotonicTime.now().seconds(since: begin)
                        if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                        multi.execute { loop.arrive(1) }
                    }
                }
            }
        }
        let duration = MonotonicTime.now().seconds(since: begin)
        let cpuEnd = ProcessCPU.seconds()
        var accept: Double?
        if config.backend == .sglang { accept = fetchAcceptLength() }
        var used = config
        if used.directHTTP1 { used.wakeInterval = multi.wakeInterval.seconds }
        let metrics = BenchMetrics(outputs: outputs, duration: duration)
        let cpu = ClientCPU(seconds: ProcessCPU.seconds() - cpuStart, timedRun: cpuEnd - cpuBegin, timedRunWall: duration)
        return BenchResult(config: used, metrics: metrics, outputs: outputs, acceptLength: accept, promptMode: mode,
                           batchedReads: multi.batchedReadCount, clientCPU: cpu)
    }

    /// `internal_states[0].avg_spec_accept_length` from `/server_info` (nil if absent).
    func fetchAcceptLength() -> Double? {
        guard let r = try? HTTPClient().get(config.baseURL + "/server_info", timeout: 10), r.status == 200,
              let obj = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any],
              let states = obj["internal_states"] as? [[String: Any]], let first = states.first else { return nil }
        return (first["avg_spec_accept_length"] as? NSNumber)?.doubleValue
    }
}
