import DeployCore

/// Entry points for the fuzzer and the benchmarks (`dsdeploy-fuzz-loader`). Not a stable API.
extension YAMLLoader {
    /// For fuzzing only (libFuzzer's `LLVMFuzzerTestOneInput` and the corpus replayer): loads
    /// `data` as `fuzz.yaml` and checks the result. Returns the number of documents plus
    /// diagnostics, or -1 when a location is impossible — a diagnostic without one, or any
    /// diagnostic or node located outside the input — which the harness turns into a crash.
    public static func fuzzEntry(_ data: UnsafeRawBufferPointer) -> Int {
        let bytes = data.assumingMemoryBound(to: UInt8.self)
        let result = load(bytes, file: "fuzz.yaml")
        let bounds = LocationBounds(bytes)
        for d in result.diagnostics {
            guard let at = d.location, bounds.contains(at), d.length >= 1 else { return -1 }
        }
        var pending = result.documents.compactMap(\.root)
        var visited = 0
        while let node = pending.popLast(), visited < 1_000_000 {
            visited += 1
            guard bounds.contains(node.location) else { return -1 }
            switch node {
            case .scalar(let s):
                guard s.length >= 0, s.contentOffset >= 0 else { return -1 }
            case .sequence(let s):
                pending += s.items
            case .mapping(let m):
                for pair in m.pairs {
                    guard case .scalar = pair.key else { return -1 }
                    pending.append(pair.key)
                    pending.append(pair.value)
                }
            }
        }
        return result.documents.count + result.diagnostics.count
    }

    /// For benchmarks only (`dsdeploy-fuzz-loader --time`): loads `data` and returns how long
    /// loading took and, separately, how long freeing the trees took.
    public static func benchmarkEntry(_ data: UnsafeRawBufferPointer)
        -> (load: Duration, free: Duration, count: Int) {
        let clock = ContinuousClock()
        let start = clock.now
        var result: (documents: [YAMLDocument], diagnostics: [Diagnostic])? =
            load(data.assumingMemoryBound(to: UInt8.self), file: "bench.yaml")
        let loaded = clock.now
        let count = (result?.documents.count ?? 0) + (result?.diagnostics.count ?? 0)
        result = nil
        return (loaded - start, clock.now - loaded, count + (result == nil ? 0 : 1))
    }
}

/// Which (line, column) pairs exist in an input: line 1...lines+1, column 1...length+1, where
/// a line's length counts non-continuation bytes (scalars, or single invalid bytes).
private struct LocationBounds {
    var lineLengths: [Int] = []

    init(_ raw: UnsafeBufferPointer<UInt8>) {
        var bytes = raw
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            bytes = UnsafeBufferPointer(rebasing: bytes[3...])
        }
        var length = 0
        for b in bytes {
            if b == 0x0A {
                lineLengths.append(length)
                length = 0
            } else if b & 0xC0 != 0x80 {
                length += 1
            }
        }
        lineLengths.append(length)
    }

    func contains(_ at: SourceLocation) -> Bool {
        guard at.line >= 1, at.line <= lineLengths.count + 1, at.column >= 1 else { return false }
        return at.line > lineLengths.count || at.column <= lineLengths[at.line - 1] + 1
    }
}
