import DeployCore
import Foundation
import POSIXSpawn
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

    /// `$DSDEPLOY_SUPERVISOR` in `environment` (the caller's view of the process environment), else
    /// `dsdeploy-supervisor` next to this process's executable.
    static func supervisorPath(environment: [String: String]) throws(SpawnError) -> String {
        if let p = environment["DSDEPLOY_SUPERVISOR"], !p.isEmpty {
            guard access(p, X_OK) == 0 else { throw SpawnError(message: "$DSDEPLOY_SUPERVISOR (\(p)) is not executable") }
            return p
        }
        guard let exe = ProcFS.executablePath() else {
            throw SpawnError(message: "cannot read /proc/self/exe to find dsdeploy-supervisor")
        }
        let candidate = (exe as NSString).deletingLastPathComponent + "/dsdeploy-supervisor"
        guard access(candidate, X_OK) == 0 else {
            throw SpawnError(message: "dsdeploy-supervisor not found next to \(exe); set $DSDEPLOY_SUPERVISOR")
        }
        return candidate
    }

    /// Spawns the supervisor for `argv` in `runDirectory`; returns its pid (also its process group and session).
    /// With more than one argv in `nodes`, the supervisor runs them as one multi-node group.
    static func spawn(supervisor: String, runDirectory: String, argv: [String], nodes: [[String]] = [],
                      environment: [String: Secret]) throws(SpawnError) -> Int32 {
        guard !argv.isEmpty else { throw SpawnError(message: "empty argv") }
        let tail = nodes.count > 1
            ? ["--nodes", String(nodes.count), "--"] + nodes.flatMap { [String($0.count)] + $0 }
            : ["--"] + argv
        // Secret values exist in clear only while each entry is copied into the envp, which is
        // zeroed and freed right after the spawn.
        let entries = environment.sorted { $0.key < $1.key }.lazy.map { $0.key + "=" + $0.value.reveal() }
        do {
            return try Spawner.spawn(
                argv: [supervisor, runDirectory] + tail, environment: entries,
                fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                              .open(1, path: runDirectory + "/engine.log", flags: O_WRONLY | O_CREAT | O_APPEND,
                                    mode: 0o644),
                              .duplicate(1, to: 2)],
                newSession: true)
        } catch {
            throw SpawnError(message: "cannot start \(supervisor): \(error.reason)")
        }
    }
}
