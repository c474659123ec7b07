public import DeployKit
public import DeploySpec
import Engines

/// A disaggregated deployment on Kubernetes: its prefill and decode servers render like any
/// deployment (a Deployment, or a LeaderWorkerSet when a role spans nodes, and a Service), their pods
/// labelled with the group and role; the router is a Deployment and the Service `NAME` that clients
/// use. Pods come and go, so the router is never handed their URLs: it finds them itself through
/// sglang-router's Kubernetes service discovery (`--service-discovery`, `--prefill-selector`,
/// `--decode-selector` on dsdeploy's labels, in its own namespace), reads a prefill's bootstrap port
/// from the pod annotation `sglang.ai/bootstrap-port`, and lists and watches pods with the
/// ServiceAccount, Role and RoleBinding rendered for it.
extension KubernetesRenderer {
    /// The label with a disaggregated deployment's name on each of its parts' objects and pods.
    public static let pdGroupLabel = "dsdeploy/pd-group"
    /// The label with the part's role (prefill, decode, router) on its objects and pods.
    public static let pdRoleLabel = "dsdeploy/pd-role"
    /// The pod annotation sglang-router's discovery reads a prefill server's bootstrap port from
    /// (sglang-router 0.3.2 `router_args.py:925`, fixed).
    public static let bootstrapPortAnnotation = "sglang.ai/bootstrap-port"
    /// The router container's variable with its pod's namespace (the downward API), which its
    /// `--service-discovery-namespace` references: discovery stays in the namespace its Role covers.
    public static let podNamespaceVariable = "POD_NAMESPACE"

    /// The ServiceAccount, Role and RoleBinding of a router: `NAME-router`.
    public static func routerAccountName(_ deployment: String) -> String { deployment + "-router" }

    /// The router flags that switch on and aim its service discovery (each must be in its catalog).
    static let discoveryFlags = ["--service-discovery", "--service-discovery-port", "--service-discovery-namespace",
                                 "--prefill-selector", "--decode-selector"]

    /// The labels (`key=value`) that select a role's serving pods: the role deployment's own label
    /// and its role, and for a role spanning nodes the LeaderWorkerSet group's leader only (the
    /// workers serve no HTTP).
    public static func roleSelector(_ spec: LaunchSpec) -> [String: String] {
        var s = [deploymentLabel: spec.deployment]
        if let role = spec.pd?.role { s[pdRoleLabel] = role.rawValue }
        if let n = spec.nodes, n > 1 { s[workerIndexLabel] = "0" }
        return s
    }

    /// The router's ServiceAccount, Role, RoleBinding, Deployment and Service.
    func router(_ d: Deployment, _ spec: LaunchSpec, servers: PDServers, metadata: [KubeField], labels: [String: String],
                podLabels: [String: String], annotations: [String: String]) -> Result<[Object], RenderError> {
        let name = d.name
        let account = Self.routerAccountName(name)
        if let missing = Self.discoveryFlags.first(where: { servers.routerCatalog?.spec(named: $0) == nil }) {
            return .failure(RenderError(deployment: name, message: "sglang-router \(spec.engineVersion) has no \(missing): on "
                                        + "Kubernetes the router finds its prefill and decode pods through its service discovery"))
        }
        var accountMetadata = metadata
        accountMetadata[0] = KubeField("name", .string(account))
        let objectMetadata = KubeField("metadata", .map(accountMetadata + [KubeField("labels", .sorted(labels)),
                                                                           KubeField("annotations", .sorted(annotations))]))
        let serviceAccount = KubeValue.map([
            KubeField("apiVersion", .string("v1")), KubeField("kind", .string("ServiceAccount")), objectMetadata,
        ])
        let role = KubeValue.map([
            KubeField("apiVersion", .string("rbac.authorization.k8s.io/v1")), KubeField("kind", .string("Role")), objectMetadata,
            KubeField("rules", .list([.map([
                KubeField("apiGroups", .list([.string("")])),
                KubeField("resources", .list([.string("pods")])),
                KubeField("verbs", .list(["get", "list", "watch"].map(KubeValue.string))),
            ])])),
        ])
        var subject = [KubeField("kind", .string("ServiceAccount")), KubeField("name", .string(account))]
        if let ns = target.string("namespace") { subject.append(KubeField("namespace", .string(ns))) }
        let binding = KubeValue.map([
            KubeField("apiVersion", .string("rbac.authorization.k8s.io/v1")), KubeField("kind", .string("RoleBinding")), objectMetadata,
            KubeField("roleRef", .map([KubeField("apiGroup", .string("rbac.authorization.k8s.io")), KubeField("kind", .string("Role")),
                                       KubeField("name", .string(account))])),
            KubeField("subjects", .list([.map(subject)])),
        ])
        let deployment = deploymentObject(d, spec, metadata: metadata, labels: labels, podLabels: podLabels, annotations: annotations,
                                          podAnnotations: annotations, podSpec: routerPodSpec(spec, servers: servers, account: account))
        let service = self.service(spec, metadata: metadata, labels: labels, annotations: annotations,
                                   selector: [Self.deploymentLabel: name])
        return .success([Object(fileName: "\(account).serviceaccount.yaml", value: serviceAccount),
                         Object(fileName: "\(account).role.yaml", value: role),
                         Object(fileName: "\(account).rolebinding.yaml", value: binding),
                         Object(fileName: "\(name).deployment.yaml", value: deployment),
                         Object(fileName: "\(name).service.yaml", value: service)])
    }

    /// The router's argv words after its entrypoint: the Renderer's (no worker URLs: it renders none
    /// without placements), with the discovery flags before its port-dependent tail (`pdFlags`).
    func routerArgs(_ spec: LaunchSpec, servers: PDServers) -> [String] {
        var own = spec.argv.dropFirst(spec.entrypointCount).map(Self.escapeExpansion)
        func selector(_ s: [String: String]) -> [String] { s.keys.sorted().map { "\($0)=\(s[$0]!)" } }
        let discovery = ["--service-discovery",
                         "--service-discovery-port", String(servers.port),
                         "--service-discovery-namespace", "$(\(Self.podNamespaceVariable))",
                         "--prefill-selector"] + selector(Self.roleSelector(servers.prefill))
            + ["--decode-selector"] + selector(Self.roleSelector(servers.decode))
        let tail = spec.pdFlags()
        let at = own.suffix(tail.count).elementsEqual(tail) ? own.count - tail.count : own.count
        own.insert(contentsOf: discovery, at: at)
        return own
    }

    /// The router's pod: its ServiceAccount, one container `router` without GPUs, volumes or the
    /// servers' scheduling settings (node selector, tolerations, runtime class, host network,
    /// resources: those are for GPU pods); probes on `/liveness` and `/readiness` (ready once it has a
    /// prefill and a decode server paired).
    func routerPodSpec(_ spec: LaunchSpec, servers: PDServers, account: String) -> KubeValue {
        var fields = [KubeField("serviceAccountName", .string(account))]
        if let secrets = target.strings("imagePullSecrets"), !secrets.isEmpty {
            fields.append(KubeField("imagePullSecrets", .list(secrets.map { .map([KubeField("name", .string($0))]) })))
        }
        var container = [KubeField("name", .string("router")), KubeField("image", .string(spec.image))]
        let entry = spec.argv.prefix(spec.entrypointCount).map(Self.escapeExpansion)
        if !entry.isEmpty { container.append(KubeField("command", .list(entry.map(KubeValue.string)))) }
        container.append(KubeField("args", .list(routerArgs(spec, servers: servers).map(KubeValue.string))))
        container.append(KubeField("env", .list([.map([
            KubeField("name", .string(Self.podNamespaceVariable)),
            KubeField("valueFrom", .map([KubeField("fieldRef", .map([KubeField("fieldPath", .string("metadata.namespace"))]))])),
        ])])))
        container.append(KubeField("ports", .list([.map([
            KubeField("name", .string("http")), KubeField("containerPort", .int(spec.port)), KubeField("protocol", .string("TCP")),
        ])])))
        func probe(_ path: String, period: Int, timeout: Int, failures: Int) -> KubeValue {
            .map([KubeField("httpGet", .map([KubeField("path", .string(path)), KubeField("port", .string("http"))])),
                  KubeField("periodSeconds", .int(period)), KubeField("timeoutSeconds", .int(timeout)),
                  KubeField("failureThreshold", .int(failures))])
        }
        container.append(KubeField("readinessProbe", probe("/readiness", period: 10, timeout: 5, failures: 3)))
        container.append(KubeField("livenessProbe", probe("/liveness", period: 30, timeout: 10, failures: 5)))
        fields.append(KubeField("containers", .list([.map(container)])))
        return .map(fields)
    }
}

/// The prefill and decode servers of one disaggregated deployment, as their pods run them: what its
/// router discovers.
public struct PDServers: Sendable {
    /// A prefill server's launch (replica 0: every pod runs the same).
    public var prefill: LaunchSpec
    /// A decode server's launch.
    public var decode: LaunchSpec
    /// The router's flag catalog.
    var routerCatalog: FlagCatalog?

    /// The port every discovered pod serves on: sglang-router's discovery reaches each pod at its
    /// address and one `--service-discovery-port`.
    public var port: Int { prefill.port }

    /// The servers of `group` among `deployments` (each rendered on its own kubernetes target); fails
    /// when one is missing or the two roles listen on different ports.
    public static func of(_ group: String, in deployments: [ResolvedDeployment]) -> Result<PDServers, RenderError> {
        var specs: [PDRole: LaunchSpec] = [:]
        var catalog: FlagCatalog?
        for r in deployments where r.deployment.pd?.group == group {
            guard let role = r.deployment.pd?.role else { continue }
            if role == .router { catalog = r.catalog; continue }
            guard let t = r.target, t.type == KubernetesKind.type else { continue }
            switch KubernetesRenderer(target: t).launchSpec(r) {
            case .success(let s): specs[role] = s
            case .failure(let e): return .failure(e)
            }
        }
        guard let p = specs[.prefill], let d = specs[.decode] else {
            return .failure(RenderError(deployment: group, message: "its router renders with its prefill and decode servers on "
                                        + "kubernetes targets; render them together (all of '\(group)', not one part)"))
        }
        guard p.port == d.port else {
            return .failure(RenderError(deployment: group, message: "its prefill servers listen on port \(p.port) and its decode "
                                        + "servers on \(d.port); on Kubernetes the router reaches every pod it discovers on one port "
                                        + "(--service-discovery-port): set disaggregation.prefill.port and disaggregation.decode.port "
                                        + "to the same port (each pod has its own address)"))
        }
        return .success(PDServers(prefill: p, decode: d, routerCatalog: catalog))
    }
}
