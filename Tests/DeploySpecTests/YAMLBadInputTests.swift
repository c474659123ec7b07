import DeployCore
@testable import DeploySpec
import Foundation
import Testing

/// Every class of bad input: no crash, no hang, always a located diagnostic.
@Suite struct YAMLBadInputTests {
    /// There is at least one diagnostic, and every one is located at line >= 1, column >= 1.
    func located(_ r: (documents: [YAMLDocument], diagnostics: [Diagnostic])) -> Bool {
        !r.diagnostics.isEmpty
            && r.diagnostics.allSatisfy { ($0.location?.line ?? 0) >= 1 && ($0.location?.column ?? 0) >= 1 }
    }

    @Test func syntaxErrorKeepsEarlierDocuments() {
        let r = Y.load("kind: A\n---\nkind: B\n---\nkey: [unclosed\nother: 1\n")
        #expect(r.documents.count == 2)
        #expect(r.diagnostics.count == 1)
        let d = r.diagnostics[0]
        #expect(d.id == "yaml-syntax" && d.severity == .error)
        #expect(d.location?.file == "t.yaml")
        #expect(Y.at(d) == "6:6")
        #expect(d.message.contains("flow sequence"))
    }

    @Test func syntaxErrorWithContextNote() {
        let r = Y.load("a: 1\nb: \"unterminated\n")
        #expect(r.diagnostics.count == 1)
        #expect(r.diagnostics[0].message.contains("quoted scalar"))
        #expect(r.diagnostics[0].notes.first?.contains("line 2, column 4") == true)
    }

    @Test func duplicateKeysKeepFirstAndContinue() {
        let r = Y.load("name: a\nport: 1\nname: b\nport: 2\nextra: yes\n")
        #expect(r.diagnostics.map(\.id) == ["duplicate-key", "duplicate-key"])
        #expect(r.diagnostics.map(Y.at) == ["3:1", "4:1"])
        #expect(r.diagnostics[0].notes == ["'name' was first defined at line 1, column 1"])
        #expect(r.diagnostics[0].length == 4)
        let root = r.documents.first?.root
        #expect(Y.scalar(Y.value(root, "name"))?.value == "a")
        #expect(Y.scalar(Y.value(root, "port"))?.value == "1")
        #expect(Y.scalar(Y.value(root, "extra"))?.value == "yes")
        #expect(Y.mapping(root)?.pairs.count == 3)
    }

    @Test func duplicateKeysInLargeMapping() {
        var text = (0..<40).map { "k\($0): \($0)" }.joined(separator: "\n")
        text += "\nk7: again\nk39: again\n"
        let r = Y.load(text)
        #expect(r.diagnostics.map(Y.at) == ["41:1", "42:1"])
        #expect(Y.scalar(Y.value(r.documents.first?.root, "k7"))?.value == "7")
    }

    @Test func nonStringKeysAreInvalidType() {
        let r = Y.load("? [a, b]\n: 1\n{x: 1}: 2\n~: 3\n?\n: 4\nok: 5\n8080: port\n")
        #expect(r.diagnostics.map(\.id) == ["invalid-type", "invalid-type", "invalid-type", "invalid-type"])
        #expect(r.diagnostics.map(Y.at) == ["1:3", "3:1", "4:1", "5:2"])
        #expect(r.diagnostics[0].message.contains("a list"))
        let pairs = Y.mapping(r.documents.first?.root)?.pairs ?? []
        #expect(pairs.compactMap { Y.scalar($0.key)?.value } == ["ok", "8080"])
    }

    @Test func tabsInIndentation() {
        let r = Y.load("spec:\n\tname: x\n")
        #expect(r.diagnostics.count == 1)
        #expect(r.diagnostics[0].id == "yaml-syntax")
        #expect(Y.at(r.diagnostics[0]) == "2:1")
        #expect(r.diagnostics[0].message.contains("tab"))
    }

    @Test func invalidUTF8AndControlBytes() {
        let cases: [([UInt8], String)] = [
            (Array("a: 1\nb: ".utf8) + [0xFF, 0x0A], "2:4"),
            (Array("a: 1\nb: x".utf8) + [0x00], "2:5"),
            (Array("aé: ".utf8) + [0xC3], "1:5"),
            ([0xFF, 0xFE, 0x61, 0x00], "1:1"),
            (Array("k: ".utf8) + [0x07, 0x0A], "1:4"),
        ]
        for (bytes, at) in cases {
            let r = Y.bytes(bytes)
            #expect(r.diagnostics.count == 1)
            #expect(r.diagnostics.first?.id == "yaml-syntax")
            #expect(r.diagnostics.first.map(Y.at) == at, "\(bytes)")
        }
        #expect(Y.bytes([0xFF]).diagnostics.first?.message.contains("UTF-8") == true)
    }

    @Test func binaryJunkNeverCrashes() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(state % 200) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes.append(UInt8(truncatingIfNeeded: state >> 56))
            }
            // Random bytes are invalid UTF-8 or invalid YAML; the empty input is a valid empty stream.
            let r = Y.bytes(bytes)
            #expect(bytes.isEmpty ? r.diagnostics.isEmpty : located(r), "\(bytes): \(r.diagnostics)")
        }
    }

    @Test func deepFlowNestingIsLimited() {
        let r = Y.load(String(repeating: "[", count: 100_000))
        #expect(r.documents.isEmpty)
        #expect(r.diagnostics.count == 1)
        #expect(r.diagnostics[0].message.contains("nesting"))
        #expect(located(r))
        let ok = Y.load(String(repeating: "[", count: 500) + String(repeating: "]", count: 500))
        #expect(ok.diagnostics.isEmpty && ok.documents.count == 1)
    }

    @Test func deepBlockNestingIsLimited() {
        var text = ""
        for i in 0..<1500 { text += String(repeating: " ", count: i) + "k:\n" }
        let r = Y.load(text)
        #expect(r.diagnostics.count == 1 && located(r))
        #expect(r.diagnostics.first?.message.contains("nesting") == true)
    }

    @Test func unclosedThingsAtEndOfFile() {
        // "? " is complete YAML, but its key is null, which a manifest may not have.
        for text in ["a: {b: 1", "a: 'x", "- [1, 2", "&", "*", "? ", "%YAML 1.1", "a: *"] {
            let r = Y.load(text)
            #expect(located(r), "\(text): \(r.diagnostics)")
        }
        // These look unfinished but are complete YAML (libyaml and PyYAML accept them): an empty
        // block scalar, an empty node with the non-specific tag.
        for text in ["a: |\n", "!"] {
            let r = Y.load(text)
            #expect(r.diagnostics.isEmpty && r.documents.count == 1, "\(text): \(r.diagnostics)")
        }
    }

    @Test func hugeInputWorks() {
        var text = "items:\n"
        let line = "  - {name: replica-0001, args: [--tp-size 8, --ep-size 8], port: 30000}\n"
        text.reserveCapacity(8_000_000)
        while text.utf8.count < 8_000_000 { text += line }
        let r = Y.load(text)
        #expect(r.diagnostics.isEmpty)
        #expect(Y.sequence(Y.value(r.documents.first?.root, "items"))?.items.count == (8_000_000 - 7) / line.utf8.count + 1)
    }
}

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
