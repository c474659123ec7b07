public import DeployCore
import DeployTemplate
import Engines

/// Checks a loaded manifest: references, templates and every engine flag against its catalog.
public struct SpecValidator: Sendable {
    /// Names every run-command template may use, besides env keys.
    public static let builtinVariables = ["model_path", "worker_ip", "port", "model_name", "gpu_count", "gpu_ids", "replica"]

    /// Abbreviated flags are errors instead of warnings (`validate --strict`).
    public var strictFlags: Bool
    /// The registered target types (their checks).
    public var targetTypes: TargetTypes
    /// Reads files Target documents name (a CA bundle), nil to skip those checks.
    public var files: (any ManifestFileSource)?
    /// Every deployment runs on this Target, whatever its `spec.target` says (`render --target NAME`:
    /// the same deployments rendered for another target); nil: each its own.
    public var targetOverride: String? = nil
    /// Threads for the deployments' own checks on large manifests (1: the calling thread only).
    public var threads = YAMLParallel.threads

    /// Creates a validator.
    public init(strictFlags: Bool = false, targetTypes: TargetTypes, files: (any ManifestFileSource)? = nil) {
        self.strictFlags = strictFlags
        self.targetTypes = targetTypes
        self.files = files
    }

    /// Validates and resolves every deployment; `loadDiagnostics` are the loader's, merged in.
    ///
    /// Three passes: references, targets and catalogs in manifest order (cheap, and catalogs are
    /// shared); each deployment's flags, templates and rules (`DeploymentCheck`, most of the work,
    /// independent per deployment: side by side on large manifests); then the diagnostics in the
    /// order one pass would have reported them.
    public func validate(_ manifest: Manifest, loadDiagnostics: [Diagnostic] = []) -> ValidationResult {
        var pending: [Diagnostic] = []
        var jobs: [CheckJob] = []
        func add(_ d: Diagnostic) { pending.append(d) }
        var catalogs: [String: FlagCatalog?] = [:]
        var resolvedVersions: [String: Located<String>] = [:]
        var extendedCatalogs: [String: FlagCatalog] = [:]

        for t in manifest.targets.values.sorted(by: { $0.name < $1.name }) { TargetCheck.check(t, types: targetTypes, files: files).forEach(add) }
        let defaultTarget = TargetCheck.defaultTargetName(manifest)
        let override = targetOverride
        TargetCheck.checkCapacity(manifest) { override ?? $0.target?.value ?? defaultTarget ?? "local" }.forEach(add)

        for original in manifest.deployments {
            let d = original
            guard let backend = manifest.backends[d.backend.value] else {
                let hint = Suggest.didYouMean(d.backend.value, in: manifest.backends.keys)
                add(.error("unknown-reference", "unknown backend '\(d.backend.value)'\(hint)",
                           at: d.backend.location, length: d.backend.length,
                           notes: hint.isEmpty ? ["backends: \(manifest.backends.keys.sorted().joined(separator: ", "))"] : []))
                continue
            }
            guard let declaredVersion = backend.versions[d.backendVersion.value] else {
                let hint = Suggest.didYouMean(d.backendVersion.value, in: backend.versions.keys)
                add(.error("unknown-reference",
                           "backend '\(backend.name)' has no version '\(d.backendVersion.value)'\(hint)",
                           at: d.backendVersion.location, length: d.backendVersion.length,
                           notes: ["versions: \(backend.versions.keys.sorted().joined(separator: ", "))"]))
                continue
            }
            let (parts, pdDiagnostics) = PDExpansion.expand(d, backend: backend, version: declaredVersion)
            pdDiagnostics.forEach(add)
            for part in parts where part.deployment.pd != nil && part.deployment.name != d.name && manifest.deployment(named: part.deployment.name) != nil {
                add(.error("duplicate-key", "deployment '\(d.name)' runs its \(part.deployment.pd!.role.rawValue) servers as deployment "
                           + "'\(part.deployment.name)', which the manifests define too; rename one", at: d.disaggregation?.location ?? d.location))
            }
            if original.disaggregation != nil, parts.count > 1 {
                let targetName = override ?? original.target?.value ?? defaultTarget ?? "local"
                let target = manifest.targets[targetName]
                targetTypes.schema(target?.type ?? "local")?.checkDisaggregation(original, parts.map(\.deployment), target).forEach(add)
            }
            for part in parts {
            var d = part.deployment
            let backend = part.backend
            var version = part.version
            let targetName = override ?? d.target?.value ?? defaultTarget ?? "local"
            if override == nil, d.target == nil, defaultTarget == nil {
                add(.error("missing-key", "deployment '\(d.name)' names no target and the manifests define several "
                           + "(\(TargetCheck.remoteTargetNames(manifest).joined(separator: ", "))); set spec.target",
                           at: d.location))
            }
            let target = manifest.targets[targetName]
            if override == nil, target == nil, targetName != "local", let t = d.target {
                let hint = Suggest.didYouMean(t.value, in: Array(manifest.targets.keys) + ["local"])
                add(.error("unknown-reference", "unknown target '\(t.value)'\(hint)", at: t.location, length: t.length))
            }
            TargetCheck.check(d, backend: backend, version: version, on: target, types: targetTypes).forEach(add)
            if let problem = Self.portRange(d) { add(problem) }
            if d.model.source == "local", d.model.path == nil {
                add(.error("missing-key", "model source 'local' needs 'path'", at: d.location))
            } else if d.model.source != "local", d.model.id == nil {
                add(.error("missing-key", "model source '\(d.model.source)' needs 'id'", at: d.location))
            }
            let catalogKey = "\(backend.name)/\(version.name)"
            if catalogs[catalogKey] == nil {
                let (catalog, diagnostics) = EngineVersionCheck.catalog(for: &version, engine: backend.engine)
                catalogs[catalogKey] = .some(catalog)
                resolvedVersions[catalogKey] = version.engineVersion
                diagnostics.forEach(add)
            } else if let v = resolvedVersions[catalogKey] {
                version.engineVersion = v
            }
            guard let base = catalogs[catalogKey] ?? nil else { continue }
            let extKey = "\(backend.name)/\(version.name)"
            let catalog = extendedCatalogs[extKey] ?? base.extended(with: version.catalogExtension)
            extendedCatalogs[extKey] = catalog
            PDExpansion.checkTransferBackend(&d, original: original, catalog: catalog, report: d.pd?.role == .prefill).forEach(add)
            jobs.append(CheckJob(deployment: d, backend: backend, version: version, catalog: catalog, target: target,
                                 before: pending))
            pending = []
            }
        }

        // Each deployment's own checks, in runs of consecutive deployments (a run shares its
        // template cache: deployments of one backend version mostly share their template).
        let threads = jobs.count >= Self.parallelMinimum ? self.threads : 1
        let runs = threads > 1 ? min(jobs.count, threads * 4) : 1
        let strict = strictFlags, layers = manifest.layers, types = targetTypes
        var checked: [[CheckResult]] = Parallel.map(runs, threads: threads) { [jobs] run in
            var templateCache: [String: ([ArgGroup], [Diagnostic])] = [:]
            let range = (jobs.count * run / runs)..<(jobs.count * (run + 1) / runs)
            return range.map { i in
                jobs[i].run(strict: strict, layers: layers, targetTypes: types, templateCache: &templateCache)
            }
        }

        var diags = loadDiagnostics
        var seen = Set(diags)
        func report(_ d: Diagnostic) { if seen.insert(d).inserted { diags.append(d) } }
        var resolved: [ResolvedDeployment] = []
        resolved.reserveCapacity(jobs.count)
        let befores = jobs.map(\.before)
        jobs = []  // the deployments' copies; each run's results are freed once moved
        var index = 0
        for run in checked.indices {
            for result in checked[run] {
                befores[index].forEach(report)
                result.diagnostics.forEach(report)
                resolved.append(result.resolved)
                index += 1
            }
            checked[run] = []
        }
        pending.forEach(report)
        return ValidationResult(manifest: manifest, deployments: resolved,
                                diagnostics: Self.noteOverrides(diags, manifest.overrideNotes).sortedByLocation())
    }

    /// A deployment whose replicas, or the ports dsdeploy derives from theirs, would run past 65535:
    /// replica i listens on port + i, a multi-node replica's rendezvous on its port + 1000 (SGLang uses
    /// up to + 1005), a prefill server's bootstrap and the router's Prometheus listener on + 1500.
    static func portRange(_ d: Deployment) -> Diagnostic? {
        let last = d.port + max(0, d.replicas - 1)
        var derived: [(String, Int)] = [("replica \(max(0, d.replicas - 1))'s port", last)]
        if d.nodes > 1 { derived.append(("the multi-node rendezvous (port + 1000 to + 1005)", last + 1005)) }
        switch d.pd?.role {
        case .prefill?: derived.append(("the bootstrap port (port + \(PDExpansion.bootstrapPortOffset))", last + PDExpansion.bootstrapPortOffset))
        case .router? where !d.args.contains(where: { $0.value.hasPrefix("--prometheus-port") }):
            derived.append(("the router's Prometheus port (port + \(PDExpansion.prometheusPortOffset))", last + PDExpansion.prometheusPortOffset))
        default: break
        }
        guard let (what, port) = derived.first(where: { $0.1 > 65535 }) else { return nil }
        let at = d.fieldLocations["port"] ?? d.fieldLocations["replicas"] ?? d.location
        return .error("invalid-value", "deployment '\(d.name)' would need port \(port) for \(what), past 65535",
                      at: at, notes: ["port \(d.port), \(d.replicas) replica\(d.replicas == 1 ? "" : "s"); choose a lower port"])
    }

    /// Fewer deployments than this are checked on the calling thread alone.
    static let parallelMinimum = 64

    /// One deployment (or part of a disaggregated one) to check, with what the first pass found.
    struct CheckJob: Sendable {
        var deployment: Deployment
        var backend: Backend
        var version: BackendVersion
        var catalog: FlagCatalog
        var target: TargetConfig?
        /// Diagnostics the first pass reported before this deployment's own checks.
        var before: [Diagnostic]

        func run(strict: Bool, layers: [String: ManifestLayer], targetTypes: TargetTypes,
                 templateCache: inout [String: ([ArgGroup], [Diagnostic])]) -> CheckResult {
            var check = DeploymentCheck(deployment: deployment, backend: backend, version: version, catalog: catalog,
                                        strict: strict, layers: layers)
            let r = check.run(templateCache: &templateCache)
            var final = deployment
            final.args = check.finalArgs
            final.argPatches = []
            var resolvedDeployment = ResolvedDeployment(deployment: final, backend: backend, version: version, catalog: catalog,
                                                        target: target, args: r.args, flagSet: r.flagSet, env: r.env)
            let schema = targetTypes.schema(target?.type ?? "local")
            resolvedDeployment.runsInContainers = schema?.containers ?? false
            resolvedDeployment.targetRevisionParts = target.flatMap { t in schema?.revisionParts(t) } ?? []
            resolvedDeployment.layers = layers
            return CheckResult(diagnostics: check.diagnostics, resolved: resolvedDeployment)
        }
    }

    /// What a deployment's own checks found.
    struct CheckResult: Sendable {
        var diagnostics: [Diagnostic]
        var resolved: ResolvedDeployment
    }

    /// Adds, to each diagnostic at a value an overlay or a setting wrote, the note saying what it
    /// replaced (the base's value, or the deployment it was added to).
    static func noteOverrides(_ diags: [Diagnostic], _ notes: [OverrideNote]) -> [Diagnostic] {
        guard !notes.isEmpty else { return diags }
        let byLine = Dictionary(grouping: notes) { "\($0.location.file):\($0.location.line)" }
        return diags.map { d in
            guard let l = d.location, let candidates = byLine["\(l.file):\(l.line)"],
                  let note = candidates.filter({ $0.location.column <= l.column }).max(by: { $0.location.column < $1.location.column }),
                  !d.notes.contains(note.text) else { return d }
            var d = d
            d.notes.append(note.text)
            return d
        }
    }
}
