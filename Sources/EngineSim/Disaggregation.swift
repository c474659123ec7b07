import Engines
import NIOCore
import Synchronization

/// SGLang's `--disaggregation-mode`: a normal server, the prefill side or the decode side of a
/// prefill/decode (PD) disaggregated deployment.
enum DisaggregationMode: String, Sendable {
    case null, prefill, decode

    /// The mode the server args ask for (`disaggregation_mode`; anything else is `null`).
    init(serverArg: JSONValue?) {
        self = serverArg?.string.flatMap(DisaggregationMode.init(rawValue:)) ?? .null
    }
}

/// The bootstrap fields a PD router adds to every request it sends to a prefill and a decode
/// server (`bootstrap_host`, `bootstrap_port`, `bootstrap_room`).
struct BootstrapFields: Hashable, Sendable {
    /// The prefill server's host (its bootstrap server listens there).
    var host: String?
    /// The prefill server's `--disaggregation-bootstrap-port`.
    var port: Int?
    /// The request's room: a random unsigned 63-bit id shared by its prefill and decode halves.
    var room: UInt64?

    /// `host:port` as the decode server dials it (IPv6 bracketed).
    var address: String {
        let h = host ?? "?"
        return (h.contains(":") ? "[\(h)]" : h) + ":" + (port.map(String.init) ?? "?")
    }

    /// Reads the fields from a request body. The room is read from the raw text, because a u63
    /// does not survive a trip through a Double. Errors are the message of a 400 response.
    static func parse(_ json: JSONValue, body: [UInt8]) -> Result<BootstrapFields, GenerationError> {
        var f = BootstrapFields()
        if let h = json["bootstrap_host"], !h.isNull {
            guard let s = h.string, !s.isEmpty else { return .failure(GenerationError("'bootstrap_host' must be a string")) }
            f.host = s
        }
        if let p = json["bootstrap_port"], !p.isNull {
            guard let n = p.int, (1...65535).contains(n) else {
                return .failure(GenerationError("'bootstrap_port' must be a port number (1-65535)"))
            }
            f.port = n
        }
        if let r = json["bootstrap_room"], !r.isNull {
            if r.array != nil {
                return .failure(GenerationError("batched requests (a list of 'bootstrap_room') are not supported by the simulator"))
            }
            guard let d = r.double, d >= 0, d.rounded() == d, let exact = rawUnsigned(body, key: "bootstrap_room") else {
                return .failure(GenerationError("'bootstrap_room' must be a non-negative integer"))
            }
            f.room = exact
        }
        return .success(f)
    }

    /// The digits of a top-level-looking `"key": 123` in raw JSON, as an exact UInt64.
    static func rawUnsigned(_ body: [UInt8], key: String) -> UInt64? {
        let pattern = Array("\"\(key)\"".utf8)
        guard body.count >= pattern.count else { return nil }
        var i = 0
        while i + pattern.count <= body.count {
            if body[i] == pattern[0], Array(body[i..<(i + pattern.count)]) == pattern {
                var j = i + pattern.count
                while j < body.count, body[j] == 0x20 || body[j] == 0x09 || body[j] == 0x0A || body[j] == 0x0D { j += 1 }
                if j < body.count, body[j] == UInt8(ascii: ":") {
                    j += 1
                    while j < body.count, body[j] == 0x20 || body[j] == 0x09 || body[j] == 0x0A || body[j] == 0x0D { j += 1 }
                    var digits = ""
                    while j < body.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(body[j]) {
                        digits.append(Character(UnicodeScalar(body[j])))
                        j += 1
                    }
                    return UInt64(digits)
                }
            }
            i += 1
        }
        return nil
    }

    /// SGLang's scheduler rejects a request without a room on a prefill or decode server
    /// (`scheduler.py handle_generate_request`: 400, "Disaggregated request received without
    /// bootstrap room id").
    static func missingMessage(_ mode: DisaggregationMode, _ fields: BootstrapFields, rid: String) -> String? {
        var missing: [String] = []
        if fields.room == nil { missing.append("bootstrap_room") }
        if mode == .decode {
            if fields.host == nil { missing.append("bootstrap_host") }
            if fields.port == nil { missing.append("bootstrap_port") }
        }
        guard !missing.isEmpty else { return nil }
        let what = fields.room == nil ? "bootstrap room id" : missing.joined(separator: " and ")
        return "Invalid request: Disaggregated request received without \(what). req.rid='\(rid)' "
            + "(a \(mode.rawValue) server (--disaggregation-mode \(mode.rawValue)) serves only requests a PD router sent, "
            + "with \(missing.joined(separator: ", ")))"
    }
}

/// The prefill side's rooms: what each finished prefill "transferred" (published), and the decode
/// servers' long polls waiting for a room that is not published yet. Thread-safe.
final class BootstrapStore: Sendable {
    private struct State {
        var rooms: [UInt64: (info: JSONValue, at: NIODeadline)] = [:]
        var waiters: [UInt64: [Int: EventLoopPromise<JSONValue?>]] = [:]
        var nextWaiter = 0
        var published = 0
    }
    private let state = Mutex(State())

    /// How long a published room is kept for its decode server to fetch.
    static let retention = TimeAmount.seconds(600)

    /// Rooms published so far (diagnostics).
    var publishedCount: Int { state.withLock { $0.published } }

    /// Publishes a room's KV and wakes every poll waiting for it.
    func publish(_ room: UInt64, info: JSONValue) {
        let now = NIODeadline.now()
        let waiting = state.withLock { s -> [EventLoopPromise<JSONValue?>] in
            s.rooms[room] = (info, now)
            s.published += 1
            if s.published % 256 == 0 {
                s.rooms = s.rooms.filter { now - $0.value.at < BootstrapStore.retention }
            }
            return Array((s.waiters.removeValue(forKey: room) ?? [:]).values)
        }
        for p in waiting { p.succeed(info) }
    }

    /// The room's info as soon as it is published, or nil once `wait` has passed without it.
    func wait(for room: UInt64, on loop: any EventLoop, wait: TimeAmount) -> EventLoopFuture<JSONValue?> {
        let promise = loop.makePromise(of: JSONValue?.self)
        let (ready, id) = state.withLock { s -> (JSONValue?, Int) in
            if let r = s.rooms[room] { return (r.info, -1) }
            s.nextWaiter += 1
            s.waiters[room, default: [:]][s.nextWaiter] = promise
            return (nil, s.nextWaiter)
        }
        if let ready {
            promise.succeed(ready)
            return promise.futureResult
        }
        loop.scheduleTask(in: wait) { [self] in
            let mine = state.withLock { s -> EventLoopPromise<JSONValue?>? in
                let p = s.waiters[room]?.removeValue(forKey: id)
                if s.waiters[room]?.isEmpty == true { s.waiters[room] = nil }
                return p
            }
            mine?.succeed(nil)
        }
        return promise.futureResult
    }
}
