import DeployCore
import Engines

/// Picks the flag catalog of a backend version (docs/engines.md, "Version resolution") and says how.
enum EngineVersionCheck {
    /// The catalog for `version`, and the notes/warnings/errors about how it was chosen. A version
    /// whose tag carries no engine version gets the newest catalog's version written into it.
    static func catalog(for version: inout BackendVersion, engine: EngineKind,
                        store: CatalogStore = .shared) -> (FlagCatalog?, [Diagnostic]) {
        let ev = version.engineVersion
        let known = store.versions(of: engine)
        var diags: [Diagnostic] = []
        let imageAt = version.imageLocation ?? ev.location
        let imageLength = version.image.unicodeScalars.count
        switch version.engineVersionSource {
        case .declared: break
        case .imageTag: break
        case .newestCatalog:
            guard let newest = known.last else { break }
            version.engineVersion.value = newest
            let tag = ImageTag.tag(of: version.image).map { "'\($0)'" } ?? "no tag"
            diags.append(.warning("engine-version", "the image tag (\(tag)) carries no \(engine) version; checking "
                                  + "against the newest flag catalog, \(engine) \(newest)",
                                  at: imageAt, length: imageLength,
                                  notes: ["set engineVersion to the version the image carries, or use a versioned tag"]))
            version.engineVersionSource = .newestCatalog
        }
        let requested = version.engineVersion.value
        guard let resolution = VersionResolution.resolve(requested, engine: engine, known: known) else {
            diags.append(.error("unknown-reference", "no flag catalog for \(engine) '\(requested)': it is not a version",
                                at: ev.location, length: ev.length,
                                notes: ["known versions: \(known.joined(separator: ", "))"]))
            return (nil, diags)
        }
        let catalog: FlagCatalog
        do {
            catalog = try store.catalog(engine, version: resolution.catalogVersion)
        } catch {
            diags.append(.error("unknown-reference", "\(error)", at: ev.location, length: ev.length))
            return (nil, diags)
        }
        let fromTag = version.engineVersionSource == .imageTag
        if let why = resolution.explanation(subject: fromTag ? "it" : "\(engine) \(requested)"),
           version.engineVersionSource != .newestCatalog {
            let msg = fromTag ? "engine version \(engine) \(requested) read from the image tag; " + why : why
            diags.append(Diagnostic(resolution.isApproximate ? .warning : .note, "engine-version", msg,
                                    at: fromTag ? imageAt : ev.location, length: fromTag ? imageLength : ev.length,
                                    notes: fromTag ? ["set engineVersion to override"] : []))
        } else if fromTag {
            diags.append(Diagnostic(.note, "engine-version", "engine version \(engine) \(requested) read from the image tag",
                                    at: imageAt, length: imageLength, notes: ["set engineVersion to override"]))
        }
        return (catalog, diags)
    }
}
