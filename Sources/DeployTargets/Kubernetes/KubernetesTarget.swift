import DeployCore
public import DeployKit
public import DeploySpec

/// A `type: kubernetes` target as the commands see it: it renders objects for a cluster whose
/// controller (Argo CD, Flux, kubectl) applies them, so it cannot observe or change what runs. Every
/// command that would need that gets the one capability error (`requireCapability`).
public struct KubernetesTarget: Target {
    public let ref: TargetRef
    public var capabilities: TargetCapabilities { KubernetesKind.capabilities }

    /// Creates the target of a Target document.
    public init(_ config: TargetConfig) {
        let ns = config.string("namespace").map { " namespace \($0)" } ?? ""
        ref = TargetRef(name: config.name, type: KubernetesKind.type, detail: "Kubernetes objects (render only)" + ns)
    }

    /// The capability error for `what`, pointing at `render --format kubernetes`.
    func refusal(_ needed: TargetCapabilities, _ what: String) -> TargetError {
        do { try requireCapability(needed, for: what) } catch { return error }
        return TargetError(.unsupported, "\(what) is not supported by target '\(ref.name)' (type kubernetes)")
    }

    public func plan(_ input: PlanInput) throws(TargetError) -> Plan { throw refusal(.observe, "plan") }

    public func apply(_ plan: Plan, _ input: PlanInput, events: @escaping @Sendable (ApplyEvent) -> Void) -> ApplyReport {
        ApplyReport(outcomes: [], failedDeployments: input.deployments.map(\.deployment.name), seconds: 0)
    }

    public func status(_ deployments: Set<String>?) throws(TargetError) -> [ReplicaStatus] { throw refusal(.observe, "status") }

    public func logs(_ deployment: String, replica: Int, tail: Int, follow: Bool,
                     onText: @escaping @Sendable (String) -> Bool) throws(TargetError) {
        throw refusal(.observe, "logs")
    }

    public func endpoints(of deployment: String) throws(TargetError) -> [Endpoint] { throw refusal(.observe, "endpoints") }

    public func revert(_ deployment: String, in plan: Plan, _ input: PlanInput, reason: String,
                       events: @escaping @Sendable (ApplyEvent) -> Void) -> GateRevert {
        GateRevert(outcomes: [], succeeded: false, note: refusal(.gates, "revert").message)
    }

    public func delete(_ deployments: Set<String>, grace: Duration,
                       events: @escaping @Sendable (ApplyEvent) -> Void) throws(TargetError) -> ApplyReport {
        throw refusal(.apply, "delete")
    }
}
