import DeployCore

/// Resolving a spelled flag to a catalog flag, and the name-level issues.
extension FlagChecker {
    /// A group's flag, resolved.
    struct Resolved {
        /// Index of the flag in `catalog.flags`.
        var index: Int
        var negative = false
        /// A value carried in the flag token itself (`-O3`, `-tp8`).
        var injectedValue: String?
        /// Key path of a dotted JSON key (`--compilation-config.mode` → `["mode"]`).
        var dottedPath: [String]?
    }

    /// Resolves `group.flag` as the engine's parser would; on failure appends the issue and returns
    /// nil. A unique abbreviation is accepted with a warning (an error when `strict`) that names the
    /// full flag, and resolved, so its value is checked too.
    func resolve(_ group: ArgGroup, issues: inout [FlagIssue]) -> Resolved? {
        let flag = group.flag
        let engine = catalog.engine, version = catalog.version
        switch catalog.resolveSpelling(flag) {
        case .exact(let i, let neg):
            // Only the message is read: binding `catalog.flags[i]` copied the whole spec for every flag.
            if let message = catalog.flags[i].removedMessage {
                let spec = catalog.flags[i]
                let msg = "'\(flag)' was removed from \(engine) (\(version) fails on it: \"\(message)\")"
                    + Self.useClause(spec.replacements)
                issues.append(FlagIssue(error: true, id: "removed-flag", message: msg, origin: group.origin,
                                        fixIt: spec.replacements.count == 1 ? spec.replacements[0] : nil))
                return nil
            }
            return Resolved(index: i, negative: neg)
        case .injected(let i, let value):
            return Resolved(index: i, injectedValue: value)
        case .dotted(let i, let path, let value):
            return Resolved(index: i, injectedValue: value, dottedPath: path)
        case .abbreviation(let i, let neg, let full):
            var notes = ["\(engine) \(version) accepts an unambiguous prefix, but a flag added later with the "
                         + "same prefix makes it ambiguous; dsdeploy renders '\(full)'"]
            if let r = catalog.removal(of: flag) {
                notes.insert("'\(flag)' itself was removed in \(engine) \(r.removedIn); the engine now reads it as '\(full)'", at: 0)
            } else if let n = catalog.introduction(of: flag) {
                notes.insert("'\(flag)' itself appears in \(engine) \(n.firstSeen); this version reads it as '\(full)'", at: 0)
            }
            issues.append(FlagIssue(
                error: strict, id: "abbreviated-flag",
                message: "'\(flag)' abbreviates '\(full)'" + (strict ? "; strict mode wants the full name" : ""),
                origin: group.origin, notes: notes, fixIt: full))
            return Resolved(index: i, negative: neg)
        case .ambiguous(let candidates):
            if reportHistory(flag, group: group, issues: &issues) { return nil }
            let shown = candidates.prefix(6).map { "'\($0)'" }.joined(separator: ", ")
            let more = candidates.count > 6 ? ", … (\(candidates.count) flags)" : ""
            issues.append(FlagIssue(
                error: true, id: "abbreviated-flag",
                message: "'\(flag)' is an ambiguous abbreviation: it could be \(shown)\(more)",
                origin: group.origin,
                notes: ["\(engine) fails with \"ambiguous option: \(flag) could match "
                        + candidates.joined(separator: ", ") + "\""]))
            return nil
        case .unknown:
            if reportHistory(flag, group: group, issues: &issues) { return nil }
            let hint = EditDistance.didYouMean(flag, in: catalog.allNames)
            let fix = EditDistance.closest(to: flag, in: catalog.allNames)
            issues.append(FlagIssue(
                error: true, id: "unknown-flag",
                message: "unknown flag '\(flag)' for \(engine) \(version)\(hint)", origin: group.origin,
                fixIt: fix))
            return nil
        }
    }

    /// `"; use 'a' or 'b'"`, or "" when there is no replacement.
    static func useClause(_ replacements: [String]) -> String {
        replacements.isEmpty ? "" : "; use " + replacements.map { "'\($0)'" }.joined(separator: " or ")
    }

    /// A flag removed before, or added after, this version: reports it and returns true.
    private func reportHistory(_ flag: String, group: ArgGroup, issues: inout [FlagIssue]) -> Bool {
        let engine = catalog.engine, version = catalog.version
        if let r = catalog.removal(of: flag) {
            let msg = (r.approximate
                ? "'\(flag)' is not in \(engine) \(version) (last seen in \(r.lastSeen); removed after it)"
                : "'\(flag)' was removed in \(engine) \(r.removedIn) (last in \(r.lastSeen))") + Self.useClause(r.replacements)
            issues.append(FlagIssue(error: true, id: "removed-flag", message: msg, origin: group.origin,
                                    notes: r.note.map { [$0] } ?? [],
                                    fixIt: r.replacements.count == 1 ? r.replacements[0] : nil))
            return true
        }
        if let i = catalog.introduction(of: flag) {
            let msg = i.approximate
                ? "'\(flag)' is not in \(engine) \(version); it appears in \(engine) \(i.firstSeen)"
                : "'\(flag)' was added in \(engine) \(i.firstSeen); this image has \(version)"
            issues.append(FlagIssue(error: true, id: "unknown-flag", message: msg, origin: group.origin,
                                    notes: ["use an image with \(engine) \(i.firstSeen) or newer, or drop the flag"]))
            return true
        }
        return false
    }
}

/// "Did you mean" for flag names and values: DeployCore's `Suggest` distance, with a typo
/// budget that ignores the leading dashes (so `--tp` vs `--pp` is not "one third" off).
enum EditDistance {
    /// Damerau–Levenshtein (optimal string alignment) distance in Unicode scalars.
    static func distance(_ a: String, _ b: String) -> Int {
        Suggest.distance(a, b)
    }

    /// The closest candidate within a typo budget of max(1, len/3) (ignoring leading dashes),
    /// case-insensitively; ties go to the alphabetically first.
    static func closest<S: Sequence>(to word: String, in candidates: S) -> String?
    where S.Element == String {
        let w = word.drop { $0 == "-" }.lowercased()
        let limit = max(1, w.count / 3)
        var best: (String, Int)?
        for c in candidates {
            let cw = c.drop { $0 == "-" }.lowercased()
            if abs(cw.count - w.count) > limit { continue }
            let d = distance(w, cw)
            if d <= limit, best.map({ d < $0.1 || (d == $0.1 && c < $0.0) }) ?? true {
                best = (c, d)
            }
        }
        return best?.0
    }

    /// `"; did you mean 'x'?"` or "".
    static func didYouMean<S: Sequence>(_ word: String, in candidates: S) -> String
    where S.Element == String {
        guard let c = closest(to: word, in: candidates) else { return "" }
        return "; did you mean '\(c)'?"
    }
}
