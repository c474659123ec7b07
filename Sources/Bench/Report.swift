import Foundation

/// Renders results the way bench_serving prints and saves them.
public enum BenchReport {
    /// The "Serving Benchmark Result" block.
    public static func text(_ r: BenchResult) -> String {
        let m = r.metrics
        var s = ""
        func line(_ k: String, _ v: String) { s += k.padding(toLength: max(40, k.count), withPad: " ", startingAt: 0) + " " + v + "\n" }
        func f(_ x: Double) -> String { String(format: "%.2f", x) }
        func header(_ t: String, _ c: Character) {
            let total = 50 - t.count, left = max(total / 2, 0)
            s += String(repeating: c, count: left) + t + String(repeating: c, count: max(total - left, 0)) + "\n"
        }
        header(" Serving Benchmark Result ", "=")
        line("Backend:", r.config.backend.rawValue)
        line("Prompt mode:", r.promptMode.description)
        line("Traffic request rate:", r.config.requestRate.isFinite ? f(r.config.requestRate) : "inf")
        line("Max request concurrency:", r.config.maxConcurrency.map(String.init) ?? "not set")
        line("Successful requests:", "\(m.completed)")
        line("Failed requests:", "\(m.failed)")
        line("Benchmark duration (s):", f(m.duration))
        line("Total input tokens:", "\(m.totalInput)")
        line("Input tokens requested:", "\(m.requestedInput)")
        line("Input tokens counted by server:", m.serverInput.map(String.init) ?? "not reported")
        line("Total generated tokens:", "\(m.totalOutput)")
        line("Request throughput (req/s):", f(m.requestThroughput))
        line("Input token throughput (tok/s):", f(m.inputThroughput))
        line("Output token throughput (tok/s):", f(m.outputThroughput))
        line("Total token throughput (tok/s):", f(m.totalThroughput))
        line("Concurrency:", f(m.concurrency))
        if let a = r.acceptLength { line("Accept length:", f(a)) }
        if let cpu = r.clientCPU {
            let busy = Int((cpu.busy * 100).rounded())
            line("Client CPU (s):", String(format: "%.3f", cpu.seconds))
            line("Client busy in the timed run:", "\(busy) % of a core")
            if cpu.busy >= ClientCPU.busyWarning {
                s += "Note: the client kept a core \(busy) % busy: its own delays may be in these times\n"
            }
        }
        func block(_ title: String, _ name: String, _ l: LatencySummary) {
            header(title, "-")
            line("Mean \(name) (ms):", f(l.mean))
            line("Median \(name) (ms):", f(l.median))
            line("P90 \(name) (ms):", f(l.p90))
            line("P95 \(name) (ms):", f(l.p95))
            line("P99 \(name) (ms):", f(l.p99))
            line("Max \(name) (ms):", f(l.max))
        }
        block("End-to-End Latency", "E2E Latency", m.e2e)
        block("Time to First Token", "TTFT", m.ttft)
        block("Time per Output Token (excl. 1st token)", "TPOT", m.tpot)
        block("Inter-Token Latency", "ITL", m.itl)
        if !m.failureReasons.isEmpty {
            header("Failures", "-")
            for (reason, n) in m.failureReasons.sorted(by: { $0.value > $1.value }) { s += "\(n) × \(reason)\n" }
        }
        s += String(repeating: "=", count: 50) + "\n"
        return s
    }

    /// The bench_serving result object (field names as bench_serving's JSON, plus dsdeploy's
    /// `prompt_mode`, `token_ids_refused`, `total_input_tokens_{requested,server}`, `client_cpu_s`,
    /// `client_cpu_timed_run_s` and `client_busy`); per-request arrays (`input_lens`,
    /// `input_lens_requested`, `input_lens_server`, `output_lens`, `ttfts`, `itls`, `errors`,
    /// seconds like bench_serving) when `details`.
    public static func jsonObject(_ r: BenchResult, details: Bool) -> [String: Any] {
        let m = r.metrics, c = r.config
        var o: [String: Any] = [
            "backend": c.backend.rawValue, "dataset_name": c.dataset.name.rawValue,
            "dataset_path": c.dataset.path as Any? ?? NSNull(),
            "request_rate": c.requestRate.isFinite ? c.requestRate as Any : "inf",
            "max_concurrency": c.maxConcurrency as Any? ?? NSNull(),
            "random_input_len": c.randomInputLength, "random_output_len": c.randomOutputLength,
            "random_range_ratio": c.randomRangeRatio, "seed": c.seed, "num_prompts": c.numPrompts,
            "duration": m.duration, "completed": m.completed, "failed": m.failed,
            "failure_reasons": m.failureReasons,
            "total_input_tokens": m.totalInput, "total_output_tokens": m.totalOutput,
            "total_input_tokens_requested": m.requestedInput,
            "total_input_tokens_server": m.serverInput as Any? ?? NSNull(),
            "prompt_mode": r.promptMode.name, "token_ids_refused": r.promptMode.refusal as Any? ?? NSNull(),
            "request_throughput": m.requestThroughput, "input_throughput": m.inputThroughput,
            "output_throughput": m.outputThroughput, "total_throughput": m.totalThroughput,
            "concurrency": m.concurrency, "accept_length": r.acceptLength as Any? ?? NSNull(),
            "wake_interval_us": c.directHTTP1 ? Int((c.wakeInterval * 1e6).rounded()) : 0,
            "batched_reads": r.batchedReads,
            "client_cpu_s": r.clientCPU?.seconds as Any? ?? NSNull(),
            "client_cpu_timed_run_s": r.clientCPU?.timedRun as Any? ?? NSNull(),
            "client_busy": r.clientCPU?.busy as Any? ?? NSNull(),
        ]
        switch c.dataset.name {
        case .sharegpt:
            o["sharegpt_output_len"] = c.dataset.sharegptOutputLength as Any? ?? NSNull()
            o["sharegpt_context_len"] = c.dataset.sharegptContextLength as Any? ?? NSNull()
        case .prompts: o["prompts_output_len"] = c.dataset.promptsOutputLength
        case .random, .randomIDs: break
        }
        for (name, l) in [("ttft", m.ttft), ("tpot", m.tpot), ("itl", m.itl), ("e2e_latency", m.e2e)] {
            o["mean_\(name)_ms"] = l.mean
            o["median_\(name)_ms"] = l.median
            o["std_\(name)_ms"] = l.std
            o["p90_\(name)_ms"] = l.p90
            o["p95_\(name)_ms"] = l.p95
            o["p99_\(name)_ms"] = l.p99
            o["max_\(name)_ms"] = l.max
        }
        if details {
            o["input_lens"] = r.outputs.map(\.promptLength)
            o["input_lens_requested"] = r.outputs.map(\.requestedPromptLength)
            o["input_lens_server"] = r.outputs.map { $0.serverPromptLength as Any? ?? NSNull() }
            o["output_lens"] = r.outputs.map(\.outputLength)
            o["ttfts"] = r.outputs.map(\.ttft)
            o["e2e_latencies"] = r.outputs.map(\.latency)
            o["itls"] = r.outputs.map(\.itl)
            o["errors"] = r.outputs.map(\.error)
        }
        return o
    }

    /// `jsonObject` serialised (sorted keys; pretty unless `compact`).
    public static func json(_ r: BenchResult, details: Bool, compact: Bool = false) -> String {
        let opts: JSONSerialization.WritingOptions = compact ? [.sortedKeys] : [.sortedKeys, .prettyPrinted]
        guard let d = try? JSONSerialization.data(withJSONObject: jsonObject(r, details: details), options: opts) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }
}
