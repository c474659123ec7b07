import DeployCore
import DeploySpec
import Testing

/// Manifest-level switches and messages of the engine parse rules: `strictFlags`, the version list of
/// an engineVersion that is not a version.
@Suite struct FlagSpellingValidationTests {
    func manifest(engineVersion: String, strict: Bool?, args: [String]) -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v: {engineVersion: "\(engineVersion)", image: img}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v
        \(strict.map { "  strictFlags: \($0)\n" } ?? "")  args:
        \(args.map { "    - \($0)" }.joined(separator: "\n"))

        """
    }

    @Test func strictFlagsOnADeploymentMakesAbbreviationsErrors() {
        let lenient = validate(manifest(engineVersion: "0.5.23", strict: nil, args: ["--tp 8"]))
        #expect(lenient.isValid)
        #expect(lenient.diagnostics.contains { $0.id == "abbreviated-flag" && $0.severity == .warning })
        let strict = validate(manifest(engineVersion: "0.5.23", strict: true, args: ["--tp 8"]))
        #expect(!strict.isValid)
        #expect(strict.diagnostics.contains { $0.id == "abbreviated-flag" && $0.severity == .error
            && $0.fixIt == "--tp-size" })
        #expect(validate(manifest(engineVersion: "0.5.23", strict: false, args: ["--tp 8"])).isValid)
        #expect(validate(manifest(engineVersion: "0.5.23", strict: true, args: ["--tp-size 8"])).isValid)
    }

    @Test func aVersionThatIsNotOneListsTheSurveyedOnesOldestFirst() throws {
        let r = validate(manifest(engineVersion: "0.5.2x", strict: nil, args: []))
        let d = try #require(r.diagnostics.first { $0.id == "unknown-reference" })
        let list = try #require(d.notes.first { $0.hasPrefix("known versions: ") })
        let versions = list.dropFirst("known versions: ".count).split(separator: ", ").map(String.init)
        #expect(versions.first == "0.5.5.post3" && versions.last == "0.5.23")
        #expect(versions.firstIndex(of: "0.5.9")! < versions.firstIndex(of: "0.5.10.post1")!, "by version, not spelling")
    }
}
