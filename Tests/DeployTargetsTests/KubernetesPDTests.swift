import DeployCore
import DeployKit
import DeploySpec
@testable import DeployTargets
import Foundation
import Testing
import TestSupport

/// A prefill/decode disaggregated deployment on Kubernetes: role Deployments whose pods the router
/// finds through its own service discovery (selectors on dsdeploy's labels, the bootstrap port from
/// a prefill pod's annotation), never through pod URLs, with the RBAC that discovery needs.
@Suite struct KubernetesPDTests {
    static let fixture = ["Tests/DeployTargetsTests/KubernetesFixtures/sglang-pd.yaml"]

    static func objects(_ files: [String] = fixture, memory: [String: String]? = nil) throws -> [String: KubeValue] {
        let r = KubernetesSupport.validate(files, memory: memory)
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        let objects = try KubernetesRenderer.objects(r.deployments).get()
        var out: [String: KubeValue] = [:]
        for o in objects { out[o.fileName] = o.value }
        #expect(out.count == objects.count, "one file name per object")
        return out
    }

    static func strings(_ v: KubeValue?) -> [String] { if case .list(let l)? = v { l.compactMap(\.stringValue) } else { [] } }
    static func map(_ v: KubeValue?) -> [String: String] {
        guard case .map(let fields)? = v else { return [:] }
        var out: [String: String] = [:]
        for f in fields { out[f.key] = f.value.stringValue }
        return out
    }
    static func container(_ template: KubeValue?) -> KubeValue? {
        if case .list(let cs)? = template?["spec"]?["containers"] { return cs.first }
        return nil
    }
    /// The values after `flag` up to the next flag.
    static func values(_ args: [String], _ flag: String) -> [String]? {
        guard let i = args.firstIndex(of: flag) else { return nil }
        return Array(args[(i + 1)...].prefix { !$0.hasPrefix("--") })
    }
    /// A `key=value …` selector as the router parses it.
    static func selector(_ words: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for w in words {
            let kv = w.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { out[kv[0]] = kv[1] }
        }
        return out
    }
    static func matches(_ selector: [String: String], _ labels: [String: String]) -> Bool {
        !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// The router selects exactly the role pods (each selector matches its role's pod labels and no
    /// other pod's), reaches them on the port they serve, learns a prefill's bootstrap port from the
    /// annotation that equals its `--disaggregation-bootstrap-port`, and is handed no pod URL.
    @Test func theRouterDiscoversTheRolePodsByLabel() throws {
        let o = try Self.objects()
        let prefill = try #require(o["dsr1-prefill.deployment.yaml"]?["spec"]?["template"])
        let decode = try #require(o["dsr1-decode.deployment.yaml"]?["spec"]?["template"])
        let routerTemplate = try #require(o["dsr1.deployment.yaml"]?["spec"]?["template"])
        let router = try #require(Self.container(routerTemplate))
        let args = Self.strings(router["args"])
        let labels = (prefill: Self.map(prefill["metadata"]?["labels"]), decode: Self.map(decode["metadata"]?["labels"]),
                      router: Self.map(routerTemplate["metadata"]?["labels"]))
        #expect(labels.prefill["dsdeploy/pd-role"] == "prefill" && labels.decode["dsdeploy/pd-role"] == "decode")
        #expect(labels.prefill["dsdeploy/pd-group"] == "dsr1" && labels.decode["dsdeploy/pd-group"] == "dsr1")

        #expect(args.contains("--service-discovery") && args.contains("--pd-disaggregation"))
        let p = Self.selector(try #require(Self.values(args, "--prefill-selector")))
        let d = Self.selector(try #require(Self.values(args, "--decode-selector")))
        #expect(Self.matches(p, labels.prefill) && !Self.matches(p, labels.decode) && !Self.matches(p, labels.router))
        #expect(Self.matches(d, labels.decode) && !Self.matches(d, labels.prefill) && !Self.matches(d, labels.router))
        #expect(Self.values(args, "--service-discovery-namespace") == ["$(POD_NAMESPACE)"])
        #expect(Self.strings(router["env"].flatMap { if case .list(let l) = $0 { l.first?["valueFrom"]?["fieldRef"]?["fieldPath"] } else { nil } }.map { .list([$0]) })
                == ["metadata.namespace"])

        // One port for every discovered pod: the one both roles serve on.
        func containerPort(_ t: KubeValue) -> KubeValue? {
            if case .list(let ps)? = Self.container(t)?["ports"] { return ps.first?["containerPort"] }
            return nil
        }
        let port = try #require(Self.values(args, "--service-discovery-port")?.first.flatMap(Int.init))
        #expect(containerPort(prefill) == .int(port) && containerPort(decode) == .int(port))

        // The bootstrap port the router reads is the one the prefill server binds.
        let prefillArgs = Self.strings(Self.container(prefill)?["args"])
        let bootstrap = try #require(Self.values(prefillArgs, "--disaggregation-bootstrap-port")?.first)
        #expect(Self.map(prefill["metadata"]?["annotations"])["sglang.ai/bootstrap-port"] == bootstrap)
        #expect(bootstrap == String(port + PDExpansion.bootstrapPortOffset))
        #expect(Self.map(decode["metadata"]?["annotations"])["sglang.ai/bootstrap-port"] == nil)
        #expect(Self.values(Self.strings(Self.container(decode)?["args"]), "--disaggregation-mode") == ["decode"])

        // No pod URLs: pods come and go; discovery keeps the router's list.
        #expect(!args.contains("--prefill") && !args.contains("--decode") && !args.contains("--worker-urls"))
        #expect(!args.contains { $0.contains("://") }, "\(args)")
        #expect(router["image"] == .string("lmsysorg/sglang:v0.5.23"))
        #expect(Self.strings(router["command"]) == PDExpansion.defaultRouterEntrypoint)
        #expect(router["readinessProbe"]?["httpGet"]?["path"] == .string("/readiness"))
        #expect(router["livenessProbe"]?["httpGet"]?["path"] == .string("/liveness"))
        #expect(router["resources"] == nil && routerTemplate["spec"]?["volumes"] == nil, "the router needs no GPU, shm or model cache")
    }

    /// The router pod runs as a ServiceAccount bound to a Role that lets it get, list and watch pods
    /// in its namespace; the deployment's Service `NAME` selects the router's pods only.
    @Test func theRouterHasTheRBACItsDiscoveryNeeds() throws {
        let o = try Self.objects()
        let account = KubernetesRenderer.routerAccountName("dsr1")
        let pod = try #require(o["dsr1.deployment.yaml"]?["spec"]?["template"]?["spec"])
        #expect(pod["serviceAccountName"] == .string(account))
        #expect(o["\(account).serviceaccount.yaml"]?["metadata"]?["name"] == .string(account))
        let role = try #require(o["\(account).role.yaml"])
        guard case .list(let rules)? = role["rules"] else { Issue.record("no rules"); return }
        #expect(rules.count == 1)
        #expect(Self.strings(rules.first?["apiGroups"]) == [""] && Self.strings(rules.first?["resources"]) == ["pods"])
        #expect(Self.strings(rules.first?["verbs"]) == ["get", "list", "watch"])
        let binding = try #require(o["\(account).rolebinding.yaml"])
        #expect(binding["roleRef"]?["kind"] == .string("Role") && binding["roleRef"]?["name"] == role["metadata"]?["name"])
        guard case .list(let subjects)? = binding["subjects"] else { Issue.record("no subjects"); return }
        #expect(subjects.map { Self.map($0) } == [["kind": "ServiceAccount", "name": account, "namespace": "serving"]])
        for name in ["\(account).serviceaccount.yaml", "\(account).role.yaml", "\(account).rolebinding.yaml", "dsr1.deployment.yaml"] {
            #expect(o[name]?["metadata"]?["namespace"] == .string("serving"), "\(name)")
        }
        let service = try #require(o["dsr1.service.yaml"])
        #expect(Self.map(service["spec"]?["selector"]) == ["dsdeploy/deployment": "dsr1"])
        #expect(o["dsr1.deployment.yaml"]?["spec"]?["strategy"]?["rollingUpdate"]?["maxSurge"] == .int(0))
    }

    /// A role spanning nodes is a LeaderWorkerSet: the router selects its groups' leaders only (the
    /// workers serve no HTTP), and only the prefill leader's pod carries the bootstrap annotation.
    @Test func aMultiNodeRoleIsDiscoveredByItsLeaders() throws {
        let text = try String(contentsOfFile: repositoryRoot + "/" + Self.fixture[0], encoding: .utf8)
        let multi = text.replacingOccurrences(of: "      replicas: 1\n      gpusPerReplica: 8\n",
                                              with: "      replicas: 1\n      gpusPerReplica: 8\n      nodesPerReplica: 2\n")
        #expect(multi != text)
        let o = try Self.objects(["pd.yaml"], memory: ["pd.yaml": multi] .merging(Self.templates()) { a, _ in a })
        let lws = try #require(o["dsr1-prefill.leaderworkerset.yaml"]?["spec"]?["leaderWorkerTemplate"])
        let args = Self.strings(Self.container(o["dsr1.deployment.yaml"]?["spec"]?["template"])?["args"])
        let p = Self.selector(try #require(Self.values(args, "--prefill-selector")))
        #expect(p["leaderworkerset.sigs.k8s.io/worker-index"] == "0")
        let leaderLabels = Self.map(lws["leaderTemplate"]?["metadata"]?["labels"]).merging(["leaderworkerset.sigs.k8s.io/worker-index": "0"]) { a, _ in a }
        let workerLabels = Self.map(lws["workerTemplate"]?["metadata"]?["labels"]).merging(["leaderworkerset.sigs.k8s.io/worker-index": "1"]) { a, _ in a }
        #expect(Self.matches(p, leaderLabels) && !Self.matches(p, workerLabels))
        #expect(Self.map(lws["leaderTemplate"]?["metadata"]?["annotations"])["sglang.ai/bootstrap-port"] == "31510")
        #expect(Self.map(lws["workerTemplate"]?["metadata"]?["annotations"])["sglang.ai/bootstrap-port"] == nil)
        let d = Self.selector(try #require(Self.values(args, "--decode-selector")))
        #expect(d["leaderworkerset.sigs.k8s.io/worker-index"] == nil, "decode is one node per replica")
    }

    /// Roles on different ports cannot be discovered through one `--service-discovery-port`: validate
    /// refuses at the decode port, and render (given the deployments anyway) too, naming the fields to set.
    @Test func rolesOnDifferentPortsAreRefused() throws {
        let text = try String(contentsOfFile: repositoryRoot + "/" + Self.fixture[0], encoding: .utf8)
        let other = text.replacingOccurrences(of: "      gpusPerReplica: 8\n      port: 30010\n      args: [--cuda",
                                              with: "      gpusPerReplica: 8\n      port: 30020\n      args: [--cuda")
        #expect(other != text)
        let r = KubernetesSupport.validate(["pd.yaml"], memory: ["pd.yaml": other].merging(Self.templates()) { a, _ in a })
        let errors = r.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1, "\(errors.map(\.message))")
        let line = other.components(separatedBy: "\n").firstIndex(of: "      port: 30020").map { $0 + 1 }
        #expect(errors.first?.id == "invalid-value" && errors.first?.location?.line == line
                && errors.first?.message.contains("--service-discovery-port") == true, "\(errors.map { "\($0.location?.line ?? 0) \($0.message)" })")
        // Both defaults (port + 10 and + 20) differ too: refused at `disaggregation:`.
        let defaults = text.replacingOccurrences(of: "      port: 30010\n", with: "")
        let d = KubernetesSupport.validate(["pd.yaml"], memory: ["pd.yaml": defaults].merging(Self.templates()) { a, _ in a })
        #expect(d.diagnostics.contains { $0.id == "invalid-value" && $0.message.contains("30010") && $0.message.contains("30020") },
                "\(d.diagnostics.map(\.message))")
        guard case .failure(let e) = KubernetesRenderer.objects(r.deployments) else {
            Issue.record("rendered roles on ports 30010 and 30020"); return
        }
        #expect(e.deployment == "dsr1" && e.message.contains("--service-discovery-port") && e.message.contains("30020"), "\(e.message)")
    }

    /// `validate` accepts a disaggregated deployment on a kubernetes target (refused before); a target
    /// type without disaggregation still refuses it at `disaggregation:`.
    @Test func validateAcceptsPDOnKubernetes() throws {
        let r = KubernetesSupport.validate(Self.fixture)
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        #expect(r.deployments.map(\.deployment.name).sorted() == ["dsr1", "dsr1-decode", "dsr1-prefill"])
        #expect(r.deployments.allSatisfy { $0.target?.type == "kubernetes" })
        let text = try String(contentsOfFile: repositoryRoot + "/" + Self.fixture[0], encoding: .utf8)
        let cut = try #require(text.range(of: "---\napiVersion: dsdeploy/v1\nkind: Target"))
        // (gpustack: GPUStack schedules one model per deployment; docker and local run PD.)
        let gpustack = String(text[..<cut.lowerBound]) + "---\napiVersion: dsdeploy/v1\nkind: Target\nmetadata: {name: box}\nspec:\n  type: gpustack\n  server: http://gpustack.example:80\n"
        let refused = KubernetesSupport.validate(["pd.yaml"], memory: ["pd.yaml": gpustack].merging(Self.templates()) { a, _ in a })
        #expect(refused.diagnostics.contains { $0.id == "unsupported" && $0.message.contains("disaggregation") },
                "\(refused.diagnostics.map(\.message))")
    }

    /// A router flag that would redirect its discovery is dsdeploy's on kubernetes: refused at the flag.
    @Test func discoveryFlagsInRouterArgsAreRefused() throws {
        let text = try String(contentsOfFile: repositoryRoot + "/" + Self.fixture[0], encoding: .utf8)
        let bad = text.replacingOccurrences(of: "args: [--prefill-policy cache_aware,", with: "args: [--service-discovery-port 8000, --prefill-policy cache_aware,")
        #expect(bad != text)
        let r = KubernetesSupport.validate(["pd.yaml"], memory: ["pd.yaml": bad].merging(Self.templates()) { a, _ in a })
        #expect(r.diagnostics.contains { $0.id == "managed-flag" && $0.message.contains("--service-discovery-port") },
                "\(r.diagnostics.map(\.message))")
    }

    /// The stock templates, for manifests given in memory.
    static func templates() -> [String: String] {
        let dir = repositoryRoot + "/templates"
        var out: [String: String] = [:]
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where f.hasSuffix(".yaml") {
            out["templates/" + f] = try? String(contentsOfFile: dir + "/" + f, encoding: .utf8)
        }
        return out
    }
}
