/// Arity and value typing of one group.
extension FlagChecker {
    /// The group's typed value, appending `missing-value` / `unexpected-value` /
    /// `invalid-value` issues; nil when the value is unusable. `spec` points into the catalog's
    /// storage and is read field by field: passing a `FlagSpec` value (even `borrowing`) copied all
    /// of its strings and arrays for every flag checked (~650 instructions).
    func typedValue(_ g: ArgGroup, spec: UnsafePointer<FlagSpec>, negative: Bool, issues: inout [FlagIssue]) -> FlagValue? {
        func issue(_ id: String, _ message: String, part: FlagIssue.Part = .flag, notes: [String] = []) {
            issues.append(FlagIssue(error: true, id: id, message: message, origin: g.origin, part: part,
                                    notes: notes))
        }
        if spec.pointee.arity == .none {  // `isPresence`, read without a computed getter (its `self` was a copy of the whole spec)
            if let v = g.values.first {
                var notes = ["write '\(g.flag)' alone to set it"]
                if let neg = spec.pointee.negativeNames.first, !negative { notes.append("use '\(neg)' to turn it off") }
                else if !negative { notes.append("leave it out to keep it off") }
                issue("unexpected-value", "'\(g.flag)' takes no value (got '\(v)')", part: .value(0), notes: notes)
            }
            return .bool(!negative)
        }
        if let t = g.values.first(where: { $0.hasPlaceholder }), g.values.count == 1 || spec.pointee.arity != .one {
            return .templated(g.values.count == 1 ? t : g.values.joined(separator: " "))
        }
        switch spec.pointee.arity {
        case .none:
            return .bool(!negative)
        case .one, .optional:
            guard let raw = g.values.first else {
                if spec.pointee.arity == .optional { return .bool(true) }
                issue("missing-value", "'\(g.flag)' needs a value" + FlagChecker.expectation(spec.pointee))
                return nil
            }
            if g.values.count > 1 {
                // vLLM 0.13+: `-O.level=3` is `-O` (its optimization level) with the value `.level`,
                // then a stray `3`; 0.11–0.12 read it as a key of --compilation-config.
                var notes: [String] = []
                if g.flag.hasPrefix("-O."), catalog.parser.dashOTarget != nil, catalog.parser.dashODot == nil,
                   let alias = catalog.canonicalSpec(for: "--compilation-config").map({ $0.aliases.first { $0.hasPrefix("-") && !$0.hasPrefix("--") } ?? $0.name }) {
                    let key = g.flag.dropFirst(3)
                    notes.append("\(catalog.engine) \(catalog.version) reads '\(g.flag)' as '-O' with the value '.\(key)': "
                                 + "'-O.<key>' stopped working in vLLM 0.13.0; a key of --compilation-config is '\(alias).\(key)'")
                }
                issue("unexpected-value", "'\(g.flag)' takes one value; '\(g.values[1])' is extra",
                      part: .value(1), notes: notes)
            }
            if spec.pointee.valueType == .list {  // argparse `append`: one element per occurrence
                return scalar(raw, type: spec.pointee.elementType ?? .string, spec: spec, g: g, part: .value(0),
                              issues: &issues).map { .list([$0]) }
            }
            return scalar(raw, type: spec.pointee.valueType, spec: spec, g: g, part: .value(0), issues: &issues)
        case .oneOrMore, .zeroOrMore:
            var elements: [FlagValue] = []
            var ok = true
            for (i, raw) in g.values.enumerated() {
                for word in ArgGroup.splitListValue(raw) {
                    let type = spec.pointee.elementType ?? (spec.pointee.valueType == .list ? .string : spec.pointee.valueType)
                    if let v = scalar(word, type: type, spec: spec, g: g, part: .value(i), issues: &issues) {
                        elements.append(v)
                    } else {
                        ok = false
                    }
                }
            }
            if elements.isEmpty, ok, spec.pointee.arity == .oneOrMore {
                issue("missing-value", "'\(g.flag)' needs at least one value" + FlagChecker.expectation(spec.pointee))
                return nil
            }
            return ok ? .list(elements) : nil
        }
    }

    /// One scalar token typed as `type`, with choices / valid-values checks.
    func scalar(_ raw: String, type: FlagSpec.ValueType, spec: UnsafePointer<FlagSpec>, g: ArgGroup,
                part: FlagIssue.Part, issues: inout [FlagIssue]) -> FlagValue? {
        if raw.hasPlaceholder { return .templated(raw) }
        if spec.pointee.noneMeansNull, raw == "None" { return .json(.null) }
        func invalid(_ message: String, _ notes: [String] = []) -> FlagValue? {
            if spec.pointee.alsoAccepts.contains(raw) { return .string(raw) }
            issues.append(FlagIssue(error: true, id: "invalid-value", message: message, origin: g.origin,
                                    part: part, notes: notes))
            return nil
        }
        let value: FlagValue
        switch type {
        case .string, .list:
            value = .string(raw)
        case .int:
            if spec.pointee.acceptsSuffix {
                switch ValueParser.humanReadableInt(raw, style: spec.pointee.suffixStyle) {
                case .success(let i): value = .int(i)
                case .failure(let p):
                    return invalid("invalid integer '\(raw)' for '\(g.flag)': \(p.message)", p.notes)
                }
            } else if let i = ValueParser.pythonInt(raw) {
                value = .int(i)
            } else {
                return invalid("invalid integer '\(raw)' for '\(g.flag)'")
            }
        case .float:
            guard let d = ValueParser.pythonFloat(raw) else {
                return invalid("invalid number '\(raw)' for '\(g.flag)'")
            }
            value = .float(d)
        case .bool:
            guard let b = ValueParser.bool(raw) else {
                return invalid("invalid boolean '\(raw)' for '\(g.flag)'; use true or false")
            }
            value = .bool(b)
        case .json:
            let trimmed = raw.trimmingWhitespace()
            if spec.pointee.jsonOrString, !(trimmed.hasPrefix("{") || trimmed.hasPrefix("[")) { return .string(raw) }
            do {
                let j = try JSONReader.parse(raw)
                if spec.pointee.jsonShape == "list", case .array = j {} else if spec.pointee.jsonShape == "list" {
                    return invalid("'\(g.flag)' needs a JSON list, e.g. '[...]'")
                }
                value = .json(j)
            } catch {
                return invalid("invalid JSON for '\(g.flag)': \(error.message) at character \(error.offset + 1)")
            }
        }
        // Nothing to check against: what checkAllowed returns, without forming the `invalid` closure
        // (its context copied the flag's spec and group for every value).
        if spec.pointee.choices.isEmpty, spec.pointee.validValues.isEmpty { return value }
        return checkAllowed(value, raw: raw, spec: spec, g: g, invalid: invalid)
    }

    /// argparse `choices` (exact) then `validValues` (engine case rule; normalised spelling).
    private func checkAllowed(_ value: FlagValue, raw: String, spec: UnsafePointer<FlagSpec>, g: ArgGroup,
                              invalid: (String, [String]) -> FlagValue?) -> FlagValue? {
        let text = value.stringValue ?? raw
        if !spec.pointee.choices.isEmpty, !spec.pointee.choices.contains(text) {
            if let ci = spec.pointee.choices.first(where: { $0.lowercased() == text.lowercased() }) {
                return invalid("invalid choice '\(raw)' for '\(g.flag)'; choices are case-sensitive: "
                               + "did you mean '\(ci)'?", [])
            }
            return invalid("invalid choice '\(raw)' for '\(g.flag)'"
                           + EditDistance.didYouMean(text, in: spec.pointee.choices),
                           [FlagChecker.listing("choose from", spec.pointee.choices)])
        }
        guard !spec.pointee.validValues.isEmpty else { return value }
        if spec.pointee.caseInsensitiveValues {
            if let hit = spec.pointee.validValues.first(where: { $0.lowercased() == text.lowercased() }) {
                return .string(hit)
            }
        } else if spec.pointee.validValues.contains(text) {
            return value
        }
        let what = spec.pointee.name == "--speculative-algorithm" ? "speculative algorithm" : "value"
        return invalid("unknown \(what) '\(raw)' for '\(g.flag)' in \(catalog.engine) \(catalog.version)"
                       + EditDistance.didYouMean(text, in: spec.pointee.validValues),
                       [FlagChecker.listing("valid values" + (spec.pointee.caseInsensitiveValues ? " (any case)" : ""),
                                            spec.pointee.validValues),
                        "a custom image can declare extra values (catalog extension)"])
    }

    /// `" (an int)"`-style hint for missing values.
    static func expectation(_ spec: FlagSpec) -> String {
        if !spec.choices.isEmpty { return "; " + listing("one of", spec.choices) }
        switch spec.elementType ?? spec.valueType {
        case .int: return " (an integer)"
        case .float: return " (a number)"
        case .json: return " (JSON)"
        case .bool: return " (true or false)"
        default: return ""
        }
    }

    /// "label: a, b, c" (long lists shortened).
    static func listing(_ label: String, _ values: [String]) -> String {
        let shown = values.prefix(16).joined(separator: ", ")
        return "\(label): \(shown)" + (values.count > 16 ? ", … (\(values.count) in all)" : "")
    }
}
