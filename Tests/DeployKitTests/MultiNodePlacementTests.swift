import DeployCore
@testable import DeployKit
import DeploySpec
import Engines
import Foundation
import Testing

/// Placement of multi-node replicas on targets whose nodes run on distinct hosts (docker): N distinct
/// hosts per replica, ranks in the target's host order, sticky as a whole, and a clear error when the
/// hosts cannot hold a group. Single-node placement is left as it was.
@Suite struct MultiNodePlacementTests {
    /// `alpha`: replicas × (gpus per node) × nodes, SGLang with `--tp-size gpus·nodes`.
    func input(replicas: Int = 2, gpus: Int = 4, nodes: Int = 2, memFraction: String = "0.85") throws -> PlanInput {
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
        kind: Deployment
        metadata: {name: alpha}
        spec:
          model: {source: huggingface, id: x/a}
          backend: b
          backendVersion: v
          replicas: \(replicas)
          gpusPerReplica: \(gpus)
          nodesPerReplica: \(nodes)
          port: 31000
          args: ["--tp-size \(gpus * nodes)", "--mem-fraction-static \(memFraction)"]
        """]
        let r = loadInline(files, ["m.yaml"])
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        return PlanInput(deployments: r.deployments, files: ["m.yaml"])
    }

    let hosts = [InventoryHost(name: "a", address: "10.0.0.11", gpus: Array(0..<8)),
                 InventoryHost(name: "b", address: "10.0.0.12", gpus: Array(0..<8)),
                 InventoryHost(name: "c", address: "10.0.0.13", gpus: Array(0..<4))]

    func p(_ host: String, _ ids: [Int]) -> ReplicaPlacement {
        ReplicaPlacement(host: host, address: hosts.first { $0.name == host }!.address, gpuIds: ids)
    }

    @Test func aGroupGetsDistinctHostsRankedInTheTargetsOrder() throws {
        let placed = try Placer.place(try input().deployments, hosts: hosts, spreadNodes: true).get()
        let groups = try #require(placed["alpha"])
        // Replica 0: every host is empty, so the first two the target lists. Replica 1: c is the least
        // loaded, then a (a tie with b goes to the earlier host); ranked in the target's order, a first.
        #expect(groups.map { $0.ranks ?? [] } == [[p("a", [0, 1, 2, 3]), p("b", [0, 1, 2, 3])],
                                                   [p("a", [4, 5, 6, 7]), p("c", [0, 1, 2, 3])]], "\(groups)")
        // Rank 0 is the replica's own host: its address is the rendezvous address.
        #expect(groups.map(\.host) == ["a", "a"] && groups.map(\.gpuIds) == [[0, 1, 2, 3], [4, 5, 6, 7]])
        for g in groups { #expect(Set(g.ranks?.map(\.host) ?? []).count == 2, "distinct hosts") }
    }

    @Test func withoutSpreadingTheNodesShareOnePlacementAsBefore() throws {
        let placed = try Placer.place(try input().deployments, hosts: hosts).get()
        #expect(placed["alpha"] == [p("a", [0, 1, 2, 3]), p("b", [0, 1, 2, 3])], "\(String(describing: placed["alpha"]))")
        #expect(placed["alpha"]?.allSatisfy { $0.ranks == nil } == true)
    }

    @Test func aRunningGroupKeepsItsHostsAndIsPlacedAgainAsAWholeWhenOneLeaves() throws {
        var running = p("b", [4, 5, 6, 7])
        running.ranks = [p("b", [4, 5, 6, 7]), p("c", [0, 1, 2, 3])]
        let kept = try Placer.place(try input(replicas: 1).deployments, hosts: hosts, current: ["alpha/0": running], spreadNodes: true).get()
        #expect(kept["alpha"]?.first?.ranks == running.ranks, "sticky: \(String(describing: kept["alpha"]))")
        // Host c leaves the target: the whole group is placed again (the planner replaces it).
        let smaller = Array(hosts.prefix(2))
        let moved = try Placer.place(try input(replicas: 1).deployments, hosts: smaller, current: ["alpha/0": running], spreadNodes: true).get()
        #expect(moved["alpha"]?.first?.ranks?.map(\.host) == ["a", "b"], "\(String(describing: moved["alpha"]))")
        // A group with two nodes on one host is never kept.
        var doubled = running
        doubled.ranks = [p("b", [0, 1, 2, 3]), p("b", [4, 5, 6, 7])]
        let fixed = try Placer.place(try input(replicas: 1).deployments, hosts: hosts, current: ["alpha/0": doubled], spreadNodes: true).get()
        #expect(Set(fixed["alpha"]?.first?.ranks?.map(\.host) ?? []).count == 2)

        // Through the slot target: the planner sees a node's host move as a host change of the group.
        let clock = ManualClock()
        let driver = InMemoryDriver(clock: clock)
        let fleet = SlotTarget(ref: TargetRef(name: "fleet", type: "test"), driver: driver, hosts: hosts, clock: clock)
        fleet.spreadsNodes = true
        let i = try input(replicas: 1)
        #expect(fleet.apply(try fleet.plan(i), i) { _ in }.succeeded)
        #expect(!(try fleet.plan(i)).hasChanges, "placement of a running group is stable")
        let withoutB = SlotTarget(ref: TargetRef(name: "fleet", type: "test"), driver: driver, hosts: [hosts[0], hosts[2]], clock: clock)
        withoutB.spreadsNodes = true
        let plan = try withoutB.plan(i)
        #expect(plan.changes.map(\.action) == [.replace] && plan.changes.first?.reason == "host changed: a,b → a,c",
                "\(plan.changes.map { ($0.id, $0.reason) })")
    }

    @Test func tooFewHostsForAGroupIsARenderError() throws {
        let two = Array(hosts.prefix(2))
        let error = try #require(Placer.place(try input(replicas: 1, gpus: 4, nodes: 3).deployments, hosts: two, spreadNodes: true).failure)
        #expect(error.deployment == "alpha")
        #expect(error.message == "needs 3 distinct hosts with 4 free GPUs each for a replica on 3 nodes (nodesPerReplica: 3); 2 have room "
                + "(a: 8 of 8 free, b: 8 of 8 free)", "\(error.message)")
        // Room for one group, not two: the second replica has one host with room left.
        let full = try #require(Placer.place(try input(replicas: 2, gpus: 8, nodes: 2).deployments, hosts: two, spreadNodes: true).failure)
        #expect(full.message.contains("needs 2 distinct hosts with 8 free GPUs each") && full.message.contains("0 have room"), "\(full.message)")
    }

    @Test func eachNodeRendersItsOwnAddressAndRankFlags() throws {
        let t = SlotTarget(ref: TargetRef(name: "fleet", type: "test"), driver: InMemoryDriver(clock: ManualClock()), hosts: hosts,
                           clock: ManualClock())
        t.spreadsNodes = true
        let spec = try #require(try t.desired(try input(replicas: 1)).first)
        #expect(spec.nodeHosts?.map(\.host) == ["a", "b"] && spec.node == "a" && spec.host == "10.0.0.11")
        let n1 = spec.forNode(1)
        #expect(n1.node == "b" && n1.host == "10.0.0.12" && n1.gpuIds == [0, 1, 2, 3] && n1.port == 31000)
        #expect(n1.argv.starts(with: ["sglang", "serve", "--model-path", "x/a", "--host", "10.0.0.12", "--port", "31000"]), "\(n1.argv)")
        #expect(Array(n1.argv.suffix(6)) == ["--nnodes", "2", "--node-rank", "1", "--dist-init-addr", "10.0.0.11:32000"], "\(n1.argv)")
        #expect(n1.env.first { $0.name == "CUDA_VISIBLE_DEVICES" }?.value == "0,1,2,3")
        let n0 = spec.forNode(0)
        #expect(n0.argv == spec.argv + ["--nnodes", "2", "--node-rank", "0", "--dist-init-addr", "10.0.0.11:32000"])
        // A surge start on another port: every node moves with it, the rendezvous too.
        let moved = spec.withPort(31005).forNode(1)
        #expect(moved.argv.contains("31005") && moved.argv.last == "10.0.0.11:32005", "\(moved.argv)")
        // render shows every node's whole argv on its host.
        let text = LaunchSpecTextRenderer().render([spec])
        #expect(text.contains("    node 1 on b 10.0.0.12 gpus 0,1,2,3:\n      sglang serve --model-path x/a --host 10.0.0.12 --port 31000"), "\(text)")
        // A single-node spec is unchanged by forNode and carries no node fields.
        let single = try #require(try t.desired(try input(replicas: 1, gpus: 4, nodes: 1)).first)
        #expect(single.nodeHosts == nil && single.nodeTemplateTokens == nil && single.forNode(0) == single)
    }
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { return e } else { return nil } }
}
