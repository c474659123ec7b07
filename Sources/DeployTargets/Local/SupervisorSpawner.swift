import DeployCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts `dsdeploy-supervisor RUN_DIR -- ARGV...` with `posix_spawn` in a new session and process group,
/// so the engine outlives the CLI and a Ctrl-C of it.
///
/// The supervisor gets the engine's environment as its own, stdin from /dev/null, stdout and stderr
/// appended to the run directory's `engine.log`, default signal dispositions and an empty signal mask.
enum SupervisorSpawner {
    /// Why the supervisor could not be started.
    struct SpawnError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// glibc's `POSIX_SPAWN_SETSID` (behind `_GNU_SOURCE`, so not imported): the child calls setsid().
    static let posixSpawnSetsid: Int32 = 0x80

    /// `$DSDEPLOY_SUPERVISOR`, else `dsdeploy-supervisor` next to this process's executable.
    static func supervisorPath(environment: [String: String] = ProcessInfo.processInfo.environment) throws(SpawnError) -> String {
        if let p = environment["DSDEPLOY_SUPERVISOR"], !p.isEmpty {
            guard access(p, X_OK) == 0 else { throw SpawnError(message: "$DSDEPLOY_SUPERVISOR (\(p)) is not executable") }
            return p
        }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { throw SpawnError(message: "cannot read /proc/self/exe to find dsdeploy-supervisor") }
        let exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let candidate = (exe as NSString).deletingLastPathComponent + "/dsdeploy-supervisor"
        guard access(candidate, X_OK) == 0 else {
            throw SpawnError(message: "dsdeploy-supervisor not found next to \(exe); set $DSDEPLOY_SUPERVISOR")
        }
        return candidate
    }

    /// Spawns the supervisor for `argv` in `runDirectory`; returns its pid (also its process group and session).
    static func spawn(supervisor: String, runDirectory: String, argv: [String],
                      environment: [String: Secret]) throws(SpawnError) -> Int32 {
        guard !argv.isEmpty else { throw SpawnError(message: "empty argv") }
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
        posix_spawnattr_setflags(&attr, Int16(posixSpawnSetsid | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, runDirectory + "/engine.log",
                                         O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let args = [supervisor, runDirectory, "--"] + argv
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        // Secret values exist in clear only in this envp, freed right after the spawn.
        var cEnv: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }
            .map { strdup($0.key + "=" + $0.value.reveal()) }
        cEnv.append(nil)
        defer {
            for p in cArgs { free(p) }
            for p in cEnv {
                if let p { memset(p, 0, strlen(p)) }
                free(p)
            }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, supervisor, &actions, &attr, cArgs, cEnv)
        guard rc == 0 else {
            throw SpawnError(message: "cannot start \(supervisor): \(String(cString: strerror(rc)))")
        }
        return pid
    }
}
