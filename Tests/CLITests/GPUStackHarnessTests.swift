import Foundation
import Testing

/// Proves the GPUStack test harness against the real server: the server, its API key, and the fake
/// worker driving real instances through GPUStack's own state machine (docs/targets/gpustack.md,
/// "Testing"). Not skippable: without GPUStack installed these fail and say how to install it.
@Suite(.serialized) struct GPUStackHarnessTests {
    static let version = "0.5.22-harness-custom"

    func createModel(_ s: GPUStackSandbox, name: String, replicas: Int = 1) throws -> Int {
        try s.ensureSGLangVersion(Self.version)
        let r = try s.post("/v2/models", [
            "name": name, "source": "local_path", "local_path": try s.localModel(name),
            "cluster_id": s.clusterID, "backend": "SGLang", "backend_version": Self.version,
            "backend_parameters": ["--tp-size 1"], "replicas": replicas,
        ])
        #expect(r.status == 200, "\(r.body)")
        return try #require(r.object["id"] as? Int, "\(r.body)")
    }

    @Test func serverIsUpAndTheKeyWorks() throws {
        let s = try GPUStackSandbox.shared()
        #expect(s.netns.hasPrefix("dsdeploy-gs-"))
        #expect(FileManager.default.fileExists(atPath: "/run/netns/" + s.netns))
        let version = try s.get("/version", key: "")
        #expect(version.status == 200 && version.body.contains("v2.3.0"), "\(version.body)")
        let me = try s.get("/v2/users/me")
        #expect(me.status == 200)
        #expect(me.object["username"] as? String == "admin")
        let wrong = try s.get("/v2/users/me", key: "dsdeploy-test-wrong-key")
        #expect(wrong.status == 401)
        #expect(wrong.body.contains("Invalid authentication credentials"), "\(wrong.body)")
        let none = try s.get("/v2/models", key: "")
        #expect(none.status == 401)
        let clusters = try s.get("/v2/clusters").items
        #expect(clusters.contains { $0["name"] as? String == "default" && $0["id"] as? Int == s.clusterID })
        let workers = try s.get("/v2/workers").items
        #expect(workers.contains { $0["name"] as? String == s.workerName && $0["state"] as? String == "ready" },
                "\(workers.map { ($0["name"] ?? "", $0["state"] ?? "") })")
    }

    @Test func modelOnACustomVersionRunsOnTheFakeWorker() throws {
        let s = try GPUStackSandbox.shared()
        defer { s.deleteModels(prefix: "harness-ok") }
        try s.control(model: "harness-ok", ["state": "running", "delaySeconds": 1])
        let watch = try s.watch("/v2/model-instances", seconds: 90)
        defer { watch.stop() }
        let id = try createModel(s, name: "harness-ok")
        let inst = try s.waitFor("harness-ok running", timeout: 90) {
            try s.instances(model: id).first { $0["state"] as? String == "running" }
        }
        #expect(inst["worker_name"] as? String == s.workerName)
        #expect(inst["backend_version"] as? String == Self.version)
        #expect((inst["port"] as? Int ?? 0) > 0)
        let model = try s.waitFor("model running") { () -> [String: Any]? in
            let m = try s.get("/v2/models/\(id)").object
            return m["state"] as? String == "running" ? m : nil
        }
        #expect(model["ready_replicas"] as? Int == 1)

        // The watch stream delivered the instance's way to running as UPDATED events.
        let iid = inst["id"] as? Int
        let states = try s.waitFor("watch events", timeout: 10) { () -> [String]? in
            let seen = watch.events().filter { ($0["data"] as? [String: Any])?["id"] as? Int == iid && $0["type"] as? Int == 2 }
                .compactMap { ((($0["changed_fields"] as? [String: Any])?["state"] as? [Any])?.last as? [Any])?.first as? String }
            return seen.contains("running") ? seen : nil
        }
        #expect(states.contains("scheduled"), "\(states)")
        #expect(states.contains("starting"), "\(states)")
        #expect(states.last == "running", "\(states)")

        // Logs are served by the fake worker through GPUStack's proxy.
        let logs = try s.get("/v2/model-instances/\(iid ?? 0)/logs?tail=10")
        #expect(logs.status == 200 && logs.body.contains("Application startup complete"), "\(logs.body)")

        // A restart retires the instance and a new one (new id) is driven to running; while it
        // starts (slowly) another restart is refused with 409 while GPUStack's guard holds.
        try s.control(model: "harness-ok", ["state": "running", "delaySeconds": 8])
        let restart = try s.post("/v2/models/\(id)/restart")
        #expect(restart.status == 200 && restart.object["restarted"] as? Bool == true, "\(restart.body)")
        // GPUStack checks "no instances → restarted: false" before its in-flight guard, so the second
        // call must come after the replica controller has created the replacement (still starting).
        let replacement = try s.waitFor("replacement instance created", timeout: 30) {
            try s.instances(model: id).first { $0["id"] as? Int != iid }
        }
        // GPUStack's status pass clears the in-flight guard when it sees the model running, and the
        // model's state lags the instances, so the guard can already be gone: then the second call is
        // a real restart of the replacement (what dsdeploy's fallback relies on either way).
        let again = try s.post("/v2/models/\(id)/restart")
        if again.status != 409 {
            #expect(again.status == 200 && again.object["restarted"] as? Bool == true, "\(again.body)")
            let deleted = again.object["deleted_instances"] as? [String] ?? []
            #expect(deleted == [replacement["name"] as? String ?? "?"], "the replacement was retired: \(again.body)")
        }
        let seen: Set<Int> = [iid ?? -1, replacement["id"] as? Int ?? -1]
        let fresh = try s.waitFor("restarted instance running", timeout: 90) {
            try s.instances(model: id).first { i in
                i["state"] as? String == "running" && (again.status != 409 ? !seen.contains(i["id"] as? Int ?? -1) : i["id"] as? Int != iid)
            }
        }
        #expect(try s.instances(model: id).count == 1, "the old instance is gone")
        #expect(fresh["restart_count"] as? Int == 0)
    }

    @Test func instanceToldToFailReachesErrorWithItsMessage() throws {
        let s = try GPUStackSandbox.shared()
        defer { s.deleteModels(prefix: "harness-bad") }
        try s.control(model: "harness-bad", ["state": "error", "message": "CUDA out of memory", "delaySeconds": 1,
                                              "restartDelaySeconds": 60])
        let watch = try s.watch("/v2/models", seconds: 90)
        defer { watch.stop() }
        let id = try createModel(s, name: "harness-bad")
        let inst = try s.waitFor("harness-bad error", timeout: 90) {
            try s.instances(model: id).first { $0["state"] as? String == "error" }
        }
        #expect(inst["state_message"] as? String == "CUDA out of memory")
        let model = try s.waitFor("model error") { () -> [String: Any]? in
            let m = try s.get("/v2/models/\(id)").object
            return m["state"] as? String == "error" ? m : nil
        }
        #expect(model["state_message"] as? String == "1/1 instances failed", "\(model)")
        let modelEvents = try s.waitFor("model error event", timeout: 10) { () -> [[String: Any]]? in
            let ev = watch.events().filter {
                ($0["data"] as? [String: Any])?["id"] as? Int == id && ($0["data"] as? [String: Any])?["state"] as? String == "error"
            }
            return ev.isEmpty ? nil : ev
        }
        #expect(!modelEvents.isEmpty)
    }
}
