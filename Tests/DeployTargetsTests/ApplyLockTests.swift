@testable import DeployTargets
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ApplyLockTests {
    /// Fails fast: the second lock never waits (a blocking flock would hang until the time limit;
    /// how fast it fails is measured in benchmarks/timing.sh).
    @Test(.timeLimit(.minutes(1))) func aSecondApplyFailsFastNamingTheHolder() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let held = try ApplyLock(stateDirectory: dir, command: "dsdeploy apply -f prod.yaml")
        #expect {
            _ = try ApplyLock(stateDirectory: dir, command: "dsdeploy apply -f other.yaml")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("another apply holds the lock: pid \(getpid()) (`dsdeploy apply -f prod.yaml`) since ")
                && (error as? ApplyLock.Contention)?.holder?.pid == getpid()
        }
        held.release()
        let again = try ApplyLock(stateDirectory: dir, command: "dsdeploy apply")
        #expect(ApplyLock.holder(at: again.path)?.command == "dsdeploy apply")
    }

    @Test func releasedWhenTheHolderGoesAway() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do { _ = try ApplyLock(stateDirectory: dir, command: "first") }
        _ = try ApplyLock(stateDirectory: dir, command: "second")
    }

    @Test func releasedByTheKernelWhenTheHolderIsKilled() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Another process takes the same flock and writes a holder record like ApplyLock does.
        let script = writeScript(dir, "holder.py", """
            import fcntl, os, sys, time
            f = open("\(dir)/lock", "a+")
            fcntl.flock(f, fcntl.LOCK_EX)
            f.truncate(0); f.write("pid=%d\\ncommand=dsdeploy apply -f x.yaml\\nhost=h\\nsince=2026-01-01T00:00:00Z\\n" % os.getpid()); f.flush()
            print("locked", flush=True)
            time.sleep(60)
            """)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python3)
        p.arguments = [script]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        _ = out.fileHandleForReading.availableData  // "locked"
        #expect {
            _ = try ApplyLock(stateDirectory: dir)
        } throws: { error in
            "\(error)".contains("pid \(p.processIdentifier) (`dsdeploy apply -f x.yaml`) since 2026-01-01T00:00:00Z")
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        _ = try ApplyLock(stateDirectory: dir)
    }

    @Test func theLockIsNotInheritedByChildren() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lock = try ApplyLock(stateDirectory: dir)
        #expect(lock.fd >= 0)
        #expect(fcntl(lock.fd, F_GETFD) & FD_CLOEXEC != 0)
    }
}
