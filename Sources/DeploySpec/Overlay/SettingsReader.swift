import DeployCore

/// Reads `--values FILE` and `--set PATH=VALUE` into operations on named deployments.
///
/// A path is `deployments.NAME.PATH` with PATH as in an overlay (`replicas`, `labels.env`,
/// `args.--tp-size`). A `--set` value is typed like the field it sets: a string field takes the text
/// as written; a number, boolean, list or mapping field reads it as YAML. A `--values` file is a YAML
/// mapping of such paths to values. `--set` arguments are located in the pseudo-file `--set`, one
/// argument per line, so their errors print with a caret like any manifest's.
struct SettingsReader {
    /// One setting: an operation on a deployment, and who makes it.
    struct Setting: Sendable {
        var deployment: String
        var op: PatchOp
        var layer: String
    }

    /// Where values files are read from.
    let source: any ManifestFileSource

    /// The settings, in the order they apply: every values file, then every `--set`. Registers their
    /// files (layers and source text) in `manifest`.
    func read(_ settings: ManifestSettings, into manifest: inout Manifest, _ diags: inout [Diagnostic]) -> [Setting] {
        var out: [Setting] = []
        for file in settings.valuesFiles {
            guard let bytes = source.read(file) else {
                diags.append(.error("unknown-reference", "cannot read values file '\(file)': no such file", at: nil))
                continue
            }
            manifest.sources[file] = SourceText(bytes: bytes)
            manifest.layers[file] = .values
            let (docs, yamlDiags) = YAMLLoader.load(bytes, file: file)
            diags += yamlDiags
            for doc in docs {
                guard let root = doc.root else { continue }
                guard let m = root.mapping else {
                    diags.append(.error("invalid-type", "a values file is a mapping of paths to values "
                                        + "(deployments.NAME.PATH: VALUE), got \(root.kindDescription)", at: root.location))
                    continue
                }
                var unexpanded = UnexpandedVariables()
                for (k, v) in m.stringPairs {
                    let path = Located(k.value, at: k.location.advanced(by: k.contentOffset),
                                       length: max(1, k.length - 2 * k.contentOffset))
                    guard let s = setting(path, manifest: manifest, layer: "--values \(file)", &diags, value: { _ in (v, []) }) else { continue }
                    out.append(s)
                    unexpanded.check(setting: s.op.path.value, v)  // PATH as an overlay's `set` writes it
                }
                diags += unexpanded.diagnostics
            }
        }
        if !settings.set.isEmpty {
            manifest.sources[ManifestLayer.setFile] = SourceText(settings.set.joined(separator: "\n"))
            manifest.layers[ManifestLayer.setFile] = .set
        }
        for (n, arg) in settings.set.enumerated() {
            let start = SourceLocation(file: ManifestLayer.setFile, line: n + 1, column: 1)
            guard let eq = arg.firstIndex(of: "=") else {
                diags.append(.error("invalid-value", "'\(arg)' is not PATH=VALUE (e.g. deployments.dspark.replicas=2)",
                                    at: start, length: max(1, arg.count)))
                continue
            }
            let pathText = String(arg[..<eq])
            let valueText = String(arg[arg.index(after: eq)...])
            let valueAt = start.advanced(by: pathText.count + 1)
            let path = Located(pathText, at: start, length: max(1, pathText.count))
            let s = setting(path, manifest: manifest, layer: "--set", &diags) { target -> (YAMLNode?, [Diagnostic]) in
                switch target {
                case .flag: return (.scalar(YAMLScalar(value: valueText, style: .plain, tag: nil, location: valueAt,
                                                       contentOffset: 0, length: max(1, valueText.count))), [])
                case .field(_, _, .string, _), .field(_, _, .enumeration, _), .field(_, _, .scalar, _),
                     .field(_, _, .envValue, _), .field(_, _, .stringOrList, _):
                    return (.commandLineString(valueText, at: valueAt), [])
                case .field, .args:
                    return YAMLNode.commandLineYAML(valueText, at: valueAt)
                }
            }
            if let s { out.append(s) }
        }
        return out
    }

    /// Splits `deployments.NAME.PATH`, checks the deployment and the path; `value` makes the node to set.
    func setting(_ full: Located<String>, manifest: Manifest, layer: String, _ diags: inout [Diagnostic],
                 value: (DeploymentPath) -> (YAMLNode?, [Diagnostic])) -> Setting? {
        let (root, rest) = DeploymentPath.split(full.value)
        guard root == "deployments" else {
            let hint = Suggest.didYouMean(root, in: ["deployments"])
            diags.append(.error("unknown-key", "unknown setting '\(root)'\(hint)", at: full.location, length: max(1, root.count),
                                notes: ["settings change deployments: deployments.NAME.PATH=VALUE (docs/environments.md)"]))
            return nil
        }
        let names = manifest.deployments.map(\.name)
        let afterRoot = full.location.advanced(by: root.count + 1)
        guard let rest, !rest.isEmpty else {
            diags.append(.error("unknown-key", "'\(full.value)' names no deployment: write deployments.NAME.PATH",
                                at: full.location, length: full.length, notes: ["deployments: \(names.sorted().joined(separator: ", "))"]))
            return nil
        }
        // Names may contain dots: the longest deployment name the path starts with.
        guard let name = names.filter({ rest.hasPrefix($0 + ".") }).max(by: { $0.count < $1.count }) else {
            let (first, _) = DeploymentPath.split(rest)
            let hint = Suggest.didYouMean(first, in: names)
            diags.append(.error("unknown-reference", "no deployment '\(first)' to set\(hint)", at: afterRoot, length: max(1, first.count),
                                notes: ["deployments: \(names.sorted().joined(separator: ", "))"]))
            return nil
        }
        let relText = String(rest.dropFirst(name.count + 1))
        let rel = Located(relText, at: afterRoot.advanced(by: name.count + 1), length: max(1, relText.count))
        switch DeploymentPath.parse(rel, owner: "deployment '\(name)'") {
        case .failure(let e):
            diags.append(e.diagnostic)
            return nil
        case .success(let target):
            let (node, valueDiags) = value(target)
            diags += valueDiags
            guard let node else { return nil }
            return Setting(deployment: name, op: PatchOp(path: rel, kind: .set(node)), layer: layer)
        }
    }
}
