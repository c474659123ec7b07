import DeployCore
import Engines
import Foundation
@testable import DeploySpec
import DeployTargets
import Testing
import TestSupport

/// `spec.benchmarks`: decoding, and every mistake located where a marker says.
@Suite struct BenchmarksValidationTests {
    func benchmarks(_ body: String) -> String {
        "  benchmarks:\n    scenarios:\n" + body
    }

    @Test func decodesScenariosWithDefaults() throws {
        let r = validate(seedBackend() + deployment(args: ["--tp-size 8"], extra: benchmarks("""
              - name: 1k-1k-c1
                inputLen: 1024
                outputLen: 1024
                gates: ["output_throughput >= 0.95 * previous", "median_ttft_ms <= 200"]
              - {name: long, inputLen: 64000, outputLen: 3000, numPrompts: 10, maxConcurrency: 2,
                 requestRate: 2.5, rangeRatio: 0.5, api: openai-chat, warmup: 0, seed: 7, maxFailedRequests: 1}

        """)))
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
        let s = try #require(r.deployments.first?.deployment.benchmarks)
        #expect(s.count == 2)
        #expect(s[0].numPrompts == 10 && s[0].maxConcurrency == 1 && s[0].requestRate == .infinity)
        #expect(s[0].rangeRatio == 1 && s[0].api == nil && s[0].warmup == 1 && s[0].maxFailedRequests == 0)
        #expect(s[0].gates.map(\.description) == ["output_throughput >= 0.95 * previous", "median_ttft_ms <= 200"])
        #expect(s[1].requestRate == 2.5 && s[1].rangeRatio == 0.5 && s[1].api == "openai-chat" && s[1].seed == 7)
        #expect(s[1].maxConcurrency == 2 && s[1].warmup == 0 && s[1].maxFailedRequests == 1)
        #expect(s[0].workloadKey != s[1].workloadKey)
    }

    @Test func badMetricIsLocatedWithSuggestion() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["--tp-size 8"], extra: benchmarks("""
              - name: a
                inputLen: 8
                outputLen: 8
                gates:
                  - output_throughput >= 0.95 * previous
                  - ⁁median_ttf_ms <= 200
                  - "p99_itl_ms <= ⁁20ms"

        """)))
        let r = validate(yaml)
        expectDiagnostic(r, "unknown-metric", at: m[0])
        #expect(r.diagnostics.first { $0.id == "unknown-metric" }?.message.contains("did you mean 'median_ttft_ms'") == true)
        expectDiagnostic(r, "invalid-value", at: m[1])
        #expect(r.diagnostics.filter(\.isError).count == 2, "\(r.diagnostics.map(\.message))")
    }

    @Test func syntaxErrorsAreLocated() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["--tp-size 8"], extra: benchmarks("""
              - name: a
                inputLen: 8
                outputLen: 8
                requestRate: ⁁fast
                gates: ["output_throughput ⁁== 100", "output_throughput >= 0.9 * ⁁previos"]
              - name: ⁁a
                inputLen: 8
                outputLen: 8
                ⁁gate: ["failed <= 0"]

        """)))
        let r = validate(yaml)
        expectDiagnostic(r, "invalid-value", at: m[0])
        expectDiagnostic(r, "invalid-value", at: m[1])
        expectDiagnostic(r, "invalid-value", at: m[2])
        #expect(r.diagnostics.first { $0.message.contains("previos") || $0.message.contains("'previous' after") }?
            .message.contains("did you mean 'previous'") == true)
        expectDiagnostic(r, "duplicate-key", at: m[3])
        expectDiagnostic(r, "unknown-key", at: m[4])
        #expect(r.diagnostics.first { $0.id == "unknown-key" }?.message.contains("did you mean 'gates'") == true)
    }

    @Test func schemaChecksNumbersAndRequiredKeys() {
        let (yaml, m) = markers(seedBackend() + deployment(args: ["--tp-size 8"], extra: benchmarks("""
              ⁁- name: a
                inputLen: 8
                rangeRatio: ⁁1.5
                numPrompts: ⁁0
                api: ⁁generate

        """)))
        let r = validate(yaml)
        expectDiagnostic(r, "missing-key", at: (m[0].line, m[0].column + 2))
        expectDiagnostic(r, "invalid-value", at: m[1])
        expectDiagnostic(r, "invalid-value", at: m[2])
        expectDiagnostic(r, "invalid-value", at: m[3])
    }

    @Test func shippedSeedManifestsDeclareTheSeedScenarios() throws {
        for file in ["manifests/dspark.yaml", "manifests/dsv4f.yaml"] {
            let (m, d) = ManifestLoader(source: RepositoryFileSource(), targetTypes: TargetKinds.schemas).load([file])
            let r = SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
            #expect(!r.diagnostics.hasErrors, "\(file): \(r.diagnostics.map(\.message))")
            let s = try #require(r.deployments.first?.deployment.benchmarks)
            #expect(s.map(\.name) == ["1k-1k-c1", "64k-3k-c1"])
            #expect(s[1].inputLen == 64000 && s[1].outputLen == 3000 && s[1].numPrompts == 10 && s[1].maxConcurrency == 1)
            #expect(s.allSatisfy { !$0.gates.isEmpty })
        }
    }
}

extension Diagnostic {
    var isError: Bool { severity == .error }
}
