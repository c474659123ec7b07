public import DeployCore
public import Engines

/// A value and where it was written.
public struct Located<Value: Sendable>: Sendable {
    /// The value.
    public var value: Value
    /// Where it starts in the manifest.
    public var location: SourceLocation
    /// Columns the value spans on its line (for caret underlines).
    public var length: Int

    /// Creates a located value.
    public init(_ value: Value, at location: SourceLocation, length: Int = 1) {
        self.value = value
        self.location = location
        self.length = length
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// Everything loaded from a set of manifest files: backends, deployments and targets by name.
public struct Manifest: Sendable {
    /// Backends by name, including stock ones pulled from `templates/`.
    public var backends: [String: Backend] = [:]
    /// Deployments in the order they were written.
    public var deployments: [Deployment] = []
    /// Targets by name.
    public var targets: [String: TargetConfig] = [:]
    /// Source text of every file read, by path as given: diagnostics print lines from it.
    public var sources: [String: SourceText] = [:]
    /// Documents read from the files given and their includes (stock backends not counted).
    public var documentCount = 0
    /// Position of each deployment in `deployments`, by name.
    var deploymentIndex: [String: Int] = [:]
    /// The layer of every file that is not a base: overlays, `--values` files, `--set` (provenance).
    public var layers: [String: ManifestLayer] = [:]
    /// `Overlay` documents read, in load order (resolved by `OverlayResolver`).
    var overlays: [OverlayDocument] = []
    /// Each deployment's document as written (then as patched), by name: overlays patch it and decode it again.
    var rawDeployments: [String: YAMLMapping] = [:]
    /// Notes for diagnostics at values an overlay or a setting wrote (what they replaced).
    var overrideNotes: [OverrideNote] = []

    /// Where a value at `location` came from: the location and the layer of its file.
    public func origin(of location: SourceLocation) -> ValueOrigin { ValueOrigin(location, layers: layers) }

    /// Creates an empty manifest.
    public init() {}

    /// The deployment with this name.
    public func deployment(named name: String) -> Deployment? {
        if let i = deploymentIndex[name], i < deployments.count, deployments[i].name == name { return deployments[i] }
        return deployments.first { $0.name == name }
    }
}

/// `kind: Backend`: an engine family with named versions.
public struct Backend: Sendable {
    /// metadata.name.
    public var name: String
    /// Which engine the versions run.
    public var engine: EngineKind
    /// Versions by name.
    public var versions: [String: BackendVersion]
    /// Where `metadata.name` is.
    public var location: SourceLocation
    /// True when it came from the stock `templates/` directory rather than the user's files.
    public var isStock: Bool
    /// `otherVersions`: how any other release of the engine runs (its image holds `{{version}}`);
    /// nil when the backend has only its named versions.
    public var otherVersions: BackendVersion? = nil

    /// The version a deployment names: one under `versions`, else, with `otherVersions`, a release
    /// number of the engine (`0.20.1`, SGLang `0.5.21.post1`, llama.cpp `b6341`) run as that release:
    /// the image with `{{version}}` replaced, the engine version set to it and located where the
    /// deployment names it. Nil otherwise.
    public func version(named written: Located<String>) -> BackendVersion? {
        let name = written.value
        if let v = versions[name] { return v }
        guard var v = otherVersions, Self.isRelease(name, of: engine) else { return nil }
        v.name = name
        v.image = v.image.replacing("{{version}}", with: name)
        v.engineVersion = written
        v.engineVersionSource = .declared
        return v
    }

    /// A release number as the engine's images are tagged with: llama.cpp `bN`; otherwise digits and
    /// dots with an optional post/rc suffix (`0.20.1`, `0.5.21.post1`), no leading `v`.
    public static func isRelease(_ name: String, of engine: EngineKind) -> Bool {
        if engine == .llamaCpp {
            return name.count > 1 && name.first == "b" && name.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
        }
        // Images are tagged with whole releases (`v0.20.1`): `0.20` is not one.
        guard let first = name.first, first.isASCII, first.isNumber, !name.contains("+"),
              EngineVersion(name).components.count >= 3 else { return false }
        return VersionResolution.isWellFormed(name)
    }
}

/// Where a backend version's engine version came from.
public enum EngineVersionSource: String, Sendable, Hashable, Codable {
    /// `engineVersion:` is written.
    case declared
    /// Read from the image tag (`lmsysorg/sglang:v0.5.21.post1-cu129` → `0.5.21.post1`).
    case imageTag = "image-tag"
    /// Neither: the tag carries no version (`latest`); the newest catalog is used.
    case newestCatalog = "newest-catalog"
}

/// One version of a backend: image, entrypoint, run command, engine version and catalog extensions.
public struct BackendVersion: Sendable {
    /// The version's key under `versions:`.
    public var name: String
    /// Engine version (selects the flag catalog): as written, else read from the image tag
    /// (located at the image), else — for a tag with no version — empty until the validator
    /// fills in the newest catalog version (`engineVersionSource` says which).
    public var engineVersion: Located<String>
    /// Where `engineVersion` came from.
    public var engineVersionSource: EngineVersionSource = .declared
    /// Container image reference.
    public var image: String
    /// Where the image reference is written.
    public var imageLocation: SourceLocation?
    /// Accelerator framework, if given.
    public var framework: String?
    /// Program and leading argv.
    public var entrypoint: [String]
    /// Run-command template (`--model-path {{model_path}} ...`), if any.
    public var command: Located<String>?
    /// Default engine flags (one per entry), in order.
    public var args: [Located<String>]
    /// Default environment.
    public var env: [EnvVar]
    /// Catalog extensions this image declares.
    public var catalogExtension: CatalogExtension
    /// Readiness override.
    public var readiness: Readiness?
    /// Where the version key is.
    public var location: SourceLocation
}

/// `kind: Deployment`: one served model.
public struct Deployment: Sendable {
    /// metadata.name.
    public var name: String
    /// metadata.labels.
    public var labels: [String: String]
    /// The model.
    public var model: ModelSource
    /// Backend name as written.
    public var backend: Located<String>
    /// Backend version name as written.
    public var backendVersion: Located<String>
    /// Target name; nil means the embedded `local` target.
    public var target: Located<String>?
    /// Replica count.
    public var replicas: Int
    /// GPUs per replica per node.
    public var gpusPerReplica: Int
    /// Nodes per replica.
    public var nodes: Int
    /// `strictFlags: true`: an abbreviated engine flag is an error, not a warning.
    public var strictFlags: Bool? = nil
    /// First port.
    public var port: Int
    /// Name clients use.
    public var servedModelName: String
    /// Engine flags, one per entry, in order.
    public var args: [Located<String>]
    /// Environment, in order.
    public var env: [EnvVar]
    /// Readiness override.
    public var readiness: Readiness?
    /// Rollout limits.
    public var rollout: Rollout
    /// `benchmarks.scenarios`: what `apply --gate` runs after a rollout (never part of the revision).
    public var benchmarks: [BenchmarkScenario] = []
    /// Where each of `benchmarks` was written, in the same order.
    public var benchmarkSources: [BenchmarkScenarioSource] = []
    /// Container settings (container targets: docker); nil when not written.
    public var container: ContainerSettings? = nil
    /// Prefill/decode disaggregation (`disaggregation:`); nil for a plain deployment. The validator
    /// expands such a deployment into its prefill, decode and router deployments (`PDExpansion`).
    public var disaggregation: Disaggregation? = nil
    /// Set on the deployments `PDExpansion` made: which PD deployment, and which part of it.
    public var pd: PDMember? = nil
    /// Where each field is written, by dotted path (`replicas`, `model.id`, `labels.env`, `env.NAME`): located
    /// errors, and provenance (an overlay's value is located in the overlay).
    public var fieldLocations = FieldLocations()
    /// Where the document starts (metadata.name).
    public var location: SourceLocation
    /// The file the deployment came from.
    public var file: String
    /// Engine-flag changes of overlays and settings, in order, applied once the catalog is known.
    var argPatches: [ArgPatch] = []
}

/// Where model weights come from.
public struct ModelSource: Sendable, Hashable, Codable {
    /// huggingface, modelscope or local.
    public var source: String
    /// Hub repository id.
    public var id: String?
    /// Local path.
    public var path: String?
    /// Hub revision.
    public var revision: String?

    /// What `{{model_path}}` renders to: the hub id, or the local path.
    public var modelPath: String { path ?? id ?? "" }
}

/// An environment variable of a replica.
public struct EnvVar: Sendable {
    /// The variable name.
    public var name: Located<String>
    /// Where its value comes from.
    public var value: EnvValue
}

/// Where an env value comes from; secrets are resolved only at render/apply time.
public enum EnvValue: Sendable, Hashable {
    /// A literal, printed as written.
    case literal(String)
    /// A literal marked `secret: true`.
    case secretLiteral(Secret)
    /// From dsdeploy's own environment variable.
    case fromEnv(String, secret: Bool)
    /// From a file (path resolved against the manifest's directory).
    case fromFile(String, secret: Bool)

    /// True for `valueFrom` (an environment variable or a file), false for a literal.
    public var isFromSource: Bool {
        switch self {
        case .fromEnv, .fromFile: return true
        case .literal, .secretLiteral: return false
        }
    }

    /// True when the value must be redacted.
    public var isSecret: Bool {
        switch self {
        case .literal: return false
        case .secretLiteral: return true
        case .fromEnv(_, let s), .fromFile(_, let s): return s
        }
    }
}

/// Readiness override.
public struct Readiness: Sendable, Hashable, Codable {
    /// HTTP path answering 200 when ready.
    public var path: String?
    /// Log line marking readiness.
    public var logLine: String?
    /// Start timeout in seconds.
    public var timeoutSeconds: Int?
}

/// How a container target runs a deployment's containers (typed fields only: no raw run arguments).
public struct ContainerSettings: Sendable, Hashable, Codable {
    /// `/dev/shm` size (`16g`, `512m`), nil: the target's default.
    public var shmSize: String?
    /// IPC namespace: `host`, `private` or `shareable`; nil: the target's default.
    public var ipc: String?
    /// Resource limits by name (`memlock`, `stack`, `nofile`): soft = hard; -1 is unlimited. Nil: the
    /// target's defaults; `{}`: none.
    public var ulimits: [String: Int]?
    /// Bind mounts `HOST_PATH:CONTAINER_PATH[:ro|rw]` (model caches).
    public var volumes: [String]

    /// Creates settings.
    public init(shmSize: String? = nil, ipc: String? = nil, ulimits: [String: Int]? = nil, volumes: [String] = []) {
        self.shmSize = shmSize
        self.ipc = ipc
        self.ulimits = ulimits
        self.volumes = volumes
    }
}

/// Rollout limits.
public struct Rollout: Sendable, Hashable, Codable {
    /// Replicas that may be unavailable during a replace.
    public var maxUnavailable: Int = 0
    /// Extra replicas allowed during a replace.
    public var maxSurge: Int = 1
}

/// One value of a Target document's `spec`, decoded by the shape its target type declares.
public indirect enum ConfigValue: Sendable, Hashable {
    /// A scalar as written (numbers and booleans keep their spelling).
    case scalar(String)
    /// A sequence.
    case list([ConfigValue])
    /// A mapping.
    case map([String: ConfigValue])
    /// An env-style value (`value`, `valueFrom: {env|file}`, `secret`), for fields typed `.envValue`.
    case env(EnvValue)
}

/// `kind: Target`: where engines run. Which keys a type has, and what they mean, belongs to the
/// type's registration (`TargetTypeSchema`); the document keeps them as typed values with their
/// locations, so each target type reads its own fields.
public struct TargetConfig: Sendable {
    /// metadata.name.
    public var name: String
    /// `spec.type` (`local`, `gpustack` …).
    public var type: String
    /// Every other key of `spec`, decoded by the type's field schema.
    public var fields: [String: ConfigValue]
    /// Where each key's value is written, for located errors.
    public var fieldLocations: [String: SourceLocation] = [:]
    /// The file the target came from (relative paths in its fields resolve against it).
    public var file: String = ""
    /// Where it is defined.
    public var location: SourceLocation

    /// Creates a target document (the decoder, and tests that build one without YAML).
    public init(name: String, type: String, fields: [String: ConfigValue] = [:], location: SourceLocation) {
        self.name = name
        self.type = type
        self.fields = fields
        self.location = location
    }

    /// A scalar field.
    public func string(_ key: String) -> String? {
        if case .scalar(let s)? = fields[key] { return s }
        return nil
    }

    /// An integer list field (GPU ids).
    public func ints(_ key: String) -> [Int]? {
        guard case .list(let items)? = fields[key] else { return nil }
        return items.compactMap { if case .scalar(let s) = $0 { return Int(s) } else { return nil } }
    }

    /// A string-or-list field as a list.
    public func strings(_ key: String) -> [String]? {
        switch fields[key] {
        case .scalar(let s)?: return [s]
        case .list(let items)?: return items.compactMap { if case .scalar(let s) = $0 { return s } else { return nil } }
        default: return nil
        }
    }

    /// A mapping of scalars.
    public func stringMap(_ key: String) -> [String: String] {
        guard case .map(let m)? = fields[key] else { return [:] }
        return m.compactMapValues { if case .scalar(let s) = $0 { return s } else { return nil } }
    }

    /// A mapping whose values are a string or a list of strings.
    public func stringListMap(_ key: String) -> [String: [String]] {
        guard case .map(let m)? = fields[key] else { return [:] }
        return m.compactMapValues { v in
            switch v {
            case .scalar(let s): return [s]
            case .list(let items): return items.compactMap { if case .scalar(let s) = $0 { return s } else { return nil } }
            default: return nil
            }
        }
    }

    /// An env-style field.
    public func env(_ key: String) -> EnvValue? {
        if case .env(let e)? = fields[key] { return e }
        return nil
    }

    /// Where `key` is written, else where the target is defined.
    /// Where a field, or an entry within one (`hosts[1].docker`), is written; the nearest enclosing
    /// entry's location when that one is not recorded, else the document's.
    public func location(of key: String) -> SourceLocation {
        var path = key
        while true {
            if let l = fieldLocations[path] { return l }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return location }
            path = String(path[..<cut])
        }
    }

    /// The address engines bind to and clients use (`{{worker_ip}}`): `host`, else 127.0.0.1.
    public var host: String { string("host") ?? "127.0.0.1" }

    /// The GPU ids this target may hand out (`gpus`: a list of ids, or a count `N` for ids 0…N−1),
    /// nil when it does not say.
    public var gpus: [Int]? { fields["gpus"].flatMap(Self.gpuIDs) }

    /// A `gpus` value as ids: a count `N` is 0…N−1, a list is its ids; nil when it is neither (or an
    /// id is negative).
    public static func gpuIDs(_ v: ConfigValue) -> [Int]? {
        switch v {
        case .scalar(let s): return Int(s).flatMap { $0 >= 0 ? Array(0..<$0) : nil }
        case .list(let items):
            let ids = items.compactMap { if case .scalar(let s) = $0 { return Int(s) } else { return nil } }
            return ids.count == items.count && ids.allSatisfy { $0 >= 0 } ? ids : nil
        default: return nil
        }
    }
}

/// `disaggregation:` of a Deployment: prefill and decode servers, and `sglang-router` in front.
public struct Disaggregation: Sendable {
    /// `transferBackend` (SGLang's `--disaggregation-transfer-backend`: mooncake, nixl, …), nil: the engine's default.
    public var transferBackend: Located<String>?
    /// The prefill servers.
    public var prefill: PDRoleSpec
    /// The decode servers.
    public var decode: PDRoleSpec
    /// The router.
    public var router: PDRouterSpec
    /// Where `disaggregation:` is written.
    public var location: SourceLocation
}

/// One side (prefill or decode) of a disaggregated deployment.
public struct PDRoleSpec: Sendable {
    /// Replicas (default 1).
    public var replicas: Int
    /// GPUs per replica per node.
    public var gpusPerReplica: Int
    /// Nodes per replica (default 1).
    public var nodes: Int
    /// First port; nil: the deployment's port + 10 (prefill) or + 20 (decode).
    public var port: Int?
    /// Engine flags this side adds to the deployment's `args`.
    public var args: [Located<String>]
    /// Environment this side adds to (or overrides in) the deployment's `env`.
    public var env: [EnvVar] = []
    /// Where the role's key is written.
    public var location: SourceLocation
}

/// The router of a disaggregated deployment.
public struct PDRouterSpec: Sendable {
    /// Its image (container targets; the local target maps it to a command); nil: the backend version's image.
    public var image: Located<String>?
    /// The sglang-router release whose flags `args` are checked against; nil: the newest catalogued.
    public var version: Located<String>?
    /// Program and leading argv; nil: `python3 -m sglang_router.launch_router`.
    public var entrypoint: [String]?
    /// Router flags (`--prefill-policy cache_aware`), checked against its catalog.
    public var args: [Located<String>]
    /// Where `router:` is written; nil when it is not.
    public var location: SourceLocation?
}

/// Which part of a disaggregated deployment a deployment is.
public enum PDRole: String, Sendable, Codable, Hashable, CaseIterable {
    /// A prefill server (`--disaggregation-mode prefill`).
    case prefill
    /// A decode server (`--disaggregation-mode decode`).
    case decode
    /// The router in front (its endpoint is the deployment's).
    case router
}

/// A deployment's place in a disaggregated deployment.
public struct PDMember: Sendable, Codable, Hashable {
    /// The disaggregated deployment's name (the router's deployment has it).
    public var group: String
    /// Prefill, decode or router.
    public var role: PDRole

    /// Creates a member.
    public init(group: String, role: PDRole) {
        self.group = group
        self.role = role
    }
}

/// Where each field of a deployment is written, by dotted path (`replicas`, `model.id`, `env.NAME`,
/// `container.ulimits.nofile`): every key of its `spec` mapping at any depth, except below an
/// `env.NAME` entry, plus paths set explicitly (labels, a prefill/decode role's own fields).
///
/// Read from the spec's YAML when a path is asked for (a located error, provenance) rather than
/// recorded for every key of every deployment up front: validating a fleet asks for a handful.
/// The mapping is the one the manifest keeps for overlays anyway, so this holds no extra copy.
public struct FieldLocations: Sendable {
    /// The deployment's `spec` mapping; nil when there is none (a deployment built in code).
    var spec: YAMLMapping?
    private var explicit: [String: SourceLocation] = [:]
    private var removed: Set<String> = []

    /// No locations.
    public init() {}

    init(spec: YAMLMapping) { self.spec = spec }

    /// Where `path` is written; nil when it is not.
    public subscript(path: String) -> SourceLocation? {
        get {
            if let l = explicit[path] { return l }
            if removed.contains(path) { return nil }
            guard let spec else { return nil }
            return Self.find(path[...], in: spec, belowEnv: false)
        }
        set {
            explicit[path] = newValue
            if newValue == nil { removed.insert(path) } else { removed.remove(path) }
        }
    }

    /// Every path and where it is written.
    public var all: [String: SourceLocation] {
        var out: [String: SourceLocation] = [:]
        if let spec { Self.record(spec, prefix: "", into: &out) }
        for (path, l) in explicit { out[path] = l }
        for path in removed { out[path] = nil }
        return out
    }

    /// The location of `path` inside `m`. A key may itself contain dots, so every key that is the
    /// whole path, or a prefix of it followed by ".", is followed; the last one found wins, as it
    /// did when every path was recorded in document order.
    static func find(_ path: Substring, in m: YAMLMapping, belowEnv: Bool) -> SourceLocation? {
        var found: SourceLocation?
        for i in m.pairs.indices where m.hasScalarKey(i) {
            let key = m.keys[i]
            guard path.hasPrefix(key) else { continue }
            let rest = path.dropFirst(key.count)
            if rest.isEmpty {
                found = m.pairs[i].value.location
            } else if !belowEnv, rest.first == ".", case .mapping(let sub) = m.pairs[i].value {
                // The entries of `env` are located, not their insides (`env.NAME.valueFrom`).
                let topEnv = path.startIndex == path.base.startIndex && key == "env"
                if let l = find(rest.dropFirst(), in: sub, belowEnv: topEnv) { found = l }
            }
        }
        return found
    }

    /// Every path inside `m`, with `prefix` before each.
    static func record(_ m: YAMLMapping, prefix: String, into out: inout [String: SourceLocation]) {
        for i in m.pairs.indices where m.hasScalarKey(i) {
            let key = m.keys[i]
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            switch m.pairs[i].value {
            case .mapping(let sub):
                out[path] = sub.location
                if prefix != "env" { record(sub, prefix: path, into: &out) }
            case .scalar(let s): out[path] = s.location
            case .sequence(let q): out[path] = q.location
            }
        }
    }
}

/// Printed as paths and locations only: the spec mapping it reads holds values, secrets among them,
/// which must never reach a log or an error message through a debug print of a deployment.
extension FieldLocations: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "[" + all.sorted { $0.key < $1.key }
            .map { "\($0.key): \($0.value.file):\($0.value.line):\($0.value.column)" }
            .joined(separator: ", ") + "]"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
