import DeployCore
import DeployTemplate
import Engines

/// Checks one deployment's run command, args and env against its backend version's catalog.
struct DeploymentCheck {
    let deployment: Deployment
    let backend: Backend
    let version: BackendVersion
    let catalog: FlagCatalog
    /// Abbreviations are errors (`validate --strict`, or `strictFlags: true` on the deployment).
    let strict: Bool
    var diagnostics: [Diagnostic] = []

    /// The layers of the loaded files (which are overlays, `--values`, `--set`), for notes.
    let layers: [String: ManifestLayer]

    /// Where an `ArgGroup.origin` points: the located text it was parsed from (its value words
    /// possibly written elsewhere), and a note for diagnostics at it.
    private var origins: [(source: ArgSource, line: ArgLine)] = []

    /// The deployment's `args` after overlays and settings (set by `run`).
    private(set) var finalArgs: [Located<String>] = []

    init(deployment: Deployment, backend: Backend, version: BackendVersion, catalog: FlagCatalog, strict: Bool = false,
         layers: [String: ManifestLayer] = [:]) {
        self.layers = layers
        self.deployment = deployment
        self.backend = backend
        self.version = version
        self.catalog = catalog
        self.strict = strict || deployment.strictFlags == true
    }

    mutating func run(templateCache: inout TemplateCache) -> (args: [ArgEntry], flagSet: FlagSet, env: [EnvVar]) {
        let env = mergedEnv()
        // Sized once: a template's few groups, then the backend's and the deployment's entries.
        let expected = 8 + version.args.count + deployment.args.count
        var groups: [ArgGroup] = []
        groups.reserveCapacity(expected)
        var sources: [ArgSource] = []
        sources.reserveCapacity(expected)
        origins.reserveCapacity(expected)
        if let command = version.command {
            // The template's words and placeholder checks depend only on the version and the env names.
            let key = TemplateKey(backend: backend.name, version: version.name, env: env)
            if let (cached, diags) = templateCache[key] {
                diagnostics += diags
                for var g in cached {
                    g.origin = origins.count
                    origins.append((.template, ArgLine(text: command)))
                    groups.append(g)
                }
            } else {
                let before = diagnostics.count
                let fresh = templateGroups(command, env: env)
                templateCache[key] = (fresh, Array(diagnostics[before...]))
                groups += fresh
            }
        }
        sources.append(contentsOf: repeatElement(.template, count: groups.count))

        var patcher = ArgPatcher(catalog: catalog, deployment: deployment, layers: layers)
        let lines = patcher.apply()
        diagnostics += patcher.diagnostics
        finalArgs = lines.map(\.text)
        let deploymentGroups = entryGroups(lines, source: .deployment)
        // Each group's canonical flag name, resolved once and kept beside `groups` for the entries.
        let deploymentNames = deploymentGroups.map { catalog.canonicalName(for: $0.flag) }
        var names: [String?] = []
        names.reserveCapacity(expected)
        for g in groups { names.append(catalog.canonicalName(for: g.flag)) }
        // Only backend args can be overridden; most versions have none, so the set is built only for them.
        let overridden = version.args.isEmpty ? [] : Set(deploymentNames.compactMap { $0 })
        for g in entryGroups(version.args.map { ArgLine(text: $0) }, source: .backend) {
            let name = catalog.canonicalName(for: g.flag)
            if let name, overridden.contains(name) { continue }
            groups.append(g)
            sources.append(.backend)
            names.append(name)
        }
        groups += deploymentGroups
        sources.append(contentsOf: repeatElement(.deployment, count: deploymentGroups.count))
        names += deploymentNames

        let context = CheckContext(gpusPerReplica: deployment.gpusPerReplica > 0 ? deployment.gpusPerReplica : nil,
                                   nodes: deployment.nodes)
        // The template's flags are dsdeploy's own (`--host`, `--port`): not part of the deployment's flag set.
        let templateGroups = sources.prefix { $0 == .template }.count
        let result = FlagChecker(catalog: catalog, strict: strict).check(groups, context: context, flagSetOmitsFirst: templateGroups)
        for issue in result.issues { diagnostics.append(diagnostic(for: issue, groups: groups)) }

        var entries: [ArgEntry] = []
        entries.reserveCapacity(groups.count)
        for i in groups.indices {
            let g = groups[i]
            entries.append(ArgEntry(source: sources[i], group: g, canonicalName: names[i],
                                    location: g.origin < origins.count ? origins[g.origin].line.text.location : nil))
        }
        diagnostics += multiNodeDiagnostics(entries)
        return (entries, result.flagSet, env)
    }

    /// A replica on several nodes (`nodesPerReplica` > 1): the engine must be able to, its version
    /// must have the flags dsdeploy sets per node, and the deployment may not set them itself.
    func multiNodeDiagnostics(_ entries: [ArgEntry]) -> [Diagnostic] {
        guard deployment.nodes > 1 else { return [] }
        let at = deployment.fieldLocations["nodesPerReplica"] ?? deployment.fieldLocations["nodes"] ?? deployment.location
        guard let flags = MultiNodeFlags.of(backend.engine) else {
            return [.error("unsupported", "deployment '\(deployment.name)': \(backend.engine) cannot run one replica on several nodes "
                           + "(nodesPerReplica: \(deployment.nodes)); run more replicas instead", at: at)]
        }
        var out: [Diagnostic] = []
        let missing = (flags.managed + flags.followerOnly).filter { catalog.canonicalSpec(for: $0) == nil }
        if !missing.isEmpty {
            out.append(.error("unsupported", "deployment '\(deployment.name)': \(backend.engine) \(version.engineVersion.value) has no "
                              + missing.joined(separator: ", ") + ", which a replica on \(deployment.nodes) nodes needs (nodesPerReplica: \(deployment.nodes))", at: at))
        }
        let managed = Set((flags.managed + flags.followerOnly).compactMap { catalog.canonicalSpec(for: $0)?.name })
        for e in entries where e.source != .template {
            guard let name = e.canonicalName, managed.contains(name) else { continue }
            out.append(.error("managed-flag", "'\(e.group.flag)' is set by dsdeploy for each node of a replica on \(deployment.nodes) nodes "
                              + "(nodesPerReplica: \(deployment.nodes)); remove it", at: e.location ?? at))
        }
        return out
    }

    /// A run-command template's groups and diagnostics, by what they depend on (one per thread's run).
    typealias TemplateCache = [TemplateKey: ([ArgGroup], [Diagnostic])]

    /// What a run-command template's words and placeholder checks depend on: the backend version and
    /// the env names (and which are secret). Hashed as values: building a string key per deployment
    /// cost more than the lookup.
    struct TemplateKey: Hashable {
        var backend: String
        var version: String
        var env: [EnvName]
        struct EnvName: Hashable {
            var name: String
            var secret: Bool
        }
        init(backend: String, version: String, env: [EnvVar]) {
            self.backend = backend
            self.version = version
            self.env = env.map { EnvName(name: $0.name.value, secret: $0.value.isSecret) }
        }
    }

    /// Backend-version env overridden by deployment env (same name), in order.
    func mergedEnv() -> [EnvVar] {
        if version.env.isEmpty { return deployment.env }  // most versions: no set of names to build
        let names = Set(deployment.env.map(\.name.value))
        return version.env.filter { !names.contains($0.name.value) } + deployment.env
    }

    /// Parses `args` entries into groups; entries that are not flags are reported.
    mutating func entryGroups(_ lines: [ArgLine], source: ArgSource) -> [ArgGroup] {
        var out: [ArgGroup] = []
        out.reserveCapacity(lines.count)
        for line in lines {
            let entry = line.text
            let origin = origins.count
            origins.append((source, line))
            // Only spaces (each " " byte is a Character of its own): the same test as dropping the
            // leading " " Characters and finding nothing left, without walking grapheme clusters.
            if entry.value.utf8.allSatisfy({ $0 == UInt8(ascii: " ") }) {
                diagnostics.append(.error("invalid-value", "empty args entry", at: entry.location, length: entry.length))
                continue
            }
            guard let g = ArgGroup.parse(entry: entry.value, origin: origin) else {
                // A launch command pasted whole (`python3 -m sglang.launch_server --model-path …`).
                let first = entry.value.split(separator: " ").first.map(String.init) ?? ""
                let launchers = Set(version.entrypoint + ["python", "python3", "vllm", "sglang", "llama-server"])
                diagnostics.append(.error("invalid-value",
                    "args entry '\(entry.value)' is not a flag; write one flag per entry, e.g. '--tp-size 8'",
                    at: entry.location, length: entry.length,
                    notes: launchers.contains(first) || first.hasSuffix("/llama-server")
                        ? ["the command that starts the engine is the backend version's (entrypoint '\(version.entrypoint.joined(separator: " "))' "
                           + "and run command), and the model is spec.model: keep only the engine flags of a pasted launch command"]
                        : []))
                continue
            }
            if let pieces = Self.severalFlags(g) {
                // A command line pasted into one entry (`--tp 8 --trust-remote-code`): its value would
                // be checked as one value ("invalid integer '8 --trust-remote-code'"); say what it is.
                diagnostics.append(.error("invalid-value",
                    "args entry '\(entry.value)' holds \(pieces.count) flags; write one flag per entry",
                    at: entry.location.advanced(by: g.valueOffsets[0] + pieces[1].offset), length: pieces[1].flag.count,
                    notes: ["as entries: " + pieces.map { "'\($0.text)'" }.joined(separator: ", ")]))
                continue
            }
            out.append(g)
        }
        return out
    }

    /// The flags of an args entry that holds several (`--tp 8 --trust-remote-code`, llama.cpp's
    /// `-c 4096 -ngl 99`): each piece's text and its flag's offset in the entry's value, the first
    /// piece being the group's own flag; nil for one flag. A value that starts like JSON or a quoted
    /// string is one value, whatever it holds.
    static func severalFlags(_ g: ArgGroup) -> [(text: String, flag: String, offset: Int)]? {
        // Most values have no dash at all: they are passed over without building anything.
        guard g.values.count == 1, let value = g.values.first, value.utf8.contains(UInt8(ascii: "-")),
              let head = value.unicodeScalars.first, !"{[\"'".unicodeScalars.contains(head) else { return nil }
        let chars = Array(value.unicodeScalars)
        var starts: [Int] = []
        for i in chars.indices where chars[i] == "-" && (i == 0 || chars[i - 1] == " ") {
            var j = i + 1
            if j < chars.count, chars[j] == "-" { j += 1 }
            if j < chars.count, chars[j].properties.isAlphabetic { starts.append(i) }
        }
        guard !starts.isEmpty else { return nil }
        func text(_ from: Int, _ to: Int) -> String {
            var a = from, b = to
            while a < b, chars[a] == " " { a += 1 }
            while b > a, chars[b - 1] == " " { b -= 1 }
            return String(String.UnicodeScalarView(chars[a..<b]))
        }
        let own = text(0, starts[0])
        var pieces: [(text: String, flag: String, offset: Int)] = [(own.isEmpty ? g.flag : g.flag + " " + own, g.flag, g.flagOffset - g.valueOffsets[0])]
        for (k, s) in starts.enumerated() {
            let piece = text(s, k + 1 < starts.count ? starts[k + 1] : chars.count)
            pieces.append((piece, String(piece.prefix { $0 != " " && $0 != "=" }), s))
        }
        return pieces
    }

    /// Splits the run-command template into argv tokens, checks placeholders, and groups flags.
    mutating func templateGroups(_ command: Located<String>, env: [EnvVar]) -> [ArgGroup] {
        let tokens: [ArgToken]
        switch ArgvSplitter.split(command.value) {
        case .success(let t): tokens = t
        case .failure(let e):
            diagnostics.append(.error("invalid-value", "run command: \(e.message)",
                                      at: command.location.advanced(by: e.offset)))
            return []
        }
        let secretNames = Set(env.filter(\.value.isSecret).map(\.name.value))
        let known = Set(SpecValidator.builtinVariables + env.map(\.name.value))
        for token in tokens {
            let template: Template
            do { template = try Template(parsing: token.text) } catch {
                diagnostics.append(.error("invalid-value", "run command: \(error.message)",
                                          at: command.location.advanced(by: token.sourceOffset(of: error.offset))))
                continue
            }
            for p in template.placeholders {
                let at = command.location.advanced(by: token.sourceOffset(of: p.offset))
                if secretNames.contains(p.name) {
                    diagnostics.append(.error("secret-in-argv",
                        "'{{\(p.name)}}' is a secret env value; secrets may not be rendered into argv (pass it as env)",
                        at: at, length: p.length))
                } else if !known.contains(p.name) {
                    let hint = Suggest.didYouMean(p.name, in: known)
                    diagnostics.append(.error("undefined-variable", "undefined template variable '\(p.name)'\(hint)",
                        at: at, length: p.length,
                        notes: ["available: \(known.sorted().joined(separator: ", "))"]))
                }
            }
        }
        // Numbered like a cached template's groups (`run`): one origin per group, from here on.
        var out: [ArgGroup] = []
        for var g in ArgGroup.group(tokens: tokens.map { ($0.text, $0.offset) }, origin: origins.count) {
            g.origin = origins.count
            origins.append((.template, ArgLine(text: command)))
            out.append(g)
        }
        return out
    }

    func diagnostic(for issue: FlagIssue, groups: [ArgGroup]) -> Diagnostic {
        let group = groups.first { $0.origin == issue.origin }
        let line = issue.origin < origins.count ? origins[issue.origin].line : nil
        var offset = group?.flagOffset ?? 0
        var length = group?.flag.count ?? 1
        if case .value(let i) = issue.part, let g = group, i < g.valueOffsets.count {
            offset = g.valueOffsets[i]
            length = g.values[i].count
        }
        var location = line.map { $0.text.location.advanced(by: offset) }
        // A value an overlay wrote apart from its flag (`--context-length: 131072`) is located where it is written.
        if let split = line?.valueAt, offset >= split.offset { location = split.location.advanced(by: offset - split.offset) }
        var d = Diagnostic(issue.isError ? .error : .warning, issue.id, issue.message, at: location,
                           length: length, notes: issue.notes + (line?.note.map { [$0] } ?? []))
        if issue.part == .flag { d.fixIt = issue.fixIt }
        if issue.id == "duplicate-flag", let first = issue.related, first < origins.count,
           let firstGroup = groups.first(where: { $0.origin == first }) {
            duplicateNotes(&d, group: group, first: firstGroup, from: origins[first])
        }
        return d
    }

    /// Where a duplicated flag was first given, and what to write instead when that was the run
    /// command: recipes carry `--host`, `--port`, `--served-model-name`, which the stock run commands
    /// set from the deployment's own fields.
    func duplicateNotes(_ d: inout Diagnostic, group: ArgGroup?, first: ArgGroup, from origin: (source: ArgSource, line: ArgLine)) {
        let at = origin.line.text.location
        let place = "\(at.file):\(at.line)"
        guard origin.source == .template else {
            let whose = origin.source == .backend ? "in backend '\(backend.name)' version '\(deployment.backendVersion.value)' args, " : ""
            d.notes = ["first given as '\(first.flag)' \(whose)at \(place)"]
            return
        }
        let spelled = group.map { $0.flag != first.flag ? " (here as '\($0.flag)')" : "" } ?? ""
        d.message = "'\(first.flag)'\(spelled) is already set by the run command of backend '\(backend.name)' version "
            + "'\(deployment.backendVersion.value)'; the engine would silently keep the last value"
        let setting = ([first.flag] + first.values).joined(separator: " ")
        let value = group?.values.joined(separator: " ") ?? ""
        var notes = ["the run command (\(place)) has '\(setting)'"]
        let placeholder = first.values.count == 1 ? first.values[0] : ""
        switch placeholder {
        case "{{model_name}}":
            notes.append(value.isEmpty ? "set spec.servedModelName instead, and remove this entry"
                                       : "write 'servedModelName: \(value)' in the deployment's spec instead, and remove this entry")
        case "{{port}}":
            notes.append((value.isEmpty ? "set spec.port instead" : "write 'port: \(value)' in the deployment's spec instead")
                         + " (replica i listens on port + i), and remove this entry")
        case "{{worker_ip}}":
            notes.append("remove this entry: the target sets the address each replica listens on")
        case "{{model_path}}":
            notes.append("remove this entry: spec.model sets the model")
        default:
            notes.append("remove this entry, or the flag from the backend's run command")
        }
        d.notes = notes
    }
}
