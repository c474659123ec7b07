import Foundation

/// CPU time of this process: all threads, user and system (`getrusage(RUSAGE_SELF)`).
public enum ProcessCPU {
    /// Seconds of CPU used so far.
    public static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
