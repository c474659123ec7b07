public import DeploySpec
import DeployCore
import DeployTemplate
import Engines

/// Renders resolved deployments into one `LaunchSpec` per replica. Pure: no environment, no files.
public struct Renderer: Sendable {
    /// Creates a renderer.
    public init() {}

    /// Launch specs for every replica of a deployment, or the errors that prevent rendering.
    /// `placement[i]` is replica i's host and GPUs as the `Placer` assigned them (default: the
    /// Target's `host`, GPUs `i*g ..< (i+1)*g`).
    public func render(_ r: ResolvedDeployment, placement: [ReplicaPlacement]? = nil) -> Result<[LaunchSpec], RenderError> {
        let d = r.deployment
        let defaultHost = r.target?.host ?? "127.0.0.1"
        let revision = Revision.of(r)
        var specs: [LaunchSpec] = []
        for i in 0..<d.replicas {
            let placed = placement.flatMap { i < $0.count ? $0[i] : nil }
            let host = placed?.address ?? defaultHost
            let gpuIds = placed?.gpuIds ?? (0..<d.gpusPerReplica).map { i * d.gpusPerReplica + $0 }
            let port = d.port + i
            var values: [String: String] = [
                "model_path": Renderer.modelPath(d), "worker_ip": placed?.bindAddress ?? host, "port": String(port),
                "model_name": d.servedModelName, "gpu_count": String(d.gpusPerReplica),
                "gpu_ids": gpuIds.map(String.init).joined(separator: ","), "replica": String(i),
            ]
            for e in r.env { if case .literal(let v) = e.value { values[e.name.value] = v } }
            var argv = r.version.entrypoint
            if let first = argv.first, first.contains("/"), !first.hasPrefix("/") {
                argv[0] = ManifestPath.resolve(first, from: r.version.location.file)
            }
            var flags: [RenderedFlag] = []
            var portTokens: [PortToken] = []
            var templateTokens: [PortToken] = []
            if let command = r.version.command {
                switch ArgvSplitter.split(command.value) {
                case .success(let tokens):
                    var rendered: [String] = []
                    for token in tokens {
                        do {
                            let t = try Template(parsing: token.text)
                            switch t.render(values) {
                            case .success(let s):
                                if t.names.contains("port") {
                                    portTokens.append(PortToken(index: argv.count + rendered.count, template: token.text))
                                }
                                if !t.names.isEmpty {
                                    templateTokens.append(PortToken(index: argv.count + rendered.count, template: token.text))
                                }
                                rendered.append(s)
                            case .failure(let e):
                                return .failure(RenderError(deployment: d.name, message: "run command: \(e.message)"))
                            }
                        } catch {
                            return .failure(RenderError(deployment: d.name, message: "run command: \(error.message)"))
                        }
                    }
                    argv += rendered
                    flags += Renderer.flagsFromTokens(rendered, catalog: r.catalog).map { f in
                        var f = f
                        f.origin = r.origin(of: command.location)
                        return f
                    }
                case .failure(let e):
                    return .failure(RenderError(deployment: d.name, message: "run command: \(e.message)"))
                }
            }
            for entry in r.args where entry.source != .template {
                let tokens = Renderer.argvTokens(entry.group, catalog: r.catalog)
                argv += tokens
                flags.append(RenderedFlag(name: entry.canonicalName ?? entry.group.flag, tokens: tokens,
                                          source: entry.source, origin: entry.location.map(r.origin(of:))))
            }
            var env = r.env.map { e in
                var rendered = Renderer.renderEnv(e)
                rendered.origin = r.origin(of: e.name.location)
                return rendered
            }
            if !gpuIds.isEmpty, !env.contains(where: { $0.name == "CUDA_VISIBLE_DEVICES" }) {
                env.append(RenderedEnv(name: "CUDA_VISIBLE_DEVICES", value: values["gpu_ids"], secret: false, from: nil))
            }
            specs.append(LaunchSpec(deployment: d.name, replica: i, image: r.version.image,
                                    engine: r.backend.engine, engineVersion: r.version.engineVersion.value,
                                    argv: argv, env: env, host: host, port: port, gpuIds: gpuIds, flags: flags,
                                    flagSet: r.flagSet, entrypointCount: r.version.entrypoint.count,
                                    labels: d.labels,
                                    readinessPath: d.readiness?.path ?? r.version.readiness?.path,
                                    readinessLogLine: d.readiness?.logLine ?? r.version.readiness?.logLine,
                                    startTimeout: d.readiness?.timeoutSeconds ?? r.version.readiness?.timeoutSeconds ?? 600,
                                    maxUnavailable: d.rollout.maxUnavailable, maxSurge: d.rollout.maxSurge,
                                    revision: revision, target: r.target?.name ?? d.target?.value ?? "local",
                                    portTokens: portTokens, templateValues: values))
            specs[specs.count - 1].node = placed?.host
            if d.nodes > 1 { specs[specs.count - 1].nodes = d.nodes }
            specs[specs.count - 1].pd = d.pd
            specs[specs.count - 1].argv += specs[specs.count - 1].pdFlags()
            // Nodes on distinct hosts: each renders its own {{worker_ip}} and {{gpu_ids}} (LaunchSpec.forNode).
            if d.nodes > 1, let ranks = placed?.ranks, ranks.count == d.nodes {
                specs[specs.count - 1].nodeHosts = ranks
                specs[specs.count - 1].nodeTemplateTokens = templateTokens
            }
            specs[specs.count - 1].container = d.container
            specs[specs.count - 1].modelSource = d.model.source
            specs[specs.count - 1].fieldOrigins = Renderer.fieldOrigins(r)
        }
        return .success(specs)
    }

    /// The workers of each disaggregated deployment in its router's argv (`--prefill URL BOOTSTRAP_PORT`,
    /// `--decode URL`, as placed), before its port-dependent flags: the router starts with them (its
    /// startup checks count them: `--decode-policy power_of_two` needs two decode workers), and
    /// dsdeploy keeps its worker list right through rollouts (`ReplicaMembership`). Like `--port`,
    /// they are not in the flag set or the revision: scaling a role does not restart the router.
    public static func wireRouters(_ specs: [LaunchSpec]) -> [LaunchSpec] {
        var out = specs
        for i in out.indices {
            guard let pd = out[i].pd, pd.role == .router else { continue }
            let workers = specs.filter { $0.pd?.group == pd.group && $0.pd?.role != .router }
                .sorted { ($0.pd!.role == .prefill ? 0 : 1, $0.deployment, $0.replica) < ($1.pd!.role == .prefill ? 0 : 1, $1.deployment, $1.replica) }
            var words: [String] = []
            for w in workers {
                let url = Endpoint.url(host: w.host, port: w.port)
                if let b = w.bootstrapPort { words += ["--prefill", url, String(b)] } else { words += ["--decode", url] }
            }
            let tail = out[i].pdFlags()
            let at = out[i].argv.suffix(tail.count).elementsEqual(tail) ? out[i].argv.count - tail.count : out[i].argv.count
            out[i].argv.insert(contentsOf: words, at: at)
        }
        return out
    }

    /// `{{model_path}}`: the hub id, or the local path resolved against the directory of the manifest
    /// that wrote it (an overlay's own directory when an overlay set it; `--set`: the working directory).
    static func modelPath(_ d: Deployment) -> String {
        guard d.model.source == "local", let p = d.model.path else { return d.model.modelPath }
        let file = d.fieldLocations["model.path"]?.file ?? d.fieldLocations["model"]?.file ?? d.file
        return ManifestPath.resolve(p, from: file == ManifestLayer.setFile ? "./" + file : file)
    }

    /// Where each deployment field was set (flags and env carry their own origins; benchmarks are
    /// not part of what runs).
    static func fieldOrigins(_ r: ResolvedDeployment) -> [String: ValueOrigin] {
        var out: [String: ValueOrigin] = [:]
        for (path, location) in r.deployment.fieldLocations.all {
            let head = path.split(separator: ".", maxSplits: 1).first.map(String.init) ?? path
            if ["args", "env", "benchmarks"].contains(head) { continue }
            out[path] = r.origin(of: location)
        }
        return out
    }

    /// The argv tokens of one flag group, as the user spelled it (`--k=v` stays one token), except
    /// that an abbreviation is written in full: what runs is what was checked, whatever flags a
    /// later engine version adds with the same prefix.
    static func argvTokens(_ group: ArgGroup, catalog: FlagCatalog) -> [String] {
        var g = group
        let spelling = catalog.resolveSpelling(g.flag)
        if case .abbreviation(_, _, let full) = spelling { g.flag = full }
        // llama-server matches whole words and never splits `--flag=value`: give it two words.
        if g.attached, catalog.engine == .llamaCpp { return [g.flag] + g.values }
        if g.attached { return ["\(g.flag)=\(g.values.joined(separator: " "))"] }
        guard let value = g.values.first else { return [g.flag] }
        if let spec = catalog.spec(for: spelling), spec.arity == .oneOrMore || spec.arity == .zeroOrMore {
            return [g.flag] + g.values.flatMap { $0.split(separator: " ").map(String.init) }
        }
        return [g.flag] + (g.values.count == 1 ? [value] : g.values)
    }

    /// Groups rendered template tokens into flags for the provenance table.
    static func flagsFromTokens(_ tokens: [String], catalog: FlagCatalog) -> [RenderedFlag] {
        ArgGroup.group(tokens: tokens.enumerated().map { ($0.element, $0.offset) }, origin: 0).map { g in
            RenderedFlag(name: catalog.canonicalSpec(for: g.flag)?.name ?? g.flag,
                         tokens: g.attached ? ["\(g.flag)=\(g.values.joined())"] : [g.flag] + g.values,
                         source: .template)
        }
    }

    static func renderEnv(_ e: EnvVar) -> RenderedEnv {
        switch e.value {
        case .literal(let v): return RenderedEnv(name: e.name.value, value: v, secret: false, from: nil)
        case .secretLiteral: return RenderedEnv(name: e.name.value, value: nil, secret: true, from: "literal")
        case .fromEnv(let n, let s):
            return RenderedEnv(name: e.name.value, value: nil, secret: s, from: "env:\(n)")
        case .fromFile(let p, let s):
            return RenderedEnv(name: e.name.value, value: nil, secret: s, from: "file:\(p)")
        }
    }
}

/// Why a deployment could not be rendered.
public struct RenderError: Error, Sendable {
    /// The deployment.
    public var deployment: String
    /// What went wrong.
    public var message: String

    /// Creates an error (targets that render objects of their own report through it too).
    public init(deployment: String, message: String) {
        self.deployment = deployment
        self.message = message
    }
}
