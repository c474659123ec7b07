import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An engine log file: the last lines, a scan for a line, and following it as it grows.
public struct LogFile: Sendable, Hashable {
    /// The file.
    public var path: String

    /// Wraps a path.
    public init(path: String) { self.path = path }

    /// The last `lines` lines (without newlines); empty when the file is missing.
    public func tail(lines: Int) -> [String] {
        guard lines > 0 else { return [] }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        guard size > 0 else { return [] }
        var window = min(size, 16_384)
        while true {
            let bytes = readRange(fd, from: size - window, count: window)
            var parts = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            if parts.last?.isEmpty == true { parts.removeLast() }
            if parts.count > lines || window == size || window >= 4 << 20 {
                if window < size, parts.count > lines { parts.removeFirst() }  // first line may be partial
                return parts.suffix(lines).map { String(decoding: $0, as: UTF8.self) }
            }
            window = min(size, window * 4)
        }
    }

    /// Searches complete lines from byte `offset` on for `needle`; returns whether it was found and the
    /// offset to continue from (the start of the last incomplete line).
    public func scan(for needle: String, from offset: Int) -> (found: Bool, next: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (false, offset) }
        defer { close(fd) }
        let size = Int(lseek(fd, 0, SEEK_END))
        var start = size < offset ? 0 : offset  // truncated: start over
        let target = Array(needle.utf8)
        while start < size {
            let bytes = readRange(fd, from: start, count: min(size - start, 1 << 20))
            guard let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) else {
                return (false, bytes.count >= 1 << 20 ? start + bytes.count : start)
            }
            for line in bytes[..<lastNewline].split(separator: UInt8(ascii: "\n")) where LogFile.contains(line, target) {
                return (true, start + lastNewline + 1)
            }
            start += lastNewline + 1
        }
        return (false, start)
    }

    /// Follows the file: calls `onText` with the last `lines` lines, then with new text as it is
    /// appended, polling every `interval` seconds until `shouldStop` returns true.
    public func follow(lines: Int = 20, interval: Double = 0.2, shouldStop: () -> Bool, onText: (String) -> Void) {
        let initial = tail(lines: lines)
        if !initial.isEmpty { onText(initial.joined(separator: "\n") + "\n") }
        var offset = currentSize()
        while !shouldStop() {
            let size = currentSize()
            if size < offset { offset = 0 }  // truncated or replaced
            if size > offset {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                if fd >= 0 {
                    let bytes = readRange(fd, from: offset, count: size - offset)
                    close(fd)
                    offset += bytes.count
                    if !bytes.isEmpty { onText(String(decoding: bytes, as: UTF8.self)) }
                }
            } else {
                usleep(UInt32(max(interval, 0.01) * 1_000_000))
            }
        }
    }

    /// The file's size in bytes (0 when missing).
    public func currentSize() -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    private func readRange(_ fd: Int32, from offset: Int, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var buf = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buf.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return pread(fd, base + got, count - got, off_t(offset + got))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            got += n
        }
        return Array(buf[0..<got])
    }

    static func contains(_ hay: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard hay.count >= needle.count else { return false }
        var i = hay.startIndex
        while i + needle.count <= hay.endIndex {
            if hay[i] == needle[0], hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}

/// A flag set from one place and read from another (a follow loop told to stop).
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
