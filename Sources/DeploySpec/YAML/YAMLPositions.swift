internal import CYaml
import DeployCore

/// Converts libyaml marks and byte offsets into 1-based `SourceLocation`s.
///
/// libyaml counts `mark.column` and `mark.index` in characters (Unicode scalars), which is
/// what `SourceLocation` wants, but it also treats a lone CR, NEL (U+0085), LS (U+2028) and
/// PS (U+2029) as line breaks where editors see only LF. Files containing those get a
/// character-index → LF-line table, built once; every other file uses libyaml's line and
/// column directly. Byte offsets (needed for first-line lengths and reader errors) are found
/// with a forward-only cursor, so the whole parse scans the input at most once more.
struct YAMLPositions {
    /// The interned id (`SourceFiles`) of the file put into every location, looked up once per parse.
    let fileID: UInt32
    /// The input bytes (after any UTF-8 BOM); valid for the whole parse.
    let bytes: UnsafeBufferPointer<UInt8>
    /// Character index of the first character of each LF-terminated line, when libyaml's
    /// notion of lines differs from LF lines; nil otherwise.
    private let lineStarts: [Int]?
    /// Lines of the file before `bytes` (a part of the file, cut at a line start).
    let lineBase: Int
    /// Forward cursor: the character index `cursorChar` starts at byte `cursorByte`.
    private var cursorChar = 0
    private var cursorByte = 0

    init(file: String, bytes: UnsafeBufferPointer<UInt8>, lineBase: Int = 0) {
        self.fileID = SourceFiles.id(file)
        self.bytes = bytes
        self.lineBase = lineBase
        self.lineStarts = Self.hasOddBreaks(bytes) ? Self.lfLineStarts(bytes) : nil
    }

    /// The location of a libyaml mark.
    func location(_ mark: yaml_mark_t) -> SourceLocation {
        guard let starts = lineStarts else {
            return SourceLocation(fileID: fileID, line: lineBase + mark.line + 1, column: mark.column + 1)
        }
        // Last line start <= index (binary search).
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= mark.index { lo = mid } else { hi = mid - 1 }
        }
        return SourceLocation(fileID: fileID, line: lineBase + lo + 1, column: mark.index - starts[lo] + 1)
    }

    /// Columns from `start` to `end` when both are on one line, else to the end of start's line.
    mutating func firstLineLength(from start: yaml_mark_t, to end: yaml_mark_t) -> Int {
        if start.line == end.line { return max(0, end.index - start.index) }
        var byte = byteOffset(ofCharacter: start.index)
        var count = 0
        while byte < bytes.count, bytes[byte] != 0x0A, bytes[byte] != 0x0D {
            if bytes[byte] & 0xC0 != 0x80 { count += 1 }
            byte += 1
        }
        return count
    }

    /// Byte offset of the character with libyaml index `index` (monotonic calls are cheapest).
    mutating func byteOffset(ofCharacter index: Int) -> Int {
        if index < cursorChar { cursorChar = 0; cursorByte = 0 }
        var byte = cursorByte, char = cursorChar
        while char < index, byte < bytes.count {
            byte += 1
            while byte < bytes.count, bytes[byte] & 0xC0 == 0x80 { byte += 1 }
            char += 1
        }
        cursorByte = byte
        cursorChar = char
        return byte
    }

    /// The text of the line holding the character with libyaml index `index` (LF-terminated lines).
    mutating func line(at index: Int) -> String {
        let at = min(byteOffset(ofCharacter: index), bytes.count)
        var start = at, end = at
        while start > 0, bytes[start - 1] != 0x0A { start -= 1 }
        while end < bytes.count, bytes[end] != 0x0A, bytes[end] != 0x0D { end += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// The location of a byte offset (for libyaml reader errors, which report bytes).
    func location(ofByte offset: Int) -> SourceLocation {
        let end = min(max(0, offset), bytes.count)
        var line = lineBase + 1, column = 1
        for i in 0..<end {
            let b = bytes[i]
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourceLocation(fileID: fileID, line: line, column: column)
    }

    /// True when the input has a lone CR, NEL, LS or PS (breaks for libyaml, not for editors).
    ///
    /// Skips 8 bytes at a time while they are ASCII without CR (the common case).
    static func hasOddBreaks(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        let n = bytes.count
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let crs: UInt64 = 0x0D0D_0D0D_0D0D_0D0D
        var i = 0
        while i < n {
            if i + 8 <= n {
                let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let x = w ^ crs
                if (w | ((x &- ones) & ~x)) & highs == 0 {
                    i += 8
                    continue
                }
            }
            let b = bytes[i]
            if b == 0x0D {
                if i + 1 >= n || bytes[i + 1] != 0x0A { return true }
            } else if b == 0xC2 {
                if i + 1 < n, bytes[i + 1] == 0x85 { return true }
            } else if b == 0xE2 {
                if i + 2 < n, bytes[i + 1] == 0x80, bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9 {
                    return true
                }
            }
            i += 1
        }
        return false
    }

    /// Character index at which each LF line starts (CRLF counts as two characters, as in libyaml).
    private static func lfLineStarts(_ bytes: UnsafeBufferPointer<UInt8>) -> [Int] {
        var starts = [0]
        var char = 0
        for b in bytes where b & 0xC0 != 0x80 {
            char += 1
            if b == 0x0A { starts.append(char) }
        }
        return starts
    }
}
