import CurlHTTP
import Engines
import Foundation
import Testing
@testable import EngineSim

/// Replay mode (`DSDEPLOY_SIM_REPLAY=1`) serves the same bodies and events as the SwiftNIO server.
@Suite struct ReplayTests {
    /// A replay server on a free loopback port, ready; the caller shuts it down.
    static func startReplay(_ settings: SimSettings = SimSettings()) throws -> ReplayServer {
        var s = settings
        s.replay = true
        let core = SimCore(launch: try SimTest.launch(["--model-path", "sim/test-model"]), settings: s, log: .silent)
        core.setPhase(.ready)
        return try ReplayServer.start(core: core)
    }

    static func fastTiming() -> SimSettings {
        var s = SimSettings()
        s.timing = TimingModel(ttftBaseMs: 1, ttftPer1kInputMs: 0, decodeStepMs: 1, acceptLength: 1)
        return s
    }

    /// Event data with the per-server fields (`id`, `created`) blanked.
    static func normalized(_ capture: StreamCapture) -> [String] {
        capture.events.map { e in
            e.event.data.replacingOccurrences(of: #""id":"[^"]*""#, with: "\"id\":\"\"", options: .regularExpression)
                .replacingOccurrences(of: #""created":[0-9]+"#, with: "\"created\":0", options: .regularExpression)
        }
    }

    @Test(arguments: [("/v1/completions", #"{"prompt":[1,2,3],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#),
                      ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}"#),
                      ("/generate", #"{"input_ids":[1,2],"sampling_params":{"max_new_tokens":3},"stream":true}"#),
                      ("/v1/completions", #"{"prompt":"x","max_tokens":0,"stream":true}"#)])
    func streamsTheSameEventsAsTheNIOServer(path: String, body: String) async throws {
        let replay = try Self.startReplay(Self.fastTiming())
        defer { replay.shutdown() }
        let nio = try await SimTest.start(Self.fastTiming())
        #expect(await SimTest.waitForStatus(nio.baseURL + "/health_generate", 200))
        let multi = try CurlMulti()
        defer { multi.shutdown() }
        let r = await captureStream(multi, .json(url: "http://127.0.0.1:\(replay.port)" + path, json: body))
        let n = await captureStream(multi, .json(url: nio.baseURL + path, json: body))
        await nio.shutdown(grace: 0)
        #expect(r.error == nil && r.status == 200)
        #expect(!r.events.isEmpty)
        if path == "/generate" {
            // Native chunks carry e2e_latency: compare everything else.
            let strip = { (c: StreamCapture) in Self.normalized(c).map {
                $0.replacingOccurrences(of: #""e2e_latency":[0-9.e-]+"#, with: "", options: .regularExpression) } }
            #expect(strip(r) == strip(n))
        } else {
            #expect(Self.normalized(r) == Self.normalized(n))
        }
    }

    @Test func plainEndpointsAndKeepAlive() async throws {
        let replay = try Self.startReplay(Self.fastTiming())
        defer { replay.shutdown() }
        let base = "http://127.0.0.1:\(replay.port)"
        let client = HTTPClient()
        #expect(try client.get(base + "/health").status == 200)
        #expect(try client.get(base + "/nope").status == 404)
        let info = try client.get(base + "/server_info")
        #expect(info.status == 200 && info.text.contains("sim_worst_timer_lateness_ms"))
        // A non-streaming generation answers the whole body (with content-length), several on one multi.
        let multi = try CurlMulti()
        defer { multi.shutdown() }
        for _ in 0..<3 {
            let c = await captureStream(multi, .json(url: base + "/v1/completions", json: #"{"prompt":"abc","max_tokens":3}"#))
            #expect(c.status == 200)
        }
        let full = try client.send(.json(url: base + "/v1/completions", json: #"{"prompt":"abc","max_tokens":3}"#))
        #expect(full.status == 200)
        #expect(full.text.contains(#""text":"the quick brown""#))
        let bad = try client.send(.json(url: base + "/v1/completions", json: "{"))
        #expect(bad.status == 400)
    }

    @Test func settingsReadTheReplayFlag() throws {
        #expect(try SimSettings.fromEnvironment(["DSDEPLOY_SIM_REPLAY": "1"]).replay)
        #expect(try !SimSettings.fromEnvironment([:]).replay)
        #expect(try SimSettings.fromEnvironment([:]).replayBatch == 1)
        #expect(try SimSettings.fromEnvironment(["DSDEPLOY_SIM_REPLAY_BATCH": "16"]).replayBatch == 16)
        for bad in ["0", "65", "2.5", "x", "-1"] {
            #expect(throws: SimSetupError.self) { try SimSettings.fromEnvironment(["DSDEPLOY_SIM_REPLAY_BATCH": bad]) }
        }
    }

    /// `DSDEPLOY_SIM_REPLAY_BATCH=4`: the first chunk goes out when due, then chunks 1–4 together when
    /// chunk 4 is due, 5–8 when chunk 8 is: two long gaps, the other events in the same reads.
    @Test func batchedChunksGoOutTogether() async throws {
        var s = SimSettings()
        s.timing = TimingModel(ttftBaseMs: 1, ttftPer1kInputMs: 0, decodeStepMs: 60, acceptLength: 1)
        s.replayBatch = 4
        let replay = try Self.startReplay(s)
        defer { replay.shutdown() }
        let multi = try CurlMulti()
        defer { multi.shutdown() }
        let c = await captureStream(multi, .json(url: "http://127.0.0.1:\(replay.port)/v1/completions",
                                                 json: #"{"prompt":[1,2],"max_tokens":9,"stream":true}"#))
        #expect(c.error == nil && c.status == 200)
        let gaps = c.gapsMs
        #expect(c.contentEvents.count == 9, "\(c.events.map(\.event.data))")
        guard gaps.count == 8 else { return }
        // Chunk 1 waits for chunk 4's due time (3 steps after its own), chunk 5 for chunk 8's.
        #expect(gaps[0] > 150 && gaps[4] > 150, "gaps \(gaps)")
        #expect([1, 2, 3, 5, 6, 7].allSatisfy { gaps[$0] < 20 }, "gaps \(gaps)")
    }

    /// `DSDEPLOY_SIM_SHARED_STEPS=1`, both servers: two streams started half a step apart emit on the
    /// same grid of 100 ms boundaries (each event within 30 ms after one); stepping from their own
    /// arrivals, the two could not both be.
    @Test(arguments: [true, false])
    func sharedStepsPutEveryStreamOnOneGrid(replayMode: Bool) async throws {
        var s = SimSettings()
        s.timing = TimingModel(ttftBaseMs: 1, ttftPer1kInputMs: 0, decodeStepMs: 100, acceptLength: 1)
        s.timing.sharedSteps = true
        let replay = replayMode ? try Self.startReplay(s) : nil
        let nio = replayMode ? nil : try await SimTest.start(s)
        let base = replay.map { "http://127.0.0.1:\($0.port)" } ?? nio!.baseURL
        if let nio { #expect(await SimTest.waitForStatus(nio.baseURL + "/ready", 200)) }
        let multi = try CurlMulti()
        let request = HTTPRequest.json(url: base + "/v1/completions", json: #"{"prompt":[1,2],"max_tokens":3,"stream":true}"#)
        async let first = captureStream(multi, request)
        try await Task.sleep(for: .milliseconds(50))
        async let second = captureStream(multi, request)
        let captures = await [first, second]
        multi.shutdown()
        replay?.shutdown()
        if let nio { await nio.shutdown() }
        for c in captures {
            #expect(c.error == nil && c.status == 200 && c.contentEvents.count == 3)
            let phases = c.contentEvents.map { Double($0.at.nanoseconds % 100_000_000) / 1e6 }
            #expect(phases.allSatisfy { $0 < 30 }, "ms after a 100 ms boundary: \(phases)")
        }
    }
}
