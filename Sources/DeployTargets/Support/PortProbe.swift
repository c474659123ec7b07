#if canImport(Glibc)
import Glibc
#endif

/// Finds ports an engine can bind: tries to bind a TCP socket on the target host (with
/// `SO_REUSEADDR`, as servers do, so ports in TIME_WAIT count as free).
public enum PortProbe {
    /// The first port from `preferred` up that is bindable on `host` and not in `avoiding`;
    /// `preferred` itself when none is.
    public static func firstFree(host: String, from preferred: Int, avoiding: Set<Int>) -> Int {
        var port = max(preferred, 1)
        while port <= 65_535 {
            if !avoiding.contains(port), isBindable(host: host, port: port) { return port }
            port += 1
        }
        return preferred
    }

    /// True when a TCP socket can bind `host:port` right now (IPv4 or IPv6 literal; wildcard when empty).
    public static func isBindable(host: String, port: Int) -> Bool {
        guard (1...65_535).contains(port) else { return false }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.contains(":") { return bind6(bare, port) }
        return bind4(bare.isEmpty ? "0.0.0.0" : (bare == "localhost" ? "127.0.0.1" : bare), port)
    }

    private static func bind4(_ host: String, _ port: Int) -> Bool {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        if inet_pton(AF_INET, host, &addr.sin_addr) != 1 {
            addr.sin_addr.s_addr = 0  // a host name: check the wildcard address
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func bind6(_ host: String, _ port: Int) -> Bool {
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)
        addr.sin6_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET6, host, &addr.sin6_addr) == 1 else { return false }
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
            }
        }
    }
}
