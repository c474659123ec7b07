import CurlHTTP
import Foundation
import Synchronization
import Testing
@testable import EngineSim
import TestSupport

@Suite struct LifecycleTests {
    let client = HTTPClient()

    func status(_ url: String) -> Int { (try? client.get(url, timeout: 2).status) ?? -1 }

    @Test func readinessFollowsTheStartDelay() async throws {
        var settings = SimSettings()
        // The window in which everything must answer 503; wide enough for a loaded machine.
        settings.startDelay = 3
        let (log, lines) = SimLog.memory()
        let start = MonotonicTime.now()
        let server = try await SimTest.start(settings, log: log)
        let base = server.baseURL
        #expect(status(base + "/health") == 503)
        #expect(status(base + "/ready") == 503)
        #expect(status(base + "/health_generate") == 503)
        #expect(try client.postJSON(base + "/v1/completions", json: #"{"prompt":"x"}"#).status == 503)
        #expect(!lines().contains { $0.contains("Application startup complete.") })
        #expect(await SimTest.waitForStatus(base + "/ready", 200))
        let waited = MonotonicTime.now().seconds(since: start)
        #expect(waited >= settings.startDelay - 0.05, "not ready before the start delay: \(waited) s")
        #expect(status(base + "/health") == 200)
        let log1 = lines()
        #expect(log1.contains { $0.hasSuffix("INFO:     Application startup complete.") })
        #expect(log1.contains { $0.contains("Uvicorn running on http://127.0.0.1:\(server.port)") })
        await server.shutdown()
    }

    @Test func neverReadyServesHealthButNotReadiness() async throws {
        var settings = SimSettings()
        settings.neverReady = true
        let (log, lines) = SimLog.memory()
        let server = try await SimTest.start(settings, log: log)
        let base = server.baseURL
        #expect(await SimTest.waitForStatus(base + "/health", 200))
        // Start-up has finished (the phase stops at .started); readiness never follows.
        #expect(await eventually { server.phase == .started })
        #expect(lines().contains { $0.contains("Application startup complete.") })
        #expect(status(base + "/ready") == 503)
        #expect(status(base + "/health_generate") == 503)
        #expect(status(base + "/server_info") == 200)
        #expect(server.phase == .started)
        await server.shutdown()
    }

    @Test func crashAfterCallsExit() async throws {
        var settings = SimSettings()
        settings.crashAfter = 0.2
        let (log, lines) = SimLog.memory()
        let exit = ExitRecord()
        let server = try await SimServer.start(launch: try SimTest.launch(["--model-path", "m"]), settings: settings,
                                               log: log, threads: 1, onExit: { c in exit.code.withLock { $0 = c } })
        #expect(await eventually { exit.code.withLock { $0 } } == 1)
        #expect(lines().contains { $0.contains("DSDEPLOY_SIM_CRASH_AFTER") })
        await server.shutdown()
    }
}

/// The exit code the simulator reported, if any.
final class ExitRecord: Sendable {
    let code = Mutex<Int32?>(nil)
}
