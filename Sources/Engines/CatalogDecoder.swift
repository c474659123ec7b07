/// Builds `FlagSpec`s and `FlagCatalog`s from the compact JSON that `scripts/gen-catalogs.py` writes.
///
/// A hand walk over the bytes (no `Codable`, no dictionaries): absent keys mean the
/// generator's defaults (arity `none` for bool flags and `one` otherwise, empty lists, false).
enum CatalogDecoder {
    /// Decodes a whole catalog file straight from its bytes (pull parser: no intermediate
    /// dictionaries; this is the hot path of every `validate`).
    static func catalog(bytes: [UInt8], file: String, history: HistoryRef?) throws(CatalogError) -> FlagCatalog {
        var r = JSONReader(bytes: bytes)
        var engine: EngineKind?, version: String?
        var flags: [FlagSpec] = []
        var algorithms: [String] = []
        var rules = FlagCatalog.ParserRules()
        do {
            try r.beginObject()
            while let key = try r.nextKey() {
                switch key {
                case "engine": engine = EngineKind(rawValue: try r.readString())
                case "version": version = try r.readString()
                case "speculativeAlgorithms": algorithms = try r.readStringArray()
                case "parser":
                    try r.beginObject()
                    while let k = try r.nextKey() {
                        switch k {
                        case "allowAbbrev": rules.allowsAbbreviations = try r.readValue() == .bool(true)
                        case "underscores": rules.underscoresEquivalent = try r.readValue() == .bool(true)
                        case "dashO": rules.dashOTarget = try r.readValue().stringValue
                        case "dotted": rules.dottedJSON = try r.readValue().stringValue.map { $0 == "json" || $0 == "any" } ?? false
                        case "dottedShort": rules.dottedShort = try r.readValue() == .bool(true)
                        case "dashOKey": rules.dashOKey = try r.readValue().stringValue
                        case "dashODot": rules.dashODot = try r.readValue().stringValue
                        default: _ = try r.readValue()
                        }
                    }
                case "flags":
                    try r.beginArray()
                    flags.reserveCapacity(600)
                    while try r.nextElement() { flags.append(try spec(&r, file: file)) }
                default: _ = try r.readValue()
                }
            }
        } catch let e as JSONReader.Failure {
            throw CatalogError.malformed(file: file, reason: "\(e.message) at offset \(e.offset)")
        } catch let e as CatalogError {
            throw e
        } catch {
            throw CatalogError.malformed(file: file, reason: "\(error)")
        }
        guard let engine, let version else {
            throw CatalogError.malformed(file: file, reason: "missing engine or version")
        }
        return FlagCatalog(engine: engine, version: version, flags: flags, speculativeAlgorithms: algorithms,
                           parser: rules, history: history)
    }

    /// Decodes one flag record at the reader's position.
    static func spec(_ r: inout JSONReader, file: String) throws -> FlagSpec {
        var spec = FlagSpec(name: "")
        var arity: FlagSpec.Arity?
        var field: String?
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case "name": spec.name = try r.readString()
            case "type":
                let t = try r.readString()
                guard let type = FlagSpec.ValueType(rawValue: t) else {
                    throw CatalogError.malformed(file: file, reason: "\(spec.name): unknown type '\(t)'")
                }
                spec.valueType = type
            case "arity":
                let a = try r.readString()
                guard let parsed = FlagSpec.Arity(rawValue: a) else {
                    throw CatalogError.malformed(file: file, reason: "\(spec.name): unknown arity '\(a)'")
                }
                arity = parsed
            case "aliases": spec.aliases = try r.readStringArray()
            case "neg": spec.negativeNames = try r.readStringArray()
            case "elem": spec.elementType = FlagSpec.ValueType(rawValue: try r.readString()) ?? .string
            case "choices": spec.choices = try r.readStringArray()
            case "valid": spec.validValues = try r.readStringArray()
            case "ci": spec.caseInsensitiveValues = try r.readValue() == .bool(true)
            case "dep": spec.deprecated = try r.readString()
            case "default": spec.defaultValue = try r.readValue()
            case "suffix":
                spec.acceptsSuffix = true
                spec.suffixStyle = FlagSpec.SuffixStyle(rawValue: try r.readString()) ?? .siIEC
            case "shape": spec.jsonShape = try r.readString()
            case "field": field = try r.readString()
            case "help": spec.help = try r.readString()
            case "repeat": spec.repeatable = try r.readValue() == .bool(true)
            case "also": spec.alsoAccepts = try r.readStringArray()
            case "noneNull": spec.noneMeansNull = try r.readValue() == .bool(true)
            case "jsonOrString": spec.jsonOrString = try r.readValue() == .bool(true)
            case "dotted": spec.dottedKeys = try r.readValue() == .bool(true)
            case "removed": spec.removedMessage = try r.readString()
            case "replacements": spec.replacements = try r.readStringArray()
            default: _ = try r.readValue()
            }
        }
        guard !spec.name.isEmpty else { throw CatalogError.malformed(file: file, reason: "a flag has no name") }
        spec.arity = arity ?? (spec.valueType == .bool ? .none : .one)
        if let field { spec.field = field }
        if spec.defaultValue == .null { spec.defaultValue = nil }
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
