internal import CCrypto
public import DeployCore
public import DeployKit
import Foundation

/// Keyed digests of env values that a revision cannot show (secrets and `valueFrom` values), so a
/// changed value behind the same source restarts the replicas that use it.
///
/// HMAC-SHA256 under a random 32-byte key kept in the state directory (`secret-digest.key`, mode
/// 0600, created on first use). The state holds only digests; without the key file they cannot be
/// checked against guessed values, and a new key (a new state directory) never matches old digests
/// (which then count as unknown, not as changed).
public struct SecretDigester: Sendable {
    private let key: [UInt8]

    /// Reads the key of `stateDirectory`, creating it when missing.
    public init(stateDirectory: String) throws {
        let path = stateDirectory + "/secret-digest.key"
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        if let data = FileManager.default.contents(atPath: path), data.count == 32 {
            key = [UInt8](data)
            return
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: .min ... .max, using: &rng) }
        // Written to a private temporary file and renamed: a concurrent reader sees all or nothing.
        let tmp = path + ".\(getpid()).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw SecretDigestError("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, 32) }
        close(fd)
        guard written == 32, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw SecretDigestError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        key = bytes
    }

    /// Creates a digester with a given key (tests).
    public init(key: [UInt8]) { self.key = key }

    /// `hmac-sha256:` + the first 16 bytes in hex of HMAC(key, name NUL value).
    public func digest(name: String, value: Secret) -> String {
        let out = hmac([UInt8](name.utf8) + [0] + [UInt8](value.reveal().utf8))
        return "hmac-sha256:" + out.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// HMAC-SHA256 of `message` under the key.
    func hmac(_ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    dsd_hmac_sha256(k.baseAddress, Int32(k.count), m.baseAddress, m.count, o.baseAddress)
                }
            }
        }
        precondition(ok == 1, "HMAC-SHA256 failed")
        return out
    }

    /// Digests of `environment`'s values for the env entries of `spec` whose value the revision does
    /// not show (secrets, `valueFrom`); nil when there are none.
    public func digests(for spec: LaunchSpec, environment: [String: Secret]) -> [String: String]? {
        var out: [String: String] = [:]
        for e in spec.env where e.value == nil {
            if let v = environment[e.name] { out[e.name] = digest(name: e.name, value: v) }
        }
        return out.isEmpty ? nil : out
    }
}

/// A digest key that could not be read or written.
public struct SecretDigestError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
