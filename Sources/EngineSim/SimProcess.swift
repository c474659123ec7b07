import Engines
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The simulator as a process: flags, environment, logs, signals and exit codes.
///
/// Exit codes: 0 after SIGTERM/SIGINT (or `--help`), 1 for a simulated crash or an engine-level
/// config error, 2 for command-line errors (like argparse) and bad `DSDEPLOY_SIM_*` values.
public enum SimProcess {
    /// This process's id.
    static var pid: Int32 { getpid() }

    /// Runs until a signal or a simulated crash; returns the exit code. Log lines go to `log`;
    /// `--help` text goes to `output`.
    public static func run(arguments: [String], environment: [String: String], log: SimLog = .stderr,
                           output: SimLog = .stdout) async -> Int32 {
        var settings: SimSettings
        do {
            settings = try SimSettings.fromEnvironment(environment)
        } catch {
            log.raw("\(SimArguments.prog): error: \(error.message)")
            return 2
        }
        let personality = settings.personality(for: arguments)
        if personality.engine == .vllm {
            return await runVLLM(arguments: personality.argv, settings: personality.settings, log: log,
                                 output: output)
        }
        settings = personality.settings
        let launch: SimLaunch
        switch startLaunch(arguments, version: settings.version, front: .sglang, log: log, output: output) {
        case .success(let l): launch = l
        case .failure(let exit): return exit.code
        }
        log.info(SGLangLines.serverArgs(["model_path": quoted(launch.modelPath), "host": quoted(launch.host),
                                         "port": String(launch.port),
                                         "tp_size": launch.serverArgs["tp_size"]?.canonicalText ?? "1"]
            .sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        log.info(SGLangLines.loadBegin)
        if settings.crashOnStart {
            for line in SGLangLines.startupCrash { log.raw(line) }
            return 1
        }
        // Multi-node: rank 0 serves only after every rank joined; a rank > 0 runs the dummy health server.
        var group: SimRendezvous?
        let nnodes = launch.serverArgs["nnodes"]?.int ?? 1
        if nnodes > 1 {
            let rank = launch.serverArgs["node_rank"]?.int ?? 0
            guard let raw = launch.serverArgs["dist_init_addr"]?.string, let (host, port) = SimRendezvous.split(raw) else {
                log.raw("ValueError: please provide --dist-init-addr as host:port of head node")
                return 1
            }
            if rank == 0 {
                do { group = try SimRendezvous.lead(host: host, port: port, nnodes: nnodes, log: log) } catch {
                    log.raw("RuntimeError: \(error)")
                    return 1
                }
            } else {
                if settings.neverJoin {
                    log.info("Init torch distributed begin. node_rank=\(rank) (DSDEPLOY_SIM_NEVER_JOIN: never joining)")
                    while true { sleep(3600) }
                }
                group = SimRendezvous.join(host: host, port: port, rank: rank, log: log)
                settings.dummyHealthOnly = true
            }
        }
        log.info(SGLangLines.loadEnd)
        log.info(SGLangLines.kvCache)
        return await serve(launch: launch, settings: settings, log: log, group: group)
    }

    private static func quoted(_ s: String) -> String { "'" + s + "'" }

    /// The vLLM personality: `vllm serve` argv (without `vllm serve`), vLLM-like logs and errors.
    private static func runVLLM(arguments: [String], settings: SimSettings, log: SimLog,
                                output: SimLog) async -> Int32 {
        let launch: SimLaunch
        switch startLaunch(arguments, version: settings.version, front: .vllm, log: log, output: output) {
        case .success(let l): launch = l
        case .failure(let exit): return exit.code
        }
        log.info(VLLMLines.version(settings.version))
        log.info(VLLMLines.args(model: launch.modelPath, served: launch.servedModelName,
                                maxModelLen: launch.serverArgs["max_model_len"]?.canonicalText ?? "None"))
        if settings.crashOnStart {
            for line in VLLMLines.startupCrash { log.raw(line) }
            return 1
        }
        log.info(VLLMLines.kvCache)
        if settings.vllmDevMode { log.info(VLLMLines.devMode) }
        return await serve(launch: launch, settings: settings, log: log)
    }

    /// What differs between the personalities' command lines: the catalog, the program's name, its
    /// parser and usage line, and the Python frame a config error is raised from.
    private struct Front {
        var engine: EngineKind
        var prog: String
        var parse: @Sendable ([String], FlagCatalog) -> SimArgumentOutcome
        var usage: @Sendable (FlagCatalog) -> String
        var raisedIn: String

        static let sglang = Front(engine: .sglang, prog: SimArguments.prog, parse: SimArguments.parse,
                                  usage: SimArguments.usageLine,
                                  raisedIn: "/sgl-workspace/sglang/python/sglang/srt/server_args.py\", line 1, in __post_init__")
        static let vllm = Front(engine: .vllm, prog: SimArguments.vllmProg, parse: SimArguments.parseVLLM,
                                usage: SimArguments.vllmUsageLine,
                                raisedIn: "/usr/local/lib/python3.12/dist-packages/vllm/engine/arg_utils.py\", line 1, in create_engine_config")
    }

    /// An exit code, as a failure.
    private struct Exit: Error { var code: Int32 }

    /// Loads the catalog and parses the command line as the engine would: the launch, or the exit
    /// code after printing what the engine prints (help 0 on `output`, usage error 2, config error 1).
    private static func startLaunch(_ arguments: [String], version: String, front: Front,
                                    log: SimLog, output: SimLog) -> Result<SimLaunch, Exit> {
        let catalog: FlagCatalog
        do {
            catalog = try CatalogStore.catalog(front.engine, version: version)
        } catch {
            log.raw("\(front.prog): error: DSDEPLOY_SIM_VERSION: \(error)")
            return .failure(Exit(code: 2))
        }
        switch front.parse(arguments, catalog) {
        case .help(let text):
            output.raw(text)
            return .failure(Exit(code: 0))
        case .usageError(let message):
            log.raw(front.usage(catalog))
            log.raw("\(front.prog): error: \(message)")
            return .failure(Exit(code: 2))
        case .configError(let message):
            log.raw("Traceback (most recent call last):")
            log.raw("  File \"\(front.raisedIn)")
            log.raw("ValueError: \(message)")
            return .failure(Exit(code: 1))
        case .launch(let launch, let warnings):
            for w in warnings { log.info("WARNING: \(w)") }
            return .success(launch)
        }
    }

    /// Starts the server and waits for SIGTERM/SIGINT or a simulated crash.
    /// `serve` in replay mode (`DSDEPLOY_SIM_REPLAY=1`): the same lifecycle and signals, served by `ReplayServer`.
    private static func serveReplay(launch: SimLaunch, settings: SimSettings, log: SimLog,
                                    events: AsyncStream<Int32?>,
                                    continuation: AsyncStream<Int32?>.Continuation) async -> Int32 {
        let core = SimCore(launch: launch, settings: settings, log: log)
        let server: ReplayServer
        do {
            server = try ReplayServer.start(core: core)
        } catch {
            log.info("ERROR: [Errno 98] error while attempting to bind on address "
                     + "('\(launch.host)', \(launch.port)): \(error)")
            return 1
        }
        let timers = DispatchQueue(label: "dsdeploy-engine-sim.replay-lifecycle")
        SimServer.scheduleLifecycle(core: core, port: server.port, onExit: { continuation.yield($0) }) { seconds, body in
            timers.asyncAfter(deadline: .now() + seconds, execute: body)
        }
        let code = await waitForSignal(events: events, continuation: continuation)
        if code != 0 { return code }
        log.uvicorn("Shutting down")
        core.setPhase(.draining)
        server.shutdown()
        log.info(server.latenessSummary)
        log.uvicorn("Finished server process [\(pid)]")
        return 0
    }

    /// Waits for SIGTERM/SIGINT (0) or a simulated crash (its code).
    private static func waitForSignal(events: AsyncStream<Int32?>, continuation: AsyncStream<Int32?>.Continuation) async -> Int32 {
        let queue = DispatchQueue(label: "dsdeploy-engine-sim.signals")
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { continuation.yield(nil) }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        for await event in events { return event ?? 0 }
        return 0
    }

    private static func serve(launch: SimLaunch, settings: SimSettings, log: SimLog, group: SimRendezvous? = nil) async -> Int32 {
        let (events, continuation) = AsyncStream<Int32?>.makeStream()
        // A lost node ends the whole group, as NCCL's timeout would (immediately here).
        group?.watch { rank in
            log.raw("RuntimeError: NCCL communicator was aborted: the connection to node rank \(rank) was lost")
            continuation.yield(1)
        }
        if settings.replay {
            return await serveReplay(launch: launch, settings: settings, log: log, events: events,
                                     continuation: continuation)
        }
        let server: SimServer
        do {
            server = try await SimServer.start(launch: launch, settings: settings, log: log,
                                               onExit: { code in continuation.yield(code) })
        } catch let error as SimSetupError {
            log.raw(error.message)
            return 1
        } catch {
            log.info("ERROR: [Errno 98] error while attempting to bind on address "
                     + "('\(launch.host)', \(launch.port)): \(error)")
            return 1
        }
        let queue = DispatchQueue(label: "dsdeploy-engine-sim.signals")
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { continuation.yield(nil) }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        var code: Int32 = 0
        for await event in events {
            code = event ?? 0
            break
        }
        if code != 0 { return code }
        log.uvicorn("Shutting down")
        log.uvicorn("Waiting for application shutdown.")
        await server.shutdown(grace: 0.8)
        log.uvicorn("Application shutdown complete.")
        log.uvicorn("Finished server process [\(pid)]")
        return 0
    }
}
