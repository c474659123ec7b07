public import DeployCore
public import DeployKit
import Engines

/// Turns a `LaunchSpec` into what the local target executes: argv and environment. Pure.
public enum LaunchCommand {
    /// Why a launch spec cannot be run on the chosen port.
    public struct PortError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong.
        public var message: String
        /// The message.
        public var description: String { message }
    }

    /// Environment variables taken from the parent process; nothing else is inherited.
    public static let inherited = ["PATH", "HOME", "LANG", "TMPDIR"]

    /// The spec moved to `port`: `port`, the port flag's value in `argv` (after the entrypoint),
    /// its rendered flag tokens and its flag-set entry all say `port`.
    ///
    /// - Throws: `PortError` when the port differs from the rendered one and the argv has no port flag
    ///   carrying the rendered port (the engine would listen elsewhere).
    public static func moved(_ spec: LaunchSpec, to port: Int) throws(PortError) -> LaunchSpec {
        guard port != spec.port else { return spec }
        let pdFlags = spec.pdFlags()
        var spec = spec
        if !pdFlags.isEmpty, spec.argv.suffix(pdFlags.count).elementsEqual(pdFlags) { spec.argv.removeLast(pdFlags.count) }
        let spellings = portSpellings(engine: spec.engine, version: spec.engineVersion)
        let from = String(spec.port), to = String(port)
        var s = spec
        var replaced = false
        s.argv = replacePort(in: spec.argv, from: from, to: to, spellings: spellings,
                             skip: spec.entrypointCount, replaced: &replaced)
        guard replaced else {
            throw PortError(message: "\(spec.id): the argv has no \(spellings.sorted().joined(separator: "/")) "
                            + "\(from) to move to port \(port); add --port {{port}} to the run command")
        }
        s.flags = spec.flags.map { f in
            var g = f
            var unused = false
            g.tokens = replacePort(in: f.tokens, from: from, to: to, spellings: spellings, skip: 0, replaced: &unused)
            return g
        }
        for name in s.flagSet.names where spellings.contains(name) && s.flagSet[name] == .int(Int64(spec.port)) {
            s.flagSet[name] = .int(Int64(port))
        }
        s.port = port
        if !pdFlags.isEmpty { s.argv += s.pdFlags() }
        return s
    }

    /// The argv to execute: the spec's, with the entrypoint replaced by the target's local command
    /// for the image when there is one (how a simulator stands in for an engine image). A router is never replaced:
    /// its image is the engine's by default, and its entrypoint (`router.entrypoint`) is what runs here.
    public static func argv(for spec: LaunchSpec, imageCommands: [String: [String]]) -> [String] {
        guard spec.engine != .sglangRouter, let command = imageCommands[spec.image], !command.isEmpty else { return spec.argv }
        let count = min(max(spec.entrypointCount, 0), spec.argv.count)
        return command + spec.argv.dropFirst(count)
    }

    /// A multi-node replica on this one host (`nodes` > 1): each node's argv. Node `i` listens on
    /// `port + 100·i`; every node gets the engine's multi-node flags (`MultiNodeFlags`), with rank 0's
    /// rendezvous at `host:port + 1000`. Empty for a single-node replica.
    public static func nodeArgvs(_ spec: LaunchSpec, imageCommands: [String: [String]]) -> [[String]] {
        guard let n = spec.nodes, n > 1, MultiNodeFlags.of(spec.engine) != nil else { return [] }
        let spellings = portSpellings(engine: spec.engine, version: spec.engineVersion)
        let base = argv(for: spec, imageCommands: imageCommands)
        let skip = base.count - (spec.argv.count - spec.entrypointCount)
        return (0..<n).map { rank in
            var replaced = false
            let moved = rank == 0 ? base : replacePort(in: base, from: String(spec.port), to: String(spec.port + 100 * rank),
                                                        spellings: spellings, skip: skip, replaced: &replaced)
            return moved + spec.nodeFlags(rank: rank)
        }
    }

    /// The child's environment: `PATH`, `HOME`, `LANG`, `TMPDIR` from `parent`, the spec's plain env,
    /// the resolved deployment env (secrets included), `CUDA_VISIBLE_DEVICES` from the GPU ids unless the
    /// deployment sets it (with `CUDA_DEVICE_ORDER=PCI_BUS_ID`, so CUDA counts GPUs as nvidia-smi and
    /// the `gpus` list do, unless set), `DSDEPLOY_ENGINE_VERSION` (the engine version the flags were
    /// checked against, unless set) and `DSDEPLOY_INSTANCE` (marks the instance's processes).
    public static func environment(for spec: LaunchSpec, instance: String, resolved: [String: Secret],
                                   parent: [String: String]) -> [String: Secret] {
        var env: [String: Secret] = [:]
        for name in inherited { if let v = parent[name] { env[name] = Secret(v) } }
        for e in spec.env where !e.secret { if let v = e.value { env[e.name] = Secret(v) } }
        for (k, v) in resolved { env[k] = v }
        if !spec.gpuIds.isEmpty {
            let ids = spec.gpuIds.map(String.init).joined(separator: ",")
            if env["CUDA_VISIBLE_DEVICES"] == nil { env["CUDA_VISIBLE_DEVICES"] = Secret(ids) }
            // The placed ids are nvidia-smi's (PCI bus order); CUDA counts fastest first unless told.
            if env["CUDA_VISIBLE_DEVICES"]?.reveal() == ids, env["CUDA_DEVICE_ORDER"] == nil {
                env["CUDA_DEVICE_ORDER"] = Secret("PCI_BUS_ID")
            }
        }
        // Which engine version dsdeploy checked the flags against (the simulator accepts that version's).
        if env["DSDEPLOY_ENGINE_VERSION"] == nil, !spec.engineVersion.isEmpty {
            env["DSDEPLOY_ENGINE_VERSION"] = Secret(spec.engineVersion)
        }
        env["DSDEPLOY_INSTANCE"] = Secret(instance)
        return env
    }

    /// Spellings of the engine's port flag (`--port` when the catalog is unknown).
    static func portSpellings(engine: EngineKind, version: String) -> Set<String> {
        guard let catalog = CatalogStore.resolvedCatalog(engine, version: version),
              let spec = catalog.spec(named: "--port") else { return ["--port"] }
        return Set([spec.name] + spec.aliases)
    }

    static func replacePort(in argv: [String], from: String, to: String, spellings: Set<String>, skip: Int,
                            replaced: inout Bool) -> [String] {
        var out = argv
        var i = max(skip, 0)
        while i < out.count {
            let token = out[i]
            if spellings.contains(token), i + 1 < out.count, out[i + 1] == from {
                out[i + 1] = to
                replaced = true
                i += 2
                continue
            }
            if let eq = token.firstIndex(of: "="), spellings.contains(String(token[..<eq])),
               token[token.index(after: eq)...] == from {
                out[i] = String(token[..<eq]) + "=" + to
                replaced = true
            }
            i += 1
        }
        return out
    }
}
