// dsdeploy-supervisor RUN_DIR -- ARGV...
// dsdeploy-supervisor RUN_DIR --nodes K -- LEN ARGV... LEN ARGV...   (a multi-node replica on one host)
//
// Started by the local target in its own session and process group (POSIX_SPAWN_SETSID), with the
// engine's environment as its own. It writes RUN_DIR/supervisor.pid, spawns ARGV (PATH lookup, no
// shell) in its process group with stdout+stderr appended to RUN_DIR/engine.log, writes
// RUN_DIR/engine.pid, forwards SIGTERM/SIGINT to the engine, waits for it, writes RUN_DIR/exit
// (`exit N <time>` or `signal N <time>`), stops what the engine left behind in the group, and exits
// with the engine's status. Pid files hold `PID STARTTIME` (field 22 of /proc/PID/stat) so readers
// can tell a live process from a reused pid.
import Glibc
import POSIXSpawn

@main
struct Supervisor {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count >= 6, arguments[2] == "--nodes", arguments[4] == "--", let k = Int(arguments[3]), k > 1,
           let nodes = splitNodes(Array(arguments[5...]), count: k) {
            runGroup(runDirectory: arguments[1], nodes: nodes)
        }
        guard arguments.count >= 4, arguments[2] == "--" else {
            logLine("usage: dsdeploy-supervisor RUN_DIR -- ARGV... | RUN_DIR --nodes K -- LEN ARGV... LEN ARGV...", to: 2)
            exit(2)
        }
        let runDirectory = arguments[1]
        let engineArgv = Array(arguments[3...])

        closeInheritedDescriptors()
        let me = getpid()
        writeAtomically(runDirectory + "/supervisor.pid", "\(me) \(ProcFS.startTime(me) ?? 0)\n")

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
        writeAtomically(runDirectory + "/engine.pid", "\(child) \(ProcFS.startTime(child) ?? 0)\n")

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

/// Spawns the engine (PATH look-up, no shell) in this process group with this process's environment,
/// stdin from /dev/null and stdout+stderr on `logFD`. Returns the pid and 0, or 0 and the error number.
func spawnEngine(_ argv: [String], logFD: Int32) -> (pid_t, Int32) {
    do {
        let pid = try Spawner.spawn(argv: argv, environment: ProcFS.environment(of: getpid(), limit: .max) ?? [],
                                    fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                                                  .duplicate(logFD, to: 1), .duplicate(logFD, to: 2)],
                                    searchPath: true)
        return (pid, 0)
    } catch {
        return (0, error.code)
    }
}

/// SIGTERM to whatever the engine left in the group, then SIGKILL after 3 s.
func stopLeftovers(except me: pid_t) {
    let group = getpgrp()
    var others = ProcFS.groupMembers(group).filter { $0 != me }
    guard !others.isEmpty else { return }
    for p in others { kill(p, SIGTERM) }
    for _ in 0..<150 {
        usleep(20_000)
        others = ProcFS.groupMembers(group).filter { $0 != me }
        if others.isEmpty { return }
    }
    for p in others { kill(p, SIGKILL) }
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

/// `LEN ARGV... LEN ARGV...` → the argvs, or nil when it does not hold `count` non-empty ones exactly.
func splitNodes(_ words: [String], count: Int) -> [[String]]? {
    var out: [[String]] = []
    var i = 0
    while i < words.count {
        guard let n = Int(words[i]), n > 0, i + 1 + n <= words.count else { return nil }
        out.append(Array(words[(i + 1)...(i + n)]))
        i += 1 + n
    }
    return out.count == count ? out : nil
}

/// A multi-node replica on one host: every node's engine in this process group, rank 0's output in
/// engine.log (its pid in engine.pid), rank i's in node-i.log. The group lives and dies together: when
/// any node ends, the others are stopped (as a lost NCCL peer ends a real group) and the exit is the
/// first one's, named in engine.log. SIGTERM/SIGINT go to every node. Never returns.
func runGroup(runDirectory: String, nodes: [[String]]) -> Never {
    closeInheritedDescriptors()
    let me = getpid()
    writeAtomically(runDirectory + "/supervisor.pid", "\(me) \(ProcFS.startTime(me) ?? 0)\n")
    var logs: [Int32] = []
    for rank in nodes.indices {
        let path = runDirectory + (rank == 0 ? "/engine.log" : "/node-\(rank).log")
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            writeAtomically(runDirectory + "/exit", "exit 127 \(wallClock())\n")
            exit(127)
        }
        logs.append(fd)
    }
    var handled = sigset_t()
    sigemptyset(&handled)
    for s in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&handled, s) }
    sigprocmask(SIG_BLOCK, &handled, nil)
    var pids: [pid_t] = []
    for (rank, argv) in nodes.enumerated() {
        let (child, spawnError) = spawnEngine(argv, logFD: logs[rank])
        guard spawnError == 0 else {
            logLine("dsdeploy-supervisor: cannot start node \(rank) (\(argv[0])): \(String(cString: strerror(spawnError)))", to: logs[0])
            writeAtomically(runDirectory + "/exit", "exit 127 \(wallClock())\n")
            stopLeftovers(except: me)
            exit(127)
        }
        pids.append(child)
        if rank == 0 { writeAtomically(runDirectory + "/engine.pid", "\(child) \(ProcFS.startTime(child) ?? 0)\n") }
    }
    var status: Int32 = 0
    var ended = -1
    waitLoop: while true {
        var signal: Int32 = 0
        guard sigwait(&handled, &signal) == 0 else { continue }
        switch signal {
        case SIGCHLD:
            for (rank, pid) in pids.enumerated() where waitpid(pid, &status, WNOHANG) == pid {
                ended = rank
                break waitLoop
            }
        case SIGTERM, SIGINT:
            for pid in pids { kill(pid, signal) }
        default:
            continue
        }
    }
    let termSignal = status & 0x7f
    let outcome = termSignal == 0 ? "exit \((status >> 8) & 0xff)" : "signal \(termSignal)"
    writeAtomically(runDirectory + "/exit", "\(outcome) \(wallClock())\n")
    logLine("dsdeploy-supervisor: node \(ended) of \(nodes.count) (pid \(pids[max(ended, 0)])) ended (\(outcome)); "
            + "stopping the other nodes of the group", to: logs[0])
    stopLeftovers(except: me)
    exit(termSignal == 0 ? (status >> 8) & 0xff : 128 + termSignal)
}
