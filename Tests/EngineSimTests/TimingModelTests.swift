import Engines
import Testing
@testable import EngineSim

@Suite struct TimingModelTests {
    func model(_ accept: Double) -> TimingModel {
        TimingModel(ttftBaseMs: 100, ttftPer1kInputMs: 50, decodeStepMs: 10, acceptLength: accept)
    }

    @Test(arguments: [1.0, 2.0, 2.5, 3.0, 1.7, 4.0])
    func chunkCountIsCeilOfMaxOverAccept(accept: Double) {
        for maxTokens in [1, 2, 7, 10, 64, 100, 257] {
            let sizes = model(accept).chunkSizes(maxTokens: maxTokens)
            #expect(sizes.reduce(0, +) == maxTokens)
            #expect(sizes.count == Int((Double(maxTokens) / accept).rounded(.up)), "max \(maxTokens) accept \(accept)")
            #expect(sizes.allSatisfy { $0 >= 1 && Double($0) <= accept.rounded(.up) })
        }
    }

    @Test func fractionalAcceptLengthAlternatesFloorAndCeil() {
        #expect(model(2.5).chunkSizes(maxTokens: 10) == [2, 3, 2, 3])
        let sizes = model(1.7).chunkSizes(maxTokens: 1700)
        #expect(Set(sizes) == [1, 2])
        #expect(sizes.count == 1000)  // mean exactly 1.7
    }

    @Test func ttftAndOffsets() {
        let m = model(1)
        #expect(m.ttftMs(promptTokens: 0) == 100)
        #expect(m.ttftMs(promptTokens: 2000) == 200)
        #expect(m.chunkOffsetMs(index: 0, promptTokens: 1000) == 150)
        #expect(m.chunkOffsetMs(index: 3, promptTokens: 1000) == 180)
        #expect(m.chunkSizes(maxTokens: 0).isEmpty)
    }

    @Test func tokensAreDeterministic() {
        #expect(SimTokens.count(text: "") == 0)
        #expect(SimTokens.count(text: "abcd") == 1)
        #expect(SimTokens.count(text: "abcde") == 2)
        #expect(SimTokens.count(text: "é") == 1)  // 2 UTF-8 bytes
        #expect(SimTokens.text(0..<3) == "the quick brown")
        #expect(SimTokens.text(0..<2) + SimTokens.text(2..<3) == SimTokens.text(0..<3))
    }

    @Test func settingsFromEnvironment() throws {
        let s = try SimSettings.fromEnvironment([
            "DSDEPLOY_SIM_VERSION": "0.5.22", "DSDEPLOY_SIM_START_DELAY": "1.5",
            "DSDEPLOY_SIM_CRASH_ON_START": "1", "DSDEPLOY_SIM_NEVER_READY": "true",
            "DSDEPLOY_SIM_ARG_OVERRIDE": #"{"tp_size": 2, "mem_fraction_static": 0.7}"#,
            "DSDEPLOY_SIM_TTFT_BASE_MS": "200", "DSDEPLOY_SIM_ACCEPT_LENGTH": "2.5",
            "DSDEPLOY_SIM_REFUSE_TOKEN_IDS": "1", "DSDEPLOY_SIM_SHARED_STEPS": "1",
        ])
        #expect(s.version == "0.5.22" && s.startDelay == 1.5 && s.crashOnStart && s.neverReady && s.refuseTokenIDs)
        #expect(s.timing.sharedSteps && !TimingModel.defaults.sharedSteps)
        #expect(s.argOverride["tp_size"] == .number(2))
        #expect(s.timing.ttftBaseMs == 200 && s.timing.acceptLength == 2.5)
        #expect(s.timing.decodeStepMs == TimingModel.defaults.decodeStepMs)
        let defaults = try SimSettings.fromEnvironment([:])
        #expect(defaults == SimSettings())
        #expect(!defaults.refuseTokenIDs)
        for (k, v) in [("DSDEPLOY_SIM_START_DELAY", "soon"), ("DSDEPLOY_SIM_ACCEPT_LENGTH", "0.5"),
                       ("DSDEPLOY_SIM_ARG_OVERRIDE", "[1]"), ("DSDEPLOY_SIM_CRASH_ON_START", "maybe"),
                       ("DSDEPLOY_SIM_DECODE_STEP_MS", "-1"), ("DSDEPLOY_SIM_REFUSE_TOKEN_IDS", "ids"),
                       ("DSDEPLOY_SIM_SHARED_STEPS", "yes please")] {
            #expect(throws: SimSetupError.self) { _ = try SimSettings.fromEnvironment([k: v]) }
        }
    }

    /// Shared steps: a stream waits after its TTFT for the next whole multiple of the step, so
    /// streams that arrived at different times emit on one grid; without them it waits for nothing.
    @Test func sharedStepsWaitForTheNextBoundary() {
        var t = TimingModel(ttftBaseMs: 5, ttftPer1kInputMs: 1, decodeStepMs: 20, acceptLength: 1)
        #expect(t.boundaryWaitNs(arrivalNs: 1_234_567, promptTokens: 0) == 0)
        t.sharedSteps = true
        let ms: UInt64 = 1_000_000
        // Arrival 3 ms + TTFT 5 ms = 8 ms: the boundary at 20 ms is 12 ms later.
        #expect(t.boundaryWaitNs(arrivalNs: 3 * ms, promptTokens: 0) == 12 * ms)
        // Ready exactly on a boundary (35 + 5 = 40 ms): no wait.
        #expect(t.boundaryWaitNs(arrivalNs: 35 * ms, promptTokens: 0) == 0)
        // The input-dependent TTFT counts: 1,000 prompt tokens add 1 ms (ready at 41 ms, wait 19 ms).
        #expect(t.boundaryWaitNs(arrivalNs: 35 * ms, promptTokens: 1000) == 19 * ms)
        for arrival in stride(from: UInt64(0), to: 100 * ms, by: 7_777_777) {
            let first = arrival + t.boundaryWaitNs(arrivalNs: arrival, promptTokens: 0) + 5 * ms
            #expect(first % (20 * ms) == 0 && first >= arrival + 5 * ms && first < arrival + 25 * ms)
        }
    }
}
