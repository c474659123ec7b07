// dsdeploy-supervisor RUN_DIR -- ARGV...
//
// Started by the local target in its own session and process group (POSIX_SPAWN_SETSID), with the
// engine's environment as its own. It writes RUN_DIR/supervisor.pid, spawns ARGV (PATH lookup, no
// shell) in its process group with stdout+stderr appended to RUN_DIR/engine.log, writes
// RUN_DIR/engine.pid, forwards SIGTERM/SIGINT to the engine, waits for it, writes RUN_DIR/exit
// (`exit N <time>` or `signal N <time>`), stops what the engine left behind in the group, and exits
// with the engine's status. Pid files hold `PID STARTTIME` (field 22 of /proc/PID/stat) so readers
// can tell a live process from a reused pid.
import Glibc

@main
struct Supervisor {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 4, arguments[2] == "--" else {
            logLine("usage: dsdeploy-supervisor RUN_DIR -- ARGV...", to: 2)
            exit(2)
        }
        let runDirectory = arguments[1]
        let engineArgv = Array(arguments[3...])

        closeInheritedDescriptors()
        let me = getpid()
        writeAtomically(runDirectory + "/supervisor.pid", "\(me) \(processStartTime(me) ?? 0)\n")

        let logFD = open(runDirectory + "/engine.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else {
            let reason = String(cString: strerror(errno))
            logLine("dsdeploy-supervisor: cannot open \(runDirectory)/engine.log: \(reason)", to: 2)
            writeAtomically(runDirectory + "/exit", "exit 127 \(wallClock())\n")
            exit(127)
        }

        // Block the signals we handle synchronously with sigwait; the engine starts with them unblocked.
        var handled = sigset_t()
        sigemptyset(&handled)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&handled, s) }
        sigprocmask(SIG_BLOCK, &handled, nil)

        let (child, spawnError) = spawnEngine(engineArgv, logFD: logFD)
        guard spawnError == 0 else {
            logLine("dsdeploy-supervisor: cannot start \(engineArgv[0]): \(String(cString: strerror(spawnError)))",
                    to: logFD)
            writeAtomically(runDirectory + "/exit", "exit 127 \(wallClock())\n")
            exit(127)
        }
        writeAtomically(runDirectory + "/engine.pid", "\(child) \(processStartTime(child) ?? 0)\n")

        var status: Int32 = 0
        waitLoop: while true {
            var signal: Int32 = 0
            guard sigwait(&handled, &signal) == 0 else { continue }
            switch signal {
            case SIGCHLD:
                let r = waitpid(child, &status, WNOHANG)
                if r == child { break waitLoop }
                if r < 0 && errno == ECHILD { break waitLoop }
            case SIGTERM, SIGINT:
                kill(child, signal)
            default:
                continue  // SIGHUP: there is no terminal; ignore
            }
        }

        let termSignal = status & 0x7f
        let outcome = termSignal == 0 ? "exit \((status >> 8) & 0xff)" : "signal \(termSignal)"
        writeAtomically(runDirectory + "/exit", "\(outcome) \(wallClock())\n")
        logLine("dsdeploy-supervisor: engine \(child) ended (\(outcome))", to: logFD)
        stopLeftovers(except: me)
        exit(termSignal == 0 ? (status >> 8) & 0xff : 128 + termSignal)
    }
}

/// Spawns the engine in this process group with default signal handling and an empty mask.
/// Returns the pid and 0, or 0 and the error number.
func spawnEngine(_ argv: [String], logFD: Int32) -> (pid_t, Int32) {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var defaults = sigset_t()
    sigfillset(&defaults)
    sigdelset(&defaults, SIGKILL)
    sigdelset(&defaults, SIGSTOP)
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setsigmask(&attr, &empty)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, logFD, 1)
    posix_spawn_file_actions_adddup2(&actions, logFD, 2)

    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
    cArgs.append(nil)
    var cEnv: [UnsafeMutablePointer<CChar>?] = ownEnvironment().map { strdup($0) }
    cEnv.append(nil)
    defer { for p in cArgs + cEnv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, argv[0], &actions, &attr, cArgs, cEnv)
    return rc == 0 ? (pid, 0) : (0, rc)
}

/// This process's environment (`NAME=VALUE` entries), read from /proc/self/environ.
func ownEnvironment() -> [String] {
    let fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { break }
        bytes.append(contentsOf: buf[0..<n])
    }
    return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
}

/// SIGTERM to whatever the engine left in the group, then SIGKILL after 3 s.
func stopLeftovers(except me: pid_t) {
    let group = getpgrp()
    var others = groupMembers(group).filter { $0 != me }
    guard !others.isEmpty else { return }
    for p in others { kill(p, SIGTERM) }
    for _ in 0..<150 {
        usleep(20_000)
        others = groupMembers(group).filter { $0 != me }
        if others.isEmpty { return }
    }
    for p in others { kill(p, SIGKILL) }
}

/// Live (not zombie) processes whose process group is `group`.
func groupMembers(_ group: pid_t) -> [pid_t] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var out: [pid_t] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard let pid = pid_t(name), let f = statFields(pid), f.count > 2 else { continue }
        if f[0] != "Z", f[0] != "X", pid_t(f[2]) == group { out.append(pid) }
    }
    return out
}

/// Fields of /proc/PID/stat after the command name: index 0 is the state (field 3).
func statFields(_ pid: pid_t) -> [Substring]? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = read(fd, &buf, buf.count)
    guard n > 0 else { return nil }
    let text = String(decoding: buf[0..<n], as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return nil }
    return text[text.index(after: close)...].split(separator: " ")
}

/// Field 22 of /proc/PID/stat: start time in clock ticks since boot.
func processStartTime(_ pid: pid_t) -> Int64? {
    guard let f = statFields(pid), f.count > 19 else { return nil }
    return Int64(f[19])
}

/// Writes `text` to `path` through a temporary file and a rename.
func writeAtomically(_ path: String, _ text: String) {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    rename(tmp, path)
}

/// Appends a line to the engine log.
func logLine(_ text: String, to fd: Int32) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

/// Seconds since the epoch, with milliseconds.
func wallClock() -> String {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    let ms = Int(ts.tv_nsec) / 1_000_000
    return "\(ts.tv_sec)." + String(repeating: "0", count: ms < 10 ? 2 : (ms < 100 ? 1 : 0)) + "\(ms)"
}

/// Closes every descriptor above stderr that the spawner may have leaked to us.
func closeInheritedDescriptors() {
    guard let dir = opendir("/proc/self/fd") else { return }
    var fds: [Int32] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if let fd = Int32(name), fd > 2 { fds.append(fd) }
    }
    let own = dirfd(dir)
    closedir(dir)
    for fd in fds where fd != own { close(fd) }
}
