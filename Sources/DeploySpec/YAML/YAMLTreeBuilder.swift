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
        var pairs: [YAMLPair] = []
        /// Mapping: the text of each key in `pairs` (cheap duplicate detection).
        var keys: [String] = []
        /// Mapping: the key waiting for its value (nil while expecting a key or when dropped).
        var pendingKey: YAMLNode?
        var pendingKeyText = ""
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
    /// Element count of the last collection closed at the same depth, of the same kind, at the
    /// same position in its parent: manifests repeat shapes, so it is a good capacity guess.
    private var capacityHints: [Int] = []

    /// The hint slot for a collection about to open (or just closed) at the top of `stack`;
    /// -1 (no hint) below depth 32, where pathological inputs would only waste hint memory.
    private func hintSlot(mapping: Bool) -> Int {
        guard stack.count < 32 else { return -1 }
        let top = stack.count - 1
        let position = top < 0 ? 0 : min(63, stack[top].isMapping ? stack[top].pairs.count : stack[top].items.count)
        return (stack.count * 64 + position) * 2 + (mapping ? 1 : 0)
    }

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
        var frame = Frame(isMapping: mapping, location: location, anchor: anchor)
        let slot = hintSlot(mapping: mapping)
        if slot >= 0, slot < capacityHints.count, case let hint = capacityHints[slot], hint > 0 {
            if mapping {
                frame.pairs.reserveCapacity(hint)
                frame.keys.reserveCapacity(hint)
            } else {
                frame.items.reserveCapacity(hint)
            }
        }
        stack.append(frame)
    }

    /// Closes the innermost open collection and attaches it to its parent.
    mutating func close() {
        guard var frame = stack.popLast() else { return }
        let slot = hintSlot(mapping: frame.isMapping)
        if slot >= 0 {
            if slot >= capacityHints.count {
                capacityHints += repeatElement(0, count: slot + 1 - capacityHints.count)
            }
            // Capped: a hint is kept by every array it sizes, so one huge list must not
            // make every later small one at the same place reserve as much.
            capacityHints[slot] = min(64, frame.isMapping ? frame.pairs.count : frame.items.count)
        }
        let node: YAMLNode
        if frame.isMapping {
            if frame.hasMerge {
                applyMerges(&frame)
                node = .mapping(YAMLMapping(pairs: frame.pairs, location: frame.location))
            } else {
                node = .mapping(YAMLMapping(pairs: frame.pairs, keys: frame.keys, location: frame.location))
            }
        } else {
            node = .sequence(YAMLSequence(items: frame.items, location: frame.location))
        }
        if let anchor = frame.anchor {
            anchors[anchor] = Built(node: node, size: frame.size, depth: frame.depth)
        }
        attach(node, size: frame.size, depth: frame.depth)
    }

    /// Adds a scalar leaf (keys take a shortcut: no node wrapping before validation).
    mutating func scalar(_ scalar: consuming YAMLScalar, anchor: String?) {
        if let anchor {
            anchors[anchor] = Built(node: .scalar(scalar), size: 1, depth: 1)
        }
        let top = stack.count - 1
        if top >= 0, stack[top].isMapping, !stack[top].expectingValue {
            stack[top].size += 1
            if stack[top].depth < 2 { stack[top].depth = 2 }
            stack[top].expectingValue = true
            if acceptsKey(scalar, top: top) {
                stack[top].pendingKey = .scalar(consume scalar)
            } else {
                stack[top].pendingKey = nil
            }
            return
        }
        attach(.scalar(scalar), size: 1, depth: 1)
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
        attach(target.node, size: target.size, depth: target.depth)
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
    private mutating func attach(_ node: consuming YAMLNode, size: Int, depth: Int) {
        let top = stack.count - 1
        guard top >= 0 else {
            root = Built(node: node, size: size, depth: depth)
            return
        }
        stack[top].size += size
        if depth >= stack[top].depth { stack[top].depth = depth + 1 }
        if !stack[top].isMapping {
            stack[top].items.append(consume node)
        } else if stack[top].expectingValue {
            stack[top].expectingValue = false
            if let key = stack[top].pendingKey.take() {
                addPair(key: key, value: consume node, top: top)
            }
        } else {
            stack[top].expectingValue = true
            stack[top].pendingKey = checkedKey(consume node, top: top)
        }
    }
}
