/// An inference engine dsdeploy knows the flags of.
public enum EngineKind: String, CaseIterable, Codable, Hashable, Sendable, CustomStringConvertible {
    /// SGLang (`sglang serve` / `python -m sglang.launch_server`).
    case sglang
    /// vLLM (`vllm serve`).
    case vllm
    /// llama.cpp's `llama-server`.
    case llamaCpp = "llama.cpp"

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

    /// Parses a version; parts that are not numbers count as 0.
    public init(_ text: String) {
        self.text = text
        var comps: [Int] = []
        var post = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            if let n = Int(part) {
                comps.append(n)
            } else if part.hasPrefix("post"), let n = Int(part.dropFirst(4)) {
                post = n
            } else if part.hasPrefix("b") || part.hasPrefix("v"), let n = Int(part.dropFirst()) {
                comps.append(n)
            } else {
                comps.append(Int(part.prefix { $0.isASCII && $0.isNumber }) ?? 0)
            }
        }
        self.components = comps
        self.post = post
    }

    /// The version as written.
    public var description: String { text }

    /// Numeric order; missing components count as 0 (`0.5` == `0.5.0`), then `.postN`.
    public static func < (lhs: EngineVersion, rhs: EngineVersion) -> Bool {
        let n = max(lhs.components.count, rhs.components.count)
        for i in 0..<n {
            let a = i < lhs.components.count ? lhs.components[i] : 0
            let b = i < rhs.components.count ? rhs.components[i] : 0
            if a != b { return a < b }
        }
        return lhs.post < rhs.post
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
    }
}
