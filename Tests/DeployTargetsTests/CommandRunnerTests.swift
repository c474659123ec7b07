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
