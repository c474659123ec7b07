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

    /// `np.percentile(xs, p)` for each of `ps`, without sorting all of `xs`: each percentile's two
    /// neighbouring order statistics are found by selection (quickselect; in ascending order of `ps`
    /// only on the part above the previous one), so the values are exactly those of
    /// `percentile(sorted:)` on the sorted sample. A run's inter-token latencies are one number per token; sorting them cost
    /// about 350 instructions per token, more than reading the token did. `xs` must not hold NaN.
    public static func percentiles(_ xs: [Double], _ ps: [Double]) -> [Double] {
        let n = xs.count
        guard n > 1 else { return ps.map { _ in xs.first ?? 0 } }
        var s = xs
        var from = 0
        return s.withUnsafeMutableBufferPointer { b in
            ps.map { p in
                if p >= 100 { return b[from..<n].max() ?? b[n - 1] }
                let rank = min(max(p, 0), 100) / 100 * Double(n - 1)
                let lo = Int(rank.rounded(.down))
                // Above the previous percentile's place only when asked in ascending order.
                select(b, lo, from: lo >= from ? from : 0)
                from = lo
                guard lo + 1 < n else { return b[lo] }
                let next = b[(lo + 1)...].min()!
                return b[lo] + (next - b[lo]) * (rank - Double(lo))
            }
        }
    }

    /// Moves the `k`-th smallest of `b[from...]` to `b[k]`, with no larger one before it and no
    /// smaller one after it. Median-of-three pivots; a range that will not shrink is sorted instead,
    /// so the worst case stays O(n log n).
    static func select(_ b: UnsafeMutableBufferPointer<Double>, _ k: Int, from: Int) {
        var lo = from, hi = b.count - 1
        var rounds = 0
        while hi > lo {
            rounds += 1
            if hi - lo < 16 || rounds > 64 {
                var rest = UnsafeMutableBufferPointer(rebasing: b[lo...hi])
                rest.sort()
                return
            }
            let mid = lo + (hi - lo) / 2
            if b[mid] < b[lo] { b.swapAt(mid, lo) }
            if b[hi] < b[lo] { b.swapAt(hi, lo) }
            if b[hi] < b[mid] { b.swapAt(hi, mid) }
            let pivot = b[mid]
            var i = lo, j = hi
            while i <= j {
                while b[i] < pivot { i += 1 }
                while pivot < b[j] { j -= 1 }
                if i <= j {
                    b.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            // Now b[lo...j] ≤ pivot ≤ b[i...hi], and anything between j and i equals the pivot.
            if k <= j { hi = j } else if k >= i { lo = i } else { return }
        }
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
        let ms = samples.map { $0 * 1000 }
        mean = Statistics.mean(ms)
        std = Statistics.std(ms)
        let p = Statistics.percentiles(ms, [50, 90, 95, 99, 100])
        (median, p90, p95, p99, max) = (p[0], p[1], p[2], p[3], p[4])
    }
}
