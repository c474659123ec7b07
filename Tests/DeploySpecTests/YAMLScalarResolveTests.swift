import DeployCore
@testable import DeploySpec
import Testing

/// YAML 1.2 core-schema resolution (`YAMLScalar.resolved`).
@Suite struct YAMLScalarResolveTests {
    func plain(_ text: String) -> YAMLScalar.Resolved {
        YAMLScalar.resolvePlain(text)
    }

    func scalar(_ yaml: String) -> YAMLScalar? {
        Y.scalar(Y.value(Y.load("v: \(yaml)\n").documents.first?.root, "v"))
    }

    @Test(arguments: ["", "~", "null", "Null", "NULL"])
    func nulls(_ s: String) { #expect(plain(s) == .null) }

    @Test func bools() {
        for s in ["true", "True", "TRUE"] { #expect(plain(s) == .bool(true)) }
        for s in ["false", "False", "FALSE"] { #expect(plain(s) == .bool(false)) }
        // YAML 1.1 booleans are strings in 1.2.
        for s in ["yes", "no", "on", "off", "y", "n", "tRUE"] { #expect(plain(s) == .string(s)) }
    }

    @Test func ints() {
        #expect(plain("0") == .int(0))
        #expect(plain("8") == .int(8))
        #expect(plain("-12") == .int(-12))
        #expect(plain("+30000") == .int(30000))
        #expect(plain("007") == .int(7))
        #expect(plain("0x1F") == .int(31))
        #expect(plain("0o17") == .int(15))
        #expect(plain("9223372036854775807") == .int(Int64.max))
        #expect(plain("99999999999999999999") == .float(1e20))
        #expect(plain("0xFFFFFFFFFFFFFFFF") == .float(Double(UInt64.max)))
    }

    @Test func floats() {
        #expect(plain("0.85") == .float(0.85))
        #expect(plain("-1.5e3") == .float(-1500))
        #expect(plain("1e6") == .float(1e6))
        #expect(plain(".5") == .float(0.5))
        #expect(plain("1.") == .float(1))
        #expect(plain(".inf") == .float(.infinity))
        #expect(plain("-.Inf") == .float(-.infinity))
        #expect(plain("+.INF") == .float(.infinity))
        if case .float(let nan) = plain(".NaN") { #expect(nan.isNaN) } else { Issue.record("nan") }
    }

    @Test func strings() {
        for s in ["0.5.23", "v1.0", "1_000", "0x", "0o8", "0b101", "-", ".", "1e", "inf", "nan",
                  "-.nan", "1,000", "12abc", "+", "0x1G", "e5", "sglang", "--tp-size 8", "1.5.", "08:30"] {
            #expect(plain(s) == .string(s), "\(s)")
        }
    }

    @Test func quotedAndBlockScalarsAreStrings() {
        #expect(scalar("\"8\"")?.resolved == .string("8"))
        #expect(scalar("'true'")?.resolved == .string("true"))
        #expect(scalar("''")?.resolved == .string(""))
        #expect(scalar("|\n  8\n")?.resolved == .string("8\n"))
        #expect(scalar("8")?.resolved == .int(8))
        #expect(scalar("")?.resolved == .null)
    }

    @Test func explicitTags() {
        #expect(scalar("!!str 8")?.resolved == .string("8"))
        #expect(scalar("!!str true")?.resolved == .string("true"))
        #expect(scalar("!!int \"42\"")?.resolved == .int(42))
        #expect(scalar("!!int abc")?.resolved == .string("abc"))
        #expect(scalar("!!float 3")?.resolved == .float(3))
        #expect(scalar("!!bool 'true'")?.resolved == .bool(true))
        #expect(scalar("!!null ''")?.resolved == .null)
        #expect(scalar("! 8")?.resolved == .string("8"))
        #expect(scalar("!custom 8")?.resolved == .string("8"))
        #expect(scalar("!<tag:yaml.org,2002:int> 5")?.resolved == .int(5))
    }

    @Test func kindDescriptions() {
        #expect(scalar("8")?.kindDescription == "a number")
        #expect(scalar("x")?.kindDescription == "a string")
        #expect(scalar("true")?.kindDescription == "a boolean")
        #expect(scalar("~")?.kindDescription == "null")
    }
}
