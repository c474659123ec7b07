public import DeployKit
public import DeploySpec
import CurlHTTP
import Engines

/// Renders a deployment on a `type: kubernetes` target into the objects a cluster runs it with: a
/// `Deployment` (one pod per replica) and the `Service` clients reach it through; a replica on several
/// nodes (`nodesPerReplica` > 1) is a `LeaderWorkerSet` group (one pod per node) and the Service
/// selects the groups' leaders. The container runs exactly the argv the `Renderer` gives every other
/// target (as `command`/`args` arrays, never a shell, every `$` escaped from Kubernetes' `$(VAR)`
/// expansion); secret env values are `secretKeyRef`s, never values. Pure: the same input gives the
/// same objects, in the same key order.
public struct KubernetesRenderer: Sendable {
    /// The Target document.
    public var target: TargetConfig

    /// Creates a renderer for a target.
    public init(target: TargetConfig) { self.target = target }

    /// Label keys dsdeploy sets (selectors use the deployment's only: a revision change rolls the pods,
    /// never the immutable selector).
    public static let deploymentLabel = "dsdeploy/deployment"
    /// The revision label: the same fingerprint `plan` compares on every other target.
    public static let revisionLabel = "dsdeploy/revision"
    /// The target label.
    public static let targetLabel = "dsdeploy/target"

    /// One rendered object with the file name it is written to under `render --out DIR`.
    public struct Object: Sendable, Hashable {
        /// `NAME.deployment.yaml`, `NAME.service.yaml`: stable, one per object.
        public var fileName: String
        /// The object.
        public var value: KubeValue
    }

    /// The label LWS puts on every pod of a group with the pod's index in it (the leader's is "0").
    public static let workerIndexLabel = "leaderworkerset.sigs.k8s.io/worker-index"

    /// The environment LWS gives every container of a group (its pod webhook sets them), which the
    /// multi-node flags reference through Kubernetes' `$(VAR)` expansion.
    public static let leaderAddressVariable = "LWS_LEADER_ADDRESS"
    /// The number of pods in the group (`leaderWorkerTemplate.size`).
    public static let groupSizeVariable = "LWS_GROUP_SIZE"
    /// The pod's index in its group: 0 for the leader, 1 … size-1 for the workers.
    public static let workerIndexVariable = "LWS_WORKER_INDEX"

    /// The Service of a multi-node deployment: LWS itself creates a headless Service named like the
    /// LeaderWorkerSet (the group's DNS domain, behind `LWS_LEADER_ADDRESS`), so dsdeploy's is `NAME-leader`.
    public static func leaderServiceName(_ deployment: String) -> String { deployment + "-leader" }

    /// The objects of one deployment: Deployment (or LeaderWorkerSet) first, then its Service. A
    /// disaggregated deployment's router needs its servers (`objects` passes them): render it with
    /// `render(_:servers:)`.
    public func render(_ r: ResolvedDeployment) -> Result<[Object], RenderError> { render(r, servers: nil) }

    /// The objects of one deployment; `servers` are the prefill and decode servers of a disaggregated
    /// deployment's router (the router discovers their pods by label).
    public func render(_ r: ResolvedDeployment, servers: PDServers?) -> Result<[Object], RenderError> {
        let d = r.deployment
        let spec: LaunchSpec
        switch launchSpec(r) {
        case .success(let s): spec = s
        case .failure(let e): return .failure(e)
        }
        let name = d.name
        var labels = target.stringMap("labels")
        labels.merge(d.labels) { _, own in own }
        labels["app.kubernetes.io/name"] = name
        labels["app.kubernetes.io/managed-by"] = "dsdeploy"
        labels[Self.deploymentLabel] = name
        labels[Self.targetLabel] = target.name
        if let pd = d.pd {
            labels[Self.pdGroupLabel] = pd.group
            labels[Self.pdRoleLabel] = pd.role.rawValue
        }
        var podLabels = labels
        podLabels[Self.revisionLabel] = spec.revision
        var annotations = target.stringMap("annotations")
        annotations["dsdeploy/engine"] = "\(spec.engine.rawValue) \(spec.engineVersion)"
        annotations["dsdeploy/model"] = "\(d.model.source):\(d.model.modelPath)"
        var metadata: [KubeField] = [KubeField("name", .string(name))]
        if let ns = target.string("namespace") { metadata.append(KubeField("namespace", .string(ns))) }
        if d.pd?.role == .router {
            guard let servers else {
                return .failure(RenderError(deployment: name, message: "the router of disaggregated deployment '\(d.pd!.group)' "
                                            + "renders with its prefill and decode servers (KubernetesRenderer.objects)"))
            }
            return router(d, spec, servers: servers, metadata: metadata, labels: labels, podLabels: podLabels,
                          annotations: annotations)
        }
        // A prefill server tells the router its bootstrap port through its pod's annotation.
        var podAnnotations = annotations
        if let b = spec.bootstrapPort { podAnnotations[Self.bootstrapPortAnnotation] = String(b) }
        if let nodes = spec.nodes, nodes > 1 {
            return .success(group(d, spec, nodes: nodes, metadata: metadata, labels: labels, podLabels: podLabels,
                                  annotations: annotations, podAnnotations: podAnnotations))
        }
        let deployment = deploymentObject(d, spec, metadata: metadata, labels: labels, podLabels: podLabels, annotations: annotations,
                                          podAnnotations: podAnnotations, podSpec: podSpec(spec, role: .single))
        let service = self.service(spec, metadata: metadata, labels: labels, annotations: annotations,
                                   selector: [Self.deploymentLabel: name])
        return .success([Object(fileName: "\(name).deployment.yaml", value: deployment),
                         Object(fileName: "\(name).service.yaml", value: service)])
    }

    /// A `Deployment` of `d.replicas` pods of `podSpec`, selected by the deployment label, rolled
    /// out by the deployment's `maxSurge`/`maxUnavailable`.
    func deploymentObject(_ d: Deployment, _ spec: LaunchSpec, metadata: [KubeField], labels: [String: String],
                          podLabels: [String: String], annotations: [String: String], podAnnotations: [String: String],
                          podSpec: KubeValue) -> KubeValue {
        .map([
            KubeField("apiVersion", .string("apps/v1")),
            KubeField("kind", .string("Deployment")),
            KubeField("metadata", .map(metadata + [KubeField("labels", .sorted(labels)), KubeField("annotations", .sorted(annotations))])),
            KubeField("spec", .map([
                KubeField("replicas", .int(d.replicas)),
                KubeField("selector", .map([KubeField("matchLabels", .sorted([Self.deploymentLabel: d.name]))])),
                KubeField("strategy", .map([
                    KubeField("type", .string("RollingUpdate")),
                    KubeField("rollingUpdate", .map([
                        KubeField("maxSurge", .int(spec.maxSurge)), KubeField("maxUnavailable", .int(spec.maxUnavailable)),
                    ])),
                ])),
                KubeField("template", .map([
                    KubeField("metadata", .map([KubeField("labels", .sorted(podLabels)), KubeField("annotations", .sorted(podAnnotations))])),
                    KubeField("spec", podSpec),
                ])),
            ])),
        ])
    }

    /// The Service clients reach the engine's HTTP port through.
    func service(_ spec: LaunchSpec, metadata: [KubeField], labels: [String: String], annotations: [String: String],
                 selector: [String: String]) -> KubeValue {
        .map([
            KubeField("apiVersion", .string("v1")),
            KubeField("kind", .string("Service")),
            KubeField("metadata", .map(metadata + [KubeField("labels", .sorted(labels)), KubeField("annotations", .sorted(annotations))])),
            KubeField("spec", .map([
                KubeField("type", .string(target.string("serviceType") ?? "ClusterIP")),
                KubeField("selector", .sorted(selector)),
                KubeField("ports", .list([.map([
                    KubeField("name", .string("http")), KubeField("port", .int(spec.port)),
                    KubeField("targetPort", .string("http")), KubeField("protocol", .string("TCP")),
                ])])),
            ])),
        ])
    }

    /// A replica on `nodes` nodes: one LeaderWorkerSet group per replica (`size` = nodes, one pod per
    /// node, each with the deployment's GPUs), and a Service `NAME-leader` on the groups' leaders.
    ///
    /// - The leader (rank 0) serves the API: it alone has the port and the probes. Workers serve no
    ///   HTTP (SGLang's ranks > 0, vLLM's `--headless`).
    /// - Each pod's multi-node flags reference LWS's environment, which Kubernetes expands in `args`
    ///   (`$(LWS_GROUP_SIZE)`, `$(LWS_WORKER_INDEX)`, `$(LWS_LEADER_ADDRESS)`): no shell.
    /// - `startupPolicy: LeaderCreated`: the workers start with the leader. `LeaderReady` would wait
    ///   for the leader's readiness probe, which the engine passes only once every worker has joined
    ///   the rendezvous: the group would never start.
    /// - `restartPolicy: RecreateGroupOnPodRestart`: a node that dies ends the whole group, as on
    ///   every other target (one engine instance cannot lose a rank and go on).
    func group(_ d: Deployment, _ spec: LaunchSpec, nodes: Int, metadata: [KubeField], labels: [String: String],
               podLabels: [String: String], annotations: [String: String], podAnnotations: [String: String]) -> [Object] {
        let name = d.name
        func template(_ role: PodRole) -> KubeValue {
            // The leader serves the API (and a prefill's bootstrap): only its pod carries the pod annotations.
            .map([
                KubeField("metadata", .map([KubeField("labels", .sorted(podLabels)),
                                            KubeField("annotations", .sorted(role == .leader ? podAnnotations : annotations))])),
                KubeField("spec", podSpec(spec, role: role)),
            ])
        }
        let lws = KubeValue.map([
            KubeField("apiVersion", .string("leaderworkerset.x-k8s.io/v1")),
            KubeField("kind", .string("LeaderWorkerSet")),
            KubeField("metadata", .map(metadata + [KubeField("labels", .sorted(labels)), KubeField("annotations", .sorted(annotations))])),
            KubeField("spec", .map([
                KubeField("replicas", .int(d.replicas)),
                KubeField("leaderWorkerTemplate", .map([
                    KubeField("size", .int(nodes)),
                    KubeField("restartPolicy", .string("RecreateGroupOnPodRestart")),
                    KubeField("leaderTemplate", template(.leader)),
                    KubeField("workerTemplate", template(.worker)),
                ])),
                KubeField("rolloutStrategy", .map([
                    KubeField("type", .string("RollingUpdate")),
                    KubeField("rollingUpdateConfiguration", .map([
                        KubeField("maxSurge", .int(spec.maxSurge)), KubeField("maxUnavailable", .int(spec.maxUnavailable)),
                    ])),
                ])),
                KubeField("startupPolicy", .string("LeaderCreated")),
            ])),
        ])
        var serviceMetadata = metadata
        serviceMetadata[0] = KubeField("name", .string(Self.leaderServiceName(name)))
        let service = self.service(spec, metadata: serviceMetadata, labels: labels, annotations: annotations,
                                   selector: [Self.deploymentLabel: name, Self.workerIndexLabel: "0"])
        return [Object(fileName: "\(name).leaderworkerset.yaml", value: lws),
                Object(fileName: "\(name).service.yaml", value: service)]
    }

    /// Which pod a template is for: the only pod of a single-node replica, or a multi-node group's
    /// leader (rank 0) or workers (ranks 1 … nodes-1).
    enum PodRole: Sendable { case single, leader, worker }

    /// The argv words of `role`'s container after the entrypoint: the Renderer's, escaped, then the
    /// engine's multi-node flags as references to LWS's environment.
    func args(_ spec: LaunchSpec, role: PodRole) -> [String] {
        let own = spec.argv.dropFirst(spec.entrypointCount).map(Self.escapeExpansion)
        guard role != .single, let n = spec.nodes, n > 1, let flags = MultiNodeFlags.of(spec.engine) else { return own }
        return own + flags.argv(for: spec.engine, rank: "$(\(Self.workerIndexVariable))", nodes: "$(\(Self.groupSizeVariable))",
                                host: "$(\(Self.leaderAddressVariable))", port: spec.rendezvousPort, follower: role == .worker)
    }

    /// `s` as Kubernetes passes it on after expanding `$(VAR)` references in `command`, `args` and env
    /// values: `$$` is how a literal `$` is written, so `--x $(HOME)` reaches the engine unchanged.
    public static func escapeExpansion(_ s: String) -> String {
        guard s.contains("$") else { return s }
        var out = ""
        for c in s { out += c == "$" ? "$$" : String(c) }
        return out
    }

    /// The launch every pod of the deployment runs: the `Renderer`'s, with `{{worker_ip}}` the pod's
    /// every address and the GPUs the device plugin hands the container (numbered from 0 inside it).
    /// A Deployment has one pod template, so every replica must render the same argv and env.
    public func launchSpec(_ r: ResolvedDeployment) -> Result<LaunchSpec, RenderError> {
        let d = r.deployment
        let gpus = Array(0..<d.gpusPerReplica)
        let placement = (0..<d.replicas).map { _ in
            ReplicaPlacement(host: target.name, address: "0.0.0.0", gpuIds: gpus, bindAddress: "0.0.0.0")
        }
        switch Renderer().render(r, placement: placement) {
        case .failure(let e): return .failure(e)
        case .success(let specs):
            guard let first = specs.first else {
                // replicas: 0 still renders its objects (a scaled-down Deployment).
                var one = r
                one.deployment.replicas = 1
                return launchSpec(one)
            }
            for s in specs.dropFirst() {
                let same = s.withPort(first.port)
                if same.argv != first.argv || same.env.map(\.display) != first.env.map(\.display) {
                    return .failure(RenderError(deployment: d.name, message: "replica \(s.replica) renders another argv or env than "
                                                + "replica 0 ({{replica}} or {{gpu_ids}} in the run command or env); a Kubernetes "
                                                + "Deployment runs one pod template for every replica"))
                }
            }
            return .success(first)
        }
    }

    /// The pod: one container `engine`, its GPUs, `/dev/shm`, the model cache, probes; the target's
    /// scheduling settings.
    func podSpec(_ spec: LaunchSpec, role: PodRole) -> KubeValue {
        var fields: [KubeField] = []
        if let rc = target.string("runtimeClassName") { fields.append(KubeField("runtimeClassName", .string(rc))) }
        if target.string("hostNetwork") == "true" {
            fields.append(KubeField("hostNetwork", .bool(true)))
            fields.append(KubeField("dnsPolicy", .string("ClusterFirstWithHostNet")))
        }
        let nodeSelector = target.stringMap("nodeSelector")
        if !nodeSelector.isEmpty { fields.append(KubeField("nodeSelector", .sorted(nodeSelector))) }
        if case .list(let items)? = target.fields["tolerations"], !items.isEmpty {
            fields.append(KubeField("tolerations", .list(items.map { item in
                guard case .map(let m) = item else { return .map([]) }
                return .map(["key", "operator", "value", "effect"].compactMap { k in
                    if case .scalar(let s)? = m[k] { return KubeField(k, .string(s)) }
                    return nil
                } + (m["tolerationSeconds"].flatMap { v in
                    if case .scalar(let s) = v, let n = Int(s) { return [KubeField("tolerationSeconds", .int(n))] }
                    return nil
                } ?? []))
            })))
        }
        if let secrets = target.strings("imagePullSecrets"), !secrets.isEmpty {
            fields.append(KubeField("imagePullSecrets", .list(secrets.map { .map([KubeField("name", .string($0))]) })))
        }
        fields.append(KubeField("containers", .list([container(spec, role: role)])))
        var volumes: [KubeValue] = [.map([
            KubeField("name", .string("dshm")),
            KubeField("emptyDir", .map([KubeField("medium", .string("Memory")), KubeField("sizeLimit", .string(shmQuantity(spec)))])),
        ])]
        if DockerDriver.hubCache(spec.modelSource) != nil { volumes.append(modelCacheVolume()) }
        fields.append(KubeField("volumes", .list(volumes)))
        return .map(fields)
    }

    /// `/dev/shm`'s size: the deployment's `container.shmSize` (Docker's syntax, as the Docker target
    /// reads it), else the Docker target's default, 16g.
    func shmQuantity(_ spec: LaunchSpec) -> String {
        KubernetesNames.quantity(fromDockerSize: spec.container?.shmSize ?? "16g") ?? "16Gi"
    }

    /// The model hub's download cache: the target's claim or host path, else an emptyDir (downloaded
    /// again by every new pod).
    func modelCacheVolume() -> KubeValue {
        var fields = [KubeField("name", .string("model-cache"))]
        if case .map(let m)? = target.fields["modelCache"] {
            if case .scalar(let claim)? = m["persistentVolumeClaim"] {
                fields.append(KubeField("persistentVolumeClaim", .map([KubeField("claimName", .string(claim))])))
                return .map(fields)
            }
            if case .scalar(let path)? = m["hostPath"] {
                fields.append(KubeField("hostPath", .map([KubeField("path", .string(path)), KubeField("type", .string("DirectoryOrCreate"))])))
                return .map(fields)
            }
            if case .scalar(let size)? = m["sizeLimit"] {
                fields.append(KubeField("emptyDir", .map([KubeField("sizeLimit", .string(size))])))
                return .map(fields)
            }
        }
        fields.append(KubeField("emptyDir", .map([])))
        return .map(fields)
    }

    /// The engine's container (a multi-node group's workers serve no HTTP: no port, no probes).
    func container(_ spec: LaunchSpec, role: PodRole) -> KubeValue {
        let entry = spec.argv.prefix(spec.entrypointCount).map(Self.escapeExpansion)
        let args = self.args(spec, role: role)
        var fields = [KubeField("name", .string("engine")), KubeField("image", .string(spec.image))]
        if !entry.isEmpty { fields.append(KubeField("command", .list(entry.map(KubeValue.string)))) }
        fields.append(KubeField("args", .list(args.map(KubeValue.string))))
        let env = self.env(spec)
        if !env.isEmpty { fields.append(KubeField("env", .list(env))) }
        if role != .worker {
            fields.append(KubeField("ports", .list([.map([
                KubeField("name", .string("http")), KubeField("containerPort", .int(spec.port)), KubeField("protocol", .string("TCP")),
            ])])))
        }
        var resources: [KubeField] = []
        let requests = resourceMap("requests")
        var limits = resourceMap("limits")
        if spec.gpuIds.count > 0 { limits.append(KubeField("nvidia.com/gpu", .string(String(spec.gpuIds.count)))) }
        if !limits.isEmpty { resources.append(KubeField("limits", .map(limits))) }
        if !requests.isEmpty { resources.append(KubeField("requests", .map(requests))) }
        if !resources.isEmpty { fields.append(KubeField("resources", .map(resources))) }
        var mounts: [KubeValue] = [.map([KubeField("name", .string("dshm")), KubeField("mountPath", .string("/dev/shm"))])]
        if let hub = DockerDriver.hubCache(spec.modelSource) {
            mounts.append(.map([KubeField("name", .string("model-cache")), KubeField("mountPath", .string(hub.path))]))
        }
        fields.append(KubeField("volumeMounts", .list(mounts)))
        if role != .worker { fields += probes(spec) }
        return .map(fields)
    }

    /// `resources.requests` / `resources.limits` of the target (cpu, memory …), sorted by name.
    func resourceMap(_ key: String) -> [KubeField] {
        guard case .map(let r)? = target.fields["resources"], case .map(let m)? = r[key] else { return [] }
        return m.keys.sorted().compactMap { k in
            if case .scalar(let v)? = m[k] { return KubeField(k, .string(v)) }
            return nil
        }
    }

    /// The container's env in the deployment's order: plain values as values; secrets and values
    /// dsdeploy would read at apply time (`valueFrom`) as keys of the target's `secretName` Secret,
    /// named like the variable. The GPU list dsdeploy adds is left to the device plugin; a ModelScope
    /// model switches the engine's hub, as on the Docker target.
    func env(_ spec: LaunchSpec) -> [KubeValue] {
        var out: [KubeValue] = []
        var names: Set<String> = []
        let secretName = target.string("secretName") ?? ""
        for e in spec.env {
            if e.name == "CUDA_VISIBLE_DEVICES", e.origin == nil, e.value == spec.gpuIds.map(String.init).joined(separator: ",") { continue }
            names.insert(e.name)
            if let v = e.value, !e.secret {
                out.append(.map([KubeField("name", .string(e.name)), KubeField("value", .string(Self.escapeExpansion(v)))]))
            } else {
                out.append(.map([KubeField("name", .string(e.name)), KubeField("valueFrom", .map([
                    KubeField("secretKeyRef", .map([KubeField("name", .string(secretName)), KubeField("key", .string(e.name))])),
                ]))]))
            }
        }
        if spec.modelSource == "modelscope" {
            let hub: (String, String)? = switch spec.engine {
            case .sglang: ("SGLANG_USE_MODELSCOPE", "true")
            case .vllm: ("VLLM_USE_MODELSCOPE", "True")
            case .llamaCpp, .sglangRouter: nil
            }
            if let (k, v) = hub, !names.contains(k) {
                out.append(.map([KubeField("name", .string(k)), KubeField("value", .string(v))]))
            }
        }
        return out
    }

    /// Probes on the engine's own readiness path (`EngineProbe.readinessPath`, as the local and Docker
    /// targets wait): a startup probe that allows the whole start timeout for loading the model, then
    /// readiness every 10 s and liveness every 30 s.
    func probes(_ spec: LaunchSpec) -> [KubeField] {
        let path = EngineProbe.readinessPath(for: spec)
        var get = [KubeField("path", .string(path)), KubeField("port", .string("http"))]
        if let auth = EngineProbe.headers(for: spec)["Authorization"] {
            get.append(KubeField("httpHeaders", .list([.map([KubeField("name", .string("Authorization")), KubeField("value", .string(auth))])])))
        }
        func probe(period: Int, timeout: Int, failures: Int) -> KubeValue {
            .map([KubeField("httpGet", .map(get)), KubeField("periodSeconds", .int(period)),
                  KubeField("timeoutSeconds", .int(timeout)), KubeField("failureThreshold", .int(failures))])
        }
        let startFailures = max(1, (spec.startTimeout + 9) / 10)
        return [
            KubeField("startupProbe", probe(period: 10, timeout: 5, failures: startFailures)),
            KubeField("readinessProbe", probe(period: 10, timeout: 5, failures: 3)),
            KubeField("livenessProbe", probe(period: 30, timeout: 10, failures: 5)),
        ]
    }
}

extension KubernetesRenderer {
    /// The objects of every deployment (each on its own kubernetes target), in the order given.
    /// Fails on the first deployment whose target is not `type: kubernetes` or that cannot be rendered.
    public static func objects(_ deployments: [ResolvedDeployment]) -> Result<[Object], RenderError> {
        var out: [Object] = []
        for r in deployments {
            guard let t = r.target, t.type == KubernetesKind.type else {
                return .failure(RenderError(deployment: r.deployment.name, message: "it runs on target '\(r.target?.name ?? "local")' "
                                            + "(type \(r.target?.type ?? "local")), not a kubernetes target; pass --target NAME of one"))
            }
            var servers: PDServers?
            if let pd = r.deployment.pd, pd.role == .router {
                switch PDServers.of(pd.group, in: deployments) {
                case .success(let s): servers = s
                case .failure(let e): return .failure(e)
                }
            }
            switch KubernetesRenderer(target: t).render(r, servers: servers) {
            case .success(let o): out += o
            case .failure(let e): return .failure(e)
            }
        }
        return .success(out)
    }

    /// One YAML stream: every object a document of its own, each opened by `---`.
    public static func yamlStream(_ objects: [Object]) -> String {
        objects.map { "---\n" + $0.value.yaml }.joined()
    }

    /// The objects as one Kubernetes `List` in JSON.
    public static func jsonList(_ objects: [Object]) -> String {
        KubeValue.map([KubeField("apiVersion", .string("v1")), KubeField("kind", .string("List")),
                       KubeField("items", .list(objects.map(\.value)))]).json + "\n"
    }
}
