import CurlHTTP
import Engines
import Foundation
import Synchronization
@testable import EngineSim
import TestSupport

/// Shared helpers: an in-process simulator on a free loopback port, and stream probes.
enum SimTest {
    /// The SGLang catalog the simulator uses by default.
    static func catalog() throws -> FlagCatalog {
        try CatalogStore.catalog(.sglang, version: SimSettings.defaultVersion)
    }

    /// A launch parsed from SGLang argv (with host/port forced to loopback, free port).
    static func launch(_ argv: [String]) throws -> SimLaunch {
        let full = ["--host", "127.0.0.1", "--port", "0"] + argv
        guard case .launch(let l, _) = SimArguments.parse(full, catalog: try catalog()) else {
            throw SimSetupError("argv did not parse: \(argv)")
        }
        return l
    }

    /// Starts an in-process simulator; the caller shuts it down.
    static func start(_ settings: SimSettings = SimSettings(),
                      argv: [String] = ["--model-path", "sim/test-model"],
                      log: SimLog = .silent) async throws -> SimServer {
        try await SimServer.start(launch: try launch(argv), settings: settings, log: log, threads: 2)
    }

    /// Polls `url` until it answers `status`, for at most `seconds`.
    static func waitForStatus(_ url: String, _ status: Int, seconds: Double = 10) async -> Bool {
        await eventually(timeout: seconds, interval: 0.01) { (try? HTTPClient().get(url, timeout: 1))?.status == status }
    }

    /// Parses a JSON body.
    static func json(_ response: HTTPResponse) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))
    }
}

/// One streamed generation as the client saw it: SSE events with arrival times.
struct StreamCapture: Sendable {
    var status = 0
    var events: [(event: SSEEvent, at: MonotonicTime)] = []
    var start = MonotonicTime(nanoseconds: 0)
    var error: HTTPError?

    /// Events other than `[DONE]` and usage-only chunks.
    var contentEvents: [(event: SSEEvent, at: MonotonicTime)] {
        events.filter { !$0.event.isDone && !$0.event.data.contains("\"choices\":[]") }
    }

    /// Milliseconds from request start to the first content event.
    var ttftMs: Double? { contentEvents.first.map { $0.at.milliseconds(since: start) } }

    /// Milliseconds between consecutive content events.
    var gapsMs: [Double] {
        let c = contentEvents
        return zip(c, c.dropFirst()).map { $1.at.milliseconds(since: $0.at) }
    }
}

/// Runs one streaming request through `multi`, parsing SSE as bytes arrive; `received` (when given)
/// counts the events as they arrive, so a test can act while the stream is in flight.
func captureStream(_ multi: CurlMulti, _ request: HTTPRequest, received: Counter? = nil) async -> StreamCapture {
    final class Box: @unchecked Sendable {  // touched only on the multi's loop thread
        var parser = SSEParser()
        var capture = StreamCapture()
    }
    let box = Box()
    return await withCheckedContinuation { cont in
        multi.start(request, handler: TransferHandler(
            onHeaders: { box.capture.status = $0.status },
            onData: { chunk, at in
                for e in box.parser.feed(chunk) {
                    box.capture.events.append((e, at))
                    received?.increment()
                }
            },
            onComplete: { result in
                switch result {
                case .success(let s): box.capture.start = s.timings.start
                case .failure(let e): box.capture.error = e
                }
                cont.resume(returning: box.capture)
            }))
    }
}

/// Runs the built `dsdeploy-engine-sim` executable with stderr captured to a file.
final class SimProcessRun {
    let process = Process()
    let stderrURL: URL

    /// The executable next to the test bundle (`.build*/debug/dsdeploy-engine-sim`).
    static var executable: URL? {
        if let p = ProcessInfo.processInfo.environment["DSDEPLOY_SIM_BIN"] { return URL(fileURLWithPath: p) }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        for _ in 0..<4 {  // the bundle may sit inside *.xctest/...
            let candidate = dir.appendingPathComponent("dsdeploy-engine-sim")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    init(_ argv: [String], env: [String: String] = [:]) throws {
        guard let exe = Self.executable else { throw SimSetupError("dsdeploy-engine-sim not built") }
        stderrURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("engine-sim-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = exe
        process.arguments = argv
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DSDEPLOY_SIM_") }
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    deinit {
        // SIGKILL: a child spawned from a test thread may inherit a mask that blocks SIGTERM.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: stderrURL)
    }

    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Waits up to `seconds` for exit; returns the status, or nil if still running.
    func waitForExit(seconds: Double) async -> Int32? {
        await eventually(timeout: seconds, interval: 0.01) { process.isRunning ? nil : process.terminationStatus }
    }

    /// Waits up to `seconds` for `text` to appear on stderr (gives up early when the process exits).
    func waitForLog(_ text: String, seconds: Double) async -> Bool {
        await eventually(timeout: seconds, interval: 0.01) { stderr.contains(text) || !process.isRunning }
            && stderr.contains(text)
    }
}

/// A count bumped from a transfer's thread and read by the test.
final class Counter: Sendable {
    private let count = Mutex(0)
    /// Adds one.
    func increment() { count.withLock { $0 += 1 } }
    /// The count now.
    var value: Int { count.withLock { $0 } }
}
