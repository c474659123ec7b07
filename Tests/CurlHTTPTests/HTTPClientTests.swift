import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import CurlHTTP

@Suite struct HTTPClientTests {
    let client = HTTPClient()

    @Test func getAndStatusCodes() async throws {
        let server = try await TestServer.start()
        let ok = try client.get(server.base + "/status/200")
        #expect(ok.status == 200)
        #expect(ok.text == "status 200")
        #expect(ok.headers["X-Test"] == "yes")
        let missing = try client.get(server.base + "/status/503")
        #expect(missing.status == 503)  // HTTP errors are responses, not thrown
        await server.stop()
    }

    @Test func postBodyHeadersAndBearer() async throws {
        let server = try await TestServer.start()
        var request = HTTPRequest.json(url: server.base + "/echo?x=1", json: #"{"a":[1,2]}"#,
                                       headers: [("X-Custom", "v1")])
        request.setBearerToken("s3cret-token")
        let response = try client.send(request)
        let text = response.text
        #expect(text.hasPrefix("POST /echo?x=1\n"))
        #expect(text.contains("authorization: Bearer s3cret-token\n"))
        #expect(text.contains("content-type: application/json\n"))
        #expect(text.contains("x-custom: v1\n"))
        #expect(!text.lowercased().contains("expect: 100"))
        #expect(text.hasSuffix("\n\n{\"a\":[1,2]}"))
        // Binary bodies with NUL bytes survive, and other methods carry bodies too.
        let put = try client.send(HTTPRequest(method: "PUT", url: server.base + "/echo", body: [0, 1, 2, 0]))
        #expect(put.body.suffix(4) == [0, 1, 2, 0])
        #expect(put.text.hasPrefix("PUT /echo"))
        let del = try client.send(HTTPRequest(method: "DELETE", url: server.base + "/echo"))
        #expect(del.text.hasPrefix("DELETE /echo"))
        await server.stop()
    }

    @Test func connectionRefusedNamesTheCauseButNotTheToken() async throws {
        // A port held bound but not listening: connecting is refused, and no other test's listener or
        // outgoing connection can take it meanwhile (a stopped server's port could be reused: "reset").
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let request = HTTPRequest(url: "http://user:pw@127.0.0.1:\(port)/health", timeout: 5)
            .withBearerToken("s3cret-token")
        #expect {
            _ = try client.send(request)
        } throws: { error in
            guard let e = error as? HTTPError else { return false }
            let text = e.description
            return e.kind == .connectionFailed && e.isConnectionFailure
                && text.contains("127.0.0.1") && !text.contains("s3cret") && !text.contains("pw@")
                && text.contains("***@")
        }
    }

    @Test func timeout() async throws {
        let server = try await TestServer.start()
        do {
            _ = try client.send(HTTPRequest(url: server.base + "/slow?ms=3000", timeout: 0.3))
            Issue.record("expected a timeout")
        } catch {
            #expect(error.kind == .timeout, "timed out, not answered after the server's 3 s")
            #expect(error.message.lowercased().contains("timed out") || error.message.contains("Timeout"))
        }
        await server.stop()
    }

    @Test func badRequestsAreRejectedWithoutLeakingValues() throws {
        #expect(throws: HTTPError.self) {
            _ = try client.send(HTTPRequest(url: "http://127.0.0.1:1/", headers: [("Authorization", "Bearer x\r\nEvil: 1")]))
        }
        do {
            _ = try client.send(HTTPRequest(url: "http://127.0.0.1:1/", headers: [("Authorization", "tok\nen")]))
        } catch {
            #expect(error.kind == .invalidRequest)
            #expect(!error.description.contains("tok"))
        }
        do {
            _ = try client.send(HTTPRequest(url: "notascheme://x"))
        } catch {
            #expect(error.kind == .invalidRequest)
        }
    }

    @Test func unixSocket() async throws {
        let path = "/tmp/curlhttp-test-\(MonotonicTime.now().nanoseconds).sock"
        let server = try await TestServer.start(unixSocket: path)
        let response = try client.send(HTTPRequest(url: "http://localhost/status/204", unixSocketPath: path))
        #expect(response.status == 204)
        await server.stop()
    }

    @Test func errorKindsFromCurlCodes() {
        #expect(HTTPError.kind(curlCode: 6) == .dns)
        #expect(HTTPError.kind(curlCode: 7) == .connectionFailed)
        #expect(HTTPError.kind(curlCode: 28) == .timeout)
        #expect(HTTPError.kind(curlCode: 60) == .tls)
        #expect(HTTPError.kind(curlCode: 35) == .tls)
        #expect(HTTPError.kind(curlCode: 52) == .transport)
        #expect(HTTPError.redact("https://a:b@host:1/p?q=@") == "https://***@host:1/p?q=@")
        #expect(HTTPError.redact("http://host/p@x") == "http://host/p@x")
        #expect(!HTTPClient.libcurlVersion.isEmpty)
    }
}
