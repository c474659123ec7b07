import DeployCore
@testable import DeploySpec
import Testing

/// Ports dsdeploy derives from a deployment's `port` must stay below 65536.
@Suite struct PortRangeValidationTests {
    @Test func replicasPastTheLastPortAreRefusedAtThePort() {
        let (text, at) = markers(seedBackend() + deployment(args: ["--tp-size 8"], extra: "  port: ⁁65535\n  replicas: 2\n"))
        let r = validate(text)
        expectDiagnostic(r, "invalid-value", at: at[0])
        #expect(r.diagnostics.contains { $0.message.contains("port 65536 for replica 1's port") })
    }

    @Test func multiNodeRendezvousPastTheLastPortIsRefused() {
        let (text, at) = markers(seedBackend() + deployment(args: ["--tp-size 16"], extra: "  port: ⁁65000\n  nodesPerReplica: 2\n"))
        let r = validate(text)
        expectDiagnostic(r, "invalid-value", at: at[0])
        #expect(r.diagnostics.contains { $0.message.contains("rendezvous") })
    }

    @Test func aPortThatFitsIsNotReported() {
        let r = validate(seedBackend() + deployment(args: ["--tp-size 8"], extra: "  port: 64000\n  replicas: 3\n"))
        #expect(!r.diagnostics.contains { $0.message.contains("past 65535") })
    }
}
