import Foundation
import Testing
import TestSupport

/// A real GPUStack 2.3.0 server with a controllable fake worker, started once per test process by
/// `scripts/gpustack-server.sh up DIR --fake-worker` inside a network namespace that has only
/// loopback, and stopped (`down`) when the process exits. Everything that talks to it — raw API
/// calls and the built `dsdeploy` binary — runs inside that namespace (`ip netns exec`).
///
/// Start-up takes about 13 s on a quiet machine (over a minute when the 2 cores are busy), so
/// suites share `GPUStackSandbox.shared()` and keep their models apart by name. A missing install
/// fails the test with the command to run: these tests are never skipped.
final class GPUStackSandbox: @unchecked Sendable {
    /// The directory `up` wrote: env, logs, the fake worker's control file, PostgreSQL's data.
    let dir: String
    /// DIR/env as written by `gpustack-server.sh up`.
    let env: [String: String]

    var netns: String { env["GPUSTACK_NETNS"] ?? "" }
    var url: String { env["GPUSTACK_URL"] ?? "" }
    var apiKey: String { env["GPUSTACK_API_KEY"] ?? "" }
    var cluster: String { env["GPUSTACK_CLUSTER"] ?? "default" }
    var clusterID: Int { Int(env["GPUSTACK_CLUSTER_ID"] ?? "") ?? 0 }
    var workerName: String { env["GPUSTACK_FAKE_WORKER_NAME"] ?? "" }
    var controlFile: String { env["GPUSTACK_FAKE_WORKER_CONTROL"] ?? dir + "/fake-worker.json" }

    struct Failure: Error, CustomStringConvertible { var description: String }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var started: Result<GPUStackSandbox, Failure>?
    nonisolated(unsafe) private static var stopDir: String?

    /// The one server of this test process, started on first use.
    static func shared() throws -> GPUStackSandbox {
        lock.lock()
        defer { lock.unlock() }
        if started == nil { started = Result { try GPUStackSandbox.start() }.mapError { Failure(description: "\($0)") } }
        return try started!.get()
    }

    private init(dir: String, env: [String: String]) {
        self.dir = dir
        self.env = env
    }

    private static func start() throws -> GPUStackSandbox {
        let script = CLITests.root + "/scripts/gpustack-server.sh"
        let dir = "/tmp/dsdeploy-gpustack-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        stopDir = dir
        atexit {
            guard let d = GPUStackSandbox.stopDir else { return }
            // posix_spawn + waitpid, not Foundation's Process: at exit its helper threads may be gone.
            GPUStackSandbox.spawnAndWait(["bash", CLITests.root + "/scripts/gpustack-server.sh", "down", d])
            GPUStackSandbox.spawnAndWait(["rm", "-rf", d])
        }
        // The owner pid lets a later `up` (or `gc`) remove what a crashed run left behind.
        let up = try shell(["bash", script, "up", dir, "--fake-worker"],
                           env: ["GPUSTACK_OWNER_PID": String(getpid())])
        guard up.status == 0 else {
            throw Failure(description: """
                gpustack-server.sh up failed (exit \(up.status)). If GPUStack is not installed, run \
                scripts/setup-gpustack.sh (make test does).
                \(up.err.suffix(3000))
                """)
        }
        let text = try String(contentsOfFile: dir + "/env", encoding: .utf8)
        var env: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            env[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return GPUStackSandbox(dir: dir, env: env)
    }

    // MARK: Processes

    /// Runs argv (PATH look-up, no shell) and waits for it; for the exit handler.
    static func spawnAndWait(_ argv: [String]) {
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cargs.append(nil)
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, argv[0], nil, nil, cargs, environ) == 0 else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }

    /// Runs argv (no shell) and collects its exit status and output.
    @discardableResult
    static func shell(_ argv: [String], env extra: [String: String] = [:], cwd: String? = nil,
                      stdin: Data? = nil) throws -> CLITests.Run {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        let r = try runProcess("/usr/bin/env", argv, environment: env, cwd: cwd, stdin: stdin)
        return CLITests.Run(status: r.status, out: r.out, err: r.err)
    }

    /// Runs the built `dsdeploy` inside the server's namespace, with `env` added to this process's
    /// environment (plus NO_COLOR), in `cwd`.
    @discardableResult
    func dsdeploy(_ args: [String], cwd: String, env extra: [String: String] = [:]) throws -> CLITests.Run {
        var env = extra
        env["NO_COLOR"] = "1"
        return try Self.shell(["ip", "netns", "exec", netns, CLITests.binary] + args, env: env, cwd: cwd)
    }

    /// Starts `dsdeploy` inside the namespace without waiting (for kill / server-down tests).
    func spawnDsdeploy(_ args: [String], cwd: String, env extra: [String: String] = [:],
                       output: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", netns, CLITests.binary] + args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        env["NO_COLOR"] = "1"
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: cwd)
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return p
    }

    // MARK: Raw API (through curl inside the namespace)

    struct Response {
        var status: Int
        var body: String
        /// The body parsed as JSON (nil when it is not JSON).
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        /// `items` of a paginated list.
        var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }
    }

    /// One API call. `key` nil uses the sandbox's API key; "" sends no credentials. `base`
    /// replaces the server's URL (e.g. a relay in front of it).
    func request(_ method: String, _ path: String, json: Any? = nil, key: String? = nil,
                 base: String? = nil, timeout: Int = 30) throws -> Response {
        var argv = ["ip", "netns", "exec", netns, "curl", "-sS", "--max-time", String(timeout), "-X", method,
                    "-w", "\n%{http_code}"]
        var stdin: Data?
        let k = key ?? apiKey
        if !k.isEmpty {
            // The key goes through stdin (a curl config line), never argv, so `ps` cannot show it.
            argv += ["-K", "-"]
            stdin = Data("header = \"Authorization: Bearer \(k)\"\n".utf8)
        }
        if let json {
            argv += ["-H", "Content-Type: application/json", "--data-binary",
                     String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)]
        }
        argv.append((base ?? url) + path)
        let r = try Self.shell(argv, stdin: stdin)
        guard r.status == 0, let nl = r.out.lastIndex(of: "\n"), let code = Int(r.out[r.out.index(after: nl)...]) else {
            throw Failure(description: "curl \(method) \(path) failed (exit \(r.status)): \(r.err)")
        }
        return Response(status: code, body: String(r.out[..<nl]))
    }

    func get(_ path: String, key: String? = nil) throws -> Response { try request("GET", path, key: key) }
    func post(_ path: String, _ json: Any? = nil, key: String? = nil) throws -> Response {
        try request("POST", path, json: json ?? [String: Any](), key: key)
    }
    func put(_ path: String, _ json: Any) throws -> Response { try request("PUT", path, json: json) }
    func delete(_ path: String) throws -> Response { try request("DELETE", path) }

    /// Records a watch stream (`GET path?watch=true`) for up to `seconds` in the background;
    /// `events()` parses what arrived so far (JSON objects separated by blank lines).
    final class Watch: @unchecked Sendable {
        let process: Process
        let file: String
        init(process: Process, file: String) { self.process = process; self.file = file }
        func events() -> [[String: Any]] {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            return text.components(separatedBy: "\n\n").compactMap {
                let t = $0.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !t.isEmpty else { return nil }
                return (try? JSONSerialization.jsonObject(with: Data(t.utf8))) as? [String: Any]
            }
        }
        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func watch(_ path: String, seconds: Int) throws -> Watch {
        let file = dir + "/watch-\(UUID().uuidString.prefix(8)).stream"
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let sep = path.contains("?") ? "&" : "?"
        p.arguments = ["ip", "netns", "exec", netns, "curl", "-sN", "--max-time", String(seconds), "-K", "-",
                       "-o", file, url + path + sep + "watch=true"]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        input.fileHandleForWriting.write(Data("header = \"Authorization: Bearer \(apiKey)\"\n".utf8))
        try? input.fileHandleForWriting.close()
        return Watch(process: p, file: file)
    }

    // MARK: Fake worker and fixtures

    /// Writes the fake worker's control file (re-read on every decision): `default` and
    /// per-model `{"state": "running"|"error"|"starting"|"initializing", "delaySeconds": s,
    /// "message": "...", "restartDelaySeconds": s}`.
    func setControl(default def: [String: Any] = ["state": "running", "delaySeconds": 1],
                    models: [String: [String: Any]] = [:]) throws {
        let obj: [String: Any] = ["default": def, "models": models]
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
        // Atomically: the fake worker may read it at any moment.
        try data.write(to: URL(fileURLWithPath: controlFile + ".tmp"))
        guard rename(controlFile + ".tmp", controlFile) == 0 else {
            throw Failure(description: "rename \(controlFile).tmp: errno \(errno)")
        }
    }

    /// Changes one model's entry in the control file, keeping the others.
    func control(model: String, _ spec: [String: Any]?) throws {
        let data = (try? Data(contentsOf: URL(fileURLWithPath: controlFile))) ?? Data("{}".utf8)
        let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        var models = obj["models"] as? [String: [String: Any]] ?? [:]
        models[model] = spec
        try setControl(default: obj["default"] as? [String: Any] ?? ["state": "running", "delaySeconds": 1],
                       models: models)
    }

    /// A local model directory the fake worker can see (GPUStack's scheduler checks the path and
    /// reads config.json through the worker): a tiny Llama config, no weights.
    func localModel(_ name: String) throws -> String {
        let path = dir + "/models/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // 32 attention heads: the scheduler requires them to be divisible by --tp-size (8 in the seed).
        let config = #"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 32, "num_hidden_layers": 2, "num_key_value_heads": 8, "vocab_size": 1000, "max_position_embeddings": 4096, "torch_dtype": "float16"}"#
        try config.write(toFile: path + "/config.json", atomically: true, encoding: .utf8)
        return path
    }

    /// The model named `name`, if any (exact match; GPUStack's `search` is fuzzy).
    func model(named name: String) throws -> [String: Any]? {
        try get("/v2/models?search=\(name)&perPage=100").items.first { $0["name"] as? String == name }
    }

    /// The instances of model `id`.
    func instances(model id: Int) throws -> [[String: Any]] {
        try get("/v2/model-instances?model_id=\(id)&perPage=100").items
    }

    /// Polls `check` every 0.25 s until it returns a value or `timeout` passes.
    func waitFor<T>(_ what: String, timeout: Double = 60, _ check: () throws -> T?) throws -> T {
        guard let v = try eventually(timeout: timeout, interval: 0.25, check) else {
            throw Failure(description: "timed out after \(Int(timeout)) s waiting for \(what)")
        }
        return v
    }

    /// Deletes every model whose name starts with `prefix` (test clean-up).
    func deleteModels(prefix: String) {
        for m in (try? get("/v2/models?perPage=100").items) ?? [] {
            guard let n = m["name"] as? String, n.hasPrefix(prefix), let id = m["id"] as? Int else { continue }
            _ = try? delete("/v2/models/\(id)")
        }
    }

    /// Adds a custom version to built-in SGLang by read–modify–write (the PUT replaces the row;
    /// `default_version` must not be sent for a built-in). Schedulable on the fake worker because
    /// its `custom_framework` is `cuda`.
    func ensureSGLangVersion(_ version: String) throws {
        let list = try get("/v2/inference-backends?search=SGLang&perPage=100")
        guard var row = list.items.first(where: { $0["backend_name"] as? String == "SGLang" }),
              let id = row["id"] as? Int else { throw Failure(description: "no SGLang backend: \(list.body)") }
        var versions = row["version_configs"] as? [String: Any] ?? [:]
        if versions[version] != nil { return }
        versions[version] = [
            "image_name": "registry.example.invalid/sglang-dspark:test",
            "entrypoint": "python3 -m sglang.launch_server",
            "run_command": "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}",
            "custom_framework": "cuda",
        ]
        row["version_configs"] = versions
        for k in ["built_in_version_configs", "framework_index_map", "id", "created_at", "updated_at",
                  "deleted_at", "default_version"] { row[k] = nil }
        let r = try put("/v2/inference-backends/\(id)", row)
        guard r.status == 200 else { throw Failure(description: "adding \(version) to SGLang: \(r.status) \(r.body)") }
    }
}
