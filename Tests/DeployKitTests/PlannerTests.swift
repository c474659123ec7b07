import DeployCore
import DeployKit
import DeploySpec
import Engines
import Foundation
import Testing

/// `Planner` alone: desired launch specs (rendered from inline manifests) against hand-made
/// observations. Assertions use only a change's `action`, `reason`, `deployment`, `replica`, `id`,
/// and the plan's `orphans`, `desiredDigest` and `observedDigest`.
@Suite struct PlannerTests {
    /// Rendered specs of one deployment.
    func specs(_ name: String = "d", replicas: Int = 2, memFraction: String = "0.85", team: String = "a") throws -> [LaunchSpec] {
        let specs = try inlineSpecs(name: name, replicas: replicas, memFraction: memFraction, label: team)
        #expect(specs.count == replicas)
        return specs
    }

    /// An instance of `spec` as a target would report it.
    func observed(_ spec: LaunchSpec, _ state: ObservedReplica.State = .ready, instance: String? = nil,
                  startedAt: Double = 1, exitStatus: String? = nil, drift: [FlagDiffEntry] = [],
                  labels: [String: String]? = nil) -> ObservedReplica {
        ObservedReplica(deployment: spec.deployment, replica: spec.replica, instance: instance ?? "\(spec.id)-i",
                        revision: spec.revision, state: state, launch: spec, pid: state == .exited ? nil : 100,
                        port: spec.port, startedAt: startedAt, exitStatus: exitStatus, drift: drift,
                        labels: labels ?? spec.labels)
    }

    /// The one change of a plan over a single slot.
    func only(_ plan: Plan, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> PlannedChange {
        #expect(plan.changes.count == 1, "\(plan.changes.map { "\($0.id) \($0.action)" })", sourceLocation: sourceLocation)
        return try #require(plan.changes.first, sourceLocation: sourceLocation)
    }

    @Test func createsEveryMissingReplica() throws {
        let plan = Planner().plan(desired: try specs(), observed: [])
        #expect(plan.changes.map(\.action) == [.create, .create])
        #expect(plan.changes.map(\.id) == ["d/0", "d/1"])
        #expect(plan.changes.allSatisfy { $0.reason == "new replica" })
        #expect(plan.orphans.isEmpty)
    }

    @Test func upToDateIsNoop() throws {
        let desired = try specs()
        let plan = Planner().plan(desired: desired, observed: desired.map { observed($0) })
        #expect(plan.changes.count == 2)
        #expect(plan.changes.allSatisfy { $0.action == .noop && $0.reason == "up to date" })
    }

    @Test func revisionChangeReplacesNamingTheFlag() throws {
        let old = try specs(replicas: 1)[0], new = try specs(replicas: 1, memFraction: "0.9")
        #expect(old.revision != new[0].revision)
        let change = try only(Planner().plan(desired: new, observed: [observed(old)]))
        #expect(change.action == .replace)
        #expect(change.reason.hasPrefix("configuration changed"))
        #expect(change.reason.contains("--mem-fraction-static"), "\(change.reason)")
    }

    /// The reason names four changes and counts the rest (the detail lines list them all).
    @Test func aLongChangeListIsCountedNotCut() throws {
        let old = try specs(replicas: 1)[0]
        var new = try specs(replicas: 1, memFraction: "0.9")[0]
        new.image += "-2"
        new.engineVersion += ".post1"
        new.labels["team"] = "b"
        new.revision = "changed"
        let change = try only(Planner().plan(desired: [new], observed: [observed(old)]))
        #expect(change.reason == "configuration changed: image, engineVersion, labels, --mem-fraction-static", "\(change.reason)")
        new.gpuIds = [old.gpuIds.first.map { $0 + 1 } ?? 7]
        let more = try only(Planner().plan(desired: [new], observed: [observed(old)]))
        #expect(more.reason == "configuration changed: image, engineVersion, gpus, labels and 1 more", "\(more.reason)")
    }

    @Test func secretDigestChangeReplaces() throws {
        var running = try specs(replicas: 1)[0], desired = running
        running.secretDigests = ["HF_TOKEN": "digest-1"]
        desired.secretDigests = ["HF_TOKEN": "digest-2"]
        let change = try only(Planner().plan(desired: [desired], observed: [observed(running)]))
        #expect(change.action == .replace)
        #expect(change.reason == "secret value changed: HF_TOKEN")
        // An unknown digest on either side is never a change.
        desired.secretDigests = nil
        #expect(try only(Planner().plan(desired: [desired], observed: [observed(running)])).action == .noop)
        desired.secretDigests = ["HF_TOKEN": "digest-1"]
        #expect(try only(Planner().plan(desired: [desired], observed: [observed(running)])).action == .noop)
    }

    @Test func deadReplicaIsReplaced() throws {
        let spec = try specs(replicas: 1)[0]
        let change = try only(Planner().plan(desired: [spec], observed: [observed(spec, .exited, exitStatus: "signal 9")]))
        #expect(change.action == .replace)
        #expect(change.reason == "replica is not running (signal 9)")
    }

    @Test func driftReplaces() throws {
        let spec = try specs(replicas: 1)[0]
        let drift = [FlagDiffEntry(kind: .changed, flag: "--mem-fraction-static", before: "0.85", after: "0.8", effective: true)]
        let change = try only(Planner().plan(desired: [spec], observed: [observed(spec, drift: drift)]))
        #expect(change.action == .replace)
        #expect(change.reason.hasPrefix("drift"))
        #expect(change.reason.contains("--mem-fraction-static"))
    }

    @Test func interruptedStartIsVerifiedNotRestarted() throws {
        let spec = try specs(replicas: 1)[0]
        let change = try only(Planner().plan(desired: [spec], observed: [observed(spec, .starting)]))
        #expect(change.action == .update)
        #expect(change.reason.contains("interrupted apply"), "\(change.reason)")
    }

    /// A failed replica is not alive, so the "not running" rule takes it (before the planner's own
    /// "failed its readiness check" rule, which no observation reaches).
    @Test func failedReplicaIsReplaced() throws {
        let spec = try specs(replicas: 1)[0]
        let change = try only(Planner().plan(desired: [spec], observed: [observed(spec, .failed)]))
        #expect(change.action == .replace)
        #expect(change.reason.contains("failed"), "\(change.reason)")
    }

    @Test func labelsAloneUpdate() throws {
        let old = try specs(replicas: 1, team: "a")[0], new = try specs(replicas: 1, team: "b")[0]
        #expect(old.revision == new.revision, "labels are not part of the revision")
        let change = try only(Planner().plan(desired: [new], observed: [observed(old)]))
        #expect(change.action == .update)
        #expect(change.reason == "labels changed")
    }

    @Test func loweredReplicaCountDeletesTheRest() throws {
        let three = try specs(replicas: 3)
        let plan = Planner().plan(desired: try specs(replicas: 2), observed: three.map { observed($0) })
        #expect(plan.changes.map(\.id) == ["d/0", "d/1", "d/2"])
        #expect(plan.changes.map(\.action) == [.noop, .noop, .delete])
        #expect(plan.changes.last?.reason == "replica count lowered")
        #expect(plan.orphans.isEmpty, "a scaled-down deployment is not an orphan")
    }

    @Test func deploymentsLeftOutAreOrphansUnlessPruned() throws {
        let old = try specs("old").map { observed($0) }
        let desired = try specs("new")
        let kept = Planner().plan(desired: desired, observed: old)
        #expect(kept.orphans == ["old"])
        #expect(kept.changes.map(\.deployment) == ["new", "new"])
        #expect(kept.changes.allSatisfy { $0.action == .create })
        let pruned = Planner(prune: true).plan(desired: desired, observed: old)
        #expect(pruned.orphans.isEmpty)
        #expect(pruned.changes.filter { $0.deployment == "old" }.map(\.action) == [.delete, .delete])
        #expect(pruned.changes.filter { $0.deployment == "old" }.allSatisfy { $0.reason.contains("--prune") })
    }

    @Test func leftoverInstanceOfAnInterruptedApplyIsDeleted() throws {
        let spec = try specs(replicas: 1)[0]
        let older = observed(spec, instance: "i-older", startedAt: 1)
        let newer = observed(spec, instance: "i-newer", startedAt: 2)
        for observations in [[older, newer], [newer, older]] {
            let plan = Planner().plan(desired: [spec], observed: observations)
            #expect(plan.changes.count == 2)
            #expect(plan.changes.allSatisfy { $0.id == "d/0" })
            #expect(plan.changes.map(\.action) == [.delete, .noop], "same slot: sorted by action")
            #expect(plan.changes.first?.reason == "leftover instance i-older from an interrupted apply")
        }
        // A dead extra instance is not a leftover: the live one serves the slot.
        let dead = observed(spec, .exited, instance: "i-dead", startedAt: 3, exitStatus: "exit 1")
        let plan = Planner().plan(desired: [spec], observed: [dead, older])
        #expect(plan.changes.map(\.action) == [.noop])
    }

    @Test func changesAreSortedByDeploymentThenReplica() throws {
        let a = try specs("alpha", replicas: 2), z = try specs("zulu", replicas: 2)
        let desired = [z[1], a[1], z[0], a[0]]
        let plan = Planner().plan(desired: desired, observed: [observed(z[0]), observed(a[1])])
        #expect(plan.changes.map(\.id) == ["alpha/0", "alpha/1", "zulu/0", "zulu/1"])
        #expect(plan.changes.map(\.action) == [.create, .noop, .noop, .create])
        #expect(plan.changes.map(\.deployment) == ["alpha", "alpha", "zulu", "zulu"])
        #expect(plan.changes.map(\.replica) == [0, 1, 0, 1])
    }

    @Test func digestsDoNotDependOnInputOrder() throws {
        let desired = try specs("alpha", replicas: 2) + specs("zulu", replicas: 2)
        let seen = desired.prefix(3).map { observed($0) }
        let a = Planner().plan(desired: desired, observed: Array(seen))
        let b = Planner().plan(desired: desired.reversed(), observed: seen.reversed())
        #expect(a.desiredDigest == b.desiredDigest)
        #expect(a.observedDigest == b.observedDigest)
        #expect(a.changes.map { "\($0.id) \($0.action) \($0.reason)" } == b.changes.map { "\($0.id) \($0.action) \($0.reason)" })
        // ... and they do follow the inputs.
        let changedDesired = Planner().plan(desired: try specs("alpha", replicas: 2, memFraction: "0.9") + specs("zulu", replicas: 2),
                                            observed: Array(seen))
        #expect(changedDesired.desiredDigest != a.desiredDigest)
        #expect(changedDesired.observedDigest == a.observedDigest)
        var stopped = Array(seen)
        stopped[0].state = .exited
        let changedObserved = Planner().plan(desired: desired, observed: stopped)
        #expect(changedObserved.observedDigest != a.observedDigest)
        #expect(changedObserved.desiredDigest == a.desiredDigest)
    }
}
