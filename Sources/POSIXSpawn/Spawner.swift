// A leaf module on Glibc alone: `dsdeploy-supervisor` uses it and must not link Foundation.
internal import Glibc

/// Starts a child process with `posix_spawn`: default signal dispositions, an empty signal mask,
/// the given file actions, no other inherited descriptor (glibc 2.34+), and an explicit
/// environment. Linux (glibc) only.
///
/// ```swift
/// let pid = try Spawner.spawn(argv: ["/bin/true"], environment: [],
///                             fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY)])
/// ```
public enum Spawner {
    /// One step applied in the child before it runs the program, in order.
    public enum FileAction: Sendable, Hashable {
        /// Opens `path` with `flags` (and `mode` for a file it creates) as descriptor `fd`.
        case open(Int32, path: String, flags: Int32, mode: UInt32 = 0)
        /// Makes descriptor `target` a copy of `source` (`dup2(source, target)`).
        case duplicate(Int32, to: Int32)
    }

    /// Why `posix_spawn` failed: its error number and the system's words for it.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// The error number `posix_spawn` returned (`ENOENT`, `EACCES` ...).
        public var code: Int32
        /// `strerror(code)`.
        public var reason: String { String(cString: strerror(code)) }
        /// The reason.
        public var description: String { reason }

        /// A failure with error number `code`.
        public init(code: Int32) { self.code = code }
    }

    /// glibc's `POSIX_SPAWN_SETSID` (behind `_GNU_SOURCE`, so not imported): the child calls setsid().
    static let setsidFlag: Int32 = 0x80

    /// glibc 2.34's `posix_spawn_file_actions_addclosefrom_np` (behind `_GNU_SOURCE`, so looked up
    /// when first needed; nil on an older glibc, where descriptors are left as they are).
    static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Spawns `argv` (`argv[0]` is the program: a path, or a name looked up in `$PATH` when
    /// `searchPath`) with exactly `environment` (`NAME=VALUE` entries) and returns its pid.
    ///
    /// Every signal the child can catch starts with its default disposition and none is blocked.
    /// With `newSession` the child calls setsid(), so it leads a new session and process group.
    /// The C copies of the environment are zeroed before they are freed, as they may hold secrets;
    /// pass a lazy sequence to keep each entry's `String` short-lived too.
    public static func spawn(argv: [String], environment: some Sequence<String>, fileActions: [FileAction],
                             searchPath: Bool = false, newSession: Bool = false) throws(Failure) -> Int32 {
        guard let program = argv.first else { throw Failure(code: EINVAL) }
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
        let flags = (newSession ? setsidFlag : 0) | Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        posix_spawnattr_setflags(&attr, Int16(flags))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var targets: Set<Int32> = [0, 1, 2]
        for action in fileActions {
            switch action {
            case .open(let fd, let path, let flags, let mode):
                posix_spawn_file_actions_addopen(&actions, fd, path, flags, mode_t(mode))
                targets.insert(fd)
            case .duplicate(let source, let target):
                posix_spawn_file_actions_adddup2(&actions, source, target)
                targets.insert(target)
            }
        }
        let highest = targets.max() ?? 2
        // The child gets the descriptors its file actions set up and no others. Whatever another
        // thread has open without close-on-exec at this moment (libcurl's sockets, a file being
        // written) would otherwise live on in the child: a daemon that inherited a script's write
        // descriptor made every later exec of that script fail with ETXTBSY.
        // Below the highest target, the descriptors that are not targets are closed one by one (a
        // descriptor that is not open is no error: glibc ignores EBADF for a close action).
        if let addCloseFrom {
            for fd in 3..<max(3, highest) where !targets.contains(fd) { posix_spawn_file_actions_addclose(&actions, fd) }
            _ = addCloseFrom(&actions, highest + 1)
        }

        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArgs.append(nil)
        var cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) }
        cEnv.append(nil)
        defer {
            for p in cArgs { free(p) }
            for p in cEnv {
                if let p { memset(p, 0, strlen(p)) }
                free(p)
            }
        }
        var pid: pid_t = 0
        let rc = searchPath
            ? posix_spawnp(&pid, program, &actions, &attr, cArgs, cEnv)
            : posix_spawn(&pid, program, &actions, &attr, cArgs, cEnv)
        guard rc == 0 else { throw Failure(code: rc) }
        return pid
    }
}
