import Foundation
import Synchronization

/// Wall-clock marks between the phases of a command, printed to stderr at exit when
/// `DSDEPLOY_PHASES=1` (for `benchmarks/`: which parts of `validate` run on one thread and for how
/// long, without a profiler's overhead). Off, a mark costs one load of a flag.
public enum PhaseClock {
    /// Whether marks are recorded (`DSDEPLOY_PHASES` set to anything but empty or `0`).
    public static let enabled: Bool = {
        guard let v = getenv("DSDEPLOY_PHASES") else { return false }
        let s = String(cString: v)
        return !s.isEmpty && s != "0"
    }()

    private static let marks = Mutex<[(name: String, ns: UInt64, cpuNs: UInt64, faults: Int, peakKB: Int)]>([])

    /// Records that the phase named `name` ended now.
    @inline(__always)
    public static func mark(_ name: @autoclosure () -> String) {
        guard enabled else { return }
        let now = monotonicNanoseconds()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let label = name()
        let cpu = ProcessCPU.nanoseconds(usage)
        marks.withLock { $0.append((label, now, cpu, Int(usage.ru_minflt), Int(usage.ru_maxrss))) }
    }

    /// `phase  ms-since-previous  ms-since-start  CPU-ms-since-previous  page-faults-since-previous
    /// peak-RSS-MB` lines to stderr (CPU time of all threads, user and system, faults and peak RSS of
    /// the whole process, from `getrusage`); the first mark is the start. CPU over wall is how many
    /// cores a phase kept busy.
    public static func report() {
        guard enabled else { return }
        let all = marks.withLock { $0 }
        guard let first = all.first else { return }
        var text = "phases (wall ms, since start; CPU ms; page faults; peak RSS MB; DSDEPLOY_PHASES; CLOCK_MONOTONIC start \(first.ns) ns):\n"
        var previous = first
        for m in all {
            let step = Double(m.ns &- previous.ns) / 1e6, total = Double(m.ns &- first.ns) / 1e6
            let cpu = Double(m.cpuNs &- previous.cpuNs) / 1e6
            text += "  " + m.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(format: "%8.2f %8.2f %8.2f %7d %6.1f\n", step, total, cpu, m.faults - previous.faults, Double(m.peakKB) / 1024)
            previous = m
        }
        FileHandle.standardError.write(Data(text.utf8))
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
