import Foundation
import Testing
import TestSupport

/// A scratch project: a copy of the seed manifests, its own state directory and ports.
final class Sandbox: @unchecked Sendable {
    let dir: String
    let port: Int

    /// A sandbox whose deployment listens on `port` (default: a port that is free now).
    init(port: Int = freePort()) throws {
        dir = NSTemporaryDirectory() + "dsdeploy-e2e-\(UUID().uuidString.prefix(8))"
        self.port = port
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/manifests/backends", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/manifests/targets", withIntermediateDirectories: true)
        for f in ["manifests/backends/sglang-dspark.yaml", "manifests/targets/simulator.yaml"] {
            try fm.copyItem(atPath: CLITests.root + "/" + f, toPath: dir + "/" + f)
        }
        try write(args: [])
    }

    /// Writes `manifests/app.yaml`: the seed's DSpark deployment (named `name`) with extra env and args.
    func write(name: String = "dspark", env: [String: String] = [:], memFraction: String = "0.85",
               replicas: Int = 1, args: [String], extraDocs: String = "") throws {
        var envLines = "    PYPI_PACKAGES_INSTALL: \"-U distro\"\n"
        for (k, v) in env.sorted(by: { $0.key < $1.key }) { envLines += "    \(k): '\(v)'\n" }
        let yaml = """
        apiVersion: dsdeploy/v1
        kind: Include
        metadata: {name: backend}
        spec: {files: [backends/sglang-dspark.yaml, targets/simulator.yaml]}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: \(name)}
        spec:
          model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
          backend: sglang-dspark
          backendVersion: dspark
          replicas: \(replicas)
          gpusPerReplica: 8
          port: \(port)
          readiness: {timeoutSeconds: 20}
          args:
            - --tp-size 8
            - --ep-size 8
            - --speculative-algorithm DSPARK
            - --mem-fraction-static \(memFraction)
        \(args.map { "    - \($0)" }.joined(separator: "\n"))
          env:
        \(envLines)
        """ + extraDocs
        try yaml.write(toFile: dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
    }

    @discardableResult
    func run(_ args: [String], env extra: [String: String] = [:]) throws -> CLITests.Run {
        var env = ProcessInfo.processInfo.environment
        env["DSDEPLOY_HOME"] = dir + "/.dsdeploy"
        env["NO_COLOR"] = "1"
        for (k, v) in extra { env[k] = v }
        return try CLITests.exec(args, cwd: dir, env: env)
    }

    /// Starts the CLI without waiting (for kill and lock tests).
    func spawn(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var env = ProcessInfo.processInfo.environment
        env["DSDEPLOY_HOME"] = dir + "/.dsdeploy"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    struct Replica: Decodable {
        var deployment: String
        var replica: Int
        var revision: String
        var state: String
        var pid: Int32?
        var endpoint: String
        var exitStatus: String?
        var gpus: [Int]?
    }

    /// `status --output json`; throws when the command fails or its JSON does not decode.
    func status() throws -> [Replica] {
        let r = try run(["status", "--output", "json"])
        struct Out: Decodable { var replicas: [Replica] }
        guard r.status == 0 else { throw StatusError(description: "status exited \(r.status): \(r.err)") }
        do {
            return try JSONDecoder().decode(Out.self, from: Data(r.out.utf8)).replicas
        } catch {
            throw StatusError(description: "status JSON did not decode (\(error)): \(r.out)")
        }
    }

    struct StatusError: Error, CustomStringConvertible { var description: String }

    /// The state directory's apply lock file, which names its holder while an apply runs.
    var lockFile: String { dir + "/.dsdeploy/lock" }

    /// Supervisor processes whose run directory lies in this sandbox (orphan detection).
    func supervisors() -> [Int32] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { Int32($0) }.filter { pid in
            guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let cmd = String(decoding: d.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return cmd.contains("dsdeploy-supervisor") && cmd.contains(dir)
        }
    }

    func alive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ")
    }

    /// Stops everything this sandbox started, whatever state the test left.
    func tearDown() {
        _ = try? run(["delete", "dspark", "--auto-approve", "--grace", "2"])
        _ = try? run(["delete", "other", "--auto-approve", "--grace", "2"])
        for pid in supervisors() { kill(-pid, SIGKILL); kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// A JSON object from a command's output ([:] when it is not one).
func json(_ text: String) -> [String: Any] {
    ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]) ?? [:]
}

/// `bench dsr1` of a disaggregated deployment of one prefill and two decode servers, through its router
/// (the deployment's endpoint): the 20 requests complete, and each role's own counters account for them.
func expectBenchThroughRouter(_ s: Sandbox, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let bench = try s.run(["bench", "dsr1", "-f", "manifests/app.yaml", "--num-prompts", "20", "--random-input-len", "32",
                           "--random-output-len", "16", "--output", "json"])
    let m = json(bench.out)
    #expect(bench.status == 0 && m["completed"] as? Int == 20 && m["failed"] as? Int == 0, "\(bench.out)\(bench.err)",
            sourceLocation: sourceLocation)
    #expect(bench.err.contains("runs sglang-router"), "\(bench.err)", sourceLocation: sourceLocation)
    // Per role, from each server's own metrics: every request (the 20, the warm-up and the prompt-mode
    // probe) went through the one prefill server and one of the two decode servers; a prefill
    // server answers one token each, the decode servers generate the output.
    let roles = m["roles"] as? [String: [String: Any]] ?? [:]
    let prefill = roles["prefill"]?["metrics"] as? [String: Double] ?? [:], decode = roles["decode"]?["metrics"] as? [String: Double] ?? [:]
    #expect(roles["prefill"]?["servers"] as? Int == 1 && roles["decode"]?["servers"] as? Int == 2, "\(roles)", sourceLocation: sourceLocation)
    let served = prefill["num_requests_total"] ?? 0
    #expect(served >= 20 && served <= 23 && decode["num_requests_total"] == served, "\(roles)", sourceLocation: sourceLocation)
    #expect(prefill["generation_tokens_total"] == served, "\(roles)", sourceLocation: sourceLocation)
    #expect((decode["generation_tokens_total"] ?? 0) >= Double(m["total_output_tokens"] as? Int ?? .max), "\(roles) \(m)",
            sourceLocation: sourceLocation)
}

/// An sglang-router's workers (`GET /workers`): url → (worker type, healthy); empty when it does not answer.
func routerWorkers(_ router: String) -> [String: (String, Bool)] {
    let out = (try? runProcess("/usr/bin/curl", ["-s", "-m", "5", router + "/workers"], environment: [:], cwd: "/").out) ?? ""
    let top = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any]
    var m: [String: (String, Bool)] = [:]
    for w in (top?["workers"] as? [[String: Any]]) ?? [] {
        m[w["url"] as? String ?? ""] = (w["worker_type"] as? String ?? "", w["is_healthy"] as? Bool ?? false)
    }
    return m
}
