/// Builds `FlagSpec`s and `FlagCatalog`s from the compact JSON that `scripts/gen-catalogs.py` writes.
///
/// A hand walk over `JSONValue` (no `Codable`): absent keys mean the generator's defaults
/// (arity `none` for bool flags and `one` otherwise, empty lists, false).
enum CatalogDecoder {
    /// Decodes a whole catalog file.
    static func catalog(_ json: JSONValue, file: String, history: EngineHistory?) throws(CatalogError)
        -> FlagCatalog {
        guard case .object(let root) = json else {
            throw CatalogError.malformed(file: file, reason: "top level is not an object")
        }
        guard let engineName = root["engine"]?.stringValue, let engine = EngineKind(rawValue: engineName),
              let version = root["version"]?.stringValue else {
            throw CatalogError.malformed(file: file, reason: "missing engine or version")
        }
        guard case .array(let rawFlags)? = root["flags"] else {
            throw CatalogError.malformed(file: file, reason: "missing 'flags'")
        }
        var flags: [FlagSpec] = []
        flags.reserveCapacity(rawFlags.count)
        for (i, raw) in rawFlags.enumerated() {
            guard case .object(let f) = raw else {
                throw CatalogError.malformed(file: file, reason: "flag #\(i) is not an object")
            }
            flags.append(try spec(f, file: file))
        }
        var rules = FlagCatalog.ParserRules()
        if case .object(let p)? = root["parser"] {
            rules.allowsAbbreviations = p["allowAbbrev"].map { $0 == .bool(true) } ?? true
            rules.underscoresEquivalent = p["underscores"] == .bool(true)
            rules.dashOTarget = p["dashO"]?.stringValue
        }
        return FlagCatalog(engine: engine, version: version, flags: flags,
                           speculativeAlgorithms: root["speculativeAlgorithms"]?.stringArray ?? [],
                           parser: rules, history: history)
    }

    /// Decodes one flag record.
    static func spec(_ f: [String: JSONValue], file: String) throws(CatalogError) -> FlagSpec {
        guard let name = f["name"]?.stringValue, !name.isEmpty else {
            throw CatalogError.malformed(file: file, reason: "a flag has no name")
        }
        guard let type = FlagSpec.ValueType(rawValue: f["type"]?.stringValue ?? "string") else {
            throw CatalogError.malformed(file: file, reason: "\(name): unknown type")
        }
        let arity: FlagSpec.Arity
        if let a = f["arity"]?.stringValue {
            guard let parsed = FlagSpec.Arity(rawValue: a) else {
                throw CatalogError.malformed(file: file, reason: "\(name): unknown arity '\(a)'")
            }
            arity = parsed
        } else {
            arity = type == .bool ? .none : .one
        }
        var spec = FlagSpec(name: name, arity: arity, valueType: type)
        spec.aliases = f["aliases"]?.stringArray ?? []
        spec.negativeNames = f["neg"]?.stringArray ?? []
        if let e = f["elem"]?.stringValue { spec.elementType = FlagSpec.ValueType(rawValue: e) ?? .string }
        spec.choices = f["choices"]?.stringArray ?? []
        spec.validValues = f["valid"]?.stringArray ?? []
        spec.caseInsensitiveValues = f["ci"] == .bool(true)
        spec.deprecated = f["dep"]?.stringValue
        spec.defaultValue = f["default"]
        if let s = f["suffix"]?.stringValue {
            spec.acceptsSuffix = true
            spec.suffixStyle = FlagSpec.SuffixStyle(rawValue: s) ?? .siIEC
        }
        spec.jsonShape = f["shape"]?.stringValue
        if let field = f["field"]?.stringValue { spec.field = field }
        spec.help = f["help"]?.stringValue ?? ""
        spec.repeatable = f["repeat"] == .bool(true)
        spec.alsoAccepts = f["also"]?.stringArray ?? []
        spec.noneMeansNull = f["noneNull"] == .bool(true)
        spec.jsonOrString = f["jsonOrString"] == .bool(true)
        spec.dottedKeys = f["dotted"] == .bool(true)
        return spec
    }

    /// Decodes `index.json`: engine → versions, oldest first.
    static func index(_ json: JSONValue) throws(CatalogError) -> [EngineKind: [String]] {
        guard case .object(let root) = json, case .object(let engines)? = root["engines"] else {
            throw CatalogError.malformed(file: "index.json", reason: "missing 'engines'")
        }
        var out: [EngineKind: [String]] = [:]
        for (name, versions) in engines {
            guard let kind = EngineKind(rawValue: name) else { continue }
            out[kind] = (versions.stringArray ?? []).sorted { EngineVersion($0) < EngineVersion($1) }
        }
        return out
    }
}
