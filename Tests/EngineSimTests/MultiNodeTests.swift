import CurlHTTP
import Engines
import Foundation
import Testing
@testable import EngineSim
import TestSupport

/// The simulator's multi-node start-up, as SGLang behaves (`shared/reference/targets/README.md` B1,
/// B2: `engine.py _launch_subprocesses`, `launch_dummy_health_check_server`): rank 0 serves its API
/// only after every rank joined `--dist-init-addr`; ranks > 0 run only the dummy health server; a
/// lost rank ends the group.
@Suite(.serialized) struct MultiNodeTests {
    func node(_ rank: Int, port: Int, dist: Int, env: [String: String] = [:]) throws -> SimProcessRun {
        try SimProcessRun(["--model-path", "org/m", "--host", "127.0.0.1", "--port", String(port), "--tp-size", "16",
                           "--nnodes", "2", "--node-rank", String(rank), "--dist-init-addr", "127.0.0.1:\(dist)"], env: env)
    }

    @Test func rankZeroServesOnlyOnceEveryRankJoinedAndALostRankEndsTheGroup() async throws {
        let (p0, p1, dist) = (freePort(), freePort(), freePort())
        let head = try node(0, port: p0, dist: dist)
        defer { head.process.terminate() }
        #expect(await head.waitForLog("waiting for 1 node(s) at 127.0.0.1:\(dist)", seconds: 20))
        // Alone, rank 0 does not listen on its HTTP port.
        #expect((try? HTTPClient().get("http://127.0.0.1:\(p0)/health", timeout: 1)) == nil)
        let follower = try node(1, port: p1, dist: dist)
        defer { follower.process.terminate() }
        #expect(await SimTest.waitForStatus("http://127.0.0.1:\(p0)/ready", 200, seconds: 30))
        #expect(await head.waitForLog("Node rank 1 joined the group", seconds: 5))
        let info = try #require(SimTest.json(try HTTPClient().get("http://127.0.0.1:\(p0)/server_info")))
        #expect(info["nnodes"] == .number(2) && info["node_rank"] == .number(0) && info["tp_size"] == .number(16))
        // Rank 1: the dummy health server only.
        #expect(await SimTest.waitForStatus("http://127.0.0.1:\(p1)/health", 200, seconds: 10))
        #expect(try HTTPClient().get("http://127.0.0.1:\(p1)/health_generate").status == 200)
        #expect(try HTTPClient().get("http://127.0.0.1:\(p1)/server_info").status == 404)
        // Rank 1 dies: rank 0 loses the group and exits 1.
        kill(follower.process.processIdentifier, SIGKILL)
        #expect(await head.waitForExit(seconds: 20) == 1)
        #expect(head.stderr.contains("the connection to node rank 1 was lost"))
    }

    @Test func aRankThatNeverJoinsLeavesTheGroupNotReady() async throws {
        let (p0, p1, dist) = (freePort(), freePort(), freePort())
        let head = try node(0, port: p0, dist: dist)
        defer { head.process.terminate() }
        let follower = try node(1, port: p1, dist: dist, env: ["DSDEPLOY_SIM_NEVER_JOIN": "1"])
        defer { kill(follower.process.processIdentifier, SIGKILL) }
        #expect(await follower.waitForLog("never joining", seconds: 20))
        #expect(!(await SimTest.waitForStatus("http://127.0.0.1:\(p0)/health", 200, seconds: 2)), "rank 0 still waits")
        #expect(!head.stderr.contains("Node rank 1 joined"))
    }

    @Test func rankZeroGoingAwayEndsAFollower() async throws {
        let (p0, p1, dist) = (freePort(), freePort(), freePort())
        let follower = try node(1, port: p1, dist: dist)
        defer { follower.process.terminate() }
        let head = try node(0, port: p0, dist: dist)
        #expect(await SimTest.waitForStatus("http://127.0.0.1:\(p0)/ready", 200, seconds: 30), "a follower started first joins once rank 0 listens")
        kill(head.process.processIdentifier, SIGKILL)
        #expect(await follower.waitForExit(seconds: 20) == 1)
    }
}
