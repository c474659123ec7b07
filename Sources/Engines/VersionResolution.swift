/// How an engine version a manifest names (or an image tag carries) maps to a surveyed catalog.
///
/// The rules, in order (docs/engines.md, "Version resolution"):
/// 1. **exact** — a surveyed version equal in the numeric order (`0.33` is `0.33.0`).
/// 2. **same release** — differs from a surveyed one only in its post/dev/rc suffix, or (vLLM) in
///    its patch number: SGLang `0.5.21.post1` → `0.5.21`, `0.5.6` → `0.5.6.post2`, vLLM `0.19.0` →
///    `0.19.1`. Flags do not change within a release, so this is a note, not a warning.
/// 3. **between** — the nearest older surveyed version (a warning naming it): a flag added in
///    between is reported as unknown, never silently accepted.
/// 4. **newer than the newest** — the newest (a warning); **older than the oldest** — the oldest
///    (a warning).
public struct VersionResolution: Hashable, Sendable {
    /// How the requested version relates to the catalog chosen.
    public enum Match: String, Hashable, Sendable, Codable {
        /// A surveyed version.
        case exact
        /// The same release with another post/dev suffix or (vLLM) patch number.
        case sameRelease = "same-release"
        /// Between two surveyed versions: the nearest older one.
        case olderSurveyed = "nearest-older"
        /// Newer than every surveyed version: the newest.
        case newest
        /// Older than every surveyed version: the oldest.
        case oldest
    }

    /// The engine.
    public var engine: EngineKind
    /// The version as requested.
    public var requested: String
    /// The surveyed version whose catalog is used.
    public var catalogVersion: String
    /// How they relate.
    public var match: Match

    /// Creates a resolution.
    public init(engine: EngineKind, requested: String, catalogVersion: String, match: Match) {
        self.engine = engine
        self.requested = requested
        self.catalogVersion = catalogVersion
        self.match = match
    }

    /// True when the catalog is only an approximation of the requested version (a warning).
    public var isApproximate: Bool { match != .exact && match != .sameRelease }

    /// One sentence for a note or warning; nil for an exact match.
    public var explanation: String? { explanation(subject: "\(engine.rawValue) \(requested)") }

    /// The same sentence about `subject` ("it", when the sentence follows one naming the version).
    public func explanation(subject: String) -> String? {
        let e = engine.rawValue, c = catalogVersion
        switch match {
        case .exact: return nil
        case .sameRelease:
            return "\(subject) is checked with the flags of \(e) \(c) (same release; flags do not change within one)"
        case .olderSurveyed:
            return "\(subject) has no flag catalog of its own; it is checked with the nearest older one, \(c): "
                + "flags added after \(c) are reported as unknown"
        case .newest:
            return "\(subject) is newer than the newest flag catalog; it is checked with \(c): "
                + "flags added after \(c) are reported as unknown"
        case .oldest:
            return "\(subject) is older than the oldest flag catalog; it is checked with \(c): "
                + "flags removed before \(c) are not known"
        }
    }

    /// True for `v?N(.N)*` with an optional `.postN`/`.devN`/`rcN`/`aN`/`bN` suffix and `+local` part,
    /// or a llama.cpp build `bN`: a typo such as `0.5.2x` is not silently read as `0.5.2`.
    public static func isWellFormed(_ text: String) -> Bool {
        var body = Substring(text)
        if let plus = body.firstIndex(of: "+") { body = body[..<plus] }
        if body.first == "v" || body.first == "V" { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard !parts.isEmpty else { return false }
        func digits(_ s: Substring) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isNumber } }
        func suffix(_ s: Substring) -> Bool {
            for tag in ["post", "dev", "rc", "a", "b"] where s.hasPrefix(tag) {
                let n = s.dropFirst(tag.count)
                return n.isEmpty || digits(n)
            }
            return false
        }
        if parts.count == 1, parts[0].first == "b", digits(parts[0].dropFirst()) { return true }
        guard digits(parts[0]) else { return false }
        for (i, p) in parts.enumerated().dropFirst() {
            if digits(p) { continue }
            let lead = p.prefix { $0.isASCII && $0.isNumber }
            // a suffix stands alone (`.post1`) or right after the last number (`0rc1`), and ends the version
            guard i == parts.count - 1, suffix(lead.isEmpty ? p : p.dropFirst(lead.count)) else { return false }
        }
        return true
    }

    /// Resolves `requested` among `known` (surveyed versions of `engine`); nil when `requested`
    /// has no version number at all (`latest`) or nothing is known.
    public static func resolve(_ requested: String, engine: EngineKind, known: [String]) -> VersionResolution? {
        let target = EngineVersion(requested)
        guard !known.isEmpty, isWellFormed(requested), !target.components.isEmpty else { return nil }
        let sorted = known.map { ($0, EngineVersion($0)) }.sorted { $0.1 < $1.1 }
        func make(_ v: String, _ m: Match) -> VersionResolution {
            VersionResolution(engine: engine, requested: requested, catalogVersion: v, match: m)
        }
        if let same = sorted.first(where: { $0.0 == requested }) ?? sorted.first(where: { $0.1 == target }) {
            return make(same.0, .exact)
        }
        // Same release: equal release components (SGLang/llama.cpp), or equal major.minor (vLLM, which is
        // surveyed by the newest patch of each minor release).
        let width: Int
        switch engine {
        case .vllm: width = 2
        case .sglang, .sglangRouter: width = max(3, target.components.count)
        case .llamaCpp: width = 1
        }
        func key(_ v: EngineVersion) -> [Int] {
            var c = Array(v.components.prefix(width))
            while c.count < width { c.append(0) }
            return c
        }
        // Only the suffix differs, or (vLLM) a surveyed later patch of the same minor covers it. An
        // earlier patch of a newer request is only the nearest older one (0.11.2 has flags 0.11.0 lacks).
        let release = sorted.filter { key($0.1) == key(target) }
        let sameNumbers = release.filter { $0.1.components == target.components }
        if let pick = sameNumbers.last(where: { $0.1 <= target }) ?? sameNumbers.first {
            return make(pick.0, .sameRelease)
        }
        if let later = release.first(where: { target < $0.1 }) { return make(later.0, .sameRelease) }
        if target < sorted[0].1 { return make(sorted[0].0, .oldest) }
        if let newest = sorted.last, newest.1 < target { return make(newest.0, .newest) }
        let older = sorted.last { $0.1 < target } ?? sorted[0]
        return make(older.0, .olderSurveyed)
    }
}

/// Reads the engine version an image tag carries.
///
/// `lmsysorg/sglang:v0.5.21.post1-cu129` → `0.5.21.post1`, `vllm/vllm-openai:v0.19.0` → `0.19.0`,
/// `ghcr.io/ggml-org/llama.cpp:server-b6341` → `b6341`; `latest`, `server`, `server-cuda` → nil.
public enum ImageTag {
    /// The tag of an image reference (`registry:5000/a/b:tag@sha256:…` → `tag`), nil when untagged.
    public static func tag(of image: String) -> String? {
        var ref = Substring(image)
        if let at = ref.firstIndex(of: "@") { ref = ref[..<at] }
        guard let colon = ref.lastIndex(of: ":") else { return nil }
        if let slash = ref.lastIndex(of: "/"), slash > colon { return nil }  // a registry port
        let tag = ref[ref.index(after: colon)...]
        return tag.isEmpty ? nil : String(tag)
    }

    /// The engine version in the image's tag, nil when the tag carries none.
    public static func engineVersion(image: String, engine: EngineKind) -> String? {
        guard let tag = tag(of: image) else { return nil }
        let parts = tag.split(whereSeparator: { $0 == "-" || $0 == "_" })
        switch engine {
        case .llamaCpp:
            // server-b6341, server-cuda-b6341, full-b6341, b6341
            for p in parts where p.count > 1 && p.first == "b" && p.dropFirst().allSatisfy(\.isNumber) {
                return String(p)
            }
            return nil
        case .sglang, .vllm, .sglangRouter:
            // v0.5.21.post1-cu129, 0.19.0, v0.6.0rc1, nightly-0.5.22.dev3-…
            for p in parts {
                var s = Substring(p)
                if s.first == "v" || s.first == "V" { s = s.dropFirst() }
                guard s.first?.isNumber == true, s.contains("."),
                      s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." }) else { continue }
                let numbers = s.split(separator: ".").prefix { $0.allSatisfy(\.isNumber) }
                guard numbers.count >= 2 else { continue }
                return String(s)
            }
            return nil
        }
    }
}

extension CatalogStore {
    /// The catalog for `version` under the resolution rules of `VersionResolution`.
    public func catalog(_ engine: EngineKind, resolving version: String) throws(CatalogError)
        -> (catalog: FlagCatalog, resolution: VersionResolution) {
        guard let r = VersionResolution.resolve(version, engine: engine, known: versions(of: engine)) else {
            throw CatalogError.unknownVersion(engine: engine, version: version, known: versions(of: engine),
                                              suggestion: nil)
        }
        return (try catalog(engine, version: r.catalogVersion), r)
    }

    /// `shared.catalog(engine, resolving:)`.
    public static func catalog(_ engine: EngineKind, resolving version: String) throws(CatalogError)
        -> (catalog: FlagCatalog, resolution: VersionResolution) {
        try shared.catalog(engine, resolving: version)
    }

    /// The catalog for `version` when it resolves, else nil (runtime helpers that only need a best effort).
    public static func resolvedCatalog(_ engine: EngineKind, version: String) -> FlagCatalog? {
        try? shared.catalog(engine, resolving: version).catalog
    }
}
