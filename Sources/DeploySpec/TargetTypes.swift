public import DeployCore

/// What DeploySpec knows of one target type: its fields and its checks. Each target type owns its
/// schema (`DeployTargets/<Type>/<Type>Kind.swift`); the executable passes the registered ones in,
/// so validation, decoding and `dsdeploy schema` learn a new type from its registration alone.
public struct TargetTypeSchema: Sendable {
    /// `spec.type`.
    public var type: String
    /// One line for `dsdeploy schema` and the docs.
    public var summary: String
    /// Its `spec` keys besides `type`.
    public var fields: [FieldSchema]
    /// True when its replicas may span several nodes (`nodes: N`).
    public var multiNode: Bool
    /// True when it runs replicas in containers (a deployment's `container` settings apply).
    public var containers: Bool
    /// True when it runs (local) or renders (kubernetes) prefill/decode disaggregation: the servers and
    /// sglang-router, whose workers dsdeploy registers as they become ready (local) or the router
    /// discovers by label (kubernetes).
    public var disaggregation: Bool = false
    /// True when it fetches a hub model itself and gives the engine a local path as `{{model_path}}`
    /// (GPUStack); false when the engine gets the hub id as written and must fetch it (local, docker,
    /// kubernetes).
    public var fetchesModels: Bool = false
    /// Problems of one Target document of this type (located at its fields).
    public var check: @Sendable (_ target: TargetConfig, _ files: (any ManifestFileSource)?) -> [Diagnostic]
    /// Problems of a deployment that runs on a target of this type.
    public var checkDeployment: @Sendable (_ deployment: Deployment, _ backend: Backend, _ version: BackendVersion,
                                          _ target: TargetConfig?) -> [Diagnostic]
    /// Problems of a disaggregated deployment as a whole on a target of this type (its parts together:
    /// `original` as written, `parts` as expanded: prefill, decode, router).
    public var checkDisaggregation: @Sendable (_ original: Deployment, _ parts: [Deployment], _ target: TargetConfig?) -> [Diagnostic]
        = { _, _, _ in [] }
    /// What of a Target document changes how every replica runs (a container network), as revision
    /// parts: a change restarts the replicas. Nothing for a default, so a default written out restarts nothing.
    public var revisionParts: @Sendable (_ target: TargetConfig) -> [String] = { _ in [] }

    /// Creates a schema.
    public init(type: String, summary: String, fields: [FieldSchema], multiNode: Bool = false, containers: Bool = false,
                check: @escaping @Sendable (TargetConfig, (any ManifestFileSource)?) -> [Diagnostic] = { _, _ in [] },
                checkDeployment: @escaping @Sendable (Deployment, Backend, BackendVersion, TargetConfig?) -> [Diagnostic] = { _, _, _, _ in [] }) {
        self.type = type
        self.summary = summary
        self.fields = fields
        self.multiNode = multiNode
        self.containers = containers
        self.check = check
        self.checkDeployment = checkDeployment
    }

    /// The pattern of names in manifests (metadata.name), for fields that name things.
    public static let namePattern = ManifestSchema.namePattern

    /// The object schema of a `spec` of this type: `type` plus its fields.
    func specSchema(types: [String]) -> ObjectSchema {
        var o = ObjectSchema("TargetSpec_\(type)", [FieldSchema("type", .enumeration(types), required: true, "Kind of target.")] + fields)
        o.label = "the spec of a \(type) Target"
        return o
    }
}

/// The registered target types.
public struct TargetTypes: Sendable {
    /// In registration order.
    public var schemas: [TargetTypeSchema]

    /// Wraps a list of registered schemas.
    public init(_ schemas: [TargetTypeSchema]) { self.schemas = schemas }

    /// The schema of `type`, nil when it is not registered.
    public func schema(_ type: String) -> TargetTypeSchema? { schemas.first { $0.type == type } }

    /// Registered type names.
    public var names: [String] { schemas.map(\.type) }
}
