#if canImport(Glibc)
import Glibc
#endif
import POSIXSpawn

/// Reads `/proc` to tell live processes from dead ones and reused pids. Linux only.
///
/// The reading itself is `POSIXSpawn.ProcFS`, shared with `dsdeploy-supervisor`; this is the local
/// target's view of it.
public enum ProcessTable {
    /// What `/proc/PID/stat` says about a process.
    public struct Stat: Sendable, Hashable {
        /// State letter (`R`, `S`, `Z` ...).
        public var state: Character
        /// Process group id.
        public var pgrp: Int32
        /// Session id.
        public var session: Int32
        /// Start time in clock ticks since boot (field 22).
        public var startTime: Int64

        /// False for zombies and dead tasks.
        public var isRunning: Bool { state != "Z" && state != "X" && state != "x" }
    }

    /// The stat of `pid`, nil when there is no such process.
    public static func stat(_ pid: Int32) -> Stat? {
        ProcFS.stat(pid).map { Stat(state: $0.state, pgrp: $0.pgrp, session: $0.session, startTime: $0.startTime) }
    }

    /// The start time of `pid` (clock ticks since boot), nil when it does not exist.
    public static func startTime(_ pid: Int32) -> Int64? { ProcFS.startTime(pid) }

    /// True when `pid` runs (not a zombie) and, when `startTime` is given, is the same process
    /// that started then (not a later process that reused the pid).
    public static func isAlive(_ pid: Int32, startTime: Int64?) -> Bool {
        guard let s = ProcFS.stat(pid), s.isRunning else { return false }
        if let t = startTime, t != 0, s.startTime != t { return false }
        return true
    }

    /// Running processes whose process group is `pgid`.
    public static func groupMembers(_ pgid: Int32) -> [Int32] { ProcFS.groupMembers(pgid) }

    /// Every pid listed in `/proc`.
    public static func allPids() -> [Int32] { ProcFS.allPids() }

    /// True when `pid`'s environment holds `NAME=VALUE` exactly (readable for own processes and as root).
    public static func environment(of pid: Int32, contains entry: String) -> Bool {
        ProcFS.environment(of: pid)?.contains(entry) ?? false
    }

    /// Reaps `pid` when it is an exited child of this process; true when it was reaped (or is gone).
    @discardableResult
    public static func reap(_ pid: Int32) -> Bool {
        guard pid > 0 else { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        return r == pid || (r < 0 && errno == ECHILD)
    }
}
