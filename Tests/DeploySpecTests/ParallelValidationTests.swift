import DeployCore
@testable import DeploySpec
import DeployTargets
import Foundation
import Testing
import TestSupport

/// Large manifests are parsed, decoded and checked side by side; what `validate` reports must not
/// depend on it: the same diagnostics (text, location, order) and the same resolved deployments.
@Suite struct ParallelValidationTests {
    /// 400 deployments, every few of them wrong in a different way (values as users write them:
    /// the seed's flags, typos, bad values, unknown references, duplicates, env references).
    static func manifest() -> String {
        // A second backend whose run command has a typo: reported for each deployment using it.
        var text = seedBackend() + seedBackend().replacingOccurrences(of: "name: sglang-dspark", with: "name: typo")
            .replacingOccurrences(of: "{{model_path}}", with: "{{model_pth}}")
        for i in 0..<400 {
            var args = ["--context-length 1000000", "--trust-remote-code", "--tp-size 8", "--ep-size 8",
                        "--mem-fraction-static 0.8\(i % 10)", "--max-running-requests \(16 << (i % 4))"]
            var extra = ""
            switch i % 13 {
            case 1: args.append("--tp-sise 8")                                  // unknown flag, a suggestion
            case 2: args.append("--mem-fraction-static abc")                    // bad value, and a duplicate
            case 3: args += ["--speculative-algorithm DSPARK", "--speculative-num-steps 3"] // a rule warning
            case 4: extra = "  env: {PYPI_PACKAGES_INSTALL: \"-U distro\", X: \"{{nope}}\"}\n"
            case 5: args.append("--disable-overlap-schedule --enable-metrics")
            case 6: args.append("--host 0.0.0.0")                                // the template's flag again
            case 7: args.append("--moe-runner-backend flashinfer_mxfp")         // not a choice
            default: break
            }
            let name = i % 97 == 5 ? "dup" : "d\(i)"                              // defined several times
            var doc = deployment(name: name, args: args, extra: extra)
            if i % 17 == 4 { doc = doc.replacingOccurrences(of: "backend: sglang-dspark", with: "backend: typo") }
            if i % 89 == 3 { doc = doc.replacingOccurrences(of: "backendVersion: dspark", with: "backendVersion: dsprak") }
            if i % 61 == 7 { doc = doc.replacingOccurrences(of: "gpusPerReplica: 8", with: "gpusPerReplica: eight") }
            text += "---\n" + doc
        }
        return text
    }

    static func run(threads: Int, _ text: String) -> (diagnostics: [String], deployments: [String]) {
        let source = MemoryFileSource(files: ["big.yaml": text])
        var loader = ManifestLoader(source: source, templateDirectories: [], targetTypes: TargetKinds.schemas)
        loader.threads = threads
        let (m, d) = loader.load(["big.yaml"])
        var validator = SpecValidator(targetTypes: TargetKinds.schemas, files: source)
        validator.threads = threads
        let r = validator.validate(m, loadDiagnostics: d)
        let diagnostics = r.diagnostics.map { d in
            "\(d.location.map { "\($0.line):\($0.column)" } ?? "-")+\(d.length) \(d.severity) [\(d.id)] \(d.message) \(d.notes)"
        }
        let deployments = r.deployments.map { r in
            "\(r.deployment.name) \(r.version.engineVersion.value) \(r.args.map { "\($0.group)\($0.canonicalName ?? "?")" }) \(r.env.map { "\($0.name.value)=\($0.value)" })"
        }
        return (diagnostics, deployments)
    }

    @Test func sideBySideReportsExactlyWhatOnePassReports() {
        let text = Self.manifest()
        #expect(text.utf8.count > YAMLParallel.minimumBytes)
        let one = Self.run(threads: 1, text)
        let many = Self.run(threads: 4, text)
        #expect(one.diagnostics.count > 150)
        #expect(one.deployments.count > 300)
        for id in ["unknown-flag", "invalid-value", "unknown-reference", "duplicate-key", "invalid-type", "duplicate-flag", "flag-conflict", "undefined-variable"] {
            #expect(one.diagnostics.contains { $0.contains("[\(id)]") }, "no [\(id)] in the fixture's diagnostics")
        }
        #expect(one.diagnostics == many.diagnostics)
        #expect(one.deployments.count == many.deployments.count)
        if let i = one.deployments.indices.first(where: { $0 < many.deployments.count && one.deployments[$0] != many.deployments[$0] }) {
            Issue.record("deployment \(i) differs:\n\(one.deployments[i])\n\(many.deployments[i])")
        }
    }
}
