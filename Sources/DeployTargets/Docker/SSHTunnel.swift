import DeployCore
import DeployKit
import Foundation
import POSIXSpawn
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The Docker socket of an ssh:// host, forwarded with the user's own OpenSSH (their config, agent,
/// known_hosts and `StrictHostKeyChecking`; dsdeploy adds only `BatchMode=yes`, so nothing prompts).
///
/// One multiplexed connection per host: a ControlMaster that dsdeploy starts once and that ends by
/// itself after five idle minutes (`ControlPersist`), so later commands reuse it and nothing is left
/// running for long. The remote socket is forwarded to a local one in the state directory
/// (`ssh -O forward -L`), which the Engine API client then uses like any unix socket.
final class SSHTunnel: @unchecked Sendable {
    let destination: String
    let port: Int?
    let remoteSocket: String
    /// `-F FILE` when the Target names an ssh config (else the user's own).
    let configFile: String?
    let directory: String
    let environment: [String: String]
    /// The ssh client run (found on PATH); tests put a stand-in here.
    var program = "ssh"
    private let lock = NSLock()
    private var opened: String?
    /// Counts the opens: a request that failed on an older connection than the current one must not
    /// close the current one (see `reset`).
    private var generation = 0

    init(destination: String, port: Int?, remoteSocket: String, configFile: String?, directory: String,
         environment: [String: String]) {
        self.destination = destination
        self.port = port
        self.remoteSocket = remoteSocket
        self.configFile = configFile
        self.directory = directory
        self.environment = environment
    }

    /// A short, stable name for this host's files (sockets have a ~100-byte path limit).
    var key: String { Revision.fnv1a64("\(destination) \(port ?? 22) \(remoteSocket) \(configFile ?? "")").prefix(12).description }
    var controlPath: String { directory + "/cm-" + key }
    var localSocket: String { directory + "/docker-" + key + ".sock" }
    /// The master's messages (`ssh -E`): why it could not start, and what it says later, such as a
    /// forwarded connection the host refused (`channel 1: open failed: connect failed: …`).
    var logFile: String { directory + "/ssh-" + key + ".log" }

    /// The log's size now: pass it to `logged(since:)` to read what was written after.
    func logMark() -> Int {
        var st = stat()
        return stat(logFile, &st) == 0 ? Int(st.st_size) : 0
    }

    /// What the master logged after `mark` (one line, `; `-joined, at most 300 characters; empty
    /// when nothing).
    func logged(since mark: Int) -> String {
        guard let h = FileHandle(forReadingAtPath: logFile) else { return "" }
        defer { try? h.close() }
        guard (try? h.seek(toOffset: UInt64(max(mark, 0)))) != nil, let data = try? h.readToEnd() else { return "" }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let text = lines.joined(separator: "; ")
        return text.count > 300 ? String(text.suffix(300)) : text
    }

    func options(_ extra: [String]) -> [String] {
        var o = [program]
        if let configFile { o += ["-F", configFile] }
        o += ["-o", "BatchMode=yes", "-o", "ControlPath=" + controlPath]
        if let port { o += ["-p", String(port)] }
        return o + extra + [destination]
    }

    /// The local socket, forwarding to the host's Docker socket (connecting first when needed).
    func open() throws(DockerError) -> String { try openCounted().path }

    /// `open`, with the count of opens so far: pass it to `reset` when a request on it failed.
    func openCounted() throws(DockerError) -> (path: String, generation: Int) {
        lock.lock()
        defer { lock.unlock() }
        // Opened by this process: used as is (an ssh per request would cost more than the request);
        // a request that cannot connect calls `reset` and opens it again.
        if let opened { return (opened, generation) }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw DockerError(status: 0, message: "cannot create \(directory): \(error)")
        }
        var started = false
        if run(options(["-O", "check"])).status != 0 {
            // The master logs to a file (appended; cut when it has grown past 64 KiB) that outlives
            // its start: its stderr would go to a file removed as soon as `ssh -f` returns.
            if logMark() > 64 * 1024 { unlink(logFile) }
            let start = options(["-o", "ControlMaster=yes", "-o", "ControlPersist=300", "-o", "StreamLocalBindUnlink=yes",
                                 "-o", "ConnectTimeout=10", "-E", logFile] + keepAlive() + ["-f", "-N"])
            // The master's exit and what it said: its stderr and what it logged meanwhile.
            func startMaster() -> (status: Int32, said: String) {
                let mark = logMark()
                let master = run(start)
                return (master.status, [master.error, logged(since: mark)].filter { !$0.isEmpty }.joined(separator: "; "))
            }
            var (status, said) = startMaster()
            // A master that another process started meanwhile serves as well. A failure without
            // a word (seen under load, as a master from an earlier command was ending) gets one
            // more try.
            if status != 0, run(options(["-O", "check"])).status != 0, said.isEmpty {
                (status, said) = startMaster()
            }
            guard status == 0 || run(options(["-O", "check"])).status == 0 else {
                let why = said.isEmpty ? "ssh exited with status \(status) and no message" : said
                throw DockerError(status: 0, message: "ssh to \(destination) failed: \(why)", unreachable: true)
            }
            started = status == 0
        }
        // A master an earlier command started already forwards this socket; a new one needs the forward,
        // and so does a socket file nothing answers on (a forward that ended while its master lived on).
        if started || !Self.accepts(localSocket) {
            unlink(localSocket)
            _ = run(options(["-O", "cancel", "-L", localSocket + ":" + remoteSocket]))
            let forward = run(options(["-O", "forward", "-L", localSocket + ":" + remoteSocket]))
            guard forward.status == 0 else {
                throw DockerError(status: 0, message: "forwarding \(remoteSocket) from \(destination) failed: \(forward.error)",
                                  unreachable: true)
            }
        }
        opened = localSocket
        generation += 1
        return (localSocket, generation)
    }

    /// Whether something accepts connections on the Unix socket at `path` (connects and closes).
    static func accepts(_ path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    /// `ServerAliveInterval 5` (3 misses) unless the user's config sets one: a host cut off
    /// mid-rollout ends its connection within about 15 s, so requests to it fail instead of hanging.
    func keepAlive() -> [String] {
        let effective = CommandRunner.run(options(["-G"]), environment: environment, directory: directory, name: "ssh-g-" + key,
                                          captureOutput: true)
        let set = effective.output.split(separator: "\n").contains { $0.hasPrefix("serveraliveinterval ") && !$0.hasSuffix(" 0") }
        return set ? [] : ["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
    }

    /// Forgets the forward this process opened (the master ended): the next `open` checks and redoes it.
    /// `generation` (from `openCounted`): only when the failed request went over the current forward.
    /// Requests run in parallel, and closing a master cuts every request on it: without this check
    /// each of those, failing in turn, closed the master the previous one had just opened again, so a
    /// single failure could fail every request to the host, retries included.
    func reset(closeMaster: Bool = false, generation: Int? = nil) {
        lock.withLock {
            if let generation, generation != self.generation || opened == nil { return }
            opened = nil
            if closeMaster {
                _ = run(options(["-O", "exit"]))
                unlink(localSocket)
            }
        }
    }

    /// Runs ssh and waits for it.
    func run(_ argv: [String]) -> (status: Int32, error: String) {
        let r = CommandRunner.run(argv, environment: environment, directory: directory, name: "ssh-" + key)
        return (r.status, r.error)
    }

    /// Runs `command` on the host over the connection: its exit status (ssh's 255 when the connection
    /// failed, 124 past `timeout` seconds), output and error text.
    func capture(_ command: [String], timeout: Double? = nil) -> (status: Int32, output: String, error: String) {
        do { _ = try open() } catch { return (255, "", "\(error)") }
        return CommandRunner.run(options([]) + command, environment: environment, directory: directory,
                                 name: "ssh-" + key, captureOutput: true, timeout: timeout)
    }
}

/// Runs a program and waits for it, its output in files of `directory`, not pipes (a program that
/// leaves a process behind, such as `ssh -f`, would keep a pipe open).
///
/// Each run has its own files (`NAME-PID-N.err`), removed once read: two commands at once, in this
/// process or another using the same state directory, must not truncate each other's messages.
enum CommandRunner {
    private static let counter = Mutex(0)

    /// The executable file `name` in one of `path`'s directories (a `PATH` value), the first one; nil when none.
    static func find(_ name: String, path: String) -> String? {
        path.split(separator: ":").lazy.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `timeout`: seconds after which the program is killed (status 124, error `timed out after N s`).
    static func run(_ argv: [String], environment: [String: String], directory: String, name: String,
                    captureOutput: Bool = false, timeout: Double? = nil) -> (status: Int32, output: String, error: String) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let n = counter.withLock { n in n += 1; return n }
        let base = directory + "/\(name)-\(getpid())-\(n)"
        let errFile = base + ".err"
        let outFile = base + ".out"
        defer {
            unlink(errFile)
            if captureOutput { unlink(outFile) }
        }
        let env = environment.map { "\($0.key)=\($0.value)" }
        let pid: Int32
        do {
            pid = try Spawner.spawn(argv: argv, environment: env,
                                    fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                                                  .open(1, path: captureOutput ? outFile : "/dev/null",
                                                        flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600),
                                                  .open(2, path: errFile, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)],
                                    searchPath: true)
        } catch {
            return (127, "", "cannot run \(argv.first ?? ""): \(error.reason)")
        }
        var status: Int32 = 0
        if let timeout {
            // Polled: a hung program (nvidia-smi on a GPU in a bad state) must not hang the command.
            let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid || (r < 0 && errno != EINTR) { break }
                if ContinuousClock.now >= deadline {
                    kill(pid, SIGKILL)
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    let shown = timeout == timeout.rounded() ? String(Int(timeout)) : String(timeout)
                    return (124, "", "timed out after \(shown) s")
                }
                usleep(10_000)
            }
        } else {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        let text = (try? String(contentsOfFile: errFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let output = captureOutput ? ((try? String(contentsOfFile: outFile, encoding: .utf8)) ?? "") : ""
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, output, text)
    }
}
