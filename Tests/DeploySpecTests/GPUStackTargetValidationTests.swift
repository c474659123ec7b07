import DeployCore
@testable import DeploySpec
import Testing

/// Validation of `type: gpustack` Targets and of how deployments pick their target.
@Suite struct GPUStackTargetValidationTests {
    func target(_ spec: String, name: String = "lab") -> String {
        """
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: \(name)}
        spec:
        \(spec)

        """
    }

    let ok = """
          type: gpustack
          url: http://127.0.0.1:30080
          apiKey: {valueFrom: {env: GPUSTACK_API_KEY}}
        """

    @Test func aTargetFileNextToTheDeploymentsIsTheirTarget() {
        let r = validate(seedBackend() + deployment(args: ["--tp-size 8"]) + target(ok))
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        #expect(r.deployments.first?.target?.name == "lab")
        #expect(r.deployments.first?.target?.env("apiKey") == .fromEnv("GPUSTACK_API_KEY", secret: true))
        // Without it the same deployment runs locally.
        #expect(validate(seedBackend() + deployment(args: ["--tp-size 8"])).deployments.first?.target == nil)
    }

    @Test func urlMustBeWellFormed() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["--tp-size 8"]) + target("""
              type: gpustack
              url: ⁁ftp://host
              apiKey: {valueFrom: {env: K}}
            """))
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        for bad in ["http://", "http://h:99999", "http://user:pw@h", "http://h/?q=1"] {
            #expect(TargetCheck.urlProblem(bad) != nil, "\(bad)")
        }
        for good in ["http://127.0.0.1:30080", "https://gpustack.example/", "http://[::1]:80"] {
            #expect(TargetCheck.urlProblem(good) == nil, "\(good)")
        }
    }

    @Test func apiKeyIsRequiredAndNeverALiteral() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["--tp-size 8"]) + target("""
              type: gpustack
              url: http://h:1
              apiKey: ⁁gpustack_0123456789
            """))
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        #expect(!r.diagnostics.contains { $0.message.contains("gpustack_0123456789") }, "the key is never echoed")
        let missing = validate(seedBackend() + deployment(args: ["--tp-size 8"]) + target("  type: gpustack\n  url: http://h:1"))
        #expect(missing.diagnostics.contains { $0.id == "missing-key" && $0.message.contains("apiKey") })
        let noURL = validate(seedBackend() + deployment(args: ["--tp-size 8"]) + target("  type: gpustack\n  apiKey: {valueFrom: {file: k}}"))
        #expect(noURL.diagnostics.contains { $0.id == "missing-key" && $0.message.contains("url") })
    }

    @Test func caBundleMustExist() {
        let r = validate(seedBackend() + deployment(args: ["--tp-size 8"]) + target(ok + "\n  caBundle: certs/nope.pem"))
        #expect(r.diagnostics.contains { $0.message.contains("caBundle") && $0.severity == .error })
    }

    @Test func unregisteredTypesAreRefusedWithTheRegisteredOnes() {
        for type in ["ssh", "k8s", "dockr"] {
            let r = validate(seedBackend() + deployment(args: ["--tp-size 8"]) + target("  type: \(type)"))
            #expect(r.diagnostics.contains { $0.id == "invalid-value" && $0.message.contains("'\(type)' is not a valid value for 'spec.type'")
                && $0.notes.contains("expected one of: local, gpustack, docker, kubernetes") }, "\(type): \(r.diagnostics.map(\.message))")
        }
    }

    @Test func aFieldOfAnotherTypeIsAnUnknownKey() {
        let r = validate(seedBackend() + deployment(args: ["--tp-size 8"]) + target(ok + "\n  images: {x: [y]}"))
        #expect(r.diagnostics.contains { $0.id == "unknown-key" && $0.message.contains("images") }, "\(r.diagnostics.map(\.message))")
    }

    @Test func severalRemoteTargetsNeedAnExplicitTarget() {
        let r = validate(seedBackend() + deployment(args: ["--tp-size 8"]) + target(ok) + target(ok, name: "lab2"))
        #expect(r.diagnostics.contains { $0.message.contains("names no target") })
        let named = validate(seedBackend() + deployment(args: ["--tp-size 8"], extra: "  target: lab2\n") + target(ok) + target(ok, name: "lab2"))
        #expect(named.isValid, "\(named.diagnostics.map(\.message))")
        #expect(named.deployments.first?.target?.name == "lab2")
    }
}
