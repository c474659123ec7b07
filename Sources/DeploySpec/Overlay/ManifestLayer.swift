public import DeployCore

/// Which layer of an environment a manifest file is: where a resolved value came from.
///
/// A file is the base unless it holds an `Overlay` document, is the `--set` pseudo-file, or was given
/// with `--values`. Provenance (`ValueOrigin`) is a location plus the layer of its file.
public enum ManifestLayer: Sendable, Hashable, Codable {
    /// An overlay file; its `Overlay` document's `metadata.name`.
    case overlay(String)
    /// A `--values FILE`.
    case values
    /// The `--set` arguments (the pseudo-file `--set`, one argument per line).
    case set

    /// The pseudo-file name under which `--set` arguments are located (line N = the Nth `--set`).
    public static let setFile = "--set"
}

/// Where a resolved value was written: file, line and column, and which layer that file is.
public struct ValueOrigin: Sendable, Hashable, Codable {
    /// The layer kind: `base`, `overlay`, `values` or `set`.
    public var layer: String
    /// The overlay's name when `layer` is `overlay`.
    public var overlay: String?
    /// The file as given (`--set` for a `--set` argument).
    public var file: String
    /// 1-based line (for `--set`: which argument).
    public var line: Int
    /// 1-based column.
    public var column: Int

    /// The origin of a location, given the layers of the loaded files.
    public init(_ location: SourceLocation, layers: [String: ManifestLayer]) {
        file = location.file
        line = location.line
        column = location.column
        switch layers[location.file] {
        case .overlay(let name)?: layer = "overlay"; overlay = name
        case .values?: layer = "values"
        case .set?: layer = "set"
        case nil: layer = "base"
        }
    }

    /// True when a base manifest (not an overlay, `--values` or `--set`) wrote the value.
    public var isBase: Bool { layer == "base" }

    /// `manifests/envs/staging.yaml:14 (overlay staging)`, `manifests/dspark.yaml:27`, `--set:1`.
    public var description: String {
        let place = "\(file):\(line)"
        switch layer {
        case "overlay": return "\(place) (overlay \(overlay ?? ""))"
        case "values": return "\(place) (--values)"
        default: return place
        }
    }
}

/// Settings given on the command line on top of the manifests: `--values FILE` (applied first, in
/// order) and `--set PATH=VALUE` (applied last, in order).
public struct ManifestSettings: Sendable, Hashable {
    /// `--set` arguments as written (`deployments.dspark.replicas=2`).
    public var set: [String]
    /// `--values` files.
    public var valuesFiles: [String]

    /// Creates settings.
    public init(set: [String] = [], valuesFiles: [String] = []) {
        self.set = set
        self.valuesFiles = valuesFiles
    }

    /// True when there is nothing to apply.
    public var isEmpty: Bool { self.set.isEmpty && valuesFiles.isEmpty }
}
