import DeployCore

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
