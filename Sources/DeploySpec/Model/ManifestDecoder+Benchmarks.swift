import DeployCore
import Foundation

extension ManifestDecoder {
    /// Decodes `spec.benchmarks.scenarios` (shapes were schema-checked) and reports what the schema
    /// cannot: duplicate scenario names, a bad `requestRate`, and every gate that does not parse, at
    /// its column.
    mutating func decodeBenchmarks(_ node: YAMLNode?) -> ([BenchmarkScenario], [BenchmarkScenarioSource]) {
        guard let items = node?.mapping?["scenarios"]?.sequence?.items else { return ([], []) }
        var scenarios: [BenchmarkScenario] = []
        var sources: [BenchmarkScenarioSource] = []
        var seen: [String: SourceLocation] = [:]
        for item in items {
            guard let m = item.mapping, let name = m["name"]?.locatedString,
                  let inputLen = m["inputLen"]?.int, let outputLen = m["outputLen"]?.int else { continue }
            if let first = seen[name.value] {
                diagnostics.append(.error("duplicate-key", "benchmark scenario '\(name.value)' is defined twice",
                                          at: name.location, length: name.length,
                                          notes: ["first defined at \(first.file):\(first.line):\(first.column)"]))
            } else {
                seen[name.value] = name.location
            }
            var s = BenchmarkScenario(name: name.value, inputLen: inputLen, outputLen: outputLen)
            if let v = m["numPrompts"]?.int { s.numPrompts = v }
            if let v = m["maxConcurrency"]?.int { s.maxConcurrency = v }
            if let v = m["rangeRatio"]?.number { s.rangeRatio = v }
            if let v = m["api"]?.string { s.api = v }
            if let v = m["warmup"]?.int { s.warmup = v }
            if let v = m["seed"]?.int { s.seed = v }
            if let v = m["maxFailedRequests"]?.int { s.maxFailedRequests = v }
            if let v = m["requestTimeoutSeconds"]?.int { s.requestTimeoutSeconds = v }
            var rateSource: Located<String>?
            if let r = m["requestRate"]?.scalar {
                let text = r.value.trimmingCharacters(in: .whitespaces)
                rateSource = Located(text, at: r.location, length: r.length)
                if text == "inf" {
                    s.requestRate = .infinity
                } else if r.style == .plain, let v = Double(text), v.isFinite, v > 0 {
                    s.requestRate = v
                } else {
                    diagnostics.append(.error("invalid-value",
                        "'requestRate' must be a positive number of requests per second or 'inf', got '\(r.value)'",
                        at: r.location, length: r.length))
                }
            }
            let gates = m["gates"]?.locatedStrings ?? []
            for g in gates {
                switch GateExpression.parse(g.value) {
                case .success(let e): s.gates.append(e)
                case .failure(let e):
                    diagnostics.append(.error(e.id, "scenario '\(name.value)': \(e.message)",
                                              at: g.location.advanced(by: e.offset), length: e.length, notes: e.notes))
                }
            }
            scenarios.append(s)
            sources.append(BenchmarkScenarioSource(name: name, location: m.location, requestRate: rateSource, gates: gates))
        }
        return (scenarios, sources)
    }
}

extension YAMLNode {
    /// An integer or float scalar as a Double.
    var number: Double? {
        guard let s = scalar, s.style == .plain else { return nil }
        switch s.resolved {
        case .int(let v): return Double(v)
        case .float(let v): return v
        default: return nil
        }
    }
}
