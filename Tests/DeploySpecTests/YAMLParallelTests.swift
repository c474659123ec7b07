import DeployCore
@testable import DeploySpec
import Foundation
import Testing

/// Parsing a large file in parts side by side must give exactly what one pass gives: the same
/// documents (every node, key, style, tag and location), the same diagnostics in the same order.
@Suite struct YAMLParallelTests {
    /// A full, located dump of a load result.
    static func dump(_ r: (documents: [YAMLDocument], diagnostics: [Diagnostic])) -> String {
        var out = ""
        func node(_ n: YAMLNode, _ indent: String) {
            switch n {
            case .scalar(let s):
                out += "\(indent)S \(s.location.line):\(s.location.column)+\(s.contentOffset)/\(s.length) \(s.style) \(s.tag ?? "-") \(s.value.debugDescription)\n"
            case .sequence(let q):
                out += "\(indent)Q \(q.location.line):\(q.location.column)\n"
                q.items.forEach { node($0, indent + " ") }
            case .mapping(let m):
                out += "\(indent)M \(m.location.line):\(m.location.column) \(m.keys)\n"
                for p in m.pairs { node(p.key, indent + " k"); node(p.value, indent + " v") }
            }
        }
        for d in r.documents {
            out += "D\(d.index) \(d.location.line):\(d.location.column)\n"
            if let root = d.root { node(root, " ") }
        }
        for d in r.diagnostics {
            let at = d.location.map { "\($0.line):\($0.column)" } ?? "-"
            out += "! \(d.severity) \(d.id) \(at) \(d.length) \(d.message) \(d.notes)\n"
        }
        return out
    }

    static func load(_ text: String, threads: Int) -> (documents: [YAMLDocument], diagnostics: [Diagnostic], inParts: Bool) {
        Array(text.utf8).withUnsafeBufferPointer { raw in
            let r = YAMLLoader.loadEach(raw, file: "big.yaml", threads: threads) { $0 }
            var documents = Array(r.chunks.joined())
            if r.inParts { for i in documents.indices { documents[i].index = i } }
            return (documents, r.diagnostics, r.inParts)
        }
    }

    /// Ordinary deployments (about 300 bytes each), enough of them to be cut into parts.
    static func filler(_ count: Int, from first: Int = 0) -> String {
        (first..<(first + count)).map { i in
            """
            ---
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: d\(i), labels: {team: "a b", "q": 'x'}}
            spec:
              model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
              args:
                - --tp-size \(i % 8 + 1)
                - "--mem-fraction-static 0.8\(i % 10)"
              command: |
                --model-path {{model_path}}
                  --port {{port}}
              note: >-
                folded
                text \(i)
              env: {PYPI_PACKAGES_INSTALL: "-U distro"}  # comment

            """
        }.joined()
    }

    /// Checks one input: parts or not as expected, and the same result as one pass.
    static func check(_ text: String, inParts expected: Bool, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let one = load(text, threads: 1)
        let many = load(text, threads: 4)
        #expect(one.inParts == false, sourceLocation: sourceLocation)
        #expect(many.inParts == expected, sourceLocation: sourceLocation)
        let a = dump((one.documents, one.diagnostics)), b = dump((many.documents, many.diagnostics))
        #expect(a == b, sourceLocation: sourceLocation)
        #expect(!one.documents.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func aLargeManifestIsCutIntoPartsAndLoadsTheSame() {
        let text = Self.filler(400)
        #expect(text.utf8.count > YAMLParallel.minimumBytes)
        Self.check(text, inParts: true)
        let parts = Array(text.utf8).withUnsafeBufferPointer { YAMLParallel.parts(of: $0, threads: 4) }
        #expect((parts?.count ?? 0) >= 8)
        // Each cut is a document start.
        let bytes = Array(text.utf8)
        for p in parts ?? [] where p.start > 0 { #expect(Array(bytes[p.start..<(p.start + 4)]) == Array("---\n".utf8)) }
    }

    @Test func withoutExplicitFirstDocumentStartCommentsAndEmptyDocuments() {
        let text = "# head comment\napiVersion: dsdeploy/v1\nkind: Backend\n" + Self.filler(150)
            + "---\n---\n# only a comment\n---   # marker with a comment\nkey: value\n...\n" + Self.filler(150, from: 150)
        Self.check(text, inParts: true)
    }

    @Test func crlfLinesAreCutToo() {
        Self.check(Self.filler(300).replacingOccurrences(of: "\n", with: "\r\n"), inParts: true)
    }

    @Test func diagnosticsKeepTheirOrderAndLocations() {
        // Duplicate keys and an undefined-anchor-free but odd document late in the file.
        let text = Self.filler(200) + "---\na: 1\na: 2\nb: {c: 1, c: 2}\n" + Self.filler(200, from: 200) + "---\nz: [1, 2\n  , 3]\nz: 9\n"
        let r = Self.load(text, threads: 4)
        #expect(r.diagnostics.count == 3)
        Self.check(text, inParts: true)
    }

    @Test func aBlockScalarEndsAtADocumentStart() {
        let text = Self.filler(200) + "---\nscript: |\n  line\n---\nnext: doc\n" + Self.filler(200, from: 200)
        Self.check(text, inParts: true)
    }

    // Each of these makes one part depend on what came before it, or is an error where libyaml
    // stops the stream: the loader must notice and parse the whole input in one pass.

    @Test func aDirectiveMeansOnePass() {
        Self.check(Self.filler(200) + "...\n%YAML 1.2\n---\nx: 1\n" + Self.filler(200, from: 200), inParts: false)
        Self.check("%TAG !e! tag:example.com,2000:\n---\nx: !e!foo 1\n" + Self.filler(300), inParts: false)
    }

    @Test func anAliasMeansOnePass() {
        // Aliases are budgeted per file, so a part cannot judge them alone.
        Self.check(Self.filler(200) + "---\nbase: &b {x: 1}\nuse: *b\n" + Self.filler(200, from: 200), inParts: false)
    }

    @Test func aSyntaxErrorMeansOnePassAndEndsTheStreamThere() {
        let text = Self.filler(200) + "---\nbad: [1, 2\n" + Self.filler(200, from: 200)
        Self.check(text, inParts: false)
        let r = Self.load(text, threads: 4)
        #expect(r.diagnostics.contains { $0.id == "yaml-syntax" })
        #expect(r.documents.count == 200)
    }

    @Test func aQuotedScalarOrFlowCollectionOpenAcrossADocumentStartIsTheSameError() {
        Self.check(Self.filler(200) + "---\nq: \"open\n---\nstill\"\n" + Self.filler(200, from: 200), inParts: false)
        Self.check(Self.filler(200) + "---\nf: [a,\n--- ]\n" + Self.filler(200, from: 200), inParts: false)
    }

    @Test func oddLineBreaksMeanOnePass() {
        Self.check(Self.filler(300) + "---\nx: \"a\rb\"\n", inParts: false)
        Self.check(Self.filler(300) + "---\nx: a\u{2028}b\n", inParts: false)
    }

    @Test func smallInputsAndOneThreadAreOnePass() {
        Self.check(Self.filler(20), inParts: false)
        let text = Self.filler(300)
        let parts = Array(text.utf8).withUnsafeBufferPointer { YAMLParallel.parts(of: $0, threads: 1) }
        #expect(parts == nil)
    }
}
