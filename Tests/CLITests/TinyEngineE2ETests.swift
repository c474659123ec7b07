import CurlHTTP
import Foundation
import Testing

/// End to end on the built binary against the tiny *real* llama.cpp engine (the quickstart).
@Suite(.serialized) struct TinyEngineE2ETests {
    /// Makes sure the engine's venv and model exist (the same script `make demo` runs).
    static func setUp() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["bash", CLITests.root + "/scripts/setup-tiny-engine.sh"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "scripts/setup-tiny-engine.sh failed")
    }

    func quickstart(in dir: String, port: Int, ctx: Int) throws {
        var text = try String(contentsOfFile: CLITests.root + "/manifests/quickstart.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "../engines/", with: CLITests.root + "/engines/")
            .replacingOccurrences(of: "../.dsdeploy-engines/", with: CLITests.root + "/.dsdeploy-engines/")
            .replacingOccurrences(of: "port: 18180", with: "port: \(port)")
            .replacingOccurrences(of: "- -c 512", with: "- -c \(ctx)")
        try FileManager.default.createDirectory(atPath: dir + "/manifests", withIntermediateDirectories: true)
        try text.write(toFile: dir + "/manifests/quickstart.yaml", atomically: true, encoding: .utf8)
    }

    @Test func quickstartLifecycle() throws {
        try Self.setUp()
        let s = try Sandbox()
        defer { s.tearDown(); _ = try? s.run(["delete", "tiny", "--auto-approve", "--grace", "3"]) }
        try quickstart(in: s.dir, port: s.port, ctx: 512)
        let first = try s.run(["apply", "manifests/quickstart.yaml", "--auto-approve"])
        #expect(first.status == 0, "\(first.out)\(first.err)")
        let st = try s.status()
        #expect(st.count == 2 && st.allSatisfy { $0.state == "ready" }, "\(st)")

        // It really serves: a streamed completion from replica 1.
        let body = #"{"model":"tiny-llama","prompt":"hello world","max_tokens":8,"temperature":0,"stream":true}"#
        let second = try #require(st.first { $0.replica == 1 }, "\(st)")
        let resp = try HTTPClient().postJSON(second.endpoint + "/v1/completions", json: body, timeout: 10)
        let text = String(decoding: resp.body, as: UTF8.self)
        #expect(resp.status == 200)
        #expect(text.contains("data: [DONE]"))
        #expect(text.components(separatedBy: "data: {").count > 3, "several streamed chunks")

        let noop = try s.run(["apply", "manifests/quickstart.yaml", "--auto-approve"])
        #expect(noop.out.contains("No changes"), "\(noop.out)")
        let pids = Set(st.compactMap(\.pid))
        #expect(Set(try s.status().compactMap(\.pid)) == pids)

        // A real flag change: verified through /props (n_ctx per slot) after a rolling replace.
        try quickstart(in: s.dir, port: s.port, ctx: 1024)
        let change = try s.run(["apply", "manifests/quickstart.yaml", "--auto-approve"])
        #expect(change.status == 0, "\(change.out)\(change.err)")
        #expect(change.out.contains("~ --ctx-size: 512 → 1024"), "\(change.out)")
        let after = try s.status()
        #expect(after.count == 2 && after.allSatisfy { $0.state == "ready" } && Set(after.compactMap(\.pid)).isDisjoint(with: pids))
        let props = try HTTPClient().get(after[0].endpoint + "/props", timeout: 5)
        #expect(String(decoding: props.body, as: UTF8.self).contains("\"n_ctx\":512"), "1024 over 2 slots")

        let logs = try s.run(["logs", "tiny", "--replica", "1", "--tail", "5"])
        #expect(logs.status == 0 && !logs.out.isEmpty)

        // `bench tiny` speaks the deployment's engine's API (llama.cpp: OpenAI completions) and says so;
        // the SGLang API on it answers 404, with a hint.
        let bench = try s.run(["bench", "tiny", "--num-prompts", "2", "--random-input-len", "8", "--random-output-len", "4",
                               "--output", "json"])
        #expect(bench.status == 0, "\(bench.out)\(bench.err)")
        #expect(bench.err.contains("bench: tiny runs llama.cpp: using the OpenAI completions API (--backend openai)"), "\(bench.err)")
        let native = try s.run(["bench", "tiny", "--backend", "sglang", "--num-prompts", "1", "--random-input-len", "8",
                                "--random-output-len", "4"])
        #expect(native.status == 1 && native.err.contains("hint: the server has no /generate"), "\(native.err)")

        let del = try s.run(["delete", "tiny", "--auto-approve", "--grace", "3"])
        #expect(del.status == 0)
        #expect(try s.status().isEmpty)
        #expect(s.supervisors().isEmpty)
    }

    @Test func unknownFlagNeverReachesTheEngine() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try quickstart(in: s.dir, port: s.port, ctx: 512)
        var text = try String(contentsOfFile: s.dir + "/manifests/quickstart.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "- --threads 1", with: "- --thread 1")
        try text.write(toFile: s.dir + "/manifests/quickstart.yaml", atomically: true, encoding: .utf8)
        let r = try s.run(["apply", "manifests/quickstart.yaml", "--auto-approve"])
        #expect(r.status == 1)
        #expect(r.err.contains("[unknown-flag]") || r.err.contains("[abbreviated-flag]"), "\(r.err)")
        #expect(try s.status().isEmpty, "nothing started")
    }
}
