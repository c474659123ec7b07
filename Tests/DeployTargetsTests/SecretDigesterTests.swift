import DeployCore
import Foundation
import Testing
@testable import DeployTargets

@Suite struct SecretDigesterTests {
    @Test func hmacSHA256MatchesRFC4231() {
        // RFC 4231, test case 2.
        let d = SecretDigester(key: Array("Jefe".utf8))
        let mac = d.hmac(Array("what do ya want for nothing?".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(mac == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func digestsDependOnKeyNameAndValue() {
        let a = SecretDigester(key: [UInt8](repeating: 1, count: 32))
        let b = SecretDigester(key: [UInt8](repeating: 2, count: 32))
        let x = a.digest(name: "HF_TOKEN", value: Secret("hf_abc"))
        #expect(x.hasPrefix("hmac-sha256:") && x.count == "hmac-sha256:".count + 32)
        #expect(x == a.digest(name: "HF_TOKEN", value: Secret("hf_abc")))
        #expect(x != a.digest(name: "HF_TOKEN", value: Secret("hf_abd")))
        #expect(x != a.digest(name: "API_KEY", value: Secret("hf_abc")))
        #expect(x != b.digest(name: "HF_TOKEN", value: Secret("hf_abc")))
        #expect(!x.contains("hf_abc"))
    }

    @Test func theKeyIsCreatedOncePrivately() throws {
        let dir = NSTemporaryDirectory() + "digest-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let one = try SecretDigester(stateDirectory: dir)
        let two = try SecretDigester(stateDirectory: dir)
        #expect(one.digest(name: "K", value: Secret("v")) == two.digest(name: "K", value: Secret("v")))
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/secret-digest.key")
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        #expect((attrs[.size] as? Int) == 32)
        let other = try SecretDigester(stateDirectory: dir + "-other")
        defer { try? FileManager.default.removeItem(atPath: dir + "-other") }
        #expect(other.digest(name: "K", value: Secret("v")) != one.digest(name: "K", value: Secret("v")))
    }
}
