internal import Glibc

/// Reads `/proc`: a process's stat line, its start time, the members of a process group, small
/// files, environments and this process's executable. Linux only; never throws, answers nil or
/// empty for a process that is gone or unreadable.
public enum ProcFS {
    /// What `/proc/PID/stat` says about a process.
    public struct Stat: Sendable, Hashable {
        /// State letter (`R`, `S`, `Z` ...), field 3.
        public var state: Character
        /// Process group id, field 5.
        public var pgrp: Int32
        /// Session id, field 6.
        public var session: Int32
        /// Start time in clock ticks since boot, field 22: with the pid, it names one process
        /// (a later process that reuses the pid starts later).
        public var startTime: Int64

        /// False for zombies and dead tasks.
        public var isRunning: Bool { state != "Z" && state != "X" && state != "x" }

        /// A stat with these fields.
        public init(state: Character, pgrp: Int32, session: Int32, startTime: Int64) {
            self.state = state
            self.pgrp = pgrp
            self.session = session
            self.startTime = startTime
        }

        /// Parses a whole `/proc/PID/stat` line. The command name (field 2) sits in parentheses and
        /// may itself hold spaces and parentheses, so the fields start after the last `)`.
        public init?(line: String) {
            guard let close = line.lastIndex(of: ")") else { return nil }
            let f = line[line.index(after: close)...].split(separator: " ")
            guard f.count > 19, let state = f[0].first, let pgrp = Int32(f[2]), let session = Int32(f[3]),
                  let start = Int64(f[19]) else { return nil }
            self.init(state: state, pgrp: pgrp, session: session, startTime: start)
        }
    }

    /// The stat of `pid`, nil when there is no such process.
    public static func stat(_ pid: Int32) -> Stat? {
        guard pid > 0, let bytes = readSmallFile("/proc/\(pid)/stat") else { return nil }
        return Stat(line: String(decoding: bytes, as: UTF8.self))
    }

    /// The start time of `pid` (clock ticks since boot), nil when it does not exist.
    public static func startTime(_ pid: Int32) -> Int64? { stat(pid)?.startTime }

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

    /// Running (not zombie) processes whose process group is `pgid`.
    public static func groupMembers(_ pgid: Int32) -> [Int32] {
        guard pgid > 0 else { return [] }
        return allPids().filter { p in
            guard let s = stat(p) else { return false }
            return s.pgrp == pgid && s.isRunning
        }
    }

    /// The `NAME=VALUE` entries of `pid`'s environment as it started (readable for own processes
    /// and as root), nil when unreadable; at most about `limit` bytes are read.
    public static func environment(of pid: Int32, limit: Int = 1 << 20) -> [String]? {
        guard pid > 0, let bytes = readSmallFile("/proc/\(pid)/environ", limit: limit) else { return nil }
        return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The path of this process's executable (`/proc/self/exe`), nil when unreadable.
    public static func executablePath() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A whole small file, read until EOF because files in /proc report size 0; stops once about
    /// `limit` bytes are in. Nil when it cannot be opened.
    public static func readSmallFile(_ path: String, limit: Int = 65_536) -> [UInt8]? {
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
        return out
    }
}
