public import DeployKit
public import DeploySpec
import CurlHTTP
import DeployCore
import Foundation

/// `type: gpustack`: a GPUStack server's REST API; the server schedules the replicas.
public enum GPUStackKind: TargetKind {
    public static let type = "gpustack"
    public static let capabilities: TargetCapabilities = [.savedPlans, .gates, .followLogs, .prune, .apply]

    /// Builds the client from the Target document: resolves the API key (never printed) and the CA bundle.
    public static func make(_ config: TargetConfig?, _ context: TargetContext) throws(TargetError) -> any Target {
        guard let t = config else { throw TargetError(.configuration, "a gpustack target needs a Target document") }
        let key: Secret
        switch t.apiKey {
        case .fromEnv(let name, _)?:
            guard let v = context.environment[name], !v.isEmpty else {
                throw TargetError(.configuration, "target '\(t.name)': apiKey takes its value from $\(name), which is not set")
            }
            key = Secret(v)
        case .fromFile(let path, _)?:
            let full = ManifestPath.resolve(path, from: t.file)
            guard let bytes = context.files.read(full) else {
                throw TargetError(.configuration, "target '\(t.name)': apiKey takes its value from file '\(full)', which cannot be read")
            }
            key = Secret(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        default:
            throw TargetError(.configuration, "target '\(t.name)': apiKey must be {valueFrom: {env: NAME}} or {valueFrom: {file: PATH}}")
        }
        let tls = TLSOptions(verifyPeer: true, caBundle: t.caBundle.map { ManifestPath.resolve($0, from: t.file) })
        let client = GPUStackClient(baseURL: t.url ?? "", apiKey: key, tls: tls)
        return GPUStackTarget(client: client, config: t, clock: context.clock)
    }
}
