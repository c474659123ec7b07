public import DeployKit
public import Engines
import Foundation

/// Compares the flags an engine was asked to run with what it reports it runs with. Pure.
///
/// - SGLang: `GET /server_info` (`/get_server_info` before it existed), a JSON object keyed by
///   ServerArgs field; every flag of the launch's flag set is compared on its field (`FlagSpec.field`).
/// - llama.cpp: `GET /props`; see `compareLlamaCpp`.
/// - vLLM: `/server_info?config_format=json` (dev mode only), `/v1/models` and `/metrics`; see
///   `compareVLLM` (ConfigReadback+VLLM.swift), which also lists the flags no endpoint reports.
///
/// Fields the engine does not report are skipped (unknown is not drift); API keys are never compared
/// (their values would end up in messages).
public enum ConfigReadback {
    /// Paths to GET for the engine's effective configuration: SGLang and llama.cpp the first that
    /// answers wins; vLLM every one that answers is read (`/server_info` only in dev mode, `/metrics`
    /// when it is needed); empty for an unknown engine.
    public static func endpoints(engine: EngineKind) -> [String] {
        switch engine {
        case .sglang: return ["/server_info", "/get_server_info"]
        case .llamaCpp: return ["/props"]
        case .vllm: return [vllmServerInfoPath, "/v1/models", "/metrics"]
        // The router reports no arguments; its workers are checked through GET /workers instead.
        case .sglangRouter: return []
        }
    }

    /// vLLM's config dump (dev mode), as JSON.
    public static let vllmServerInfoPath = "/server_info?config_format=json"

    /// Drift between `flags` and a readback document of `engine` at `version`, sorted by flag.
    public static func compare(engine: EngineKind, version: String, flags: FlagSet, reported: JSONValue) -> [FlagDiffEntry] {
        let catalog = CatalogStore.resolvedCatalog(engine, version: version)
        switch engine {
        case .sglang: return compareSGLang(flags: flags, catalog: catalog, serverInfo: reported)
        case .llamaCpp: return compareLlamaCpp(flags: flags, catalog: catalog, props: reported)
        case .vllm:
            return compareVLLM(flags: flags, version: version, catalog: catalog, serverInfo: reported, models: nil,
                               metrics: nil).drift
        case .sglangRouter: return []
        }
    }

    /// SGLang: each flag's ServerArgs field in `/server_info` against the intended canonical value.
    public static func compareSGLang(flags: FlagSet, catalog: FlagCatalog?, serverInfo: JSONValue) -> [FlagDiffEntry] {
        guard case .object(let info) = serverInfo else { return [] }
        var out: [FlagDiffEntry] = []
        for name in flags.names {
            guard let intended = flags[name], !intended.isTemplated else { continue }
            let spec = catalog?.spec(named: name)
            let field = spec?.field ?? FlagSpec.defaultField(for: name)
            // A deprecated spelling that SGLang translates into another field has no comparable value.
            if let spec, spec.deprecated != nil, field != FlagSpec.defaultField(for: spec.name) { continue }
            guard !isSensitive(field), let reported = info[field] else { continue }
            if !matches(intended, reported, caseInsensitive: spec?.caseInsensitiveValues ?? false) {
                out.append(drift(name, intended, reported))
            }
        }
        return out
    }

    /// A `changed` drift entry: before = intended, after = reported.
    static func drift(_ flag: String, _ intended: FlagValue, _ reported: JSONValue) -> FlagDiffEntry {
        FlagDiffEntry(kind: .changed, flag: flag, before: intended.description, after: text(reported), effective: true)
    }

    /// Field names (`api_key`, `hf_token`, `ssl_keyfile`; flags through `FlagSpec.defaultField`) whose
    /// values must not be compared or printed. Whole words, so `max_total_tokens` is compared.
    static func isSensitive(_ field: String) -> Bool {
        let words = field.lowercased().split(whereSeparator: { $0 == "_" || $0 == "-" })
        return words.contains { ["token", "password", "secret", "keyfile"].contains($0) }
            || zip(words, words.dropFirst()).contains { $0 == "api" && $1 == "key" }
    }

    /// True when the reported JSON is the intended value: numbers as numbers, booleans (null counts as
    /// false), strings (optionally case-insensitive), lists element-wise, JSON structurally (also when
    /// reported as a JSON string).
    public static func matches(_ intended: FlagValue, _ reported: JSONValue, caseInsensitive: Bool = false,
                               tolerance: Double = 1e-6) -> Bool {
        switch (intended, reported) {
        case (.templated, _): return true
        case (.bool(let b), .bool(let r)): return b == r
        case (.bool(let b), .null): return !b
        case (.bool(let b), .number(let d)): return (d != 0) == b
        case (.int(let i), .number(let d)): return Double(i) == d
        case (.int(let i), .string(let s)): return Int64(s) == i
        case (.float(let f), .number(let d)): return close(f, d, tolerance)
        case (.float(let f), .string(let s)): return Double(s).map { close(f, $0, tolerance) } ?? false
        case (.string(let s), .string(let r)): return caseInsensitive ? s.lowercased() == r.lowercased() : s == r
        case (.string(let s), .number(let d)): return s == reported.canonicalText || Double(s) == d
        case (.string(let s), .array(let a)) where a.count == 1: return matches(.string(s), a[0], caseInsensitive: caseInsensitive)
        case (.json(let j), .string(let s)): return parseJSON(Array(s.utf8)) == j || (j == .string(s))
        case (.json(let j), _): return j == reported
        case (.list(let l), .array(let a)):
            return l.count == a.count && zip(l, a).allSatisfy { matches($0, $1, caseInsensitive: caseInsensitive) }
        case (.list(let l), _) where l.count == 1: return matches(l[0], reported, caseInsensitive: caseInsensitive)
        default: return false
        }
    }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double) -> Bool {
        a == b || abs(a - b) <= tolerance * max(1, abs(a), abs(b))
    }

    /// The reported value as people read it (strings bare, everything else as compact JSON).
    static func text(_ j: JSONValue) -> String {
        if case .string(let s) = j { return s }
        return j.canonicalText
    }

    /// Parses a JSON document (numbers stay numbers, booleans booleans); nil when it is not JSON.
    public static func parseJSON(_ bytes: [UInt8]) -> JSONValue? {
        JSONValue.parse(bytes)
    }
}
