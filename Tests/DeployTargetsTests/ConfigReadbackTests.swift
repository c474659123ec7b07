import DeployKit
@testable import DeployTargets
import Engines
import Testing

/// A `/server_info` document like SGLang 0.5.23 answers: every ServerArgs field at its catalog
/// default (null without one), the launch's flags applied, plus `version`.
func sampleServerInfo(_ catalog: FlagCatalog, flags: FlagSet, overrides: [String: JSONValue] = [:]) -> JSONValue {
    var info: [String: JSONValue] = [:]
    for spec in catalog.flags where info[spec.field] == nil || spec.defaultValue != nil {
        info[spec.field] = spec.defaultValue ?? .null
    }
    for (name, value) in flags.values {
        guard let spec = catalog.spec(named: name) else { continue }
        info[spec.field] = value.jsonValue
    }
    info["version"] = .string(catalog.version)
    info["model_path"] = .string("Qwen/Qwen3-8B")
    for (k, v) in overrides { info[k] = v }
    return .object(info)
}

@Suite struct ConfigReadbackTests {
    let catalog: FlagCatalog
    let flags = FlagSet([
        "--tp-size": .int(8), "--mem-fraction-static": .float(0.85), "--trust-remote-code": .bool(true),
        "--speculative-algorithm": .string("EAGLE3"), "--attention-backend": .string("fa3"),
        "--json-model-override-args": .json(.object(["rope_scaling": .object(["factor": .number(4), "type": .string("yarn")])])),
        "--allowed-media-domains": .list([.string("a.example"), .string("b.example")]),
        "--api-key": .string("sk-test"), "--context-length": .int(131_072),
    ])

    init() throws { catalog = try CatalogStore.catalog(.sglang, version: "0.5.23") }

    /// One rule for every engine: secrets by whole words, so token *counts* are still compared.
    @Test func sensitiveFieldsAreWholeWords() {
        for f in ["api_key", "hf_token", "ssl_keyfile", "db_password", "client_secret", "--api-key", "--hf-token"] {
            #expect(ConfigReadback.isSensitive(f), "\(f)")
        }
        for f in ["max_total_tokens", "max_prefill_tokens", "tokenizer_path", "skip_tokenizer_init", "key_dtype"] {
            #expect(!ConfigReadback.isSensitive(f), "\(f)")
        }
        let drift = ConfigReadback.compareSGLang(flags: FlagSet(["--max-total-tokens": .int(4096)]), catalog: nil,
                                                 serverInfo: .object(["max_total_tokens": .number(8192)]))
        #expect(drift.map(\.flag) == ["--max-total-tokens"], "a token count is compared")
    }

    @Test func theIntendedConfigurationHasNoDrift() {
        let info = sampleServerInfo(catalog, flags: flags)
        #expect(ConfigReadback.compareSGLang(flags: flags, catalog: catalog, serverInfo: info).isEmpty)
        #expect(ConfigReadback.compare(engine: .sglang, version: "0.5.23", flags: flags, reported: info).isEmpty)
    }

    @Test func changedValuesAreDrift() {
        let info = sampleServerInfo(catalog, flags: flags, overrides: [
            "tp_size": .number(4), "mem_fraction_static": .number(0.8), "trust_remote_code": .bool(false),
        ])
        let drift = ConfigReadback.compareSGLang(flags: flags, catalog: catalog, serverInfo: info)
        #expect(drift.map(\.flag) == ["--mem-fraction-static", "--tp-size", "--trust-remote-code"])
        let tp = drift.first { $0.flag == "--tp-size" }
        #expect(tp?.kind == .changed)
        #expect(tp?.before == "8")
        #expect(tp?.after == "4")
        #expect(tp?.effective == true)
    }

    @Test func representationDifferencesAreNotDrift() {
        let info = sampleServerInfo(catalog, flags: flags, overrides: [
            "speculative_algorithm": .string("eagle3"),  // case-insensitive valid values
            "json_model_override_args": .string(#"{ "rope_scaling": {"type": "yarn", "factor": 4.0} }"#),
            "mem_fraction_static": .number(0.8500000001),
            "context_length": .number(131_072),
        ])
        #expect(ConfigReadback.compareSGLang(flags: flags, catalog: catalog, serverInfo: info).isEmpty)
    }

    @Test func caseMattersForExactChoices() {
        let info = sampleServerInfo(catalog, flags: flags, overrides: ["attention_backend": .string("FA3")])
        #expect(ConfigReadback.compareSGLang(flags: flags, catalog: catalog, serverInfo: info).map(\.flag)
                == ["--attention-backend"])
    }

    @Test func listsCompareElementWiseAndJSONStructurally() {
        let info = sampleServerInfo(catalog, flags: flags, overrides: [
            "allowed_media_domains": .array([.string("b.example"), .string("a.example")]),
            "json_model_override_args": .string(#"{"rope_scaling": {"type": "linear", "factor": 4}}"#),
        ])
        let drift = ConfigReadback.compareSGLang(flags: flags, catalog: catalog, serverInfo: info)
        #expect(drift.map(\.flag) == ["--allowed-media-domains", "--json-model-override-args"])
        #expect(drift.first?.after == #"["b.example","a.example"]"#)
    }

    @Test func unreportedFieldsAndKeysAreNotCompared() {
        var info = sampleServerInfo(catalog, flags: flags, overrides: ["api_key": .string("other")])
        if case .object(var o) = info {
            o["tp_size"] = nil
            info = .object(o)
        }
        #expect(ConfigReadback.compareSGLang(flags: flags, catalog: catalog, serverInfo: info).isEmpty)
    }

    @Test func valueMatching() {
        #expect(ConfigReadback.matches(.bool(false), .null))
        #expect(!ConfigReadback.matches(.bool(true), .null))
        #expect(ConfigReadback.matches(.int(8), .number(8)))
        #expect(!ConfigReadback.matches(.int(8), .bool(true)))
        #expect(ConfigReadback.matches(.float(0.8), .number(Double(Float(0.8)))))
        #expect(ConfigReadback.matches(.string("x"), .array([.string("x")])))
        #expect(ConfigReadback.matches(.templated("{{port}}"), .number(1)))
    }

    @Test func parsedJSONKeepsBooleansAndNumbersApart() {
        let j = ConfigReadback.parseJSON(Array(#"{"a": 1, "b": true, "c": 0.5, "d": null, "e": [0]}"#.utf8))
        #expect(j == .object(["a": .number(1), "b": .bool(true), "c": .number(0.5), "d": .null,
                              "e": .array([.number(0)])]))
        #expect(ConfigReadback.parseJSON(Array("not json".utf8)) == nil)
    }

    @Test func endpointsPerEngine() {
        #expect(ConfigReadback.endpoints(engine: .sglang) == ["/server_info", "/get_server_info"])
        #expect(ConfigReadback.endpoints(engine: .llamaCpp) == ["/props"])
        #expect(ConfigReadback.endpoints(engine: .vllm) == ["/server_info?config_format=json", "/v1/models", "/metrics"])
        // vLLM without a dev-mode dump: nothing reported, nothing compared (VLLMReadbackTests has the rest).
        #expect(ConfigReadback.compare(engine: .vllm, version: "0.11.0", flags: flags, reported: .object([:])).isEmpty)
    }
}
