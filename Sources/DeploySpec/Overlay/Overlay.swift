import DeployCore

/// `kind: Overlay`: a named environment that changes the deployments of a base manifest.
struct OverlayDocument: Sendable {
    /// metadata.name (`staging`).
    var name: String
    /// The file it is written in.
    var file: String
    /// Where `metadata.name` is.
    var location: SourceLocation
    /// `spec.base` as written (relative to `file`).
    var base: Located<String>
    /// Changes per deployment, in the order written.
    var patches: [DeploymentPatch]

    /// The base file, resolved against the overlay's directory.
    var baseFile: String { ManifestPath.normalize(ManifestPath.resolve(base.value, from: file)) }
}

/// The changes an overlay (or `--values`/`--set`) makes to one deployment.
struct DeploymentPatch: Sendable {
    /// The deployment's name, where the overlay names it.
    var deployment: Located<String>
    /// Set and remove operations, in the order they apply (every `set`, then every `remove`).
    var ops: [PatchOp]
}

/// One change: set a path to a value, or remove it.
struct PatchOp: Sendable {
    /// Set to a YAML value (typed later, by the schema or the engine catalog), or remove.
    enum Kind: Sendable {
        case set(YAMLNode)
        case remove
    }
    /// The path, relative to the deployment, where it is written.
    var path: Located<String>
    /// What to do.
    var kind: Kind
}

/// A change to a deployment's engine flags, applied once the flag catalog is known (so an alias,
/// an abbreviation or `--k=v` in the base matches the flag an overlay names).
struct ArgPatch: Sendable {
    enum Op: Sendable {
        /// Set a flag: replace every entry with its canonical name (the first in place), else append.
        /// `values` are the value words (none: a presence flag); `boolean` is set when the value was
        /// written as a YAML boolean (`true` adds a presence flag, `false` removes it).
        case set(flag: Located<String>, values: [Located<String>], boolean: Bool?)
        /// Remove every entry with the flag's canonical name.
        case remove(Located<String>)
        /// Replace the whole list (`set: {args: [...]}`; `remove: [args]` empties it).
        case replaceAll([Located<String>])
    }
    /// What to do.
    var op: Op
    /// Who does it, for messages: `overlay 'staging'`, `--set`, `--values FILE`.
    var layer: String
}

/// A note attached to every diagnostic at a value an overlay (or a setting) wrote: what it replaced.
struct OverrideNote: Sendable, Hashable {
    /// Where the overriding value is written.
    var location: SourceLocation
    /// The note (`replaces the value at manifests/dspark.yaml:24:13`).
    var text: String
}
