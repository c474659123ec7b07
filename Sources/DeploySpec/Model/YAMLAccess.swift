import DeployCore

/// Lenient typed reads of schema-checked YAML (invalid shapes were already reported).
extension YAMLNode {
    var mapping: YAMLMapping? { if case .mapping(let m) = self { return m } else { return nil } }
    var sequence: YAMLSequence? { if case .sequence(let s) = self { return s } else { return nil } }
    var scalar: YAMLScalar? { if case .scalar(let s) = self { return s } else { return nil } }

    /// The string value of a non-null scalar.
    var string: String? {
        guard let s = scalar, s.isStringLike else { return nil }
        return s.value
    }

    /// The string and its location.
    var locatedString: Located<String>? {
        guard let s = scalar, s.isStringLike else { return nil }
        return Located(s.value, at: s.location.advanced(by: s.contentOffset), length: max(1, s.length - 2 * s.contentOffset))
    }

    var int: Int? {
        guard let s = scalar, case .int(let v) = s.resolved else { return nil }
        return Int(exactly: v)
    }

    var bool: Bool? {
        guard let s = scalar, case .bool(let v) = s.resolved else { return nil }
        return v
    }

    /// A string, or each string of a list, for `entrypoint`-style fields.
    var stringList: [String]? {
        if let seq = sequence { return seq.items.compactMap(\.string) }
        return nil
    }

    /// A list of strings with their locations.
    var locatedStrings: [Located<String>] {
        guard case .sequence(let seq) = self else { return [] }
        var out: [Located<String>] = []
        out.reserveCapacity(seq.items.count)
        for item in seq.items { if let s = item.locatedString { out.append(s) } }
        return out
    }
}

extension YAMLMapping {
    /// The value under a string key (first occurrence).
    subscript(_ key: String) -> YAMLNode? {
        guard let i = index(of: key) else { return nil }
        return pairs[i].value
    }

    /// The key node for a string key.
    func keyNode(_ key: String) -> YAMLScalar? {
        guard let i = index(of: key) else { return nil }
        return keyScalar(at: i)
    }

    /// The key of pair `i` when it is a scalar, copied alone.
    func keyScalar(at i: Int) -> YAMLScalar? {
        if case .scalar(let s) = pairs[i].key { return s }
        return nil
    }

    /// String-keyed pairs in order.
    var stringPairs: [(key: YAMLScalar, value: YAMLNode)] {
        var out: [(key: YAMLScalar, value: YAMLNode)] = []
        out.reserveCapacity(pairs.count)
        for pair in pairs { if case .scalar(let s) = pair.key { out.append((s, pair.value)) } }
        return out
    }
}
