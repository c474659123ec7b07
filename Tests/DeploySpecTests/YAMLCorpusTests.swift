import DeployCore
@testable import DeploySpec
import Foundation
import Testing

/// Replays the fuzz corpus (`Fuzz/corpus/loader`: hand-written seeds for every bad-input class
/// plus inputs the fuzzer found) through the loader: no crash, every diagnostic located
/// inside the file.
@Suite struct YAMLCorpusTests {
    static let corpus: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus/loader")

    static func files() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []
        return names.sorted().map { corpus.appendingPathComponent($0) }
    }

    @Test func corpusIsThere() {
        #expect(Self.files().count >= 25, "fuzz corpus missing at \(Self.corpus.path)")
    }

    @Test func everyCorpusFileLoadsWithLocatedDiagnostics() throws {
        var loaded = 0
        for url in Self.files() {
            let bytes = try [UInt8](Data(contentsOf: url))
            let (documents, diagnostics) = YAMLLoader.load(bytes, file: url.lastPathComponent)
            let lines = bytes.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            for d in diagnostics {
                let at = d.location
                #expect(at?.file == url.lastPathComponent, "\(url.lastPathComponent): \(d.message)")
                #expect((at?.line ?? 0) >= 1 && (at?.line ?? 0) <= lines + 1,
                        "\(url.lastPathComponent): line out of range: \(d.message)")
                #expect((at?.column ?? 0) >= 1, "\(url.lastPathComponent): \(d.message)")
                #expect(!d.message.isEmpty && !d.id.isEmpty)
            }
            for doc in documents { #expect(doc.location.line >= 1) }
            loaded += 1
        }
        #expect(loaded == Self.files().count)
    }

    @Test func seedsForEachBadInputClassReportTheRightThing() throws {
        let expectations: [(String, String)] = [
            ("seed-alias-bomb.yaml", "alias-limit"),
            ("seed-alias-undefined.yaml", "yaml-syntax"),
            ("seed-dup-keys.yaml", "duplicate-key"),
            ("seed-nonstring-keys.yaml", "invalid-type"),
            ("seed-tabs.yaml", "yaml-syntax"),
            ("seed-invalid-utf8.bin", "yaml-syntax"),
            ("seed-nul.bin", "yaml-syntax"),
            ("seed-utf16.bin", "yaml-syntax"),
            ("seed-deep-flow.yaml", "yaml-syntax"),
            ("seed-unterminated.yaml", "yaml-syntax"),
        ]
        for (name, id) in expectations {
            let bytes = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            let ids = YAMLLoader.load(bytes, file: name).diagnostics.map(\.id)
            #expect(ids.contains(id), "\(name): \(ids)")
        }
        for name in ["seed-manifest-3.yaml", "seed-backend.yaml", "seed-anchors-merge.yaml", "seed-bom.yaml",
                     "seed-crlf.yaml", "seed-odd-breaks.yaml", "seed-non-ascii.yaml", "seed-multi-doc.yaml",
                     "seed-empty.yaml", "seed-comments-only.yaml", "seed-block-scalars.yaml", "seed-tags.yaml"] {
            let bytes = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            let diagnostics = YAMLLoader.load(bytes, file: name).diagnostics
            #expect(diagnostics.isEmpty, "\(name): \(diagnostics.map(\.message))")
        }
    }
}
