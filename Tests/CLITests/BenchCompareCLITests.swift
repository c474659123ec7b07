import CurlHTTP
import Foundation
import Testing
import TestSupport

/// `dsdeploy bench compare` (and `bench run`'s dataset errors) on the built binary, with result files
/// that `dsdeploy bench` itself wrote against a `dsdeploy-engine-sim` started here.
@Suite(.serialized) struct BenchCompareCLITests {
    static let port = freePort()

    /// A scratch directory with a running simulator; `stop()` ends it by pid.
    final class Bench {
        let dir: String
        let sim: Process
        var url: String { "http://127.0.0.1:\(BenchCompareCLITests.port)" }

        /// `stepMS`: the simulator's decode step.
        init(stepMS: Int = 1) throws {
            dir = NSTemporaryDirectory() + "dsdeploy-benchcli-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            sim = Process()
            sim.executableURL = URL(fileURLWithPath: CLITests.binary).deletingLastPathComponent()
                .appendingPathComponent("dsdeploy-engine-sim")
            sim.arguments = ["--host", "127.0.0.1", "--port", "\(BenchCompareCLITests.port)", "--model-path", "sim/model"]
            var env = ProcessInfo.processInfo.environment
            env["DSDEPLOY_SIM_DECODE_STEP_MS"] = "\(stepMS)"
            env["DSDEPLOY_SIM_TTFT_BASE_MS"] = "2"
            sim.environment = env
            sim.standardOutput = FileHandle.nullDevice
            sim.standardError = FileHandle.nullDevice
            try sim.run()
            if eventually(timeout: 30, interval: 0.05, { (try? HTTPClient().get(url + "/health", timeout: 1))?.status == 200 }) {
                return
            }
            stop()
            throw CLIBenchError("the simulator did not answer /health on port \(BenchCompareCLITests.port)")
        }

        func stop() {
            if sim.isRunning { sim.terminate(); sim.waitUntilExit() }
            try? FileManager.default.removeItem(atPath: dir)
        }

        func run(_ args: [String]) throws -> CLITests.Run {
            var env = ProcessInfo.processInfo.environment
            env["NO_COLOR"] = "1"
            env["DSDEPLOY_HOME"] = dir + "/.dsdeploy"
            return try CLITests.exec(args, cwd: dir, env: env)
        }

        /// `bench --out FILE` for one small scenario.
        func bench(out: String, concurrency: Int, input: Int = 16) throws {
            let r = try run(["bench", "--url", url, "--backend", "openai", "--model", "sim/model",
                             "--random-input-len", "\(input)", "--random-output-len", "8", "--random-range-ratio", "1",
                             "--num-prompts", "6", "--max-concurrency", "\(concurrency)", "--out", out])
            #expect(r.status == 0, "\(r.err)")
        }

        func write(_ name: String, _ text: String) throws -> String {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            return name
        }
    }

    struct CLIBenchError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    @Test func tableJSONAndHTML() throws {
        let b = try Bench()
        defer { b.stop() }
        try b.bench(out: "a.jsonl", concurrency: 1)
        try b.bench(out: "b.jsonl", concurrency: 1)
        try b.bench(out: "b.jsonl", concurrency: 2)  // only in b: shown with — and a warning

        let t = try b.run(["bench", "compare", "a.jsonl", "b.jsonl", "--label", "base", "--label", "next"])
        #expect(t.status == 0, "\(t.err)")
        let lines = t.out.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("scenario") == true && lines.first?.contains("base") == true
                && lines.first?.contains("next") == true && lines.first?.contains("ratio") == true, "\(t.out)")
        #expect(lines.contains { $0.hasPrefix("16/8, c=1, n=6") && $0.contains("output tokens/s") && $0.contains("×") },
                "\(t.out)")
        #expect(lines.contains { $0.hasPrefix("16/8, c=2, n=6") && $0.contains("—") }, "\(t.out)")
        #expect(t.err.contains("warning: scenario 16/8, c=2, n=6 is missing from base"), "\(t.err)")

        let j = try b.run(["bench", "compare", "a.jsonl", "b.jsonl", "--output", "json"])
        #expect(j.status == 0, "\(j.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any])
        #expect(obj["format_version"] as? Int == 1)
        #expect(obj["labels"] as? [String] == ["a", "b"])
        let rows = try #require(obj["rows"] as? [[String: Any]])
        let tput = try #require(rows.first { $0["scenario"] as? String == "16/8, c=1, n=6" && $0["field"] as? String == "output_throughput" })
        let values = try #require(tput["values"] as? [Double])
        #expect(values.count == 2 && values.allSatisfy { $0 > 0 })
        let ratio = try #require(tput["ratio"] as? Double)
        #expect(abs(ratio - values[1] / values[0]) < 1e-3)
        let missing = try #require(rows.first { $0["scenario"] as? String == "16/8, c=2, n=6" })
        #expect((missing["values"] as? [Any])?.first is NSNull)
        #expect(missing["ratio"] is NSNull)

        let h = try b.run(["bench", "compare", "a.jsonl", "b.jsonl", "--html", "report.html"])
        #expect(h.status == 0, "\(h.err)")
        let html = try String(contentsOfFile: b.dir + "/report.html", encoding: .utf8)
        #expect(html.contains("<!DOCTYPE html>"))
        #expect(html.contains("<svg") && html.contains("<style"))
        #expect(html.contains("16/8, c=1, n=6"))
        // Self-contained: no scripts and nothing loaded from elsewhere.
        for banned in ["<script", "src=\"http", "href=\"http", "@import", "url(http"] {
            #expect(!html.contains(banned), "report.html contains \(banned)")
        }
    }

    /// `--wake-interval-us`: the interval in force at the end goes in the JSON. The simulator's
    /// 1 ms steps are faster than twice the default 4000 µs, so the run shortens it (to a quarter of
    /// the shortest gap); 100 µs is short enough already. Out of range is a usage error
    /// that reaches no server.
    @Test func wakeInterval() throws {
        let b = try Bench()
        defer { b.stop() }
        func bench(_ extra: [String]) throws -> (CLITests.Run, [String: Any]) {
            let r = try b.run(["bench", "--url", b.url, "--backend", "openai", "--model", "sim/model",
                               "--random-input-len", "8", "--random-output-len", "16", "--random-range-ratio", "1",
                               "--num-prompts", "8", "--max-concurrency", "4", "--output", "json"] + extra)
            #expect(r.status == 0, "\(r.err)")
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
            return (r, obj)
        }
        let (_, d) = try bench([])
        let shortened = try #require(d["wake_interval_us"] as? Int)
        #expect(shortened < 1000 && shortened <= 300, "\(d)")
        let (_, e) = try bench(["--wake-interval-us", "0"])
        #expect(e["wake_interval_us"] as? Int == 0)
        let (_, short) = try bench(["--wake-interval-us", "100"])
        // Never longer than asked (a late simulator timer followed by one on time makes a short gap).
        #expect((short["wake_interval_us"] as? Int).map { $0 <= 100 } == true, "\(short)")
        let (_, c) = try bench(["--libcurl-reads"])
        #expect(c["wake_interval_us"] as? Int == 0)
        for bad in ["-1", "100001"] {
            let r = try b.run(["bench", "--url", "http://127.0.0.1:1", "--wake-interval-us=\(bad)"])
            #expect(r.status == 64 && r.err.contains("--wake-interval-us must be between 0 and 100000"), "\(r.err)")
        }
    }

    /// With 20 ms steps no gap shortens the default 4000 µs interval, but 16-token responses
    /// (≈ 330 ms) bound it to 1/200 of their mean time: ≈ 1.7 ms. The 1-token prompt-mode probe
    /// must not count (it would pull the mean down by a tenth). The gap rule comes first: on a loaded
    /// machine a simulator timer that fires late makes the next gap short, and a gap under four
    /// bounds lowers the interval to a quarter of it (`WakeInterval.noteGap`); the run's own gaps
    /// (`--out`'s per-request ITLs; no warm-up, whose gaps would not be there) say which rule holds.
    @Test func wakeIntervalFollowsResponseTime() throws {
        let b = try Bench(stepMS: 20)
        defer { b.stop() }
        let out = NSTemporaryDirectory() + "wake-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try b.run(["bench", "--url", b.url, "--backend", "openai", "--model", "sim/model",
                           "--random-input-len", "8", "--random-output-len", "16", "--random-range-ratio", "1",
                           "--num-prompts", "8", "--max-concurrency", "4", "--warmup-requests", "0", "--output", "json", "--out", out])
        #expect(r.status == 0, "\(r.err)")
        let d = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let wake = Double(try #require(d["wake_interval_us"] as? Int))
        let e2e = try #require(d["mean_e2e_latency_ms"] as? Double)
        let bound = e2e * 1000 / 200
        let line = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        let details = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let gaps = try #require(details["itls"] as? [[Double]]).flatMap { $0 }.map { $0 * 1e6 }
        let shortest = try #require(gaps.min())
        #expect(wake <= bound * 1.05, "\(wake) µs against a mean response of \(e2e) ms")
        if shortest >= 4 * bound {
            #expect(wake > bound * 0.95, "\(wake) µs against a mean response of \(e2e) ms")
        } else {
            // A short gap set the interval: a quarter of it at most (0 under 80 µs).
            #expect(wake <= shortest / 4 + 1, "\(wake) µs; shortest gap \(shortest) µs, latency bound \(bound) µs")
        }
    }

    /// `batched_reads` counts the reads that came through io_uring: the streams' reads where io_uring
    /// is there (128 tokens: at least half as many reads, two chunks may share one), none with
    /// `--no-batched-reads`.
    @Test func batchedReadsAreReported() throws {
        let b = try Bench(stepMS: 20)
        defer { b.stop() }
        for batched in [true, false] {
            let r = try b.run(["bench", "--url", b.url, "--backend", "openai", "--model", "sim/model",
                               "--random-input-len", "8", "--random-output-len", "16", "--random-range-ratio", "1",
                               "--num-prompts", "8", "--max-concurrency", "4", "--output", "json"]
                              + (batched ? [] : ["--no-batched-reads"]))
            #expect(r.status == 0, "\(r.err)")
            let d = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
            let reads = try #require(d["batched_reads"] as? Int)
            #expect(batched && ioUringExpected() ? reads >= 8 * 16 / 2 : reads == 0, "batched \(batched): \(reads) batched reads")
            #expect(d["completed"] as? Int == 8)
        }
    }

    /// The client's own CPU over the run: in the JSON (consistent with the duration) and the text.
    @Test func theClientsOwnCPUIsReported() throws {
        let b = try Bench(stepMS: 5)
        defer { b.stop() }
        let args = ["bench", "--url", b.url, "--backend", "openai", "--model", "sim/model", "--random-input-len", "8",
                    "--random-output-len", "16", "--random-range-ratio", "1", "--num-prompts", "8", "--max-concurrency", "4"]
        let j = try b.run(args + ["--output", "json"])
        #expect(j.status == 0, "\(j.err)")
        let d = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any])
        let cpu = try #require(d["client_cpu_s"] as? Double), timed = try #require(d["client_cpu_timed_run_s"] as? Double)
        let busy = try #require(d["client_busy"] as? Double), duration = try #require(d["duration"] as? Double)
        #expect(cpu > 0 && timed >= 0 && timed <= cpu, "\(cpu) \(timed)")
        #expect(abs(busy - timed / duration) < 1e-9, "\(busy) \(timed) \(duration)")
        #expect(busy < 0.9, "128 tokens do not keep a core busy: \(busy)")
        let t = try b.run(args)
        #expect(t.status == 0, "\(t.err)")
        #expect(t.out.contains("Client CPU (s):") && t.out.contains("Client busy in the timed run:"), "\(t.out)")
        #expect(!t.out.contains("Note: the client kept a core"), "\(t.out)")
    }

    @Test func badInputsFailClearly() throws {
        let b = try Bench()
        defer { b.stop() }
        try b.bench(out: "a.jsonl", concurrency: 1)
        try b.bench(out: "other.jsonl", concurrency: 1, input: 24)

        let missing = try b.run(["bench", "compare", "a.jsonl", "nope.json"])
        #expect(missing.status == 1)
        #expect(missing.err.contains("nope.json") && missing.err.contains("cannot read"), "\(missing.err)")
        #expect(missing.out.isEmpty)

        let sharegpt = try b.write("sharegpt.json", #"[{"conversations": [{"from": "human", "value": "hi"}]}]"#)
        let notResult = try b.run(["bench", "compare", "a.jsonl", sharegpt])
        #expect(notResult.status == 1)
        #expect(notResult.err.contains("sharegpt.json") && notResult.err.contains("not a dsdeploy bench result"), "\(notResult.err)")

        let garbled = try b.write("garbled.jsonl", "{\"backend\": \"openai\"\n")
        let bad = try b.run(["bench", "compare", garbled])
        #expect(bad.status == 1)
        #expect(bad.err.contains("garbled.jsonl"), "\(bad.err)")

        let mismatch = try b.run(["bench", "compare", "a.jsonl", "other.jsonl", "--html", "r.html"])
        #expect(mismatch.status == 1)
        #expect(mismatch.err.contains("share no scenario"), "\(mismatch.err)")
        #expect(!FileManager.default.fileExists(atPath: b.dir + "/r.html"), "no report for a failed comparison")

        let labels = try b.run(["bench", "compare", "a.jsonl", "other.jsonl", "--label", "only-one"])
        #expect(labels.status == 64, "\(labels.err)")
        #expect(labels.err.contains("--label"))

        let unwritable = try b.run(["bench", "compare", "a.jsonl", "--html", b.dir + "/no-such-dir/r.html"])
        #expect(unwritable.status == 1)
        #expect(unwritable.err.contains("cannot write"), "\(unwritable.err)")
    }

    /// `bench run` refuses a bad dataset file before sending anything, naming the file and place.
    @Test func runRejectsBadDatasetFiles() throws {
        let b = try Bench()
        defer { b.stop() }
        let garbled = try b.write("g.json", "[\n  {\"conversations\": [}\n]")
        let g = try b.run(["bench", "--url", b.url, "--backend", "openai", "--dataset-name", "sharegpt",
                           "--dataset-path", garbled, "--num-prompts", "2", "--out", "never.jsonl"])
        #expect(g.status == 1)
        #expect(g.err.contains("g.json:2:") && g.err.contains("invalid JSON"), "\(g.err)")
        #expect(!FileManager.default.fileExists(atPath: b.dir + "/never.jsonl"))
        let missing = try b.run(["bench", "--url", b.url, "--dataset-name", "prompts", "--dataset-path", "none.txt"])
        #expect(missing.status == 1)
        #expect(missing.err.contains("none.txt: no such file"), "\(missing.err)")
        let noPath = try b.run(["bench", "--url", b.url, "--dataset-name", "sharegpt"])
        #expect(noPath.status == 64)
        #expect(noPath.err.contains("--dataset-path"), "\(noPath.err)")
        // A good prompts file runs end to end through the CLI.
        let prompts = try b.write("p.txt", "tell me a story\nand another one\n")
        let ok = try b.run(["bench", "--url", b.url, "--backend", "openai", "--model", "sim/model", "--dataset-name", "prompts",
                            "--dataset-path", prompts, "--prompts-output-len", "5", "--num-prompts", "4", "--output", "json"])
        #expect(ok.status == 0, "\(ok.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(ok.out.utf8)) as? [String: Any])
        #expect(obj["dataset_name"] as? String == "prompts")
        #expect(obj["completed"] as? Int == 4)
        #expect(obj["total_output_tokens"] as? Int == 20)
    }
}
