import DeployCore

/// A YAML node with its source location, as produced by `YAMLLoader` (libyaml events).
///
/// Aliases are already expanded (within the loader's budget); tags are kept as written.
/// Not `indirect`: the collections' arrays already provide the indirection, and storing
/// scalars inline saves one heap allocation per node (a large share of load time).
enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case sequence(YAMLSequence)
    case mapping(YAMLMapping)

    /// Where the node starts.
    var location: SourceLocation {
        switch self {
        case .scalar(let s): return s.location
        case .sequence(let s): return s.location
        case .mapping(let m): return m.location
        }
    }

    /// A word for messages: "a string", "a list", "a mapping", "a number", ...
    var kindDescription: String {
        switch self {
        case .scalar(let s): return s.kindDescription
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// How a scalar was written; quoted scalars are always strings.
enum YAMLScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A scalar: its text, style, explicit tag (if any) and location.
struct YAMLScalar: Sendable, Hashable {
    /// The scalar's text after YAML unescaping/folding.
    var value: String
    /// How it was written.
    var style: YAMLScalarStyle
    /// Explicit tag as written (`!!str`, `tag:yaml.org,2002:int`), nil when implicit.
    var tag: String?
    /// Start of the scalar (the opening quote for quoted scalars).
    var location: SourceLocation
    /// Column offset from `location` to the first character of `value` (1 for quoted scalars, 0 for plain).
    var contentOffset: Int
    /// Length in columns of the scalar as written on its first line (for caret underlines).
    var length: Int
}

/// A sequence and its location.
struct YAMLSequence: Sendable {
    var items: [YAMLNode]
    var location: SourceLocation
}

/// A key and its value. A struct, not a `(key:, value:)` tuple: reading one field of a tuple
/// element copied the whole tuple through the runtime's generic tuple witness (key included).
struct YAMLPair: Sendable {
    var key: YAMLNode
    var value: YAMLNode
}

/// A mapping: its pairs in document order (duplicates already reported and dropped) and location.
struct YAMLMapping: Sendable {
    /// The pairs; change them through `YAMLPatch`'s `set`/`remove`, which keep `keys` in step.
    private(set) var pairs: [YAMLPair]
    /// The text of each key of `pairs` (a key that is not a scalar: ""), parallel to `pairs`: lookups
    /// compare these strings instead of copying every (key, value) pair they pass.
    private(set) var keys: [String]
    var location: SourceLocation

    init(pairs: [YAMLPair], location: SourceLocation) {
        self.pairs = pairs
        self.keys = pairs.map { pair in
            if case .scalar(let s) = pair.key { return s.value } else { return "" }
        }
        self.location = location
    }

    /// A mapping whose scalar keys' texts are already known (the tree builder's `keys`, one per pair).
    init(pairs: [YAMLPair], keys: [String], location: SourceLocation) {
        assert(pairs.count == keys.count)
        self.pairs = pairs
        self.keys = keys
        self.location = location
    }

    /// Index of the first pair whose key is the scalar `key`.
    func index(of key: String) -> Int? {
        for i in keys.indices where keys[i] == key {
            if hasScalarKey(i) { return i }
        }
        return nil
    }

    /// True when the key of pair `i` is a scalar, read in place: `if case .scalar = pairs[i].key`
    /// copied the whole (key, value) pair, a retain and release per string in both nodes.
    @inline(__always)
    func hasScalarKey(_ i: Int) -> Bool {
        pairs.withUnsafeBufferPointer { p in
            if case .scalar = p[i].key { return true }
            return false
        }
    }

    /// Replaces the value of pair `i`.
    mutating func setValue(_ value: YAMLNode, at i: Int) {
        pairs[i].value = value
    }

    /// Appends a pair with a scalar key.
    mutating func append(key: YAMLScalar, value: YAMLNode) {
        keys.append(key.value)
        pairs.append(YAMLPair(key: .scalar(key), value: value))
    }

    /// Removes pair `i` and returns its value.
    mutating func remove(at i: Int) -> YAMLNode {
        keys.remove(at: i)
        return pairs.remove(at: i).value
    }
}

/// One document of a multi-document stream.
struct YAMLDocument: Sendable {
    /// The root node; nil for an empty document.
    var root: YAMLNode?
    /// 0-based index of the document in its file.
    var index: Int
    /// Where the document starts.
    var location: SourceLocation
}

extension YAMLScalar {
    /// YAML 1.2 core-schema resolution of a plain scalar; quoted/block scalars are strings.
    enum Resolved: Hashable, Sendable {
        case null, bool(Bool), int(Int64), float(Double), string(String)
    }

    /// A word for messages: "a string", "a number", "a boolean", "null".
    var kindDescription: String {
        switch resolved {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .float: return "a number"
        case .string: return "a string"
        }
    }
}
