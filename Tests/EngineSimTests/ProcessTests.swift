import CurlHTTP
import Engines
import Foundation
import Testing
@testable import EngineSim
import TestSupport

/// The real executable: argv like SGLang, controls through DSDEPLOY_SIM_*, exit codes, signals.
@Suite(.serialized) struct ProcessTests {
    @Test func unknownFlagExitsTwoWithArgparseMessage() async throws {
        let run = try SimProcessRun(["--model-path", "m", "--foo"])
        #expect(await run.waitForExit(seconds: 20) == 2)
        #expect(run.stderr.contains("error: unrecognized arguments: --foo"))
        #expect(run.stderr.hasPrefix("usage: launch_server.py"))
    }

    @Test func crashOnStartExitsOneAfterAnEngineLikeError() async throws {
        let run = try SimProcessRun(["--model-path", "m"], env: ["DSDEPLOY_SIM_CRASH_ON_START": "1"])
        #expect(await run.waitForExit(seconds: 20) == 1)
        let err = run.stderr
        #expect(err.contains("Load weight begin"))
        #expect(err.contains("Traceback (most recent call last):"))
        #expect(err.contains("RuntimeError: CUDA error: out of memory"))
        #expect(!err.contains("Application startup complete."))
    }

    @Test func badSimulatorSettingExitsTwo() async throws {
        let run = try SimProcessRun(["--model-path", "m"], env: ["DSDEPLOY_SIM_VERSION": "9.9.9"])
        #expect(await run.waitForExit(seconds: 20) == 2)
        #expect(run.stderr.contains("DSDEPLOY_SIM_VERSION"))
    }

    @Test func startsServesAndStopsOnSigterm() async throws {
        let port = freePort()
        let run = try SimProcessRun(["--model-path", "org/m", "--host", "127.0.0.1", "--port", String(port),
                                     "--tp-size", "8"], env: ["DSDEPLOY_SIM_START_DELAY": "5"])
        let base = "http://127.0.0.1:\(port)"
        // The start delay is the window in which /ready must answer 503: long enough that a loaded
        // machine (parallel tests on 2 cores) still sees it before the server turns ready.
        #expect(await SimTest.waitForStatus(base + "/ready", 503))
        #expect(await SimTest.waitForStatus(base + "/ready", 200, seconds: 30))
        #expect(await run.waitForLog("Uvicorn running on http://127.0.0.1:\(port)", seconds: 5))
        let info = try #require(SimTest.json(try HTTPClient().get(base + "/server_info")))
        #expect(info["tp_size"] == .number(8))
        // A stream in flight when SIGTERM arrives still finishes.
        let multi = try CurlMulti()
        let received = Counter()
        async let stream = captureStream(multi, .json(url: base + "/v1/completions", json:
            #"{"prompt":"x","max_tokens":20,"stream":true}"#), received: received)
        #expect(await eventually { received.value > 0 }, "the stream started")
        run.process.terminate()  // SIGTERM
        let code = await run.waitForExit(seconds: 30)
        #expect(code == 0)
        let captured = await stream
        #expect(captured.contentEvents.count == 20 && captured.events.last?.event.isDone == true)
        #expect(run.stderr.contains("Application shutdown complete."))
        multi.shutdown()
    }

    @Test func crashAfterExitsOne() async throws {
        let port = freePort()
        let run = try SimProcessRun(["--model-path", "m", "--port", String(port)],
                                    env: ["DSDEPLOY_SIM_CRASH_AFTER": "0.3"])
        #expect(await run.waitForExit(seconds: 10) == 1)
        #expect(run.stderr.contains("DSDEPLOY_SIM_CRASH_AFTER"))
    }
}
