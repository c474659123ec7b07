import DeployCore
@testable import DeploySpec
import Testing

/// Test helpers shared by the YAML test files.
enum Y {
    static func load(_ text: String) -> (documents: [YAMLDocument], diagnostics: [Diagnostic]) {
        YAMLLoader.load(text, file: "t.yaml")
    }

    static func bytes(_ b: [UInt8]) -> (documents: [YAMLDocument], diagnostics: [Diagnostic]) {
        YAMLLoader.load(b, file: "t.yaml")
    }

    static func mapping(_ node: YAMLNode?) -> YAMLMapping? {
        if case .mapping(let m)? = node { return m }
        return nil
    }

    static func sequence(_ node: YAMLNode?) -> YAMLSequence? {
        if case .sequence(let s)? = node { return s }
        return nil
    }

    static func scalar(_ node: YAMLNode?) -> YAMLScalar? {
        if case .scalar(let s)? = node { return s }
        return nil
    }

    static func value(_ node: YAMLNode?, _ key: String) -> YAMLNode? {
        mapping(node)?.pairs.first { scalar($0.key)?.value == key }?.value
    }

    static func key(_ node: YAMLNode?, _ key: String) -> YAMLScalar? {
        mapping(node)?.pairs.lazy.compactMap { scalar($0.key) }.first { $0.value == key }
    }

    static func at(_ d: Diagnostic) -> String {
        guard let l = d.location else { return "nil" }
        return "\(l.line):\(l.column)"
    }

    static func pos(_ s: YAMLScalar?) -> String {
        guard let s else { return "nil" }
        return "\(s.location.line):\(s.location.column)"
    }
}

@Suite struct YAMLLoaderLocationTests {
    @Test func keysValuesAndItems() {
        let text = """
        apiVersion: dsdeploy/v1
        metadata: {name: "dspark", tag: 'x y'}
        spec:
          args:
            - --tp-size 8
            - "--quoted"
          ünïcödé: välue
          env: {Ключ: значение}
        """
        let r = Y.load(text)
        #expect(r.diagnostics.isEmpty)
        let root = r.documents.first?.root
        #expect(Y.pos(Y.key(root, "apiVersion")) == "1:1")
        #expect(Y.pos(Y.scalar(Y.value(root, "apiVersion"))) == "1:13")
        let meta = Y.value(root, "metadata")
        #expect(Y.mapping(meta)?.location.column == 11)
        let name = Y.scalar(Y.value(meta, "name"))
        #expect(Y.pos(name) == "2:18")
        #expect(name?.style == .doubleQuoted)
        #expect(name?.contentOffset == 1)
        #expect(name?.length == 8)
        let tag = Y.scalar(Y.value(meta, "tag"))
        #expect(tag?.value == "x y" && tag?.style == .singleQuoted && tag?.length == 5)
        let spec = Y.value(root, "spec")
        let args = Y.sequence(Y.value(spec, "args"))
        #expect(args?.items.count == 2)
        #expect(Y.pos(Y.scalar(args?.items.first)) == "5:7")
        #expect(Y.scalar(args?.items.first)?.length == 11)
        #expect(Y.scalar(args?.items.first)?.contentOffset == 0)
        #expect(Y.pos(Y.scalar(args?.items.last)) == "6:7")
        // Columns count Unicode scalars, not bytes.
        #expect(Y.pos(Y.key(spec, "ünïcödé")) == "7:3")
        let v = Y.scalar(Y.value(spec, "ünïcödé"))
        #expect(Y.pos(v) == "7:12")
        #expect(v?.length == 5)
        let env = Y.value(spec, "env")
        #expect(Y.pos(Y.scalar(Y.value(env, "Ключ"))) == "8:15")
    }

    @Test func multiLineScalarLengthIsFirstLine() {
        let r = Y.load("a: plain\n  continued\nb: |\n  line one\n  line two\nc: \"héllo\n  wörld\"\n")
        #expect(r.diagnostics.isEmpty)
        let root = r.documents.first?.root
        let a = Y.scalar(Y.value(root, "a"))
        #expect(a?.value == "plain continued" && a?.length == 5)
        let b = Y.scalar(Y.value(root, "b"))
        #expect(b?.value == "line one\nline two\n" && b?.style == .literal && Y.pos(b) == "3:4")
        #expect(b?.length == 1)
        let c = Y.scalar(Y.value(root, "c"))
        #expect(c?.length == 6 && Y.pos(c) == "6:4")
    }

    @Test func crlfAndOddLineBreaks() {
        let crlf = Y.load("a: 1\r\nb: 2\r\n")
        #expect(Y.pos(Y.scalar(Y.value(crlf.documents.first?.root, "b"))) == "2:4")
        // U+2028 is a line break for libyaml but not for editors: locations follow LF lines.
        let odd = Y.load("a: \"x\u{2028}y\"\nb: 2\n")
        #expect(Y.pos(Y.scalar(Y.value(odd.documents.first?.root, "b"))) == "2:4")
        let cr = Y.load("a: 1\rb: 2\nc: 3\n")
        #expect(Y.pos(Y.scalar(Y.value(cr.documents.first?.root, "c"))) == "2:4")
    }

    @Test func multiDocumentStream() {
        let r = Y.load("""
        # leading comment
        kind: A
        ---
        kind: B
        ---
        ---
        kind: C
        ...
        """)
        #expect(r.diagnostics.isEmpty)
        #expect(r.documents.map(\.index) == [0, 1, 2, 3])
        #expect(r.documents.map { Y.scalar(Y.value($0.root, "kind"))?.value } == ["A", "B", nil, "C"])
        #expect(r.documents[2].root == nil)
        #expect(r.documents.map(\.location.line) == [2, 3, 5, 6])
    }

    @Test func emptyInputs() {
        for text in ["", "\n\n", "# only a comment\n", "\u{FEFF}"] {
            let r = Y.load(text)
            #expect(r.documents.isEmpty && r.diagnostics.isEmpty, "\(text.debugDescription)")
        }
        #expect(Y.bytes([]).documents.isEmpty)
    }

    @Test func byteOrderMarkIsSkipped() {
        let r = Y.load("\u{FEFF}kind: Backend\nname: x\n")
        #expect(r.diagnostics.isEmpty)
        #expect(Y.pos(Y.key(r.documents.first?.root, "kind")) == "1:1")
        #expect(Y.pos(Y.scalar(Y.value(r.documents.first?.root, "name"))) == "2:7")
    }

    @Test func tagsAreKept() {
        let r = Y.load("a: !!str 8\nb: !!int \"8\"\nc: !custom x\n")
        let root = r.documents.first?.root
        #expect(Y.scalar(Y.value(root, "a"))?.tag == "tag:yaml.org,2002:str")
        #expect(Y.scalar(Y.value(root, "a"))?.resolved == .string("8"))
        #expect(Y.scalar(Y.value(root, "b"))?.resolved == .int(8))
        #expect(Y.scalar(Y.value(root, "c"))?.tag == "!custom")
        #expect(Y.scalar(Y.value(root, "c"))?.resolved == .string("x"))
    }
}
