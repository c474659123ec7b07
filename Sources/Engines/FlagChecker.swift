/// The outcome of checking a list of flag groups.
public struct FlagCheckResult: Hashable, Sendable {
    /// The canonical flags and typed values (last value wins, as the engines do).
    public var flagSet: FlagSet
    /// Every problem found, in group order, then cross-flag problems.
    public var issues: [FlagIssue]

    /// True when at least one issue is an error.
    public var hasErrors: Bool { issues.contains { $0.isError } }

    /// Creates a result.
    public init(flagSet: FlagSet, issues: [FlagIssue]) {
        self.flagSet = flagSet
        self.issues = issues
    }
}

/// What one check knows of a catalog flag the groups set.
struct FlagSlot {
    /// Index in the catalog's `flags`.
    var index: Int
    /// The last valid value (nil: none was valid).
    var value: FlagValue?
    /// Origin of the last group that set it.
    var origin: Int
    /// First plain (not dotted-key) occurrence: its origin and spelling, for duplicate reports.
    var first: (origin: Int, spelled: String)?
    /// The last value given was invalid: rules treat the flag as unknown.
    var invalid = false
}

/// The flags one check saw, in first-seen order, found by a scan: a deployment sets a few dozen
/// flags, for which scanning one array beats hashing into (and allocating) several dictionaries.
struct FlagSlots {
    private(set) var slots: [FlagSlot] = []
    /// Closest catalog flags of unknown ones: rules treat them as undecided when they are not set.
    var typoTargets: [Int] = []

    init(capacity: Int) { slots.reserveCapacity(capacity) }

    func position(of index: Int) -> Int? {
        slots.withUnsafeBufferPointer { b in
            for p in b.indices where b[p].index == index { return p }
            return nil
        }
    }

    /// The slot of `index`, added on first use.
    mutating func withSlot<R>(_ index: Int, origin: Int, _ body: (inout FlagSlot) -> R) -> R {
        if let p = position(of: index) { return body(&slots[p]) }
        slots.append(FlagSlot(index: index, value: nil, origin: origin))
        return body(&slots[slots.count - 1])
    }

    /// The explicit (last valid) value of a flag.
    func value(_ index: Int) -> FlagValue? { position(of: index).flatMap { slots[$0].value } }

    /// True when the flag's value cannot be decided: its last value was invalid, or a typo meant it.
    func undecided(_ index: Int) -> Bool {
        if let p = position(of: index), slots[p].invalid { return true }
        return typoTargets.contains(index)
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

    /// Per-check bookkeeping.
    struct State {
        var flags: FlagSlots
        /// First occurrence of each dotted key ("name.path"); plain ones are in `flags`.
        var dottedSeen: [String: (origin: Int, spelled: String)] = [:]
        var issues: [FlagIssue] = []
    }

    /// Checks `groups` (manifest entries and/or template argv groups, in command-line order).
    ///
    /// The flags the first `flagSetOmitsFirst` groups name are left out of the result's flag set
    /// (a run-command template's own flags, which the deployment's flag set does not carry); they are
    /// checked like the others.
    public func check(_ groups: [ArgGroup], context: CheckContext = CheckContext(), flagSetOmitsFirst: Int = 0) -> FlagCheckResult {
        var st = State(flags: FlagSlots(capacity: groups.count))
        var omitted: [Int] = []
        for (n, group) in groups.enumerated() {
            if group.flag.hasPlaceholder { continue }  // a templated flag name: only known at render time
            guard let resolved = resolve(group, issues: &st.issues) else {
                // A typo'd flag (`--tp-szie 8`) most likely meant its closest catalog flag: rules over
                // that flag cannot be decided, rather than reporting a consequence of the typo.
                if let near = EditDistance.closest(to: group.flag, in: catalog.allNames), let (i, _) = catalog.lookup(near) {
                    st.flags.typoTargets.append(i)
                }
                continue
            }
            if n < flagSetOmitsFirst { omitted.append(resolved.index) }
            // A pointer into the catalog's storage: a `FlagSpec` value copied every string and array.
            catalog.flags.withUnsafeBufferPointer { flags in
                process(group, resolved, spec: flags.baseAddress! + resolved.index, state: &st)
            }
        }
        var issues = st.issues
        let rules = FlagRules(catalog: catalog, flags: st.flags, fallbackOrigin: groups.first?.origin)
        issues += rules.evaluate(context: context)
        var values: [String: FlagValue] = [:]
        values.reserveCapacity(st.flags.slots.count)
        for slot in st.flags.slots where !omitted.contains(slot.index) {
            if let v = slot.value { values[catalog.flags[slot.index].name] = v }
        }
        return FlagCheckResult(flagSet: FlagSet(values), issues: issues)
    }

    /// Duplicates, deprecation and the value of one resolved group.
    private func process(_ group: ArgGroup, _ resolved: Resolved, spec: UnsafePointer<FlagSpec>, state st: inout State) {
        let idx = resolved.index
        var g = group
        if let injected = resolved.injectedValue {
            g.values.insert(injected, at: 0)
            g.valueOffsets.insert(group.flagOffset + 2, at: 0)
        }
        let first: (origin: Int, spelled: String)?
        if let path = resolved.dottedPath {
            let key = spec.pointee.name + "." + path.joined(separator: ".")
            first = st.dottedSeen[key]
            if first == nil { st.dottedSeen[key] = (group.origin, group.flag) }
            st.flags.withSlot(idx, origin: group.origin) { $0.origin = group.origin }
        } else {
            first = st.flags.withSlot(idx, origin: group.origin) { slot in
                let prior = slot.first
                if prior == nil { slot.first = (group.origin, group.flag) }
                slot.origin = group.origin
                return prior
            }
        }
        if let first, !spec.pointee.repeatable {
            st.issues.append(FlagIssue(
                error: true, id: "duplicate-flag",
                message: "'\(spec.pointee.name)' is given more than once"
                    + (group.flag == first.spelled ? "" : " (here as '\(group.flag)')")
                    + "; the engine would silently keep the last value",
                origin: group.origin, notes: ["first given as '\(first.spelled)'"], related: first.origin))
        }
        if let msg = spec.pointee.deprecated {
            st.issues.append(FlagIssue(
                error: false, id: "deprecated-flag",
                message: "'\(group.flag)' is deprecated in \(catalog.engine) \(catalog.version): \(msg)",
                origin: group.origin))
        }
        let parsed = resolved.dottedPath == nil
            ? typedValue(g, spec: spec, negative: resolved.negative, issues: &st.issues)
            : dottedValue(g, issues: &st.issues)
        let repeatable = spec.pointee.repeatable
        st.flags.withSlot(idx, origin: group.origin) { slot in
            guard let value = parsed else {
                slot.invalid = true
                return
            }
            slot.invalid = false
            if let path = resolved.dottedPath {
                slot.value = FlagChecker.merge(slot.value, path: path, value: value)
            } else if repeatable, case .list(let more) = value, case .list(let prior)? = slot.value {
                slot.value = .list(prior + more)
            } else {
                slot.value = value
            }
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
