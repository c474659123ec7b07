import CurlHTTP
import Engines
import Foundation
import Testing
@testable import EngineSim
import TestSupport

/// Prefill/decode disaggregation as SGLang serves it (`--disaggregation-mode prefill|decode`): the
/// PD router sends one request to a prefill and a decode server at once, with `bootstrap_host`,
/// `bootstrap_port` and `bootstrap_room`; the prefill answers with its first token and publishes the
/// room's KV in its bootstrap server, the decode fetches the room from there and generates the rest.
@Suite struct PDTests {
    let client = HTTPClient()

    /// An in-process prefill server with its bootstrap server on a free port.
    static func prefill(_ settings: SimSettings = SimSettings(), extra: [String] = []) async throws -> SimServer {
        try await SimTest.start(settings, argv: ["--model-path", "org/m", "--disaggregation-mode", "prefill",
                                                 "--disaggregation-bootstrap-port", String(freePort())] + extra)
    }

    /// An in-process decode server.
    static func decode(_ settings: SimSettings = SimSettings()) async throws -> SimServer {
        try await SimTest.start(settings, argv: ["--model-path", "org/m", "--disaggregation-mode", "decode"])
    }

    /// A `/generate` body as the PD router sends it.
    static func body(tokens: Int, room: UInt64?, host: String? = "127.0.0.1", port: Int?, stream: Bool = false) -> String {
        var fields = [#""text":"abcdefghijkl""#, #""sampling_params":{"max_new_tokens":\#(tokens)}"#, #""stream":\#(stream)"#]
        if let host { fields.append(#""bootstrap_host":"\#(host)""#) }
        if let port { fields.append(#""bootstrap_port":\#(port)"#) }
        if let room { fields.append(#""bootstrap_room":\#(room)"#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    @Test func serversWithoutBootstrapFieldsRefuseRequests() async throws {
        let p = try await Self.prefill()
        let d = try await Self.decode()
        #expect(await SimTest.waitForStatus(p.baseURL + "/ready", 200))
        #expect(await SimTest.waitForStatus(d.baseURL + "/ready", 200))
        for (server, mode) in [(p, "prefill"), (d, "decode")] {
            let r = try client.postJSON(server.baseURL + "/generate", json: #"{"text":"hi","sampling_params":{"max_new_tokens":4}}"#)
            #expect(r.status == 400, "\(mode): \(r.text)")
            #expect(r.text.contains("Disaggregated request received without bootstrap room id"), "\(mode): \(r.text)")
            #expect(r.text.contains("--disaggregation-mode \(mode)"))
            let c = try client.postJSON(server.baseURL + "/v1/completions", json: #"{"prompt":"hi","max_tokens":2}"#)
            #expect(c.status == 400, "\(mode) /v1/completions: \(c.text)")
        }
        // A decode needs to know where the prefill is, too.
        let r = try client.postJSON(d.baseURL + "/generate", json: Self.body(tokens: 4, room: 7, host: nil, port: nil))
        #expect(r.status == 400 && r.text.contains("bootstrap_host and bootstrap_port"), "\(r.text)")
        // A normal server still serves requests without the fields.
        let plain = try await SimTest.start()
        #expect(await SimTest.waitForStatus(plain.baseURL + "/ready", 200))
        #expect(try client.postJSON(plain.baseURL + "/generate", json: #"{"text":"hi","sampling_params":{"max_new_tokens":2}}"#).status == 200)
        for s in [p, d, plain] { await s.shutdown() }
    }

    @Test func prefillAnswersOneTokenPublishesTheRoomAndReportsItsFlags() async throws {
        let p = try await Self.prefill(extra: ["--disaggregation-transfer-backend", "nixl"])
        #expect(await SimTest.waitForStatus(p.baseURL + "/ready", 200))
        let bport = try #require(p.bootstrapPort)
        let kv = "http://127.0.0.1:\(bport)"
        #expect(try client.get(kv + "/health").text == "OK")
        let room: UInt64 = 9_223_372_036_854_775_001  // a u63 that a Double cannot hold exactly
        #expect(try client.get(kv + "/sim/kv/\(room)?wait=0").status == 404, "not published before its prefill ran")

        let r = try client.postJSON(p.baseURL + "/generate", json: Self.body(tokens: 50, room: room, port: bport))
        #expect(r.status == 200, "\(r.text)")
        let j = try #require(SimTest.json(r))
        #expect(j["text"] == .string("the") && j["meta_info"]?["completion_tokens"] == .number(1))

        let published = try client.get(kv + "/sim/kv/\(room)?wait=0")
        #expect(published.status == 200, "\(published.text)")
        let info = try #require(SimTest.json(published))
        #expect(info["bootstrap_room"] == .string(String(room)) && info["prompt_tokens"] == .number(3))

        let route = try #require(SimTest.json(try client.get(kv + "/route?engine_rank=-1&target_dp_group=-1")))
        #expect(route["prefill_dp_size"] == .number(1))

        let serverInfo = try #require(SimTest.json(try client.get(p.baseURL + "/server_info")))
        #expect(serverInfo["disaggregation_mode"] == .string("prefill"))
        #expect(serverInfo["disaggregation_bootstrap_port"] == .number(Double(bport)))
        #expect(serverInfo["disaggregation_transfer_backend"] == .string("nixl"))
        await p.shutdown()
        #expect((try? client.get(kv + "/health", timeout: 2)) == nil, "the bootstrap server closes with the server")
    }

    @Test func decodeWaitsForThePrefillThenGeneratesTheRest() async throws {
        let p = try await Self.prefill()
        let d = try await Self.decode()
        #expect(await SimTest.waitForStatus(p.baseURL + "/ready", 200))
        #expect(await SimTest.waitForStatus(d.baseURL + "/ready", 200))
        let bport = try #require(p.bootstrapPort)
        let multi = try CurlMulti()
        defer { multi.shutdown() }
        // The decode request goes first and waits (long poll) until the prefill of its room ran.
        let decodeRequest = HTTPRequest.json(url: d.baseURL + "/generate", json: Self.body(tokens: 12, room: 42, port: bport))
        async let decoded = multi.send(decodeRequest)
        #expect(await eventually(timeout: 10, interval: 0.01) { d.core.kvFetches == 1 }, "the decode is waiting for its KV")
        let prefilled = try client.postJSON(p.baseURL + "/generate", json: Self.body(tokens: 12, room: 42, port: bport))
        #expect(prefilled.status == 200)
        let r = try await decoded
        #expect(r.status == 200, "\(r.text)")
        let j = try #require(SimTest.json(r))
        #expect(j["meta_info"]?["completion_tokens"] == .number(12))
        #expect(j["text"] == .string(SimTokens.text(0..<12)))

        // Streaming: the decode's SSE carries every token.
        async let streamed = multi.send(.json(url: d.baseURL + "/generate",
                                              json: Self.body(tokens: 5, room: 43, port: bport, stream: true)))
        #expect(await eventually(timeout: 10, interval: 0.01) { d.core.kvFetches == 1 })
        let prefillStream = try client.postJSON(p.baseURL + "/generate", json: Self.body(tokens: 5, room: 43, port: bport, stream: true))
        #expect(prefillStream.status == 200 && PDTests.events(prefillStream).count == 1, "the prefill streams its one token")
        let s = try await streamed
        #expect(s.status == 200, "\(s.text)")
        let events = PDTests.events(s)
        #expect(events.count == 5)
        #expect(events.last?["meta_info"]?["completion_tokens"] == .number(5))
        #expect(events.last?["text"] == .string(SimTokens.text(0..<5)))
        for s in [p, d] { await s.shutdown() }
    }

    @Test func decodeTimesOutNamingTheBootstrapAddress() async throws {
        let p = try await Self.prefill()
        var settings = SimSettings()
        settings.bootstrapTimeout = 0.3
        let d = try await Self.decode(settings)
        #expect(await SimTest.waitForStatus(d.baseURL + "/ready", 200))
        let bport = try #require(p.bootstrapPort)
        // The prefill never ran room 5.
        let r = try client.postJSON(d.baseURL + "/generate", json: Self.body(tokens: 4, room: 5, port: bport), timeout: 20)
        #expect(r.status == 500, "\(r.text)")
        #expect(r.text.contains("127.0.0.1:\(bport)") && r.text.contains("timed out") && r.text.contains("bootstrap_room 5"), "\(r.text)")
        // No bootstrap server at all (the prefill is gone): fails at once, naming the address.
        let gone = freePort()
        let g = try client.postJSON(d.baseURL + "/generate", json: Self.body(tokens: 4, room: 6, port: gone), timeout: 20)
        #expect(g.status == 500 && g.text.contains("cannot reach") && g.text.contains("127.0.0.1:\(gone)") && g.text.contains("connection refused"), "\(g.text)")
        #expect(d.core.kvFetches == 0)
        for s in [p, d] { await s.shutdown() }
    }

    /// The JSON events of an SSE body (without `[DONE]`).
    static func events(_ r: HTTPResponse) -> [JSONValue] {
        var parser = SSEParser()
        return parser.feed(r.body + Array("\n\n".utf8)).filter { !$0.isDone }.compactMap { JSONValue.parse(Array($0.data.utf8)) }
    }

    @Test func prefillProcessOpensItsBootstrapServerOrExitsNamingThePort() async throws {
        let (port, bport) = (freePort(), freePort())
        let argv = ["--model-path", "org/m", "--host", "127.0.0.1", "--disaggregation-mode", "prefill",
                    "--disaggregation-bootstrap-port", String(bport)]
        let first = try SimProcessRun(argv + ["--port", String(port)])
        defer { first.process.terminate() }
        #expect(await SimTest.waitForStatus("http://127.0.0.1:\(bport)/health", 200, seconds: 20), "\(first.stderr)")
        #expect(first.stderr.contains("Bootstrap server started on 127.0.0.1:\(bport)"))
        // A second prefill on the same bootstrap port cannot start.
        let second = try SimProcessRun(argv + ["--port", String(port + 1)])
        #expect(await second.waitForExit(seconds: 20) == 1)
        #expect(second.stderr.contains("disaggregation bootstrap server on ('127.0.0.1', \(bport))"), "\(second.stderr)")
    }

    @Test func bootstrapTimeoutComesFromTheEnvironment() throws {
        #expect(try SimSettings.fromEnvironment([:]).bootstrapTimeout == 300)
        #expect(try SimSettings.fromEnvironment(["DSDEPLOY_SIM_BOOTSTRAP_TIMEOUT": "0.5"]).bootstrapTimeout == 0.5)
        #expect(throws: SimSetupError.self) { try SimSettings.fromEnvironment(["DSDEPLOY_SIM_BOOTSTRAP_TIMEOUT": "x"]) }
    }

    @Test func roomIsReadExactlyFromTheRawBody() {
        let body = Array(#"{"text":"x","bootstrap_room" : 9223372036854775807,"n":1}"#.utf8)
        #expect(BootstrapFields.rawUnsigned(body, key: "bootstrap_room") == 9_223_372_036_854_775_807)
        #expect(BootstrapFields.rawUnsigned(Array(#"{"a":1}"#.utf8), key: "bootstrap_room") == nil)
    }
}
