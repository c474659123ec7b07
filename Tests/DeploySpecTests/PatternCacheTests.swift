import DeployCore
@testable import DeploySpec
import Foundation
import Testing

/// The hand-written matchers for the schema's name patterns agree with the regular expressions
/// they replace (anchored at the very end: `\z`, see `PatternCache.isName`).
@Suite struct PatternCacheTests {
    static func regex(_ pattern: String) -> NSRegularExpression {
        try! NSRegularExpression(pattern: String(pattern.dropLast()) + "\\z")
    }

    static func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
        re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    /// Random strings over an alphabet that hits every class boundary, every length up to 70.
    static func samples() -> [String] {
        let alphabet: [String] = "az09AZ._-_ /\n:ü\u{0}`{@[".map(String.init) + ["é", "дs"]
        var rng = SystemRandomNumberGenerator()
        var out = ["", "a", "0", "-", "a-", "-a", "a.b", "dspark-0001", "dspark\n", "A", "_", "_x9", "9x", "x y",
                   String(repeating: "a", count: 63), String(repeating: "a", count: 64)]
        for _ in 0..<4000 {
            let n = Int.random(in: 0...70, using: &rng)
            out.append((0..<n).map { _ in alphabet.randomElement(using: &rng)! }.joined())
        }
        return out
    }

    @Test func namesAgreeWithTheRegex() {
        let re = Self.regex(ManifestSchema.namePattern)
        for s in Self.samples() {
            #expect(PatternCache.isName(s) == Self.matches(re, s), "\(s.debugDescription)")
        }
    }

    @Test func envNamesAgreeWithTheRegex() {
        let re = Self.regex(ManifestSchema.envNamePattern)
        for s in Self.samples() + ["PYPI_PACKAGES_INSTALL", "NCCL_DEBUG", "1X", "X-1"] {
            #expect(PatternCache.isEnvName(s) == Self.matches(re, s), "\(s.debugDescription)")
        }
    }

    @Test func aNameWithAFinalLineBreakIsRefused() {
        let r = validate("""
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata:
          name: |
            dspark
        spec: {model: {source: modelscope, id: x}, backend: b, backendVersion: v}
        """)
        #expect(r.diagnostics.contains { $0.id == "invalid-value" && $0.message.contains("metadata.name") })
    }
}
