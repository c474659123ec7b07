/// One benchmark gate, as written in a deployment's `benchmarks.scenarios[].gates`:
/// `METRIC OP NUMBER` or `METRIC OP [F *] previous`, e.g. `output_throughput >= 0.95 * previous`.
///
/// Metric names are the JSON field names of `dsdeploy bench --output json` (bench_serving's).
/// Parsing is pure and lives here so that manifest validation (DeploySpec) and evaluation (Bench)
/// share one grammar.
public struct GateExpression: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A comparison operator.
    public enum Comparison: String, Sendable, Hashable, Codable, CaseIterable {
        /// `>=`
        case atLeast = ">="
        /// `<=`
        case atMost = "<="
        /// `>`
        case greater = ">"
        /// `<`
        case less = "<"

        /// Whether `measured OP threshold` holds (false when either side is NaN).
        public func holds(_ measured: Double, _ threshold: Double) -> Bool {
            switch self {
            case .atLeast: return measured >= threshold
            case .atMost: return measured <= threshold
            case .greater: return measured > threshold
            case .less: return measured < threshold
            }
        }
    }

    /// The right-hand side.
    public enum Bound: Sendable, Hashable, Codable {
        /// A fixed number.
        case absolute(Double)
        /// `factor × previous`: the value the deployment's last passing gated revision measured.
        case previous(factor: Double)
    }

    /// The metric (a bench JSON field name).
    public var metric: String
    /// The operator.
    public var comparison: Comparison
    /// The right-hand side.
    public var bound: Bound

    /// Creates an expression.
    public init(metric: String, comparison: Comparison, bound: Bound) {
        self.metric = metric
        self.comparison = comparison
        self.bound = bound
    }

    /// Canonical text: `median_ttft_ms <= 200`, `output_throughput >= 0.95 * previous`.
    public var description: String {
        let rhs: String
        switch bound {
        case .absolute(let v): rhs = GateExpression.format(v)
        case .previous(let f): rhs = f == 1 ? "previous" : "\(GateExpression.format(f)) * previous"
        }
        return "\(metric) \(comparison.rawValue) \(rhs)"
    }

    /// A number without a trailing `.0`.
    public static func format(_ v: Double) -> String {
        if v.isFinite, v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    /// Bench JSON fields a gate may compare: the measured numbers (not the workload parameters).
    public static let metricNames: [String] = {
        var names = ["duration", "completed", "failed", "total_input_tokens", "total_output_tokens",
                     "request_throughput", "input_throughput", "output_throughput", "total_throughput",
                     "concurrency", "accept_length"]
        for m in ["ttft", "tpot", "itl", "e2e_latency"] {
            for s in ["mean", "median", "std", "p90", "p95", "p99", "max"] { names.append("\(s)_\(m)_ms") }
        }
        return names
    }()

    /// Why a gate text does not parse: a message, and the columns (0-based offset, length) to underline.
    public struct ParseError: Error, Sendable, Hashable {
        /// Diagnostic id: `unknown-metric` or `invalid-value`.
        public var id: String
        /// One-line message.
        public var message: String
        /// 0-based offset in the gate text (Unicode scalars).
        public var offset: Int
        /// Columns to underline.
        public var length: Int
        /// Extra lines for people.
        public var notes: [String]
    }

    /// Parses one gate. Whitespace around tokens is optional; `previous` may be written alone
    /// (factor 1), as `F * previous` or as `previous * F`.
    public static func parse(_ text: String) -> Result<GateExpression, ParseError> {
        let s = Array(text.unicodeScalars)
        var i = 0
        func skipSpace() { while i < s.count, s[i] == " " || s[i] == "\t" { i += 1 } }
        func fail(_ message: String, at offset: Int, length: Int = 1, id: String = "invalid-value",
                  notes: [String] = []) -> Result<GateExpression, ParseError> {
            .failure(ParseError(id: id, message: message, offset: offset, length: max(1, length), notes: notes))
        }
        let example = "write METRIC OP VALUE, e.g. 'median_ttft_ms <= 200' or 'output_throughput >= 0.95 * previous'"
        skipSpace()
        let nameStart = i
        while i < s.count, isWordChar(s[i]) { i += 1 }
        guard i > nameStart else {
            return fail("gate '\(text)' does not start with a metric name", at: nameStart, notes: [example])
        }
        let name = String(String.UnicodeScalarView(s[nameStart..<i]))
        guard metricNames.contains(name) else {
            let hint = Suggest.didYouMean(name, in: metricNames)
            return fail("unknown benchmark metric '\(name)'\(hint)", at: nameStart, length: i - nameStart,
                        id: "unknown-metric",
                        notes: hint.isEmpty ? ["metrics: \(metricNames.joined(separator: ", "))"] : [])
        }
        skipSpace()
        let opStart = i
        var op: Comparison?
        if i < s.count, s[i] == ">" || s[i] == "<" {
            let two = i + 1 < s.count && s[i + 1] == "="
            op = Comparison(rawValue: String(s[i]) + (two ? "=" : ""))
            i += two ? 2 : 1
        }
        guard let op else {
            let found = i < s.count ? "'\(s[i])'" : "the end"
            return fail("expected a comparison (>=, <=, >, <) after '\(name)', found \(found)", at: opStart,
                        notes: ["'==' and '!=' are not supported: measurements are never exactly equal"])
        }
        skipSpace()
        let rhsStart = i
        var factor: Double?
        var sawPrevious = false
        if let (n, end) = number(s, from: i) {
            factor = n
            i = end
            skipSpace()
            if i < s.count, s[i] == "*" {
                i += 1
                skipSpace()
                let w = word(s, at: i)
                guard w == "previous" else {
                    return fail("expected 'previous' after '*'\(w.isEmpty ? "" : Suggest.didYouMean(w, in: ["previous"]))",
                                at: i, length: w.count)
                }
                i += 8
                sawPrevious = true
            }
        } else if word(s, at: i) == "previous" {
            i += 8
            sawPrevious = true
            skipSpace()
            if i < s.count, s[i] == "*" {
                i += 1
                skipSpace()
                guard let (n, end) = number(s, from: i) else { return fail("expected a number after '*'", at: i) }
                factor = n
                i = end
            }
        } else {
            let w = word(s, at: i)
            if let first = w.unicodeScalars.first, first >= "0" && first <= "9" {
                return fail("'\(w)' is not a number; write the threshold without a unit (the metric name carries it, e.g. _ms)",
                            at: rhsStart, length: w.count)
            }
            let hint = w.isEmpty ? "" : Suggest.didYouMean(w, in: ["previous"])
            return fail("expected a number or 'previous' after '\(op.rawValue)'\(hint)", at: rhsStart,
                        length: max(1, w.count), notes: [example])
        }
        skipSpace()
        if i < s.count {
            return fail("unexpected '\(String(String.UnicodeScalarView(s[i...])))' at the end of the gate", at: i,
                        length: s.count - i, notes: [example])
        }
        if sawPrevious {
            let f = factor ?? 1
            guard f.isFinite, f > 0 else { return fail("the factor of 'previous' must be a positive number", at: rhsStart) }
            return .success(GateExpression(metric: name, comparison: op, bound: .previous(factor: f)))
        }
        guard let v = factor, v.isFinite else { return fail("the threshold must be a finite number", at: rhsStart) }
        return .success(GateExpression(metric: name, comparison: op, bound: .absolute(v)))
    }

    private static func isWordChar(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_"
    }

    private static func word(_ s: [Unicode.Scalar], at i: Int) -> String {
        var j = i
        while j < s.count, isWordChar(s[j]) { j += 1 }
        return String(String.UnicodeScalarView(s[i..<j]))
    }

    /// A decimal number (`200`, `0.95`, `.5`, `1e3`, `-1`) starting at `i`, and where it ends.
    private static func number(_ s: [Unicode.Scalar], from start: Int) -> (Double, Int)? {
        var j = start
        if j < s.count, s[j] == "-" || s[j] == "+" { j += 1 }
        let digitsStart = j
        while j < s.count, (s[j] >= "0" && s[j] <= "9") || s[j] == "." { j += 1 }
        guard j > digitsStart else { return nil }
        if j < s.count, s[j] == "e" || s[j] == "E" {
            var k = j + 1
            if k < s.count, s[k] == "-" || s[k] == "+" { k += 1 }
            let expStart = k
            while k < s.count, s[k] >= "0" && s[k] <= "9" { k += 1 }
            if k > expStart { j = k }
        }
        guard let v = Double(String(String.UnicodeScalarView(s[start..<j]))) else { return nil }
        // A number glued to letters (`200ms`) is not a number.
        if j < s.count, isWordChar(s[j]) { return nil }
        return (v, j)
    }
}
