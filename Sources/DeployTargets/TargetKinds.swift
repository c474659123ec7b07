public import DeployKit
public import DeploySpec

/// Every target type this dsdeploy can deploy to. A new target is a folder plus one line here.
public let targetKinds: [any TargetKind.Type] = [
    LocalKind.self,
    GPUStackKind.self,
    DockerKind.self,
    KubernetesKind.self,
]

/// Looks up registered kinds.
public enum TargetKinds {
    /// The kind registered for `type`, or nil.
    public static func kind(_ type: String) -> (any TargetKind.Type)? {
        targetKinds.first { $0.type == type }
    }

    /// Registered type names, in registration order.
    public static var types: [String] { targetKinds.map { $0.type } }

    /// Every registered type's fields and checks, for the manifest loader, the validator and `schema`.
    public static var schemas: TargetTypes { TargetTypes(targetKinds.map { $0.schema }) }
}
