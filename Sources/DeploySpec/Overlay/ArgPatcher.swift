import DeployCore
import Engines

/// One deployment `args` entry after overlays and settings.
struct ArgLine: Sendable {
    /// The entry's text and where its flag is written.
    var text: Located<String>
    /// When the value words are written apart from the flag (an overlay's `--flag: value`): the offset
    /// in `text` where they start, and where they are written.
    var valueAt: (offset: Int, location: SourceLocation)? = nil
    /// What an overlay or a setting replaced with it, for every diagnostic at it.
    var note: String? = nil
}

/// Applies overlays' and settings' flag changes to a deployment's `args`, matching flags by their
/// canonical name in the catalog: an alias (`--tp` for `--tp-size`), an abbreviation or a `--k=v`
/// spelling in the base is the flag an overlay names.
struct ArgPatcher {
    let catalog: FlagCatalog
    let deployment: Deployment
    let layers: [String: ManifestLayer]
    var diagnostics: [Diagnostic] = []

    /// The entries after every patch, in order: a set flag keeps its place (the first of its
    /// spellings), a new one is appended, a removed one disappears.
    mutating func apply() -> [ArgLine] {
        var lines = deployment.args.map { ArgLine(text: $0) }
        // Most deployments have no patches: the note text below is built only for those that do.
        guard !deployment.argPatches.isEmpty else { return lines }
        let d = deployment
        let defined = "deployment '\(d.name)' (defined at \(d.location.file):\(d.location.line):\(d.location.column))"
        for patch in d.argPatches {
            switch patch.op {
            case .replaceAll(let entries):
                lines = entries.map { ArgLine(text: $0, note: "\(patch.layer) replaces every flag of \(defined)") }
            case .remove(let flag):
                let before = lines.count
                lines.removeAll { matches($0, flag.value) }
                if lines.count == before {
                    diagnostics.append(.warning("no-effect", "\(patch.layer) removes '\(flag.value)', which deployment '\(d.name)' does not set",
                                                at: flag.location, length: flag.length, notes: [defined]))
                }
            case .set(let flag, let values, let boolean):
                var words = values
                if catalog.canonicalSpec(for: flag.value)?.isPresence == true, let boolean {
                    if !boolean {
                        lines.removeAll { matches($0, flag.value) }
                        continue
                    }
                    words = []
                }
                let text = flag.value + (words.isEmpty ? "" : " " + words.map(\.value).joined(separator: " "))
                let hits = lines.indices.filter { matches(lines[$0], flag.value) }
                var line = ArgLine(text: Located(text, at: flag.location, length: flag.length),
                                   valueAt: words.first.map { (flag.value.count + 1, $0.location) })
                if let first = hits.first {
                    let old = lines[first].text
                    line.note = "\(patch.layer) sets '\(flag.value)'; replaces '\(old.value)' at \(describe(old.location))"
                    lines[first] = line
                    for i in hits.dropFirst().reversed() { lines.remove(at: i) }
                } else {
                    line.note = "\(patch.layer) adds '\(flag.value)' to \(defined)"
                    lines.append(line)
                }
            }
        }
        return lines
    }

    /// True when the entry sets the flag `spelled` names (same canonical name; the spelling when unknown).
    func matches(_ line: ArgLine, _ spelled: String) -> Bool {
        guard let g = ArgGroup.parse(entry: line.text.value, origin: 0) else { return false }
        return key(g.flag) == key(spelled)
    }

    func key(_ flag: String) -> String { catalog.canonicalSpec(for: flag)?.name ?? flag }

    func describe(_ l: SourceLocation) -> String {
        let o = ValueOrigin(l, layers: layers)
        let place = "\(l.file):\(l.line):\(l.column)"
        return o.layer == "overlay" ? "\(place) (overlay '\(o.overlay ?? "")')" : place
    }
}
