import DeployCore
import DeployTemplate
import Engines
import Foundation

/// Target documents: which target a deployment without `spec.target` uses, what every target type
/// shares (a registered type, `nodes` only where the type can span nodes, enough GPUs), and the
/// registered type's own checks.
public enum TargetCheck {
    /// GPUs the deployments on each target with a `gpus` list need, against what it has: one located
    /// error per deployment that does not fit (deployments take GPUs in name order, as the placer
    /// hands them out).
    static func checkCapacity(_ manifest: Manifest, targetOf: (Deployment) -> String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for t in manifest.targets.values.sorted(by: { $0.name < $1.name }) {
            guard let pool = t.gpus else { continue }
            var used = 0
            for d in manifest.deployments.filter({ targetOf($0) == t.name }).sorted(by: { $0.name < $1.name }) {
                let need = d.replicas * d.gpusPerReplica * d.nodes
                if used + need > pool.count {
                    let nodes = d.nodes > 1 ? " × \(d.nodes) nodes" : ""
                    out.append(.error("insufficient-gpus", "deployment '\(d.name)' needs \(need) GPU\(need == 1 ? "" : "s") "
                                      + "(\(d.replicas) replica\(d.replicas == 1 ? "" : "s") × \(d.gpusPerReplica)\(nodes)), but target '\(t.name)' has "
                                      + "\(max(0, pool.count - used)) of its \(pool.count) left",
                                      at: d.fieldLocations["gpusPerReplica"] ?? d.fieldLocations["replicas"] ?? d.location,
                                      notes: ["gpus of target '\(t.name)': \(pool.map(String.init).joined(separator: ","))"]))
                }
                used += need
            }
        }
        return out
    }

    /// Names of targets whose type is not `local`, sorted.
    static func remoteTargetNames(_ manifest: Manifest) -> [String] {
        manifest.targets.values.filter { $0.type != "local" }.map(\.name).sorted()
    }

    /// The target of deployments that name none: the only non-local Target in the manifests (a target
    /// file passed next to the deployments works as an overlay), else `local`; nil when there are several.
    static func defaultTargetName(_ manifest: Manifest) -> String? {
        let remote = remoteTargetNames(manifest)
        switch remote.count {
        case 0: return "local"
        case 1: return remote[0]
        default: return nil
        }
    }

    /// Problems of one Target document: its registered type's own checks (an unregistered type is
    /// reported by the schema check on `type`, with the registered ones listed).
    static func check(_ t: TargetConfig, types: TargetTypes, files: (any ManifestFileSource)?) -> [Diagnostic] {
        types.schema(t.type)?.check(t, files) ?? []
    }

    /// Problems of a deployment that runs on `target` (nil: the embedded local target).
    static func check(_ d: Deployment, backend: Backend, version: BackendVersion, on target: TargetConfig?,
                      types: TargetTypes) -> [Diagnostic] {
        let type = target?.type ?? "local"
        guard let schema = types.schema(type) else { return [] }
        var out: [Diagnostic] = []
        if d.nodes > 1, !schema.multiNode {
            out.append(.error("unsupported", "deployment '\(d.name)': replicas spanning \(d.nodes) nodes are not supported on a "
                              + "\(type) target (target '\(target?.name ?? "local")' runs each replica on one node); set nodesPerReplica: 1",
                              at: d.fieldLocations["nodesPerReplica"] ?? d.fieldLocations["nodes"] ?? d.location))
        }
        if let pd = d.pd, pd.role == .router, !schema.disaggregation {
            out.append(.error("unsupported", "deployment '\(pd.group)': prefill/decode disaggregation is not supported on a \(type) target "
                              + "(target '\(target?.name ?? "local")'); the local, docker and kubernetes targets run it",
                              at: d.fieldLocations["disaggregation"] ?? d.location))
        }
        if d.container != nil, !schema.containers {
            out.append(.warning("unused", "deployment '\(d.name)': 'container' settings apply to container targets (docker); "
                                + "target '\(target?.name ?? "local")' of type \(type) ignores them",
                                at: d.fieldLocations["container"] ?? d.location))
        }
        if d.gpusPerReplica > 0, version.framework == "cpu", type != "local" {
            // The image runs as it is there (on the local target it only names a local command).
            let n = d.gpusPerReplica
            out.append(.warning("gpus-unused", "deployment '\(d.name)' asks for \(n) GPU\(n == 1 ? "" : "s") per replica, but backend "
                                + "'\(backend.name)' version '\(version.name)' runs a CPU build (framework: cpu, \(version.image)): "
                                + "the engine will not use \(n == 1 ? "it" : "them")",
                                at: d.fieldLocations["gpusPerReplica"] ?? d.location,
                                notes: backend.engine == .llamaCpp
                                    ? ["llama.cpp publishes CUDA builds of llama-server in the same registry "
                                       + "(ghcr.io/ggml-org/llama.cpp:server-cuda12-b9603, for one): give a backend version one, "
                                       + "with framework: cuda; or set gpusPerReplica: 0"]
                                    : ["use a version whose image is built for GPUs, or set gpusPerReplica: 0"]))
        }
        if let problem = modelFileProblem(d, backend: backend, version: version, fetched: schema.fetchesModels) {
            out.append(.error("invalid-value", problem.message + " (target '\(target?.name ?? "local")' of type \(type) passes the id as it is)",
                              at: d.fieldLocations["model"] ?? d.location, notes: problem.notes))
        }
        return out + schema.checkDeployment(d, backend, version, target)
    }

    /// llama-server's `-m` loads a GGUF file; a hub repository id there stops it at start-up
    /// ("failed to load model"). Where the target does not fetch the model itself, a hub model must
    /// reach llama-server as `-hf` (which downloads it), or be given as a local file.
    static func modelFileProblem(_ d: Deployment, backend: Backend, version: BackendVersion,
                                 fetched: Bool) -> (message: String, notes: [String])? {
        guard backend.engine == .llamaCpp, !fetched, d.model.path == nil, let id = d.model.id,
              let command = version.command?.value else { return nil }
        // Grouped as the run command is for the flag check (`-m X`, `--model=X`).
        guard case .success(let tokens) = ArgvSplitter.split(command),
              ArgGroup.group(tokens: tokens, origin: { $0 }).contains(where: { g in
                  (g.flag == "-m" || g.flag == "--model") && g.values.first?.contains("{{model_path}}") == true
              }) else { return nil }
        return ("deployment '\(d.name)': llama-server's -m loads a GGUF file, but model '\(id)' is a \(d.model.source) repository id",
                ["llama-server would stop at start-up ('failed to load model')",
                 "give the file: model: {source: local, path: /models/MODEL.gguf}, or use a backend version whose run command "
                    + "passes the repository with -hf ('-hf {{model_path}}'; a quantization as 'ID:Q4_K_M'), which downloads it"])
    }

    /// Why `url` is not a usable server URL, or nil (for target types that talk to a server).
    public static func urlProblem(_ url: String) -> String? {
        let rest: Substring
        if url.hasPrefix("http://") { rest = url.dropFirst(7) }
        else if url.hasPrefix("https://") { rest = url.dropFirst(8) }
        else { return "must start with http:// or https://" }
        if url.contains(where: { $0.isWhitespace || $0.isNewline }) { return "contains whitespace" }
        let authority = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        if authority.contains("@") { return "must not carry credentials (use apiKey)" }
        if rest.contains("?") || rest.contains("#") { return "must not have a query or fragment" }
        var host = Substring(authority)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return "has an unterminated IPv6 address" }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return "has an invalid port" }
            }
            return nil
        }
        if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else { return "has an invalid port" }
            host = host[..<colon]
        }
        if host.isEmpty { return "has no host" }
        return nil
    }
}
