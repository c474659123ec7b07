import Foundation

/// NumPy-compatible summary statistics (what bench_serving computes with `np.*`).
public enum Statistics {
    /// Arithmetic mean; 0 for an empty sample (like `np.mean(x or 0)`).
    public static func mean(_ xs: [Double]) -> Double {
        xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count)
    }

    /// Population standard deviation (`np.std`, ddof 0); 0 for an empty sample.
    public static func std(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let m = mean(xs)
        return (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count)).squareRoot()
    }

    /// `np.percentile(xs, p)` with linear interpolation; 0 for an empty sample.
    public static func percentile(_ xs: [Double], _ p: Double) -> Double {
        percentile(sorted: xs.sorted(), p)
    }

    /// As `percentile(_:_:)` on an already sorted sample.
    public static func percentile(sorted s: [Double], _ p: Double) -> Double {
        guard let first = s.first, let last = s.last else { return 0 }
        if s.count == 1 { return first }
        let rank = min(max(p, 0), 100) / 100 * Double(s.count - 1)
        let lo = Int(rank.rounded(.down))
        let hi = min(lo + 1, s.count - 1)
        if p >= 100 { return last }
        return s[lo] + (s[hi] - s[lo]) * (rank - Double(lo))
    }

    /// `xs` in ascending order, as `xs.sorted()` orders it. Samples of 512 or more numbers (none
    /// NaN) are sorted by the bits of their values, a byte at a time (LSD radix sort): a run's
    /// inter-token latencies are one number per token, and a comparison sort of them cost about
    /// 350 instructions per token, more than reading the token did.
    public static func sortedAscending(_ xs: [Double]) -> [Double] {
        let n = xs.count
        guard n >= 512, !xs.contains(where: \.isNaN) else { return xs.sorted() }
        let sign: UInt64 = 1 << 63
        // Keys that order as the numbers do: negative numbers with all bits flipped, others with
        // the sign bit set.
        var keys = xs.map { x -> UInt64 in
            let b = x.bitPattern
            return b & sign != 0 ? ~b : b | sign
        }
        var spare = [UInt64](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 256)
        for shift in stride(from: UInt64(0), to: 64, by: 8) {
            let moved = keys.withUnsafeBufferPointer { from in
                spare.withUnsafeMutableBufferPointer { to in
                    counts.withUnsafeMutableBufferPointer { c -> Bool in
                        c.update(repeating: 0)
                        for k in from { c[Int(truncatingIfNeeded: (k >> shift) & 0xFF)] &+= 1 }
                        // Every key has the same byte here (the sign and exponent bytes of similar
                        // latencies): this pass would not change the order.
                        if c[Int(truncatingIfNeeded: (from[0] >> shift) & 0xFF)] == n { return false }
                        var total = 0
                        for d in 0..<256 {
                            let here = c[d]
                            c[d] = total
                            total &+= here
                        }
                        for k in from {
                            let d = Int(truncatingIfNeeded: (k >> shift) & 0xFF)
                            to[c[d]] = k
                            c[d] &+= 1
                        }
                        return true
                    }
                }
            }
            if moved { swap(&keys, &spare) }
        }
        return keys.map { k in Double(bitPattern: k & sign != 0 ? k & ~sign : ~k) }
    }

    /// Median (the 50th percentile).
    public static func median(_ xs: [Double]) -> Double { percentile(xs, 50) }
}

/// Summary of one latency distribution in milliseconds.
public struct LatencySummary: Sendable, Hashable, Codable {
    /// Mean.
    public var mean: Double
    /// Median.
    public var median: Double
    /// Population standard deviation.
    public var std: Double
    /// 90th percentile.
    public var p90: Double
    /// 95th percentile.
    public var p95: Double
    /// 99th percentile.
    public var p99: Double
    /// Maximum.
    public var max: Double

    /// Summarises `secondsSamples` (seconds in, milliseconds out).
    public init(seconds samples: [Double]) {
        let ms = Statistics.sortedAscending(samples.map { $0 * 1000 })
        mean = Statistics.mean(ms)
        median = Statistics.percentile(sorted: ms, 50)
        std = Statistics.std(ms)
        p90 = Statistics.percentile(sorted: ms, 90)
        p95 = Statistics.percentile(sorted: ms, 95)
        p99 = Statistics.percentile(sorted: ms, 99)
        max = ms.last ?? 0
    }
}
