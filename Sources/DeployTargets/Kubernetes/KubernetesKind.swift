public import DeployKit
public import DeploySpec
import DeployCore

/// `type: kubernetes`: a cluster whose controller (Argo CD, Flux, `kubectl apply`) applies what is in
/// git. dsdeploy renders its objects (`render --format kubernetes`) and checks, at the manifest
/// line, what the API server would refuse; it neither observes nor applies.
public enum KubernetesKind: TargetKind {
    public static let type = "kubernetes"
    /// Render only: no plan against what runs, no apply, no logs (the cluster's controller applies).
    /// Multi-node replicas render as LeaderWorkerSet groups (the cluster needs the LWS controller).
    public static let capabilities: TargetCapabilities = [.multiNode]

    static let toleration = ObjectSchema("KubernetesToleration", [
        FieldSchema("key", .string(), "The taint's key (omitted with operator Exists: every taint)."),
        FieldSchema("operator", .enumeration(["Exists", "Equal"]), "Exists, or Equal (default) to `value`."),
        FieldSchema("value", .string(), "The taint's value (operator Equal)."),
        FieldSchema("effect", .enumeration(["NoSchedule", "PreferNoSchedule", "NoExecute"]), "The taint effect tolerated; omitted: every effect."),
        FieldSchema("tolerationSeconds", .integer(min: 0), "NoExecute only: how long the pod stays once the taint appears."),
    ])

    static let modelCache = ObjectSchema("KubernetesModelCache", [
        FieldSchema("persistentVolumeClaim", .string(), "An existing claim (its name) mounted at the hub's cache, shared by the pods and kept across rollouts."),
        FieldSchema("hostPath", .string(), "A directory of the node mounted at the hub's cache (created when missing)."),
        FieldSchema("sizeLimit", .string(), "Without a claim or host path: the size of the pod's own emptyDir cache (a quantity, `500Gi`)."),
    ])

    static let resources = ObjectSchema("KubernetesResources", [
        FieldSchema("requests", .map(.string()), "What the scheduler reserves per pod besides GPUs: `cpu: \"16\"`, `memory: 200Gi`."),
        FieldSchema("limits", .map(.string()), "Limits per pod besides GPUs (`nvidia.com/gpu` is the deployment's gpusPerReplica)."),
    ])

    /// Prefill/decode disaggregation renders too: the servers as role Deployments (or LeaderWorkerSets),
    /// the router with its own Kubernetes service discovery and the RBAC it needs (`KubernetesPD.swift`).
    public static let schema: TargetTypeSchema = {
        var s = TargetTypeSchema(
        type: type, summary: "A Kubernetes cluster: render a Deployment (multi-node: a LeaderWorkerSet) and a Service per deployment (prefill/decode: per role, and the router with its RBAC) for Argo CD, Flux or kubectl to apply (render only).",
        fields: [
            FieldSchema("namespace", .string(), "The objects' namespace (a DNS-1123 label); omitted: the namespace they are applied in."),
            FieldSchema("labels", .map(.string()), "Labels on every object and pod (a deployment's own labels win)."),
            FieldSchema("annotations", .map(.string()), "Annotations on every object and pod."),
            FieldSchema("nodeSelector", .map(.string()), "Node labels the pods need (`nvidia.com/gpu.product: NVIDIA-H20`)."),
            FieldSchema("tolerations", .list(.object(toleration)), "Taints the pods tolerate."),
            FieldSchema("imagePullSecrets", .list(.string()), "Secrets (names) the kubelet pulls the engine images with."),
            FieldSchema("secretName", .string(),
                        "The Secret that secret env values come from: each as `secretKeyRef` to the key named like the variable (never the value). Needed when a deployment has secret or valueFrom env."),
            FieldSchema("modelCache", .object(modelCache), "Where hub models are downloaded to (default: an emptyDir per pod)."),
            FieldSchema("serviceType", .enumeration(["ClusterIP", "NodePort", "LoadBalancer"]), "The Services' type (default ClusterIP)."),
            FieldSchema("runtimeClassName", .string(), "The pods' RuntimeClass (`nvidia` where the NVIDIA runtime is not the default)."),
            FieldSchema("hostNetwork", .boolean, "Run pods on the node's network (RDMA; default false)."),
            FieldSchema("resources", .object(resources), "CPU and memory requests and limits per pod."),
        ],
        multiNode: capabilities.contains(.multiNode), containers: true, check: KubernetesChecks.check,
        checkDeployment: KubernetesChecks.checkDeployment)
        s.disaggregation = true
        s.checkDisaggregation = KubernetesChecks.checkDisaggregation
        return s
    }()

    /// No hosts: the cluster's scheduler places pods (the renderer gives every pod GPUs 0…n-1, as the
    /// device plugin numbers them inside the container).
    public static func inventory(_ config: TargetConfig?) -> [InventoryHost] {
        [InventoryHost(name: config?.name ?? type, address: "0.0.0.0", gpus: nil)]
    }

    public static func make(_ config: TargetConfig?, _ context: TargetContext) throws(TargetError) -> any Target {
        guard let t = config else { throw TargetError(.configuration, "a kubernetes target needs a Target document") }
        return KubernetesTarget(t)
    }
}
