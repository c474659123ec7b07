import DeployCore
import Engines

/// One decoded document.
struct DecodedDocument: Sendable {
    // A struct of optionals, one of them set, rather than an enum: the loader moves each part out
    // (`Optional.take`), where binding an enum's payload copied it (for 2,000 deployments, every
    // string retained and then the originals released: most of the one-thread merge after parsing).
    var backend: Backend?
    var deployment: Deployment?
    /// The deployment's document, kept for overlays and field locations.
    var raw: YAMLMapping?
    var overlay: OverlayDocument?
    var target: TargetConfig?
    var include: [Located<String>]?

    static func backend(_ b: Backend) -> Self { Self(backend: b) }
    static func deployment(_ d: Deployment, raw: YAMLMapping) -> Self { Self(deployment: d, raw: raw) }
    static func overlay(_ o: OverlayDocument) -> Self { Self(overlay: o) }
    static func target(_ t: TargetConfig) -> Self { Self(target: t) }
    static func include(_ files: [Located<String>]) -> Self { Self(include: files) }
}

/// Turns YAML documents into manifest objects, reporting every structural problem.
struct ManifestDecoder {
    let file: String
    let targetTypes: TargetTypes
    var diagnostics: [Diagnostic] = []

    init(file: String, targetTypes: TargetTypes) {
        self.file = file
        self.targetTypes = targetTypes
    }

    mutating func decode(_ doc: YAMLDocument) -> DecodedDocument? {
        guard let root = doc.root else { return nil }
        guard let m = root.mapping else {
            diagnostics.append(.error("invalid-type", "a manifest document must be a mapping, got \(root.kindDescription)",
                                      at: root.location))
            return nil
        }
        var checker = SchemaChecker()
        // Keys by their texts (`stringPairs` copied every pair of every document to check its keys).
        for i in m.keys.indices where !ManifestSchema.documentKeys.contains(m.keys[i]) {
            guard let k = m.keyScalar(at: i) else { continue }
            let hint = Suggest.didYouMean(k.value, in: ManifestSchema.documentKeys)
            checker.diagnostics.append(.error("unknown-key", "unknown key '\(k.value)' in document\(hint)",
                                              at: k.location, length: k.length))
        }
        var ok = true
        for key in ManifestSchema.documentKeys where m.index(of: key) == nil {
            checker.diagnostics.append(.error("missing-key", "missing required key '\(key)' in document", at: m.location))
            ok = false
        }
        if let api = m["apiVersion"] {
            if let s = api.scalar, s.isStringLike {
                if s.value != ManifestSchema.apiVersion {
                    checker.diagnostics.append(.error("invalid-value",
                        "unsupported apiVersion '\(s.value)'; this dsdeploy reads '\(ManifestSchema.apiVersion)'",
                        at: s.location, length: s.length))
                    ok = false
                }
            } else {
                checker.typeError(api, .string(), "apiVersion")
                ok = false
            }
        }
        var kind: String?
        if let k = m["kind"] {
            checker.check(k, as: .enumeration(ManifestSchema.kinds), path: "kind")
            if let s = k.string, ManifestSchema.kinds.contains(s) { kind = s } else { ok = false }
        }
        // Each looked up once (a lookup copies the node it finds).
        let metadataNode = m["metadata"], specNode = m["spec"]
        if let md = metadataNode { checker.checkObject(md, ManifestSchema.metadata, path: "metadata") }
        if kind == "Target", let spec = specNode {
            checker.checkObject(spec, targetSpecSchema(spec), path: "spec")
        } else if let kind, let spec = specNode, let schema = ManifestSchema.spec(forKind: kind) {
            checker.checkObject(spec, schema, path: "spec")
        }
        let before = diagnostics.count
        diagnostics += checker.diagnostics
        let metadata = metadataNode?.mapping
        guard ok, let kind, let spec = specNode?.mapping,
              let nameNode = metadata?["name"], let name = nameNode.string else { return nil }
        _ = before
        var unexpanded = UnexpandedVariables()
        unexpanded.check(kind: kind, spec: spec)
        diagnostics += unexpanded.diagnostics
        let labelPairs = metadata?["labels"]?.mapping?.stringPairs ?? []
        let labels = Dictionary(labelPairs.compactMap { k, v in
            v.string.map { (k.value, $0) }
        }, uniquingKeysWith: { a, _ in a })
        switch kind {
        case "Backend": return decodeBackend(name: name, at: nameNode.location, spec: spec).map(DecodedDocument.backend)
        case "Deployment":
            guard var d = decodeDeployment(name: name, labels: labels, at: nameNode.location, spec: spec) else { return nil }
            for (k, v) in labelPairs {
                d.fieldLocations["labels.\(k.value)"] = v.location
            }
            return .deployment(d, raw: m)
        case "Overlay": return decodeOverlay(name: name, at: nameNode.location, spec: spec).map(DecodedDocument.overlay)
        case "Target": return decodeTarget(name: name, at: nameNode.location, spec: spec).map(DecodedDocument.target)
        case "Include": return .include(spec["files"]?.locatedStrings ?? [])
        default: return nil
        }
    }

    func decodeBackend(name: String, at location: SourceLocation, spec: YAMLMapping) -> Backend? {
        guard let engineName = spec["engine"]?.string, let engine = EngineKind(rawValue: engineName) else { return nil }
        func decodeVersion(_ name: String, at keyLocation: SourceLocation, _ node: YAMLNode) -> BackendVersion? {
            guard let v = node.mapping, let imageNode = v["image"]?.locatedString else { return nil }
            let image = imageNode.value
            var ev = v["engineVersion"]?.locatedString ?? Located("", at: imageNode.location, length: imageNode.length)
            var source = EngineVersionSource.declared
            if v["engineVersion"] == nil {
                if let tagged = ImageTag.engineVersion(image: image, engine: engine) {
                    ev.value = tagged
                    source = .imageTag
                } else {
                    source = .newestCatalog
                }
            }
            let entrypoint: [String]
            if let list = v["entrypoint"]?.stringList { entrypoint = list }
            else if let s = v["entrypoint"]?.string { entrypoint = s.split(separator: " ").map(String.init) }
            else { entrypoint = [] }
            return BackendVersion(
                name: name, engineVersion: ev, engineVersionSource: source, image: image,
                imageLocation: imageNode.location, framework: v["framework"]?.string,
                entrypoint: entrypoint, command: v["command"]?.locatedString,
                args: v["args"]?.locatedStrings ?? [], env: decodeEnv(v["env"]),
                catalogExtension: decodeExtension(v["extends"]?.mapping),
                readiness: decodeReadiness(v["readiness"]?.mapping), location: keyLocation)
        }
        var versions: [String: BackendVersion] = [:]
        for (key, node) in spec["versions"]?.mapping?.stringPairs ?? [] {
            if let v = decodeVersion(key.value, at: key.location, node) { versions[key.value] = v }
        }
        // The schema requires `{{version}}` in its image; without it there is no other version.
        let other = spec["otherVersions"].flatMap { node in
            node.mapping?["image"]?.string?.contains("{{version}}") == true ? decodeVersion("", at: node.location, node) : nil
        }
        return Backend(name: name, engine: engine, versions: versions, location: location, isStock: false, otherVersions: other)
    }

    mutating func decodeDeployment(name: String, labels: [String: String], at location: SourceLocation,
                                   spec: YAMLMapping) -> Deployment? {
        guard let model = spec["model"]?.mapping, let source = model["source"]?.string,
              let backend = spec["backend"]?.locatedString,
              let backendVersion = spec["backendVersion"]?.locatedString else { return nil }
        var rollout = Rollout()
        if let r = spec["rollout"]?.mapping {
            rollout.maxUnavailable = r["maxUnavailable"]?.int ?? 0
            rollout.maxSurge = r["maxSurge"]?.int ?? 1
        }
        let (benchmarks, benchmarkSources) = decodeBenchmarks(spec["benchmarks"])
        var deployment = Deployment(
            name: name, labels: labels,
            model: ModelSource(source: source, id: model["id"]?.string, path: model["path"]?.string,
                               revision: model["revision"]?.string),
            backend: backend, backendVersion: backendVersion, target: spec["target"]?.locatedString,
            replicas: spec["replicas"]?.int ?? 1, gpusPerReplica: spec["gpusPerReplica"]?.int ?? 0,
            nodes: spec["nodesPerReplica"]?.int ?? spec["nodes"]?.int ?? 1, strictFlags: spec["strictFlags"]?.bool, port: spec["port"]?.int ?? 30000,
            servedModelName: spec["servedModelName"]?.string ?? name,
            args: spec["args"]?.locatedStrings ?? [], env: decodeEnv(spec["env"]),
            readiness: decodeReadiness(spec["readiness"]?.mapping), rollout: rollout,
            benchmarks: benchmarks, benchmarkSources: benchmarkSources,
            location: location, file: file)
        deployment.fieldLocations = FieldLocations(spec: spec)
        if let c = spec["container"]?.mapping {
            var ulimits: [String: Int]?
            if let u = c["ulimits"]?.mapping {
                ulimits = [:]
                for (k, v) in u.stringPairs { if let n = v.int { ulimits?[k.value] = n } }
            }
            deployment.container = ContainerSettings(shmSize: c["shmSize"]?.string, ipc: c["ipc"]?.string, ulimits: ulimits,
                                                     volumes: c["volumes"]?.sequence?.items.compactMap(\.string) ?? [])
        }
        if let pd = spec["disaggregation"]?.mapping, let loc = spec["disaggregation"]?.location {
            deployment.disaggregation = decodeDisaggregation(pd, at: loc)
        }
        return deployment
    }

    /// `disaggregation:` (a missing role decodes as one server with no GPUs: the schema reports it).
    func decodeDisaggregation(_ m: YAMLMapping, at location: SourceLocation) -> Disaggregation {
        func role(_ key: String) -> PDRoleSpec {
            let r = m[key]?.mapping
            return PDRoleSpec(replicas: r?["replicas"]?.int ?? 1, gpusPerReplica: r?["gpusPerReplica"]?.int ?? 0,
                              nodes: r?["nodesPerReplica"]?.int ?? 1, port: r?["port"]?.int,
                              args: r?["args"]?.locatedStrings ?? [], env: decodeEnv(r?["env"]),
                              location: m[key]?.location ?? location)
        }
        let r = m["router"]?.mapping
        return Disaggregation(
            transferBackend: m["transferBackend"]?.locatedString, prefill: role("prefill"), decode: role("decode"),
            router: PDRouterSpec(image: r?["image"]?.locatedString, version: r?["version"]?.locatedString,
                                 entrypoint: r?["entrypoint"]?.stringList, args: r?["args"]?.locatedStrings ?? [],
                                 location: m["router"]?.location),
            location: location)
    }

    /// Where the entries of a Target field are written (`hosts[1]`, `hosts[1].docker`, `tls.key`), so a
    /// type's checks can point at the entry that is wrong.
    static func recordNested(_ node: YAMLNode, path: String, into out: inout [String: SourceLocation]) {
        if let seq = node.sequence {
            for (i, item) in seq.items.enumerated() {
                out["\(path)[\(i)]"] = item.location
                recordNested(item, path: "\(path)[\(i)]", into: &out)
            }
        } else if let m = node.mapping {
            for (k, v) in m.stringPairs {
                out["\(path).\(k.value)"] = v.location
                recordNested(v, path: "\(path).\(k.value)", into: &out)
            }
        }
    }

    /// The schema a Target `spec` is checked against: its registered type's fields (an unknown or
    /// missing type is reported on `type` alone, not as unknown keys).
    func targetSpecSchema(_ spec: YAMLNode) -> ObjectSchema {
        if let type = spec.mapping?["type"]?.string, let t = targetTypes.schema(type) {
            return t.specSchema(types: targetTypes.names)
        }
        let keys = spec.mapping?.stringPairs.map(\.0.value).filter { $0 != "type" } ?? []
        return ObjectSchema("TargetSpec", [FieldSchema("type", .enumeration(targetTypes.names), required: true, "Kind of target.")]
                            + keys.map { FieldSchema($0, .any, "") })
    }

    func decodeTarget(name: String, at location: SourceLocation, spec: YAMLMapping) -> TargetConfig? {
        guard let type = spec["type"]?.string else { return nil }
        let schema = targetTypes.schema(type)
        var target = TargetConfig(name: name, type: type, location: location)
        for (k, node) in spec.stringPairs where k.value != "type" {
            let fieldType = schema?.fields.first { $0.name == k.value }?.type
            guard let value = configValue(node, as: fieldType) else { continue }
            target.fields[k.value] = value
            target.fieldLocations[k.value] = node.location
            Self.recordNested(node, path: k.value, into: &target.fieldLocations)
        }
        target.file = file
        return target
    }

    /// A YAML value as a config value, by its declared type all the way down: `.envValue` fields
    /// (also inside objects and lists: `tls.key`, `registries[].password`) become `.env`.
    func configValue(_ node: YAMLNode, as type: SchemaType?) -> ConfigValue? {
        if case .envValue? = type { return decodeEnvValue(node).map(ConfigValue.env) }
        if let s = node.scalar {
            if case .null = s.resolved { return nil }
            return .scalar(s.value)
        }
        if let seq = node.sequence {
            var item: SchemaType?
            if case .list(let inner)? = type { item = inner }
            return .list(seq.items.compactMap { configValue($0, as: item) })
        }
        if let m = node.mapping {
            var out: [String: ConfigValue] = [:]
            for (k, v) in m.stringPairs {
                var field: SchemaType?
                switch type {
                case .object(let o)?: field = o.fields.first { $0.name == k.value }?.type
                case .map(let inner)?: field = inner
                default: field = nil
                }
                if let cv = configValue(v, as: field) { out[k.value] = cv }
            }
            return .map(out)
        }
        return nil
    }

    func decodeEnv(_ node: YAMLNode?) -> [EnvVar] {
        (node?.mapping?.stringPairs ?? []).compactMap { k, v in
            decodeEnvValue(v).map { EnvVar(name: Located(k.value, at: k.location, length: k.length), value: $0) }
        }
    }

    func decodeEnvValue(_ v: YAMLNode) -> EnvValue? {
        if let s = v.scalar {
            if case .null = s.resolved { return nil }
            return .literal(s.value)
        }
        guard let m = v.mapping else { return nil }
        let secretFlag = m["secret"]?.bool
        if let lit = m["value"]?.scalar?.value {
            return secretFlag == true ? .secretLiteral(Secret(lit)) : .literal(lit)
        }
        if let from = m["valueFrom"]?.mapping {
            if let e = from["env"]?.string { return .fromEnv(e, secret: secretFlag ?? true) }
            if let f = from["file"]?.string { return .fromFile(f, secret: secretFlag ?? true) }
        }
        return nil
    }

    func decodeReadiness(_ m: YAMLMapping?) -> Readiness? {
        guard let m else { return nil }
        return Readiness(path: m["path"]?.string, logLine: m["logLine"]?.string, timeoutSeconds: m["timeoutSeconds"]?.int)
    }
}
