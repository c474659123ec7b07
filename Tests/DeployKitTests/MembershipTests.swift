import DeployCore
@testable import DeployKit
import DeploySpec
import Foundation
import Testing

/// The executor's order around a disaggregated deployment's router (`ReplicaMembership`), against
/// the in-memory driver: workers join once ready, routers last; a replaced worker's successor joins
/// before it leaves, and it leaves before it stops; a failure of one part fails the whole group.
@Suite struct MembershipTests {
    /// Records joins and leaves in the driver's call log.
    struct Recorder: ReplicaMembership {
        let driver: InMemoryDriver
        var failJoin: @Sendable (ObservedReplica) -> Bool = { _ in false }
        struct Refused: Error, CustomStringConvertible { var description: String }
        func joined(_ instance: ObservedReplica, among live: [ObservedReplica]) throws {
            if failJoin(instance) { throw Refused(description: "router did not list \(instance.id) as healthy") }
            driver.note("join \(instance.id) \(instance.revision)")
        }
        func leaving(_ instance: ObservedReplica, among live: [ObservedReplica]) {
            driver.note("leave \(instance.id) \(instance.revision)")
        }
    }

    func group(decodeMem: String = "0.85", prefillMem: String = "0.85") throws -> [LaunchSpec] {
        func part(_ name: String, _ role: PDRole, _ mem: String) throws -> [LaunchSpec] {
            try inlineSpecs(name: name, replicas: 1, memFraction: mem).map { s in
                var s = s
                s.pd = PDMember(group: "g", role: role)
                return s
            }
        }
        return try part("g", .router, "0.85") + part("g-decode", .decode, decodeMem) + part("g-prefill", .prefill, prefillMem)
    }

    func apply(_ desired: [LaunchSpec], _ driver: InMemoryDriver, _ clock: ManualClock, _ m: Recorder) throws -> ApplyReport {
        var e = ApplyExecutor(target: driver, clock: clock, environment: [:])
        e.membership = m
        return e.apply(Planner().plan(desired: desired, observed: try driver.observe()))
    }

    @Test func workersJoinFirstAndASuccessorJoinsBeforeItsPredecessorLeaves() throws {
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        let m = Recorder(driver: driver)
        let first = try group()
        #expect(try apply(first, driver, clock, m).succeeded)
        let joins = driver.calls.filter { $0.hasPrefix("join") }
        #expect(joins.map { $0.split(separator: " ")[1] } == ["g-decode/0", "g-prefill/0", "g/0"], "routers join last: \(driver.calls)")

        let old = first.first { $0.deployment == "g-decode" }!.revision
        let next = try group(decodeMem: "0.9")
        let new = next.first { $0.deployment == "g-decode" }!.revision
        let before = driver.calls.count
        #expect(try apply(next, driver, clock, m).succeeded)
        #expect(Array(driver.calls.dropFirst(before)) == ["start g-decode/0 \(new)", "join g-decode/0 \(new)",
                                                          "leave g-decode/0 \(old)", "stop g-decode/0 \(old)"])
    }

    @Test func withoutSurgeTheOldWorkerLeavesOnceBeforeItsSuccessorStarts() throws {
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        let m = Recorder(driver: driver)
        func noSurge(_ specs: [LaunchSpec]) -> [LaunchSpec] {
            specs.map { s in
                var s = s
                s.maxSurge = 0
                s.maxUnavailable = 1
                return s
            }
        }
        let first = noSurge(try group())
        _ = try apply(first, driver, clock, m)
        let old = first.first { $0.deployment == "g-decode" }!.revision
        let next = noSurge(try group(decodeMem: "0.9"))
        let new = next.first { $0.deployment == "g-decode" }!.revision
        let before = driver.calls.count
        #expect(try apply(next, driver, clock, m).succeeded)
        // Its successor may listen on the same URL: a second leave after it joined would take it out.
        #expect(Array(driver.calls.dropFirst(before)) == ["leave g-decode/0 \(old)", "stop g-decode/0 \(old)",
                                                          "start g-decode/0 \(new)", "join g-decode/0 \(new)"])
    }

    @Test func aWorkerThatDiedIsTakenOutWhenItIsReplaced() throws {
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        let m = Recorder(driver: driver)
        _ = try apply(try group(), driver, clock, m)
        let dead = try #require(try driver.observe().first { $0.deployment == "g-decode" })
        driver.kill(dead.instance)
        let before = driver.calls.count
        #expect(try apply(try group(), driver, clock, m).succeeded)
        let after = Array(driver.calls.dropFirst(before))
        // Its successor joins, and the dead one leaves the router's list (it would stay there unhealthy).
        #expect(after.contains("join g-decode/0 \(dead.revision)") && after.contains("leave g-decode/0 \(dead.revision)"), "\(after)")
        #expect(after.firstIndex { $0.hasPrefix("join") }! < after.firstIndex { $0.hasPrefix("leave") }!, "\(after)")
    }

    @Test func aFailedPartRevertsTheWholeGroup() throws {
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        var m = Recorder(driver: driver)
        _ = try apply(try group(), driver, clock, m)
        let good = Set(try driver.observe().map(\.revision))
        // Both servers change; the new decode server is not taken into the router's service.
        m.failJoin = { $0.deployment == "g-decode" }
        let before = driver.calls.count
        let report = try apply(try group(decodeMem: "0.9", prefillMem: "0.9"), driver, clock, m)
        #expect(!report.succeeded)
        #expect(Set(report.failedDeployments) == ["g", "g-decode", "g-prefill"], "\(report.failedDeployments)")
        let live = try driver.observe().filter(\.isAlive)
        #expect(live.count == 3 && Set(live.map(\.revision)) == good, "every part runs its last good revision: \(live)")
        #expect(report.outcomes.contains { $0.id == "g-decode/0" && $0.result == .failed && $0.message.contains("did not list g-decode/0") },
                "\(report.outcomes)")
        // The old servers never left the router's service (with surge they ran throughout), and the new
        // prefill server, ready but failed with its group, never joined it.
        let during = driver.calls.dropFirst(before)
        #expect(!during.contains { $0.hasPrefix("leave") || $0.hasPrefix("join g-prefill") }, "\(Array(during))")
    }
}
