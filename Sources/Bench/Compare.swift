import Foundation

/// What identifies one benchmark scenario in a result file: the workload shape and the load.
public struct BenchScenario: Sendable, Hashable {
    /// `random_input_len`.
    public var inputLength: Int
    /// `random_output_len`.
    public var outputLength: Int
    /// `num_prompts`.
    public var numPrompts: Int
    /// `max_concurrency` (nil: not set).
    public var maxConcurrency: Int?
    /// `request_rate` (infinity for "inf").
    public var requestRate: Double
    /// `dataset_name` (`random-ids` is the same workload as `random`), plus the dataset file's name for
    /// file datasets (`sharegpt:sg.json`): runs over different prompts are different scenarios.
    public var dataset: String

    /// Creates a scenario.
    public init(inputLength: Int, outputLength: Int, numPrompts: Int, maxConcurrency: Int?, requestRate: Double,
                dataset: String = "random") {
        self.inputLength = inputLength
        self.outputLength = outputLength
        self.numPrompts = numPrompts
        self.maxConcurrency = maxConcurrency
        self.requestRate = requestRate
        self.dataset = dataset
    }

    /// Short label such as `1K/1K, c=1` or `64K/3K, c=1, n=10` (`n` shown when not 1,
    /// `rate` when finite; `c=-` when concurrency is not set).
    public var label: String {
        var s = "\(Self.tokens(inputLength))/\(Self.tokens(outputLength)), c=\(maxConcurrency.map(String.init) ?? "-")"
        if numPrompts != 1 { s += ", n=\(numPrompts)" }
        if requestRate.isFinite { s += ", rate=\(String(format: "%g", requestRate))" }
        if dataset != "random" { s += ", \(dataset)" }
        return s
    }

    /// 1024 → `1K`, 64000 → `64K`, 3000 → `3K`, 500 → `500`.
    static func tokens(_ n: Int) -> String {
        if n >= 1000, n % 1024 == 0 { return "\(n / 1024)K" }
        if n >= 1000, n % 1000 == 0 { return "\(n / 1000)K" }
        return "\(n)"
    }

    /// Sort key: smaller workloads first.
    var sortKey: [Double] {
        [Double(inputLength), Double(outputLength), Double(numPrompts), Double(maxConcurrency ?? Int.max), requestRate]
    }
}

/// One scenario run read back from a file written by `dsdeploy bench --output json` or `--out`.
public struct BenchRunRecord: Sendable {
    /// The scenario the run measured.
    public var scenario: BenchScenario
    /// Numeric top-level fields of the result object (bench_serving names, e.g. `mean_ttft_ms`).
    public var fields: [String: Double]
    /// Per-request TTFTs of successful requests in seconds (nil when the file has no per-request data).
    public var ttfts: [Double]?
    /// All inter-token latencies of successful requests in seconds (nil without per-request data).
    public var itls: [Double]?
    /// Per-request end-to-end latencies of successful requests in seconds (nil without per-request data).
    public var e2eLatencies: [Double]?

    /// Creates a record.
    public init(scenario: BenchScenario, fields: [String: Double], ttfts: [Double]? = nil, itls: [Double]? = nil,
                e2eLatencies: [Double]? = nil) {
        self.scenario = scenario
        self.fields = fields
        self.ttfts = ttfts
        self.itls = itls
        self.e2eLatencies = e2eLatencies
    }
}

/// One input of a comparison: a label and the scenario runs of one file.
public struct BenchCompareInput: Sendable {
    /// Column label (default: the file name without extension).
    public var label: String
    /// Runs in file order; a scenario that appears twice keeps its last run.
    public var runs: [BenchRunRecord]

    /// Creates an input.
    public init(label: String, runs: [BenchRunRecord]) {
        self.label = label
        self.runs = runs
    }

    /// The last run of `scenario`, if any.
    public func run(_ scenario: BenchScenario) -> BenchRunRecord? { runs.last { $0.scenario == scenario } }
}

/// One row of the comparison: a metric of a scenario across the inputs.
public struct BenchCompareRow: Sendable, Hashable {
    /// Scenario label (`BenchScenario.label`).
    public var scenario: String
    /// Metric name, e.g. `output tokens/s`.
    public var metric: String
    /// The bench_serving field the metric comes from, e.g. `output_throughput`.
    public var field: String
    /// One value per input (nil when that input lacks the scenario or the field).
    public var values: [Double?]
    /// last ÷ first when there are exactly two inputs and both values exist (first ≠ 0).
    public var ratio: Double?
}

/// A comparison of several result files (the seed workflow's comparison table).
public struct BenchComparison: Sendable {
    /// Input labels, in column order.
    public var labels: [String]
    /// The inputs themselves (for the per-request charts).
    public var inputs: [BenchCompareInput]
    /// Scenarios, smallest workload first.
    public var scenarios: [BenchScenario]
    /// Rows: scenario × metric.
    public var rows: [BenchCompareRow]
    /// Non-fatal notes (duplicate scenarios, scenarios missing from some input).
    public var warnings: [String]

    /// The compared metrics: (name, bench_serving field). `optionalFields` only appear when some input has them.
    public static let metrics: [(name: String, field: String)] = [
        ("output tokens/s", "output_throughput"),
        ("request throughput (req/s)", "request_throughput"),
        ("mean TTFT (ms)", "mean_ttft_ms"),
        ("median TTFT (ms)", "median_ttft_ms"),
        ("p99 TTFT (ms)", "p99_ttft_ms"),
        ("mean ITL (ms)", "mean_itl_ms"),
        ("mean TPOT (ms)", "mean_tpot_ms"),
        ("mean E2E latency (ms)", "mean_e2e_latency_ms"),
        ("accept length", "accept_length"),
        ("client busy (share of a core)", "client_busy"),
    ]

    /// Fields older results or other servers may not have: their rows only when some input has them.
    public static let optionalFields: Set<String> = ["accept_length", "client_busy"]

    /// Compares `inputs`; throws when there is no input or no scenario common to all inputs.
    public init(inputs: [BenchCompareInput]) throws {
        guard !inputs.isEmpty else { throw BenchError("nothing to compare: give at least one result file") }
        for i in inputs where i.runs.isEmpty { throw BenchError("\(i.label): no benchmark results") }
        self.inputs = inputs
        labels = inputs.map(\.label)
        var warnings: [String] = []
        var all: [BenchScenario] = []
        for input in inputs {
            var seen = Set<BenchScenario>()
            for r in input.runs {
                if !seen.insert(r.scenario).inserted {
                    warnings.append("\(input.label): scenario \(r.scenario.label) appears more than once; using the last run")
                }
                if !all.contains(r.scenario) { all.append(r.scenario) }
            }
        }
        let common = all.filter { s in inputs.allSatisfy { $0.run(s) != nil } }
        guard !common.isEmpty else {
            let list = inputs.map { i in "\(i.label): " + i.runs.map(\.scenario.label).joined(separator: "; ") }
            throw BenchError("the files share no scenario (input/output length, prompts, concurrency, rate): "
                + list.joined(separator: " | "))
        }
        for s in all where !common.contains(s) {
            let missing = inputs.filter { $0.run(s) == nil }.map(\.label).joined(separator: ", ")
            warnings.append("scenario \(s.label) is missing from \(missing)")
        }
        scenarios = all.sorted { $0.sortKey != $1.sortKey ? $0.sortKey.lexicographicallyPrecedes($1.sortKey) : $0.dataset < $1.dataset }
        var rows: [BenchCompareRow] = []
        for s in scenarios {
            for m in Self.metrics {
                let values = inputs.map { $0.run(s)?.fields[m.field] }
                if Self.optionalFields.contains(m.field), values.allSatisfy({ $0 == nil }) { continue }
                var ratio: Double?
                if values.count == 2, let a = values[0], let b = values[1], a != 0 { ratio = b / a }
                rows.append(BenchCompareRow(scenario: s.label, metric: m.name, field: m.field, values: values, ratio: ratio))
            }
        }
        self.rows = rows
        self.warnings = warnings
    }

    /// `12.34`, or `—` when missing.
    static func number(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "—" }
    /// `2.03×`, or `—` when missing.
    static func ratioText(_ v: Double?) -> String { v.map { String(format: "%.2f×", $0) } ?? "—" }

    /// Header and cells of the table (ratio column only with two inputs).
    func cells() -> (header: [String], body: [[String]]) {
        let withRatio = labels.count == 2
        let header = ["scenario", "metric"] + labels + (withRatio ? ["ratio"] : [])
        let body = rows.map { r in
            [r.scenario, r.metric] + r.values.map(Self.number) + (withRatio ? [Self.ratioText(r.ratio)] : [])
        }
        return (header, body)
    }

    /// The comparison table as aligned text: `1K/1K, c=1 | output tokens/s | 96.20 | 195.18 | 2.03×`.
    public func text() -> String {
        let (header, body) = cells()
        var widths = header.map(\.count)
        for row in body { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cs: [String]) -> String {
            cs.enumerated().map { i, c in
                // Numbers right-aligned, text left-aligned.
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i < 2 ? c + pad : pad + c
            }.joined(separator: " | ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        var s = line(header)
        s += widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-") + "\n"
        var last: String?
        for (row, r) in zip(body, rows) {
            if let last, last != r.scenario { s += "\n" }
            s += line(row)
            last = r.scenario
        }
        return s
    }

    /// The JSON object: `{"format_version":1,"labels":[…],"rows":[{"scenario","metric","field","values","ratio"}]}`
    /// (missing values and ratios are null).
    public func jsonObject() -> [String: Any] {
        [
            "format_version": 1,
            "labels": labels,
            "rows": rows.map { r -> [String: Any] in
                [
                    "scenario": r.scenario, "metric": r.metric, "field": r.field,
                    "values": r.values.map { $0.map { $0 as Any } ?? NSNull() },
                    "ratio": r.ratio.map { $0 as Any } ?? NSNull(),
                ]
            },
        ]
    }

    /// `jsonObject` serialised with sorted keys.
    public func json() -> String {
        guard let d = try? JSONSerialization.data(withJSONObject: jsonObject(), options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }
}

/// Reads files written by `dsdeploy bench --output json` (one object) or `--out` (JSON lines).
public enum BenchResultFile {
    /// Reads `path`; the label defaults to the file name without extension.
    public static func load(path: String, label: String? = nil) throws -> BenchCompareInput {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError("\(path): cannot read the file")
        }
        let name = label ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return try parse(String(decoding: data, as: UTF8.self), label: name, source: path)
    }

    /// Parses result text: one JSON object, an array of objects, or JSON lines.
    public static func parse(_ text: String, label: String, source: String) throws -> BenchCompareInput {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw BenchError("\(source): empty file") }
        var objects: [[String: Any]] = []
        if let whole = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) {
            if let o = whole as? [String: Any] { objects = [o] } else if let a = whole as? [Any] {
                for (i, e) in a.enumerated() {
                    guard let o = e as? [String: Any] else { throw BenchError("\(source): element \(i + 1) is not an object") }
                    objects.append(o)
                }
            } else { throw BenchError("\(source): not a bench result (expected a JSON object or JSON lines)") }
        } else {
            for (n, line) in trimmed.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let l = line.trimmingCharacters(in: .whitespaces)
                if l.isEmpty { continue }
                guard let any = try? JSONSerialization.jsonObject(with: Data(l.utf8)), let o = any as? [String: Any] else {
                    throw BenchError("\(source): line \(n + 1) is not a JSON object (expected output of `dsdeploy bench --output json` or `--out`)")
                }
                objects.append(o)
            }
        }
        var runs: [BenchRunRecord] = []
        for (i, o) in objects.enumerated() {
            let at = objects.count > 1 ? "\(source): result \(i + 1)" : source
            runs.append(try record(o, at: at))
        }
        return BenchCompareInput(label: label, runs: runs)
    }

    static func double(_ v: Any?) -> Double? {
        if v is NSNull { return nil }
        if let n = v as? NSNumber { return n.doubleValue }
        if let s = v as? String { return s == "inf" ? .infinity : Double(s) }
        return nil
    }

    static func int(_ v: Any?) -> Int? {
        guard let d = double(v), d.isFinite, d == d.rounded() else { return nil }
        return Int(d)
    }

    /// The scenario's dataset identity: `random` for random/random-ids (and results from before datasets),
    /// else the dataset name and the file's last path component.
    static func datasetKey(_ o: [String: Any]) -> String {
        let name = o["dataset_name"] as? String ?? "random"
        if name == "random" || name == "random-ids" { return "random" }
        guard let path = o["dataset_path"] as? String, !path.isEmpty else { return name }
        return name + ":" + (path.split(separator: "/").last.map(String.init) ?? path)
    }

    /// Converts one result object into a record.
    static func record(_ o: [String: Any], at: String) throws -> BenchRunRecord {
        func need(_ k: String) throws -> Int {
            guard let v = int(o[k]) else { throw BenchError("\(at): missing or non-integer \"\(k)\" (not a dsdeploy bench result?)") }
            return v
        }
        let rate: Double
        if o["request_rate"] == nil { rate = .infinity } else if let r = double(o["request_rate"]) { rate = r } else {
            throw BenchError("\(at): \"request_rate\" must be a number or \"inf\"")
        }
        let scenario = BenchScenario(
            inputLength: try need("random_input_len"), outputLength: try need("random_output_len"),
            numPrompts: try need("num_prompts"), maxConcurrency: int(o["max_concurrency"]), requestRate: rate,
            dataset: datasetKey(o))
        var fields: [String: Double] = [:]
        for (k, v) in o where !(v is [Any]) && !(v is [String: Any]) {
            if let d = double(v), !(v is String) { fields[k] = d }
        }
        guard fields["output_throughput"] != nil else { throw BenchError("\(at): missing \"output_throughput\"") }
        // Per-request arrays (only in `--out` files); failed requests (non-empty error) are left out.
        let errors = (o["errors"] as? [Any])?.map { ($0 as? String) ?? "" }
        func ok(_ i: Int) -> Bool { guard let errors, i < errors.count else { return true }; return errors[i].isEmpty }
        func series(_ k: String) -> [Double]? {
            guard let a = o[k] as? [Any] else { return nil }
            return a.enumerated().compactMap { ok($0.offset) ? double($0.element) : nil }
        }
        var itls: [Double]?
        if let a = o["itls"] as? [Any] {
            itls = a.enumerated().flatMap { i, e -> [Double] in
                guard ok(i), let xs = e as? [Any] else { return [] }
                return xs.compactMap { double($0) }
            }
        }
        return BenchRunRecord(scenario: scenario, fields: fields, ttfts: series("ttfts"), itls: itls,
                              e2eLatencies: series("e2e_latencies"))
    }
}
