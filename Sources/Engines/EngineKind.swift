/// An inference engine dsdeploy knows the flags of.
public enum EngineKind: String, CaseIterable, Codable, Hashable, Sendable, CustomStringConvertible {
    /// SGLang (`sglang serve` / `python -m sglang.launch_server`).
    case sglang
    /// vLLM (`vllm serve`).
    case vllm
    /// llama.cpp's `llama-server`.
    case llamaCpp = "llama.cpp"
    /// SGLang's router (`sglang-router`, the SGLang Model Gateway): the front of a prefill/decode
    /// deployment. Not a backend engine: dsdeploy runs it for `disaggregation`, with its own catalog.
    case sglangRouter = "sglang-router"

    /// The engine's name as manifests and messages spell it.
    public var description: String { rawValue }
}

/// An engine version string with a numeric order: `0.5.9 < 0.5.10 < 0.5.10.post1`, `b5999 < b6000`.
public struct EngineVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The version as written.
    public let text: String
    /// Numeric release components (`0.5.10.post1` → `[0, 5, 10]`, `b6000` → `[6000]`).
    public let components: [Int]
    /// The `.postN` number, 0 when absent.
    public let post: Int
    /// The `.devN` / `rcN` number when the version is a pre-release (sorts before the release).
    public let pre: Int?

    /// Parses a version: a leading `v` and a `+local` part are ignored; `postN` is a post-release,
    /// `devN`, `rcN`, `aN` pre-releases (PEP 440); other parts that are not numbers count as 0.
    public init(_ text: String) {
        self.text = text
        var body = Substring(text)
        if let plus = body.firstIndex(of: "+") { body = body[..<plus] }
        if body.first == "v" || body.first == "V", body.dropFirst().first?.isNumber == true { body = body.dropFirst() }
        var comps: [Int] = []
        var post = 0
        var pre: Int?
        func suffix(_ part: Substring) -> Bool {
            for (tag, isPost) in [("post", true), ("dev", false), ("rc", false), ("a", false)]
            where part.hasPrefix(tag) {
                let n = Int(part.dropFirst(tag.count)) ?? 0
                if isPost { post = n } else { pre = n }
                return true
            }
            return false
        }
        for (i, part) in body.split(separator: ".", omittingEmptySubsequences: false).enumerated() {
            if let n = Int(part) {
                comps.append(n)
            } else if i == 0, part.hasPrefix("b"), let n = Int(part.dropFirst()) {
                comps.append(n)  // llama.cpp build number
            } else if suffix(part) {
                continue
            } else {
                // `21post1`, `0rc1`: leading digits, then a suffix.
                let digits = part.prefix { $0.isASCII && $0.isNumber }
                comps.append(Int(digits) ?? 0)
                _ = suffix(part.dropFirst(digits.count))
            }
        }
        self.components = comps
        self.post = post
        self.pre = pre
    }

    /// The version as written.
    public var description: String { text }

    /// Numeric order; missing components count as 0 (`0.5` == `0.5.0`), then pre-release < release < `.postN`.
    public static func < (lhs: EngineVersion, rhs: EngineVersion) -> Bool {
        let n = max(lhs.components.count, rhs.components.count)
        for i in 0..<n {
            let a = i < lhs.components.count ? lhs.components[i] : 0
            let b = i < rhs.components.count ? rhs.components[i] : 0
            if a != b { return a < b }
        }
        // A pre-release sorts before its release, a post-release after it.
        let l = (lhs.pre == nil ? 1 : 0, lhs.pre ?? 0, lhs.post), r = (rhs.pre == nil ? 1 : 0, rhs.pre ?? 0, rhs.post)
        return l < r
    }

    /// Equal in the numeric order (`0.33` == `0.33.0`).
    public static func == (lhs: EngineVersion, rhs: EngineVersion) -> Bool {
        !(lhs < rhs) && !(rhs < lhs)
    }

    /// Hashes consistently with `==` (trailing zero components ignored).
    public func hash(into hasher: inout Hasher) {
        var comps = components
        while comps.last == 0 { comps.removeLast() }
        hasher.combine(comps)
        hasher.combine(post)
        hasher.combine(pre)
    }
}
