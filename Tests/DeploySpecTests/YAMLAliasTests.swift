import DeployCore
@testable import DeploySpec
import Testing

/// Anchors, aliases (with their budget) and merge keys.
@Suite struct YAMLAliasTests {
    @Test func aliasesExpandToTheAnchoredNode() {
        let r = Y.load("""
        base: &args [--tp-size 8, --ep-size 8]
        one: *args
        name: &n dspark
        two: {args: *args, name: *n}
        """)
        #expect(r.diagnostics.isEmpty)
        let root = r.documents.first?.root
        #expect(Y.sequence(Y.value(root, "one"))?.items.count == 2)
        #expect(Y.scalar(Y.value(Y.value(root, "two"), "name"))?.value == "dspark")
        // The expanded node keeps the anchored node's location.
        #expect(Y.sequence(Y.value(root, "one"))?.location.line == 1)
    }

    @Test func undefinedAndRecursiveAliases() {
        let r = Y.load("a: *nope\nb: &self [*self]\nc: [1, *missing, 2]\nd: ok\n")
        #expect(r.diagnostics.map(\.id) == ["yaml-syntax", "yaml-syntax", "yaml-syntax"])
        #expect(r.diagnostics.map(Y.at) == ["1:4", "2:11", "3:8"])
        #expect(r.diagnostics[0].message.contains("'*nope'"))
        #expect(r.diagnostics[0].length == 5)
        let root = r.documents.first?.root
        #expect(Y.value(root, "a") == nil)
        #expect(Y.sequence(Y.value(root, "b"))?.items.isEmpty == true)
        #expect(Y.sequence(Y.value(root, "c"))?.items.count == 2)
        #expect(Y.scalar(Y.value(root, "d"))?.value == "ok")
    }

    @Test func anchorsDoNotCrossDocuments() {
        let r = Y.load("a: &x 1\n---\nb: *x\n")
        #expect(r.diagnostics.map(Y.at) == ["3:4"])
    }

    @Test func billionLaughsIsStopped() {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1..<10 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            text += "a\(i): &a\(i) [\(refs)]\n"
        }
        text += "---\nnext: document\n"
        let r = Y.load(text)
        #expect(r.diagnostics.map(\.id) == ["alias-limit"])
        #expect(r.diagnostics[0].message.contains("alias bomb"))
        #expect((r.diagnostics[0].location?.line ?? 0) > 1)
        // The bomb document is dropped; the following one is still loaded.
        #expect(r.documents.count == 1)
        #expect(r.documents.first?.index == 1)
        #expect(Y.scalar(Y.value(r.documents.first?.root, "next"))?.value == "document")
    }

    @Test func aliasDepthIsLimited() {
        var text = "a0: &a0 [x]\n"
        for i in 1...1100 { text += "a\(i): &a\(i) [*a\(i - 1)]\n" }
        let r = Y.load(text)
        // Deep alias chains hit the node budget (or the depth limit) instead of building a
        // tree too deep to walk or free recursively.
        #expect(["alias-limit", "yaml-syntax"].contains(r.diagnostics.first?.id ?? ""))
        #expect(r.diagnostics.count == 1)
    }

    @Test func mergeKeysAreExpanded() {
        let r = Y.load("""
        defaults: &d {replicas: 1, gpus: 8, image: base}
        extra: &e {gpus: 4, port: 30000}
        deploy:
          <<: [*d, *e]
          image: custom
          name: x
        """)
        #expect(r.diagnostics.isEmpty)
        let deploy = Y.value(r.documents.first?.root, "deploy")
        let keys = Y.mapping(deploy)?.pairs.compactMap { Y.scalar($0.key)?.value }
        #expect(keys == ["replicas", "gpus", "port", "image", "name"])
        #expect(Y.scalar(Y.value(deploy, "gpus"))?.value == "8")
        #expect(Y.scalar(Y.value(deploy, "image"))?.value == "custom")
    }

    @Test func badMergeValues() {
        let r = Y.load("a: {<<: 1, b: 2}\nc: {<<: [x], d: 3}\ne: {'<<': 4}\n")
        #expect(r.diagnostics.map(Y.at) == ["1:9", "2:9"])
        #expect(r.diagnostics.allSatisfy { $0.message.contains("merge key") })
        // A quoted '<<' is an ordinary key.
        #expect(Y.scalar(Y.value(Y.value(r.documents.first?.root, "e"), "<<"))?.value == "4")
    }

    @Test func duplicateKeyValueIsDiscardedEvenIfComplex() {
        let r = Y.load("a: [1, 2]\na:\n  nested: {deep: [x, y]}\nb: &z 3\nc: *z\n")
        #expect(r.diagnostics.map(\.id) == ["duplicate-key"])
        #expect(Y.sequence(Y.value(r.documents.first?.root, "a"))?.items.count == 2)
        #expect(Y.scalar(Y.value(r.documents.first?.root, "c"))?.value == "3")
    }
}
