import DeployCore
import DeployKit
@testable import DeployTargets
import Engines
import Foundation
import Testing

/// Secrets stay out of state and logs; config readback on a live engine.
@Suite(.serialized) struct LocalTargetSecretsAndReadbackTests {
    @Test func secretsReachTheEngineButNeverTheStateOrLogs() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir, environment: ["PATH": "/usr/bin:/bin", "HOME": "/root", "LEAKY_PARENT_VAR": "parent-only"])
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let secret = "hf_S3CRETvalue_\(UUID().uuidString)"
        let port = freeTestPort()
        var spec = try fakeEngineSpec(dir, port: port, extra: ["--env-name", "HF_TOKEN"])
        spec.env = [try renderedEnv("HF_TOKEN", value: nil, secret: true, from: "env:HF_TOKEN"),
                    try renderedEnv("MODE", value: "fast", secret: false, from: nil)]
        let inst = try target.start(spec, port: port, environment: ["HF_TOKEN": Secret(secret), "MODE": Secret("fast")])
        #expect(waitForProbe(target, inst) == .ready)
        try target.markReady(inst)
        let pid = try #require(try target.store.instance(inst.instance)?.pid)
        #expect(ProcessTable.environment(of: pid, contains: "HF_TOKEN=" + secret))
        #expect(ProcessTable.environment(of: pid, contains: "MODE=fast"))
        #expect(ProcessTable.environment(of: pid, contains: "DSDEPLOY_INSTANCE=" + inst.instance))
        #expect(!ProcessTable.environment(of: pid, contains: "LEAKY_PARENT_VAR=parent-only"))
        #expect(target.tail(deployment: "web", replica: 0, lines: 10).contains("HF_TOKEN is set"))
        let observed = try target.observe()
        #expect(!"\(observed)".contains(secret))
        try target.stop(inst, grace: .seconds(2))
        var scanned = 0
        let files = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []
        for f in files {
            guard let data = FileManager.default.contents(atPath: dir + "/" + f) else { continue }
            scanned += 1
            #expect(data.range(of: Data(secret.utf8)) == nil, "secret found in \(f)")
        }
        #expect(scanned >= 4)  // state.db (+ wal), engine.log, instance.json, pid files
    }

    @Test func sglangReadbackVerifiesAndDetectsDrift() throws {
        let dir = makeStateDirectory()
        let target = try makeTarget(dir)
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        let catalog = try CatalogStore.catalog(.sglang, version: "0.5.23")
        let flags = FlagSet(["--tp-size": .int(2), "--mem-fraction-static": .float(0.8)])
        let good = dir + "/good.json", bad = dir + "/bad.json"
        for (path, tp) in [(good, 2.0), (bad, 1.0)] {
            let info = sampleServerInfo(catalog, flags: flags, overrides: ["tp_size": .number(tp)])
            _ = FileManager.default.createFile(atPath: path, contents: Data(info.canonicalText.utf8))
        }
        var results: [ProbeResult] = []
        for (replica, file) in [(0, good), (1, bad)] {
            let port = freeTestPort()
            var spec = try fakeEngineSpec(dir, port: port, extra: ["--server-info", file, "--ready-after", "0.3"],
                                          engine: "sglang", version: "0.5.23", readinessPath: nil, replica: replica)
            spec.flagSet = flags
            let inst = try target.start(spec, port: port, environment: [:])
            results.append(waitForProbe(target, inst))
            if results.last == .ready { try target.markReady(inst) }
        }
        #expect(results.first == .ready)
        guard case .drifted(let drift)? = results.last else {
            Issue.record("expected drift, got \(String(describing: results.last))")
            return
        }
        #expect(drift.map(\.flag) == ["--tp-size"])
        #expect(drift.first?.before == "2" && drift.first?.after == "1")
        // `observe` checks ready instances again: rewrite what replica 0 reports.
        let info = sampleServerInfo(catalog, flags: flags, overrides: ["mem_fraction_static": .number(0.9)])
        _ = FileManager.default.createFile(atPath: good, contents: Data(info.canonicalText.utf8))
        let seen = try #require(try target.observe().first { $0.replica == 0 })
        #expect(seen.state == .ready)
        #expect(seen.drift.map(\.flag) == ["--mem-fraction-static"])
    }

    /// `swift build --build-tests` (make test) builds the simulator; without it this test fails.
    @Test func theSimulatorStandsInForAnSGLangImage() throws {
        let sim = try #require(builtExecutable("dsdeploy-engine-sim"), "build the package first: swift build --build-tests")
        let dir = makeStateDirectory()
        let image = "lmsysorg/sglang:v0.5.23"
        let target = try makeTarget(dir, imageCommands: [image: [sim]])
        defer { stopAll(target); try? FileManager.default.removeItem(atPath: dir) }
        var results: [ProbeResult] = []
        for (replica, override) in [(0, nil), (1, #"{"tp_size": 1}"#)] as [(Int, String?)] {
            let port = freeTestPort()
            var spec = try makeSpec(replica: replica,
                                    argv: ["python3", "-m", "sglang.launch_server", "--model-path", "Qwen/Qwen3-8B",
                                           "--host", "127.0.0.1", "--port", String(port), "--tp-size", "2"],
                                    engine: "sglang", version: "0.5.23", port: port, readinessPath: nil,
                                    entrypointCount: 3, image: image)
            spec.flagSet = FlagSet(["--tp-size": .int(2)])
            let env = override.map { ["DSDEPLOY_SIM_ARG_OVERRIDE": Secret($0)] } ?? [:]
            let inst = try target.start(spec, port: port, environment: env)
            results.append(waitForProbe(target, inst, timeout: 30))
        }
        #expect(results.first == .ready)
        if case .drifted(let d)? = results.last {
            #expect(d.map(\.flag) == ["--tp-size"])
        } else {
            Issue.record("expected drift from the simulator, got \(String(describing: results.last))")
        }
    }
}
