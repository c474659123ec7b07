import Foundation

/// Whether this machine should give a process an io_uring of the kind `bench` reads through: Linux
/// 6.1 or later (deferred task work) with io_uring not disabled (`/proc/sys/kernel/io_uring_disabled`
/// 0). Tests of reads through io_uring expect them exactly then.
public func ioUringExpected() -> Bool {
    #if os(Linux)
    var u = utsname()
    uname(&u)
    let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let parts = release.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
    let major = parts.first ?? 0, minor = parts.count > 1 ? parts[1] : 0
    let disabled = (try? String(contentsOfFile: "/proc/sys/kernel/io_uring_disabled", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "0"
    return (major > 6 || (major == 6 && minor >= 1)) && disabled == "0"
    #else
    return false
    #endif
}
