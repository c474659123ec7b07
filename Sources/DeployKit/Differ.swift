public import DeploySpec
import DeployCore
import Engines

/// Computes a `ManifestDiff` between two validated manifest sets. Pure.
public struct Differ: Sendable {
    /// Creates a differ.
    public init() {}

    /// The diff from `old` to `new`, matching deployments by name.
    ///
    /// With `pairSingle`, when each side has exactly one deployment they are compared whatever their names.
    public func diff(_ old: [ResolvedDeployment], _ new: [ResolvedDeployment], pairSingle: Bool = false) -> ManifestDiff {
        if pairSingle, old.count == 1, new.count == 1, let a = old.first, let b = new.first,
           a.deployment.name != b.deployment.name {
            var d = compare(a, b)
            d.fields.insert(FieldChange(field: "name", before: a.deployment.name, after: b.deployment.name, restart: false), at: 0)
            if d.action == .noop { d.action = .update }
            return ManifestDiff(deployments: [d])
        }
        let o = Dictionary(old.map { ($0.deployment.name, $0) }, uniquingKeysWith: { a, _ in a })
        let n = Dictionary(new.map { ($0.deployment.name, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [DeploymentDiff] = []
        for name in Set(o.keys).union(n.keys).sorted() {
            switch (o[name], n[name]) {
            case (nil, let b?):
                out.append(DeploymentDiff(name: name, action: .create, impact: .restart,
                                          fields: describe(b).map { FieldChange(field: $0.0, before: nil, after: $0.1, restart: true) },
                                          flags: flagList(b.flagSet, added: true), env: envList(b.env, added: true)))
            case (let a?, nil):
                out.append(DeploymentDiff(name: name, action: .delete, impact: .restart,
                                          fields: describe(a).map { FieldChange(field: $0.0, before: $0.1, after: nil, restart: true) },
                                          flags: flagList(a.flagSet, added: false), env: envList(a.env, added: false)))
            case (let a?, let b?):
                out.append(compare(a, b))
            default: break
            }
        }
        return ManifestDiff(deployments: out)
    }

    func describe(_ r: ResolvedDeployment) -> [(String, String)] {
        [("image", r.version.image), ("model", modelText(r.deployment.model)),
         ("backend", "\(r.backend.name)/\(r.version.name)"),
         ("engineVersion", "\(r.backend.engine.rawValue) \(r.version.engineVersion.value)"),
         ("replicas", String(r.deployment.replicas)), ("gpusPerReplica", String(r.deployment.gpusPerReplica))]
    }

    func modelText(_ m: ModelSource) -> String {
        "\(m.source):\(m.modelPath)" + (m.revision.map { "@\($0)" } ?? "")
    }

    func compare(_ a: ResolvedDeployment, _ b: ResolvedDeployment) -> DeploymentDiff {
        var fields: [FieldChange] = []
        func field(_ name: String, _ x: String?, _ y: String?, restart: Bool = true) {
            if x != y { fields.append(FieldChange(field: name, before: x, after: y, restart: restart)) }
        }
        field("image", a.version.image, b.version.image)
        field("model", modelText(a.deployment.model), modelText(b.deployment.model))
        field("backend", "\(a.backend.name)/\(a.version.name)", "\(b.backend.name)/\(b.version.name)",
              restart: false)
        field("engineVersion", "\(a.backend.engine.rawValue) \(a.version.engineVersion.value)",
              "\(b.backend.engine.rawValue) \(b.version.engineVersion.value)")
        field("entrypoint", a.version.entrypoint.joined(separator: " "), b.version.entrypoint.joined(separator: " "))
        field("command", a.version.command?.value, b.version.command?.value)
        field("servedModelName", a.deployment.servedModelName, b.deployment.servedModelName)
        field("target", a.deployment.target?.value ?? "local", b.deployment.target?.value ?? "local")
        field("gpusPerReplica", String(a.deployment.gpusPerReplica), String(b.deployment.gpusPerReplica))
        field("nodes", String(a.deployment.nodes), String(b.deployment.nodes))
        field("port", String(a.deployment.port), String(b.deployment.port))
        field("replicas", String(a.deployment.replicas), String(b.deployment.replicas), restart: false)
        let labelsA = a.deployment.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let labelsB = b.deployment.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        field("labels", labelsA.isEmpty ? nil : labelsA, labelsB.isEmpty ? nil : labelsB, restart: false)

        let flags = FlagSet.diff(from: a.flagSet, to: b.flagSet, catalog: b.catalog).map(FlagDiffEntry.init)
        let env = envDiff(a.env, b.env)
        let restart = fields.contains(where: \.restart) || flags.contains(where: \.effective) || !env.isEmpty
        let impact: DeploymentDiff.Impact
        if restart { impact = .restart }
        else if fields.contains(where: { $0.field == "replicas" }) { impact = .scale }
        else { impact = .none }
        let changed = !fields.isEmpty || !flags.isEmpty || !env.isEmpty
        return DeploymentDiff(name: b.deployment.name, action: changed ? .update : .noop, impact: changed ? impact : .none,
                              fields: fields, flags: flags, env: env)
    }

    func flagList(_ s: FlagSet, added: Bool) -> [FlagDiffEntry] {
        s.values.keys.sorted().map { k in
            let v = s.values[k]?.description
            return FlagDiffEntry(kind: added ? .added : .removed, flag: k, before: added ? nil : v,
                                 after: added ? v : nil, effective: true)
        }
    }

    func envList(_ env: [EnvVar], added: Bool) -> [EnvChange] {
        env.map { e in
            let v = Self.plain(e.value)
            return EnvChange(kind: added ? .added : .removed, name: e.name.value, before: added ? nil : v,
                             after: added ? v : nil, secret: e.value.isSecret)
        }
    }

    static func plain(_ v: EnvValue) -> String? {
        switch v {
        case .literal(let s): return s
        case .secretLiteral: return nil
        case .fromEnv(let n, let secret): return secret ? nil : "<env:\(n)>"
        case .fromFile(let p, let secret): return secret ? nil : "<file:\(p)>"
        }
    }

    func envDiff(_ a: [EnvVar], _ b: [EnvVar]) -> [EnvChange] {
        let da = Dictionary(a.map { ($0.name.value, $0.value) }, uniquingKeysWith: { x, _ in x })
        let db = Dictionary(b.map { ($0.name.value, $0.value) }, uniquingKeysWith: { x, _ in x })
        var out: [EnvChange] = []
        for k in Set(da.keys).union(db.keys).sorted() {
            let x = da[k], y = db[k]
            if x == y { continue }
            let secret = (x?.isSecret ?? false) || (y?.isSecret ?? false)
            let kind: FlagChange.Kind = x == nil ? .added : (y == nil ? .removed : .changed)
            out.append(EnvChange(kind: kind, name: k, before: secret ? nil : x.flatMap(Self.plain),
                                 after: secret ? nil : y.flatMap(Self.plain), secret: secret))
        }
        return out
    }
}
