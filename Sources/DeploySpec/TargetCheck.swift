import DeployCore
import Engines
import Foundation

/// Target documents: which target a deployment without `spec.target` uses, and the checks of each
/// target type's fields (only `local` and `gpustack` are implemented).
enum TargetCheck {
    /// Target types this dsdeploy can deploy to.
    static let supportedTypes: Set<String> = ["local", "gpustack"]

    /// Target types whose replicas may span several nodes (`nodes: N`); none yet.
    static let multiNodeTypes: Set<String> = []

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
                    out.append(.error("insufficient-gpus", "deployment '\(d.name)' needs \(need) GPU\(need == 1 ? "" : "s") "
                                      + "(\(d.replicas) replica\(d.replicas == 1 ? "" : "s") × \(d.gpusPerReplica)), but target '\(t.name)' has "
                                      + "\(max(0, pool.count - used)) of its \(pool.count) left",
                                      at: d.fieldLocations["gpusPerReplica"] ?? d.fieldLocations["replicas"] ?? d.location,
                                      notes: ["gpus of target '\(t.name)': \(pool.map(String.init).joined(separator: ","))"]))
                }
                used += need
            }
        }
        return out
    }

    /// Engines GPUStack runs as built-in backends (a dsdeploy backend version becomes a custom version of it).
    static let gpustackEngines: Set<EngineKind> = [.sglang, .vllm]

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

    /// Problems of one Target document.
    static func check(_ t: TargetConfig) -> [Diagnostic] {
        guard supportedTypes.contains(t.type) else {
            return [.error("unsupported", "target type '\(t.type)' is not supported yet by this dsdeploy; use 'local' or 'gpustack'",
                           at: t.location)]
        }
        guard t.type == "gpustack" else { return [] }
        var out: [Diagnostic] = []
        let at = { (key: String) in t.fieldLocations[key] ?? t.location }
        if let url = t.url {
            if let problem = urlProblem(url) {
                out.append(.error("invalid-value", "target '\(t.name)': url '\(url)' \(problem)", at: at("url")))
            }
        } else {
            out.append(.error("missing-key", "target '\(t.name)' of type gpustack needs 'url'", at: t.location))
        }
        switch t.apiKey {
        case nil:
            out.append(.error("missing-key", "target '\(t.name)' of type gpustack needs 'apiKey' ({valueFrom: {env: NAME}} or {valueFrom: {file: PATH}})",
                              at: t.location))
        case .literal?, .secretLiteral?:
            out.append(.error("invalid-value", "target '\(t.name)': apiKey must come from 'valueFrom' (env or file), never be written in the manifest",
                              at: at("apiKey")))
        case .fromEnv?, .fromFile?: break
        }
        if let ca = t.caBundle {
            let path = ManifestPath.resolve(ca, from: t.file)
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDir) || isDir.boolValue {
                out.append(.error("invalid-value", "target '\(t.name)': caBundle '\(path)' is not a readable file", at: at("caBundle")))
            }
        }
        if let c = t.cluster, c.isEmpty || c.contains(where: { $0.isWhitespace || $0.isNewline }) {
            out.append(.error("invalid-value", "target '\(t.name)': cluster '\(c)' is not a cluster name", at: at("cluster")))
        }
        return out
    }

    /// Problems of a deployment that runs on `target`.
    static func check(_ d: Deployment, backend: Backend, version: BackendVersion, on target: TargetConfig?) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let type = target?.type ?? "local"
        if d.nodes > 1, !multiNodeTypes.contains(type) {
            out.append(.error("unsupported", "deployment '\(d.name)': replicas spanning \(d.nodes) nodes are not supported on a "
                              + "\(type) target (target '\(target?.name ?? "local")' runs each replica on one node); set nodes: 1",
                              at: d.fieldLocations["nodes"] ?? d.location))
        }
        guard let target, target.type == "gpustack" else { return out }
        if !gpustackEngines.contains(backend.engine) {
            out.append(.error("unsupported", "deployment '\(d.name)': engine '\(backend.engine.rawValue)' cannot run on a gpustack target "
                              + "(supported: sglang, vllm)", at: d.backend.location, length: d.backend.length))
        }
        if let c = version.command, c.value.contains("{{replica}}") {
            out.append(.error("unsupported", "'{{replica}}' is not available on a gpustack target (GPUStack renders the run command)",
                              at: c.location, length: c.length))
        }
        return out
    }

    /// Why `url` is not a usable server URL, or nil.
    static func urlProblem(_ url: String) -> String? {
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
