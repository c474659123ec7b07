public import Engines
import NIOCore
import NIOHTTP1
import NIOPosix

/// A running simulator HTTP server (SwiftNIO, one event loop group).
///
/// `start` binds at once and answers 503 until the start delay has passed; then `/health`
/// answers 200, and (unless `neverReady`) everything else. Use it in-process in tests, or through
/// `SimProcess` for the real executable.
public final class SimServer: Sendable {
    let core: SimCore
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let ownsGroup: Bool
    /// The prefill's bootstrap server (`--disaggregation-mode prefill` only).
    private let bootstrapChannel: (any Channel)?
    /// The port actually bound (useful with port 0).
    public let port: Int
    /// The bootstrap server's port (`--disaggregation-mode prefill` only; useful with port 0).
    public let bootstrapPort: Int?

    private init(core: SimCore, group: MultiThreadedEventLoopGroup, channel: any Channel, ownsGroup: Bool, port: Int,
                 bootstrapChannel: (any Channel)?) {
        self.core = core
        self.group = group
        self.channel = channel
        self.ownsGroup = ownsGroup
        self.port = port
        self.bootstrapChannel = bootstrapChannel
        self.bootstrapPort = bootstrapChannel.map { $0.localAddress?.port ?? core.bootstrapPort }
    }

    /// Binds `launch.host:launch.port` and starts the lifecycle timers.
    /// - Parameters:
    ///   - onExit: called with 1 when `crashAfter` fires (the process exits; tests record it).
    ///   - threads: event loop threads (nil: one per core).
    public static func start(launch: SimLaunch, settings: SimSettings, log: SimLog = .stderr,
                             threads: Int? = nil,
                             onExit: @escaping @Sendable (Int32) -> Void = { _ in }) async throws -> SimServer {
        let core = SimCore(launch: launch, settings: settings, log: log)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads ?? System.coreCount))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
                    try channel.pipeline.syncOperations.addHandler(SimHTTPHandler(core: core))
                }
            }
        // A prefill server opens its bootstrap server first (SGLang starts it with the scheduler,
        // before the HTTP server), on the same host.
        var kvChannel: (any Channel)?
        if let store = core.bootstrapStore {
            do {
                kvChannel = try await BootstrapServer.bind(host: launch.host, port: core.bootstrapPort, core: core,
                                                           store: store, group: group)
            } catch {
                try? await group.shutdownGracefully()
                throw SimSetupError("OSError: [Errno 98] error while attempting to bind the disaggregation bootstrap server "
                                    + "on ('\(launch.host)', \(core.bootstrapPort)) (--disaggregation-bootstrap-port): \(error)")
            }
            log.info("Bootstrap server started on \(launch.host):\(kvChannel?.localAddress?.port ?? core.bootstrapPort) "
                     + "(disaggregation_mode=prefill, transfer backend \(core.serverArg("disaggregation_transfer_backend")?.string ?? "mooncake"))")
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: launch.host, port: launch.port).get()
        } catch {
            try? await kvChannel?.close().get()
            try? await group.shutdownGracefully()
            throw error
        }
        let port = channel.localAddress?.port ?? launch.port
        let server = SimServer(core: core, group: group, channel: channel, ownsGroup: true, port: port,
                               bootstrapChannel: kvChannel)
        server.scheduleLifecycle(onExit: onExit)
        return server
    }

    /// Where the engine is in its life.
    public var phase: SimPhase { core.phase }

    /// Generations in flight.
    public var activeGenerations: Int { core.activeGenerations }

    /// How late the latest chunk timer fired so far, in milliseconds (diagnostics for timing tests).
    public var worstTimerLatenessMs: Double { core.worstTimerLatenessMs }

    /// The `/server_info` document as served now.
    public var serverInfo: JSONValue { core.serverInfo() }

    /// `http://127.0.0.1:PORT` for the bound address (IPv6 hosts bracketed).
    public var baseURL: String {
        let host = core.launch.host.contains(":") ? "[\(core.launch.host)]" : core.launch.host
        return "http://\(host):\(port)"
    }

    private func scheduleLifecycle(onExit: @escaping @Sendable (Int32) -> Void) {
        let loop = group.next()
        SimServer.scheduleLifecycle(core: core, port: port, onExit: onExit) { seconds, body in
            loop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { body() }
        }
    }

    /// The start delay (then the start-up log lines and the ready phase) and `crashAfter`, on `schedule`.
    static func scheduleLifecycle(core: SimCore, port: Int, onExit: @escaping @Sendable (Int32) -> Void,
                                  schedule: (Double, @escaping @Sendable () -> Void) -> Void) {
        let settings = core.settings
        schedule(settings.startDelay) {
            guard core.phase == .starting else { return }
            let vllm = core.launch.engine == .vllm
            if vllm { core.log.info(VLLMLines.starting(host: core.launch.host, port: port)) }
            core.log.uvicorn("Started server process [\(SimProcess.pid)]")
            core.log.uvicorn("Waiting for application startup.")
            core.log.uvicorn(SGLangLines.startupComplete)
            if !vllm { core.log.uvicorn(SGLangLines.uvicornRunning(host: core.launch.host, port: port)) }
            core.setPhase(.started)
            if !settings.neverReady {
                core.setPhase(.ready)
                if !vllm { core.log.info(SGLangLines.ready) }
            }
        }
        if let after = settings.crashAfter {
            schedule(after) {
                guard core.phase != .draining else { return }
                for line in core.launch.engine == .vllm ? VLLMLines.runtimeCrash : SGLangLines.runtimeCrash {
                    core.log.info(line)
                }
                onExit(1)
            }
        }
    }

    /// Stops accepting, lets in-flight generations finish for up to `grace` seconds, then closes
    /// everything and stops the event loops.
    public func shutdown(grace: Double = 0.8) async {
        core.setPhase(.draining)
        try? await channel.close().get()
        let deadline = NIODeadline.now() + .nanoseconds(Int64(grace * 1e9))
        var polls = 0
        while core.activeGenerations + core.kvFetches > 0, NIODeadline.now() < deadline, polls < 10_000 {
            polls += 1
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        try? await bootstrapChannel?.close().get()
        if ownsGroup { try? await group.shutdownGracefully() }
    }
}
