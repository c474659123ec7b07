import DeployCore
@testable import DeployKit
import DeploySpec
import Engines
import Foundation
import Testing

/// Planner + executor against the in-memory target and a manual clock.
@Suite struct ExecutorTests {
    func specs(replicas: Int = 2, memFraction: String = "0.85", surge: Int = 1, unavailable: Int = 0,
               name: String = "d", label: String = "a") throws -> [LaunchSpec] {
        try inlineSpecs(name: name, replicas: replicas, memFraction: memFraction, surge: surge, unavailable: unavailable, label: label)
    }

    func apply(_ desired: [LaunchSpec], _ target: InMemoryDriver, _ clock: ManualClock, prune: Bool = false) throws -> (Plan, ApplyReport) {
        let plan = Planner(prune: prune).plan(desired: desired, observed: try target.observe())
        let report = ApplyExecutor(target: target, clock: clock, environment: [:]).apply(plan)
        return (plan, report)
    }

    @Test func firstApplyThenNoop() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        let (plan, report) = try apply(try specs(), target, clock)
        #expect(plan.count(.create) == 2)
        #expect(report.succeeded)
        let live = try target.observe()
        #expect(live.count == 2 && live.allSatisfy { $0.state == .ready }, "\(live)")
        #expect(report.seconds < 1.5, "creates run in parallel (manual clock): \(report.seconds)")
        let before = target.calls
        let (plan2, report2) = try apply(try specs(), target, clock)
        #expect(!plan2.hasChanges)
        #expect(report2.succeeded)
        #expect(target.calls == before, "a no-op apply touches nothing")
    }

    @Test func rollingReplaceStartsNewBeforeStoppingOld() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try apply(try specs(), target, clock)
        let old = try specs()[0].revision
        let new = try specs(memFraction: "0.9")
        let (plan, report) = try apply(new, target, clock)
        #expect(plan.count(.replace) == 2)
        #expect(plan.changes.first?.flags.first?.flag == "--mem-fraction-static")
        #expect(report.succeeded)
        let calls = target.calls.suffix(4)
        #expect(Array(calls) == ["start d/0 \(new[0].revision)", "stop d/0 \(old)", "start d/1 \(new[0].revision)", "stop d/1 \(old)"])
        let live = try target.observe()
        #expect(live.count == 2 && live.allSatisfy { $0.revision == new[0].revision && $0.state == .ready }, "\(live)")
    }

    @Test func failedRolloutKeepsOldServing() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try apply(try specs(), target, clock)
        let good = try specs()[0].revision
        target.behavior = { s in s.revision == good ? .readyAfter(.seconds(1)) : .crash("RuntimeError: CUDA out of memory") }
        let (_, report) = try apply(try specs(memFraction: "0.99"), target, clock)
        #expect(!report.succeeded)
        #expect(report.failedDeployments == ["d"])
        #expect(report.outcomes.contains { $0.result == .failed && $0.message.contains("CUDA out of memory") })
        let live = try target.observe()
        #expect(live.count == 2 && live.allSatisfy { $0.revision == good && $0.state == .ready })
    }

    /// A new instance that never gets ready must be gone after the failed rollout even when the
    /// engine API fails its first stops (a loaded host): the stop is tried again. When it keeps
    /// failing, the output says the instance could not be stopped.
    @Test func aFailedNewInstanceIsStoppedThoughItsFirstStopsFail() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try apply(try specs(replicas: 1), target, clock)
        let good = try specs()[0].revision
        target.behavior = { s in s.revision == good ? .readyAfter(.seconds(1)) : .neverReady }
        target.failingStops = 2
        let (_, report) = try apply(try specs(replicas: 1, memFraction: "0.5"), target, clock)
        #expect(!report.succeeded)
        #expect(target.calls.filter { $0.hasPrefix("stop failed") }.count == 2)
        let live = try target.observe()
        #expect(live.map(\.revision) == [good], "only the last good instance runs: \(live.map(\.revision))")

        var events: [String] = []
        target.failingStops = 3
        let plan = Planner().plan(desired: try specs(replicas: 1, memFraction: "0.4"), observed: try target.observe())
        let report2 = ApplyExecutor(target: target, clock: clock, environment: [:]).apply(plan) { e in
            if case .progress(_, let m) = e { events.append(m) }
        }
        #expect(!report2.succeeded)
        #expect(events.contains { $0.contains("could not stop") && $0.contains("injected stop failure") }, "\(events)")
    }

    @Test func failedRolloutWithoutSurgeRevertsToLastGood() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try apply(try specs(surge: 0, unavailable: 1), target, clock)
        let good = try specs()[0].revision
        target.behavior = { s in s.revision == good ? .readyAfter(.seconds(1)) : .neverReady }
        let (_, report) = try apply(try specs(memFraction: "0.5", surge: 0, unavailable: 1), target, clock)
        #expect(!report.succeeded)
        let live = try target.observe()
        #expect(live.map(\.revision) == [good, good], "reverted to the last good revision: \(live.map(\.revision))")
        #expect(live.map(\.state) == [.ready, .ready])
    }

    /// A revert runs the old launch spec with its own env: the resolved values it gets are those of its
    /// own secret or `valueFrom` entries, never a variable only the new manifest has (found running a
    /// multi-node rehearsal: a reverted group kept the failing revision's DSDEPLOY_SIM_NEVER_JOIN).
    @Test func aRevertRunsTheOldSpecWithItsOwnEnv() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        let token = RenderedEnv(name: "HF_TOKEN", value: nil, secret: true, from: "env:HF_TOKEN")
        let old = try specs(surge: 0, unavailable: 1).map { s in var s = s; s.env.append(token); return s }
        let resolved: [String: [String: Secret]] = ["d": ["HF_TOKEN": Secret("hf_secret"), "DEBUG_CRASH": Secret("1")]]
        let first = Planner().plan(desired: old, observed: try target.observe())
        #expect(ApplyExecutor(target: target, clock: clock, environment: resolved).apply(first).succeeded)
        let new = try specs(memFraction: "0.5", surge: 0, unavailable: 1).map { s in
            var s = s
            s.env += [token, RenderedEnv(name: "DEBUG_CRASH", value: nil, secret: false, from: "env:DEBUG_CRASH")]
            return s
        }
        target.behavior = { s in s.env.contains { $0.name == "DEBUG_CRASH" } ? .crash("crashed on purpose") : .readyAfter(.seconds(1)) }
        let plan = Planner().plan(desired: new, observed: try target.observe())
        let report = ApplyExecutor(target: target, clock: clock, environment: resolved).apply(plan)
        #expect(report.failedDeployments == ["d"])
        let live = try target.observe().filter(\.isAlive)
        #expect(live.count == 2 && live.allSatisfy { $0.revision == old[0].revision }, "\(live.map(\.revision))")
        for inst in live {
            #expect(target.environments[inst.instance]?.keys.sorted() == ["HF_TOKEN"], "the old spec's own env only: \(String(describing: target.environments[inst.instance]?.keys))")
        }
        // The new revision did get both of its resolved values.
        #expect(target.environments.values.contains { $0.keys.sorted() == ["DEBUG_CRASH", "HF_TOKEN"] })
    }

    @Test func driftFailsTheRollout() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        target.behavior = { _ in .drift([FlagDiffEntry(kind: .changed, flag: "--mem-fraction-static", before: "0.85", after: "0.8", effective: true)]) }
        let (_, report) = try apply(try specs(replicas: 1), target, clock)
        #expect(!report.succeeded)
        #expect(report.outcomes.first?.message.contains("other args") == true)
    }

    @Test func deadReplicaIsRestartedAndScaleDownDeletes() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try apply(try specs(replicas: 3), target, clock)
        let victim = try #require(try target.observe().first { $0.replica == 1 })
        target.kill(victim.instance)
        let plan = Planner().plan(desired: try specs(replicas: 2), observed: try target.observe())
        #expect(plan.changes.map(\.action) == [.noop, .replace, .delete])
        #expect(plan.changes[1].reason.contains("not running"))
        let report = ApplyExecutor(target: target, clock: clock, environment: [:]).apply(plan)
        #expect(report.succeeded)
        #expect(try target.observe().count == 2)
    }

    @Test func pruneOnlyWhenAsked() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try apply(try specs(name: "old"), target, clock)
        let (plan, _) = try apply(try specs(name: "new"), target, clock)
        #expect(plan.orphans == ["old"])
        #expect(try target.observe().filter { $0.deployment == "old" }.count == 2)
        let (plan2, _) = try apply(try specs(name: "new"), target, clock, prune: true)
        #expect(plan2.count(.delete) == 2)
        let live = try target.observe()
        #expect(live.count == 2 && live.allSatisfy { $0.deployment == "new" }, "\(live)")
    }

    @Test func labelsOnlyUpdatesWithoutRestart() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try apply(try specs(), target, clock)
        let (plan, report) = try apply(try specs(label: "b"), target, clock)
        #expect(plan.changes.count == 2 && plan.changes.allSatisfy { $0.action == .update })
        #expect(report.succeeded)
        #expect(!target.calls.suffix(2).contains { $0.hasPrefix("start") })
    }

    @Test func aReplaceThatCannotStartWithoutSurgeBringsTheOldInstanceBack() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        let good = try specs(replicas: 1, surge: 0, unavailable: 1)
        _ = try apply(good, target, clock)
        target.behavior = { s in s.revision == good[0].revision ? .readyAfter(.seconds(1)) : .cannotStart("no such image") }
        let (_, report) = try apply(try specs(replicas: 1, memFraction: "0.9", surge: 0, unavailable: 1), target, clock)
        #expect(!report.succeeded && report.outcomes.first?.message.contains("no such image") == true, "\(report.outcomes)")
        let live = try target.observe()
        #expect(live.count == 1 && live[0].revision == good[0].revision && live[0].state == .ready, "\(live)")
    }
}
