/// The outcome of checking a list of flag groups.
public struct FlagCheckResult: Hashable, Sendable {
    /// The canonical flags and typed values (last value wins, as the engines do).
    public var flagSet: FlagSet
    /// Every problem found, in group order, then cross-flag problems.
    public var issues: [FlagIssue]
    /// Canonical flag name → origin of the group that set it (the last one).
    public var origins: [String: Int]

    /// True when at least one issue is an error.
    public var hasErrors: Bool { issues.contains { $0.isError } }

    /// Creates a result.
    public init(flagSet: FlagSet, issues: [FlagIssue], origins: [String: Int] = [:]) {
        self.flagSet = flagSet
        self.issues = issues
        self.origins = origins
    }
}

/// Checks engine flags against one catalog: names, arity, types, values, duplicates,
/// deprecations and cross-flag rules. Reports every problem, never stops at the first.
public struct FlagChecker: Sendable {
    /// The catalog of the engine version the image carries.
    public let catalog: FlagCatalog
    /// Strict spelling: an abbreviation the engine would accept is an error, not a warning.
    public var strict: Bool

    /// Creates a checker.
    public init(catalog: FlagCatalog, strict: Bool = false) {
        self.catalog = catalog
        self.strict = strict
    }

    /// Per-check bookkeeping, keyed by catalog flag index (cheap to hash).
    struct State {
        var values: [Int: FlagValue] = [:]
        var origins: [Int: Int] = [:]
        /// First occurrence per flag index (dotted keys: per "index.path" in `dottedSeen`).
        var seen: [Int: (origin: Int, spelled: String)] = [:]
        var dottedSeen: [String: (origin: Int, spelled: String)] = [:]
        /// Flags whose (last) value was invalid: rules treat them as unknown.
        var invalid: Set<Int> = []
        /// Closest catalog flags of unknown ones: rules treat them as undecided when they are not set.
        var typoTargets: Set<Int> = []
        var issues: [FlagIssue] = []
    }

    /// Checks `groups` (manifest entries and/or template argv groups, in command-line order).
    public func check(_ groups: [ArgGroup], context: CheckContext = CheckContext()) -> FlagCheckResult {
        var st = State()
        st.values.reserveCapacity(groups.count)
        st.origins.reserveCapacity(groups.count)
        st.seen.reserveCapacity(groups.count)
        for group in groups {
            if group.flag.hasPlaceholder { continue }  // a templated flag name: only known at render time
            guard let resolved = resolve(group, issues: &st.issues) else {
                // A typo'd flag (`--tp-szie 8`) most likely meant its closest catalog flag: rules over
                // that flag cannot be decided, rather than reporting a consequence of the typo.
                if let near = EditDistance.closest(to: group.flag, in: catalog.allNames), let (i, _) = catalog.lookup(near) {
                    st.typoTargets.insert(i)
                }
                continue
            }
            // Borrowed from the catalog's storage: passing `catalog.flags[i]` copied the whole spec per flag.
            catalog.flags.withUnsafeBufferPointer { flags in
                process(group, resolved, spec: flags[resolved.index], state: &st)
            }
        }
        var values: [String: FlagValue] = [:], origins: [String: Int] = [:]
        values.reserveCapacity(st.values.count)
        origins.reserveCapacity(st.origins.count)
        for (i, v) in st.values { values[catalog.flags[i].name] = v }
        for (i, o) in st.origins { origins[catalog.flags[i].name] = o }
        var issues = st.issues
        var rules = FlagRules(catalog: catalog, values: values, origins: origins, fallbackOrigin: groups.first?.origin)
        rules.undecided = Set(st.invalid.union(st.typoTargets).map { catalog.flags[$0].name })
        issues += rules.evaluate(context: context)
        return FlagCheckResult(flagSet: FlagSet(values), issues: issues, origins: origins)
    }

    /// Duplicates, deprecation and the value of one resolved group.
    private func process(_ group: ArgGroup, _ resolved: Resolved, spec: FlagSpec, state st: inout State) {
        let idx = resolved.index
        var g = group
        if let injected = resolved.injectedValue {
            g.values.insert(injected, at: 0)
            g.valueOffsets.insert(group.flagOffset + 2, at: 0)
        }
        let first: (origin: Int, spelled: String)?
        if let path = resolved.dottedPath {
            let key = spec.name + "." + path.joined(separator: ".")
            first = st.dottedSeen[key]
            if first == nil { st.dottedSeen[key] = (group.origin, group.flag) }
        } else {
            first = st.seen[idx]
            if first == nil { st.seen[idx] = (group.origin, group.flag) }
        }
        if let first, !spec.repeatable {
            st.issues.append(FlagIssue(
                error: true, id: "duplicate-flag",
                message: "'\(spec.name)' is given more than once"
                    + (group.flag == first.spelled ? "" : " (here as '\(group.flag)')")
                    + "; the engine would silently keep the last value",
                origin: group.origin, notes: ["first given as '\(first.spelled)'"], related: first.origin))
        }
        if let msg = spec.deprecated {
            st.issues.append(FlagIssue(
                error: false, id: "deprecated-flag",
                message: "'\(group.flag)' is deprecated in \(catalog.engine) \(catalog.version): \(msg)",
                origin: group.origin))
        }
        st.origins[idx] = group.origin
        let parsed = resolved.dottedPath == nil
            ? typedValue(g, spec: spec, negative: resolved.negative, issues: &st.issues)
            : dottedValue(g, issues: &st.issues)
        guard let value = parsed else {
            st.invalid.insert(idx)
            return
        }
        st.invalid.remove(idx)
        if let path = resolved.dottedPath {
            st.values[idx] = FlagChecker.merge(st.values[idx], path: path, value: value)
        } else if spec.repeatable, case .list(let more) = value, case .list(let prior)? = st.values[idx] {
            st.values[idx] = .list(prior + more)
        } else {
            st.values[idx] = value
        }
    }

    /// The value of a dotted JSON key (`--compilation-config.mode 3`): JSON when it parses, else a string.
    func dottedValue(_ g: ArgGroup, issues: inout [FlagIssue]) -> FlagValue? {
        guard !g.values.isEmpty else {
            issues.append(FlagIssue(error: true, id: "missing-value", message: "'\(g.flag)' needs a value",
                                    origin: g.origin))
            return nil
        }
        let raw = g.values.joined(separator: " ")
        if raw.hasPlaceholder { return .templated(raw) }
        return (try? JSONReader.parse(raw)).map { .json($0) } ?? .string(raw)
    }

    /// Sets `value` at a dotted key path inside a JSON object value (vLLM `--x.a.b v`).
    static func merge(_ existing: FlagValue?, path: [String], value: FlagValue) -> FlagValue {
        func set(_ obj: [String: JSONValue], _ path: ArraySlice<String>) -> [String: JSONValue] {
            guard let head = path.first else { return obj }
            var o = obj
            if path.count == 1 {
                if head.hasSuffix("+") {  // list append: --x.key+ v
                    let k = String(head.dropLast())
                    if case .array(let a)? = o[k] { o[k] = .array(a + [value.jsonValue]) }
                    else { o[k] = .array([value.jsonValue]) }
                } else {
                    o[head] = value.jsonValue
                }
            } else {
                let inner: [String: JSONValue]
                if case .object(let x)? = o[head] { inner = x } else { inner = [:] }
                o[head] = .object(set(inner, path.dropFirst()))
            }
            return o
        }
        var base: [String: JSONValue] = [:]
        if case .json(.object(let o))? = existing { base = o }
        return .json(.object(set(base, path[...])))
    }
}
