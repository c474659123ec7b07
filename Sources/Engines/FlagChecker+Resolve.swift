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

    /// Resolves `group.flag`; on failure appends the issue and returns nil. A unique
    /// abbreviation is reported but still resolved, so its value is checked too.
    func resolve(_ group: ArgGroup, issues: inout [FlagIssue]) -> Resolved? {
        let flag = group.flag
        if let (i, neg) = catalog.lookup(flag) { return Resolved(index: i, negative: neg) }

        if !flag.hasPrefix("--") {
            // vLLM rewrites -O<n> to --optimization-level <n>.
            if let target = catalog.parser.dashOTarget, flag.hasPrefix("-O"), let (i, _) = catalog.lookup(target) {
                let rest = String(flag.dropFirst(2))
                return Resolved(index: i, injectedValue: rest.isEmpty ? nil : rest)
            }
            // argparse: a two-character short option may carry its value (`-O3`).
            if flag.count > 2, catalog.parser.allowsAbbreviations, let (i, _) = catalog.lookup(String(flag.prefix(2))),
               !catalog.flags[i].isPresence {
                return Resolved(index: i, injectedValue: String(flag.dropFirst(2)))
            }
        }
        if flag.hasPrefix("--"), let dot = flag.firstIndex(of: "."),
           let (i, _) = catalog.lookup(String(flag[..<dot])), catalog.flags[i].dottedKeys {
            let path = flag[flag.index(after: dot)...].split(separator: ".").map(String.init)
            if !path.isEmpty { return Resolved(index: i, dottedPath: path) }
        }

        let engine = catalog.engine, version = catalog.version
        if let r = catalog.removal(of: flag) {
            var msg = r.approximate
                ? "'\(flag)' is not in \(engine) \(version) (last seen in \(r.lastSeen); removed after it)"
                : "'\(flag)' was removed in \(engine) \(r.removedIn) (last in \(r.lastSeen))"
            if !r.replacements.isEmpty {
                msg += "; use " + r.replacements.map { "'\($0)'" }.joined(separator: " or ")
            }
            issues.append(FlagIssue(error: true, id: "removed-flag", message: msg, origin: group.origin,
                                    notes: r.note.map { [$0] } ?? []))
            return nil
        }
        if let i = catalog.introduction(of: flag) {
            let msg = i.approximate
                ? "'\(flag)' is not in \(engine) \(version); it appears in \(engine) \(i.firstSeen)"
                : "'\(flag)' was added in \(engine) \(i.firstSeen); this image has \(version)"
            issues.append(FlagIssue(error: true, id: "unknown-flag", message: msg, origin: group.origin,
                                    notes: ["use an image with \(engine) \(i.firstSeen) or newer, or drop the flag"]))
            return nil
        }

        let candidates = catalog.prefixMatches(flag)
        let targets = Set(candidates.compactMap { catalog.match($0) }.map { $0.spec.name })
        if catalog.parser.allowsAbbreviations, !candidates.isEmpty {
            if targets.count == 1, let (i, neg) = catalog.lookup(candidates[0]) {
                let full = candidates.count == 1 ? candidates[0] : catalog.flags[i].name
                issues.append(FlagIssue(
                    error: true, id: "abbreviated-flag",
                    message: "'\(flag)' abbreviates '\(full)'; write the flag in full",
                    origin: group.origin,
                    notes: ["\(engine) accepts unambiguous prefixes, but a flag added later "
                            + "with the same prefix would make it ambiguous"]))
                return Resolved(index: i, negative: neg)
            }
            let shown = candidates.prefix(6).map { "'\($0)'" }.joined(separator: ", ")
            let more = candidates.count > 6 ? ", … (\(candidates.count) flags)" : ""
            issues.append(FlagIssue(
                error: true, id: "abbreviated-flag",
                message: "'\(flag)' is an ambiguous abbreviation: it could be \(shown)\(more)",
                origin: group.origin))
            return nil
        }

        var hint = EditDistance.didYouMean(flag, in: catalog.allNames)
        if hint.isEmpty, targets.count == 1, let only = targets.first { hint = "; did you mean '\(only)'?" }
        issues.append(FlagIssue(
            error: true, id: "unknown-flag",
            message: "unknown flag '\(flag)' for \(engine) \(version)\(hint)", origin: group.origin))
        return nil
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
