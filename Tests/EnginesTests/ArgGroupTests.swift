import DeployTemplate
import Testing
@testable import Engines

/// Catalog-free grouping of manifest entries and argv tokens.
@Suite struct ArgGroupTests {
    @Test func spaceAndEqualsForms() throws {
        let a = try #require(ArgGroup.parse(entry: "--tp-size 8", origin: 3))
        #expect(a.flag == "--tp-size" && a.values == ["8"] && !a.attached && a.origin == 3)
        #expect(a.flagOffset == 0 && a.valueOffsets == [10])
        let b = try #require(ArgGroup.parse(entry: "--tp-size=8", origin: 0))
        #expect(b.flag == "--tp-size" && b.values == ["8"] && b.attached && b.valueOffsets == [10])
        let c = try #require(ArgGroup.parse(entry: "  --trust-remote-code  ", origin: 0))
        #expect(c.flag == "--trust-remote-code" && c.values.isEmpty && c.flagOffset == 2)
        let d = try #require(ArgGroup.parse(entry: "--x=", origin: 0))
        #expect(d.values == [""] && d.attached)
    }

    @Test func remainderIsOneValue() throws {
        let j = try #require(ArgGroup.parse(entry: #"--json-model-override-args {"a": 1, "b": [1, 2]}"#, origin: 0))
        #expect(j.values == [#"{"a": 1, "b": [1, 2]}"#])
        let l = try #require(ArgGroup.parse(entry: "--served-model-name  a b   c", origin: 0))
        #expect(l.values == ["a b   c"] && l.valueOffsets == [21])
        let e = try #require(ArgGroup.parse(entry: "--k=a=b c", origin: 0))
        #expect(e.flag == "--k" && e.values == ["a=b c"])
    }

    @Test func wholeQuotesAreRemoved() throws {
        #expect(ArgGroup.parse(entry: "--chat-template 'a b'", origin: 0)?.values == ["a b"])
        #expect(ArgGroup.parse(entry: "--chat-template \"a b\"", origin: 0)?.valueOffsets == [17])
        #expect(ArgGroup.parse(entry: "--x 'a' 'b'", origin: 0)?.values == ["'a' 'b'"])
        #expect(ArgGroup.parse(entry: "--x=\"{}\"", origin: 0)?.values == ["{}"])
    }

    @Test func offsetsAreUnicodeScalars() throws {
        // Only ASCII whitespace separates (as in argv): U+00A0 makes the token no flag.
        #expect(ArgGroup.parse(entry: "\u{00A0}--served-model-name x", origin: 0) == nil)
        let g = try #require(ArgGroup.parse(entry: "--tëmp  1", origin: 0))
        #expect(g.flag == "--tëmp" && g.valueOffsets == [8])
        let h = try #require(ArgGroup.parse(entry: "--alias é=x ñ", origin: 0))
        #expect(h.valueOffsets == [8] && h.values == ["é=x ñ"])
        let k = try #require(ArgGroup.parse(entry: "--a=é --b", origin: 0))
        #expect(k.values == ["é --b"] && k.valueOffsets == [4])
    }

    @Test(arguments: ["8", "-1", "-0.5", "-.5", "-1e3", "", "   ", "--", "-", "model.gguf"])
    func nonFlagsAreNil(entry: String) {
        #expect(ArgGroup.parse(entry: entry, origin: 0) == nil)
    }

    @Test func negativeNumbersAreValues() {
        #expect(!ArgGroup.isFlagToken("-1") && !ArgGroup.isFlagToken("-2.5e-3"))
        #expect(ArgGroup.isFlagToken("-ngl") && ArgGroup.isFlagToken("-e") && ArgGroup.isFlagToken("-1x"))
        #expect(ArgGroup.isFlagToken("-O3"))
    }

    @Test func groupsArgvTokens() {
        let words = ["sglang", "serve", "--model-path", "{{model_path}}", "--port=30000", "--offset", "-1",
                     "--trust-remote-code", "--served-model-name", "a", "b"]
        var offset = 0
        let tokens = words.map { w -> (text: String, offset: Int) in
            defer { offset += w.count + 1 }
            return (w, offset)
        }
        let groups = ArgGroup.group(tokens: tokens, origin: { $0 * 10 })
        #expect(groups.map(\.flag) == ["--model-path", "--port", "--offset", "--trust-remote-code", "--served-model-name"])
        #expect(groups[0].values == ["{{model_path}}"] && groups[0].origin == 20)
        #expect(groups[1].values == ["30000"] && groups[1].attached && groups[1].valueOffsets == [tokens[4].offset + 7])
        #expect(groups[2].values == ["-1"])
        #expect(groups[3].values.isEmpty)
        #expect(groups[4].values == ["a", "b"] && groups[4].valueOffsets == [tokens[9].offset, tokens[10].offset])
        #expect(ArgGroup.group(tokens: tokens, origin: 7).allSatisfy { $0.origin == 7 })
    }

    @Test func groupsArgvSplitterTokens() throws {
        let toks = try ArgvSplitter.split("llama-server -m '/models/a b.gguf' -c 8192 -fa").get()
        let groups = ArgGroup.group(tokens: toks, origin: { $0 })
        #expect(groups.map(\.flag) == ["-m", "-c", "-fa"])
        #expect(groups[0].values == ["/models/a b.gguf"])
    }

    @Test func listValuesSplitLikeAShell() {
        #expect(ArgGroup.splitListValue("a  b 'c d' {{ x }}") == ["a", "b", "c d", "{{ x }}"])
        #expect(ArgGroup.splitListValue("a 'b") == ["a", "'b"])
        #expect(ArgGroup.splitListValue("   ").isEmpty)
    }
}
