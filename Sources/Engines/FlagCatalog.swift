/// The flags one engine version accepts, with lookups by any spelling.
public struct FlagCatalog: Sendable {
    /// How the engine's command-line parser treats spellings.
    public struct ParserRules: Hashable, Sendable {
        /// argparse `allow_abbrev`: the engine accepts unambiguous prefixes (we still reject them).
        public var allowsAbbreviations: Bool
        /// `--a_b` means `--a-b` (vLLM's FlexibleArgumentParser, llama.cpp).
        public var underscoresEquivalent: Bool
        /// vLLM: `-O<n>` is rewritten to this flag with value `<n>`.
        public var dashOTarget: String?
        /// vLLM's `FlexibleArgumentParser`: `--x.key v` is rewritten to `--x '{"key": v}'` for every
        /// JSON-typed flag (not only those marked `dottedKeys`), and repeated keys are merged.
        public var dottedJSON: Bool
        /// Short aliases take dotted keys too (`-cc.pass_config.x=True`, `-O.mode 3`).
        public var dottedShort: Bool
        /// vLLM 0.11: `-O3`, `-O 3`, `-O=3` set this key of the `dashOTarget` JSON flag (`level`).
        public var dashOKey: String?
        /// vLLM 0.11–0.12: `-O.key v` means this flag's `.key` (`--compilation-config`); later
        /// versions turn it into `--optimization-level .key`, which fails.
        public var dashODot: String?

        /// Creates parser rules.
        public init(allowsAbbreviations: Bool = true, underscoresEquivalent: Bool = false,
                    dashOTarget: String? = nil, dottedJSON: Bool = false, dottedShort: Bool = false) {
            self.allowsAbbreviations = allowsAbbreviations
            self.underscoresEquivalent = underscoresEquivalent
            self.dashOTarget = dashOTarget
            self.dottedJSON = dottedJSON
            self.dottedShort = dottedShort
        }
    }

    /// A spelling resolved to its flag.
    public struct Match: Hashable, Sendable {
        /// The flag.
        public var spec: FlagSpec
        /// True when the spelling is a negative one (`--no-x`): the value is false.
        public var negative: Bool
    }

    /// The engine.
    public let engine: EngineKind
    /// The engine version this catalog describes.
    public let version: String
    /// All flags, sorted by canonical name.
    public private(set) var flags: [FlagSpec]
    /// Speculative-decoding algorithms built into this version (SGLang), canonical spelling.
    public private(set) var speculativeAlgorithms: [String]
    /// Parser behaviour.
    public let parser: ParserRules
    /// Added/removed flags across surveyed versions (nil: no history for this engine).
    let history: HistoryRef?
    /// Every spelling (names, aliases, negative names) → flag index and polarity.
    private var table = SpellingTable([])
    /// Each flag's catalog default as a typed value, by index (the rules read them per deployment).
    private var defaults: [FlagValue?] = []
    /// The index of each flag the cross-flag rules read (`RuleFlag`), -1 where this version lacks it.
    private var ruleIndices: [Int] = []

    /// Creates a catalog from flag specs (the store builds these from the bundled JSON).
    public init(engine: EngineKind, version: String, flags: [FlagSpec],
                speculativeAlgorithms: [String] = [], parser: ParserRules = ParserRules()) {
        self.init(engine: engine, version: version, flags: flags,
                  speculativeAlgorithms: speculativeAlgorithms, parser: parser, history: nil)
    }

    init(engine: EngineKind, version: String, flags: [FlagSpec], speculativeAlgorithms: [String],
         parser: ParserRules, history: HistoryRef?) {
        self.engine = engine
        self.version = version
        self.engineVersion = EngineVersion(version)
        let sorted = zip(flags, flags.dropFirst()).allSatisfy { $0.name < $1.name }
        self.flags = sorted ? flags : flags.sorted { $0.name < $1.name }
        self.speculativeAlgorithms = speculativeAlgorithms
        self.parser = parser
        self.history = history
        rebuildIndex()
    }

    private mutating func rebuildIndex() {
        // A spelling two flags share keeps its first flag (the table keeps the first entry).
        var spellings: [(name: String, index: Int, negative: Bool)] = []
        for (i, f) in flags.enumerated() {
            for n in [f.name] + f.aliases { spellings.append((n, i, false)) }
            for n in f.negativeNames { spellings.append((n, i, true)) }
        }
        table = SpellingTable(spellings)
        defaults = flags.map { f in f.defaultValue.flatMap { FlagValue(json: $0, type: f.valueType, element: f.elementType) } }
        ruleIndices = RuleFlag.allCases.map { lookup($0.name)?.0 ?? -1 }
    }

    /// The index in `flags` of a flag the rules read, nil when this version lacks it.
    func ruleIndex(_ f: RuleFlag) -> Int? {
        let i = ruleIndices[f.rawValue]
        return i < 0 ? nil : i
    }

    /// The version as a comparable value.
    public let engineVersion: EngineVersion

    /// Spelling normalised the way the engine's parser does (`--a_b` → `--a-b` where equivalent).
    public func normalized(_ spelled: String) -> String {
        guard parser.underscoresEquivalent, spelled.hasPrefix("--"), spelled.contains("_") else {
            return spelled
        }
        return "--" + String(spelled.dropFirst(2).map { $0 == "_" ? "-" : $0 })
    }

    /// True when some flag has this spelling.
    public func contains(_ spelled: String) -> Bool {
        lookup(spelled) != nil
    }

    /// Index into `flags` and polarity of a spelling (no `FlagSpec` copy: the checker's hot path).
    func lookup(_ spelled: String) -> (Int, Bool)? {
        if let hit = table.find(spelled) { return hit }
        guard parser.underscoresEquivalent, spelled.utf8.contains(UInt8(ascii: "_")) else { return nil }
        return table.find(normalized(spelled))
    }

    /// The index in `flags` of a spelling's flag.
    func index(of spelled: String) -> Int? { lookup(spelled)?.0 }

    /// The flag a spelling (name, alias or negative name) selects, with its polarity.
    public func match(_ spelled: String) -> Match? {
        guard let (i, neg) = lookup(spelled) else { return nil }
        return Match(spec: flags[i], negative: neg)
    }

    /// The flag a spelling selects: canonical name, alias, negative name (vLLM: also `--a_b`).
    public func spec(named spelled: String) -> FlagSpec? {
        match(spelled)?.spec
    }

    /// Every accepted spelling that starts with `prefix` (what argparse's `allow_abbrev`
    /// would consider), sorted. Only long (`--`) prefixes abbreviate.
    public func prefixMatches(_ prefix: String) -> [String] {
        let p = normalized(prefix)
        guard p.hasPrefix("--"), p.count > 2 else { return [] }
        return table.names.filter { $0.hasPrefix(p) && $0 != p }.sorted()
    }

    /// What a spelled flag selects, the way the engine's own parser reads it.
    public enum Spelling: Hashable, Sendable {
        /// A name, alias or negative name (vLLM/llama.cpp: also with `_` for `-`).
        case exact(index: Int, negative: Bool)
        /// A short option carrying its value (`-O3`, `-tp8`).
        case injected(index: Int, value: String)
        /// A dotted JSON key (`--compilation-config.mode`, `-cc.pass_config.x`); `value` when the
        /// spelling carries it (vLLM 0.11's `-O3` is `--compilation-config.level 3`).
        case dotted(index: Int, path: [String], value: String? = nil)
        /// An unambiguous prefix (argparse `allow_abbrev`): `full` is the spelling it completes to.
        case abbreviation(index: Int, negative: Bool, full: String)
        /// A prefix of several flags: the engine fails with "ambiguous option".
        case ambiguous([String])
        /// Nothing.
        case unknown
    }

    /// Resolves a spelled flag (without any `=value`) as the engine's parser would: exact spellings,
    /// dotted JSON keys, `-O<n>`, short options with an attached value, then unambiguous prefixes.
    public func resolveSpelling(_ flag: String) -> Spelling {
        if let (i, neg) = lookup(flag) {
            // vLLM 0.11: `-O 3` sets compilation-config's `level`
            if let key = parser.dashOKey, flag == "-O" { return .dotted(index: i, path: [key]) }
            return .exact(index: i, negative: neg)
        }
        if let dot = flag.firstIndex(of: "."), flag.first == "-" {
            let written = String(flag[..<dot])
            var head = written
            if written == "-O", let target = parser.dashOTarget {
                // vLLM 0.11–0.12 read `-O.key` as `--compilation-config.key`; later ones as `-O<value>`
                guard let dotTarget = parser.dashODot else {
                    return lookup(target).map { .injected(index: $0.0, value: String(flag.dropFirst(2))) } ?? .unknown
                }
                head = dotTarget
            }
            let shortAllowed = head.hasPrefix("--") || parser.dottedShort || head != written
            if shortAllowed, let (i, _) = lookup(head),
               flags[i].dottedKeys || (parser.dottedJSON && flags[i].valueType == .json) {
                let path = flag[flag.index(after: dot)...].split(separator: ".").map(String.init)
                if !path.isEmpty { return .dotted(index: i, path: path) }
            }
        }
        if !flag.hasPrefix("--") {
            if let target = parser.dashOTarget, flag.hasPrefix("-O"), flag.count > 2, let (i, _) = lookup(target) {
                var value = String(flag.dropFirst(2))
                if value.hasPrefix("=") { value.removeFirst() }
                if let key = parser.dashOKey { return .dotted(index: i, path: [key], value: value) }
                return .injected(index: i, value: value)
            }
            // argparse: a two-character short option may carry its value (`-O3`).
            if flag.count > 2, parser.allowsAbbreviations, let (i, _) = lookup(String(flag.prefix(2))),
               !flags[i].isPresence {
                return .injected(index: i, value: String(flag.dropFirst(2)))
            }
            return .unknown
        }
        guard parser.allowsAbbreviations else { return .unknown }
        let candidates = prefixMatches(flag)
        if candidates.isEmpty { return .unknown }
        var targets = Set<Int>()
        for c in candidates { if let (i, _) = lookup(c) { targets.insert(i) } }
        guard targets.count == 1, let (i, neg) = lookup(candidates[0]) else { return .ambiguous(candidates) }
        return .abbreviation(index: i, negative: neg, full: candidates.count == 1 ? candidates[0] : flags[i].name)
    }

    /// The flag a spelling selects under the engine's parse rules (abbreviations and dotted keys
    /// included); nil when unknown or ambiguous. Downstream code keys on `spec.name`.
    public func canonicalSpec(for spelled: String) -> FlagSpec? {
        spec(for: resolveSpelling(spelled))
    }

    /// The canonical name of the flag a spelling selects: `canonicalSpec(for:)?.name` without
    /// copying the whole `FlagSpec` (the validator asks this for every flag of every deployment).
    public func canonicalName(for spelled: String) -> String? {
        switch resolveSpelling(spelled) {
        case .exact(let i, _), .injected(let i, _), .dotted(let i, _, _), .abbreviation(let i, _, _): return flags[i].name
        case .ambiguous, .unknown: return nil
        }
    }

    /// The flag a resolved spelling selects; nil when unknown or ambiguous.
    public func spec(for spelling: Spelling) -> FlagSpec? {
        switch spelling {
        case .exact(let i, _), .injected(let i, _), .dotted(let i, _, _), .abbreviation(let i, _, _): return flags[i]
        case .ambiguous, .unknown: return nil
        }
    }

    /// Every accepted spelling (names, aliases, negative names), sorted.
    public var allNames: [String] { table.names.sorted() }

    /// The catalog default of a flag as a typed value (nil when none or unknown flag).
    public func defaultValue(of name: String) -> FlagValue? {
        guard let (i, _) = lookup(name) else { return nil }
        return defaults[i]
    }

    /// The catalog default of the flag at `index` in `flags`, typed.
    func defaultValue(at index: Int) -> FlagValue? { defaults[index] }

    /// Adds extra values and private flags (a custom image's additions); see `CatalogExtension`.
    ///
    /// Extra values for a flag the catalog does not know are ignored; an extra flag whose
    /// name the catalog already has replaces that flag.
    public func extended(with ext: CatalogExtension) -> FlagCatalog {
        if ext.isEmpty { return self }
        var copy = self
        var byName = Dictionary(copy.flags.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for f in ext.extraFlags { byName[f.name] = f }
        copy.flags = byName.values.sorted { $0.name < $1.name }
        copy.rebuildIndex()
        for (flag, values) in ext.extraValues.sorted(by: { $0.key < $1.key }) {
            guard let (i, _) = copy.lookup(flag) else { continue }
            var spec = copy.flags[i]
            let fresh = values.filter { v in !spec.validValues.contains(v) && !spec.choices.contains(v) }
            if !spec.choices.isEmpty { spec.choices += fresh } else { spec.validValues += fresh }
            copy.flags[i] = spec
            if spec.name == "--speculative-algorithm" {
                copy.speculativeAlgorithms += fresh.filter { !copy.speculativeAlgorithms.contains($0) }
            }
        }
        return copy
    }
}

extension FlagCatalog {
    /// A copy that shares no reference-counted storage with this one: every string, array and
    /// table is its own. Threads that check many deployments against one catalog take one copy
    /// each (`SpecValidator`): keying a flag set by a flag's name, or reading a spec's strings into a
    /// value or message, retains the catalog's storage, and two threads retaining the same storage
    /// contend for its cache line.
    public func isolatedCopy() -> FlagCatalog {
        let shared = history
        return FlagCatalog(engine: engine, version: version.isolatedCopy(), flags: flags.map { $0.isolatedCopy() },
                           speculativeAlgorithms: speculativeAlgorithms.map { $0.isolatedCopy() },
                           parser: parser.isolatedCopy(), history: shared.map { ref in HistoryRef { ref.history } })
    }
}

extension FlagCatalog.ParserRules {
    func isolatedCopy() -> Self {
        var c = self
        c.dashOTarget = dashOTarget?.isolatedCopy()
        c.dashOKey = dashOKey?.isolatedCopy()
        c.dashODot = dashODot?.isolatedCopy()
        return c
    }
}

extension String {
    /// The same text in storage of its own (a small string is stored inline and has none).
    func isolatedCopy() -> String {
        var text = self
        return text.withUTF8 { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { out in
                _ = out.initialize(fromContentsOf: bytes)
                return bytes.count
            }
        }
    }
}

extension JSONValue {
    /// The same value in storage of its own (see `FlagCatalog.isolatedCopy`).
    func isolatedCopy() -> JSONValue {
        switch self {
        case .null, .bool, .number: return self
        case .string(let s): return .string(s.isolatedCopy())
        case .array(let a): return .array(a.map { $0.isolatedCopy() })
        case .object(let o):
            var copy: [String: JSONValue] = [:]
            copy.reserveCapacity(o.count)
            for (k, v) in o { copy[k.isolatedCopy()] = v.isolatedCopy() }
            return .object(copy)
        }
    }
}
