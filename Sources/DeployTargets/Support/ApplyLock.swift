import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One apply at a time per state directory: an exclusive `flock` on `STATE_DIR/lock`.
///
/// The kernel releases the lock when the holder exits or is SIGKILLed. While held, the file names
/// the holder (pid, command line, host, start time) so a second apply fails fast saying who holds it.
/// The descriptor is close-on-exec, so engines started during the apply never inherit the lock.
public final class ApplyLock: @unchecked Sendable {
    /// Who holds a lock, as written in the lock file.
    public struct Holder: Sendable, Hashable {
        /// The holder's process id.
        public var pid: Int32
        /// Its command line.
        public var command: String
        /// Host name of the machine.
        public var host: String
        /// When it took the lock (ISO 8601).
        public var since: String
    }

    /// Why the lock could not be taken.
    public struct Contention: Error, Sendable, Hashable, CustomStringConvertible {
        /// The holder, when its record could be read.
        public var holder: Holder?
        /// `another apply holds the lock: pid N (`dsdeploy apply …`) since TIME`.
        public var description: String {
            guard let h = holder else { return "another apply holds the lock (its holder has not written its name yet)" }
            let elsewhere = h.host == ApplyLock.hostName() ? "" : " on host \(h.host)"
            return "another apply holds the lock: pid \(h.pid) (`\(h.command)`) since \(h.since)\(elsewhere)"
        }
    }

    /// Path of the lock file.
    public let path: String
    private(set) var fd: Int32

    /// Takes the lock without waiting, or throws `Contention` naming the holder.
    ///
    /// - Parameter command: the command line to record (defaults to this process's arguments).
    public init(stateDirectory: String, command: String? = nil) throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        path = stateDirectory + "/lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StateError("cannot open \(path): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK { throw Contention(holder: ApplyLock.holder(at: path)) }
            throw StateError("cannot lock \(path): \(String(cString: strerror(err)))")
        }
        self.fd = fd
        let holder = Holder(pid: getpid(), command: command ?? CommandLine.arguments.joined(separator: " "),
                            host: ApplyLock.hostName(), since: ISO8601DateFormatter().string(from: Date()))
        let text = "pid=\(holder.pid)\ncommand=\(ApplyLock.oneLine(holder.command))\nhost=\(holder.host)\n"
            + "since=\(holder.since)\n"
        _ = ftruncate(fd, 0)
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = fsync(fd)
    }

    deinit { release() }

    /// Releases the lock (also done when the object goes away or the process exits).
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    /// The holder recorded in a lock file, nil when it is empty or unreadable.
    public static func holder(at path: String) -> Holder? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        guard let pid = fields["pid"].flatMap({ Int32($0) }) else { return nil }
        return Holder(pid: pid, command: fields["command"] ?? "?", host: fields["host"] ?? "?",
                      since: fields["since"] ?? "?")
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
