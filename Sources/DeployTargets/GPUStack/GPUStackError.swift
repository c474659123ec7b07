/// A GPUStack API failure, worded for the person running dsdeploy. Never carries the API key.
public struct GPUStackError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure.
    public enum Kind: String, Sendable, Equatable {
        /// The server could not be reached (refused, DNS, timeout, TLS).
        case unreachable
        /// 401/403: the key is wrong, expired or lacks the scope.
        case unauthorized
        /// 404 (or GPUStack's 400 "not found").
        case notFound
        /// 409: a conflict (name taken, restart in flight).
        case conflict
        /// Another 4xx: GPUStack refused the request.
        case rejected
        /// 5xx.
        case server
        /// A body dsdeploy could not read.
        case protocolError
        /// The server is not a GPUStack version this target was tested with.
        case unsupportedVersion
        /// Waiting for instances ran out of time.
        case timeout
    }

    /// The kind.
    public var kind: Kind
    /// HTTP status, 0 when none.
    public var status: Int
    /// The sentence to print.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, status: Int = 0, _ message: String) {
        self.kind = kind
        self.status = status
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
