import Bench
import Foundation
import Testing

@Suite final class BenchCompareTests {
    /// A result object as `dsdeploy bench` writes it (only the fields the comparison reads, plus some).
    static func result(input: Int, output: Int, prompts: Int, concurrency: Int?, outputTps: Double, reqTps: Double,
                       ttft: Double, accept: Double?, busy: Double? = 0.05, perRequest: Bool = false) -> [String: Any] {
        var o: [String: Any] = [
            "backend": "sglang", "dataset_name": "random", "request_rate": "inf",
            "max_concurrency": concurrency as Any? ?? NSNull(), "random_input_len": input, "random_output_len": output,
            "num_prompts": prompts, "output_throughput": outputTps, "request_throughput": reqTps,
            "mean_ttft_ms": ttft, "median_ttft_ms": ttft, "p99_ttft_ms": ttft * 1.1, "mean_itl_ms": 5.0,
            "mean_tpot_ms": 5.1, "mean_e2e_latency_ms": 10000.0, "accept_length": accept as Any? ?? NSNull(),
            "failure_reasons": [String: Int](), "client_busy": busy as Any? ?? NSNull(),
        ]
        if perRequest {
            var ttfts: [Double] = [], itls: [[Double]] = [], e2es: [Double] = [], errors: [String] = []
            for i in 0..<prompts {
                ttfts.append(ttft / 1000 * (0.9 + 0.02 * Double(i)))
                var row: [Double] = []
                for j in 0..<50 { row.append(0.004 + 0.0001 * Double((j * 7 + i) % 20)) }
                itls.append(row)
                e2es.append(10.0)
                errors.append("")
            }
            o["ttfts"] = ttfts
            o["itls"] = itls
            o["e2e_latencies"] = e2es
            o["errors"] = errors
        }
        return o
    }

    static func line(_ o: [String: Any], pretty: Bool = false) throws -> String {
        let d = try JSONSerialization.data(withJSONObject: o, options: pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys])
        return String(decoding: d, as: UTF8.self)
    }

    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-compare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// The seed's two runs: DeepSeek-V4-Flash (MTP) as JSON lines (`--out`), DSpark likewise with per-request data.
    func seedFiles() throws -> (String, String) {
        let a = [
            Self.result(input: 1024, output: 1024, prompts: 1, concurrency: 1, outputTps: 96.20, reqTps: 0.09, ttft: 300.45, accept: 2.71),
            Self.result(input: 64000, output: 3000, prompts: 10, concurrency: 1, outputTps: 198.60, reqTps: 0.07, ttft: 9000, accept: 1.21),
        ]
        let b = [
            Self.result(input: 1024, output: 1024, prompts: 1, concurrency: 1, outputTps: 195.18, reqTps: 0.19, ttft: 129.34, accept: 4.42, perRequest: true),
            Self.result(input: 64000, output: 3000, prompts: 10, concurrency: 1, outputTps: 338.17, reqTps: 0.11, ttft: 4000, accept: 4.90, perRequest: true),
        ]
        let pa = dir.appendingPathComponent("flash-mtp.jsonl").path, pb = dir.appendingPathComponent("dspark.jsonl").path
        try (a.map { try Self.line($0) }.joined(separator: "\n") + "\n").write(toFile: pa, atomically: true, encoding: .utf8)
        try (b.map { try Self.line($0) }.joined(separator: "\n") + "\n").write(toFile: pb, atomically: true, encoding: .utf8)
        return (pa, pb)
    }

    func comparison() throws -> BenchComparison {
        let (a, b) = try seedFiles()
        return try BenchComparison(inputs: [BenchResultFile.load(path: a), BenchResultFile.load(path: b)])
    }

    @Test func reproducesSeedTable() throws {
        let c = try comparison()
        #expect(c.labels == ["flash-mtp", "dspark"])
        #expect(c.scenarios.map(\.label) == ["1K/1K, c=1", "64K/3K, c=1, n=10"])
        let tps = try #require(c.rows.first { $0.scenario == "1K/1K, c=1" && $0.field == "output_throughput" })
        #expect(tps.values == [96.20, 195.18])
        #expect(String(format: "%.2f", try #require(tps.ratio)) == "2.03")
        let ttft = try #require(c.rows.first { $0.scenario == "1K/1K, c=1" && $0.field == "mean_ttft_ms" })
        #expect(String(format: "%.2f", try #require(ttft.ratio)) == "0.43")
        let text = c.text()
        #expect(text.contains("1K/1K, c=1"), "\(text)")
        #expect(text.range(of: #"output tokens/s\s+\|\s+96\.20 \|\s+195\.18 \|\s+2\.03×"#, options: .regularExpression) != nil, "\(text)")
        #expect(text.range(of: #"mean TTFT \(ms\)\s+\|\s+300\.45 \|\s+129\.34 \|\s+0\.43×"#, options: .regularExpression) != nil, "\(text)")
        #expect(text.contains("2.71") && text.contains("4.42") && text.contains("198.60") && text.contains("338.17"), "\(text)")
        // Every required metric is there for every scenario.
        for s in c.scenarios {
            for m in BenchComparison.metrics { #expect(c.rows.contains { $0.scenario == s.label && $0.field == m.field }, "\(m.name)") }
        }
    }

    @Test func jsonShape() throws {
        let c = try comparison()
        let any = try JSONSerialization.jsonObject(with: Data(c.json().utf8))
        let o = try #require(any as? [String: Any])
        #expect(o["format_version"] as? Int == 1)
        #expect(o["labels"] as? [String] == ["flash-mtp", "dspark"])
        let rows = try #require(o["rows"] as? [[String: Any]])
        #expect(rows.count == c.rows.count)
        let first = try #require(rows.first)
        #expect(first["scenario"] as? String == "1K/1K, c=1")
        #expect(first["metric"] as? String == "output tokens/s")
        #expect((first["values"] as? [Double]) ?? [] == [96.20, 195.18])
        #expect(abs((try #require(first["ratio"] as? Double)) - (195.18 / 96.20)) <= 1e-9)
    }

    @Test func htmlIsSelfContained() throws {
        let c = try comparison()
        let html = c.html()
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<svg"))
        #expect(!(html.contains("http://")))
        #expect(!html.contains("https://"))
        #expect(!html.contains("<script"))
        for l in c.labels { #expect(html.contains(l), "\(l)") }
        // flash-mtp has no per-request arrays, dspark does.
        #expect(html.contains("no per-request data"))
        #expect(html.contains("median "))
        #expect(html.components(separatedBy: "<svg").count == html.components(separatedBy: "</svg>").count)
        #expect(html.hasSuffix("</html>\n"))
    }

    @Test func singleObjectFileAndLabels() throws {
        let path = dir.appendingPathComponent("one.json").path
        let o = Self.result(input: 1024, output: 1024, prompts: 1, concurrency: 1, outputTps: 96.2, reqTps: 0.1, ttft: 300.45,
                            accept: nil, busy: nil)
        try Self.line(o, pretty: true).write(toFile: path, atomically: true, encoding: .utf8)
        let input = try BenchResultFile.load(path: path, label: "A")
        #expect(input.label == "A")
        #expect(input.runs.count == 1)
        let c = try BenchComparison(inputs: [input, BenchResultFile.load(path: path, label: "B"), BenchResultFile.load(path: path, label: "C")])
        #expect(!(c.rows.contains { $0.field == "accept_length" }), "accept length only when present")
        #expect(!(c.rows.contains { $0.field == "client_busy" }), "client busy only when present (results before it)")
        #expect(c.rows.allSatisfy { $0.ratio == nil }, "no ratio with three inputs")
        #expect(!(c.text().contains("ratio")))
    }

    /// The same numbers over different prompts are different scenarios; random and random-ids are one.
    @Test func datasetIsPartOfTheScenario() throws {
        func file(_ name: String, _ objects: [[String: Any]]) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try (objects.map { try Self.line($0) }.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        var random = Self.result(input: 1024, output: 256, prompts: 10, concurrency: 4, outputTps: 100, reqTps: 1, ttft: 50, accept: nil)
        var ids = random
        ids["dataset_name"] = "random-ids"
        var sharegpt = random
        sharegpt["dataset_name"] = "sharegpt"
        sharegpt["dataset_path"] = "/data/sg.json"
        sharegpt["output_throughput"] = 300.0
        random["output_throughput"] = 200.0
        let a = try BenchResultFile.load(path: file("a.jsonl", [ids, sharegpt]))
        let b = try BenchResultFile.load(path: file("b.jsonl", [random]))
        #expect(Set(a.runs.map(\.scenario.dataset)) == ["random", "sharegpt:sg.json"])
        #expect(a.runs.contains { $0.scenario.label.hasSuffix(", sharegpt:sg.json") })
        let c = try BenchComparison(inputs: [a, b])
        let row = try #require(c.rows.first { $0.field == "output_throughput" && !$0.scenario.contains("sharegpt") })
        #expect(abs((row.ratio ?? 0) - 2.0) <= 1e-9, "random-ids 100 vs random 200, not ShareGPT's 300")
    }

    @Test func errors() throws {
        #expect { try BenchResultFile.load(path: self.dir.appendingPathComponent("missing.json").path) } throws: {
            "\($0)".contains("cannot read")
        }
        let bad = dir.appendingPathComponent("bad.jsonl").path
        try "{\"random_input_len\":1}\nnot json\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect { try BenchResultFile.load(path: bad) } throws: { "\($0)".contains("line 2") }
        let partial = dir.appendingPathComponent("partial.json").path
        try "{\"random_input_len\":1}".write(toFile: partial, atomically: true, encoding: .utf8)
        #expect { try BenchResultFile.load(path: partial) } throws: { "\($0)".contains("random_output_len") }
        // Files with no scenario in common.
        let x = BenchCompareInput(label: "x", runs: [BenchRunRecord(
            scenario: BenchScenario(inputLength: 1024, outputLength: 1024, numPrompts: 1, maxConcurrency: 1, requestRate: .infinity),
            fields: ["output_throughput": 1])])
        let y = BenchCompareInput(label: "y", runs: [BenchRunRecord(
            scenario: BenchScenario(inputLength: 2048, outputLength: 1024, numPrompts: 1, maxConcurrency: 1, requestRate: .infinity),
            fields: ["output_throughput": 1])])
        #expect { try BenchComparison(inputs: [x, y]) } throws: { "\($0)".contains("share no scenario") }
    }
}
