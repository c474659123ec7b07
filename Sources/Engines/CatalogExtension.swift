/// Additions a custom engine image makes to the stock flag catalog.
///
/// A custom SGLang build may register an extra speculative algorithm or add private flags;
/// a manifest declares them and the checker then accepts them:
///
/// ```swift
/// let ext = CatalogExtension(extraValues: ["--speculative-algorithm": ["MYSPEC"]],
///                            extraFlags: [FlagSpec(name: "--my-knob", valueType: .int)])
/// let catalog = try CatalogStore.catalog(.sglang, version: "0.5.23").extended(with: ext)
/// ```
public struct CatalogExtension: Hashable, Sendable {
    /// Extra accepted values per flag (any spelling of the flag); they join the flag's
    /// `choices` when it has argparse choices, else its `validValues`.
    public var extraValues: [String: [String]]
    /// Extra flags the image accepts (a flag with an existing name replaces it).
    public var extraFlags: [FlagSpec]

    /// Creates an extension.
    public init(extraValues: [String: [String]] = [:], extraFlags: [FlagSpec] = []) {
        self.extraValues = extraValues
        self.extraFlags = extraFlags
    }

    /// True when the extension adds nothing.
    public var isEmpty: Bool { extraValues.values.allSatisfy(\.isEmpty) && extraFlags.isEmpty }
}

/// Why a catalog could not be provided.
public enum CatalogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The engine has no catalog for this version; `known` lists those it has (oldest first).
    case unknownVersion(engine: EngineKind, version: String, known: [String], suggestion: String?)
    /// A bundled catalog file is missing.
    case missingResource(String)
    /// A bundled catalog file could not be decoded.
    case malformed(file: String, reason: String)

    /// A one-line message (the version list included for `unknownVersion`).
    public var description: String {
        switch self {
        case let .unknownVersion(engine, version, known, suggestion):
            var msg = "no \(engine) flag catalog for version '\(version)'"
            if let s = suggestion { msg += "; did you mean '\(s)'?" }
            msg += " (known: " + (known.isEmpty ? "none" : known.joined(separator: ", ")) + ")"
            return msg
        case .missingResource(let name):
            return "engine catalog resource '\(name)' is missing from the bundle"
        case let .malformed(file, reason):
            return "engine catalog '\(file)' is malformed: \(reason)"
        }
    }
}
