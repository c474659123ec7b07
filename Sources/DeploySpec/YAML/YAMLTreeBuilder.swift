import DeployCore

/// Builds `YAMLNode` trees from a flat stream of start/end/leaf calls with an explicit stack
/// (no recursion, so nesting depth never touches the thread's stack).
///
/// It reports problems as diagnostics and keeps going: duplicate keys keep the first value,
/// invalid keys drop their pair, unknown aliases drop their slot. Alias expansion is budgeted
/// (see `aliasBudget`), and so is the depth a tree can reach through aliases.
struct YAMLTreeBuilder {
    /// A node finished being built, with its subtree size (node count) and depth.
    struct Built {
        var node: YAMLNode
        var size: Int
        var depth: Int
    }

    /// An open sequence or mapping.
    struct Frame {
        var isMapping: Bool
        var location: SourceLocation
        var anchor: String?
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        /// Mapping: the key waiting for its value (nil while expecting a key or when dropped).
        var pendingKey: YAMLNode?
        var expectingValue = false
        /// Key text -> pair index, built once a mapping gets large.
        var keyIndex: [String: Int]?
        var size = 1
        var depth = 1
        var hasMerge = false
    }

    /// Deepest tree allowed, also through aliases (libyaml's own limit is 1000 levels).
    static let maxDepth = 1000

    var stack: [Frame] = []
    /// The finished root of the current document.
    private(set) var root: Built?
    private var anchors: [String: Built] = [:]
    /// Nodes materialised through aliases so far in this file, and the most allowed.
    private var aliasNodes = 0
    let aliasBudget: Int
    var diagnostics: [Diagnostic] = []

    /// - Parameter inputSize: bytes of input; the alias budget is
    ///   `min(100_000, max(1_000, 10 × inputSize))` nodes per file.
    init(inputSize: Int) {
        aliasBudget = min(100_000, max(1_000, inputSize.multipliedReportingOverflow(by: 10).partialValue))
    }

    /// Starts a new document: forgets the previous root and anchors.
    mutating func beginDocument() {
        stack.removeAll(keepingCapacity: true)
        root = nil
        anchors.removeAll(keepingCapacity: true)
    }

    /// Opens a sequence or mapping.
    mutating func open(mapping: Bool, at location: SourceLocation, anchor: String?) {
        stack.append(Frame(isMapping: mapping, location: location, anchor: anchor))
    }

    /// Closes the innermost open collection and attaches it to its parent.
    mutating func close() {
        guard var frame = stack.popLast() else { return }
        let node: YAMLNode
        if frame.isMapping {
            if frame.hasMerge { applyMerges(&frame) }
            node = .mapping(YAMLMapping(pairs: frame.pairs, location: frame.location))
        } else {
            node = .sequence(YAMLSequence(items: frame.items, location: frame.location))
        }
        let built = Built(node: node, size: frame.size, depth: frame.depth)
        if let anchor = frame.anchor { anchors[anchor] = built }
        attach(built)
    }

    /// Adds a scalar leaf.
    mutating func scalar(_ scalar: YAMLScalar, anchor: String?) {
        let built = Built(node: .scalar(scalar), size: 1, depth: 1)
        if let anchor { anchors[anchor] = built }
        attach(built)
    }

    /// What happened to an alias.
    enum AliasOutcome { case expanded, undefined, overBudget, tooDeep }

    /// Expands `*name`; on failure reports it and leaves the slot empty.
    mutating func alias(_ name: String, at location: SourceLocation, length: Int) -> AliasOutcome {
        guard let target = anchors[name] else {
            diagnostics.append(.error("yaml-syntax",
                "undefined alias '*\(name)' (anchors must be defined before use; recursive aliases are not supported)",
                at: location, length: length))
            attachNothing()
            return .undefined
        }
        aliasNodes += target.size
        if aliasNodes > aliasBudget {
            diagnostics.append(.error("alias-limit",
                "alias expansion exceeds \(aliasBudget) nodes, possible alias bomb; document ignored",
                at: location, length: length))
            return .overBudget
        }
        if stack.count + target.depth > Self.maxDepth {
            diagnostics.append(.error("yaml-syntax",
                "nesting exceeds \(Self.maxDepth) levels through alias '*\(name)'",
                at: location, length: length))
            attachNothing()
            return .tooDeep
        }
        attach(target)
        return .expanded
    }

    /// Fills the current slot with nothing (an invalid node): a mapping drops the pair.
    private mutating func attachNothing() {
        guard let top = stack.indices.last else { return }
        if stack[top].isMapping {
            stack[top].pendingKey = nil
            stack[top].expectingValue.toggle()
        }
    }

    /// Puts a finished node into its parent (or makes it the root).
    private mutating func attach(_ built: Built) {
        guard let top = stack.indices.last else {
            root = built
            return
        }
        stack[top].size += built.size
        stack[top].depth = max(stack[top].depth, built.depth + 1)
        if !stack[top].isMapping {
            stack[top].items.append(built.node)
        } else if stack[top].expectingValue {
            stack[top].expectingValue = false
            if let key = stack[top].pendingKey {
                stack[top].pendingKey = nil
                addPair(key: key, value: built.node, top: top)
            }
        } else {
            stack[top].expectingValue = true
            stack[top].pendingKey = checkedKey(built.node, top: top)
        }
    }
}
