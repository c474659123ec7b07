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

        /// Creates parser rules.
        public init(allowsAbbreviations: Bool = true, underscoresEquivalent: Bool = false,
                    dashOTarget: String? = nil) {
            self.allowsAbbreviations = allowsAbbreviations
            self.underscoresEquivalent = underscoresEquivalent
            self.dashOTarget = dashOTarget
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
    private var index: [String: (Int, Bool)] = [:]

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
        var idx: [String: (Int, Bool)] = [:]
        idx.reserveCapacity(flags.count * 2)
        for (i, f) in flags.enumerated() {
            for n in [f.name] + f.aliases where idx[n] == nil { idx[n] = (i, false) }
            for n in f.negativeNames where idx[n] == nil { idx[n] = (i, true) }
        }
        index = idx
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
        if let hit = index[spelled] { return hit }
        guard parser.underscoresEquivalent else { return nil }
        return index[normalized(spelled)]
    }

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
        return index.keys.filter { $0.hasPrefix(p) && $0 != p }.sorted()
    }

    /// Every accepted spelling (names, aliases, negative names), sorted.
    public var allNames: [String] { index.keys.sorted() }

    /// The catalog default of a flag as a typed value (nil when none or unknown flag).
    public func defaultValue(of name: String) -> FlagValue? {
        guard let (i, _) = lookup(name), let d = flags[i].defaultValue else {
            return nil
        }
        return FlagValue(json: d, type: flags[i].valueType, element: flags[i].elementType)
    }

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
            guard let (i, _) = copy.index[flag] ?? copy.index[copy.normalized(flag)] else { continue }
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
