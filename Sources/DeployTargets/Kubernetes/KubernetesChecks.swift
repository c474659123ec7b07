import DeployCore
import DeploySpec

/// What the Kubernetes API server would refuse in the objects a manifest renders to, found by
/// `validate` and located at the manifest line that causes it: names (DNS-1123/1035), label keys and
/// values, resource quantities, rollout limits, a secret with no Secret to come from, a port clash.
enum KubernetesChecks {
    /// Problems of a kubernetes Target document.
    @Sendable static func check(_ t: TargetConfig, _ files: (any ManifestFileSource)?) -> [Diagnostic] {
        var out: [Diagnostic] = []
        func bad(_ key: String, _ what: String, _ problem: String?) {
            guard let problem else { return }
            out.append(.error("invalid-value", "target '\(t.name)': \(what) \(problem) (Kubernetes would refuse it)", at: t.location(of: key)))
        }
        bad("", "its name '\(t.name)', a label value of every object,", KubernetesNames.labelValueProblem(t.name))
        if let ns = t.string("namespace") { bad("namespace", "namespace '\(ns)'", KubernetesNames.dns1123LabelProblem(ns)) }
        for key in ["labels", "nodeSelector"] {
            for (k, v) in t.stringMap(key).sorted(by: { $0.key < $1.key }) {
                bad("\(key).\(k)", "\(key) key '\(k)'", KubernetesNames.labelKeyProblem(k))
                bad("\(key).\(k)", "\(key) value '\(v)' of '\(k)'", KubernetesNames.labelValueProblem(v))
            }
        }
        for k in t.stringMap("annotations").keys.sorted() {
            bad("annotations.\(k)", "annotation key '\(k)'", KubernetesNames.labelKeyProblem(k))
        }
        for s in t.strings("imagePullSecrets") ?? [] {
            bad("imagePullSecrets", "image pull secret '\(s)'", KubernetesNames.dns1123SubdomainProblem(s))
        }
        if let s = t.string("secretName") { bad("secretName", "secretName '\(s)'", KubernetesNames.dns1123SubdomainProblem(s)) }
        if let s = t.string("runtimeClassName") {
            bad("runtimeClassName", "runtimeClassName '\(s)'", KubernetesNames.dns1123SubdomainProblem(s))
        }
        if case .map(let m)? = t.fields["modelCache"] {
            let set = ["persistentVolumeClaim", "hostPath", "sizeLimit"].filter { m[$0] != nil }
            if set.count > 1 {
                out.append(.error("invalid-value", "target '\(t.name)': modelCache takes one of persistentVolumeClaim, hostPath and "
                                  + "sizeLimit (it has \(set.joined(separator: ", ")))", at: t.location(of: "modelCache")))
            }
            if case .scalar(let c)? = m["persistentVolumeClaim"] {
                bad("modelCache.persistentVolumeClaim", "modelCache.persistentVolumeClaim '\(c)'", KubernetesNames.dns1123SubdomainProblem(c))
            }
            if case .scalar(let p)? = m["hostPath"], !p.hasPrefix("/") {
                bad("modelCache.hostPath", "modelCache.hostPath '\(p)'", "must be an absolute path")
            }
            if case .scalar(let q)? = m["sizeLimit"] { bad("modelCache.sizeLimit", "modelCache.sizeLimit '\(q)'", KubernetesNames.quantityProblem(q)) }
        }
        if case .map(let r)? = t.fields["resources"] {
            for part in ["requests", "limits"] {
                guard case .map(let m)? = r[part] else { continue }
                for k in m.keys.sorted() {
                    guard case .scalar(let q)? = m[k] else { continue }
                    let at = "resources.\(part).\(k)"
                    bad(at, "resources.\(part) name '\(k)'", KubernetesNames.labelKeyProblem(k))
                    bad(at, "resources.\(part).\(k) '\(q)'", KubernetesNames.quantityProblem(q))
                    if k == "nvidia.com/gpu" {
                        bad(at, "resources.\(part).\(k)", "is the deployments' gpusPerReplica; leave it out")
                    }
                }
            }
        }
        if case .list(let items)? = t.fields["tolerations"] {
            for item in items {
                guard case .map(let m) = item else { continue }
                if case .scalar("Exists")? = m["operator"], m["value"] != nil {
                    bad("tolerations", "a toleration with operator Exists", "must not have a value")
                }
                if m["key"] == nil, m["operator"].map({ $0 != .scalar("Exists") }) ?? true {
                    bad("tolerations", "a toleration without a key", "must have operator Exists")
                }
                if m["tolerationSeconds"] != nil, m["effect"] != .scalar("NoExecute") {
                    bad("tolerations", "tolerationSeconds", "applies to effect NoExecute only")
                }
            }
        }
        return out
    }

    /// Problems of a deployment rendered onto a kubernetes target.
    @Sendable static func checkDeployment(_ d: Deployment, _ backend: Backend, _ version: BackendVersion,
                                          _ target: TargetConfig?) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let on = "on kubernetes target '\(target?.name ?? "?")'"
        if let p = KubernetesNames.dns1035LabelProblem(d.name) {
            out.append(.error("invalid-value", "deployment '\(d.name)' names its Deployment and Service \(on); a Service name \(p)",
                              at: d.location))
        } else if d.nodes > 1 {
            out += groupNameProblems(d, on: on)
        }
        for (k, v) in d.labels.sorted(by: { $0.key < $1.key }) {
            let at = d.fieldLocations["labels.\(k)"] ?? d.location
            if let p = KubernetesNames.labelKeyProblem(k) {
                out.append(.error("invalid-value", "deployment '\(d.name)': label key '\(k)' \(p) (Kubernetes would refuse it)", at: at))
            }
            if let p = KubernetesNames.labelValueProblem(v) {
                out.append(.error("invalid-value", "deployment '\(d.name)': label '\(k)' value '\(v)' \(p) (Kubernetes would refuse it)", at: at))
            }
        }
        if let shm = d.container?.shmSize, KubernetesNames.quantity(fromDockerSize: shm) == nil {
            out.append(.error("invalid-value", "deployment '\(d.name)': container.shmSize '\(shm)' is not a size (16g, 512m) \(on)",
                              at: d.fieldLocations["container.shmSize"] ?? d.fieldLocations["container"] ?? d.location))
        }
        // LWS's admission webhook refuses both 0 unless replicas is 0; a Deployment's validation always.
        if d.rollout.maxSurge == 0, d.rollout.maxUnavailable == 0, d.nodes == 1 || d.replicas != 0 {
            let refuser = d.nodes > 1 ? "a LeaderWorkerSet needs one of them above 0 (LWS's admission webhook refuses it)"
                : "a Kubernetes Deployment needs one of them above 0 (the API server refuses it)"
            out.append(.error("invalid-value", "deployment '\(d.name)': rollout maxSurge and maxUnavailable are both 0; " + refuser,
                              at: d.fieldLocations["rollout.maxSurge"] ?? d.fieldLocations["rollout"] ?? d.location))
        }
        if target?.string("secretName") == nil {
            for e in version.env + d.env {
                if case .literal = e.value { continue }
                out.append(.error("missing-key", "deployment '\(d.name)': env \(e.name.value) is a secret or comes from valueFrom, and "
                                  + "target '\(target?.name ?? "?")' names no secretName to take it from (a secretKeyRef; values are never rendered)",
                                  at: e.name.location, length: e.name.length))
            }
        }
        // Paths the Renderer resolves on this machine mean nothing inside a pod's container.
        if d.model.source == "local", let path = d.model.path, !path.hasPrefix("/") {
            out.append(.error("invalid-value", "deployment '\(d.name)': model path '\(path)' is relative; \(on) a local model is a path "
                              + "inside the container (in the image or a mounted volume): write it absolute",
                              at: d.fieldLocations["model.path"] ?? d.fieldLocations["model"] ?? d.location))
        }
        if let first = version.entrypoint.first, first.contains("/"), !first.hasPrefix("/") {
            out.append(.error("invalid-value", "deployment '\(d.name)': backend '\(backend.name)' version '\(version.name)' has the "
                              + "entrypoint '\(first)', a path on this machine; \(on) the entrypoint is a command in the image",
                              at: version.location))
        }
        out += portClashes(d, version)
        if d.pd?.role == .router { out += routerDiscoveryFlags(d, on: on) }
        return out
    }

    /// The router's service discovery reaches every pod it finds on one `--service-discovery-port`:
    /// prefill and decode servers must listen on the same port (each pod has its own address).
    /// Located at the role port written (decode's first), else at `disaggregation:`.
    @Sendable static func checkDisaggregation(_ original: Deployment, _ parts: [Deployment], _ target: TargetConfig?) -> [Diagnostic] {
        guard let prefill = parts.first(where: { $0.pd?.role == .prefill }),
              let decode = parts.first(where: { $0.pd?.role == .decode }), prefill.port != decode.port else { return [] }
        let at = original.fieldLocations["disaggregation.decode.port"] ?? original.fieldLocations["disaggregation.prefill.port"]
            ?? original.disaggregation?.location ?? original.location
        return [.error("invalid-value", "deployment '\(original.name)': its prefill servers listen on port \(prefill.port) and its decode "
                       + "servers on \(decode.port); on kubernetes target '\(target?.name ?? "?")' the router reaches every pod it discovers "
                       + "on one port (--service-discovery-port): set disaggregation.prefill.port and disaggregation.decode.port to the "
                       + "same port (each pod has its own address)", at: at)]
    }

    /// On Kubernetes dsdeploy aims the router's service discovery at the role pods (selectors on its
    /// labels, their port, the router's namespace): router args that would redirect it are refused at the flag.
    static func routerDiscoveryFlags(_ d: Deployment, on: String) -> [Diagnostic] {
        let managed = KubernetesRenderer.discoveryFlags + ["--selector"]
        return d.args.compactMap { a in
            let flag = String(a.value.split(whereSeparator: { $0 == " " || $0 == "=" }).first ?? "")
            guard managed.contains(flag) else { return nil }
            return .error("managed-flag", "'\(flag)' is set by dsdeploy for the router of '\(d.pd?.group ?? d.name)' \(on) (its service "
                          + "discovery selects the prefill and decode pods by dsdeploy's labels); remove it", at: a.location, length: flag.count)
        }
    }

    /// The names a multi-node deployment's LeaderWorkerSet gives what it creates must be valid too:
    /// dsdeploy's Service `NAME-leader` (a DNS-1035 label), and each group's worker StatefulSet
    /// `NAME-G`, whose pods Kubernetes labels `controller-revision-hash: NAME-G-HASH` (a label value
    /// of at most 63 characters; the hash has up to 10). A name too long is accepted by the API
    /// server and then fails at pod creation, so it is refused here, at the name.
    static func groupNameProblems(_ d: Deployment, on: String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let service = KubernetesRenderer.leaderServiceName(d.name)
        if let p = KubernetesNames.dns1035LabelProblem(service) {
            out.append(.error("invalid-value", "deployment '\(d.name)' spans \(d.nodes) nodes \(on): its leader Service '\(service)' \(p); "
                              + "shorten the name", at: d.location))
            return out
        }
        let lastGroup = String(max(d.replicas, 1) - 1)
        let longest = d.name.utf8.count + 1 + lastGroup.utf8.count + 1 + 10
        if longest > 63 {
            out.append(.error("invalid-value", "deployment '\(d.name)' spans \(d.nodes) nodes \(on): LeaderWorkerSet names group "
                              + "\(lastGroup)'s worker StatefulSet '\(d.name)-\(lastGroup)', and its pods' controller-revision-hash label "
                              + "'\(d.name)-\(lastGroup)-' + a 10-character hash would have \(longest) characters (at most 63); shorten the "
                              + "name to \(d.name.utf8.count - (longest - 63)) characters", at: d.location))
        }
        return out
    }

    /// Engine flags that open another port on the engine's own one (`--nccl-port 30000` with `port:
    /// 30000`): in one pod both cannot bind, and the Service would send clients to the wrong one.
    static func portClashes(_ d: Deployment, _ version: BackendVersion) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for arg in version.args + d.args {
            let words = arg.value.split(whereSeparator: { $0 == " " || $0 == "=" }).map(String.init)
            guard words.count >= 2, words[0].hasPrefix("--"), words[0].hasSuffix("-port"), words[0] != "--port",
                  let port = Int(words[1]), port == d.port else { continue }
            out.append(.error("port-clash", "deployment '\(d.name)': \(words[0]) \(port) is the engine's own port (port: \(d.port)); "
                              + "the pod's container cannot serve both on one port", at: arg.location, length: arg.length))
        }
        return out
    }
}
