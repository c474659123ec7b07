/// What one engine flag accepts, as recorded in a catalog.
public struct FlagSpec: Hashable, Sendable {
    /// How many value tokens the flag takes (argparse `nargs`).
    public enum Arity: String, Hashable, Sendable, CaseIterable, Codable {
        /// A presence flag (`--trust-remote-code`).
        case none
        /// Exactly one value.
        case one
        /// Zero or one value (`nargs='?'`).
        case optional
        /// One or more values (`nargs='+'`).
        case oneOrMore
        /// Zero or more values (`nargs='*'`).
        case zeroOrMore
    }

    /// The type a value (or each list element) must parse as.
    public enum ValueType: String, Hashable, Sendable, CaseIterable, Codable {
        /// Any text (argparse `str`).
        case string
        /// An integer (Python `int()` syntax, optionally with suffixes).
        case int
        /// A number (Python `float()` syntax).
        case float
        /// A boolean (presence flag, or true/false words for a value).
        case bool
        /// A JSON document.
        case json
        /// Several values (nargs `+`/`*`, or argparse `append`); see `elementType`.
        case list
    }

    /// Which human-readable integer suffixes an int flag accepts.
    public enum SuffixStyle: String, Hashable, Sendable, Codable {
        /// SGLang: SI `k M G T` (×1000ⁿ) and IEC `Ki Mi Gi Ti` (×1024ⁿ), case-sensitive;
        /// decimals only with SI (`1.5M`).
        case siIEC = "si-iec"
        /// vLLM: lowercase `k m g t` ×1000ⁿ (decimals allowed), uppercase `K M G T` ×1024ⁿ.
        case vllm
    }

    /// Canonical spelling (`--tp-size`); the key in a `FlagSet`.
    public var name: String
    /// Other spellings of the same flag (`--tensor-parallel-size`, `-tp`).
    public var aliases: [String]
    /// Spellings that set a boolean flag to false (`--no-enable-x`, `--disable-x`).
    public var negativeNames: [String]
    /// How many values the flag takes.
    public var arity: Arity
    /// The value type (`.bool` with arity `.none` is a presence flag).
    public var valueType: ValueType
    /// Element type of a `.list` flag.
    public var elementType: ValueType?
    /// argparse `choices`: exact, case-sensitive.
    public var choices: [String]
    /// Values checked after parsing (not argparse choices), e.g. speculative algorithms.
    public var validValues: [String]
    /// True when `validValues` match case-insensitively (normalised to the catalog spelling).
    public var caseInsensitiveValues: Bool
    /// Deprecation message, nil when the flag is not deprecated.
    public var deprecated: String?
    /// The engine's default (nil: none / resolved at start-up).
    public var defaultValue: JSONValue?
    /// True when an int flag accepts human-readable suffixes (`1M`, `128Ki`).
    public var acceptsSuffix: Bool
    /// The suffix rules when `acceptsSuffix` is true.
    public var suffixStyle: SuffixStyle
    /// Required JSON shape (`"list"`) of a JSON flag, nil for any.
    public var jsonShape: String?
    /// The engine config field the flag feeds (`tp_size`); derived from the name unless set.
    public var field: String {
        get { explicitField ?? FlagSpec.defaultField(for: name) }
        set { explicitField = newValue == FlagSpec.defaultField(for: name) ? nil : newValue }
    }
    private var explicitField: String?
    /// One-line help.
    public var help: String
    /// True when repeating the flag accumulates values (argparse `append`).
    public var repeatable: Bool
    /// Literal values accepted besides the type (vLLM `--max-model-len auto`).
    public var alsoAccepts: [String]
    /// True when the literal `None` means null (vLLM optional types).
    public var noneMeansNull: Bool
    /// True when a JSON flag also accepts a plain string (anything not starting with `{`/`[`).
    public var jsonOrString: Bool
    /// True when a JSON flag accepts dotted keys (`--compilation-config.mode 3`, vLLM).
    public var dottedKeys: Bool
    /// The engine still registers the spelling but fails on it (llama.cpp keeps removed arguments
    /// with a handler that throws): the engine's message. nil for a usable flag.
    public var removedMessage: String?
    /// Flags to use instead of a removed one.
    public var replacements: [String] = []

    /// Creates a spec; only `name` is required (a string flag taking one value).
    public init(name: String, aliases: [String] = [], negativeNames: [String] = [],
                arity: Arity = .one, valueType: ValueType = .string, elementType: ValueType? = nil,
                choices: [String] = [], validValues: [String] = [], caseInsensitiveValues: Bool = false,
                deprecated: String? = nil, defaultValue: JSONValue? = nil, acceptsSuffix: Bool = false,
                suffixStyle: SuffixStyle = .siIEC, jsonShape: String? = nil, field: String? = nil,
                help: String = "", repeatable: Bool = false, alsoAccepts: [String] = [],
                noneMeansNull: Bool = false, jsonOrString: Bool = false, dottedKeys: Bool = false) {
        self.name = name
        self.aliases = aliases
        self.negativeNames = negativeNames
        self.arity = arity
        self.valueType = valueType
        self.elementType = elementType
        self.choices = choices
        self.validValues = validValues
        self.caseInsensitiveValues = caseInsensitiveValues
        self.deprecated = deprecated
        self.defaultValue = defaultValue
        self.acceptsSuffix = acceptsSuffix
        self.suffixStyle = suffixStyle
        self.jsonShape = jsonShape
        self.explicitField = field
        self.help = help
        self.repeatable = repeatable
        self.alsoAccepts = alsoAccepts
        self.noneMeansNull = noneMeansNull
        self.jsonOrString = jsonOrString
        self.dottedKeys = dottedKeys
        self.removedMessage = nil
    }

    /// True for a presence flag (no value; `--x` means true, a negative spelling false).
    public var isPresence: Bool { arity == .none }

    /// Every spelling that selects this flag, canonical first.
    public var allSpellings: [String] { [name] + aliases + negativeNames }

    /// `--tp-size` → `tp_size`.
    public static func defaultField(for name: String) -> String {
        String(name.drop { $0 == "-" }).replacingDashes()
    }

    /// The catalog default as a typed `FlagValue` (nil when there is none).
    public var defaultFlagValue: FlagValue? {
        guard let d = defaultValue else { return nil }
        return FlagValue(json: d, type: valueType, element: elementType)
    }
}

extension String {
    /// `a-b` → `a_b`.
    func replacingDashes() -> String {
        String(decoding: utf8.map { $0 == UInt8(ascii: "-") ? UInt8(ascii: "_") : $0 }, as: UTF8.self)
    }
}

extension FlagSpec {
    /// The same spec in storage of its own (see `FlagCatalog.isolatedCopy`).
    func isolatedCopy() -> FlagSpec {
        var c = self
        c.name = name.isolatedCopy()
        c.aliases = aliases.map { $0.isolatedCopy() }
        c.negativeNames = negativeNames.map { $0.isolatedCopy() }
        c.choices = choices.map { $0.isolatedCopy() }
        c.validValues = validValues.map { $0.isolatedCopy() }
        c.deprecated = deprecated?.isolatedCopy()
        c.defaultValue = defaultValue?.isolatedCopy()
        c.jsonShape = jsonShape?.isolatedCopy()
        c.explicitField = explicitField?.isolatedCopy()
        c.help = help.isolatedCopy()
        c.alsoAccepts = alsoAccepts.map { $0.isolatedCopy() }
        c.removedMessage = removedMessage?.isolatedCopy()
        c.replacements = replacements.map { $0.isolatedCopy() }
        return c
    }
}
