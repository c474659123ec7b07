/// Canonical engine flags: canonical flag name → typed value.
///
/// Two manifests that spell the same configuration differently (aliases, `--k=v` vs `--k v`,
/// `0.85` vs `.85`, JSON key order, the case of case-insensitive values) give equal sets.
public struct FlagSet: Hashable, Codable, Sendable {
    /// The values by canonical flag name (`--tp-size`); presence flags are `.bool(true)`,
    /// negative spellings `.bool(false)`.
    public var values: [String: FlagValue]

    /// Creates a set.
    public init(_ values: [String: FlagValue] = [:]) {
        self.values = values
    }

    /// The value of a canonical flag.
    public subscript(name: String) -> FlagValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// Canonical names, sorted.
    public var names: [String] { values.keys.sorted() }

    /// True when no flag is set.
    public var isEmpty: Bool { values.isEmpty }

    /// Engine argv tokens for the set, flags sorted by name (`--tp-size 8 --trust-remote-code`);
    /// `.bool(false)` for a flag with a negative spelling uses it, else the flag is left out.
    public func argv(catalog: FlagCatalog? = nil) -> [String] {
        var out: [String] = []
        for name in names {
            guard let v = values[name] else { continue }
            let spec = catalog?.spec(named: name)
            if case .bool(let b) = v, spec?.isPresence ?? true {
                if b { out.append(name) } else if let neg = spec?.negativeNames.first { out.append(neg) }
                continue
            }
            out.append(name)
            out += v.argumentTokens
        }
        return out
    }

    /// The changes from `old` to `new`, sorted by flag name. With a catalog, a change between
    /// "absent" and the catalog default is marked not `effective`.
    public static func diff(from old: FlagSet, to new: FlagSet, catalog: FlagCatalog? = nil) -> [FlagChange] {
        var out: [FlagChange] = []
        for name in Set(old.values.keys).union(new.values.keys).sorted() {
            let before = old.values[name], after = new.values[name]
            if before == after { continue }
            let kind: FlagChange.Kind = before == nil ? .added : (after == nil ? .removed : .changed)
            var effective = true
            if let d = catalog?.defaultValue(of: name) {
                if before == nil, after == d { effective = false }
                if after == nil, before == d { effective = false }
            }
            out.append(FlagChange(name: name, before: before, after: after, kind: kind, effective: effective))
        }
        return out
    }
}

/// One difference between two flag sets.
public struct FlagChange: Hashable, Codable, Sendable {
    /// What happened to the flag.
    public enum Kind: String, Hashable, Codable, Sendable {
        /// Set in the new set only.
        case added
        /// Set in the old set only.
        case removed
        /// Set in both, with different values.
        case changed
    }

    /// Canonical flag name.
    public var name: String
    /// The old value (nil: not set).
    public var before: FlagValue?
    /// The new value (nil: not set).
    public var after: FlagValue?
    /// added / removed / changed.
    public var kind: Kind
    /// False when one side is absent and the other equals the catalog default: the engine
    /// runs the same either way.
    public var effective: Bool

    /// Creates a change.
    public init(name: String, before: FlagValue?, after: FlagValue?, kind: Kind, effective: Bool = true) {
        self.name = name
        self.before = before
        self.after = after
        self.kind = kind
        self.effective = effective
    }
}
