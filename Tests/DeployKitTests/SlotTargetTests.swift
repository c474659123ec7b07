import DeployCore
@testable import DeployKit
import DeploySpec
import Engines
import Foundation
import Testing

/// The target contract on a slot target: `SlotTarget` over the in-memory driver and a manual clock
/// (nothing sleeps for real), the Placer, capabilities, and the plan and apply text every target shares.
@Suite struct SlotTargetTests {
    /// Two deployments of the given GPUs per replica on a local Target with `gpus` (nil: none declared).
    func input(gpus: [Int]?, a: (replicas: Int, gpus: Int) = (2, 2), b: (replicas: Int, gpus: Int) = (1, 4),
               memFraction: String = "0.85", host: String = "127.0.0.1", valid: Bool = true) throws -> PlanInput {
        let gpuList = gpus.map { "\n  gpus: [\($0.map(String.init).joined(separator: ", "))]" } ?? ""
        let files = ["m.yaml": """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v: {engineVersion: "0.5.23", image: img, entrypoint: [sglang, serve],
                command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: local}
        spec:
          type: local
          host: \(host)\(gpuList)
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: alpha}
        spec:
          model: {source: huggingface, id: x/a}
          backend: b
          backendVersion: v
          replicas: \(a.replicas)
          gpusPerReplica: \(a.gpus)
          port: 31000
          readiness: {timeoutSeconds: 30}
          args: ["--mem-fraction-static \(memFraction)"]
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: beta}
        spec:
          model: {source: huggingface, id: x/b}
          backend: b
          backendVersion: v
          replicas: \(b.replicas)
          gpusPerReplica: \(b.gpus)
          port: 32000
          readiness: {timeoutSeconds: 30}
        """]
        let r = loadInline(files, ["m.yaml"])
        #expect(r.diagnostics.hasErrors == !valid, "\(r.diagnostics.map(\.message))")
        return PlanInput(deployments: r.deployments, files: ["m.yaml"])
    }

    func target(_ driver: InMemoryDriver, _ clock: ManualClock, gpus: [Int]?,
                capabilities: TargetCapabilities = [.savedPlans, .gates, .followLogs, .prune, .apply]) -> SlotTarget {
        SlotTarget(ref: TargetRef(name: "local", type: "local"), driver: driver, gpus: gpus, clock: clock,
                   capabilities: capabilities)
    }

    @Test func placerHandsOutTheTargetsGPUsInDeploymentOrder() throws {
        let pool = [7, 6, 5, 4, 3, 2, 1, 0]
        let placed = try Placer.place(try input(gpus: pool).deployments, gpus: pool).get()
        #expect(placed["alpha"] == [[7, 6], [5, 4]])
        #expect(placed["beta"] == [[3, 2, 1, 0]])
        // Without a list, ids count up across deployments: two deployments never share a GPU.
        let counted = try Placer.place(try input(gpus: nil).deployments, gpus: nil).get()
        #expect(counted["alpha"] == [[0, 1], [2, 3]] && counted["beta"] == [[4, 5, 6, 7]])
        // The renderer uses the placement: CUDA_VISIBLE_DEVICES and {{gpu_ids}}.
        let specs = try target(InMemoryDriver(clock: ManualClock()), ManualClock(), gpus: pool).desired(try input(gpus: pool))
        #expect(specs.map(\.gpuIds) == [[7, 6], [5, 4], [3, 2, 1, 0]])
        #expect(specs[0].env.first { $0.name == "CUDA_VISIBLE_DEVICES" }?.value == "7,6")
    }

    @Test func placementIsStickySoOneDeploymentNeverMovesAnother() throws {
        let running = ["alpha/0": [0, 1], "alpha/1": [2, 3], "beta/0": [4, 5, 6, 7]]
        // alpha scales down: beta keeps its GPUs (the freed ones stay free).
        let down = try Placer.place(try input(gpus: nil, a: (1, 2)).deployments, gpus: nil, current: running).get()
        #expect(down["alpha"] == [[0, 1]] && down["beta"] == [[4, 5, 6, 7]])
        // alpha scales up: the new replica takes the lowest free ids, nobody moves.
        let up = try Placer.place(try input(gpus: nil, a: (3, 2)).deployments, gpus: nil, current: running).get()
        #expect(up["alpha"] == [[0, 1], [2, 3], [8, 9]] && up["beta"] == [[4, 5, 6, 7]])
        // A replica whose GPUs left the target's list, or whose count changed, is placed again.
        let moved = try Placer.place(try input(gpus: [4, 5, 6, 7, 8, 9, 10, 11], a: (1, 2)).deployments,
                                     gpus: [4, 5, 6, 7, 8, 9, 10, 11], current: running).get()
        #expect(moved["alpha"] == [[8, 9]] && moved["beta"] == [[4, 5, 6, 7]])
        let resized = try Placer.place(try input(gpus: nil, a: (1, 4)).deployments, gpus: nil, current: running).get()
        #expect(resized["alpha"] == [[0, 1, 2, 3]], "\(resized)")
        #expect(resized["beta"] == [[4, 5, 6, 7]])
    }

    @Test func aFleetSpreadsReplicasOverHostsWithRoom() throws {
        let hosts = [InventoryHost(name: "a", address: "10.0.0.11", gpus: [0, 1, 2, 3, 4, 5, 6, 7]),
                     InventoryHost(name: "b", address: "10.0.0.12", gpus: [0, 1, 2, 3])]
        // alpha: 2 replicas × 2 GPUs, beta: 1 × 4: least-loaded host with room, in name order.
        let placed = try Placer.place(try input(gpus: nil).deployments, hosts: hosts).get()
        #expect(placed["alpha"] == [ReplicaPlacement(host: "a", address: "10.0.0.11", gpuIds: [0, 1]),
                                    ReplicaPlacement(host: "b", address: "10.0.0.12", gpuIds: [0, 1])])
        #expect(placed["beta"] == [ReplicaPlacement(host: "a", address: "10.0.0.11", gpuIds: [2, 3, 4, 5])])
        // Sticky across hosts; a host that left the target frees its replicas for placement elsewhere.
        let again = try Placer.place(try input(gpus: nil).deployments, hosts: hosts,
                                     current: ["beta/0": ReplicaPlacement(host: "b", address: "10.0.0.12", gpuIds: [0, 1, 2, 3]),
                                               "alpha/0": ReplicaPlacement(host: "gone", address: "x", gpuIds: [0, 1])]).get()
        #expect(again["beta"] == [ReplicaPlacement(host: "b", address: "10.0.0.12", gpuIds: [0, 1, 2, 3])])
        #expect(again["alpha"]?.map(\.host) == ["a", "a"])
        // The rendered launch carries the host's address ({{worker_ip}}) and its name.
        let t = SlotTarget(ref: TargetRef(name: "fleet", type: "test"), driver: InMemoryDriver(clock: ManualClock()), hosts: hosts,
                           clock: ManualClock())
        let specs = try t.desired(try input(gpus: nil))
        #expect(specs.map(\.node) == ["a", "b", "a"] && specs.map(\.host) == ["10.0.0.11", "10.0.0.12", "10.0.0.11"])
        #expect(specs[1].argv.contains("10.0.0.12"))
    }

    @Test func aReplicaWhoseHostLeftTheTargetMovesWithARestart() throws {
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        let both = [InventoryHost(name: "a", address: "10.0.0.11", gpus: nil), InventoryHost(name: "b", address: "10.0.0.12", gpus: nil)]
        let fleet = SlotTarget(ref: TargetRef(name: "fleet", type: "test"), driver: driver, hosts: both, clock: clock)
        let i = try input(gpus: nil)
        #expect(fleet.apply(try fleet.plan(i), i) { _ in }.succeeded)
        #expect(!(try fleet.plan(i)).hasChanges, "placement is stable")
        // Host b leaves the target: its replica is placed on a, and that is a restart.
        let smaller = SlotTarget(ref: TargetRef(name: "fleet", type: "test"), driver: driver, hosts: [both[0]], clock: clock)
        let plan = try smaller.plan(i)
        let moved = plan.changes.filter { $0.action == .replace }
        #expect(moved.map(\.id) == ["alpha/1"] && moved.first?.reason == "host changed: b → a", "\(plan.changes.map { ($0.id, $0.reason) })")
    }

    /// A host cut off mid-rollout: its replicas are reported and left as they were; the other
    /// host's rollout finishes on its own results (no revert of the deployment); the next apply,
    /// with the host back, converges.
    @Test func aHostCutOffMidRolloutStopsOnlyThatHostsChanges() throws {
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        let both = [InventoryHost(name: "a", address: "10.0.0.11", gpus: nil), InventoryHost(name: "b", address: "10.0.0.12", gpus: nil)]
        let fleet = SlotTarget(ref: TargetRef(name: "fleet", type: "test"), driver: driver, hosts: both, clock: clock)
        let first = try input(gpus: nil, a: (4, 1), b: (0, 1))
        #expect(fleet.apply(try fleet.plan(first), first) { _ in }.succeeded)
        // A flag change rolls all four replicas (two per host); host b drops off after the first start.
        let changed = try input(gpus: nil, a: (4, 1), b: (0, 1), memFraction: "0.80")
        let plan = try fleet.plan(changed)
        #expect(plan.changes.filter { $0.action == .replace }.count == 4)
        driver.afterStart = { [driver] spec in if spec.node == "a" { driver.unreachable = ["b"] } }
        let log = EventLog()
        let report = fleet.apply(plan, changed) { log.add($0) }
        let events = log.all
        driver.afterStart = { _ in }
        #expect(!report.succeeded && report.failedDeployments.isEmpty, "no deployment failed on its own results")
        #expect(report.unreachableHosts.keys.sorted() == ["b"])
        let byID = Dictionary(uniqueKeysWithValues: report.outcomes.map { ($0.id, $0) })
        for id in ["alpha/0", "alpha/2"] { #expect(byID[id]?.result == .done, "\(id) on host a: \(String(describing: byID[id]))") }
        for id in ["alpha/1", "alpha/3"] {
            #expect(byID[id]?.result == .failed && byID[id]?.message.contains("host 'b' is unreachable") == true, "\(String(describing: byID[id]))")
        }
        #expect(events.contains(.hostUnreachable(host: "b", reason: "no route to host")))
        #expect(!events.contains { if case .reverting = $0 { return true } else { return false } }, "nothing reverted")
        let text = ApplyReportText.render(report)
        #expect(text.contains("Apply INCOMPLETE: host b could not be reached; 2 changes applied on the others"), "\(text)")
        // Host b's old replicas were never touched (surge 1: nothing stopped there).
        #expect(throws: TargetError.self) { _ = try driver.observe() }
        driver.unreachable = []
        let onB = try driver.observe().filter { $0.launch.node == "b" }
        #expect(onB.count == 2 && Set(onB.map(\.revision)).count == 1 && onB.allSatisfy(\.isAlive))
        // b is back: the next apply replaces only b's two replicas, then nothing is left to do.
        let next = try fleet.plan(changed)
        #expect(next.changes.filter { $0.action != .noop }.map(\.id).sorted() == ["alpha/1", "alpha/3"], "\(next.changes.map { ($0.id, $0.action) })")
        #expect(fleet.apply(next, changed) { _ in }.succeeded)
        #expect(!(try fleet.plan(changed)).hasChanges)
    }

    /// A deployment that fails on its own results while another host is cut off: the revert cannot
    /// read the whole target, and starts again only what this run stopped (no second copy of an old
    /// instance that still runs).
    @Test func aRevertWhileAHostIsCutOffStartsNoDuplicates() throws {
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        let both = [InventoryHost(name: "a", address: "10.0.0.11", gpus: nil), InventoryHost(name: "b", address: "10.0.0.12", gpus: nil)]
        let fleet = SlotTarget(ref: TargetRef(name: "fleet", type: "test"), driver: driver, hosts: both, clock: clock)
        let first = try input(gpus: nil, a: (2, 1), b: (0, 1))
        #expect(fleet.apply(try fleet.plan(first), first) { _ in }.succeeded)
        let changed = try input(gpus: nil, a: (2, 1), b: (0, 1), memFraction: "0.80")
        let plan = try fleet.plan(changed)
        let newRevision = try #require(plan.changes.first?.desired?.revision)
        driver.behavior = { spec in spec.revision == newRevision ? .crash("CUDA out of memory") : .readyAfter(.seconds(1)) }
        driver.afterStart = { [driver] spec in if spec.node == "a" { driver.unreachable = ["b"] } }
        let report = fleet.apply(plan, changed) { _ in }
        driver.afterStart = { _ in }
        #expect(report.failedDeployments == ["alpha"], "\(report)")
        driver.unreachable = []
        let alive = try driver.observe().filter(\.isAlive)
        #expect(alive.filter { $0.replica == 0 }.count == 1, "one instance of alpha/0, the old one: \(alive.map { ($0.id, $0.revision) })")
        #expect(alive.count == 2 && Set(alive.map(\.revision)).count == 1)
    }

    @Test func moreGPUsThanTheTargetHasIsRefused() throws {
        let small = [0, 1, 2, 3, 4, 5]
        // validate refuses it (validateLocatesTheDeploymentThatDoesNotFit); the placer refuses it again.
        #expect(throws: (any Error).self) { try Placer.place(try input(gpus: small, valid: false).deployments, gpus: small).get() }
        let t = target(InMemoryDriver(clock: ManualClock()), ManualClock(), gpus: small)
        let tooMuch = try input(gpus: small, valid: false)
        do {
            _ = try t.plan(tooMuch)
            Issue.record("planned 8 GPUs on a target with 6")
        } catch {
            #expect(error.kind == .configuration && error.message.contains("cannot place 'beta'"), "\(error.message)")
        }
    }

    /// `gpus: 4` is ids 0…3, as on a docker host; anything else is an error at the value.
    @Test(arguments: ["[0, 1, 2, 3]", "4"])
    func validateLocatesTheDeploymentThatDoesNotFit(_ gpus: String) {
        let files = ["m.yaml": """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v: {engineVersion: "0.5.23", image: img, command: "--model-path {{model_path}} --port {{port}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: local}
        spec: {type: local, gpus: \(gpus)}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: big}
        spec:
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v
          replicas: 1
          gpusPerReplica: 8
        """]
        let r = loadInline(files, ["m.yaml"])
        let d = r.diagnostics.first { $0.id == "insufficient-gpus" }
        #expect(d?.severity == .error)
        #expect(d?.location?.line == 22, "at gpusPerReplica: \(String(describing: d?.location))")
        #expect(d?.message.contains("needs 8 GPUs") == true && d?.message.contains("has 4 of its 4 left") == true, "\(d?.message ?? "")")
        #expect(d?.notes == ["gpus of target 'local': 0,1,2,3"])
        let bad = loadInline([ "m.yaml": files["m.yaml"]!.replacingOccurrences(of: "gpus: \(gpus)}", with: "gpus: four}")], ["m.yaml"])
        #expect(bad.diagnostics.contains { $0.id == "invalid-type" && $0.location?.line == 12
                    && $0.message == "'spec.gpus' must be a count or a list of GPU ids, got a string" }, "\(bad.diagnostics)")
        let negative = loadInline([ "m.yaml": files["m.yaml"]!.replacingOccurrences(of: "gpus: \(gpus)}", with: "gpus: [0, -1]}")], ["m.yaml"])
        #expect(negative.diagnostics.contains { $0.id == "invalid-value" && $0.message == "'spec.gpus[1]' must be at least 0, got -1" },
                "\(negative.diagnostics)")
    }

    @Test func planApplyStatusEndpointsAndDeleteThroughTheContract() throws {
        let clock = ManualClock(start: .seconds(1_000))
        let driver = InMemoryDriver(clock: clock)
        let t = target(driver, clock, gpus: nil)
        let first = try t.plan(try input(gpus: nil, host: "0.0.0.0"))
        #expect(first.target == TargetRef(name: "local", type: "local"))
        #expect(first.changes.map(\.unit) == [.replica(deployment: "alpha", index: 0), .replica(deployment: "alpha", index: 1),
                                              .replica(deployment: "beta", index: 0)])
        #expect(first.changes.allSatisfy { $0.action == .create && $0.revision != nil })
        let report = t.apply(first, try input(gpus: nil, host: "0.0.0.0")) { _ in }
        #expect(report.succeeded && report.outcomes.map(\.result) == [.done, .done, .done])

        let status = try t.status(nil)
        #expect(status.map(\.state) == [.ready, .ready, .ready])
        #expect(try t.status(["beta"]).count == 1)
        // A wildcard bind is reached on loopback; each replica on its own port.
        let endpoints = try t.endpoints(of: "alpha")
        #expect(endpoints.map(\.url) == ["http://127.0.0.1:31000", "http://127.0.0.1:31001"])
        #expect(endpoints.allSatisfy { $0.ready && $0.revision == first.changes[0].revision })

        let deleted = try t.delete(["alpha"], grace: .seconds(1)) { _ in }
        #expect(deleted.outcomes.map(\.id) == ["alpha/0", "alpha/1"] && deleted.succeeded)
        #expect(try t.status(nil).map(\.deployment) == ["beta"])
        // Nothing slept for real: the manual clock only moved by the probes' poll interval.
        #expect(clock.now() < .seconds(1_010))
    }

    @Test func aMissingCapabilityIsOneErrorNamingTheTargetAndTheCapability() throws {
        let clock = ManualClock()
        let t = target(InMemoryDriver(clock: clock), clock, gpus: nil, capabilities: [.apply])
        #expect(throws: Never.self) { try t.requireCapability(.apply, for: "apply") }
        do {
            try t.requireCapability([.gates, .savedPlans], for: "--gate")
            Issue.record("a target without gates accepted --gate")
        } catch {
            #expect(error.kind == .unsupported)
            #expect(error.message == "--gate needs saved plans, benchmark gates, which target 'local' (type local) cannot do")
        }
    }

    @Test func planAndApplyTextGoldens() throws {
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        let t = target(driver, clock, gpus: nil)
        let created = try t.plan(try input(gpus: nil))
        expectGolden(PlanTextRenderer().render(created), "plan-local-create.txt")
        var report = t.apply(created, try input(gpus: nil)) { _ in }
        report.seconds = 1.25
        expectGolden(ApplyReportText.render(report), "apply-local-create.txt")

        // A flag change (replace with the flag-level diff), one replica fewer (delete), beta untouched.
        let changed = try input(gpus: nil, a: (1, 2), memFraction: "0.9")
        let replace = try t.plan(changed)
        expectGolden(PlanTextRenderer().render(replace), "plan-local-replace.txt")
        driver.behavior = { _ in .crash("RuntimeError: CUDA out of memory") }
        var failed = t.apply(replace, changed) { _ in }
        failed.seconds = 0.5
        expectGolden(ApplyReportText.render(failed), "apply-local-failed.txt")
    }

    @Test func serverPlansRenderTheirUnitsNotesAndBlockers() {
        var plan = Plan(target: TargetRef(name: "lab", type: "gpustack",
                                          detail: "GPUStack v2.3.0 at http://gpustack:80, cluster default (owner lab)"),
                        desiredDigest: "d", observedDigest: "o", files: ["m.yaml"], changes: [], orphans: ["old-model"],
                        blockers: ["model 'taken' exists on the server and was not created by dsdeploy"],
                        notes: ["GPUStack v2.4.0 is newer than the versions this target was tested with"],
                        apiCalls: APICalls(reads: 5, writes: 0))
        plan.changes = [
            PlannedChange(unit: .backendVersion(backend: "SGLang", version: "dspark-custom"), action: .create, reason: "not on the server"),
            PlannedChange(unit: .deployment("dspark"), action: .create, reason: "not on the server", replicas: 2,
                          notes: ["GPUStack appends --host and --port to the run command"]),
            PlannedChange(unit: .deployment("other"), action: .replace, reason: "1 flag changed; instances restart",
                          flags: [FlagDiffEntry(kind: .changed, flag: "--mem-fraction-static", before: "0.85", after: "0.9", effective: true)],
                          fields: [FieldChange(field: "env.HF_TOKEN", before: nil, after: nil, restart: true)], ref: "7"),
            PlannedChange(unit: .deployment("same"), action: .noop, reason: "up to date", ref: "8"),
        ]
        expectGolden(PlanTextRenderer().render(plan), "plan-gpustack.txt")
        let report = ApplyReport(outcomes: [
            .init(id: "backend version SGLang dspark-custom", action: .create, result: .done, message: "created"),
            .init(id: "dspark", action: .create, result: .done, message: "2 instances running"),
            .init(id: "other", action: .replace, result: .reverted, message: "instance other-x1 failed: CUDA out of memory — reverted"),
        ], failedDeployments: ["other"], seconds: 42, apiCalls: APICalls(reads: 12, writes: 4))
        expectGolden(ApplyReportText.render(report), "apply-gpustack-failed.txt")
        // The JSON form names each unit by kind (for jq), and round-trips.
        let json = try? JSONEncoder().encode(plan)
        let back = json.flatMap { try? JSONDecoder().decode(Plan.self, from: $0) }
        #expect(back == plan)
        #expect(json.map { String(decoding: $0, as: UTF8.self) }?.contains(#""kind":"backendVersion""#) == true)
    }
}

/// Events collected from the executor's threads.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ApplyEvent] = []
    func add(_ e: ApplyEvent) { lock.withLock { events.append(e) } }
    var all: [ApplyEvent] { lock.withLock { events } }
}
