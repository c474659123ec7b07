import DeployCore
import Foundation
@testable import DeploySpec
import Engines
import Testing

/// `disaggregation:` expands into the prefill, decode and router deployments that run
/// (`PDExpansion`), each checked against its own catalog (SGLang's for the servers, sglang-router's
/// for the router); dsdeploy's own flags are located errors when written by hand.
@Suite struct DisaggregationValidationTests {
    func manifest(engine: String = "sglang", top: String = "", pd: String = """
        transferBackend: nixl
            prefill: {replicas: 1, gpusPerReplica: 8, args: [--chunked-prefill-size 8192]}
            decode:
              replicas: 2
              gpusPerReplica: 8
              port: 31000
              env: {SGLANG_X: decode, SHARED: override}
            router: {args: [--prefill-policy cache_aware]}
        """) -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: \(engine)
          versions:
            v: {engineVersion: "\(engine == "sglang" ? "0.5.23" : "0.33.0")", image: lmsysorg/sglang:v0.5.23,
                command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: dsr1}
        spec:
          model: {source: huggingface, id: deepseek-ai/DeepSeek-R1}
          backend: b
          backendVersion: v
          port: 30000
          args: [--tp-size 8]
          env: {SHARED: base}\(top)
          disaggregation:
            \(pd)
        """
    }

    /// The ports dsdeploy derives for the roles count too: a prefill server's bootstrap port and the
    /// router's Prometheus listener (each its port + 1500) must stay below 65536.
    @Test func rolePortsPastTheLastPortAreRefused() {
        let r = validate(manifest().replacingOccurrences(of: "port: 30000", with: "port: 64500"))
        let messages = r.diagnostics.filter { $0.id == "invalid-value" }.map(\.message)
        #expect(messages.contains("deployment 'dsr1-prefill' would need port 66010 for the bootstrap port (port + 1500), past 65535"),
                "\(messages)")
        #expect(messages.contains("deployment 'dsr1' would need port 66000 for the router's Prometheus port (port + 1500), past 65535"),
                "\(messages)")
        #expect(!messages.contains { $0.contains("dsr1-decode") }, "the decode servers' port 31000 fits")
    }

    @Test func expandsIntoPrefillDecodeAndTheRouter() throws {
        let r = validate(manifest())
        #expect(r.isValid, "\(r.diagnostics)")
        let byName = Dictionary(uniqueKeysWithValues: r.deployments.map { ($0.deployment.name, $0) })
        #expect(Set(byName.keys) == ["dsr1", "dsr1-prefill", "dsr1-decode"])
        let prefill = try #require(byName["dsr1-prefill"]), decode = try #require(byName["dsr1-decode"]), router = try #require(byName["dsr1"])
        #expect(prefill.deployment.pd == PDMember(group: "dsr1", role: .prefill) && router.deployment.pd?.role == .router)
        #expect(prefill.deployment.port == 30010 && decode.deployment.port == 31000 && router.deployment.port == 30000)
        #expect(prefill.deployment.replicas == 1 && decode.deployment.replicas == 2 && decode.deployment.gpusPerReplica == 8)
        #expect(prefill.flagSet["--disaggregation-mode"] == .string("prefill") && decode.flagSet["--disaggregation-mode"] == .string("decode"))
        #expect(prefill.flagSet["--disaggregation-transfer-backend"] == .string("nixl") && prefill.flagSet["--tp-size"] == .int(8))
        #expect(prefill.flagSet["--chunked-prefill-size"] == .int(8192) && decode.flagSet["--chunked-prefill-size"] == nil)
        // Role env over the deployment's, by name.
        #expect(Set(decode.env.map(\.name.value)) == ["SGLANG_X", "SHARED"] && decode.env.count == 2)
        #expect(decode.env.first { $0.name.value == "SHARED" }?.value == .literal("override"))
        #expect(prefill.env.first { $0.name.value == "SHARED" }?.value == .literal("base"))
        // The router: sglang-router's catalog (newest catalogued when no version is written), no GPUs, one replica.
        #expect(router.backend.engine == .sglangRouter && router.version.engineVersion.value == CatalogStore.versions(of: .sglangRouter).last)
        #expect(router.catalog.engine == .sglangRouter && router.flagSet["--prefill-policy"] == .string("cache_aware"))
        #expect(router.flagSet["--pd-disaggregation"] != nil && router.deployment.gpusPerReplica == 0 && router.deployment.replicas == 1)
        #expect(router.version.entrypoint == PDExpansion.defaultRouterEntrypoint && router.version.image == "lmsysorg/sglang:v0.5.23")
        #expect(router.deployment.rollout.maxSurge == 0, "one router on the deployment's port")
    }

    @Test func handWrittenManagedFlagsAndDeploymentLevelSizesAreLocatedErrors() {
        let text = manifest(top: "\n  replicas: 2", pd: """
        transferBackend: mooncak
            prefill: {args: [--disaggregation-bootstrap-port 9000]}
            decode: {replicas: 1}
            router: {args: [--decode-policy power_of_two, --worker-urls http://x:1]}
        """)
        let r = validate(text)
        #expect(!r.isValid)
        let errors = r.diagnostics.filter { $0.severity == .error }
        func at(_ id: String, _ needle: String) -> Int? {
            errors.first { $0.id == id && $0.message.contains(needle) }?.location?.line
        }
        #expect(at("disaggregation", "set 'replicas' per role") == line(text, "  replicas: 2"), "\(errors)")
        #expect(at("invalid-value", "invalid transferBackend 'mooncak'") == line(text, "transferBackend:"), "\(errors)")
        #expect(at("managed-flag", "'--disaggregation-bootstrap-port'") == line(text, "prefill:"), "\(errors)")
        #expect(at("managed-flag", "'--worker-urls'") == line(text, "router:"), "\(errors)")
        #expect(at("flag-conflict", "power_of_two policy for decode needs at least 2 decode servers") == line(text, "router:"), "\(errors)")
        #expect(!errors.contains { $0.id == "duplicate-flag" }, "\(errors)")
    }

    /// The 1-based line of `text` that contains `needle`.
    func line(_ text: String, _ needle: String) -> Int? {
        text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(needle) }.map { $0 + 1 }
    }

    @Test func onlySGLangIsDisaggregated() {
        let r = validate(manifest(engine: "vllm"))
        #expect(r.diagnostics.contains { $0.id == "unsupported" && $0.message.contains("runs SGLang servers behind sglang-router") })
    }
}
