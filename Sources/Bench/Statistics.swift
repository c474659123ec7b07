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
        let ms = samples.map { $0 * 1000 }.sorted()
        mean = Statistics.mean(ms)
        median = Statistics.percentile(sorted: ms, 50)
        std = Statistics.std(ms)
        p90 = Statistics.percentile(sorted: ms, 90)
        p95 = Statistics.percentile(sorted: ms, 95)
        p99 = Statistics.percentile(sorted: ms, 99)
        max = ms.last ?? 0
    }
}
