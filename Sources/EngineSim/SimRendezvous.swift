import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SGLang's multi-node start-up as the simulator plays it (`--nnodes N --node-rank R
/// --dist-init-addr HOST:PORT`): rank 0 serves a TCP store at the init address and opens its HTTP
/// port only after every other rank joined; a rank > 0 joins (retrying until rank 0 listens, as
/// torch.distributed does) and then runs only the dummy health server. A peer whose connection goes
/// away ends the group: the survivors exit 1, as an NCCL timeout would end them (sooner, for tests).
/// A rank that never joins leaves rank 0 waiting, so the group never becomes ready.
final class SimRendezvous: @unchecked Sendable {
    /// Connected peers: rank 0's to every other rank, or a rank's one connection to rank 0.
    private let peers: [(rank: Int, fd: Int32)]

    private init(peers: [(rank: Int, fd: Int32)]) { self.peers = peers }

    /// `host:port` (IPv6 as `[addr]:port`), or nil.
    static func split(_ address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// The socket address of `host:port`.
    private static func resolve(_ host: String, _ port: Int) -> (family: Int32, address: [UInt8])? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        let bytes = UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen))
        return (first.pointee.ai_family, Array(bytes))
    }

    /// Rank 0: listens on the init address and returns once ranks 1 ..< `nnodes` have all joined.
    static func lead(host: String, port: Int, nnodes: Int, log: SimLog) throws -> SimRendezvous {
        guard let (family, address) = resolve(host, port) else { throw SimSetupError("cannot resolve --dist-init-addr host \(host)") }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SimSetupError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withUnsafeBytes { raw in
            bind(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(address.count))
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw SimSetupError("[Errno 98] error while attempting to bind the distributed init address \(host):\(port): \(why)")
        }
        log.info("Init torch distributed begin. nnodes=\(nnodes), waiting for \(nnodes - 1) node(s) at \(host):\(port)")
        var peers: [(Int, Int32)] = []
        var joined: Set<Int> = []
        while joined.count < nnodes - 1 {
            let c = accept(fd, nil, nil)
            if c < 0 { if errno == EINTR { continue }; break }
            guard let line = readLine(c), line.hasPrefix("rank "), let rank = Int(line.dropFirst(5)), (1..<nnodes).contains(rank),
                  joined.insert(rank).inserted else {
                close(c)
                continue
            }
            log.info("Node rank \(rank) joined the group")
            peers.append((rank, c))
        }
        close(fd)
        log.info("Init torch distributed ends. \(nnodes) nodes")
        return SimRendezvous(peers: peers)
    }

    /// Rank `rank` > 0: connects to rank 0 (every 100 ms until it listens) and announces itself.
    static func join(host: String, port: Int, rank: Int, log: SimLog) -> SimRendezvous {
        log.info("Init torch distributed begin. node_rank=\(rank), joining \(host):\(port)")
        while true {
            if let (family, address) = resolve(host, port) {
                let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
                if fd >= 0 {
                    let ok = address.withUnsafeBytes { raw in
                        connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(address.count)) == 0
                    }
                    if ok, write(fd, "rank \(rank)\n", "rank \(rank)\n".utf8.count) > 0 {
                        log.info("Init torch distributed ends. joined as node_rank=\(rank)")
                        return SimRendezvous(peers: [(0, fd)])
                    }
                    close(fd)
                }
            }
            usleep(100_000)
        }
    }

    /// Calls `onLost` once, when any peer's connection closes.
    func watch(_ onLost: @escaping @Sendable (Int) -> Void) {
        let fired = Once()
        for (rank, fd) in peers {
            let t = Thread {
                var byte: UInt8 = 0
                while true {
                    let n = read(fd, &byte, 1)
                    if n > 0 { continue }
                    if n < 0, errno == EINTR { continue }
                    break
                }
                if fired.first() { onLost(rank) }
            }
            t.start()
        }
    }

    /// One line (without its newline) from a socket, read byte by byte (the peer sends one short line).
    private static func readLine(_ fd: Int32) -> String? {
        var out: [UInt8] = []
        var byte: UInt8 = 0
        while out.count < 64 {
            let n = read(fd, &byte, 1)
            if n <= 0 { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: out, as: UTF8.self) }
            out.append(byte)
        }
        return nil
    }
}

/// True the first time only.
private final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func first() -> Bool { lock.withLock { defer { done = true }; return !done } }
}
