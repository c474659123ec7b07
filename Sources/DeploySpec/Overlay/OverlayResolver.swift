import DeployCore

/// Resolves an environment: applies `Overlay` documents to the deployments of their bases (chains in
/// order, bases first), then `--values` files and `--set` arguments, and decodes every changed
/// deployment again from its patched document. Engine-flag changes wait for the catalog
/// (`Deployment.argPatches`, applied by `SpecValidator`).
///
/// Every problem is a located diagnostic: a cycle of bases, a deployment the base does not have, an
/// unknown path (with a did-you-mean), a value of the wrong type (at the overlay's or the setting's
/// own line, with a note pointing at the value it replaced).
struct OverlayResolver {
    /// Decodes patched deployments.
    let targetTypes: TargetTypes
    /// Files each loaded file pulls in (`Include` files, an overlay's base), normalized.
    let edges: [String: [String]]
    /// Files that were read (normalized).
    let loaded: Set<String>

    /// Which file last produced each deployment (its definition, or the overlay that patched it), normalized.
    private var provider: [String: String] = [:]
    /// The overlay that last patched each deployment.
    private var patchedBy: [String: OverlayDocument] = [:]
    /// Deployments whose document changed.
    private var touched: [String] = []
    /// Flag changes per deployment, in order.
    private var argPatches: [String: [ArgPatch]] = [:]

    init(targetTypes: TargetTypes, edges: [String: [String]], loaded: Set<String>) {
        self.targetTypes = targetTypes
        self.edges = edges
        self.loaded = loaded
    }

    /// Applies every overlay of `manifest`, then `settings`; changed deployments are decoded again.
    mutating func resolve(_ manifest: inout Manifest, settings: [SettingsReader.Setting], _ diags: inout [Diagnostic]) {
        // Deployments of one file share its normalized path: normalize each file once, not per deployment.
        // By index, reading two fields: `for d in manifest.deployments` copied each whole deployment.
        var normalized: [String: String] = [:]
        for i in manifest.deployments.indices {
            let file = manifest.deployments[i].file, name = manifest.deployments[i].name
            if let n = normalized[file] {
                provider[name] = n
            } else {
                let n = ManifestPath.normalize(file)
                normalized[file] = n
                provider[name] = n
            }
        }
        for o in ordered(manifest.overlays, &diags) { apply(o, to: &manifest, &diags) }
        for s in settings {
            guard manifest.deploymentIndex[s.deployment] != nil else { continue }
            apply([s.op], to: s.deployment, layer: s.layer, in: &manifest, &diags)
        }
        redecode(&manifest, &diags)
    }

    /// Overlays outside any cycle, bases first; a cycle is reported once, at the `base:` of its first overlay.
    func ordered(_ overlays: [OverlayDocument], _ diags: inout [Diagnostic]) -> [OverlayDocument] {
        let byFile = Dictionary(overlays.map { (ManifestPath.normalize($0.file), $0) }, uniquingKeysWith: { a, _ in a })
        var cyclic: Set<String> = []
        var depth: [String: Int] = [:]
        for o in overlays {
            let start = ManifestPath.normalize(o.file)
            var chain = [start]
            var f = o.baseFile
            var n = 1
            while let next = byFile[f] {
                if f == start {
                    if cyclic.insert(start).inserted {
                        for member in chain { cyclic.insert(member) }
                        diags.append(.error("overlay-cycle",
                            "overlay '\(o.name)' is its own base: \((chain + [start]).joined(separator: " → "))",
                            at: o.base.location, length: o.base.length,
                            notes: ["an overlay's base must lead to a manifest that is not an overlay of it"]))
                    }
                    break
                }
                if chain.contains(f) { break }  // a cycle further down: reported at its own members
                chain.append(f)
                f = next.baseFile
                n += 1
            }
            depth[start] = n
        }
        return overlays.filter { !cyclic.contains(ManifestPath.normalize($0.file)) }
            .enumerated().sorted { a, b in
                let da = depth[ManifestPath.normalize(a.element.file)] ?? 0, db = depth[ManifestPath.normalize(b.element.file)] ?? 0
                return da == db ? a.offset < b.offset : da < db
            }.map(\.element)
    }

    /// Files reachable from `file` through includes and bases (itself included).
    func reach(_ file: String) -> Set<String> {
        var seen: Set<String> = [file]
        var stack = [file]
        while let f = stack.popLast() {
            for next in edges[f] ?? [] where seen.insert(next).inserted { stack.append(next) }
        }
        return seen
    }

    mutating func apply(_ o: OverlayDocument, to manifest: inout Manifest, _ diags: inout [Diagnostic]) {
        manifest.layers[o.file] = .overlay(o.name)
        let base = o.baseFile
        guard loaded.contains(base) else { return }  // unreadable: reported where `base:` is written
        let inBase = reach(base)
        let candidates = manifest.deployments.filter { provider[$0.name].map(inBase.contains) ?? false }.map(\.name)
        for patch in o.patches {
            let name = patch.deployment.value
            guard manifest.deploymentIndex[name] != nil, let from = provider[name], inBase.contains(from) else {
                if let other = patchedBy[name], manifest.deploymentIndex[name] != nil {
                    diags.append(.error("duplicate-key",
                        "deployment '\(name)' is changed by two overlays that do not build on each other: '\(other.name)' and '\(o.name)'",
                        at: patch.deployment.location, length: patch.deployment.length,
                        notes: ["overlay '\(other.name)' is at \(other.location.file):\(other.location.line)",
                                "an environment is one chain of overlays: pass one of them, or make one the other's base"]))
                    continue
                }
                let hint = Suggest.didYouMean(name, in: candidates)
                diags.append(.error("unknown-reference",
                    "overlay '\(o.name)': its base \(o.base.value) has no deployment '\(name)'\(hint)",
                    at: patch.deployment.location, length: patch.deployment.length,
                    notes: candidates.isEmpty ? ["the base defines no deployments"]
                                              : ["deployments of the base: \(candidates.sorted().joined(separator: ", "))"]))
                continue
            }
            apply(patch.ops, to: name, layer: "overlay '\(o.name)'", in: &manifest, &diags)
            provider[name] = ManifestPath.normalize(o.file)
            patchedBy[name] = o
        }
    }

    /// Applies operations to one deployment's document (fields, labels, env) or flag list (later).
    mutating func apply(_ ops: [PatchOp], to name: String, layer: String, in manifest: inout Manifest,
                        _ diags: inout [Diagnostic]) {
        guard var raw = manifest.rawDeployments[name], let i = manifest.deploymentIndex[name] else { return }
        let d = manifest.deployments[i]
        for op in ops {
            let path: DeploymentPath
            switch DeploymentPath.parse(op.path, owner: "deployment '\(name)'") {
            case .success(let p): path = p
            case .failure(let e): diags.append(e.diagnostic); continue
            }
            switch (path, op.kind) {
            case (.flag(let flag), .set(let node)):
                guard let value = Self.flagValue(node, flag: flag.value, &diags) else { continue }
                argPatches[name, default: []].append(ArgPatch(op: .set(flag: flag, values: value.values, boolean: value.boolean),
                                                              layer: layer))
            case (.flag(let flag), .remove):
                argPatches[name, default: []].append(ArgPatch(op: .remove(flag), layer: layer))
            case (.args, .set(let node)):
                guard node.sequence != nil else {
                    diags.append(.error("invalid-type", "'args' must be a list of flags, got \(node.kindDescription)",
                                        at: node.location))
                    continue
                }
                argPatches[name, default: []].append(ArgPatch(op: .replaceAll(node.locatedStrings), layer: layer))
            case (.args, .remove):
                argPatches[name, default: []].append(ArgPatch(op: .replaceAll([]), layer: layer))
            case (.field(let root, let keys, _, _), .set(let node)):
                let old = raw.set([root.rawValue] + keys[...], to: node, at: op.path.location)
                let replaced = old.map { "replaces the value at \(Self.describe($0.location, manifest))" }
                    ?? "deployment '\(name)' is defined at \(d.location.file):\(d.location.line):\(d.location.column)"
                manifest.overrideNotes.append(OverrideNote(location: node.location, text: "\(layer) sets '\(path.display)'; \(replaced)"))
            case (.field(let root, let keys, _, let required), .remove):
                if required {
                    diags.append(.error("invalid-value", "\(layer) cannot remove '\(path.display)': deployment '\(name)' requires it",
                                        at: op.path.location, length: op.path.length))
                    continue
                }
                if raw.remove([root.rawValue] + keys[...]) == nil {
                    diags.append(.warning("no-effect", "\(layer) removes '\(path.display)', which deployment '\(name)' does not set",
                                          at: op.path.location, length: op.path.length))
                }
            }
        }
        manifest.rawDeployments[name] = raw
        if !touched.contains(name) { touched.append(name) }
    }

    /// A flag's value words from a YAML value: a scalar (`null`: a presence flag), or a list.
    static func flagValue(_ node: YAMLNode, flag: String, _ diags: inout [Diagnostic])
        -> (values: [Located<String>], boolean: Bool?)? {
        switch node {
        case .scalar(let s):
            switch s.resolved {
            case .null where s.style == .plain: return ([], nil)
            case .bool(let b) where s.style == .plain: return ([Located(s.value, at: s.location, length: s.length)], b)
            default: return node.locatedString.map { ([$0], nil) }
            }
        case .sequence(let seq):
            return (seq.items.compactMap(\.locatedString), nil)
        case .mapping(let m):
            diags.append(.error("invalid-type",
                "the value of engine flag '\(flag)' must be a string, a number, a boolean or a list, got a mapping "
                + "(write a JSON value as a quoted string)", at: m.location))
            return nil
        }
    }

    /// `file:line:col`, with the layer when it is not the base.
    static func describe(_ location: SourceLocation, _ manifest: Manifest) -> String {
        let origin = manifest.origin(of: location)
        let place = "\(location.file):\(location.line):\(location.column)"
        switch origin.layer {
        case "overlay": return "\(place) (overlay '\(origin.overlay ?? "")')"
        case "base": return "\(place) (the base)"
        default: return place
        }
    }

    /// Decodes every changed deployment from its patched document; its flag changes come along.
    mutating func redecode(_ manifest: inout Manifest, _ diags: inout [Diagnostic]) {
        for name in touched {
            guard let raw = manifest.rawDeployments[name], let i = manifest.deploymentIndex[name] else { continue }
            let old = manifest.deployments[i]
            var decoder = ManifestDecoder(file: old.file, targetTypes: targetTypes)
            let doc = YAMLDocument(root: .mapping(raw), index: 0, location: raw.location)
            let decoded = decoder.decode(doc)
            diags += decoder.diagnostics
            guard var d = decoded?.deployment else { continue }
            d.argPatches = old.argPatches + (argPatches[name] ?? [])
            manifest.deployments[i] = d
        }
    }
}
