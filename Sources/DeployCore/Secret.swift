/// A value that must never be printed, logged, planned or stored in clear.
///
/// `description` is always `***`; only `reveal()` gives the value, for the process environment.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    /// Wraps a secret value.
    public init(_ value: String) { self.value = value }

    /// The clear value; call only where it is handed to a process environment.
    public func reveal() -> String { value }

    /// Always `***`.
    public var description: String { "***" }
    /// Always `Secret(***)`.
    public var debugDescription: String { "Secret(***)" }
}
