import ArgumentParser
import Bench
import DeployCore
import DeployFlows
import DeployKit
import DeploySpec
import DeployTargets
import Engines
import Foundation
import Synchronization

/// `dsdeploy bench`: a command group; `run` (the default, so `dsdeploy bench --url …` still works) and `compare`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark a serving endpoint (`bench run`, the default) or compare results (`bench compare`).",
        subcommands: [BenchRunCommand.self, BenchCompareCommand.self, BenchHistoryCommand.self],
        defaultSubcommand: BenchRunCommand.self)
}

/// `dsdeploy bench compare`: the comparison table of result files (text, JSON, HTML report).
struct BenchCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare results written by `bench --output json` or `--out` (one row per scenario × metric).",
        discussion: """
            Scenarios are matched by input/output length, number of prompts, concurrency, request rate and dataset (random and random-ids are one workload; file datasets by name and file name). \
            With two files a ratio column (last ÷ first) is added. Exit 1 when a file cannot be read or \
            parsed, or the files share no scenario.
            """)

    @Argument(help: "Result files (one JSON object, or JSON lines from --out).") var files: [String]
    @Option(name: .customLong("label"), help: "Column label, once per file in order (default: file name without extension).")
    var labels: [String] = []
    @Option(help: "text | json") var output: String = "text"
    @Option(help: "Also write a self-contained HTML report to FILE.") var html: String?

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one result file") }
        guard labels.isEmpty || labels.count == files.count else {
            throw ValidationError("give --label once per file (\(files.count)), or not at all")
        }
        guard output == "text" || output == "json" else { throw ValidationError("--output must be text or json") }
    }

    func run() throws {
        let comparison: BenchComparison
        do {
            let inputs = try files.enumerated().map { i, path in
                try BenchResultFile.load(path: path, label: labels.isEmpty ? nil : labels[i])
            }
            comparison = try BenchComparison(inputs: inputs)
        } catch {
            Output.stderr("dsdeploy: error: \(error)\n")
            throw ExitCode.failure
        }
        for w in comparison.warnings { Output.stderr("dsdeploy: warning: \(w)\n") }
        Output.stdout(output == "json" ? comparison.json() + "\n" : comparison.text())
        if let html {
            do { try comparison.html().write(toFile: html, atomically: true, encoding: .utf8) } catch {
                Output.stderr("dsdeploy: error: cannot write \(html): \(error.localizedDescription)\n")
                throw ExitCode.failure
            }
        }
    }
}

/// `dsdeploy bench run`: measures a serving endpoint with bench_serving's metric definitions.
struct BenchRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Benchmark a serving endpoint like `python -m sglang.bench_serving`.",
        discussion: """
            Datasets: random / random-ids (token ids of seeded lengths: sent as ids to sglang and openai, so \
            input lengths are exact; as text when the server refuses ids, said in the result), sharegpt (--dataset-path FILE.json), \
            prompts (--dataset-path FILE: one prompt per line, or JSON lines when FILE ends in .jsonl). \
            Exit 0 when every request completed; 1 when any failed, the endpoint is down or the dataset file is unusable.
            """)

    @Argument(help: "Deployment whose endpoint to benchmark (from the state).") var deployment: String?
    @Option(help: "Benchmark this base URL instead of a deployment.") var url: String?
    @Option(help: "Replica of DEPLOYMENT (default: first ready).") var replica: Int?
    @Option(help: "sglang | openai | openai-chat (default: the deployment's engine's API — sglang native for SGLang, openai for vLLM and llama.cpp; sglang with --url)")
    var backend: String?
    @Option(help: "random | random-ids | sharegpt | prompts") var datasetName: String = "random"
    @Option(help: "Dataset file for sharegpt (JSON) and prompts (text lines, or .jsonl).") var datasetPath: String?
    @Option(help: "sharegpt: output tokens of every request (≥ 4) instead of the reply's estimated length.")
    var sharegptOutputLen: Int?
    @Option(help: "sharegpt: drop conversations whose estimated prompt + output tokens exceed this.")
    var sharegptContextLen: Int?
    @Option(help: "prompts: output tokens of lines without their own output_len.") var promptsOutputLen: Int = 256
    @Option var randomInputLen: Int = 1024
    @Option var randomOutputLen: Int = 1024
    @Option var randomRangeRatio: Double = 0.0
    @Option var numPrompts: Int = 1000
    @Option var maxConcurrency: Int?
    @Option(help: "Requests per second (Poisson) or 'inf'.") var requestRate: String = "inf"
    @Option var seed: UInt64 = 42
    @Option var warmupRequests: Int = 1
    @Flag(help: "A new connection for every request, as sglang.bench_serving opens (its TTFT includes the TCP handshake); default: keep-alive connections opened before the run.")
    var connectionPerRequest = false
    @Flag(help: "Read http:// responses through libcurl's own transfer instead of dsdeploy's HTTP/1.1 reader on libcurl's connections (more CPU per token: libcurl polls the socket after every read).")
    var libcurlReads = false
    @Flag(inversion: .prefixedNo, help: "Read the streams through io_uring (Linux 6.1 or later): one multishot receive per connection, all of a wake-up's reads run in a few system calls, no epoll_wait or recvmsg per socket. Where it is not there, and with --no-batched-reads, epoll reports each socket and each is read with its own recvmsg.")
    var batchedReads = true
    @Option(help: "Most time between two wake-ups of the reading thread under load, in µs (0: wake on every arrival). Streams that arrive in between are read together; each read keeps the kernel's receive time, so TTFT and ITL do not include the wait. The interval in force is also at most a quarter of the shortest gap between a stream's chunks, 1/200 of the mean response time (so a closed loop loses at most about 0.25 % of its throughput), and 1000 µs until a first response ended.")
    var wakeIntervalUs: Int = 4000
    @Option(help: "Model name sent to OpenAI APIs.") var model: String?
    @Option(help: "text | json") var output: String = "text"
    @Option(help: "Append the result with per-request arrays to FILE (JSON lines).") var out: String?
    @Option(name: [.customShort("f"), .customLong("file")],
            help: "Manifest files: DEPLOYMENT's target (the only non-local Target in them) and its benchmarks: scenarios (--scenario); repeatable.")
    var files: [String] = []
    @Option(help: "Run this scenario of DEPLOYMENT's benchmarks: section instead of the workload options; 'all' runs every one (repeatable).")
    var scenario: [String] = []

    func run() throws {
        if !scenario.isEmpty { return try runDeclared() }
        if let backend, BenchBackend(rawValue: backend) == nil {
            throw ValidationError("--backend must be sglang, openai or openai-chat")
        }
        guard let dataset = BenchDatasetName(rawValue: datasetName) else {
            throw ValidationError("--dataset-name must be one of: "
                                  + BenchDatasetName.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if dataset == .sharegpt || dataset == .prompts {
            guard datasetPath != nil else { throw ValidationError("--dataset-name \(datasetName) needs --dataset-path FILE") }
        }
        if let n = sharegptOutputLen, n < 4 { throw ValidationError("--sharegpt-output-len must be at least 4") }
        if let n = sharegptContextLen, n < 1 { throw ValidationError("--sharegpt-context-len must be positive") }
        guard promptsOutputLen > 0 else { throw ValidationError("--prompts-output-len must be positive") }
        guard (0...100_000).contains(wakeIntervalUs) else {
            throw ValidationError("--wake-interval-us must be between 0 and 100000 (100 ms)")
        }
        guard output == "text" || output == "json" else { throw ValidationError("--output must be text or json") }
        let rate: Double
        if requestRate == "inf" { rate = .infinity } else if let r = Double(requestRate), r > 0 { rate = r } else {
            throw ValidationError("--request-rate must be a positive number or 'inf'")
        }
        guard numPrompts > 0, randomInputLen > 0, randomOutputLen > 0, warmupRequests >= 0 else {
            throw ValidationError("--num-prompts and lengths must be positive")
        }
        let target = try endpoint()
        var config = BenchConfig(baseURL: target.url)
        let be: BenchBackend
        if let backend, let chosen = BenchBackend(rawValue: backend) {
            be = chosen
        } else if let engine = target.engine {
            be = engine == .sglang || engine == .sglangRouter ? .sglang : .openai
            Output.stderr("bench: \(deployment ?? "") runs \(engine.rawValue): using the \(be == .sglang ? "SGLang native" : "OpenAI completions") "
                          + "API (--backend \(be.rawValue))\n")
        } else {
            be = .sglang
        }
        config.backend = be
        config.numPrompts = numPrompts
        config.randomInputLength = randomInputLen
        config.randomOutputLength = randomOutputLen
        config.randomRangeRatio = randomRangeRatio
        config.dataset = BenchDataset(name: dataset, path: datasetPath, sharegptOutputLength: sharegptOutputLen,
                                      sharegptContextLength: sharegptContextLen, promptsOutputLength: promptsOutputLen)
        config.maxConcurrency = maxConcurrency
        config.requestRate = rate
        config.seed = seed
        config.warmupRequests = warmupRequests
        config.connectionPerRequest = connectionPerRequest
        config.directHTTP1 = !libcurlReads
        config.batchedReads = batchedReads
        config.wakeInterval = Double(wakeIntervalUs) / 1e6
        config.model = model
        // Load the workload before touching the endpoint: a bad dataset file changes nothing.
        let requests: [BenchRequest]
        do { requests = try BenchWorkload.requests(for: config) } catch {
            Output.stderr("dsdeploy: error: \(error)\n")
            throw ExitCode.failure
        }
        guard !requests.isEmpty else {
            Output.stderr("dsdeploy: error: \(datasetPath ?? datasetName): no usable prompts "
                          + "(ShareGPT conversations need ≥ 2 estimated prompt and output tokens and must fit --sharegpt-context-len)\n")
            throw ExitCode.failure
        }
        if requests.count < numPrompts {
            Output.stderr("dsdeploy: warning: \(datasetPath ?? datasetName) has \(requests.count) usable conversations, "
                          + "fewer than --num-prompts \(numPrompts); sending \(requests.count)\n")
        }
        // A disaggregated deployment: its prefill and decode servers' own counters, before and after.
        let roles = target.engine == .sglangRouter ? roleServers(on: target.target) : []
        let before = roles.map { PDRoleMetrics.scrape($0.urls) }
        let interactive = isatty(STDERR_FILENO) == 1
        let result: BenchResult
        do {
            var progress: (@Sendable (Int, Int, Int) -> Void)?
            if interactive {
                // Called on the transfer thread after every request: at most 10 writes a second (and the
                // last), so the terminal does not cost the run a write per request.
                let lastWrite = Mutex<ContinuousClock.Instant?>(nil)
                progress = { (done: Int, failed: Int, total: Int) in
                    let now = ContinuousClock.now
                    let due = lastWrite.withLock { last -> Bool in
                        guard done == total || last.map({ now - $0 >= .milliseconds(100) }) ?? true else { return false }
                        last = now
                        return true
                    }
                    guard due else { return }
                    FileHandle.standardError.write(Data("\r[bench] \(done)/\(total) done, \(failed) failed".utf8))
                    if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
                }
            }
            result = try BenchBlocking.run(config, requests: requests, progress: progress)
        } catch {
            let hint = "\(error)".contains("HTTP 404")
                ? "\n  hint: the server has no \(be == .sglang ? "/generate (SGLang's native API)" : (be == .openai ? "/v1/completions" : "/v1/chat/completions"))"
                    + "; choose its API with --backend sglang|openai|openai-chat" : ""
            Output.stderr("dsdeploy: error: \(config.baseURL): \(error)\(hint)\n")
            throw ExitCode.failure
        }
        warnIfTokenIDsRefused(result)
        var perRole: [String: [String: Double]] = [:]
        for (i, role) in roles.enumerated() {
            guard let b = before[i], let a = PDRoleMetrics.scrape(role.urls) else { continue }
            perRole[role.name] = a.reduce(into: [:]) { $0[$1.key] = $1.value - (b[$1.key] ?? 0) }
        }
        if output == "json" {
            var text = BenchReport.json(result, details: false)
            if !roles.isEmpty, var object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] {
                object["roles"] = Dictionary(uniqueKeysWithValues: roles.map { role in
                    (role.name, ["servers": role.urls.count, "metrics": perRole[role.name].map { m in
                        Dictionary(uniqueKeysWithValues: m.map { (String($0.key.dropFirst("sglang:".count)), $0.value) }) } as Any])
                })
                if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) { text = String(decoding: data, as: UTF8.self) }
            }
            Output.stdout(text + "\n")
        } else {
            Output.stdout(BenchReport.text(result))
            if !roles.isEmpty { Output.stdout(roleTable(roles, perRole)) }
        }
        if let out { try append(BenchReport.json(result, details: true, compact: true) + "\n", to: out) }
        if result.metrics.failed > 0 {
            let reasons = result.metrics.failureReasons.map { "\($0.value) × \($0.key)" }.joined(separator: "; ")
            Output.stderr("dsdeploy: error: \(result.metrics.failed) of \(requests.count) requests failed: \(reasons)\n")
            if let hint = ContextHint.text(forAny: result.metrics.failureReasons.keys, config: config) {
                Output.stderr("  \(hint)\n")
            }
            throw ExitCode.failure
        }
    }

    /// `--scenario`: runs scenarios declared in DEPLOYMENT's `benchmarks:` (as `apply --gate` would,
    /// without gates or state): one result per scenario, text blocks or JSON lines; `--out` appends them.
    func runDeclared() throws {
        guard let name = deployment else { throw ValidationError("--scenario needs a DEPLOYMENT name") }
        guard !files.isEmpty else { throw ValidationError("--scenario needs the manifest: -f FILE") }
        guard output == "text" || output == "json" else { throw ValidationError("--output must be text or json") }
        let options = try ManifestOptions.parse(["--color", "never"])
        let result = ManifestPipeline.validate(files, options: options)
        ManifestPipeline.printDiagnostics(result, options: options)
        guard result.isValid else { throw ExitCode.failure }
        guard let r = result.deployments.first(where: { $0.deployment.name == name }) else {
            Output.stderr("dsdeploy: error: no deployment '\(name)' in \(files.joined(separator: ", "))\n")
            throw ExitCode.failure
        }
        let declared = r.deployment.benchmarks
        let names = declared.map(\.name)
        var chosen: [BenchmarkScenario] = []
        for want in scenario {
            if want == "all" { chosen += declared; continue }
            guard let s = declared.first(where: { $0.name == want }) else {
                let hint = Suggest.closest(to: want, in: names).map { "; did you mean '\($0)'?" } ?? ""
                Output.stderr("dsdeploy: error: \(name) declares no benchmark scenario '\(want)'\(hint) (declared: "
                              + (names.isEmpty ? "none" : names.joined(separator: ", ")) + ")\n")
                throw ExitCode.failure
            }
            chosen.append(s)
        }
        guard !chosen.isEmpty else {
            Output.stderr("dsdeploy: error: \(name) declares no benchmarks: scenarios\n")
            throw ExitCode.failure
        }
        let (base, served, _, _) = try endpoint()
        var failed = false
        for s in chosen {
            let config = GateRunner.config(s, endpoint: base, engine: r.backend.engine.rawValue,
                                         model: model ?? served ?? r.deployment.servedModelName)
            let result: BenchResult
            do {
                result = try BenchBlocking.run(config, progress: RunProgress(label: "\(name): \(s.name)", write: Output.stderr).report)
            } catch {
                Output.stderr("dsdeploy: error: \(base): \(s.name): \(error)\n")
                throw ExitCode.failure
            }
            warnIfTokenIDsRefused(result)
            if output == "json" { Output.stdout(BenchReport.json(result, details: false, compact: true) + "\n") } else {
                Output.stdout("# \(name): \(s.name)\n" + BenchReport.text(result))
            }
            if let out { try append(BenchReport.json(result, details: true, compact: true) + "\n", to: out) }
            if result.metrics.failed > s.maxFailedRequests {
                Output.stderr("dsdeploy: error: \(s.name): \(result.metrics.failed) requests failed\n")
                if let hint = ContextHint.text(forAny: result.metrics.failureReasons.keys, config: config) {
                    Output.stderr("  \(hint)\n")
                }
                failed = true
            }
        }
        if failed { throw ExitCode.failure }
    }

    /// A warning on stderr when the server refused token-id prompts and the run sent text instead.
    func warnIfTokenIDsRefused(_ result: BenchResult) {
        guard let reason = result.promptMode.refusal else { return }
        Output.stderr("dsdeploy: warning: \(result.config.baseURL) refused token-id prompts (\(reason)); sent text "
                      + "instead, so input lengths are the server's count of that text, not the requested ones\n")
    }

    /// Appends `line` to `path` (created when missing).
    func append(_ line: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else {
            Output.stderr("dsdeploy: error: cannot write \(path)\n")
            throw ExitCode.failure
        }
        h.seekToEndOfFile()
        h.write(Data(line.utf8))
        h.closeFile()
    }

    /// The ready prefill and decode servers of DEPLOYMENT (a disaggregated deployment's router).
    func roleServers(on target: (any Target)?) -> [(name: String, urls: [String])] {
        guard let deployment, let target else { return [] }
        return ["prefill", "decode"].map { role in
            (role, ((try? target.endpoints(of: "\(deployment)-\(role)")) ?? []).filter(\.ready).map(\.url))
        }
    }

    /// The per-role table under the text report.
    func roleTable(_ roles: [(name: String, urls: [String])], _ perRole: [String: [String: Double]]) -> String {
        var out = "\nPer role (each server's own SGLang metrics, during the run):\n"
        out += "  role      servers  requests  prompt tokens  generation tokens\n"
        for role in roles {
            guard let m = perRole[role.name] else {
                out += "  \(role.name.padding(toLength: 8, withPad: " ", startingAt: 0))  \(role.urls.count)        "
                    + "no metrics: add --enable-metrics to the servers' args\n"
                continue
            }
            func f(_ k: String, _ w: Int) -> String {
                let s = String(Int(m["sglang:" + k] ?? 0))
                return String(repeating: " ", count: max(0, w - s.count)) + s
            }
            out += "  \(role.name.padding(toLength: 8, withPad: " ", startingAt: 0))  \(String(role.urls.count).padding(toLength: 7, withPad: " ", startingAt: 0))"
                + f("num_requests_total", 8) + f("prompt_tokens_total", 15) + f("generation_tokens_total", 19) + "\n"
        }
        return out
    }

    /// `--url`, or the endpoint of DEPLOYMENT's replica on its target, with the model name the target
    /// serves it as (nil: the deployment's `servedModelName`), and that target (nil with `--url`).
    func endpoint() throws -> (url: String, model: String?, engine: EngineKind?, target: (any Target)?) {
        if let url {
            guard deployment == nil else { throw ValidationError("give either --url or DEPLOYMENT, not both") }
            return (url, nil, nil, nil)
        }
        guard let deployment else { throw ValidationError("give --url URL or a DEPLOYMENT name") }
        // The deployment's target: the one the -f files define (a gpustack Target ...), else local.
        let target = try TargetResolver.target(inFiles: files, options: try ManifestOptions.parse([]))
        let endpoints: [Endpoint]
        do { endpoints = try target.endpoints(of: deployment) } catch { throw fail(error.message) }
        guard !endpoints.isEmpty else {
            throw fail("no deployment '\(deployment)' on target '\(target.ref.name)'" + Status.where_(target))
        }
        let pick: Endpoint?
        if let replica { pick = endpoints.first { $0.replica == replica } } else { pick = endpoints.first { $0.ready } }
        guard let pick else {
            throw fail("\(deployment): " + (replica.map { "replica \($0) not found" } ?? "no ready replica"))
        }
        guard pick.ready else { throw fail("\(deployment)/\(pick.replica) is not ready") }
        return (pick.url, pick.model, pick.engine, target)
    }
}
