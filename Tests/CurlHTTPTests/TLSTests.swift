import Foundation
import Testing
@testable import CurlHTTP
import TestSupport

/// TLS against a real `openssl s_server` on loopback with a throw-away self-signed certificate.
/// `scripts/setup.sh` installs `openssl`; without it this suite fails rather than being skipped.
@Suite struct TLSTests {
    /// Runs a command to completion (bounded by the command itself), returning its exit status.
    @discardableResult
    static func shell(_ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test func verificationOnByDefaultAndCABundle() async throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("curlhttp-tls-\(MonotonicTime.now().nanoseconds)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("cert.pem").path
        let key = dir.appendingPathComponent("key.pem").path
        let made = try Self.shell(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                   "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        try #require(made == 0)

        let port = freePort()

        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", key, "-www", "-quiet"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        // SIGKILL: children spawned from test threads inherit a signal mask that blocks SIGTERM.
        defer { kill(server.processIdentifier, SIGKILL) }
        let url = "https://127.0.0.1:\(port)/"
        let client = HTTPClient()
        var insecure = HTTPRequest(url: url, timeout: 5)
        insecure.tls = TLSOptions(verifyPeer: false)
        let up = await eventually(timeout: 30, interval: 0.1) { (try? client.send(insecure)) != nil }
        try #require(up, "openssl s_server did not listen")

        // Default: verification on, the self-signed certificate is rejected.
        do {
            _ = try client.send(HTTPRequest(url: url, timeout: 5))
            Issue.record("expected a TLS verification failure")
        } catch {
            #expect(error.kind == .tls)
            #expect(error.message.lowercased().contains("certificate"))
        }
        // Trusting the certificate through caBundle makes it pass with verification on.
        var trusted = HTTPRequest(url: url, timeout: 5)
        trusted.tls = TLSOptions(caBundle: cert)
        let response = try client.send(trusted)
        #expect(response.status == 200)
        // A CA bundle that does not exist is a TLS error, not a silent fallback.
        var missing = HTTPRequest(url: url, timeout: 5)
        missing.tls = TLSOptions(caBundle: dir.appendingPathComponent("nope.pem").path)
        #expect(throws: HTTPError.self) { _ = try client.send(missing) }
    }

    /// Mutual TLS as Docker's `--tlsverify` does it: the server demands a client certificate signed
    /// by its CA; the client sends one from memory (PEM blobs, so a key can come from a secret).
    @Test func clientCertificatesFromMemory() async throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("curlhttp-mtls-\(MonotonicTime.now().nanoseconds)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        // A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA.
        try #require(try Self.shell(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca-key.pem"),
                                     "-out", path("ca.pem"), "-days", "1", "-subj", "/CN=test-ca"]) == 0)
        for (name, subject, ext) in [("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"), ("client", "/CN=client", "extendedKeyUsage=clientAuth")] {
            try #require(try Self.shell(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("\(name)-key.pem"),
                                         "-out", path("\(name).csr"), "-subj", subject]) == 0)
            try ext.write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
            try #require(try Self.shell(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca-key.pem"),
                                         "-CAcreateserial", "-out", path("\(name).pem"), "-days", "1", "-extfile", path("\(name).ext")]) == 0)
        }
        let port = freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", path("server.pem"), "-key", path("server-key.pem"),
                            "-CAfile", path("ca.pem"), "-Verify", "1", "-verify_return_error", "-www", "-quiet"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL) }
        let url = "https://127.0.0.1:\(port)/"
        let client = HTTPClient()
        let ca = Array(try Data(contentsOf: URL(fileURLWithPath: path("ca.pem"))))
        let cert = Array(try Data(contentsOf: URL(fileURLWithPath: path("client.pem"))))
        let key = Array(try Data(contentsOf: URL(fileURLWithPath: path("client-key.pem"))))
        var mutual = HTTPRequest(url: url, timeout: 5)
        mutual.tls = TLSOptions(caPEM: ca, clientCertificatePEM: cert, clientKeyPEM: key)
        let up = await eventually(timeout: 30, interval: 0.1) { (try? client.send(mutual))?.status == 200 }
        #expect(up, "the server accepts the client certificate, and the CA from memory verifies it")
        // Without a client certificate the handshake is refused.
        var anonymous = HTTPRequest(url: url, timeout: 5)
        anonymous.tls = TLSOptions(caPEM: ca)
        #expect(throws: HTTPError.self) { _ = try client.send(anonymous) }
        // A certificate with the wrong key is refused by libcurl before anything is sent.
        var mismatched = HTTPRequest(url: url, timeout: 5)
        mismatched.tls = TLSOptions(caPEM: ca, clientCertificatePEM: cert,
                                    clientKeyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: path("server-key.pem")))))
        #expect(throws: HTTPError.self) { _ = try client.send(mismatched) }
        // The key never shows in a description.
        #expect(!mutual.tls.description.contains("PRIVATE") && mutual.tls.description.contains("client key (redacted)"))
    }
}
