public import DeployCore
public import Engines

/// Where an engine flag of a replica came from.
public enum ArgSource: String, Sendable, Codable, Hashable {
    /// The backend version's run-command template.
    case template
    /// The backend version's default `args`.
    case backend
    /// The deployment's `args`.
    case deployment
}

/// One engine flag of a deployment, as written, with its origin.
public struct ArgEntry: Sendable, Hashable {
    /// Where it came from.
    public var source: ArgSource
    /// The grouped flag and values as written (template values still contain placeholders).
    public var group: ArgGroup
    /// Canonical flag name when the catalog knows the flag.
    public var canonicalName: String?
    /// Where the final value was written: the run command, the backend's entry, or the deployment's
    /// entry in the base, an overlay or a `--set` (the layer comes from `ResolvedDeployment.layers`).
    public var location: SourceLocation? = nil
}

/// A deployment with its backend, version and flag catalog resolved: what render and diff need.
public struct ResolvedDeployment: Sendable {
    /// The deployment as written.
    public var deployment: Deployment
    /// Its backend.
    public var backend: Backend
    /// Its backend version.
    public var version: BackendVersion
    /// The flag catalog of the version's engine version (with the image's extensions).
    public var catalog: FlagCatalog
    /// Its target; nil for the embedded local target.
    public var target: TargetConfig?
    /// Engine flags in argv order: template, then backend defaults not overridden, then deployment args.
    public var args: [ArgEntry]
    /// Canonical flag set of backend + deployment args (template flags excluded: they vary per replica).
    public var flagSet: FlagSet
    /// Environment: backend defaults overridden by the deployment, in order.
    public var env: [EnvVar]
    /// True when its target runs containers, so the `container` settings are part of what runs.
    public var runsInContainers: Bool = false
    /// What its Target document adds to the revision (`TargetTypeSchema.revisionParts`).
    public var targetRevisionParts: [String] = []
    /// The layer of every file that is not a base (overlays, `--values`, `--set`): provenance.
    public var layers: [String: ManifestLayer] = [:]

    /// Where a value at `location` came from.
    public func origin(of location: SourceLocation) -> ValueOrigin { ValueOrigin(location, layers: layers) }
}

/// The result of validation: the manifest, what could be resolved, and every diagnostic.
public struct ValidationResult: Sendable {
    /// The loaded manifest.
    public var manifest: Manifest
    /// Deployments that resolved (even when they have errors in their flags).
    public var deployments: [ResolvedDeployment]
    /// Every problem, sorted by location.
    public var diagnostics: [Diagnostic]

    /// True when no diagnostic is an error.
    public var isValid: Bool { !diagnostics.hasErrors }
}
