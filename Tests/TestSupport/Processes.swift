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

/// A loopback TCP port that was free a moment ago (the kernel's pick for port 0), for servers a
/// test starts. Tests running in parallel each get their own.
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { ptr in
        ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Bool in
            bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
        }
    }
    return bound ? Int(UInt16(bigEndian: addr.sin_port)) : 0
}
