import ArgumentParser
import Engines
import Foundation

/// `dsdeploy flags ENGINE[@VERSION] [QUERY]`
struct Flags: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flags",
        abstract: "Look up engine flags: type, default, choices, the version a flag appeared in or left, and its help.",
        discussion: """
            ENGINE is sglang, vllm or llama.cpp; @VERSION picks the catalog the way a manifest's \
            engineVersion does (docs/engines.md, "Version resolution"); without it, the newest. QUERY \
            matches any spelling or the help text (case-insensitive); a spelling the engine would \
            accept (an alias, an abbreviation, `--a_b`) selects its flag. Exit 0 when something \
            matched, 1 when nothing did, 64 for a bad engine or version.
            """)

    @Argument(help: "ENGINE or ENGINE@VERSION (sglang@0.5.21.post1, vllm@0.19.0, llama.cpp@b6341).")
    var engine: String

    @Argument(parsing: .allUnrecognized, help: "Flag name, prefix or word to look for (`--tp` works as is).")
    var queryWords: [String] = []

    var query: String? { queryWords.isEmpty ? nil : queryWords.joined(separator: " ") }

    @Flag(name: .long, help: "List the surveyed versions of the engine instead.")
    var versions = false

    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    struct Row: Encodable {
        var name: String
        var aliases: [String]
        var negative: [String]
        var type: String
        var arity: String
        var defaultValue: String?
        var choices: [String]
        var since: String?
        var removedIn: String?
        var deprecated: String?
        var removed: String?
        var replacements: [String]
        var help: String

        enum CodingKeys: String, CodingKey {
            case name, aliases, negative, type, arity, choices, since, removedIn, deprecated, removed, replacements, help
            case defaultValue = "default"
        }
    }

    struct Report: Encodable {
        var engine: String
        var requestedVersion: String?
        var catalogVersion: String
        var resolution: String
        var note: String?
        var flags: [Row]
        /// Flags of other surveyed versions that match the query but are not in this one.
        var elsewhere: [Elsewhere]
    }

    struct Elsewhere: Encodable {
        var name: String
        var since: String?
        var removedIn: String?
        var replacements: [String]
    }

    func run() throws {
        let parts = engine.split(separator: "@", maxSplits: 1).map(String.init)
        guard let kind = EngineKind(rawValue: parts[0].lowercased() == "llamacpp" ? "llama.cpp" : parts[0].lowercased()) else {
            throw ValidationError("unknown engine '\(parts[0])'; engines: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let known = CatalogStore.versions(of: kind)
        if versions {
            struct Versions: Encodable { var engine: String; var versions: [String] }
            if output == .json { Output.stdout(Output.json(Versions(engine: kind.rawValue, versions: known))) }
            else { Output.stdout(known.joined(separator: "\n") + "\n") }
            return
        }
        let requested = parts.count > 1 ? parts[1] : nil
        guard let resolution = VersionResolution.resolve(requested ?? known.last ?? "", engine: kind, known: known) else {
            throw ValidationError("'\(requested ?? "")' is not a \(kind) version; surveyed: \(known.joined(separator: ", "))")
        }
        let catalog: FlagCatalog
        do { catalog = try CatalogStore.catalog(kind, version: resolution.catalogVersion) } catch {
            throw ValidationError("\(error)")
        }
        var selected: [FlagSpec] = catalog.flags
        var elsewhere: [Elsewhere] = []
        if let q = query, !q.isEmpty {
            let lower = q.lowercased()
            switch catalog.resolveSpelling(q) {
            case .exact(let i, _), .abbreviation(let i, _, _), .injected(let i, _), .dotted(let i, _, _):
                selected = [catalog.flags[i]]
            case .ambiguous, .unknown:
                selected = catalog.flags.filter { f in
                    f.allSpellings.contains { $0.lowercased().contains(lower) } || f.help.lowercased().contains(lower)
                }
            }
            elsewhere = catalog.historicalNames.filter { $0.lowercased().contains(lower) }.map { name in
                let life = catalog.lifetime(of: name)
                return Elsewhere(name: name, since: life?.firstSeen, removedIn: life?.removedIn,
                                 replacements: catalog.removal(of: name)?.replacements ?? [])
            }
        }
        let rows = selected.map { f -> Row in
            let life = catalog.lifetime(of: f.name)
            return Row(name: f.name, aliases: f.aliases, negative: f.negativeNames, type: f.valueType.rawValue,
                       arity: f.arity.rawValue, defaultValue: f.defaultValue.map(Flags.text),
                       choices: f.choices.isEmpty ? f.validValues : f.choices, since: life?.firstSeen,
                       removedIn: life?.removedIn, deprecated: f.deprecated, removed: f.removedMessage,
                       replacements: f.replacements, help: f.help)
        }
        let report = Report(engine: kind.rawValue, requestedVersion: requested, catalogVersion: catalog.version,
                            resolution: requested == nil ? "newest" : resolution.match.rawValue,
                            note: resolution.explanation, flags: rows, elsewhere: elsewhere)
        switch output {
        case .json: Output.stdout(Output.json(report))
        case .text: Output.stdout(Flags.render(report))
        }
        if rows.isEmpty && elsewhere.isEmpty { throw ExitCode.failure }
    }

    static func text(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        default: return v.canonicalText
        }
    }

    static func render(_ r: Report) -> String {
        var out = "\(r.engine) \(r.catalogVersion)"
        if let req = r.requestedVersion, req != r.catalogVersion { out += " (for \(req): \(r.resolution))" }
        out += " — \(r.flags.count) flag\(r.flags.count == 1 ? "" : "s")\n"
        if let n = r.note { out += "note: \(n)\n" }
        for f in r.flags {
            var head = f.name
            let others = f.aliases + f.negative
            if !others.isEmpty { head += ", " + others.joined(separator: ", ") }
            var kind = f.type
            if f.arity == "none" { kind = "presence" } else if f.arity != "one" { kind += " (\(f.arity))" }
            out += "\n\(head)  [\(kind)]\n"
            if !f.help.isEmpty { out += "    \(f.help)\n" }
            if let d = f.defaultValue { out += "    default: \(d)\n" }
            if !f.choices.isEmpty { out += "    choices: \(f.choices.joined(separator: ", "))\n" }
            if let s = f.since { out += "    since: \(r.engine) \(s)\n" }
            if let x = f.removedIn { out += "    removed in: \(r.engine) \(x)\n" }
            if let d = f.deprecated { out += "    deprecated: \(d)\n" }
            if let m = f.removed {
                out += "    removed: the engine fails on it: \"\(m)\""
                out += f.replacements.isEmpty ? "\n" : "; use \(f.replacements.joined(separator: " or "))\n"
            }
        }
        if !r.elsewhere.isEmpty {
            out += "\nnot in \(r.engine) \(r.catalogVersion):\n"
            for e in r.elsewhere {
                var line = "  \(e.name)"
                if let s = e.since { line += "  since \(s)" }
                if let x = e.removedIn { line += "  removed in \(x)" }
                if !e.replacements.isEmpty { line += "  use \(e.replacements.joined(separator: " or "))" }
                out += line + "\n"
            }
        }
        return out
    }
}
