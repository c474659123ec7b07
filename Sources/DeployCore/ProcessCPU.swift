import Foundation

/// CPU time of this process: all threads, user and system (`getrusage(RUSAGE_SELF)`).
public enum ProcessCPU {
    /// Seconds of CPU used so far.
    public static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(nanoseconds(usage)) / 1e9
    }

    /// User and system time of `usage`, in nanoseconds.
    static func nanoseconds(_ usage: rusage) -> UInt64 {
        UInt64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000_000
            + UInt64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1_000
    }
}
