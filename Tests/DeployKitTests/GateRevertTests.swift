import DeployCore
@testable import DeployKit
import DeploySpec
import Foundation
import Testing

/// Returning a converged rollout that failed its benchmark gate to what ran before the apply.
@Suite struct GateRevertTests {
    let base = ExecutorTests()

    func rollout(_ target: InMemoryDriver, _ clock: ManualClock, _ desired: [LaunchSpec]) throws -> (ApplyExecutor, Plan, ApplyReport) {
        let plan = Planner().plan(desired: desired, observed: try target.observe())
        let executor = ApplyExecutor(target: target, clock: clock, environment: [:])
        return (executor, plan, executor.apply(plan))
    }

    @Test func replacedReplicasGetTheirPreviousRevisionBack() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try rollout(target, clock, try base.specs())
        let old = try base.specs()[0].revision
        let (executor, plan, report) = try rollout(target, clock, try base.specs(memFraction: "0.9"))
        #expect(report.succeeded)
        #expect(ApplyExecutor.rolledOut(plan, report) == ["d"])
        let revert = executor.revertRollout("d", plan: plan, reason: "output_throughput >= 0.95 * previous")
        #expect(revert.succeeded, "\(revert)")
        #expect(revert.outcomes.map(\.result) == [.reverted, .reverted])
        #expect(revert.outcomes.allSatisfy { $0.revision == old })
        let live = try target.observe()
        #expect(live.count == 2 && live.allSatisfy { $0.revision == old && $0.state == .ready }, "\(live.map(\.revision))")
        // The next plan sees the old revision running and wants the new one again.
        #expect(Planner().plan(desired: try base.specs(memFraction: "0.9"), observed: live).count(.replace) == 2)
    }

    @Test func withoutSurgeTheGatedInstanceStopsFirst() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try rollout(target, clock, try base.specs(replicas: 1, surge: 0, unavailable: 1))
        let old = try base.specs(replicas: 1, surge: 0, unavailable: 1)[0].revision
        let new = try base.specs(replicas: 1, memFraction: "0.5", surge: 0, unavailable: 1)
        let (executor, plan, _) = try rollout(target, clock, new)
        let before = target.calls.count
        let revert = executor.revertRollout("d", plan: plan, reason: "gate")
        #expect(revert.succeeded)
        #expect(Array(target.calls[before...]) == ["stop d/0 \(new[0].revision)", "start d/0 \(old)"])
    }

    @Test func addedReplicasStopAndAFreshDeploymentIsLeftRunning() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        let (e0, p0, r0) = try rollout(target, clock, try base.specs(replicas: 1))
        let fresh = e0.revertRollout("d", plan: p0, reason: "gate")
        #expect(r0.succeeded && fresh.outcomes.isEmpty && !fresh.succeeded)
        #expect(fresh.note?.contains("no previous revision") == true)
        #expect(try target.observe().count == 1, "nothing to return to: left running")

        let old = try base.specs(replicas: 1)[0].revision
        let (executor, plan, _) = try rollout(target, clock, try base.specs(replicas: 2, memFraction: "0.7"))
        let revert = executor.revertRollout("d", plan: plan, reason: "gate")
        #expect(revert.succeeded, "\(revert)")
        let live = try target.observe()
        #expect(live.map(\.replica) == [0] && live.first?.revision == old, "\(live.map { "\($0.id)@\($0.revision)" })")
    }

    @Test func aFailedRevertKeepsTheGatedRevisionServing() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try rollout(target, clock, try base.specs(replicas: 1))
        let old = try base.specs(replicas: 1)[0].revision
        let new = try base.specs(replicas: 1, memFraction: "0.6")
        let (executor, plan, _) = try rollout(target, clock, new)
        target.behavior = { s in s.revision == old ? .crash("gone") : .readyAfter(.seconds(1)) }
        let revert = executor.revertRollout("d", plan: plan, reason: "gate")
        #expect(!revert.succeeded)
        #expect(revert.outcomes.first?.message.contains("keeps serving") == true, "\(revert.outcomes)")
        #expect(try target.observe().filter(\.isAlive).map(\.revision) == [new[0].revision])
    }

    @Test func noopAndFailedRolloutsAreNotGated() throws {
        let clock = ManualClock()
        let target = InMemoryDriver(clock: clock)
        _ = try rollout(target, clock, try base.specs())
        let (_, plan, report) = try rollout(target, clock, try base.specs(label: "b"))
        #expect(ApplyExecutor.rolledOut(plan, report).isEmpty, "a labels-only update starts nothing")
        let good = try base.specs()[0].revision
        target.behavior = { s in s.revision == good ? .readyAfter(.seconds(1)) : .crash("boom") }
        let (_, plan2, report2) = try rollout(target, clock, try base.specs(memFraction: "0.3"))
        #expect(!report2.succeeded)
        #expect(ApplyExecutor.rolledOut(plan2, report2).isEmpty)
    }

    @Test func benchmarksDoNotChangeTheRevision() throws {
        func render(_ benchmarks: String) throws -> [LaunchSpec] {
            let r = loadInline(["m.yaml": """
            apiVersion: dsdeploy/v1
            kind: Backend
            metadata: {name: b}
            spec:
              engine: sglang
              versions:
                v: {engineVersion: "0.5.23", image: img, entrypoint: [sglang, serve]}
            ---
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              model: {source: huggingface, id: x/y}
              backend: b
              backendVersion: v
              args: ["--mem-fraction-static 0.8"]
            \(benchmarks)
            """], ["m.yaml"])
            #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
            return try r.deployments.flatMap { try Renderer().render($0).get() }
        }
        let none = try render("")
        let some = try render("  benchmarks: {scenarios: [{name: a, inputLen: 8, outputLen: 8, gates: [\"failed <= 0\"]}]}")
        let other = try render("  benchmarks: {scenarios: [{name: a, inputLen: 16, outputLen: 8, gates: [\"median_ttft_ms < 5\"]}]}")
        #expect(none == some && some == other, "benchmarks are not part of the launch spec")
        #expect(!none.isEmpty)
        let plan = Planner().plan(desired: other, observed: none.map {
            ObservedReplica(deployment: $0.deployment, replica: $0.replica, instance: "i", revision: $0.revision,
                            state: .ready, launch: $0, pid: 1, port: $0.port, startedAt: 0)
        })
        #expect(!plan.hasChanges, "changing only benchmarks restarts nothing")
    }
}
