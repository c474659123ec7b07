public import DeploySpec
import DeployCore

/// The registration of one target type: its `type` string, what it can do, and how to build it
/// from a Target document. Every kind is listed once, in `DeployTargets/TargetKinds.swift`.
public protocol TargetKind: Sendable {
    /// The `spec.type` of its Target documents (`local`, `gpustack`).
    static var type: String { get }
    /// What targets of this kind can do (commands refuse options that need more, in one place).
    static var capabilities: TargetCapabilities { get }
    /// Its Target documents' fields and checks (validation, decoding and `dsdeploy schema` use them).
    static var schema: TargetTypeSchema { get }
    /// The hosts a slot target of this kind places replicas on (`render` places without building the
    /// target); server-scheduled kinds return none.
    static func inventory(_ config: TargetConfig?) -> [InventoryHost]
    /// True when the nodes of a multi-node replica run on distinct hosts, each placed by the Placer
    /// (docker); false when they share the replica's placement (`local`). Default: false.
    static var spreadsNodes: Bool { get }
    /// Builds the target of a Target document (nil: the embedded `local` target) for `deployments`.
    static func make(_ config: TargetConfig?, _ context: TargetContext) throws(TargetError) -> any Target
}

extension TargetKind {
    public static var spreadsNodes: Bool { false }

    /// One host: the Target's `host` address and `gpus`.
    public static func inventory(_ config: TargetConfig?) -> [InventoryHost] {
        [InventoryHost(name: config?.name ?? type, address: config?.host ?? "127.0.0.1", gpus: config?.gpus)]
    }
}

/// What a target may use from the outside world, injected by the executable: targets never read
/// the process environment, the working directory or the wall clock themselves.
public struct TargetContext: Sendable {
    /// The environment variables targets may read (`$DSDEPLOY_SUPERVISOR`, the `PATH` engines inherit,
    /// `apiKey: {valueFrom: {env}}`).
    public var environment: [String: String]
    /// The local state directory (`.dsdeploy` or `$DSDEPLOY_HOME`).
    public var stateDirectory: String
    /// Reads files the manifests name (`apiKey: {valueFrom: {file}}`, `caBundle`).
    public var files: any ManifestFileSource
    /// Time and sleep.
    public var clock: any DeployClock
    /// The directory of the running dsdeploy executable (helpers such as `dsdeploy-supervisor`
    /// and `dsdeploy-engine-sim` are found next to it).
    public var executableDirectory: String

    /// Creates a context.
    public init(environment: [String: String], stateDirectory: String, files: any ManifestFileSource,
                clock: any DeployClock, executableDirectory: String) {
        self.environment = environment
        self.stateDirectory = stateDirectory
        self.files = files
        self.clock = clock
        self.executableDirectory = executableDirectory
    }
}

extension TargetContext {
    /// The bytes of a Target field's env-style value: a literal as written, `{valueFrom: {env}}` from
    /// this context's environment, `{valueFrom: {file}}` relative to the Target's file. The error names
    /// the field (`what`) and where it looked, never a value.
    public func value(of v: EnvValue, _ what: String, in t: TargetConfig) throws(TargetError) -> [UInt8] {
        switch v {
        case .literal(let s): return Array(s.utf8)
        case .secretLiteral(let s): return Array(s.reveal().utf8)
        case .fromEnv(let name, _):
            guard let text = environment[name], !text.isEmpty else {
                throw TargetError(.configuration, "target '\(t.name)': \(what) takes its value from $\(name), which is not set")
            }
            return Array(text.utf8)
        case .fromFile(let path, _):
            let full = ManifestPath.resolve(path, from: t.file)
            guard let bytes = files.read(full) else {
                throw TargetError(.configuration, "target '\(t.name)': \(what) takes its value from file '\(full)', which cannot be read")
            }
            return bytes
        }
    }
}
