import DeployCore

/// Setting and removing values by key path in a located YAML tree (overlays, `--set`). The nodes
/// keep the locations they were written at, so every later diagnostic and every provenance entry
/// points at the file and line that set the final value.
extension YAMLMapping {
    /// Sets `keys` to `value`, creating mappings on the way (located at `at`); returns the node it
    /// replaced, if any.
    @discardableResult
    mutating func set(_ keys: ArraySlice<String>, to value: YAMLNode, at: SourceLocation) -> YAMLNode? {
        guard let key = keys.first else { return nil }
        let i = index(of: key)
        if keys.count == 1 {
            if let i {
                let old = pairs[i].value
                setValue(value, at: i)
                return old
            }
            append(key: YAMLScalar(value: key, style: .plain, tag: nil, location: at, contentOffset: 0, length: key.count),
                   value: value)
            return nil
        }
        if let i {
            var sub = pairs[i].value.mapping ?? YAMLMapping(pairs: [], location: at)
            let old = sub.set(keys.dropFirst(), to: value, at: at)
            setValue(.mapping(sub), at: i)
            return old
        }
        var sub = YAMLMapping(pairs: [], location: at)
        sub.set(keys.dropFirst(), to: value, at: at)
        append(key: YAMLScalar(value: key, style: .plain, tag: nil, location: at, contentOffset: 0, length: key.count),
               value: .mapping(sub))
        return nil
    }

    /// Removes `keys`; returns the removed node, nil when it was not there.
    @discardableResult
    mutating func remove(_ keys: ArraySlice<String>) -> YAMLNode? {
        guard let key = keys.first,
              let i = index(of: key)
        else { return nil }
        if keys.count == 1 { return remove(at: i) }
        guard var sub = pairs[i].value.mapping else { return nil }
        let old = sub.remove(keys.dropFirst())
        setValue(.mapping(sub), at: i)
        return old
    }

    /// The node at `keys`, nil when absent.
    func node(at keys: ArraySlice<String>) -> YAMLNode? {
        guard let key = keys.first, let v = self[key] else { return nil }
        if keys.count == 1 { return v }
        return v.mapping?.node(at: keys.dropFirst())
    }
}

extension YAMLNode {
    /// A string scalar written on the command line (never re-typed: `yes` stays the string "yes").
    static func commandLineString(_ text: String, at location: SourceLocation) -> YAMLNode {
        .scalar(YAMLScalar(value: text, style: .doubleQuoted, tag: nil, location: location, contentOffset: 0,
                           length: max(1, text.count)))
    }

    /// A command-line value read as YAML (`4`, `true`, `[a, b]`, `{path: /health}`), located where
    /// it is written on its line of the `--set` pseudo-file; nil and diagnostics when it is not YAML.
    static func commandLineYAML(_ text: String, at location: SourceLocation) -> (YAMLNode?, [Diagnostic]) {
        let padded = String(repeating: "\n", count: max(0, location.line - 1))
            + String(repeating: " ", count: max(0, location.column - 1)) + text
        let (docs, diags) = YAMLLoader.load(padded, file: location.file)
        if !diags.isEmpty { return (nil, diags) }
        if let root = docs.first?.root { return (root, []) }
        return (.scalar(YAMLScalar(value: "", style: .plain, tag: nil, location: location, contentOffset: 0, length: 1)), [])
    }
}
