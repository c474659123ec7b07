public import DeployKit
public import DeploySpec
import CurlHTTP
import DeployCore
import Engines
import Foundation

/// `type: gpustack`: a GPUStack server's REST API; the server schedules the replicas.
public enum GPUStackKind: TargetKind {
    public static let type = "gpustack"
    public static let capabilities: TargetCapabilities = [.savedPlans, .gates, .followLogs, .prune, .apply, .observe]

    /// Engines GPUStack runs as built-in backends (a dsdeploy backend version becomes a custom version of it).
    static let engines: Set<EngineKind> = [.sglang, .vllm]

    public static let schema: TargetTypeSchema = {
        var s = TargetTypeSchema(
        type: type, summary: "A GPUStack server's REST API: the server schedules the replicas.",
        fields: [
            FieldSchema("url", .string(), required: true, "Server URL: `http://` or `https://` (verified by default)."),
            FieldSchema("cluster", .string(), "GPUStack cluster name, resolved to its id (default `default`)."),
            FieldSchema("apiKey", .envValue, required: true,
                        "API key, sent as `Authorization: Bearer`: `{valueFrom: {env: NAME}}` or `{valueFrom: {file: path}}`; never a literal."),
            FieldSchema("caBundle", .string(), "PEM file of CA certificates to verify an https server with; relative to the manifest."),
            FieldSchema("workerSelector", .map(.scalar), "Worker labels every model on this target must match (`worker_selector`)."),
            FieldSchema("owner", .string(pattern: TargetTypeSchema.namePattern),
                        "Ownership marker written into every model dsdeploy creates (default: the target's name); `--prune` removes only models with it."),
        ],
        multiNode: capabilities.contains(.multiNode), check: check, checkDeployment: checkDeployment)
        s.fetchesModels = true  // GPUStack downloads the model and renders {{model_path}} as its local path
        return s
    }()

    /// Problems of a gpustack Target document, located at its fields.
    @Sendable static func check(_ t: TargetConfig, _ files: (any ManifestFileSource)?) -> [Diagnostic] {
        var out: [Diagnostic] = []
        if let url = t.string("url"), let problem = TargetCheck.urlProblem(url) {
            out.append(.error("invalid-value", "target '\(t.name)': url '\(url)' \(problem)", at: t.location(of: "url")))
        }
        switch t.env("apiKey") {
        case nil:
            if t.fields["apiKey"] == nil {
                out.append(.error("missing-key", "target '\(t.name)' of type gpustack needs 'apiKey' ({valueFrom: {env: NAME}} or {valueFrom: {file: PATH}})",
                                  at: t.location))
            }
        case .literal?, .secretLiteral?:
            out.append(.error("invalid-value", "target '\(t.name)': apiKey must come from 'valueFrom' (env or file), never be written in the manifest",
                              at: t.location(of: "apiKey")))
        case .fromEnv?, .fromFile?: break
        }
        if let ca = t.string("caBundle"), let files {
            let path = ManifestPath.resolve(ca, from: t.file)
            if files.read(path) == nil {
                out.append(.error("invalid-value", "target '\(t.name)': caBundle '\(path)' is not a readable file", at: t.location(of: "caBundle")))
            }
        }
        if let c = t.string("cluster"), c.isEmpty || c.contains(where: { $0.isWhitespace || $0.isNewline }) {
            out.append(.error("invalid-value", "target '\(t.name)': cluster '\(c)' is not a cluster name", at: t.location(of: "cluster")))
        }
        return out
    }

    /// Problems of a deployment on a gpustack target: GPUStack renders the run command and runs
    /// only its built-in engines.
    @Sendable static func checkDeployment(_ d: Deployment, _ backend: Backend, _ version: BackendVersion,
                                          _ target: TargetConfig?) -> [Diagnostic] {
        var out: [Diagnostic] = []
        if !engines.contains(backend.engine) {
            out.append(.error("unsupported", "deployment '\(d.name)': engine '\(backend.engine.rawValue)' cannot run on a gpustack target "
                              + "(supported: sglang, vllm)", at: d.backend.location, length: d.backend.length))
        }
        if let c = version.command, c.value.contains("{{replica}}") {
            out.append(.error("unsupported", "'{{replica}}' is not available on a gpustack target (GPUStack renders the run command)",
                              at: c.location, length: c.length))
        }
        return out
    }

    /// Builds the client from the Target document: resolves the API key (never printed) and the CA bundle.
    public static func make(_ config: TargetConfig?, _ context: TargetContext) throws(TargetError) -> any Target {
        guard let t = config else { throw TargetError(.configuration, "a gpustack target needs a Target document") }
        let key: Secret
        switch t.env("apiKey") {
        case let v? where v.isFromSource:
            let bytes = try context.value(of: v, "apiKey", in: t)
            key = Secret(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        default:
            throw TargetError(.configuration, "target '\(t.name)': apiKey must be {valueFrom: {env: NAME}} or {valueFrom: {file: PATH}}")
        }
        let tls = TLSOptions(verifyPeer: true, caBundle: t.string("caBundle").map { ManifestPath.resolve($0, from: t.file) })
        let client = GPUStackClient(baseURL: t.string("url") ?? "", apiKey: key, tls: tls)
        return GPUStackTarget(client: client, config: t, clock: context.clock)
    }
}
