/// "Did you mean" suggestions by edit distance.
public enum Suggest {
    /// Damerau–Levenshtein (optimal string alignment) distance between two strings.
    public static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev2 = [Int](repeating: 0, count: y.count + 1)
        var prev = Array(0...y.count)
        var cur = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            cur[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                var v = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    v = Swift.min(v, prev2[j - 2] + 1)
                }
                cur[j] = v
            }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return prev[y.count]
    }

    /// The closest candidate to `word`, if it is close enough to be a plausible typo.
    ///
    /// Close enough: distance at most max(1, len/3), or one is a prefix of the other.
    public static func closest<S: Sequence>(to word: String, in candidates: S) -> String?
    where S.Element == String {
        var best: (String, Int)?
        let limit = Swift.max(1, word.count / 3)
        for c in candidates {
            let d = distance(word.lowercased(), c.lowercased())
            if d <= limit, best.map({ d < $0.1 || (d == $0.1 && c < $0.0) }) ?? true {
                best = (c, d)
            }
        }
        return best?.0
    }

    /// A " did you mean 'x'?" suffix, or "" when nothing is close.
    public static func didYouMean<S: Sequence>(_ word: String, in candidates: S) -> String
    where S.Element == String {
        guard let c = closest(to: word, in: candidates) else { return "" }
        return "; did you mean '\(c)'?"
    }
}
