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

    /// Runs until a signal or a simulated crash; returns the exit code.
    public static func run(arguments: [String], environment: [String: String], log: SimLog = .stderr) async -> Int32 {
        var settings: SimSettings
        let catalog: FlagCatalog
        do {
            settings = try SimSettings.fromEnvironment(environment)
        } catch {
            log.raw("\(SimArguments.prog): error: \(error.message)")
            return 2
        }
        let personality = settings.personality(for: arguments)
        if personality.engine == .vllm {
            return await runVLLM(arguments: personality.argv, settings: personality.settings, log: log)
        }
        settings = personality.settings
        do {
            catalog = try CatalogStore.catalog(.sglang, version: settings.version)
        } catch {
            log.raw("\(SimArguments.prog): error: DSDEPLOY_SIM_VERSION: \(error)")
            return 2
        }
        let launch: SimLaunch
        switch SimArguments.parse(arguments, catalog: catalog) {
        case .help(let text):
            print(text)
            return 0
        case .usageError(let message):
            log.raw(SimArguments.usageLine(catalog))
            log.raw("\(SimArguments.prog): error: \(message)")
            return 2
        case .configError(let message):
            log.raw("Traceback (most recent call last):")
            log.raw("  File \"/sgl-workspace/sglang/python/sglang/srt/server_args.py\", line 1, in __post_init__")
            log.raw("ValueError: \(message)")
            return 1
        case .launch(let l, let warnings):
            launch = l
            for w in warnings { log.info("WARNING: \(w)") }
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
        log.info(SGLangLines.loadEnd)
        log.info(SGLangLines.kvCache)
        return await serve(launch: launch, settings: settings, log: log)
    }

    private static func quoted(_ s: String) -> String { "'" + s + "'" }

    /// The vLLM personality: `vllm serve` argv (without `vllm serve`), vLLM-like logs and errors.
    private static func runVLLM(arguments: [String], settings: SimSettings, log: SimLog) async -> Int32 {
        let catalog: FlagCatalog
        do {
            catalog = try CatalogStore.catalog(.vllm, version: settings.version)
        } catch {
            log.raw("\(SimArguments.vllmProg): error: DSDEPLOY_SIM_VERSION: \(error)")
            return 2
        }
        let launch: SimLaunch
        switch SimArguments.parseVLLM(arguments, catalog: catalog) {
        case .help(let text):
            print(text)
            return 0
        case .usageError(let message):
            log.raw(SimArguments.vllmUsageLine(catalog))
            log.raw("\(SimArguments.vllmProg): error: \(message)")
            return 2
        case .configError(let message):
            log.raw("Traceback (most recent call last):")
            log.raw("  File \"/usr/local/lib/python3.12/dist-packages/vllm/engine/arg_utils.py\", line 1, in create_engine_config")
            log.raw("ValueError: \(message)")
            return 1
        case .launch(let l, let warnings):
            launch = l
            for w in warnings { log.info("WARNING: \(w)") }
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

    /// Starts the server and waits for SIGTERM/SIGINT or a simulated crash.
    private static func serve(launch: SimLaunch, settings: SimSettings, log: SimLog) async -> Int32 {
        let (events, continuation) = AsyncStream<Int32?>.makeStream()
        let server: SimServer
        do {
            server = try await SimServer.start(launch: launch, settings: settings, log: log,
                                               onExit: { code in continuation.yield(code) })
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
