import DeployTemplate
import Testing

@Suite struct TemplateTests {
    func parse(_ text: String) -> Template? {
        try? Template(parsing: text)
    }

    func parseError(_ text: String) -> TemplateError? {
        do {
            _ = try Template(parsing: text)
            return nil
        } catch {
            return error
        }
    }

    @Test func placeholdersWithAndWithoutSpaces() throws {
        let t = try Template(parsing: "--model-path {{model_path}} --port {{ port }}/{{_x1}}")
        #expect(t.placeholders.map(\.name) == ["model_path", "port", "_x1"])
        #expect(t.placeholders.map(\.offset) == [13, 35, 46])
        #expect(t.placeholders.map(\.length) == [14, 10, 7])
        #expect(t.names == ["model_path", "port", "_x1"])
    }

    @Test func offsetsCountUnicodeScalars() throws {
        let t = try Template(parsing: "模型-ü {{name}}")
        #expect(t.placeholders.first?.offset == 5)
    }

    @Test func literalTextIsUntouched() throws {
        let text = "$HOME ${X} $(id) `id` ~ * { } }} {x} \\n %s"
        let t = try Template(parsing: text)
        #expect(t.placeholders.isEmpty)
        #expect(t.render([:]) == .success(text))
    }

    @Test func renderSubstitutesVerbatim() throws {
        let t = try Template(parsing: "{{a}}-{{ b }}-{{a}}")
        #expect(t.render(["a": "x y", "b": "$(rm -rf /)"]) == .success("x y-$(rm -rf /)-x y"))
        // Values containing template syntax are not expanded again.
        #expect(t.render(["a": "{{b}}", "b": "B"]) == .success("{{b}}-B-{{b}}"))
    }

    @Test func unknownNameOnRender() throws {
        let t = try Template(parsing: "--host {{worker_ip}} --port {{port}}")
        guard case .failure(let e) = t.render(["worker_ip": "10.0.0.1"]) else {
            Issue.record("expected failure")
            return
        }
        #expect(e.kind == .unknownVariable)
        #expect(e.name == "port")
        #expect(e.offset == 28)
        #expect(e.message.contains("'port'"))
    }

    @Test func unclosedPlaceholder() {
        let e = parseError("--port {{port")
        #expect(e?.kind == .unclosedPlaceholder)
        #expect(e?.offset == 7)
        #expect(parseError("{{a}} {{")?.offset == 6)
        #expect(parseError("{{a}")?.kind == .unclosedPlaceholder)
    }

    @Test(arguments: ["{{}}", "{{ }}", "{{1abc}}", "{{a b}}", "{{a-b}}", "{{a.b}}", "{{{a}}}",
                      "{{a|upper}}", "{{ü}}", "{{\ta}}", "{{$a}}"])
    func invalidNames(_ text: String) {
        let e = parseError(text)
        #expect(e?.kind == .invalidName, "\(text)")
        #expect(e?.offset == 0)
    }

    @Test func singleBracesAreLiteral() throws {
        let t = try Template(parsing: "{a} }}{ {{x}}")
        #expect(t.placeholders.map(\.offset) == [8])
        #expect(t.render(["x": "1"]) == .success("{a} }}{ 1"))
    }

    @Test func emptyTemplate() throws {
        let t = try Template(parsing: "")
        #expect(t.placeholders.isEmpty && t.render([:]) == .success(""))
    }
}
