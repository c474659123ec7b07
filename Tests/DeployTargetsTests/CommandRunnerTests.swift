import Foundation
import Synchronization
import Testing
@testable import DeployTargets

/// `CommandRunner` (ssh and GPU queries of Docker hosts): each run's messages are its own.
@Suite struct CommandRunnerTests {
    /// Runs with the same name at once, in one directory (as two dsdeploy processes sharing a state
    /// directory, or two threads reaching one host, do): each gets its own stderr and stdout, and
    /// nothing is left in the directory.
    @Test func concurrentRunsKeepTheirOwnMessages() throws {
        let dir = NSTemporaryDirectory() + "dsd-runner-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let results = Mutex<[Int: (status: Int32, output: String, error: String)]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let r = CommandRunner.run(["/bin/sh", "-c", "echo out-\(i); echo message-\(i) >&2; sleep 0.2; exit 3"],
                                      environment: ["PATH": "/usr/bin:/bin"], directory: dir, name: "ssh-samehost",
                                      captureOutput: true)
            results.withLock { $0[i] = r }
        }
        let all = results.withLock { $0 }
        #expect(all.count == 8)
        for (i, r) in all {
            #expect(r.status == 3 && r.error == "message-\(i)" && r.output == "out-\(i)\n", "run \(i): \(r)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "each run's files are removed once read")
    }
}

/// `SSHTunnel.accepts`: a forwarded socket is used as is only while something answers on it.
@Suite struct SSHTunnelSocketTests {
    @Test func aSocketFileNothingAnswersOnIsNotUsed() throws {
        let dir = NSTemporaryDirectory() + "dsd-sock-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/docker.sock"
        #expect(!SSHTunnel.accepts(path), "no file")
        // A listening socket answers; once its listener is gone, the file stays and answers no more.
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0 && listen(fd, 4) == 0)
        #expect(SSHTunnel.accepts(path))
        close(fd)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(!SSHTunnel.accepts(path), "a stale socket file")
    }
}

/// `SSHTunnel.reset` after a failed request: only a request that went over the current forward may
/// close the master. Requests to a host run in parallel and closing the master cuts all of them, so
/// without the check each of those, failing in turn, closed the master that the previous one had just
/// opened again (CI: "Empty reply from server" for a host whose engine was fine, retry included).
@Suite struct SSHTunnelResetTests {
    @Test func aStaleFailureLeavesTheNewConnectionAlone() throws {
        let dir = NSTemporaryDirectory() + "dsd-tunnel-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A stand-in for ssh: logs its -O command; a master is always running, forwards succeed.
        let fake = dir + "/ssh"
        try """
        #!/bin/sh
        while [ $# -gt 0 ]; do [ "$1" = "-O" ] && echo "$2" >> \(dir)/calls; shift; done
        exit 0

        """.write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let tunnel = SSHTunnel(destination: "h20-a", port: nil, remoteSocket: "/run/docker.sock", configFile: nil,
                               directory: dir, environment: ["PATH": "/usr/bin:/bin"])
        tunnel.program = fake
        func exits() -> Int {
            ((try? String(contentsOfFile: dir + "/calls", encoding: .utf8)) ?? "").split(separator: "\n").filter { $0 == "exit" }.count
        }
        let first = try tunnel.openCounted()
        #expect(try tunnel.openCounted().generation == first.generation, "an open forward is reused")
        tunnel.reset(closeMaster: true, generation: first.generation)
        #expect(exits() == 1)
        let second = try tunnel.openCounted()
        #expect(second.generation > first.generation)
        // A request sent over the first forward fails late: the second is left alone.
        tunnel.reset(closeMaster: true, generation: first.generation)
        #expect(exits() == 1)
        #expect(try tunnel.openCounted().generation == second.generation)
        tunnel.reset(closeMaster: true, generation: second.generation)
        #expect(exits() == 2)
        #expect(try tunnel.openCounted().generation > second.generation)
    }
}
