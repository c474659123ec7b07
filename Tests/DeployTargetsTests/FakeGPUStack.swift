import CurlHTTP
@testable import DeployTargets
import Engines
import Foundation

/// An in-memory GPUStack 2.3 REST API with the behaviour the report measured: Bearer auth, paginated
/// lists, PUT-merge for models and PUT-replace for backends, restart retiring every instance (409 while
/// one is in flight), a replica controller recreating deleted instances, and a watch stream that replays
/// every row and then lets a scripted worker take new instances to `running` or `error`.
final class FakeGPUStack: GPUStackTransport, @unchecked Sendable {
    let key: String
    var version = "v2.3.0"
    /// What the scripted worker does with a new instance of a model: nil message = running.
    var worker: @Sendable (JSONValue) -> (state: String, message: String?) = { _ in ("running", nil) }
    /// Answer 409 to this many restarts.
    var restartConflicts = 0
    /// Refuse connections (server down).
    var down = false

    private let lock = NSLock()
    private(set) var models: [Int: JSONValue] = [:]
    private(set) var instances: [Int: JSONValue] = [:]
    private(set) var backends: [Int: JSONValue] = [:]
    private(set) var log: [String] = []
    private var nextId = 100

    init(key: String = "test-key") {
        self.key = key
        backends[2] = .object(["id": .number(2), "backend_name": .string("SGLang"), "backend_source": .string("built_in"),
                               "is_built_in": .bool(true), "version_configs": .object([:]), "default_env": .object(["X": .string("1")]),
                               "created_at": .string("2026-11-29T07:23:03Z")])
    }

    /// Requests seen, as `METHOD path`.
    var requests: [String] { lock.withLock { log } }

    func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        if down { throw HTTPError(kind: .connectionFailed, message: "refused", method: request.method, url: request.url) }
        return lock.withLock { handle(request) }
    }

    func stream(_ request: HTTPRequest, timeout: Double, onChunk: @escaping @Sendable ([UInt8]) -> Bool) -> GPUStackStreamEnd {
        if down { return .failed(HTTPError(kind: .connectionFailed, message: "refused", method: "GET", url: request.url)) }
        let (path, query) = split(request.url)
        var events: [String] = []
        lock.withLock {
            log.append("WATCH \(path)")
            let rows = instances.values.filter { matches($0, query) }.sorted { id($0) < id($1) }
            for r in rows { events.append(#"{"type":1,"data":\#(r.canonicalText),"changed_fields":{},"id":1}"#) }
            // The scripted worker moves every instance that is not settled yet.
            for r in rows where r["state"]?.string == "pending" {
                let model = models[r["model_id"]?.int ?? -1] ?? .null
                let (state, message) = worker(model)
                let next = r.setting("state", .string(state)).setting("state_message", message.map { .string($0) } ?? .null)
                instances[id(r)] = next
                events.append(#"{"type":2,"data":\#(next.canonicalText),"changed_fields":{"state":[["pending"],["\#(state)"]]},"id":2}"#)
            }
        }
        for e in events {
            // Split every event in two chunks, with a heartbeat between events.
            let bytes = Array((e + "\n\n").utf8)
            let mid = bytes.count / 2
            if !onChunk(Array(bytes[..<mid])) || !onChunk(Array(bytes[mid...])) || !onChunk(Array("\n\n".utf8)) { return .stopped }
        }
        return .ended(status: 200)
    }

    // MARK: - Routes

    private func handle(_ r: HTTPRequest) -> HTTPResponse {
        let (path, query) = split(r.url)
        log.append("\(r.method) \(path)")
        if path == "/version" { return ok(.object(["version": .string(version), "git_commit": .string("fake")])) }
        guard r.headers["Authorization"] == "Bearer \(key)" else {
            return error(401, "Invalid authentication credentials")
        }
        let body = r.body.flatMap { JSONValue.parse($0) } ?? .null
        let parts = path.split(separator: "/").map(String.init)
        func route(_ method: String, _ pattern: String) -> [String]? {
            let pp = pattern.split(separator: "/").map(String.init)
            guard r.method == method, pp.count == parts.count else { return nil }
            var caps: [String] = []
            for (a, b) in zip(pp, parts) { if a == "*" { caps.append(b) } else if a != b { return nil } }
            return caps
        }
        switch () {
        case _ where route("GET", "v2/clusters") != nil:
            return page([.object(["id": .number(1), "name": .string("default")])], query)
        case _ where route("GET", "v2/inference-backends/backend_name/*") != nil:
            let name = route("GET", "v2/inference-backends/backend_name/*")![0]
            guard let b = backends.values.first(where: { $0["backend_name"]?.string == name }) else { return error(404, "not found") }
            return ok(b)
        case _ where route("PUT", "v2/inference-backends/*") != nil:
            let sid = route("PUT", "v2/inference-backends/*")![0]
            guard let i = Int(sid), let old = backends[i] else { return error(400, "Inference backend \(sid) not found") }
            // PUT replaces the row; refuse to drop a version a model uses.
            let kept = Set(body["version_configs"]?.members.keys.map { $0 } ?? [])
            for (v, _) in old["version_configs"]?.members ?? [:] where !kept.contains(v) {
                if models.values.contains(where: { $0["backend_version"]?.string == v }) {
                    return error(400, "Cannot remove version name '\(v)' because it is currently being used")
                }
            }
            backends[i] = body.setting("id", .number(Double(i)))
            return ok(backends[i]!)
        case _ where route("GET", "v2/models") != nil:
            var rows = models.values.filter { q in query["cluster_id"].map { String(q["cluster_id"]?.int ?? 0) == $0 } ?? true }
            if let s = query["search"] { rows = rows.filter { ($0["name"]?.string ?? "").contains(s) } }
            return page(rows.sorted { id($0) < id($1) }, query)
        case _ where route("POST", "v2/models") != nil:
            let name = body["name"]?.string ?? ""
            if models.values.contains(where: { $0["name"]?.string == name }) { return error(409, "Model with name '\(name)' already exists.") }
            let mid = take()
            models[mid] = body.setting("id", .number(Double(mid))).setting("state", .null)
            reconcile(mid)
            return ok(models[mid]!)
        case _ where route("PUT", "v2/models/*") != nil:
            let sid = route("PUT", "v2/models/*")![0]
            guard let i = Int(sid), var m = models[i] else { return error(404, "Model not found") }
            guard body["name"] != nil, body["source"] != nil else { return error(422, "name and source are required") }
            for (k, v) in body.members { m = m.setting(k, v) }
            models[i] = m
            reconcile(i)
            return ok(m)
        case _ where route("DELETE", "v2/models/*") != nil:
            let sid = route("DELETE", "v2/models/*")![0]
            guard let i = Int(sid), models[i] != nil else { return error(404, "Model not found") }
            models[i] = nil
            instances = instances.filter { $0.value["model_id"]?.int != i }
            return ok(.null)
        case _ where route("POST", "v2/models/*/restart") != nil:
            let sid = route("POST", "v2/models/*/restart")![0]
            guard let i = Int(sid), models[i] != nil else { return error(404, "Model not found") }
            if restartConflicts > 0 { restartConflicts -= 1; return error(409, "A restart is already in progress for this model") }
            let gone = instances.filter { $0.value["model_id"]?.int == i }
            for k in gone.keys { instances[k] = nil }
            reconcile(i)
            return ok(.object(["restarted": .bool(!gone.isEmpty), "deleted_instances": .strings(gone.values.compactMap { $0["name"]?.string })]))
        case _ where route("GET", "v2/model-instances") != nil:
            return page(instances.values.filter { matches($0, query) }.sorted { id($0) < id($1) }, query)
        case _ where route("DELETE", "v2/model-instances/*") != nil:
            let sid = route("DELETE", "v2/model-instances/*")![0]
            guard let i = Int(sid), let inst = instances[i] else { return error(404, "not found") }
            instances[i] = nil
            reconcile(inst["model_id"]?.int ?? -1)
            return ok(.null)
        case _ where route("GET", "v2/model-instances/*/logs") != nil:
            let sid = route("GET", "v2/model-instances/*/logs")![0]
            guard let i = Int(sid), let inst = instances[i] else { return error(404, "not found") }
            return HTTPResponse(status: 200, headers: [], body: Array("log of \(inst["name"]?.string ?? "")\nApplication startup complete\n".utf8))
        default:
            return error(404, "no route \(r.method) \(path)")
        }
    }

    /// The replica controller: as many instances as `replicas`, new ones `pending`.
    private func reconcile(_ modelId: Int) {
        guard let m = models[modelId] else { return }
        let want = m["replicas"]?.int ?? 1
        var mine = instances.filter { $0.value["model_id"]?.int == modelId }.keys.sorted()
        while mine.count > want, let last = mine.popLast() { instances[last] = nil }
        while mine.count < want {
            let iid = take()
            let name = (m["name"]?.string ?? "m") + "-" + String(iid)
            instances[iid] = .object(["id": .number(Double(iid)), "name": .string(name), "model_id": .number(Double(modelId)),
                                      "model_name": m["name"] ?? .null, "cluster_id": .number(1), "state": .string("pending"),
                                      "state_message": .null, "worker_name": .string("fake-0"), "worker_ip": .string("127.0.0.1"),
                                      "port": .number(40000), "worker_id": .number(1)])
            mine.append(iid)
        }
    }

    private func take() -> Int { nextId += 1; return nextId }
    private func id(_ v: JSONValue) -> Int { v["id"]?.int ?? 0 }

    private func matches(_ row: JSONValue, _ q: [String: String]) -> Bool {
        if let m = q["model_id"], String(row["model_id"]?.int ?? -1) != m { return false }
        return true
    }

    private func split(_ url: String) -> (String, [String: String]) {
        let afterHost = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        let rest = afterHost.count > 3 ? "/" + afterHost[3] : "/"
        let pq = rest.split(separator: "?", maxSplits: 1).map(String.init)
        var q: [String: String] = [:]
        if pq.count > 1 {
            for kv in pq[1].split(separator: "&") {
                let p = kv.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                q[p[0]] = p.count > 1 ? p[1] : ""
            }
        }
        return (pq[0], q)
    }

    private func ok(_ v: JSONValue) -> HTTPResponse { HTTPResponse(status: 200, headers: [], body: Array(v.canonicalText.utf8)) }

    private func error(_ status: Int, _ message: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [], body: Array(#"{"code":\#(status),"reason":"x","message":\#(JSONValue.quote(message))}"#.utf8))
    }

    private func page(_ rows: [JSONValue], _ q: [String: String]) -> HTTPResponse {
        let per = Int(q["perPage"] ?? "100") ?? 100, p = Int(q["page"] ?? "1") ?? 1
        let slice = Array(rows.dropFirst((p - 1) * per).prefix(per))
        let total = max(1, (rows.count + per - 1) / per)
        return ok(.object(["items": .array(slice), "pagination": .object(["page": .number(Double(p)), "perPage": .number(Double(per)),
                                                                          "total": .number(Double(rows.count)), "totalPage": .number(Double(total))])]))
    }
}
