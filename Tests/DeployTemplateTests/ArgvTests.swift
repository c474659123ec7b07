import DeployTemplate
import Testing

@Suite struct ArgvSplitterTests {
    func words(_ command: String) -> [String]? {
        try? ArgvSplitter.split(command).get().map(\.text)
    }

    func offsets(_ command: String) -> [Int]? {
        try? ArgvSplitter.split(command).get().map(\.offset)
    }

    @Test func plainWords() {
        #expect(words("sglang serve  --tp-size\t8\n--trust-remote-code") ==
                ["sglang", "serve", "--tp-size", "8", "--trust-remote-code"])
        #expect(offsets("a  bc\td") == [0, 3, 6])
        #expect(words("") == [])
        #expect(words("   \n\t ") == [])
    }

    @Test func quoting() {
        #expect(words(#"'a b' "c d" e\ f"#) == ["a b", "c d", "e f"])
        #expect(words(#"--x='1 2'"y"z"#) == ["--x=1 2yz"])
        #expect(words(#"'' """#) == ["", ""])
        #expect(words(#""a\"b\\c\$d\`e\nf""#) == [#"a"b\c$d`e\nf"#])
        #expect(words(#"'no \escapes "here"'"#) == [#"no \escapes "here""#])
        #expect(words("a\\\nb c") == ["ab", "c"])
        #expect(words("\"x\\\ny\"") == ["xy"])
        #expect(offsets(#"  "a b" 'c'"#) == [2, 8])
    }

    @Test func nothingIsExpanded() {
        #expect(words("$HOME ${X} $(id) `id` ~ *.yaml a;b a|b a&&b >out <in") ==
                ["$HOME", "${X}", "$(id)", "`id`", "~", "*.yaml", "a;b", "a|b", "a&&b", ">out", "<in"])
    }

    @Test func placeholdersWithSpacesStayOneWord() {
        #expect(words("--port {{ port }} --host {{worker_ip}}") ==
                ["--port", "{{ port }}", "--host", "{{worker_ip}}"])
        #expect(words("--x={{ a }}:{{ b }}") == ["--x={{ a }}:{{ b }}"])
        // An unclosed "{{" splits normally; Template then reports it.
        #expect(words("{{ a") == ["{{", "a"])
    }

    @Test func unterminatedQuotes() {
        for (command, offset) in [("a 'b c", 2), (#"x "y"#, 2), (#"'ok' "no"#, 5)] {
            guard case .failure(let e) = ArgvSplitter.split(command) else {
                Issue.record("expected failure for \(command)")
                continue
            }
            #expect(e.kind == .unterminatedQuote)
            #expect(e.offset == offset)
        }
        guard case .failure(let e) = ArgvSplitter.split("a b\\") else {
            Issue.record("expected failure")
            return
        }
        #expect(e.kind == .danglingBackslash && e.offset == 3)
    }

    @Test func sourceOffsetsAccountForQuotes() throws {
        let tokens = try ArgvSplitter.split(#"run "--x={{a}}" --y={{b}}"#).get()
        let t1 = try Template(parsing: tokens[1].text)
        #expect(tokens[1].sourceOffset(of: t1.placeholders[0].offset) == 9)
        let t2 = try Template(parsing: tokens[2].text)
        #expect(tokens[2].sourceOffset(of: t2.placeholders[0].offset) == 20)
    }
}

@Suite struct RenderArgvTests {
    let command = "--model-path {{model_path}} --host {{worker_ip}} --port {{ port }}"

    @Test func rendersEachTokenSeparately() {
        let argv = renderArgv(command, values: ["model_path": "/models/ds v4", "worker_ip": "0.0.0.0", "port": "30000"])
        #expect(argv == .success(["--model-path", "/models/ds v4", "--host", "0.0.0.0", "--port", "30000"]))
    }

    @Test(arguments: ["x; rm -rf /", "$(rm -rf /)", "`reboot`", "a' 'b", "a\" \"b", "\\\"; id", "--evil --flags",
                      "{{port}}", "line1\nline2", "", "*", "~root", "a\u{0}b"])
    func injectionAttemptsStayOneArgument(_ value: String) {
        let argv = renderArgv(command, values: ["model_path": value, "worker_ip": "h", "port": "1"])
        #expect(argv == .success(["--model-path", value, "--host", "h", "--port", "1"]))
    }

    @Test func valuesInsideQuotedTokens() {
        let argv = renderArgv(#"--name="served {{name}}" '{{name}}'"#, values: ["name": "a' b \"c"])
        #expect(argv == .success(["--name=served a' b \"c", "a' b \"c"]))
    }

    @Test func errorsCarryCommandOffsets() {
        guard case .failure(let unknown) = renderArgv(#"serve "--x={{nope}}""#, values: [:]) else {
            Issue.record("expected failure")
            return
        }
        #expect(unknown.kind == .unknownVariable && unknown.name == "nope" && unknown.offset == 11)
        guard case .failure(let bad) = renderArgv("serve --x={{ 1bad }}", values: [:]) else {
            Issue.record("expected failure")
            return
        }
        #expect(bad.kind == .invalidName && bad.offset == 10)
        guard case .failure(let quote) = renderArgv("serve 'oops", values: [:]) else {
            Issue.record("expected failure")
            return
        }
        #expect(quote.kind == .unterminatedQuote && quote.offset == 6)
    }
}
