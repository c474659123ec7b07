public import DeployKit
public import Engines
import Foundation

/// vLLM config readback (docs/targets/local.md, "Config readback: vLLM").
///
/// A running `vllm serve` shows its effective configuration in three places
/// (shared/reference/vllm/readback.md):
/// - `GET /server_info?config_format=json`, only with `VLLM_SERVER_DEV_MODE=1`: the whole
///   `VllmConfig`; a flag's value sits at the JSON path of the readback flag map.
/// - `GET /v1/models`, always: `--served-model-name` (card ids), `--model` (`root`),
///   `--max-model-len` (`max_model_len`), `--lora-modules` (adapter cards).
/// - `GET /metrics`, always: the `vllm:cache_config_info` labels (CacheConfig flags, by the map's
///   label), `vllm:lora_requests_info{max_lora}` (`--max-loras`, once LoRA stats were logged), and
///   whether any `vllm:` series exists (`--disable-log-stats`).
///
/// Each intended flag is compared at the first source that reports it, in the order `/v1/models`,
/// `/server_info`, `/metrics`; a flag none reports is listed as unverified (never drift).
extension ConfigReadback {
    /// What one readback compared, per flag.
    public struct Report: Sendable, Hashable {
        /// Flags the engine reports with another value (before = intended, after = reported).
        public var drift: [FlagDiffEntry]
        /// Flags compared (equal or not) → the endpoint that reported them (`/v1/models`,
        /// `/server_info`, `/metrics`).
        public var verified: [String: String]
        /// Intended flags that no endpoint reported: not compared (sorted).
        public var unverified: [String]
        /// The documents read, e.g. `/server_info + /v1/models` or `/metrics + /v1/models`.
        public var sources: [String]

        /// Creates a report.
        public init(drift: [FlagDiffEntry] = [], verified: [String: String] = [:], unverified: [String] = [],
                    sources: [String] = []) {
            self.drift = drift
            self.verified = verified
            self.unverified = unverified
            self.sources = sources
        }

        /// One line for people: the drifted flags with reported and intended values, else a summary.
        public var message: String {
            if !drift.isEmpty {
                return "vLLM reports other args than intended: " + drift.map { d in
                    "\(d.flag) \(d.after ?? "unset") (intended \(d.before ?? "unset"), from \(verified[d.flag] ?? "?"))"
                }.joined(separator: ", ")
            }
            let read = sources.isEmpty ? "nothing" : sources.joined(separator: " + ")
            return "vLLM readback from \(read): \(verified.count) flag(s) verified, \(unverified.count) unverified"
                + (unverified.isEmpty ? "" : " (" + unverified.joined(separator: ", ") + ")")
        }
    }

    /// The readback map of the family nearest to `version`.
    static func vllmFlagMap(for version: String) -> VLLMReadbackMap {
        VLLMReadbackMap.nearest(to: version)
    }

    /// The vLLM catalog for `version` (the nearest surveyed one), for canonical flag names.
    static func vllmCatalog(version: String) -> FlagCatalog? {
        CatalogStore.resolvedCatalog(.vllm, version: version)
    }

    /// Flags `/v1/models` reports.
    static let vllmModelsFlags: Set<String> = ["--served-model-name", "--model", "--max-model-len", "--lora-modules"]
    /// Flags only `/metrics` reports (besides the cache-config labels).
    static let vllmMetricsFlags: Set<String> = ["--disable-log-stats", "--max-loras"]

    /// True when `/metrics` can verify something of `flags` that `/server_info` and `/v1/models` cannot.
    static func vllmNeedsMetrics(flags: FlagSet, catalog: FlagCatalog?) -> Bool {
        flags.names.contains { vllmMetricsFlags.contains(catalog?.spec(named: $0)?.name ?? $0) }
    }

    /// vLLM: compares `flags` with what the engine reported. Pass nil for a document that was not
    /// available (`serverInfo` without dev mode, `/metrics` not read). Pure.
    public static func compareVLLM(flags: FlagSet, version: String, catalog: FlagCatalog?, serverInfo: JSONValue?,
                                   models: JSONValue?, metrics: String?) -> Report {
        let map = vllmFlagMap(for: version)
        let cards = models.flatMap(VLLMModelCards.init)
        let scrape = metrics.map(VLLMMetrics.init)
        var info = serverInfo
        if info?["vllm_config"]?.object == nil { info = nil }  // the text format, or not vLLM's document
        var report = Report()
        report.sources = [info != nil ? "/server_info" : nil, cards != nil ? "/v1/models" : nil,
                          scrape != nil ? "/metrics" : nil].compactMap { $0 }
        for name in flags.names {
            guard let intended = flags[name], !intended.isTemplated else { continue }
            let spec = catalog?.spec(named: name)
            let canonical = spec?.name ?? name
            if isSensitive(FlagSpec.defaultField(for: canonical)) {
                report.unverified.append(name)  // secrets are never compared or printed
                continue
            }
            var outcome: (endpoint: String, reported: JSONValue, equal: Bool)?
            if let cards, vllmModelsFlags.contains(canonical) {
                outcome = cards.check(canonical, intended).map { ("/v1/models", $0.reported, $0.equal) }
            }
            if outcome == nil, let info, let path = map.serverInfoPaths[canonical], let reported = lookup(info, path) {
                outcome = ("/server_info", reported, vllmMatches(canonical, intended, reported, spec: spec))
            }
            if outcome == nil, let scrape {
                outcome = scrape.check(canonical, intended, label: map.cacheLabels[canonical]).map {
                    ("/metrics", $0.reported, $0.equal)
                }
            }
            guard let outcome else {
                report.unverified.append(name)
                continue
            }
            report.verified[name] = outcome.endpoint
            if !outcome.equal { report.drift.append(drift(name, intended, outcome.reported)) }
        }
        report.drift.sort { $0.flag < $1.flag }
        report.unverified.sort()
        return report
    }

    /// An intended value against a `/server_info` value: `auto` (and `--max-model-len -1`) accept any
    /// resolved value, JSON objects compare as a subset (vLLM fills in every other field), torch
    /// dtypes without their `torch.` prefix, the first served model name against the single one
    /// `ModelConfig` keeps; otherwise like SGLang (`matches`).
    static func vllmMatches(_ flag: String, _ intended: FlagValue, _ reported: JSONValue, spec: FlagSpec?) -> Bool {
        if isAuto(flag, intended) { return true }
        let ci = spec?.caseInsensitiveValues ?? false
        switch (intended, reported) {
        case (.json(let j), _):
            if case .string(let s) = reported, let parsed = parseJSON(Array(s.utf8)) { return jsonContains(parsed, j) }
            return jsonContains(reported, j)
        case (.string(let s), .string(let r)) where r.hasPrefix("torch."):
            return dtypeName(s) == dtypeName(String(r.dropFirst(6)))
        case (.list(let l), .string) where flag == "--served-model-name" && !l.isEmpty:
            return matches(l[0], reported, caseInsensitive: ci)
        default:
            return matches(intended, reported, caseInsensitive: ci)
        }
    }

    /// Values vLLM resolves itself at start-up: any reported value is the intended one.
    static func isAuto(_ flag: String, _ v: FlagValue) -> Bool {
        if case .string(let s) = v, s.lowercased() == "auto" { return true }
        return flag == "--max-model-len" && v.intValue == -1
    }

    /// torch's spelling of a dtype (`half` is `float16`, `float` is `float32`).
    static func dtypeName(_ s: String) -> String {
        switch s.lowercased() {
        case "half": return "float16"
        case "float": return "float32"
        default: return s.lowercased()
        }
    }

    /// True when every member `intended` names is in `reported` with a matching value (objects
    /// recursively; arrays and scalars equal, numbers numerically).
    static func jsonContains(_ reported: JSONValue, _ intended: JSONValue) -> Bool {
        switch (intended, reported) {
        case (.object(let want), .object(let have)):
            return want.allSatisfy { key, value in
                guard let r = have[key] else { return value.isNull }
                return jsonContains(r, value)
            }
        case (.array(let want), .array(let have)):
            return want.count == have.count && zip(want, have).allSatisfy { jsonContains($1, $0) }
        case (.object, .string(let s)):
            return parseJSON(Array(s.utf8)).map { jsonContains($0, intended) } ?? false
        default:
            return intended == reported
        }
    }
}

/// The cards of a vLLM `/v1/models` answer: base models (no `parent`) and LoRA adapters.
struct VLLMModelCards: Sendable {
    struct Card: Sendable {
        var id: String
        var root: String?
        var parent: String?
        var maxModelLen: JSONValue?
    }

    var base: [Card]
    var adapters: [Card]

    /// Nil unless `models` is an OpenAI model list with at least one base card.
    init?(_ models: JSONValue) {
        guard let data = models["data"]?.array else { return nil }
        let cards = data.compactMap { c -> Card? in
            guard let id = c["id"]?.string else { return nil }
            return Card(id: id, root: c["root"]?.string, parent: c["parent"]?.string, maxModelLen: c["max_model_len"])
        }
        base = cards.filter { $0.parent == nil }
        adapters = cards.filter { $0.parent != nil }
        if base.isEmpty { return nil }
    }

    /// The reported value of a `/v1/models` flag and whether it is the intended one; nil when not reported.
    func check(_ flag: String, _ intended: FlagValue) -> (reported: JSONValue, equal: Bool)? {
        switch flag {
        case "--served-model-name":
            let want: [String]
            switch intended {
            case .list(let l): want = l.map(\.description)
            default: want = [intended.description]
            }
            let have = base.map(\.id)
            return (.array(have.map { .string($0) }), Set(want) == Set(have) && want.count == have.count)
        case "--model":
            guard let root = base[0].root else { return nil }
            return (.string(root), ConfigReadback.matches(intended, .string(root)))
        case "--max-model-len":
            guard let reported = base[0].maxModelLen, !reported.isNull else { return nil }
            return (reported, ConfigReadback.isAuto(flag, intended) || ConfigReadback.matches(intended, reported))
        case "--lora-modules":
            let want = VLLMModelCards.adapterNames(intended)
            let have = adapters.map(\.id)
            return (.array(have.map { .string($0) }), Set(want).isSubset(of: Set(have)))
        default:
            return nil
        }
    }

    /// Adapter names of `--lora-modules`: `name=path` items or JSON objects with `name`.
    static func adapterNames(_ v: FlagValue) -> [String] {
        switch v {
        case .list(let l): return l.flatMap(adapterNames)
        case .json(let j): return j["name"]?.string.map { [$0] } ?? (j.array ?? []).compactMap { $0["name"]?.string }
        case .string(let s):
            if s.hasPrefix("{"), let j = ConfigReadback.parseJSON(Array(s.utf8)) { return adapterNames(.json(j)) }
            return [String(s.prefix { $0 != "=" })]
        default: return [v.description]
        }
    }
}

/// The config-bearing series of a vLLM `/metrics` scrape (Prometheus text format).
struct VLLMMetrics: Sendable {
    /// `vllm:cache_config_info` label sets, one per engine (DP rank).
    var cacheConfig: [[String: String]] = []
    /// `vllm:lora_requests_info` label sets.
    var loraInfo: [[String: String]] = []
    /// True when any `vllm:` series is present (the engine's stat loggers are on).
    var hasEngineSeries = false

    init(_ text: String) {
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.drop { $0 == " " }
            if line.first == "#" || line.isEmpty { continue }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            if name.hasPrefix("vllm:") { hasEngineSeries = true }
            guard name == "vllm:cache_config_info" || name == "vllm:lora_requests_info" else { continue }
            let labels = VLLMMetrics.labels(line.dropFirst(name.count))
            if name == "vllm:cache_config_info" { cacheConfig.append(labels) } else { loraInfo.append(labels) }
        }
    }

    /// `{a="x",b="y\"z"}` → labels (Prometheus escapes `\\`, `\"`, `\n`).
    static func labels(_ s: Substring) -> [String: String] {
        var out: [String: String] = [:]
        var chars = s.drop { $0 == " " }
        guard chars.first == "{" else { return out }
        chars = chars.dropFirst()
        while let first = chars.first, first != "}" {
            if first == "," || first == " " { chars = chars.dropFirst(); continue }
            let key = String(chars.prefix { $0 != "=" })
            chars = chars.dropFirst(key.count)
            guard chars.first == "=" else { break }
            chars = chars.dropFirst()
            guard chars.first == "\"" else { break }
            chars = chars.dropFirst()
            var value = ""
            while let c = chars.first {
                chars = chars.dropFirst()
                if c == "\"" { break }
                if c == "\\", let n = chars.first {
                    chars = chars.dropFirst()
                    value.append(n == "n" ? "\n" : n)
                } else {
                    value.append(c)
                }
            }
            out[key.trimmingCharacters(in: .whitespaces)] = value
        }
        return out
    }

    /// The reported value of a flag `/metrics` shows and whether it is the intended one; nil when not shown.
    func check(_ flag: String, _ intended: FlagValue, label: String?) -> (reported: JSONValue, equal: Bool)? {
        if let label {
            let values = cacheConfig.compactMap { $0[label] }
            guard let first = values.first else { return nil }
            if ConfigReadback.isAuto(flag, intended) { return (VLLMMetrics.pythonValue(first), true) }
            for v in values where !ConfigReadback.matches(intended, VLLMMetrics.pythonValue(v)) {
                return (VLLMMetrics.pythonValue(v), false)
            }
            return (VLLMMetrics.pythonValue(first), true)
        }
        switch flag {
        case "--disable-log-stats":
            return (.bool(!hasEngineSeries), ConfigReadback.matches(intended, .bool(!hasEngineSeries)))
        case "--max-loras":
            guard let v = loraInfo.compactMap({ $0["max_lora"] }).first else { return nil }
            return (VLLMMetrics.pythonValue(v), ConfigReadback.matches(intended, VLLMMetrics.pythonValue(v)))
        default:
            return nil
        }
    }

    /// A label value as Python's `str()` wrote it: `True`/`False`, `None`, numbers, lists of quoted
    /// strings; anything else stays a string.
    static func pythonValue(_ s: String) -> JSONValue {
        switch s {
        case "True": return .bool(true)
        case "False": return .bool(false)
        case "None": return .null
        default: break
        }
        if let d = Double(s), s.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true { return .number(d) }
        if s.hasPrefix("["), s.hasSuffix("]") {
            let json = s.replacingOccurrences(of: "'", with: "\"").replacingOccurrences(of: "None", with: "null")
                .replacingOccurrences(of: "True", with: "true").replacingOccurrences(of: "False", with: "false")
            if let j = ConfigReadback.parseJSON(Array(json.utf8)) { return j }
        }
        return .string(s)
    }
}
