import Foundation

/// Whether this machine should give a process an io_uring: Linux 6.0 or later with io_uring not
/// disabled (`/proc/sys/kernel/io_uring_disabled` 0). Tests of batched reads expect them exactly then.
public func ioUringExpected() -> Bool {
    #if os(Linux)
    var u = utsname()
    uname(&u)
    let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let major = Int(release.split(separator: ".").first ?? "") ?? 0
    let disabled = (try? String(contentsOfFile: "/proc/sys/kernel/io_uring_disabled", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? "0"
    return major >= 6 && disabled == "0"
    #else
    return false
    #endif
}
