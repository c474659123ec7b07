import Engines

extension ManifestDecoder {
    /// `extends:` of a backend version → the catalog extension it declares.
    func decodeExtension(_ m: YAMLMapping?) -> CatalogExtension {
        guard let m else { return CatalogExtension() }
        var values: [String: [String]] = [:]
        for (k, v) in m["values"]?.mapping?.stringPairs ?? [] {
            values[k.value] = v.sequence?.items.compactMap(\.string) ?? []
        }
        var flags: [FlagSpec] = []
        for item in m["flags"]?.sequence?.items ?? [] {
            guard let f = item.mapping, let name = f["name"]?.string, let type = f["type"]?.string else { continue }
            let valueType: FlagSpec.ValueType
            switch type {
            case "int": valueType = .int
            case "float": valueType = .float
            case "bool": valueType = .bool
            case "json": valueType = .json
            default: valueType = .string
            }
            flags.append(FlagSpec(name: name, arity: valueType == .bool ? .none : .one, valueType: valueType,
                                  choices: f["choices"]?.sequence?.items.compactMap(\.string) ?? [],
                                  help: f["help"]?.string ?? "private flag declared by the image"))
        }
        return CatalogExtension(extraValues: values, extraFlags: flags)
    }
}
