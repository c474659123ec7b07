import DeployCore

/// Mapping keys: validity, duplicates, merge keys (`<<`).
///
/// Merge keys are expanded (YAML 1.1 merge semantics, which YAML 1.2 tools commonly keep):
/// `<<: *base` or `<<: [*a, *b]` copies the pairs of the merged mappings whose keys the
/// mapping does not define itself; earlier sources win over later ones. Explicit keys
/// override merged ones silently; a key written twice explicitly is a `duplicate-key` error.
extension YAMLTreeBuilder {
    /// Mappings with more pairs than this keep a key index instead of scanning.
    static let indexThreshold = 12

    /// The key to keep, or nil (after reporting) when it is not a string or is a duplicate.
    mutating func checkedKey(_ node: consuming YAMLNode, top: Int) -> YAMLNode? {
        guard case .scalar(let key) = node else {
            diagnostics.append(.error("invalid-type",
                "mapping key must be a string, not \(node.kindDescription)", at: node.location))
            return nil
        }
        return acceptsKey(key, top: top) ? node : nil
    }

    /// True when `key` may be the next key of the mapping at `top` (then it becomes the
    /// pending key text); reports null and duplicate keys.
    mutating func acceptsKey(_ key: borrowing YAMLScalar, top: Int) -> Bool {
        if key.isNull {
            diagnostics.append(.error("invalid-type", "mapping key must be a string, not null",
                                      at: key.location, length: key.length))
            return false
        }
        if let first = firstKey(key.value, top: top) {
            diagnostics.append(.error("duplicate-key",
                "duplicate key '\(key.value)'; the first value is kept",
                at: key.location, length: key.length,
                notes: ["'\(key.value)' was first defined at line \(first.line), column \(first.column)"]))
            return false
        }
        stack[top].pendingKeyText = key.value
        return true
    }

    /// Appends a pair to the mapping at `top`, validating merge keys.
    mutating func addPair(key: consuming YAMLNode, value: consuming YAMLNode, top: Int) {
        let text = stack[top].pendingKeyText
        if text == "<<", key.isMergeKey {
            guard Self.mergeSources(value) != nil else {
                diagnostics.append(.error("yaml-syntax",
                    "merge key '<<' needs a mapping or a list of mappings, not \(value.kindDescription)",
                    at: value.location))
                return
            }
            stack[top].hasMerge = true
        }
        stack[top].pairs.append(YAMLPair(key: consume key, value: consume value))
        stack[top].keys.append(text)
        let count = stack[top].keys.count
        if stack[top].keyIndex != nil {
            stack[top].keyIndex?[text] = count - 1
        } else if count > Self.indexThreshold {
            var index: [String: Int] = [:]
            index.reserveCapacity(count * 2)
            for (i, key) in stack[top].keys.enumerated() where index[key] == nil {
                index[key] = i
            }
            stack[top].keyIndex = index
        }
    }

    /// Location of the existing key with this text in the mapping at `top`.
    private func firstKey(_ text: String, top: Int) -> SourceLocation? {
        if let index = stack[top].keyIndex {
            return index[text].map { stack[top].pairs[$0].key.location }
        }
        let keys = stack[top].keys
        for i in keys.indices where keys[i] == text {
            return stack[top].pairs[i].key.location
        }
        return nil
    }

    /// Replaces the `<<` pairs of a finished mapping by the pairs they merge in.
    func applyMerges(_ frame: inout Frame) {
        var seen = Set<String>()
        for pair in frame.pairs where !pair.key.isMergeKey { seen.insert(pair.key.keyText) }
        var result: [YAMLPair] = []
        result.reserveCapacity(frame.pairs.count)
        for pair in frame.pairs {
            guard pair.key.isMergeKey else {
                result.append(pair)
                continue
            }
            for source in Self.mergeSources(pair.value) ?? [] {
                for merged in source.pairs where seen.insert(merged.key.keyText).inserted {
                    result.append(merged)
                }
            }
        }
        frame.pairs = result
    }

    /// The mappings a merge value refers to, or nil when it is not a mapping or list of them.
    static func mergeSources(_ value: YAMLNode) -> [YAMLMapping]? {
        switch value {
        case .mapping(let m): return [m]
        case .sequence(let s):
            var sources: [YAMLMapping] = []
            for item in s.items {
                guard case .mapping(let m) = item else { return nil }
                sources.append(m)
            }
            return sources
        case .scalar: return nil
        }
    }
}

extension YAMLNode {
    /// The text that identifies a mapping key (keys are always scalars once accepted).
    var keyText: String {
        if case .scalar(let s) = self { return s.value }
        return ""
    }

    /// True for an untagged plain `<<` (or `!!merge <<`).
    var isMergeKey: Bool {
        guard case .scalar(let s) = self, s.style == .plain, s.value == "<<" else { return false }
        return s.tag == nil || s.tag == "tag:yaml.org,2002:merge"
    }
}
