import CurlHTTP
public import DeployKit
import DeploySpec
import Engines
import Foundation

/// The workers of a disaggregated deployment in its router, through sglang-router's control plane
/// (`POST /workers`, `GET /workers`, `DELETE /workers/{id}`, `GET /readiness`; sglang-router 0.3.2,
/// see docs/disaggregation.md):
///
/// - a prefill or decode server that became ready is registered with every live router of its
///   deployment (`worker_type`, and a prefill's `bootstrap_port`), and is in service once the router
///   lists it healthy;
/// - a router that became ready gets every ready worker of its deployment registered, workers that
///   no longer run are removed from it, and it must then answer `GET /readiness` with 200 (a prefill
///   and a decode paired) within its start timeout;
/// - a worker about to stop is removed from every router first, and then drained: its own
///   `/server_info` is read until it runs no request (`internal_states[0].num_running_reqs` is 0 twice
///   in a row), at most `drainTimeout`; an engine that does not report it gets `fallbackDrain`.
public struct RouterMembership: ReplicaMembership {
    let client = HTTPClient()
    let clock: any DeployClock
    /// How long a registered worker may take to be listed healthy.
    public var registerTimeout: Duration = .seconds(60)
    /// How long a leaving worker may take to finish its requests.
    public var drainTimeout: Duration = .seconds(120)
    /// The wait after taking out a worker that does not report its running requests.
    public var fallbackDrain: Duration = .seconds(2)
    /// Between polls.
    public var poll: Duration = .milliseconds(100)

    /// Creates the membership; `clock` paces its polls.
    public init(clock: any DeployClock) { self.clock = clock }

    /// Why a worker could not be put into service.
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    public func joined(_ instance: ObservedReplica, among live: [ObservedReplica]) throws {
        guard let pd = instance.launch.pd else { return }
        switch pd.role {
        case .router:
            let workers = live.filter { $0.launch.pd?.group == pd.group && $0.launch.pd?.role != .router && $0.state == .ready }
            let router = Self.url(instance)
            let listed = try list(router)
            let wanted = Set(workers.map(Self.url))
            for w in listed where !wanted.contains(w.url) {
                try remove(w, from: router)
                try waitGone(w.url, in: router)
            }
            for w in workers where !listed.contains(where: { $0.url == Self.url(w) }) { try register(w, with: router) }
            for w in workers { try waitHealthy(Self.url(w), in: router) }
            try waitReady(router, timeout: .seconds(instance.launch.startTimeout))
        case .prefill, .decode:
            for r in Self.routers(of: pd.group, in: live) {
                let router = Self.url(r)
                if try !list(router).contains(where: { $0.url == Self.url(instance) }) { try register(instance, with: router) }
                try waitHealthy(Self.url(instance), in: router)
            }
        }
    }

    public func leaving(_ instance: ObservedReplica, among live: [ObservedReplica]) {
        guard let pd = instance.launch.pd, pd.role != .router else { return }
        let url = Self.url(instance)
        for r in Self.routers(of: pd.group, in: live) {
            let router = Self.url(r)
            guard let listed = try? list(router) else { continue }
            for w in listed where w.url == url { try? remove(w, from: router) }
            // Removal is queued by the router: wait until it is done, or a successor on the same URL
            // (maxSurge 0 reuses the port) would be taken for this one and then removed with it.
            try? waitGone(url, in: router)
        }
        if instance.isAlive { drain(instance) }
    }

    /// A ready router whose worker list is not the ready workers of its deployment (a worker taken out
    /// by hand, a router that lost its list): what differs. Workers are checked through their routers.
    public func outOfService(_ instance: ObservedReplica, among live: [ObservedReplica]) -> String? {
        guard let pd = instance.launch.pd, pd.role == .router else { return nil }
        let wanted = Set(live.filter { $0.launch.pd?.group == pd.group && $0.launch.pd?.role != .router && $0.state == .ready }.map(Self.url))
        guard let listed = try? list(Self.url(instance)) else { return "its worker list cannot be read (GET /workers)" }
        let have = Set(listed.map(\.url))
        guard have != wanted else { return nil }
        var parts: [String] = []
        if case let missing = wanted.subtracting(have), !missing.isEmpty { parts.append("missing " + missing.sorted().joined(separator: ", ")) }
        if case let extra = have.subtracting(wanted), !extra.isEmpty { parts.append("not running " + extra.sorted().joined(separator: ", ")) }
        return "the router's workers: " + parts.joined(separator: "; ")
    }

    // MARK: - The router's control plane

    /// One worker as the router lists it.
    struct Worker {
        var id: String
        var url: String
        var healthy: Bool
    }

    static func url(_ o: ObservedReplica) -> String { Endpoint.url(host: o.launch.host, port: o.port) }

    static func routers(of group: String, in live: [ObservedReplica]) -> [ObservedReplica] {
        live.filter { $0.launch.pd == PDMember(group: group, role: .router) && $0.isAlive }
    }

    func request(_ method: String, _ url: String, body: JSONValue? = nil) throws -> HTTPResponse {
        var headers: HTTPHeaders = []
        if body != nil { headers.set("Content-Type", "application/json") }
        do {
            return try client.send(HTTPRequest(method: method, url: url, headers: headers,
                                               body: body.map { Array($0.canonicalText.utf8) }, timeout: 10, connectTimeout: 2))
        } catch {
            throw Problem(description: "router: \(method) \(url): \(error)")
        }
    }

    func list(_ router: String) throws -> [Worker] {
        let r = try request("GET", router + "/workers")
        guard r.status == 200, case .object(let top)? = JSONValue.parse(r.body), case .array(let items)? = top["workers"] else {
            throw Problem(description: "router at \(router): GET /workers answered \(r.status)")
        }
        return items.compactMap { item in
            guard case .object(let w) = item, case .string(let id)? = w["id"], case .string(let url)? = w["url"] else { return nil }
            var healthy = false
            if case .bool(let h)? = w["is_healthy"] { healthy = h }
            return Worker(id: id, url: url, healthy: healthy)
        }
    }

    func register(_ w: ObservedReplica, with router: String) throws {
        guard let role = w.launch.pd?.role else { return }
        var body: [String: JSONValue] = ["url": .string(Self.url(w)), "worker_type": .string(role.rawValue)]
        if let port = w.launch.bootstrapPort { body["bootstrap_port"] = .number(Double(port)) }
        let r = try request("POST", router + "/workers", body: .object(body))
        guard (200..<300).contains(r.status) else {
            throw Problem(description: "router at \(router) refused \(role.rawValue) server \(Self.url(w)): HTTP \(r.status) "
                          + String(decoding: r.body.prefix(300), as: UTF8.self))
        }
    }

    func remove(_ w: Worker, from router: String) throws {
        let r = try request("DELETE", router + "/workers/" + w.id)
        guard (200..<300).contains(r.status) || r.status == 404 else {
            throw Problem(description: "router at \(router): DELETE /workers/\(w.id) (\(w.url)) answered \(r.status)")
        }
    }

    /// Until the router lists `url` healthy (registration is queued and health-checked by the router).
    func waitHealthy(_ url: String, in router: String) throws {
        let deadline = clock.now() + registerTimeout
        while true {
            if try list(router).contains(where: { $0.url == url && $0.healthy }) { return }
            guard clock.now() < deadline else {
                throw Problem(description: "router at \(router) did not list \(url) as a healthy worker within \(registerTimeout.inSeconds) s")
            }
            clock.sleep(for: poll)
        }
    }

    /// Until the router no longer lists `url` (`DELETE /workers/{id}` queues the removal).
    func waitGone(_ url: String, in router: String) throws {
        let deadline = clock.now() + registerTimeout
        while try list(router).contains(where: { $0.url == url }) {
            guard clock.now() < deadline else {
                throw Problem(description: "router at \(router) still lists \(url) \(registerTimeout.inSeconds) s after it was removed")
            }
            clock.sleep(for: poll)
        }
    }

    /// Until `GET /readiness` answers 200.
    func waitReady(_ router: String, timeout: Duration) throws {
        let deadline = clock.now() + timeout
        var last = ""
        while true {
            if let r = try? request("GET", router + "/readiness") {
                if r.status == 200 { return }
                last = "HTTP \(r.status) " + String(decoding: r.body.prefix(200), as: UTF8.self)
            }
            guard clock.now() < deadline else {
                throw Problem(description: "router at \(router) not ready after \(Int(timeout.inSeconds)) s: GET /readiness answered \(last)")
            }
            clock.sleep(for: poll)
        }
    }

    /// Until the worker runs no request (see the type's documentation).
    func drain(_ w: ObservedReplica) {
        let url = Self.url(w)
        let deadline = clock.now() + drainTimeout
        var idle = 0
        while clock.now() < deadline {
            guard let running = runningRequests(url) else {
                clock.sleep(for: fallbackDrain)
                return
            }
            idle = running == 0 ? idle + 1 : 0
            if idle >= 2 { return }
            clock.sleep(for: poll)
        }
    }

    /// `internal_states[0].num_running_reqs` of SGLang's `/server_info`, nil when not reported.
    func runningRequests(_ url: String) -> Int? {
        for path in ["/server_info", "/get_server_info"] {
            guard let r = try? request("GET", url + path), r.status == 200,
                  case .object(let info)? = JSONValue.parse(r.body) else { continue }
            guard case .array(let states)? = info["internal_states"], case .object(let s)? = states.first,
                  case .number(let n)? = s["num_running_reqs"] else { return nil }
            return Int(n)
        }
        return nil
    }
}
