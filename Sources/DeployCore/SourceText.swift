/// A file's text as it was read: UTF-8 bytes, decoded only where a line is quoted. Diagnostics quote
/// a few lines of a file; decoding a whole large manifest up front cost a millisecond per 1.5 MB,
/// on one thread, before parsing could start.
public struct SourceText: Sendable {
    /// The bytes as read (possibly invalid UTF-8: lines are decoded with repairs).
    public let bytes: [UInt8]

    /// Text from bytes as read; the array is shared, not copied.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Text from a string (tests, the `--set` pseudo-file).
    public init(_ text: String) { bytes = Array(text.utf8) }

    /// The whole text, invalid UTF-8 replaced by U+FFFD.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
