public import DeployCore
import DeployTemplate
import Engines
import Synchronization

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
    public var threads = Parallel.defaultThreads

    /// Creates a validator.
    public init(strictFlags: Bool = false, targetTypes: TargetTypes, files: (any ManifestFileSource)? = nil) {
        self.strictFlags = strictFlags
        self.targetTypes = targetTypes
        self.files = files
    }

    /// Validates and resolves every deployment; `loadDiagnostics` are the loader's, merged in.
    ///
    /// Targets first; then every deployment on its own (references, PD expansion, target checks, its
    /// catalog, flags, templates and rules: independent per deployment, so side by side on large
    /// manifests, in runs of consecutive deployments sharing a template cache); then the diagnostics
    /// in the order one pass reports them (a catalog's own diagnostics at its first deployment).
    public func validate(_ manifest: Manifest, loadDiagnostics: [Diagnostic] = []) -> ValidationResult {
        var diags = loadDiagnostics
        var seen = Set(diags.map(Reported.init))
        func report(_ d: Diagnostic) { if seen.insert(Reported(d)).inserted { diags.append(d) } }

        for t in manifest.targets.values.sorted(by: { $0.name < $1.name }) { TargetCheck.check(t, types: targetTypes, files: files).forEach(report) }
        let defaultTarget = TargetCheck.defaultTargetName(manifest)
        let override = targetOverride
        TargetCheck.checkCapacity(manifest) { override ?? $0.target?.value ?? defaultTarget ?? "local" }.forEach(report)

        PhaseClock.mark("targets")
        let count = manifest.deployments.count
        let threads = count >= Self.parallelMinimum ? self.threads : 1
        let runs = threads > 1 ? min(count, threads * 4) : 1
        let catalogs = CatalogCache(workers: threads)
        let validator = self
        // Each run keeps its deployments' results: their events, and what they resolved to (moved
        // into one array below, by every thread).
        var checked: [(events: [Checked], resolved: [ResolvedDeployment])] = Parallel.mapOnWorkers(runs, threads: threads) { run, worker in
            var templateCache: DeploymentCheck.TemplateCache = [:]
            let range = (count * run / runs)..<(count * (run + 1) / runs)
            var resolved: [ResolvedDeployment] = []
            resolved.reserveCapacity(range.count)
            let events = range.map { i in
                validator.check(manifest.deployments[i], in: manifest, defaultTarget: defaultTarget,
                                catalogs: catalogs, worker: worker, templateCache: &templateCache, into: &resolved)
            }
            return (events, resolved)
        }

        PhaseClock.mark("checks")
        var parts: [[ResolvedDeployment]] = []
        parts.reserveCapacity(checked.count)
        var events: [[Checked]] = []
        events.reserveCapacity(checked.count)
        for run in checked.indices {
            var r: [ResolvedDeployment] = []
            swap(&r, &checked[run].resolved)
            parts.append(r)
            var e: [Checked] = []
            swap(&e, &checked[run].events)
            events.append(e)
        }
        // One thread reports the diagnostics in order while the others move the resolved deployments
        // into one array (consumed: each part uniquely referenced, so moved, not copied).
        let (before, reportedBefore) = (diags, seen)
        let (resolved, collected) = Parallel.concatenate(consume parts, threads: threads) { [events] in
            var diags = before, seen = reportedBefore
            // Sized for every event up front: growing the set rehashed every diagnostic reported so far.
            let most = events.reduce(0) { $0 + $1.reduce(0) { $0 + $1.events.count } }
            diags.reserveCapacity(diags.count + most)
            seen.reserveCapacity(seen.count + most)
            var catalogsReported: Set<String> = []
            func report(_ d: Diagnostic) { if seen.insert(Reported(d)).inserted { diags.append(d) } }
            for run in events {
                for c in run {
                    for event in c.events {
                        switch event {
                        case .diagnostic(let d): report(d)
                        case .catalog(let key):
                            if catalogsReported.insert(key).inserted { catalogs.diagnostics(key).forEach(report) }
                        }
                    }
                }
            }
            return diags
        }
        diags = collected
        PhaseClock.mark("collect")
        let sorted = Self.noteOverrides(diags, manifest.overrideNotes).sortedByLocation()
        PhaseClock.mark("sort")
        return ValidationResult(manifest: manifest, deployments: resolved, diagnostics: sorted)
    }

    /// A diagnostic in the set of those reported: equal when the diagnostics are, hashed by place and
    /// id alone (hashing every message and note cost 5,000 instructions a diagnostic, on one thread).
    struct Reported: Hashable {
        let diagnostic: Diagnostic
        init(_ d: Diagnostic) { diagnostic = d }
        func hash(into hasher: inout Hasher) {
            hasher.combine(diagnostic.location)
            hasher.combine(diagnostic.id)
        }
    }

    /// What checking one deployment found: its diagnostics in order (with the place its catalog's
    /// own diagnostics go). What it resolved to (one per part of a disaggregated deployment) is
    /// appended to its run's array.
    struct Checked: Sendable {
        enum Event: Sendable {
            case diagnostic(Diagnostic)
            case catalog(String)
        }
        var events: [Event] = []
    }

    /// Each backend version's catalog, looked up once whichever thread needs it first; with several
    /// workers, each checks against a copy of its own (`FlagCatalog.isolatedCopy`): reading the
    /// catalog's strings retains its storage, and workers retaining the same storage contend for it
    /// (validating 2,000 deployments on 2 threads took a fifth more CPU than on one).
    final class CatalogCache: Sendable {
        struct Entry: Sendable {
            var catalog: FlagCatalog?
            var engineVersion: Located<String>
            var diagnostics: [Diagnostic]
        }
        private let entries = Mutex<[String: Entry]>([:])
        /// Each worker's copies, when checks run on several threads.
        private let copies: [WorkerCopies]

        /// A cache for checks on `workers` threads (`Parallel.mapOnWorkers`).
        init(workers: Int = 1) {
            copies = workers > 1 ? (0..<workers).map { _ in WorkerCopies() } : []
        }

        /// The entry for `key` as worker `worker` sees it: on several threads, with a catalog of its own.
        func entry(_ key: String, version: BackendVersion, engine: EngineKind, worker: Int) -> Entry {
            guard worker < copies.count else { return entry(key, version: version, engine: engine) }
            return copies[worker].entry(key) {
                var e = entry(key, version: version, engine: engine)
                e.catalog = e.catalog?.isolatedCopy()
                return e
            }
        }

        /// The entry for `key`, computed (under the lock) from `version` the first time.
        func entry(_ key: String, version: BackendVersion, engine: EngineKind) -> Entry {
            entries.withLock { all in
                if let e = all[key] { return e }
                var v = version
                let (catalog, diagnostics) = EngineVersionCheck.catalog(for: &v, engine: engine)
                let e = Entry(catalog: catalog?.extended(with: v.catalogExtension), engineVersion: v.engineVersion,
                              diagnostics: diagnostics)
                all[key] = e
                PhaseClock.mark("  catalog \(key) loaded")
                return e
            }
        }

        func diagnostics(_ key: String) -> [Diagnostic] { entries.withLock { $0[key]?.diagnostics ?? [] } }

        /// One worker's entries. Only that worker touches them.
        final class WorkerCopies: @unchecked Sendable {
            private var entries: [String: Entry] = [:]

            func entry(_ key: String, _ make: () -> Entry) -> Entry {
                if let e = entries[key] { return e }
                let e = make()
                entries[key] = e
                return e
            }
        }
    }

    /// `backend 'vllm' has no version 'x'`, with the versions in release order, the nearest name, and
    /// what `otherVersions` accepts (a `v0.20.1` is suggested as `0.20.1`).
    static func unknownVersion(_ written: Located<String>, of backend: Backend) -> Diagnostic {
        let names = backend.versions.keys.sorted { (EngineVersion($0), $0) < (EngineVersion($1), $1) }
        var hint = Suggest.didYouMean(written.value, in: names)
        var notes = ["versions: \(names.joined(separator: ", "))"]
        var fix: String?
        if let other = backend.otherVersions {
            let bare = String(written.value.drop { $0 == "v" || $0 == "V" })
            if bare != written.value, backend.version(named: Located(bare, at: written.location)) != nil {
                hint = "; did you mean '\(bare)'?"
                fix = bare
            }
            let release = backend.engine == .llamaCpp ? "bN" : "X.Y.Z"
            notes.append("any other \(backend.engine.rawValue) release runs too, named by its number: backendVersion: "
                         + "\"\(release)\" runs \(other.image.replacing("{{version}}", with: release))")
        }
        var d = Diagnostic.error("unknown-reference", "backend '\(backend.name)' has no version '\(written.value)'\(hint)",
                                 at: written.location, length: written.length, notes: notes)
        d.fixIt = fix.map { "\"\($0)\"" }
        return d
    }

    /// One deployment: references, PD expansion, target checks, catalog, then `DeploymentCheck`.
    func check(_ original: Deployment, in manifest: Manifest, defaultTarget: String?, catalogs: CatalogCache, worker: Int,
               templateCache: inout DeploymentCheck.TemplateCache, into resolved: inout [ResolvedDeployment]) -> Checked {
        var out = Checked()
        func add(_ d: Diagnostic) { out.events.append(.diagnostic(d)) }
        let override = targetOverride
        let d = original
        guard let backend = manifest.backends[d.backend.value] else {
            let hint = Suggest.didYouMean(d.backend.value, in: manifest.backends.keys)
            add(.error("unknown-reference", "unknown backend '\(d.backend.value)'\(hint)",
                       at: d.backend.location, length: d.backend.length,
                       notes: hint.isEmpty ? ["backends: \(manifest.backends.keys.sorted().joined(separator: ", "))"] : []))
            return out
        }
        guard let declaredVersion = backend.version(named: d.backendVersion) else {
            add(Self.unknownVersion(d.backendVersion, of: backend))
            return out
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
            let key = "\(backend.name)/\(version.name)"
            let entry = catalogs.entry(key, version: version, engine: backend.engine, worker: worker)
            out.events.append(.catalog(key))
            version.engineVersion = entry.engineVersion
            guard let catalog = entry.catalog else { continue }
            PDExpansion.checkTransferBackend(&d, original: original, catalog: catalog, report: d.pd?.role == .prefill).forEach(add)
            var check = DeploymentCheck(deployment: d, backend: backend, version: version, catalog: catalog,
                                        strict: strictFlags, layers: manifest.layers)
            let r = check.run(templateCache: &templateCache)
            check.diagnostics.forEach(add)
            var final = d
            final.args = check.finalArgs
            final.argPatches = []
            var resolvedDeployment = ResolvedDeployment(deployment: final, backend: backend, version: version, catalog: catalog,
                                                        target: target, args: r.args, flagSet: r.flagSet, env: r.env)
            let schema = targetTypes.schema(target?.type ?? "local")
            resolvedDeployment.runsInContainers = schema?.containers ?? false
            resolvedDeployment.targetRevisionParts = target.flatMap { t in schema?.revisionParts(t) } ?? []
            resolvedDeployment.layers = manifest.layers
            resolved.append(resolvedDeployment)
        }
        return out
    }

    /// A deployment whose replicas, or the ports dsdeploy derives from theirs, would run past 65535:
    /// replica i listens on port + i, a multi-node replica's rendezvous on its port + 1000 (SGLang uses
    /// up to + 1005), a prefill server's bootstrap and the router's Prometheus listener on + 1500.
    static func portRange(_ d: Deployment) -> Diagnostic? {
        let last = d.port + max(0, d.replicas - 1)
        // The first port past the range, found before any words are built (most deployments have none).
        enum Need { case replica, rendezvous, bootstrap, prometheus }
        var over: (need: Need, port: Int)?
        func consider(_ need: Need, _ port: Int) { if over == nil, port > 65535 { over = (need, port) } }
        consider(.replica, last)
        if d.nodes > 1 { consider(.rendezvous, last + 1005) }
        switch d.pd?.role {
        case .prefill?: consider(.bootstrap, last + PDExpansion.bootstrapPortOffset)
        case .router? where !d.args.contains(where: { $0.value.hasPrefix("--prometheus-port") }):
            consider(.prometheus, last + PDExpansion.prometheusPortOffset)
        default: break
        }
        guard let (need, port) = over else { return nil }
        let what = switch need {
        case .replica: "replica \(max(0, d.replicas - 1))'s port"
        case .rendezvous: "the multi-node rendezvous (port + 1000 to + 1005)"
        case .bootstrap: "the bootstrap port (port + \(PDExpansion.bootstrapPortOffset))"
        case .prometheus: "the router's Prometheus port (port + \(PDExpansion.prometheusPortOffset))"
        }
        let at = d.fieldLocations["port"] ?? d.fieldLocations["replicas"] ?? d.location
        return .error("invalid-value", "deployment '\(d.name)' would need port \(port) for \(what), past 65535",
                      at: at, notes: ["port \(d.port), \(d.replicas) replica\(d.replicas == 1 ? "" : "s"); choose a lower port"])
    }

    /// Fewer deployments than this are checked on the calling thread alone.
    static let parallelMinimum = 64

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
