import DeployCore
import DeployKit
import DeploySpec
@testable import DeployTargets
import Engines
import Foundation
import Testing

/// GPUStack through the target contract (what every command sees), against the in-memory server:
/// the plan's units, apply, status in the shared schema, endpoints, a gate's revert, delete, and the
/// digests a saved plan is checked with.
@Suite(.serialized) struct GPUStackContractTests {
    /// What the CLI passes: the validated deployments and their resolved env.
    func input(_ r: ValidationResult, prune: Bool = false) -> PlanInput {
        var env: [String: [String: Secret]] = [:]
        for d in r.deployments {
            env[d.deployment.name] = Dictionary(uniqueKeysWithValues: d.env.compactMap { e -> (String, Secret)? in
                if case .literal(let v) = e.value { return (e.name.value, Secret(v)) }
                return nil
            })
        }
        return PlanInput(deployments: r.deployments, files: ["m.yaml"], prune: prune, environment: env)
    }

    @Test func planApplyStatusEndpointsRevertDelete() throws {
        let fake = FakeGPUStack()
        let target: any Target = gsTarget(fake)
        #expect(target.ref.type == "gpustack" && target.capabilities.contains([.gates, .savedPlans]))
        let first = input(gsManifest())
        let plan = try target.plan(first)
        // Units are what GPUStack holds: a backend version and a model; never a replica slot or a port.
        #expect(plan.changes.map(\.unit) == [.backendVersion(backend: "SGLang", version: "dspark-custom"), .deployment("dspark")])
        #expect(plan.changes.map(\.action) == [.create, .create])
        #expect(plan.changes[1].replicas == 1 && plan.changes[1].revision != nil && plan.changes.allSatisfy { $0.desired == nil })
        #expect(plan.target.detail.contains("GPUStack v2.3.0"))
        #expect(plan.apiCalls == APICalls(reads: 5, writes: 0))

        let events = EventLog()
        let report = target.apply(plan, first) { events.add($0) }
        #expect(report.succeeded, "\(report.outcomes)")
        #expect(report.outcomes.map(\.id) == ["backend version SGLang dspark-custom", "dspark"])
        #expect(report.outcomes.map(\.result) == [.done, .done])
        #expect(events.all.contains(.done(id: "dspark", message: "1 instance running")), "\(events.all)")
        let good = try #require(plan.changes[1].revision)

        let status = try target.status(nil)
        #expect(status.count == 1 && status[0].state == .ready && status[0].replica == 0 && status[0].revision == good)
        let endpoints = try target.endpoints(of: "dspark")
        #expect(endpoints == [Endpoint(deployment: "dspark", replica: 0, url: "http://127.0.0.1:40000", revision: good, ready: true, model: "dspark")])

        // A change that rolls out, then fails its gate: the model gets its previous configuration
        // (flags and the verified revision) back and runs it again.
        let slower = input(gsManifest(args: ["--tp-size 8", "--speculative-algorithm DSPARK", "--trust-remote-code",
                                             "--mem-fraction-static 0.5"]))
        let change = try target.plan(slower)
        #expect(change.changes.map(\.action) == [.noop, .replace])
        #expect(target.apply(change, slower) { _ in }.succeeded)
        #expect(try target.endpoints(of: "dspark").first?.revision == change.changes[1].revision)
        let revert = target.revert("dspark", in: change, slower, reason: "output_throughput below the gate") { _ in }
        #expect(revert.succeeded && revert.note == nil, "\(revert)")
        #expect(revert.outcomes.map(\.result) == [.reverted] && revert.outcomes[0].revision == good)
        let model = try #require(fake.models.values.first)
        #expect(model["backend_parameters"]?.strings.contains { $0.contains("mem-fraction-static") } == false)
        #expect(try target.endpoints(of: "dspark").map(\.revision) == [good])
        // A deployment the plan created has nothing to return to.
        #expect(target.revert("dspark", in: plan, first, reason: "x") { _ in }.note?.contains("no previous revision") == true)

        let deleted = try target.delete(["dspark"], grace: .seconds(1)) { _ in }
        #expect(deleted.outcomes.map(\.id) == ["dspark"] && fake.models.isEmpty)
    }

    @Test func digestsChangeWithTheManifestsAndWithTheServer() throws {
        let fake = FakeGPUStack()
        let target = gsTarget(fake)
        let base = input(gsManifest())
        #expect(target.apply(try target.plan(base), base) { _ in }.succeeded)
        let a = try target.plan(base)
        let b = try target.plan(base)
        #expect(a.desiredDigest == b.desiredDigest && a.observedDigest == b.observedDigest, "nothing changed: same digests")
        let other = try target.plan(input(gsManifest(replicas: 2)))
        #expect(other.desiredDigest != a.desiredDigest && other.observedDigest == a.observedDigest)
        // Behind dsdeploy's back: an instance goes away (the replica controller makes a new one).
        let victim = try #require(fake.instances.keys.first)
        _ = try gsTarget(fake).client.delete("/v2/model-instances/\(victim)")
        let after = try target.plan(base)
        #expect(after.desiredDigest == a.desiredDigest && after.observedDigest != a.observedDigest)
    }

    @Test func envThatDidNotResolveIsAPlanError() throws {
        let r = gsManifest()
        var i = PlanInput(deployments: r.deployments, files: ["m.yaml"])
        i.unresolved = ["dspark": "env HF_TOKEN: $HF_TOKEN is not set"]
        #expect(throws: TargetError.self) { try gsTarget(FakeGPUStack()).plan(i) }
        do { _ = try gsTarget(FakeGPUStack()).plan(i) } catch { #expect(error.message == "env HF_TOKEN: $HF_TOKEN is not set") }
    }
}

/// Apply events collected from a `@Sendable` callback.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ApplyEvent] = []
    var all: [ApplyEvent] { lock.withLock { events } }
    func add(_ e: ApplyEvent) { lock.withLock { events.append(e) } }
}
