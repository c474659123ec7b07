public import DeployCore
public import Engines

/// Expands a disaggregated deployment (`disaggregation:`) into the deployments that run: its prefill
/// servers (`NAME-prefill`), its decode servers (`NAME-decode`) and the router (`NAME`, whose endpoint
/// is the deployment's). Each is then checked, rendered, planned and rolled out like any deployment;
/// `PDMember` tells the executor which belong together (a failure of one reverts all, workers join
/// and leave the router around their rollout).
///
/// What dsdeploy sets, and the user may not write:
/// - prefill: `--disaggregation-mode prefill`, `--disaggregation-transfer-backend X` (from `transferBackend`),
///   and per server `--disaggregation-bootstrap-port PORT+1500` (rendered, like `--port`);
/// - decode: `--disaggregation-mode decode`, the transfer backend;
/// - router: `--host`, `--port` (the run command), `--pd-disaggregation`, `--prometheus-host/-port`
///   (unless written), and no `--prefill`/`--decode`/`--worker-urls`: dsdeploy registers the
///   workers through the router's `POST /workers` as they become ready, and takes them out before
///   they stop.
public enum PDExpansion {
    /// Port offsets of the roles from the deployment's port, when a role sets none.
    public static let prefillPortOffset = 10
    /// See `prefillPortOffset`.
    public static let decodePortOffset = 20
    /// A prefill server's bootstrap port (`--disaggregation-bootstrap-port`) is its port + this;
    /// SGLang's multi-node rendezvous uses port + 1000 … + 1005.
    public static let bootstrapPortOffset = 1500
    /// The router's Prometheus listener (`--prometheus-port`) is its port + this, unless written.
    public static let prometheusPortOffset = 1500
    /// The router's entrypoint when the manifest names none.
    public static let defaultRouterEntrypoint = ["python3", "-m", "sglang_router.launch_router"]
    /// The name of the synthetic backend the router runs as.
    public static let routerBackendName = "sglang-router"

    /// Flags dsdeploy sets on prefill/decode servers.
    public static let managedEngineFlags = ["--disaggregation-mode", "--disaggregation-bootstrap-port", "--disaggregation-transfer-backend"]
    /// Router flags dsdeploy sets (or must not be written: it registers the workers itself).
    public static let managedRouterFlags = ["--host", "--port", "--pd-disaggregation", "--prefill", "--decode", "--worker-urls"]

    /// One deployment to check and run, with the backend and version it runs.
    public struct Part: Sendable {
        /// The deployment (a role's, or the router's).
        public var deployment: Deployment
        /// Its backend (the router's is synthetic).
        public var backend: Backend
        /// Its version.
        public var version: BackendVersion
    }

    /// Checks `transferBackend` against the engine version's choices, at its own line. A role's args
    /// lose the flag when it is wrong (so the flag check does not report it again, at the wrong place).
    public static func checkTransferBackend(_ part: inout Deployment, original: Deployment, catalog: FlagCatalog,
                                            report: Bool) -> [Diagnostic] {
        guard let role = part.pd?.role, role != .router, let t = original.disaggregation?.transferBackend else { return [] }
        let flag = "--disaggregation-transfer-backend"
        var problem: Diagnostic?
        if let spec = catalog.spec(named: flag) {
            if !spec.choices.isEmpty, !spec.choices.contains(t.value) {
                let hint = Suggest.didYouMean(t.value, in: spec.choices)
                problem = .error("invalid-value", "invalid transferBackend '\(t.value)' (\(flag))\(hint)", at: t.location,
                                 length: t.value.unicodeScalars.count, notes: ["choose from: \(spec.choices.joined(separator: ", "))"])
            }
        } else {
            problem = .error("unsupported", "\(catalog.engine) \(catalog.version) has no \(flag), which transferBackend sets",
                             at: t.location, length: t.value.unicodeScalars.count)
        }
        guard let problem else { return [] }
        part.args.removeAll { $0.value.hasPrefix(flag + " ") && $0.location == t.location }
        return report ? [problem] : []
    }

    /// The parts of `d` (itself, unchanged, when it is not disaggregated) and the problems found.
    public static func expand(_ d: Deployment, backend: Backend, version: BackendVersion) -> ([Part], [Diagnostic]) {
        guard let pd = d.disaggregation else { return ([Part(deployment: d, backend: backend, version: version)], []) }
        var diags: [Diagnostic] = []
        for key in ["replicas", "gpusPerReplica", "nodesPerReplica", "nodes"] {
            if let at = d.fieldLocations[key] {
                diags.append(.error("disaggregation", "deployment '\(d.name)' is disaggregated: set '\(key == "nodes" ? "nodesPerReplica" : key)' "
                                    + "per role (disaggregation.prefill, disaggregation.decode), not for the deployment", at: at))
            }
        }
        if backend.engine != .sglang {
            diags.append(.error("unsupported", "prefill/decode disaggregation runs SGLang servers behind sglang-router; backend "
                                + "'\(backend.name)' runs \(backend.engine)", at: pd.location))
        }
        // Flags dsdeploy sets may not also be written: reported once, and left out (no second error
        // about the flag being given twice).
        var reported = Set<SourceLocation>()
        func managed(_ args: [Located<String>], _ names: [String], _ why: String) -> [Located<String>] {
            args.filter { a in
                let flag = String(a.value.split(whereSeparator: { $0 == " " || $0 == "=" }).first ?? "")
                guard names.contains(flag) else { return true }
                if reported.insert(a.location).inserted {
                    diags.append(.error("managed-flag", "'\(flag)' is set by dsdeploy for a disaggregated deployment (\(why)); remove it",
                                        at: a.location, length: flag.count))
                }
                return false
            }
        }
        let engineWhy = "prefill and decode get their mode, transfer backend and bootstrap port from 'disaggregation'"
        let common = managed(d.args, managedEngineFlags, engineWhy)
        let routerArgs = managed(pd.router.args, managedRouterFlags, "it listens on the deployment's port and registers the workers itself")

        // sglang-router 0.3.2 refuses to start "Power-of-two policy for decode requires at least 2
        // decode workers" (and the same for prefill): the policy compares two workers.
        func policy(_ flag: String) -> Located<String>? {
            routerArgs.last { $0.value.hasPrefix(flag + " ") || $0.value.hasPrefix(flag + "=") }
        }
        for (side, spec) in [("prefill", pd.prefill), ("decode", pd.decode)] {
            guard let p = policy("--\(side)-policy") ?? policy("--policy"), p.value.hasSuffix("power_of_two"), spec.replicas < 2 else { continue }
            diags.append(.error("flag-conflict", "the power_of_two policy for \(side) needs at least 2 \(side) servers "
                                + "(disaggregation.\(side).replicas is \(spec.replicas)); sglang-router refuses to start otherwise",
                                at: p.location, length: p.value.count))
        }

        var parts: [Part] = []
        for (role, spec, offset) in [(PDRole.prefill, pd.prefill, prefillPortOffset), (.decode, pd.decode, decodePortOffset)] {
            var r = d
            r.name = "\(d.name)-\(role.rawValue)"
            r.disaggregation = nil
            r.pd = PDMember(group: d.name, role: role)
            r.replicas = spec.replicas
            r.gpusPerReplica = spec.gpusPerReplica
            r.nodes = spec.nodes
            r.port = spec.port ?? d.port + offset
            r.benchmarks = []
            r.benchmarkSources = []
            var added = [Located("--disaggregation-mode \(role.rawValue)", at: spec.location)]
            if let t = pd.transferBackend, !t.value.isEmpty {
                // Its value is checked against the catalog at `transferBackend` (`checkTransferBackend`).
                added.append(Located("--disaggregation-transfer-backend \(t.value)", at: t.location))
            }
            r.args = common + managed(spec.args, managedEngineFlags, engineWhy) + added
            let own = Set(spec.env.map(\.name.value))
            r.env = d.env.filter { !own.contains($0.name.value) } + spec.env
            // The role's own fields are where its replicas, GPUs and port are written.
            let prefix = "disaggregation.\(role.rawValue)."
            for (path, loc) in d.fieldLocations.all where path.hasPrefix(prefix) {
                r.fieldLocations[String(path.dropFirst(prefix.count))] = loc
            }
            parts.append(Part(deployment: r, backend: backend, version: version))
        }

        // The router: a synthetic backend whose engine is sglang-router, its flags checked against its catalog.
        var router = d
        router.disaggregation = nil
        router.pd = PDMember(group: d.name, role: .router)
        router.replicas = 1
        router.gpusPerReplica = 0
        router.nodes = 1
        router.env = []
        router.container = nil
        // One router on the deployment's port: a new one replaces the old in place (no second on that port).
        router.rollout = Rollout(maxUnavailable: 1, maxSurge: 0)
        let at = pd.router.location ?? pd.location
        router.args = routerArgs + [Located("--pd-disaggregation", at: at)]
        // No version written: the newest catalogued router (the image's own is not knowable from its tag).
        let routerVersion = pd.router.version ?? Located(CatalogStore.shared.versions(of: .sglangRouter).last ?? "", at: at)
        let image = pd.router.image?.value ?? version.image
        let v = BackendVersion(name: "sglang-router-" + routerVersion.value,
                               engineVersion: routerVersion, engineVersionSource: .declared,
                               image: image, imageLocation: pd.router.image?.location ?? version.imageLocation,
                               framework: nil, entrypoint: pd.router.entrypoint ?? defaultRouterEntrypoint,
                               command: Located("--host {{worker_ip}} --port {{port}}", at: at), args: [], env: [],
                               catalogExtension: CatalogExtension(), readiness: nil, location: at)
        router.backendVersion = Located(v.name, at: at)
        let routerBackend = Backend(name: routerBackendName, engine: .sglangRouter, versions: [v.name: v], location: at, isStock: true)
        parts.append(Part(deployment: router, backend: routerBackend, version: v))
        return (parts, diags)
    }
}
