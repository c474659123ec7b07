import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation
import Testing
import TestSupport

/// `DiagnosticPrinter`'s caret text for real invalid manifests: the seed's `manifests/dspark.yaml`
/// with one mistake each, loaded beside its real backend file. Goldens in `Golden/diagnostics-*.txt`.
@Suite struct DiagnosticGoldenTests {
    /// The seed deployment with `edit` applied, validated together with its backend, printed.
    func printed(_ edit: (String) -> String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> String {
        let seed = try String(contentsOfFile: repositoryRoot + "/manifests/dspark.yaml", encoding: .utf8)
        let backend = try String(contentsOfFile: repositoryRoot + "/manifests/backends/sglang-dspark.yaml", encoding: .utf8)
        let edited = edit(seed)
        #expect(edited != seed, "the edit changed nothing", sourceLocation: sourceLocation)
        let files = ["manifests/dspark.yaml": edited, "manifests/backends/sglang-dspark.yaml": backend]
        let (m, d) = ManifestLoader(source: MemoryFileSource(files: files), targetTypes: TargetKinds.schemas).load(["manifests/dspark.yaml"])
        let r = SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
        #expect(!r.diagnostics.isEmpty, "expected at least one diagnostic", sourceLocation: sourceLocation)
        var text = DiagnosticPrinter(sources: r.manifest.sources).render(r.diagnostics)
        if let s = DiagnosticPrinter.summary(r.diagnostics) { text += s + "\n" }
        return text
    }

    @Test func unknownKeyWithDidYouMean() throws {
        let text = try printed { $0.replacingOccurrences(of: "  replicas: 1", with: "  replicaz: 1") }
        #expect(text.contains("replicas"))
        expectSnapshot(text, named: "diagnostics-unknown-key.txt")
    }

    @Test func unknownEngineFlagWithSuggestion() throws {
        let text = try printed { $0.replacingOccurrences(of: "--tp-size 8", with: "--tp-szie 8") }
        #expect(text.contains("--tp-size"))
        expectSnapshot(text, named: "diagnostics-unknown-flag.txt")
    }

    @Test func badValueTypes() throws {
        let text = try printed {
            $0.replacingOccurrences(of: "  gpusPerReplica: 8", with: "  gpusPerReplica: eight")
                .replacingOccurrences(of: "--mem-fraction-static 0.85", with: "--mem-fraction-static most")
        }
        expectSnapshot(text, named: "diagnostics-bad-value.txt")
    }

    @Test func abbreviatedFlagWarningWithFixIt() throws {
        let text = try printed { $0.replacingOccurrences(of: "--max-running-requests 32", with: "--max-running 32") }
        #expect(text.contains("warning:"))
        expectSnapshot(text, named: "diagnostics-abbreviated-flag.txt")
    }
}

/// Many diagnostics are rendered in runs side by side; the text is the concatenation of each
/// diagnostic rendered alone, in order.
@Suite struct DiagnosticPrinterManyTests {
    @Test func manyDiagnosticsRenderAsOneByOne() {
        var text = "", diagnostics: [Diagnostic] = []
        for i in 0..<700 {
            text += "  - --flag-\(i) value\t\(i)\n"
            diagnostics.append(i % 3 == 0
                ? .warning("w", "warning \(i)", at: SourceLocation(file: "f.yaml", line: i + 1, column: 5), length: 3 + i % 5,
                           notes: ["note \(i)"])
                : .error("e", "error \(i)", at: SourceLocation(file: "f.yaml", line: i + 1, column: 1 + i % 9)))
        }
        diagnostics.append(.error("x", "no location", at: nil))
        let printer = DiagnosticPrinter(sources: ["f.yaml": SourceText(text)])
        let whole = printer.render(diagnostics)
        let oneByOne = diagnostics.map { printer.render([$0]) }.joined()
        #expect(whole == oneByOne)
        #expect(whole.contains("warning 699") || whole.contains("error 699"))
    }

    /// Source text is kept as read and each quoted line decoded alone: invalid UTF-8 is shown as
    /// decoding the whole file shows it (U+FFFD), and a CRLF file's lines are quoted without their CR
    /// (lines were once cut only at an LF without a CR before it, so no line of a CRLF file was quoted).
    @Test func quotedLinesAreDecodedAsTheWholeTextWouldBe() {
        let bytes: [UInt8] = Array("a: 1\r\nb: ".utf8) + [0xFF, 0xC3] + Array("\r\nc: x\n".utf8)
        let printer = DiagnosticPrinter(sources: ["f.yaml": SourceText(bytes: bytes)])
        let out = printer.render([
            .error("e", "bad", at: SourceLocation(file: "f.yaml", line: 2, column: 4)),
            .error("e", "crlf", at: SourceLocation(file: "f.yaml", line: 1, column: 4)),
            .error("e", "last", at: SourceLocation(file: "f.yaml", line: 3, column: 1)),
        ])
        #expect(out == """
            f.yaml:2:4: error: bad [e]
            b: \u{FFFD}\u{FFFD}
               ^
            f.yaml:1:4: error: crlf [e]
            a: 1
               ^
            f.yaml:3:1: error: last [e]
            c: x
            ^

            """)
    }
}
