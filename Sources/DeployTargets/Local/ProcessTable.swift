#if canImport(Glibc)
import Glibc
#endif

/// Reads `/proc` to tell live processes from dead ones and reused pids. Linux only.
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
        guard pid > 0, let text = readSmallFile("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        let f = text[text.index(after: close)...].split(separator: " ")
        guard f.count > 19, let state = f[0].first, let pgrp = Int32(f[2]), let session = Int32(f[3]),
              let start = Int64(f[19]) else { return nil }
        return Stat(state: state, pgrp: pgrp, session: session, startTime: start)
    }

    /// The start time of `pid` (clock ticks since boot), nil when it does not exist.
    public static func startTime(_ pid: Int32) -> Int64? { stat(pid)?.startTime }

    /// True when `pid` runs (not a zombie) and, when `startTime` is given, is the same process
    /// that started then (not a later process that reused the pid).
    public static func isAlive(_ pid: Int32, startTime: Int64?) -> Bool {
        guard let s = stat(pid), s.isRunning else { return false }
        if let t = startTime, t != 0, s.startTime != t { return false }
        return true
    }

    /// Running processes whose process group is `pgid`.
    public static func groupMembers(_ pgid: Int32) -> [Int32] {
        guard pgid > 0 else { return [] }
        return allPids().filter { p in
            guard let s = stat(p) else { return false }
            return s.pgrp == pgid && s.isRunning
        }
    }

    /// Every pid listed in `/proc`.
    public static func allPids() -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let pid = Int32(name) { out.append(pid) }
        }
        return out
    }

    /// True when `pid`'s environment holds `NAME=VALUE` exactly (readable for own processes and as root).
    public static func environment(of pid: Int32, contains entry: String) -> Bool {
        guard let text = readSmallFile("/proc/\(pid)/environ", limit: 1 << 20) else { return false }
        return text.split(separator: "\0").contains { $0 == entry }
    }

    /// Reaps `pid` when it is an exited child of this process; true when it was reaped (or is gone).
    @discardableResult
    public static func reap(_ pid: Int32) -> Bool {
        guard pid > 0 else { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        return r == pid || (r < 0 && errno == ECHILD)
    }

    /// A whole small file (those in /proc report size 0, so read until EOF).
    static func readSmallFile(_ path: String, limit: Int = 65_536) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = read(fd, &buf, buf.count)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
