import CurlHTTP
import Engines
import Foundation
import Testing
@testable import EngineSim
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The real PD router (`sglang-router` 0.3.2 from PyPI, installed by scripts/setup-sglang-router.sh)
/// in front of a simulated prefill and decode server.
@Suite struct PDRouterTests {
    let client = HTTPClient()

    /// `smg` from the setup script's venv; nil, with an issue naming the script, when it is missing.
    static func routerExecutable(sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String? {
        let script = repositoryRoot + "/scripts/setup-sglang-router.sh"
        guard let r = try? runProcess(script, ["--check"]), r.status == 0,
              let line = r.out.split(separator: "\n").first(where: { $0.hasPrefix("SGLANG_ROUTER=") }) else {
            Issue.record("sglang-router is not installed: run scripts/setup-sglang-router.sh (make test does)",
                         sourceLocation: sourceLocation)
            return nil
        }
        return String(line.dropFirst("SGLANG_ROUTER=".count))
    }

    /// A running `smg launch --pd-disaggregation` on loopback, output in a temporary file.
    final class Router {
        let process = Process()
        let logURL: URL
        let port: Int
        var baseURL: String { "http://127.0.0.1:\(port)" }

        init(executable: String) throws {
            port = freePort()
            logURL = FileManager.default.temporaryDirectory.appendingPathComponent("smg-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: executable)
            // --prometheus-port: its default 0.0.0.0:29000 may be taken by a parallel test (the router panics then).
            process.arguments = ["launch", "--pd-disaggregation", "--host", "127.0.0.1", "--port", String(port),
                                 "--prometheus-host", "127.0.0.1", "--prometheus-port", String(port + 1)]
            let log = try FileHandle(forWritingTo: logURL)
            process.standardOutput = log
            process.standardError = log
            try process.run()
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: logURL)
        }

        var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
    }

    @Test func routesThroughSimulatedPrefillAndDecode() async throws {
        guard let smg = Self.routerExecutable() else { return }
        let prefill = try await PDTests.prefill()
        var decodeSettings = SimSettings()
        decodeSettings.bootstrapTimeout = 10
        let decode = try await PDTests.decode(decodeSettings)
        let router = try Router(executable: smg)
        #expect(await SimTest.waitForStatus(prefill.baseURL + "/ready", 200))
        #expect(await SimTest.waitForStatus(decode.baseURL + "/ready", 200))
        #expect(await SimTest.waitForStatus(router.baseURL + "/liveness", 200, seconds: 30), "router did not start: \(router.log)")
        let notReady = try client.get(router.baseURL + "/readiness")
        #expect(notReady.status != 200, "not ready without workers: \(notReady.text)")

        let bport = try #require(prefill.bootstrapPort)
        let addP = try client.postJSON(router.baseURL + "/workers",
                                       json: #"{"url":"\#(prefill.baseURL)","worker_type":"prefill","bootstrap_port":\#(bport)}"#)
        let addD = try client.postJSON(router.baseURL + "/workers", json: #"{"url":"\#(decode.baseURL)","worker_type":"decode"}"#)
        #expect((200..<300).contains(addP.status) && (200..<300).contains(addD.status), "\(addP.text) \(addD.text)")
        #expect(await SimTest.waitForStatus(router.baseURL + "/readiness", 200, seconds: 30), "router never ready: \(router.log)")

        // Non-streaming: the decode's answer, with every token.
        let r = try client.postJSON(router.baseURL + "/generate",
                                    json: #"{"text":"abcdefghijkl","sampling_params":{"max_new_tokens":20}}"#)
        #expect(r.status == 200, "\(r.text)\n\(router.log)")
        let j = try #require(SimTest.json(r))
        #expect(j["meta_info"]?["completion_tokens"] == .number(20))
        #expect(j["text"] == .string(SimTokens.text(0..<20)))
        #expect(prefill.core.bootstrapStore?.publishedCount == 1, "the prefill ran the request's room")

        // Streaming: the decode's SSE through the router.
        let s = try client.postJSON(router.baseURL + "/generate",
                                    json: #"{"text":"abcdefghijkl","sampling_params":{"max_new_tokens":7},"stream":true}"#)
        #expect(s.status == 200, "\(s.text)")
        let events = PDTests.events(s)
        #expect(events.count == 7, "\(s.text)")
        #expect(events.last?["meta_info"]?["completion_tokens"] == .number(7))
        #expect(s.text.contains("data: [DONE]"))

        // The OpenAI API too.
        let c = try client.postJSON(router.baseURL + "/v1/completions", json: #"{"model":"org/m","prompt":"abcdefgh","max_tokens":9}"#)
        #expect(c.status == 200, "\(c.text)")
        #expect(SimTest.json(c)?["usage"]?["completion_tokens"] == .number(9))
        #expect(prefill.core.bootstrapStore?.publishedCount == 3)

        // The prefill goes away: the request through the router fails instead of hanging.
        await prefill.shutdown()
        let started = Date()
        let failed = try? client.postJSON(router.baseURL + "/generate",
                                          json: #"{"text":"abcdefghijkl","sampling_params":{"max_new_tokens":5}}"#, timeout: 60)
        #expect(failed != nil, "the router did not answer within 60 s after the prefill stopped")
        // The router passes on the decode's 500 (its KV never comes) or its own error for the prefill.
        #expect(failed.map { $0.status >= 500 } ?? false, "status \(failed?.status ?? 0): \(failed?.text ?? "")")
        let seconds = Date().timeIntervalSince(started)
        #expect(seconds < 60)
        await decode.shutdown()
        router.process.terminate()
    }
}
