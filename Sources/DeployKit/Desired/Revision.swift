public import DeploySpec
import Engines

/// The fingerprint of a deployment's configuration (everything that makes a replica what it is).
///
/// Equal for every replica of one configuration; changes whenever a restart is needed. Secret
/// values are not part of it (only where they come from); a changed value is caught by the keyed
/// digests in `LaunchSpec.secretDigests` (`Planner.changedSecrets`).
public enum Revision {
    /// The revision of a deployment on a slot target: what the launch spec is made of.
    public static func of(_ r: ResolvedDeployment) -> String {
        var parts: [String] = [
            "image=\(r.version.image)", "engine=\(r.backend.engine.rawValue)@\(r.version.engineVersion.value)",
            "entrypoint=\(r.version.entrypoint.joined(separator: "\u{1F}"))",
            "command=\(r.version.command?.value ?? "")",
            "model=\(r.deployment.model.source):\(r.deployment.model.modelPath)@\(r.deployment.model.revision ?? "")",
            "gpus=\(r.deployment.gpusPerReplica)x\(r.deployment.nodes)", "served=\(r.deployment.servedModelName)",
        ]
        // Container settings change what runs only on a container target, and only when they say something.
        if r.runsInContainers, let c = r.deployment.container, c != ContainerSettings() {
            parts.append("container=shm:\(c.shmSize ?? "") ipc:\(c.ipc ?? "") ulimits:"
                         + (c.ulimits.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") } ?? "default")
                         + " volumes:\(c.volumes.joined(separator: ","))")
        }
        parts += r.targetRevisionParts.map { "target:" + $0 }
        if let pd = r.deployment.pd { parts.append("pd=\(pd.group)/\(pd.role.rawValue)") }
        for key in r.flagSet.values.keys.sorted() {
            parts.append("flag:\(key)=\(r.flagSet.values[key]?.description ?? "")")
        }
        for e in r.env {
            switch e.value {
            case .literal(let v): parts.append("env:\(e.name.value)=\(v)")
            case .secretLiteral: parts.append("env:\(e.name.value)=<secret literal>")
            case .fromEnv(let n, _): parts.append("env:\(e.name.value)<-env:\(n)")
            case .fromFile(let p, _): parts.append("env:\(e.name.value)<-file:\(p)")
            }
        }
        return fingerprint(parts)
    }

    /// The one revision function: the fingerprint of the named parts that make a unit what it runs.
    /// A slot target's parts are `of(_:)`'s; a server-scheduled target names the parts of the object it
    /// writes (GPUStack: what it sends in the model and its backend version, and nothing it does not
    /// send, so a field the server never sees never restarts a model).
    public static func fingerprint(_ parts: [String]) -> String {
        fnv1a64(parts.joined(separator: "\n"))
    }

    /// 64-bit FNV-1a as 16 hex digits (a fingerprint, not a security boundary).
    public static func fnv1a64(_ s: String) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
