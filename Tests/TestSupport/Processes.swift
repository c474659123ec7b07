public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished process printed and how it exited.
public struct ProcessOutput: Sendable {
    /// Exit status (or the signal number when it was killed).
    public var status: Int32
    /// Everything it wrote to stdout.
    public var out: String
    /// Everything it wrote to stderr.
    public var err: String

    /// Creates a result.
    public init(status: Int32, out: String, err: String) {
        self.status = status
        self.out = out
        self.err = err
    }
}

/// Runs `executable` with `arguments` (no shell) and waits for it. stdout and stderr are read
/// concurrently, so a process that fills one pipe while the other is being read cannot deadlock.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       cwd: String? = nil, stdin: Data? = nil) throws -> ProcessOutput {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let o = Pipe(), e = Pipe(), input = Pipe()
    p.standardOutput = o
    p.standardError = e
    p.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try p.run()
    if let stdin {
        input.fileHandleForWriting.write(stdin)
        try? input.fileHandleForWriting.close()
    }
    nonisolated(unsafe) var errData = Data()
    let errDone = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errData = e.fileHandleForReading.readDataToEndOfFile()
        errDone.signal()
    }
    let outData = o.fileHandleForReading.readDataToEndOfFile()
    errDone.wait()
    p.waitUntilExit()
    return ProcessOutput(status: p.terminationStatus, out: String(decoding: outData, as: UTF8.self),
                         err: String(decoding: errData, as: UTF8.self))
}

/// A loopback TCP port for a server a test starts, free a moment ago together with the ports a
/// deployment derives from it: `port+1 … port+7` (replica i listens on `port+i`), `port+100 …`
/// (node r of a multi-node group on `port+100·r`) and `port+1000 …` (its rendezvous port).
///
/// Picked at random below the kernel's ephemeral range (32768–60999 here), where no client
/// connection of a parallel test can take one of them between the check and the server's bind,
/// and never handed out twice in one test process. (The kernel's pick for port 0 is an ephemeral
/// port: its neighbours are exactly where outgoing connections land, which once made a second
/// replica's engine fail to bind in CI.)
public func freePort() -> Int {
    PortReservations.shared.reserve()
}

/// The ports `freePort()` handed out in this process.
final class PortReservations: @unchecked Sendable {
    static let shared = PortReservations()
    private let lock = NSLock()
    private var taken: Set<Int> = []

    func reserve() -> Int {
        lock.lock()
        defer { lock.unlock() }
        for _ in 0..<10_000 {
            let base = Int.random(in: 20_000..<30_000)
            let ports = [0, 100, 1000].flatMap { off in (0..<8).map { base + off + $0 } }
            guard taken.isDisjoint(with: ports), ports.allSatisfy(Self.bindable) else { continue }
            taken.formUnion(ports)
            return base
        }
        return 0
    }

    /// Whether a listener could bind 127.0.0.1:`port` now.
    static func bindable(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A TCP port of 127.0.0.1 that refuses connections for as long as this value lives: a socket bound
/// to it that never listens, so no other socket can take the port (a stopped server's port can be
/// taken by the next test's server, which then answers instead of refusing).
public final class RefusingPort: @unchecked Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            let e = errno
            close(fd)
            throw POSIXError(.init(rawValue: e) ?? .EIO)
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}

/// A listening TCP socket on 127.0.0.1 at a port the kernel picks: its descriptor and port, or nil
/// (nothing left open) when it cannot listen. For test servers that answer on their own threads.
public func loopbackListener(backlog: Int32, reuseAddress: Bool = false) -> (fd: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    if reuseAddress {
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
            bind(fd, sa, len) == 0 && listen(fd, backlog) == 0 && getsockname(fd, sa, &len) == 0
        }
    }
    guard ok else {
        close(fd)
        return nil
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}
