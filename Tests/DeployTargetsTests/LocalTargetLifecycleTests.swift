import DeployCore
import DeployKit
@testable import DeployTargets
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real processes: start, readiness, crash, stop of whole process groups.
@Suite(.serialized) struct LocalTargetLifecycleTests {
    @Test func startBecomesReadyAndStopEndsIt() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let port = freeTestPort()
        let spec = try makeSpec(argv: [python3, "-m", "http.server", String(port), "--bind", "127.0.0.1"], port: port)
        let t0 = Date()
        let inst = try target.start(spec, port: port, environment: [:])
        let startCall = Date().timeIntervalSince(t0)
        #expect(inst.state == .starting)
        #expect(inst.pid != nil)
        #expect(waitForProbe(target, inst) == .ready)
        let ready = Date().timeIntervalSince(t0)
        try target.markReady(inst)
        let seen = try #require(try target.observe().first { $0.instance == inst.instance })
        #expect(seen.state == .ready)
        #expect(seen.port == port)
        #expect(seen.drift.isEmpty)
        #expect(try target.store.lastGood(projectID: "test", deployment: "web")?.revision == "rev1")
        let pid = try #require(seen.pid)
        let t1 = Date()
        try target.stop(seen, grace: .seconds(5))
        let stopped = Date().timeIntervalSince(t1)
        #expect(!ProcessTable.isAlive(pid, startTime: nil))
        #expect(try target.observe().isEmpty)
        print("latency: start() \(ms(startCall)) ms, ready \(ms(ready)) ms, stop \(ms(stopped)) ms (python http.server)")
    }

    @Test func aCrashFailsWithExitStatusAndLogLines() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let spec = try makeSpec(argv: [python3, "-c", "import sys\nfor i in range(30): print('line', i)\nsys.exit(3)"])
        let inst = try target.start(spec, port: spec.port, environment: [:])
        guard case .failed(let reason, let log) = waitForProbe(target, inst) else {
            Issue.record("expected a failure")
            return
        }
        #expect(reason == "process exited (exit 3)")
        #expect(log.count == 20)
        #expect(log.contains("line 29"))
        #expect(log.last?.contains("engine") == true && log.last?.contains("ended (exit 3)") == true)
        let seen = try #require(try target.observe().first)
        #expect(seen.state == .exited)
        #expect(seen.exitStatus == "exit 3")
        #expect(seen.pid == nil)
        #expect(target.tail(deployment: "web", replica: 0, lines: 2).first == "line 29")
    }

    /// A command that is not on PATH (a stock image's `vllm` on a machine without vLLM) or an absolute
    /// path that is not an executable is a plan blocker, found before anything stops; a mapped image
    /// and a relative path (cwd-dependent) are not judged missing.
    @Test func aMissingProgramIsAPlanBlocker() throws {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = try makeTarget(dir, imageCommands: ["vllm/vllm-openai:v0.33.0": ["/bin/true"]],
                                    environment: ["PATH": "/usr/bin:/bin"])
        let missing = try makeSpec(argv: ["no-such-engine-binary", "--port", "1"], entrypointCount: 1)
        let absent = try makeSpec(replica: 1, argv: ["/nonexistent/llama-server"], entrypointCount: 1)
        let onPath = try makeSpec(replica: 2, argv: ["true"], entrypointCount: 1)
        let mapped = try makeSpec(replica: 3, argv: ["vllm", "serve"], entrypointCount: 2, image: "vllm/vllm-openai:v0.33.0")
        let relative = try makeSpec(replica: 4, argv: ["../engines/llama-server"], entrypointCount: 1)
        #expect(target.preflight([missing, absent, onPath, mapped, relative]) == [
            "cannot start 'no-such-engine-binary' for web/0 on this machine: it is not on PATH; the local target runs the image's "
                + "entrypoint here: install it, or give local/test:1 a local command in the target's images (docs/targets/local.md)",
            "cannot start '/nonexistent/llama-server' for web/1 on this machine: there is no executable file there; the local target "
                + "runs the image's entrypoint here: install it, or give local/test:1 a local command in the target's images (docs/targets/local.md)",
        ])
    }

    @Test func binFalseFailsAndAMissingProgramIsReported() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let inst = try target.start(try makeSpec(argv: ["/bin/false"]), port: 18_000, environment: [:])
        guard case .failed(let reason, _) = waitForProbe(target, inst) else {
            Issue.record("expected /bin/false to fail")
            return
        }
        #expect(reason == "process exited (exit 1)")
        let missing = try target.start(try makeSpec(replica: 1, argv: ["no-such-engine-binary"], port: 18_001), port: 18_001,
                                       environment: [:])
        guard case .failed(let why, let log) = waitForProbe(target, missing) else {
            Issue.record("expected a missing program to fail")
            return
        }
        #expect(why == "process exited (exit 127)")
        #expect(log.contains { $0.contains("cannot start no-such-engine-binary") })
    }

    @Test func stopKillsTheWholeProcessGroup() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let port = freeTestPort()
        let inst = try target.start(try fakeEngineSpec(dir, port: port, extra: ["--grandchild"]), port: port,
                                    environment: [:])
        #expect(waitForProbe(target, inst) == .ready)
        let line = try #require(target.tail(deployment: "web", replica: 0, lines: 5).first { $0.hasPrefix("grandchild ") })
        let grandchild = try #require(Int32(line.dropFirst("grandchild ".count)))
        let record = try #require(try target.store.instance(inst.instance))
        let group = try #require(record.pgid)
        #expect(ProcessTable.isAlive(grandchild, startTime: nil))
        #expect(ProcessTable.stat(grandchild)?.pgrp == group)
        #expect(ProcessTable.stat(group)?.session == group)  // its own session
        let t0 = Date()
        try target.stop(inst, grace: .seconds(5))
        print("latency: stop of engine + grandchild \(ms(Date().timeIntervalSince(t0))) ms")
        #expect(!ProcessTable.isAlive(grandchild, startTime: nil))
        #expect(ProcessTable.groupMembers(group).isEmpty)
        #expect(RunDirectory(path: record.runDirectory).exitStatus == "exit 143" || RunDirectory(path: record.runDirectory).exitStatus == "signal 15")
    }

    @Test func anEngineIgnoringSIGTERMIsKilledAfterTheGrace() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        var spec = try makeSpec(argv: [python3, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\ntime.sleep(120)"],
                                readinessPath: nil)
        spec.readinessLogLine = "up"
        let inst = try target.start(spec, port: spec.port, environment: [:])
        #expect(waitForProbe(target, inst) == .ready)
        let group = try #require(try target.store.instance(inst.instance)?.pgid)
        let t0 = Date()
        try target.stop(inst, grace: .milliseconds(500))
        let took = Date().timeIntervalSince(t0)
        print("latency: stop with SIGKILL after a 0.5 s grace \(ms(took)) ms")
        #expect(took >= 0.5 && took < 5)
        #expect(ProcessTable.groupMembers(group).isEmpty)
    }

    @Test func theChosenPortReplacesTheRenderedOne() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let rendered = freeTestPort(), chosen = freeTestPort()
        let inst = try target.start(try fakeEngineSpec(dir, port: rendered), port: chosen, environment: [:])
        #expect(inst.port == chosen)
        #expect(inst.launch.argv.suffix(2) == ["--port", String(chosen)])
        #expect(waitForProbe(target, inst) == .ready)
        #expect(target.tail(deployment: "web", replica: 0, lines: 5).contains("serving on 127.0.0.1:\(chosen)"))
    }

    @Test func freePortSkipsBoundAndAvoidedPorts() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = freeTestPort()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0)
        #expect(listen(fd, 1) == 0)
        let next = target.freePort(preferred: port, avoiding: [port + 1])
        #expect(next > port + 1)
        #expect(target.freePort(preferred: next, avoiding: []) == next)
    }
}

/// Milliseconds, rounded.
func ms(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }
