import CurlHTTP
import Foundation
import POSIXSpawn
import Testing
import TestSupport

/// Issue #13, defect 2, on the built binary: `bench --backend openai --random-input-len 64` sent
/// text that the tiny llama.cpp model counted at up to 297 tokens, and 2 of 16 requests overflowed
/// its context. The random workload now goes as token-id arrays, exactly the requested length; a
/// server that refuses ids gets text, and the result says so.
@Suite(.serialized) struct BenchTokenIDsCLITests {
    /// A server process started here (posix_spawn: an empty signal mask, so SIGTERM reaches it), stopped by its pid.
    final class Server {
        let pid: Int32
        let url: String
        private var reaped = false

        init(_ executable: String, _ arguments: [String], port: Int, env extra: [String: String] = [:]) throws {
            url = "http://127.0.0.1:\(port)"
            var env = ProcessInfo.processInfo.environment
            for (k, v) in extra { env[k] = v }
            pid = try Spawner.spawn(argv: [executable] + arguments, environment: env.map { "\($0.key)=\($0.value)" },
                                    fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                                                  .open(1, path: "/dev/null", flags: O_WRONLY), .duplicate(1, to: 2)])
            let ready = eventually(timeout: 60, interval: 0.05) {
                !exited() && (try? HTTPClient().get(url + "/health", timeout: 1))?.status == 200
            }
            if !ready {
                stop()
                throw BenchCLIError("\(executable) did not answer /health on port \(port)")
            }
        }

        /// Whether it has exited (reaping it).
        func exited() -> Bool {
            if reaped { return true }
            var status: Int32 = 0
            reaped = waitpid(pid, &status, WNOHANG) == pid
            return reaped
        }

        /// SIGTERM, then SIGKILL if it is still there after 20 s.
        func stop() {
            guard !exited() else { return }
            kill(pid, SIGTERM)
            if !eventually(timeout: 20, interval: 0.05, { exited() }) {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
                reaped = true
            }
        }
    }

    struct BenchCLIError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func bench(_ args: [String], in dir: String) throws -> CLITests.Run {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["DSDEPLOY_HOME"] = dir + "/.dsdeploy"
        return try CLITests.exec(["bench"] + args, cwd: dir, env: env)
    }

    func scratch() throws -> String {
        let dir = NSTemporaryDirectory() + "dsdeploy-benchids-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The last line of a `--out` file as a JSON object.
    func lastResult(_ path: String) throws -> [String: Any] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").last.map(String.init))
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// A row of the text report (`{:<40} {}`).
    func row(_ key: String, _ value: String) -> String {
        key.padding(toLength: 40, withPad: " ", startingAt: 0) + " " + value + "\n"
    }

    @Test func randomInputIsExactTokenIDsOnTheTinyLlamaCppEngine() throws {
        try TinyEngineE2ETests.setUp()
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = freePort()
        // As the quickstart runs it: 512 context over 2 slots, so 256 tokens per request.
        let engine = try Server(CLITests.root + "/engines/tiny-llama/llama-server",
                                ["-m", CLITests.root + "/.dsdeploy-engines/tiny-llama/tiny-llama.gguf",
                                 "--host", "127.0.0.1", "--port", "\(port)", "-a", "tiny-llama",
                                 "-c", "512", "--parallel", "2", "--threads", "1"], port: port)
        defer { engine.stop() }

        // Every prompt exactly 64 tokens: the server counts 64 for each of the 16.
        let exact = try bench(["--url", engine.url, "--backend", "openai", "--model", "tiny-llama",
                               "--random-input-len", "64", "--random-range-ratio", "1", "--random-output-len", "8",
                               "--num-prompts", "16", "--out", "exact.jsonl"], in: dir)
        #expect(exact.status == 0, "\(exact.out)\(exact.err)")
        #expect(!exact.err.contains("warning"), "\(exact.err)")
        for line in [row("Prompt mode:", "token-ids"), row("Successful requests:", "16"), row("Failed requests:", "0"),
                     row("Total input tokens:", "1024"), row("Input tokens requested:", "1024"),
                     row("Input tokens counted by server:", "1024")] {
            #expect(exact.out.contains(line), "\(line)\(exact.out)")
        }
        let e = try lastResult(dir + "/exact.jsonl")
        #expect(e["completed"] as? Int == 16 && e["failed"] as? Int == 0, "\(e["failure_reasons"] ?? "")")
        #expect(e["prompt_mode"] as? String == "token-ids" && e["token_ids_refused"] is NSNull)
        #expect(e["input_lens_requested"] as? [Int] == Array(repeating: 64, count: 16))
        #expect(e["input_lens_server"] as? [Int] == Array(repeating: 64, count: 16))
        #expect(e["total_input_tokens_server"] as? Int == 1024)

        // The issue's command as given (lengths drawn in 1…64): each request's server count is its length.
        let drawn = try bench(["--url", engine.url, "--backend", "openai", "--random-input-len", "64",
                               "--random-output-len", "8", "--num-prompts", "16", "--output", "json",
                               "--out", "drawn.jsonl"], in: dir)
        #expect(drawn.status == 0, "\(drawn.out)\(drawn.err)")
        let d = try lastResult(dir + "/drawn.jsonl")
        let requested = try #require(d["input_lens_requested"] as? [Int])
        #expect(d["failed"] as? Int == 0, "\(d["failure_reasons"] ?? "")")
        #expect(requested.count == 16 && requested.allSatisfy { (1...64).contains($0) } && Set(requested).count > 1, "\(requested)")
        #expect(d["input_lens_server"] as? [Int] == requested)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(drawn.out.utf8)) as? [String: Any])
        #expect(summary["total_input_tokens_server"] as? Int == requested.reduce(0, +))
        #expect(summary["total_input_tokens_requested"] as? Int == requested.reduce(0, +))

        // Prompts longer than a slot's 256 tokens: the engine refuses the warm-up, and the error
        // says which options set the lengths.
        let long = try bench(["--url", engine.url, "--backend", "openai", "--random-input-len", "300",
                              "--random-range-ratio", "1", "--random-output-len", "8", "--num-prompts", "2"], in: dir)
        #expect(long.status == 1, "\(long.out)\(long.err)")
        #expect(long.err.contains("warm-up request failed") && long.err.contains("exceeds the available context size"), "\(long.err)")
        #expect(long.err.contains("\n  hint: the model's context window is smaller than a request (prompt and output): "
                                  + "shorten them with --random-input-len 300 and --random-output-len 8, or serve a longer context"),
                "\(long.err)")
        // Without a warm-up the run's own requests fail the same way: the hint follows the count.
        let unwarmed = try bench(["--url", engine.url, "--backend", "openai", "--random-input-len", "300",
                                  "--random-range-ratio", "1", "--random-output-len", "8", "--num-prompts", "2",
                                  "--warmup-requests", "0"], in: dir)
        #expect(unwarmed.status == 1, "\(unwarmed.out)\(unwarmed.err)")
        #expect(unwarmed.err.contains("2 of 2 requests failed") && unwarmed.err.contains("exceeds the available context size"),
                "\(unwarmed.err)")
        #expect(unwarmed.err.contains("\n  hint: the model's context window is smaller than a request"), "\(unwarmed.err)")
    }

    @Test func textFallbackWhenTheServerRefusesTokenIDs() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = freePort()
        let sim = try Server(URL(fileURLWithPath: CLITests.binary).deletingLastPathComponent()
                                .appendingPathComponent("dsdeploy-engine-sim").path,
                             ["--host", "127.0.0.1", "--port", "\(port)", "--model-path", "sim/model"], port: port,
                             env: ["DSDEPLOY_SIM_REFUSE_TOKEN_IDS": "1", "DSDEPLOY_SIM_DECODE_STEP_MS": "1",
                                   "DSDEPLOY_SIM_TTFT_BASE_MS": "2"])
        defer { sim.stop() }
        let r = try bench(["--url", sim.url, "--backend", "openai", "--model", "sim/model", "--random-input-len", "64",
                           "--random-range-ratio", "1", "--random-output-len", "4", "--num-prompts", "8",
                           "--out", "text.jsonl"], in: dir)
        #expect(r.status == 0, "\(r.out)\(r.err)")
        #expect(r.err.contains("dsdeploy: warning: \(sim.url) refused token-id prompts (HTTP 400: "), "\(r.err)")
        #expect(r.out.contains(row("Prompt mode:", "text (server refused token ids: HTTP 400: ").dropLast()), "\(r.out)")
        #expect(r.out.contains(row("Input tokens requested:", "512")), "\(r.out)")
        let o = try lastResult(dir + "/text.jsonl")
        #expect(o["prompt_mode"] as? String == "text")
        #expect((o["token_ids_refused"] as? String)?.contains("'prompt' must be a string") == true, "\(o["token_ids_refused"] ?? "")")
        let server = try #require(o["input_lens_server"] as? [Int])
        #expect(server.count == 8 && server != Array(repeating: 64, count: 8), "the text is not 64 tokens: \(server)")
        #expect(o["total_input_tokens_server"] as? Int == server.reduce(0, +))
        #expect(r.out.contains(row("Input tokens counted by server:", "\(server.reduce(0, +))")), "\(r.out)")
    }
}
