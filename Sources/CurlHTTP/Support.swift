#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif
internal import CCurl

/// A reading of the monotonic clock (`CLOCK_MONOTONIC`), in nanoseconds since an arbitrary origin.
///
/// Used for request timing (TTFT, inter-chunk gaps): it never jumps with wall-clock changes.
public struct MonotonicTime: Hashable, Comparable, Sendable {
    /// Nanoseconds since the clock's origin (boot, on Linux).
    public var nanoseconds: UInt64

    /// Creates a reading from nanoseconds.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The current reading.
    public static func now() -> MonotonicTime {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicTime(nanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    public func seconds(since earlier: MonotonicTime) -> Double {
        Double(Int64(bitPattern: nanoseconds &- earlier.nanoseconds)) / 1e9
    }

    /// Milliseconds from `earlier` to `self`.
    public func milliseconds(since earlier: MonotonicTime) -> Double {
        seconds(since: earlier) * 1000
    }

    /// Orders readings.
    public static func < (lhs: MonotonicTime, rhs: MonotonicTime) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }
}

/// One-time process-wide `curl_global_init`, done before the first handle is created.
enum CurlGlobal {
    private static let initialised: Bool = {
        dsd_curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
    }()

    /// Loads (on first use) and initialises libcurl; throws, naming the request, when the library
    /// cannot be loaded. Called before any handle is made.
    static func require(method: String, url: String) throws(HTTPError) {
        if let why = dsd_curl_load_error() {
            throw HTTPError(kind: .other, message: String(cString: why), method: method, url: url)
        }
        ensure()
    }

    /// Ensures libcurl is initialised; returns false if initialisation failed.
    @discardableResult
    static func ensure() -> Bool { initialised }

    /// libcurl's version string (`libcurl/7.88.1 OpenSSL/3.0.x ...`).
    static var version: String {
        guard let v = dsd_curl_version() else { return "libcurl" }
        return String(cString: v)
    }
}

/// Starts a detached OS thread running `body` (used for the multi interface's event loop).
func startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { arg in
        guard let arg else { return nil }
        let box = Unmanaged<Box>.fromOpaque(arg).takeRetainedValue()
        box.body()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<Box>.fromOpaque(box).release()
        return false
    }
    pthread_detach(tid)
    return true
}
